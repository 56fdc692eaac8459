"""The one vocabulary of input checks, used by every fastsdm module.

Each check either returns a normalised value (a Python number, a
C-contiguous array of the dtype the kernels expect) or raises one
``TypeError``/``ValueError`` whose message says what was expected, what was
received and how to fix it.  ``name`` is the argument's name as the caller
wrote it (``"n_bits"``, ``"radius d"``, ``"n (the number of bits)"``);
``hint`` is appended after a semicolon.

Scalars
    :func:`check_int`, :func:`check_real`, :func:`check_positive`,
    :func:`check_probability`, :func:`check_choice`, :func:`check_dtype`;
    the theory's dimension and radius (:func:`check_n`, :func:`check_radius`)
    and a softmax's inverse temperature (:func:`check_beta`)
Arrays
    :func:`describe`, :func:`real_array`, :func:`unit_rows`,
    :func:`check_width`, :func:`check_rows`, :func:`refuse_big_endian`;
    rows of real vectors of a given width (:func:`real_rows`), normalised to
    float32 unit vectors (:func:`unit_vectors`, :func:`normalise_rows`) or
    checked finite in a dtype (:func:`finite_rows`), with the rows at fault
    listed (:func:`list_rows`);
    Hamming distances and cosines of any shape (:func:`check_distances`,
    :func:`check_cosines`) or as rows over patterns (:func:`check_distance_rows`,
    :func:`check_cosine_rows`); a 1-D table of whole numbers
    (:func:`integer_table`)
Bit vectors
    :func:`check_words` (packed words only) and :func:`as_bits`, which takes
    every form fastsdm accepts -- packed ``uint64`` words, ``np.packbits``
    ``uint8`` bytes, 0/1 or bool rows -- and gives back :class:`Bits`, whose
    :meth:`Bits.restore` answers in the caller's form.  :func:`as_words` is
    the older three-value spelling of :func:`as_bits`.
Argument names
    :func:`renamed_keywords` lets a function keep accepting an older keyword
    spelling of an argument.

Messages name bounds in numbers (``must be in [0, 64]``) unless the caller
states them in its own terms with ``expected=`` (``"an integer in [0, n] =
[0, 64]"``, ``"an integer >= 2 for a β fit"``): the check is the same, only the
words differ.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import operator
from typing import NamedTuple

import numpy as np

from ._jit import kernel_input
from ._layout import (
    bits_from_words,
    bytes_from_words,
    n_bytes,
    n_words,
    pad_mask,
    words_from_bits,
    words_from_bytes,
)

__all__ = [
    "check_int",
    "check_real",
    "check_positive",
    "check_beta",
    "check_probability",
    "check_choice",
    "check_dtype",
    "check_n",
    "check_radius",
    "describe",
    "real_array",
    "unit_rows",
    "NORMALIZE_ROWS",
    "list_rows",
    "real_rows",
    "normalise_rows",
    "unit_vectors",
    "finite_rows",
    "check_width",
    "check_rows",
    "check_pairs",
    "require_values",
    "check_iterations",
    "check_distances",
    "check_distance_rows",
    "check_cosines",
    "check_cosine_rows",
    "integer_table",
    "refuse_big_endian",
    "n_words",
    "pad_mask",
    "check_words",
    "Bits",
    "as_bits",
    "as_words",
    "renamed_keywords",
]


def _tail(hint: str) -> str:
    return f"; {hint}" if hint else ""


# -- scalars -------------------------------------------------------------------


def _symbol(name: str) -> str:
    """The argument a described name stands for: ``"radius d"`` -> ``d``,
    ``"n (the number of bits)"`` -> ``n``."""
    return name.split(" (")[0].split()[-1]


def _int_fix(value, name: str) -> str:
    """How to turn a near-integer (``100.0``, ``"100"``) into the integer meant."""
    name = _symbol(name)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value):
        return f"; pass {name}={int(value)} (an int, not a float)"
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            return f"; pass a whole number such as {name}=100, not a string"
        return f"; pass the number {name}={number}, not the string {value!r}"
    return ""


def _is_integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_int(value, name: str, low: int | None = None, high: int | None = None, hint: str = "",
              *, expected: str = ""):
    """Return ``value`` as a Python int in ``[low, high]`` or raise.

    ``bool`` is refused (``True`` as a size is always a mistake); NumPy
    integers are accepted.  ``expected`` words the range in the caller's
    terms (``"an integer in [0, n] = [0, 64]"``) instead of ``"in [0, 64]"``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}"
                        + _tail(hint) + _int_fix(value, name))
    value = operator.index(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be {expected or f'in [{lo}, {hi}]'}, got {value}"
                         + _tail(hint))
    return value


