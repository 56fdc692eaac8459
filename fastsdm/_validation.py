"""Input checks shared by the public wrappers.

Each check either returns a normalised value (C-contiguous, the dtype the
kernels expect) or raises one ``TypeError``/``ValueError`` whose message says
what was expected, what was received and how to fix it.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

__all__ = [
    "check_int",
    "refuse_big_endian",
    "check_choice",
    "n_words",
    "pad_mask",
    "check_words",
    "as_words",
]


def _int_fix(value, name: str) -> str:
    """How to turn a near-integer (``100.0``, ``"100"``) into the integer meant."""
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value):
        return f"; pass {name}={int(value)} (an int, not a float)"
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            return f"; pass a whole number such as {name}=100, not a string"
        return f"; pass the number {name}={number}, not the string {value!r}"
    return ""


def check_int(value, name: str, low: int | None = None, high: int | None = None, hint: str = ""):
    """Return ``value`` as a Python int in ``[low, high]`` or raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}"
                        + (f"; {hint}" if hint else "") + _int_fix(value, name))
    value = operator.index(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}"
                         + (f"; {hint}" if hint else ""))
    return value


def check_choice(value, name: str, choices):
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def n_words(n_bits: int) -> int:
    """Number of uint64 words that hold ``n_bits`` bits."""
    return (n_bits + 63) // 64


def pad_mask(n_bits: int) -> np.ndarray:
    """Per-word masks of the valid bits of an ``n_bits`` vector, shape (W,)."""
    bits = np.zeros(8 * n_words(n_bits) * 8, dtype=np.uint8)
    bits[:n_bits] = 1
    return np.packbits(bits).view("<u8").astype(np.uint64)


def _describe(array: np.ndarray) -> str:
    return f"array of shape {array.shape} and dtype {array.dtype}"


def refuse_big_endian(array: np.ndarray, name: str) -> None:
    """Refuse uint64 words in a non-native byte order, saying how to convert them.

    Their integer values and their bytes disagree about which bit is which,
    so either reading could be the wrong one: the caller must choose.
    """
    dtype = array.dtype
    if dtype.kind == "u" and dtype.itemsize == 8 and not dtype.isnative:
        raise TypeError(
            f"{name} are uint64 words in non-native (big-endian) byte order, got "
            f"{_describe(array)} ({dtype.str}); fastsdm words are native little-endian uint64. "
            f"If the values are the words, convert them with np.asarray({name}, "
            f"dtype=np.uint64); if the bytes come from np.packbits, reinterpret them with "
            f"{name}.view('<u8')")


def check_words(words, name: str, n_bits: int | None = None, ndim=(1, 2)) -> np.ndarray:
    """Validate packed words: uint64, last axis W, C-contiguous; pad bits zero.

    Returns a C-contiguous ``uint64`` array (a view when the input already is).
    """
    array = np.asarray(words)
    if array.dtype != np.uint64:
        refuse_big_endian(array, name)
        hint = ("pack 0/1 bits with fastsdm.pack_bits()"
                if array.dtype.kind in "biu" else "addresses are binary: pack bits with "
                "fastsdm.pack_bits()")
        raise TypeError(f"{name} must be packed uint64 words, got {_describe(array)}; {hint}")
    if array.ndim not in ndim:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndim))} dimensions "
                         f"(vectors x words), got {_describe(array)}")
    if n_bits is not None:
        W = n_words(n_bits)
        if array.shape[-1] != W:
            raise ValueError(f"{name} must have {W} words per vector for n_bits={n_bits}, "
                             f"got {_describe(array)}; pack {n_bits}-bit vectors with "
                             f"fastsdm.pack_bits()")
    array = np.ascontiguousarray(array, dtype=np.uint64)
    if n_bits is not None and n_bits % 64 and array.size:
        garbage = array[..., -1] & ~pad_mask(n_bits)[-1]
        if garbage.any():
            raise ValueError(f"{name} has non-zero pad bits beyond bit {n_bits} (the layout "
                             "requires them to be zero); build words with fastsdm.pack_bits() "
                             "or clear them with fastsdm.clear_pad_bits()")
    return array


def as_words(x, name: str, n_bits: int):
    """Accept packed words or 0/1 rows of ``n_bits``; return words and how to undo.

    Returns ``(words2d, single, bits_dtype)``: 2-D uint64 words, whether the
    input was a single vector, and the dtype of the 0/1 input (``None`` for
    words) so results can be returned in the caller's representation.
    ``uint64`` input is always read as packed words; 0/1 rows must be bool or
    another integer dtype.
    """
    from .bits import pack_bits  # local: bits imports this module

    array = np.asarray(x)
    if array.dtype != np.uint64:
        refuse_big_endian(array, name)
    if array.dtype.kind not in "biu":
        raise TypeError(f"{name} must be packed uint64 words or 0/1 bits, got "
                        f"{_describe(array)}; threshold real vectors first (e.g. x > 0) "
                        "or use fastsdm.ContinuousSDM")
    if array.ndim not in (1, 2):
        raise ValueError(f"{name} must be one vector (1-D) or a batch (2-D), got "
                         f"{_describe(array)}")
    if array.shape[0] == 0 or array.shape[-1] == 0:
        raise ValueError(f"{name} is empty ({_describe(array)}); pass at least one vector")
    single = array.ndim == 1
    if array.dtype == np.uint64:
        words = check_words(array, name, n_bits)
        bits_dtype = None
    else:
        if array.shape[-1] != n_bits:
            raise ValueError(f"{name} as 0/1 bits must have {n_bits} columns, got "
                             f"{_describe(array)}; (packed words must be uint64 with "
                             f"{n_words(n_bits)} columns)")
        words = pack_bits(array)
        bits_dtype = array.dtype
    return np.atleast_2d(words), single, bits_dtype
