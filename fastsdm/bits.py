"""Packed binary vectors: the word layout, random addresses, noise, bitarray.

A vector of ``n`` bits is stored as ``W = ceil(n / 64)`` little-endian
``uint64`` words whose bytes are exactly ``np.packbits(bits)`` (bit 0 is the
most significant bit of byte 0), zero-padded to ``8 W`` bytes.  So
``bitarray(bits).tobytes()`` and fastsdm words share bytes, and pad bits are
always zero.
"""

from __future__ import annotations

import numpy as np

from ._layout import bits_from_words, n_words, pad_mask, words_from_bytes
from ._validation import as_array, check_int, check_words, describe, refuse_big_endian

__all__ = [
    "pack_bits",
    "unpack_bits",
    "random_addresses",
    "flip_bits",
    "clear_pad_bits",
    "to_bitarray",
    "from_bitarray",
]


def pack_bits(bits) -> np.ndarray:
    """Pack 0/1 bits along the last axis into little-endian ``uint64`` words.

    Parameters
    ----------
    bits : array_like of bool or integers 0/1, shape (..., n)
        The bits; ``n >= 1``.

    Returns
    -------
    words : ndarray of uint64, shape (..., ceil(n / 64))
        Bytes equal to ``np.packbits(bits, axis=-1)``, zero padded.

    Raises
    ------
    TypeError
        If ``bits`` is not boolean or integer.
    ValueError
        If a value is not 0 or 1, or the last axis is empty.

    See Also
    --------
    unpack_bits : the inverse.

    Examples
    --------
    >>> import fastsdm
    >>> w = fastsdm.pack_bits([1, 0, 0, 0, 0, 0, 0, 0, 1])
    >>> hex(int(w[0]))
    '0x8080'
    >>> fastsdm.unpack_bits(w, 9)
    array([1, 0, 0, 0, 0, 0, 0, 0, 1], dtype=uint8)
    """
    array = as_array(bits, "bits")
    # An empty list is float64 only by NumPy's default: its emptiness is the
    # error.  A single value of any other type is refused for its type first.
    if array.dtype.kind not in "biu" and array.size:
        raise TypeError(f"bits must be bool or integers 0/1, got {describe(array)}; "
                        "threshold real values first, e.g. pack_bits(x > 0)")
    if array.ndim == 0 or array.shape[-1] == 0:
        raise ValueError(f"bits must have at least one bit along the last axis, got "
                         f"{describe(array)}")
    if array.dtype.kind not in "biu":
        raise TypeError(f"bits must be bool or integers 0/1, got {describe(array)}; "
                        "threshold real values first, e.g. pack_bits(x > 0)")
    if array.dtype != np.bool_:
        if array.size and (array.min() < 0 or array.max() > 1):
            raise ValueError(f"bits must be 0 or 1, got values in [{array.min()}, {array.max()}]; "
                             "use (x != 0) to turn integers into bits")
        array = array.astype(np.bool_)
    return words_from_bytes(np.packbits(array, axis=-1))


def unpack_bits(words, n_bits: int) -> np.ndarray:
    """Unpack ``uint64`` words into ``n_bits`` 0/1 values (``uint8``).

    Parameters
    ----------
    words : ndarray of uint64, shape (..., ceil(n_bits / 64))
    n_bits : int

    Returns
    -------
    bits : ndarray of uint8, shape (..., n_bits)

    Examples
    --------
    >>> import fastsdm
    >>> fastsdm.unpack_bits(fastsdm.pack_bits([[1, 1, 0], [0, 1, 0]]), 3)
    array([[1, 1, 0],
           [0, 1, 0]], dtype=uint8)
    """
    n_bits = check_int(n_bits, "n_bits", 1)
    return bits_from_words(check_words(words, "words", n_bits, ndim=range(1, 33)), n_bits)