def check_real(value, name: str, low: float | None = None, high: float | None = None, *,
               low_open: bool = False, high_open: bool = False, hint: str = "",
               expected: str = "", integers: bool = False) -> float:
    """Return ``value`` as a finite Python float in the given interval or raise.

    ``low_open``/``high_open`` exclude the bound itself.  ``bool`` and
    strings are refused; NumPy scalars and Python ints are accepted.
    ``expected`` words the interval in the caller's terms, as in
    :func:`check_int`.  ``integers=True`` returns integers as Python ints
    (a memory's radius ``107`` stays ``107`` in its repr and saved file).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}"
                        + _tail(hint))
    try:
        number = float(value)
    except OverflowError:  # a Python int beyond the float range
        number = math.inf if value > 0 else -math.inf
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if not math.isfinite(number) or too_low or too_high:
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        interval = f"a finite number in {left}{lo}, {hi}{right}"
        raise ValueError(f"{name} must be {expected or interval}, got {value!r}"
                         f"{_beyond_float64(value, number, low, high)}" + _tail(hint))
    if integers and isinstance(value, numbers.Integral):
        return operator.index(value)
    return number


def _beyond_float64(value, number: float, low=None, high=None) -> str:
    """What to add to a refusal when a finite ``value`` became infinite as a float.

    Only when that is why it is refused: not beyond a bound it exceeds anyway.
    """
    exceeds_a_bound = (number > 0 and high is not None) or (number < 0 and low is not None)
    if math.isfinite(number) or exceeds_a_bound:
        return ""
    try:
        finite = bool(np.isfinite(value))  # floats and NumPy scalars (long double)
    except (TypeError, OverflowError):
        finite = True  # Python ints and Fractions are never infinite
    return (f", which is beyond float64's range (magnitude at most "
            f"{np.finfo(np.float64).max:.4g})" if finite else "")


def check_positive(value, name: str, example: str = "1_000_000", *, hint: str = "",
                   kind: str = "number", minimum: float | None = None, why: str = "") -> float:
    """A positive finite real number (counts such as ``n_locations`` may be huge).

    ``kind`` names the type a wrong-typed value should have had (``"real
    number"`` for an inverse temperature); ``minimum`` refuses positive values
    below it, ``why`` saying what needs it (``" for the critical distance"``);
    ``hint`` is appended to every message.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive {kind}, got {value!r} of type "
                        f"{type(value).__name__}; pass a value such as {name}={example}"
                        + _tail(hint))
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not 0.0 < number < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}"
                         f"{_beyond_float64(value, number, low=0.0)}; pass a value such as "
                         f"{name}={example}" + _tail(hint))
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}{why}, got {value!r}" + _tail(hint))
    return number


def check_beta(beta, name: str = "beta", example: str = "15.6", hint: str = "") -> float:
    """An inverse temperature β of a softmax: a positive finite real number."""
    return check_positive(beta, name, example, kind="real number",
                          hint=hint or "the inverse temperature of the softmax")


def check_probability(p, name: str, *, allow_zero: bool = False, allow_one: bool = True,
                      example: str = "0.001") -> float:
    """A probability in ``(0, 1]`` (or with/without either end) as a float."""
    low, high = ("[" if allow_zero else "("), ("]" if allow_one else ")")
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name} must be a probability (a real number), got {p!r} of type "
                        f"{type(p).__name__}; pass a float such as {name}={example}")
    value = float(p)
    ok_low = value >= 0.0 if allow_zero else value > 0.0
    ok_high = value <= 1.0 if allow_one else value < 1.0
    if not (ok_low and ok_high):
        raise ValueError(f"{name} must be a probability in {low}0, 1{high}, got {p!r}; pass a "
                         f"value such as {name}={example}")
    return value


def check_flag(value, name: str) -> bool:
    """``value`` as a bool, refusing anything but True and False (``"no"`` is truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}"[:200])
    return bool(value)


def check_choice(value, name: str, choices, hint: str = ""):
    """``value`` if it is one of ``choices``, else one ValueError listing them."""
    try:
        ok = value in choices
    except TypeError:  # an unhashable value tested against a set
        ok = False
    if not ok:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}" + _tail(hint))
    return value


def check_dtype(dtype, name: str, choices, what: str = "") -> np.dtype:
    """A NumPy dtype whose name is one of ``choices`` (e.g. the counter dtypes).

    ``what`` says what the dtype is for, in parentheses after the choices.
    """
    try:
        found = np.dtype(dtype).name
    except TypeError:
        found = None
    if found not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}"
                         f"{f' ({what})' if what else ''}, got {dtype!r}")
    return np.dtype(found)


def _bound(value: int) -> str:
    """A bound as a reader knows it: ``2**53`` or ``1,000,000,000``."""
    return f"2**{value.bit_length() - 1}" if value & (value - 1) == 0 else f"{value:,}"


def check_n(n, minimum: int = 1, why: str = "", name: str = "n (the number of bits)", *,
            maximum: int | None = None, why_maximum: str = "") -> int:
    """The dimension ``n`` of a formula (the number of bits), an int >= ``minimum``.

    ``why`` says what needs the minimum (``" for a β fit"``); ``maximum``
    bounds formulas in fixed-width arithmetic, ``why_maximum`` says why.
    """
    if _is_integer(n) and n >= minimum and (maximum is None or n <= maximum):
        return operator.index(n)  # the common case, without building messages
    hint = f"pass the dimension of the space, e.g. {_symbol(name)}=1000"
    if maximum is not None and _is_integer(n) and n > maximum:
        return check_int(n, name, minimum, maximum, hint=hint, expected=(
            f"an integer in [{minimum}, {_bound(maximum)}]{why}{why_maximum}"))
    return check_int(n, name, minimum, expected=f"an integer >= {minimum}{why}", hint=hint)


def check_radius(d, n: int, minimum: int = 0, *, real: bool = False,
                 name: str = "radius d"):
    """A radius in ``[minimum, n]``: an int, or (``real=True``) a float in bit units.

    Real radii are those of hyperspherical caps, whose cosine threshold is
    ``1 - 2d/n``.
    """
    if real:
        if _is_real(d) and minimum <= d <= n:  # NaN and huge ints fall through to the check
            return float(d)
        return check_real(d, name, minimum, n, expected=f"in [{minimum}, n] = [{minimum}, {n}]",
                          hint=f"choose a radius between {minimum} and n_bits in bit units, "
                               "d = n (1 - cos) / 2 (cosine threshold 1 - 2d/n in [-1, 1])")
    if _is_integer(d) and minimum <= d <= n:
        return operator.index(d)
    return check_int(d, name, minimum, n, expected=f"an integer in [{minimum}, n] = "
                                                   f"[{minimum}, {n}]",
                     hint=f"choose a radius between {minimum} and n_bits")


# -- arrays --------------------------------------------------------------------


def as_array(x, name: str) -> np.ndarray:
    """``np.asarray(x)``, a ragged nested list refused by its argument's name.

    NumPy's own message ("inhomogeneous shape after 1 dimensions") names no
    argument and says nothing of the fix.
    """
    try:
        return np.asarray(x)
    except ValueError as err:
        if "inhomogeneous" not in str(err):
            raise
        raise ValueError(f"{name} must be a rectangular array, but its nested rows have "
                         "different lengths; give every row the same length") from None


def describe(array: np.ndarray) -> str:
    """``array of shape (2, 3) and dtype int64``: how messages name an array."""
    return f"array of shape {array.shape} and dtype {array.dtype}"


def check_state_array(array, name: str, shape: tuple, dtype, *, fix: str = "") -> None:
    """A memory's own array (``name``: e.g. ``"SDM.counters"``) as its kernels need it.

    The arrays are public attributes, so a caller may have replaced one: a
    wrong layout must be named here, not met as a numba error in a kernel.
    ``fix`` says what to do instead (default: change the values in place).
    """
    dtype = np.dtype(dtype)
    if (isinstance(array, np.ndarray) and array.shape == shape and array.dtype == dtype
            and array.flags.c_contiguous):
        return
    got = (describe(array) + ("" if array.flags.c_contiguous else ", not C-contiguous")
           if isinstance(array, np.ndarray) else type(array).__name__)
    attribute = name.split(".", 1)[-1]
    fix = fix or (f"change its values in place (mem.{attribute}[...] = values) instead of "
                  "replacing the array")
    raise TypeError(f"{name} must be a C-contiguous array of shape {shape} and dtype {dtype} "
                    f"(the memory's own layout), got {got}; {fix}")


_describe = describe  # the older private spelling (no fastsdm module uses it; kept for branches)


def real_array(x, name: str, ndims=(1, 2), shape: str = "", *, dtype=np.float64,
               hint: str = "", allow_bool: bool = True, nonempty: bool = False,
               contiguous: bool = True) -> np.ndarray:
    """A finite real array with one of ``ndims`` dimensions, as C-contiguous ``dtype``.

    Integers and bools are converted (NumPy would upcast them too); complex,
    object and string arrays, NaN and infinity are refused.  ``shape`` names
    the expected shape in messages, e.g. ``"(m, d)"``.  ``allow_bool=False``
    refuses bools (bit vectors handed to real-vector maths); ``nonempty=True``
    refuses arrays with a zero-length axis, and messages then ask for "a
    non-empty array of shape ...".  ``contiguous=False`` keeps the caller's
    memory order (no copy when the dtype is already right): BLAS products of
    Fortran-ordered arrays may round differently, and the attention functions
    keep the results they always gave.
    """
    array = as_array(x, name)
    if array.dtype.kind not in ("biuf" if allow_bool else "iuf"):
        raise TypeError(f"{name} must be a real-valued array{f' of shape {shape}' if shape else ''}"
                        f", got {describe(array)}" + _tail(hint or "pass float or integer values"))
    if nonempty and (array.ndim not in ndims or 0 in array.shape):
        raise ValueError(f"{name} must be a non-empty array of shape {shape}, got "
                         f"{describe(array)}" + _tail(hint or "one vector per row"))
    if array.ndim not in ndims:
        dims = " or ".join(map(str, ndims))
        raise ValueError(f"{name} must have {dims} dimension{'s' if ndims != (1,) else ''}"
                         f"{f' {shape}' if shape else ''}, got {describe(array)}" + _tail(hint))
    beyond = _beyond_range(array.dtype, dtype)
    # A narrowing cast (long double 1e400 as float64) overflows to infinity:
    # refused below, by name, without NumPy's warning.
    with np.errstate(over="ignore") if beyond else contextlib.nullcontext():
        array = np.ascontiguousarray(array, dtype=dtype) if contiguous else array.astype(
            dtype, copy=False)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        fix = f"remove or replace them, e.g. with np.nan_to_num({name})"
        raise ValueError(f"{name} contains NaN or infinite values{beyond}"
                         + _tail(hint or fix + (f", or rescale {name}" if beyond else "")))
    return array


def _beyond_range(source: np.dtype, target) -> str:
    """``" (or values beyond the float64 range)"`` when casting ``source`` to ``target``
    can overflow to infinity (a float to a narrower float), else ``""``.

    The refusals of non-finite values say it, since a finite value may then be
    what became infinite.
    """
    target = np.dtype(target)
    narrows = source.kind == "f" and target.kind == "f" and source.itemsize > target.itemsize
    return f" (or values beyond the {target} range)" if narrows else ""


def unit_rows(x: np.ndarray, name: str, fix: str = "drop it or use normalize=False") -> np.ndarray:
    """Float rows scaled to unit L2 norm; a zero row (no direction) is refused.

    Each row is divided by its largest entry first, so that squaring inside
    the norm neither overflows (1e200) nor underflows (1e-200).
    """
    peak = np.abs(x).max(axis=-1, keepdims=True)
    if not (peak > 0.0).all():
        raise ValueError(f"{name} has a zero vector (row {int(np.argmin(peak.ravel()))}), which "
                         f"has no direction and cannot be L2-normalised; {fix}")
    x = x / peak
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


#: Rows converted to float64 at once by :func:`unit_vectors` and :func:`finite_rows`'s
#: callers: bounds the temporaries of a large batch.
NORMALIZE_ROWS = 4096


def list_rows(mask: np.ndarray) -> str:
    """``[2, 7, 11] (3 of 12)``: how messages name the rows a mask flags (ten at most)."""
    bad = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in bad[:10])
    return f"[{shown}{', ...' if bad.size > 10 else ''}] ({bad.size} of {mask.size})"


def real_rows(x, name: str, width: int, what: str) -> tuple[np.ndarray, bool]:
    """``x`` as a 2-D real array of ``width`` columns, and whether it was one vector.

    Any real dtype is accepted, as NumPy would upcast it: floats, signed and
    unsigned integers and booleans (0 and 1); the array is returned as it is
    (no conversion: :func:`unit_vectors` and :func:`finite_rows` convert in
    blocks).  Complex, object, string and date arrays are refused, and so are
    empty batches.  ``what`` names the width in messages (``"dim"``).
    """
    array = as_array(x, name)
    if array.dtype.kind == "c":
        raise TypeError(f"{name} must be real vectors, got {describe(array)}; take the real "
                        f"part (np.real({name})) or the magnitude (np.abs({name})) first")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real vectors of a numeric dtype, got "
                        f"{describe(array)}; convert with np.asarray({name}, dtype=np.float32)")
    if array.ndim not in (1, 2) or array.shape[-1] != width:
        raise ValueError(f"{name} must be one vector of length {width} ({what}) or a batch of "
                         f"shape (m, {width}), got {describe(array)}")
    if array.ndim == 2 and array.shape[0] == 0:
        raise ValueError(f"{name} is empty ({describe(array)}); pass at least one vector")
    return np.atleast_2d(array), array.ndim == 1


def normalise_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows of float64 ``x`` (zero rows stay zero) and the zero-row mask.

    A row with infinite coordinates (a sum that overflowed float64) becomes
    the unit vector along them.

    Each row is divided by its largest magnitude first, so that the squares
    neither overflow nor underflow; the norm is an ``einsum`` dot product.
    (:func:`unit_rows` is the attention functions' normalisation, whose
    float64 results differ in the last bits; each keeps its callers' results.)
    """
    scale = np.abs(x).max(axis=1, initial=0.0)
    zero = scale == 0
    # One test for the rare rows (NumPy calls on tiny arrays are most of a
    # single query's normalisation).
    rare = not (scale.min(initial=np.inf) > 0.0 and scale.max(initial=0.0) < np.inf)
    if rare:
        overflowed = np.isinf(scale)
        if overflowed.any():
            # A sum beyond float64's range points along its infinite coordinates.
            x = x.copy()
            x[overflowed] = np.where(np.isinf(x[overflowed]), np.sign(x[overflowed]), 0.0)
            scale[overflowed] = 1.0
        scale[zero] = 1.0
    y = x / scale[:, None]
    norm = np.sqrt(np.einsum("ij,ij->i", y, y))
    if rare:
        norm[zero] = 1.0
    y /= norm[:, None]
    return y, zero