def clear_pad_bits(words, n_bits: int) -> np.ndarray:
    """Return a copy of ``words`` with the bits past ``n_bits`` set to zero.

    Useful for buffers that come from elsewhere (a ``bitarray`` memory view,
    a file) whose pad bits are not guaranteed to be zero.

    Examples
    --------
    >>> import numpy as np, fastsdm
    >>> fastsdm.clear_pad_bits(np.array([2**64 - 1], dtype=np.uint64), 8)
    array([255], dtype=uint64)
    """
    n_bits = check_int(n_bits, "n_bits", 1)
    given = as_array(words, "words")
    refuse_big_endian(given, "words", signed=True)  # int64 words are taken here too
    # 64-bit words only: an int8 -1 was taken as a whole word and sign-extended
    # to 2**64 - 1 (other widths are not packed words, as unpack_bits says).
    if given.dtype.kind not in "ui" or given.dtype.itemsize != 8:
        raise TypeError(f"words must be packed uint64 words (int64 reinterpreted), got "
                        f"{describe(given)}; pack bits with fastsdm.pack_bits()")
    array = np.array(given, copy=True).view(np.uint64)  # int64 words reinterpreted
    if array.ndim == 0 or array.shape[-1] != n_words(n_bits):
        raise ValueError(f"words must have {n_words(n_bits)} words per vector for "
                         f"n_bits={n_bits}, got {describe(array)}")
    array &= pad_mask(n_bits)
    return array


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)):  # NumPy would take True as 1; SDM refuses it too
        raise TypeError(f"seed must be None, a non-negative int, a list of them, a numpy "
                        f"SeedSequence or Generator, got {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError):  # NumPy's message names neither the argument nor a fix
        raise ValueError(f"seed must be None, a non-negative int, a list of them, a numpy "
                         f"SeedSequence or Generator, got {seed!r}"[:300]) from None


def random_addresses(m: int, n_bits: int, seed=None) -> np.ndarray:
    """Draw ``m`` uniformly random ``n_bits``-bit vectors, packed.

    Parameters
    ----------
    m : int
        Number of vectors (>= 0).
    n_bits : int
        Bits per vector (>= 1).
    seed : None, int, SeedSequence or Generator
        Passed to :func:`numpy.random.default_rng`.

    Returns
    -------
    words : ndarray of uint64, shape (m, ceil(n_bits / 64)), pad bits zero.

    Examples
    --------
    >>> import fastsdm
    >>> a = fastsdm.random_addresses(3, 100, seed=1)
    >>> a.shape, a.dtype
    ((3, 2), dtype('uint64'))
    >>> bool((a == fastsdm.random_addresses(3, 100, seed=1)).all())
    True
    """
    m = check_int(m, "m", 0)
    n_bits = check_int(n_bits, "n_bits", 1)
    from ._machine import check_allocation

    check_allocation(f"random_addresses(m={m}, n_bits={n_bits})", 8 * m * n_words(n_bits),
                     "draw fewer or shorter vectors, or draw them in blocks")
    words = _rng(seed).integers(0, np.iinfo(np.uint64).max, size=(m, n_words(n_bits)),
                                dtype=np.uint64, endpoint=True)
    words &= pad_mask(n_bits)
    return words


def flip_bits(words, n_bits: int, k: int, seed=None) -> np.ndarray:
    """Flip exactly ``k`` distinct, uniformly chosen bits of every vector.

    Parameters
    ----------
    words : ndarray of uint64, shape (W,) or (m, W)
    n_bits : int
    k : int
        Bits to flip per vector, ``0 <= k <= n_bits``.  The result is at
        Hamming distance exactly ``k`` from its input.
    seed : None, int, SeedSequence or Generator

    Returns
    -------
    noisy : ndarray of uint64, same shape as ``words``

    Examples
    --------
    >>> import fastsdm
    >>> x = fastsdm.random_addresses(4, 1000, seed=0)
    >>> y = fastsdm.flip_bits(x, 1000, 100, seed=1)
    >>> fastsdm.hamming_distances(x, y).diagonal()
    array([100, 100, 100, 100], dtype=int32)
    """
    n_bits = check_int(n_bits, "n_bits", 1)
    array = check_words(words, "words", n_bits)
    k = check_int(k, "k", 0, n_bits, hint="k is the number of bits to flip per vector")
    rng = _rng(seed)
    flat = array.reshape(-1, array.shape[-1])
    out = flat.copy()
    chunk = max(1, 4_000_000 // n_bits)  # bound the temporary (rows x n_bits) masks
    for start in range(0, flat.shape[0], chunk):
        rows = min(chunk, flat.shape[0] - start)
        out[start : start + rows] ^= pack_bits(_k_subsets(rng, rows, n_bits, k))
    return out.reshape(array.shape)


def _k_subsets(rng, rows: int, n: int, k: int) -> np.ndarray:
    """A (rows, n) boolean mask with k uniformly chosen True entries per row.

    Floyd's algorithm, vectorised over rows: for j = n-k .. n-1 draw t in
    [0, j] and take t, or j if t is taken.  It costs k draws per row (or
    n - k, choosing the complement), not a sort of n keys.
    """
    complement = k > n // 2
    draws = n - k if complement else k
    chosen = np.zeros((rows, n), dtype=np.bool_)
    row = np.arange(rows)
    for j in range(n - draws, n):
        t = rng.integers(0, j + 1, size=rows)
        chosen[row, np.where(chosen[row, t], j, t)] = True
    return ~chosen if complement else chosen


def to_bitarray(words, n_bits: int):
    """Convert packed words to ``bitarray`` objects (big endian, ``n_bits`` long).

    Returns one ``bitarray`` for a 1-D input, a list for a 2-D input.

    Examples
    --------
    >>> import fastsdm
    >>> fastsdm.to_bitarray(fastsdm.pack_bits([1, 0, 1]), 3)
    bitarray('101')
    """
    from bitarray import bitarray

    n_bits = check_int(n_bits, "n_bits", 1)
    array = check_words(words, "words", n_bits)
    nbytes = (n_bits + 7) // 8

    def one(row):
        b = bitarray(endian="big")
        b.frombytes(row.astype("<u8", copy=False).tobytes()[:nbytes])
        del b[n_bits:]
        return b

    if array.ndim == 1:
        return one(array)
    return [one(row) for row in array]


def from_bitarray(bits) -> np.ndarray:
    """Pack one ``bitarray`` (or a sequence of equal-length ones) into words.

    Little-endian bitarrays are converted to the big-endian layout; pad bits
    of the bitarray's buffer are ignored.

    Examples
    --------
    >>> from bitarray import bitarray
    >>> import fastsdm
    >>> w = fastsdm.from_bitarray(bitarray('101'))
    >>> fastsdm.unpack_bits(w, 3)
    array([1, 0, 1], dtype=uint8)
    """
    from bitarray import bitarray

    single = isinstance(bits, bitarray)
    items = [bits] if single else list(bits)
    if not items or not all(isinstance(b, bitarray) for b in items):
        raise TypeError("from_bitarray expects a bitarray or a non-empty sequence of bitarrays, "
                        f"got {type(bits).__name__}")
    n = len(items[0])
    if n == 0 or any(len(b) != n for b in items):
        raise ValueError("bitarrays must be non-empty and all of the same length, got lengths "
                         f"{sorted({len(b) for b in items})}")
    W = n_words(n)
    out = np.zeros((len(items), 8 * W), dtype=np.uint8)
    for row, b in zip(out, items, strict=True):
        if b.endian != "big":
            b = bitarray(b, endian="big")
        raw = np.frombuffer(b.tobytes(), dtype=np.uint8)
        row[: raw.size] = raw
    words = out.view("<u8").astype(np.uint64, copy=False)
    words &= pad_mask(n)
    return words[0] if single else words


#: Shared with :mod:`fastsdm._hyperplane` (random selected-coordinate designs).
k_subsets = _k_subsets