#: ``|x·x − 1|`` of a float32 row rounded from an exact unit vector is at most
#: ``2**-23 + 2**-48`` (each coordinate moves by at most ``2**-24`` of itself);
#: :func:`unit_vectors` keeps such rows as they are, plus float64 rounding of
#: the sum of squares (``dim * 2**-53``, added per row).
UNIT_SQUARED_TOL = 2.0**-23 + 2.0**-47


def owned(array: np.ndarray, given) -> np.ndarray:
    """``array`` (``given`` after conversion), copied if it shares memory with ``given``.

    A memory owns the addresses it is given: a caller reusing its buffer must
    not move the locations behind the memory's back (or, for a ContinuousSDM,
    behind its int8 copy of them).
    """
    return array.copy() if np.may_share_memory(array, given) else array


def unit_vectors(array: np.ndarray, name: str, keep_unit: bool = True) -> np.ndarray:
    """Real rows L2-normalised in float64 and rounded to float32, or raise.

    The vectors of :class:`fastsdm.ContinuousSDM` (addresses, keys and
    queries): rows are converted :data:`NORMALIZE_ROWS` at a time
    (integers beyond 2**53 round to the nearest float64 first), and the
    message lists the rows that hold NaN or infinity or are zero.

    With ``keep_unit``, rows that are float32 values already of unit length
    within float32 rounding (``|x·x − 1| <= UNIT_SQUARED_TOL + dim * 2**-53``)
    are returned unchanged: normalising them again in float64 and rounding
    back may move a coordinate by one ulp, and a query equal to an address
    must stay equal to it (its cosine is then exactly 1).
    """
    n = array.shape[0]
    out = np.empty(array.shape, dtype=np.float32)
    for start in range(0, n, NORMALIZE_ROWS):
        stop = min(n, start + NORMALIZE_ROWS)
        with np.errstate(over="ignore", under="ignore"):  # such rows are refused or not unit
            x = array[start:stop].astype(np.float64, order="C")
            # normalise_rows's arithmetic, in place and without its branches
            # for zero and infinite rows, which are refused here (the peak,
            # max |x|, is NaN for a NaN, -inf for a row of no values).  Few
            # NumPy calls, most of a single query's time, and no temporaries:
            # on a VM, fresh pages for a batch's temporaries cost more than
            # the arithmetic (measured).
            peak = np.maximum(x.max(axis=1, initial=-np.inf), -x.min(axis=1, initial=np.inf))
            if not (peak.min() > 0.0 and peak.max() < np.inf):
                _refuse_rows(array, name)
            keep = None
            if keep_unit:
                off = np.abs(np.einsum("ij,ij->i", x, x) - 1.0)
                tol = UNIT_SQUARED_TOL + x.shape[1] * 2.0**-53
                if off.min() <= tol:
                    rows = np.flatnonzero(off <= tol)
                    keep = rows[(x[rows].astype(np.float32) == x[rows]).all(axis=1)]
                    kept = x[keep]
            x /= peak[:, None]
            x /= np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
            if keep is not None:
                x[keep] = kept
        out[start:stop] = x
    return out


def _refuse_rows(array: np.ndarray, name: str) -> None:
    """Raise for the rows of ``array`` that :func:`unit_vectors` cannot normalise.

    Rows with NaN or infinity (after conversion to float64) first, then zero
    rows; the message lists them all.
    """
    n = array.shape[0]
    bad = np.zeros(n, dtype=bool)
    zero = np.zeros(n, dtype=bool)
    for start in range(0, n, NORMALIZE_ROWS):
        with np.errstate(over="ignore"):  # long double beyond float64: refused below
            x = array[start : start + NORMALIZE_ROWS].astype(np.float64)
        bad[start : start + NORMALIZE_ROWS] = ~np.isfinite(x).all(axis=1)
        zero[start : start + NORMALIZE_ROWS] = ~x.any(axis=1)
    if bad.any():
        beyond = _beyond_range(array.dtype, np.float64)
        raise ValueError(f"{name} has NaN or infinite values{beyond} in rows {list_rows(bad)}; "
                         "remove or repair those rows")
    raise ValueError(f"{name} has zero vectors in rows {list_rows(zero)}; a zero vector has "
                     "no direction (vectors are L2-normalised): remove those rows")


def finite_rows(array: np.ndarray, name: str, dtype) -> np.ndarray:
    """Real rows as C-contiguous ``dtype``, every value finite there, or raise.

    Values beyond the range of ``dtype`` (1e300 as float32) overflow to
    infinity and are refused with the rows that hold them.
    """
    with np.errstate(over="ignore"):  # overflow to inf is refused below
        values = array.astype(dtype, order="C")
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} has NaN or infinite values{_beyond_range(array.dtype, dtype)}"
                         f" in rows {list_rows(bad)}; remove or rescale those rows")
    return values


def check_width(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    """Refuse two arrays whose last axes (their features) differ in length."""
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"{a_name} and {b_name} must have the same number of features, got "
                         f"{a.shape[-1]} ({describe(a)}) and {b.shape[-1]} ({describe(b)}); "
                         "project them to a common width first")


def check_rows(values: np.ndarray, n_rows: int, name: str, per: str = "key",
               of: str = "keys") -> None:
    """Refuse ``values`` unless it has one row per ``per`` (``n_rows`` ``of``)."""
    if values.shape[0] != n_rows:
        raise ValueError(f"{name} must have one row per {per}, got {values.shape[0]} rows for "
                         f"{n_rows} {of}; pass {name} with shape ({n_rows}, ...)")


def check_pairs(n_keys: int, n_values: int) -> None:
    """Refuse a write whose keys and values differ in number of rows.

    The memories' write (:class:`fastsdm.SDM`, :class:`fastsdm.ContinuousSDM`,
    the sharded memory).
    """
    if n_keys != n_values:
        raise ValueError(f"keys and values must have the same number of rows, got {n_keys} "
                         f"and {n_values}")


def require_values(key_width: int, value_width: int, unit: str) -> None:
    """Refuse ``values=None`` (store the keys themselves) when the widths differ.

    ``unit`` words the widths (``"-bit"``, ``"-dimensional"``).
    """
    if key_width != value_width:
        raise ValueError(f"values are required: this memory stores {value_width}{unit} values "
                         f"at {key_width}{unit} keys (heteroassociative)")


def check_iterations(iterations, key_width: int, value_width: int, names: str,
                     fed_back_as: str = "an address") -> int:
    """The most reads of an iterated read (>= 1), or raise.

    Above 1 each result is read again, as a key: the values must be as wide
    as the keys.  ``names`` words the equality in the memory's terms
    (``"n_value_bits == n_bits"``).
    """
    iterations = check_int(iterations, "iterations", 1)
    if iterations > 1 and key_width != value_width:
        raise ValueError(f"iterated reads feed the result back as {fed_back_as} and need an "
                         f"autoassociative memory ({names}), got {value_width} != {key_width}; "
                         "use iterations=1")
    return iterations


def check_distances(h, n: int) -> tuple[np.ndarray, bool]:
    """Hamming distances in ``[0, n]`` as an int64 array, and whether ``h`` was a scalar."""
    arr = as_array(h, "h")
    if arr.size == 0:
        arr = arr.astype(np.int64)  # [] arrives as float64
    if arr.dtype == object and all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                   for v in arr.flat):
        # Python ints beyond 64 bits (e.g. 2**64): out of range, not of the wrong type.
        bad = [int(v) for v in arr.flat if not 0 <= v <= n]
        if bad:
            raise ValueError(f"Hamming distance h must be in [0, n] = [0, {n}], got {bad[0]}; "
                             f"distances between {n}-bit vectors lie between 0 and {n}")
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"Hamming distance h must be an integer or an array of integers, got "
                        f"dtype {arr.dtype}; convert with np.rint(h).astype(int) "
                        "(h = n(1 - cos)/2, rounded)")
    # Check the range before any cast: uint64 values beyond int64 must be
    # reported as they are, not wrapped.
    bad = arr[(arr < 0) | (arr > n)]
    if bad.size:
        raise ValueError(f"Hamming distance h must be in [0, n] = [0, {n}], got "
                         f"{int(bad.flat[0])}; distances between {n}-bit vectors lie between "
                         f"0 and {n}")
    return arr.astype(np.int64), arr.ndim == 0


def check_cosines(c, name: str = "cos",
                  hint: str = "clip rounding errors with np.clip(cos, -1, 1)"
                  ) -> tuple[np.ndarray, bool]:
    """Cosines in ``[-1, 1]`` as a float64 array, and whether ``c`` was a scalar."""
    arr = as_array(c, name)
    if arr.size == 0:
        arr = arr.astype(np.float64)
    if arr.dtype.kind not in "iuf" or arr.dtype.kind == "b":
        raise TypeError(f"{name} must be a real number or an array of them, got dtype "
                        f"{arr.dtype}; pass cosine similarities in [-1, 1]")
    arr = arr.astype(np.float64)
    bad = arr[~((arr >= -1.0) & (arr <= 1.0))]  # NaN fails both comparisons
    if bad.size:
        raise ValueError(f"{name} must lie in [-1, 1], got {bad.flat[0]}" + _tail(hint))
    return arr, arr.ndim == 0


def _check_pattern_axis(array: np.ndarray, name: str) -> None:
    if array.ndim == 0 or array.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one pattern along the last axis, got "
                         f"{describe(array)}; pass e.g. an array of shape (N,) or (m, N)")


def check_distance_rows(distances, n: int, name: str = "distances") -> np.ndarray:
    """Hamming distances from queries to ``N >= 1`` patterns, shape ``(..., N)``, as intp.

    Unlike :func:`check_distances` (any shape, scalars included) the last
    axis runs over patterns and must not be empty: weights are normalised
    along it.
    """
    array = as_array(distances, name)
    _check_pattern_axis(array, name)  # first: an empty list is float64 by NumPy's default
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer Hamming distances, got {describe(array)}; "
                        "convert cosines with cosine_to_hamming() or use np.rint(h).astype(int)")
    if array.size and (array.min() < 0 or array.max() > n):  # (0, N): no queries, no weights
        raise ValueError(f"{name} must lie in [0, n] = [0, {n}], got values in "
                         f"[{array.min()}, {array.max()}]; check that n matches the vectors")
    return array.astype(np.intp, copy=False)


def check_cosine_rows(cosines, name: str = "cosines") -> np.ndarray:
    """Cosines from queries to ``N >= 1`` patterns, shape ``(..., N)``, as float64.

    The rows counterpart of :func:`check_cosines`, as :func:`check_distance_rows`
    is of :func:`check_distances`.
    """
    array = as_array(cosines, name)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real numbers, got {describe(array)}; "
                        "pass cosine similarities as floats")
    _check_pattern_axis(array, name)
    array = array.astype(np.float64, copy=False)
    if not ((array >= -1.0) & (array <= 1.0)).all():
        raise ValueError(f"{name} must lie in [-1, 1] (NaN is refused); clip rounding errors "
                         f"with np.clip({name}, -1, 1)")
    return array


def integer_table(values, name: str, lengths, why: str = "", fix: str = "") -> list[int]:
    """A 1-D table of whole numbers of one of ``lengths``, as a list of Python ints.

    Integer dtypes (or sequences of Python ints) are taken as they are;
    floats must be finite whole numbers; bools, strings, objects and scalars
    are refused.  ``why`` explains the length (a table indexed by distance
    ...); ``fix`` is the hint for a scalar (e.g. the keyword to use instead).
    """
    expected = " or ".join(str(v) for v in sorted(set(lengths)))
    what = f"a 1-D sequence of integers of length {expected}" + (f" ({why})" if why else "")
    if isinstance(values, (str, bytes)) or np.isscalar(values):
        raise TypeError(f"{name} must be {what}, got {type(values).__name__} {values!r}"
                        + _tail(fix))
    array = as_array(values, name)
    if array.dtype == bool or array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold integers, got an array of dtype {array.dtype}; use "
                        "e.g. np.array([...], dtype=np.int64)")
    if array.ndim != 1 or array.shape[0] not in lengths:
        raise ValueError(f"{name} must be 1-D of length {expected}"
                         + (f" ({why})" if why else "") + f", got shape {array.shape}")
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if bad.any():
            raise ValueError(f"{name} must hold whole numbers, got {array[bad][0]}; round the "
                             "table, e.g. np.round(table).astype(np.int64)")
    return [int(v) for v in array.tolist()]


def refuse_big_endian(array: np.ndarray, name: str, signed: bool = False) -> None:
    """Refuse uint64 words in a non-native byte order, saying how to convert them.

    Their integer values and their bytes disagree about which bit is which,
    so either reading could be the wrong one: the caller must choose.
    ``signed``: int64 as well (where int64 words are taken as words).
    """
    dtype = array.dtype
    if (dtype.kind in ("ui" if signed else "u") and dtype.itemsize == 8
            and not dtype.isnative):
        raise TypeError(
            f"{name} are {'uint64' if dtype.kind == 'u' else 'int64'} words in non-native "
            f"(big-endian) byte order, got "
            f"{describe(array)} ({dtype.str}); fastsdm words are native little-endian uint64. "
            f"If the values are the words, convert them with np.asarray({name}, "
            f"dtype=np.uint64); if the bytes come from np.packbits, reinterpret them with "
            f"{name}.view('<u8')")


# -- bit vectors -----------------------------------------------------------------


def check_words(words, name: str, n_bits: int | None = None, ndim=(1, 2)) -> np.ndarray:
    """Validate packed words: uint64, last axis W, C-contiguous; pad bits zero.

    Returns a C-contiguous ``uint64`` array (a view when the input already is).
    """
    array = as_array(words, name)
    if array.dtype != np.uint64:
        refuse_big_endian(array, name)
        hint = ("pack 0/1 bits with fastsdm.pack_bits()"
                if array.dtype.kind in "biu" else "addresses are binary: pack bits with "
                "fastsdm.pack_bits()")
        raise TypeError(f"{name} must be packed uint64 words, got {describe(array)}; {hint}")
    if array.ndim not in ndim:
        allowed = (f"{min(ndim)} to {max(ndim)}" if len(ndim) > 3
                   else " or ".join(map(str, ndim)))
        raise ValueError(f"{name} must have {allowed} dimensions "
                         f"(vectors x words), got {describe(array)}")
    if n_bits is not None:
        W = n_words(n_bits)
        if array.shape[-1] != W:
            raise ValueError(f"{name} must have {W} words per vector for n_bits={n_bits}, "
                             f"got {describe(array)}; pack {n_bits}-bit vectors with "
                             f"fastsdm.pack_bits()")
    array = np.ascontiguousarray(array, dtype=np.uint64)
    if n_bits is not None and n_bits % 64 and array.size:
        garbage = array[..., -1] & ~pad_mask(n_bits)[-1]
        if garbage.any():
            raise ValueError(f"{name} has non-zero pad bits beyond bit {n_bits} (the layout "
                             "requires them to be zero); build words with fastsdm.pack_bits() "
                             "or clear them with fastsdm.clear_pad_bits()")
    return array


_NATIVE_U64 = np.dtype(np.uint64)


@functools.lru_cache(maxsize=64)
def _pad_garbage(n_bits: int) -> np.uint64:
    """The pad bits of an ``n_bits`` vector's last word (which must be zero)."""
    return ~pad_mask(n_bits)[-1]


#: The forms a bit vector may arrive in (:attr:`Bits.form`).
WORDS, BYTES, ROWS = "words", "bytes", "rows"


class Bits(NamedTuple):
    """Bit vectors brought to the kernels' one shape, and how to answer in kind.

    Attributes
    ----------
    words : ndarray of uint64, shape (m, W)
        C-contiguous packed words with zero pad bits, writeable unless their
        memory cannot be (:func:`fastsdm._jit.kernel_input`): never write
        into them, they may be the caller's.
    n_bits : int
        The vectors' length.
    single : bool
        The input was one vector (results drop the leading axis).
    form : {"words", "bytes", "rows"}
        Packed ``uint64`` words, ``np.packbits`` ``uint8`` bytes, or 0/1 rows.
    dtype : numpy.dtype
        The input's dtype (0/1 rows come back in it).
    """

    words: np.ndarray
    n_bits: int
    single: bool
    form: str
    dtype: np.dtype

    def restore(self, words: np.ndarray, n_bits: int | None = None) -> np.ndarray:
        """``words`` (m, W') of ``n_bits`` bits in the caller's form and shape."""
        n_bits = self.n_bits if n_bits is None else n_bits
        if self.form == BYTES:
            out = bytes_from_words(words, n_bits)
        elif self.form == ROWS:
            out = bits_from_words(words, n_bits).astype(self.dtype, copy=False)
        else:
            out = words
        return out[0] if self.single else out


def _bits_from_rows(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype != np.bool_ and array.size:
        low, high = array.min(), array.max()
        if low < 0 or high > 1:
            raise ValueError(f"{name} bits must be 0 or 1, got values in [{low}, {high}]; use "
                             f"({name} != 0) to turn integers into bits")
    return words_from_bits(array)


def _bytes_form(array: np.ndarray, n_bits: int | None) -> bool:
    """Whether a uint8 array holds ``np.packbits`` bytes rather than 0/1 values."""
    width = array.shape[-1]
    if n_bits is not None:
        if width == n_bits and width != n_bytes(n_bits):
            return False
        if width == n_bytes(n_bits) and width != n_bits:
            return True
        # n_bits == 1: one column either way; a 0/1 value reads the same both ways
        # except that byte 1 would be a set pad bit, so values above 1 are bytes.
        return bool(array.size) and int(array.max()) > 1
    return bool(array.size) and int(array.max()) > 1


def as_bits(x, name: str, n_bits: int | None = None, *, ndim=(1, 2),
            allow_empty: bool = False) -> Bits:
    """Bit vectors in any accepted form as :class:`Bits` (packed words, 2-D).

    Accepted forms, told apart by dtype (and, for ``uint8``, by width):

    * ``uint64``: packed words, ``ceil(n_bits / 64)`` per vector, pad bits 0;
    * ``uint8`` of width ``ceil(n_bits / 8)``: ``np.packbits`` bytes, pad bits 0;
    * ``bool`` or other integer dtypes (``uint8`` of width ``n_bits``): 0/1 rows.

    Without ``n_bits`` (search functions), the width is read off the input:
    ``64 W`` for words, ``8 B`` for bytes, the row length for 0/1 rows.  A
    ``uint8`` array holding only 0 and 1 is then ambiguous (bits, or bytes
    with only their last bit used) and is refused: pass ``n_bits=``.  With
    ``n_bits=1`` a ``uint8`` column is both forms: it is bytes when it holds
    a value above 1 (128), else 0/1 rows (the bit is the same either way;
    only the form of a read's answer follows it).
    """
    if (type(x) is np.ndarray and x.dtype == _NATIVE_U64 and n_bits is not None
            and x.ndim in ndim and x.size and x.shape[-1] == n_words(n_bits)
            and x.flags.c_contiguous
            and (n_bits % 64 == 0 or not (x[..., -1] & _pad_garbage(n_bits)).any())):
        # Already valid packed words (the common case of a read in a loop):
        # what the checks below would return, without them.
        return Bits(kernel_input(x if x.ndim == 2 else x[np.newaxis]), n_bits, x.ndim == 1,
                    WORDS, x.dtype)
    array = as_array(x, name)
    refuse_big_endian(array, name)
    if array.dtype.kind not in "biu":
        raise TypeError(f"{name} must be packed uint64 words or 0/1 bits, got {describe(array)}; "
                        "threshold real vectors first (e.g. x > 0) or use fastsdm.ContinuousSDM "
                        "(np.packbits uint8 bytes are accepted too)")
    if array.ndim not in ndim:
        expected = ("have 2 dimensions (one vector per row)" if tuple(ndim) == (2,)
                    else "be one vector (1-D) or a batch (2-D)")
        raise ValueError(f"{name} must {expected}, got {describe(array)}")
    if array.shape[-1] == 0 or (array.size == 0 and not allow_empty):
        raise ValueError(f"{name} is empty ({describe(array)}); pass at least one vector")
    single = array.ndim == 1
    if array.dtype == np.uint64:
        form = WORDS
        width = 64 * array.shape[-1] if n_bits is None else n_bits
        words = kernel_input(check_words(array, name, width, ndim=ndim))
    elif array.dtype == np.uint8 and _bytes_form(array, n_bits):
        form = BYTES
        if n_bits is None:
            width = 8 * array.shape[-1]
        else:
            width = n_bits
            if array.shape[-1] != n_bytes(n_bits):
                raise ValueError(f"{name} as np.packbits bytes must have {n_bytes(n_bits)} "
                                 f"columns for n_bits={n_bits}, got {describe(array)}")
        words = check_words(words_from_bytes(np.ascontiguousarray(array)), name, width,
                            ndim=ndim)
    else:
        if array.dtype == np.uint8 and n_bits is None and array.shape[-1] > 1:
            raise ValueError(f"{name} is uint8 with only 0 and 1 values: it could be 0/1 bits "
                             "or np.packbits bytes; pass n_bits= to say which (n_bits equal "
                             "to the row length means 0/1 bits)")
        form = ROWS
        width = array.shape[-1] if n_bits is None else n_bits
        words_like = ((n_bits is None and array.dtype.itemsize == 8)  # e.g. int64 words
                      or width != array.shape[-1] == n_words(width))
        if words_like and array.size and (array.min() < 0 or array.max() > 1):
            # The width of packed words and values beyond 0/1: words in another dtype.
            raise TypeError(f"{name} must be packed uint64 words or 0/1 bits, got "
                            f"{describe(array)}, which looks like packed words in the wrong "
                            f"dtype; convert them with np.asarray({name}).view(np.uint64) "
                            "(int64) or .astype(np.uint64)")
        if array.shape[-1] != width:
            raise ValueError(f"{name} as 0/1 bits must have {width} columns, got "
                             f"{describe(array)}; (packed words must be uint64 with "
                             f"{n_words(width)} columns, np.packbits bytes uint8 with "
                             f"{n_bytes(width)})")
        words = _bits_from_rows(array, name)
    return Bits(np.atleast_2d(words), width, single, form, array.dtype)


def as_words(x, name: str, n_bits: int):
    """Accept bit vectors of ``n_bits`` in any form; return ``(words2d, single, form)``.

    The older spelling of :func:`as_bits`: ``form`` is the :class:`Bits`
    itself when the input was not packed words (so ``form is not None`` means
    "convert results back with ``form.restore``"), and ``None`` for words.
    """
    bits = as_bits(x, name, n_bits)
    return bits.words, bits.single, (None if bits.form == WORDS else bits)


# -- argument names ----------------------------------------------------------------


def renamed_keywords(**old_to_new: str):
    """Decorate a function so that it also accepts older keyword spellings.

    ``@renamed_keywords(distances="h")`` lets callers keep writing
    ``f(..., distances=x)`` for ``f(..., h=x)``, silently (the old spelling
    is not wrong, only no longer preferred); passing both is a TypeError.
    The signature shown by ``help()`` and Sphinx is the new one.
    """
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if not kwargs or kwargs.keys().isdisjoint(old_to_new):
                return fn(*args, **kwargs)  # the common call: no older spelling
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {new}= and {old}= (its "
                                        f"older spelling); pass only {new}=")
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)
        return wrapper
    return decorate
