"""Jaeckel's selected-coordinate design: random designs and activation (private).

A hard location of this design selects ``k`` of the ``n`` coordinates and
requires a value (0 or 1) on each; an address activates it when it agrees on
all ``k`` (Jaeckel 1989, RIACS TR 89.28; US patent 5,113,507).  Jaeckel's
*hyperplane* design (RIACS TR 89.30) is the case where every required value
is 1, for sparse addresses.  A design is stored as two packed arrays in
fastsdm's bit layout, one row per location:

* ``masks`` -- bit ``j`` set when coordinate ``j`` is selected (``k`` bits);
* ``values`` -- the required values (zero outside ``masks`` in the designs made
  here; bits outside ``masks`` are ignored).

so activation is ``(x ^ values) & masks == 0`` word by word.  The functions
here validate and call the kernels of :mod:`fastsdm._kernels.hyperplane`;
the activation returns the CSR lists of :func:`fastsdm.radius_search`
(``indptr`` int64, ``indices`` int64 ascending within each query), so a
memory can swap the radius rule for this one.  The theory lives in
:mod:`fastsdm.theory` (the ``hyperplane_*`` functions).
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

from ._jit import use_parallel
from ._kernels import hyperplane as _k
from ._layout import ADDRESS_BLOCK
from ._validation import (
    as_array,
    as_words,
    check_choice,
    check_int,
    check_state_array,
    check_words,
    describe,
    n_words,
)
from .bits import k_subsets, pack_bits, unpack_bits
from .search import (
    TILED_MIN_QUERIES,
    join_query_parts,
    location_chunks,
    mask_to_csr,
    pad_queries,
    queries_per_chunk,
)

__all__ = [
    "Design",
    "HyperplaneIndex",
    "activation_csr",
    "design_from_coordinates",
    "design_keys",
    "generate_design",
    "hyperplane_activate",
    "hyperplane_index",
    "random_design",
    "sdm_activate",
    "sdm_design",
    "check_saved_design",
]

REQUIRED_VALUES = ("random", "ones")
#: Bytes of the (rows x n_bits) boolean selection masks drawn at once.
DRAW_BYTES = 16 << 20


#: Queries from which a batch is activated through the transposed keys
#: (:func:`keys_csr`); fewer look the keys up query by query in a byte
#: table (measured at n = 1000, N = 10^5: the transposed keys cost 1.5x the
#: masked row scan for one query, 1.2x for two, 0.3-0.7x from four on).
KEYS_MIN_QUERIES = 4
#: Widest design whose keys ``2 c + b`` fit the kernels' int32 (wider ones scan).
MAX_KEYS_BITS = 1 << 30


class _DesignArray:
    """``Design.masks`` / ``.values``: read-only views (the keys are built from
    them once; an edit in place would leave the keys stale, or make a row
    select more coordinates than the keys hold).  Replacing one (the array is
    copied) drops the keys and has the design checked again before the next
    activation.  A frozen design (of a memory mapped for writing, whose
    flush() saves neither) refuses replacements."""

    def __set_name__(self, owner, name):
        self.slot = f"_{name}"
        self.name = name

    def __get__(self, design, owner=None):
        if design is None:
            return self
        array = getattr(design, self.slot)
        if isinstance(array, np.ndarray):  # read-only: the keys are built from it once
            array = array.view()
            array.flags.writeable = False
        return array

    def __set__(self, design, array):
        with design._lock:  # not between an activation's checks and its kernels
            if design._frozen:
                raise ValueError(f"this memory is loaded with mmap=True, whose flush() writes "
                                 f"only the counters, so a new design.{self.name} would be "
                                 "lost; load it without mmap, assign the array, then save()")
            # A copy: the caller's array may change after it is checked.
            setattr(design, self.slot, np.array(array, copy=True)
                    if isinstance(array, np.ndarray) else array)
            design._keys, design._checked = None, False


class CheckedDesign(NamedTuple):
    """A design's arrays as one activation uses them: checked together, and its
    keys built from these very arrays (:meth:`Design.checked`)."""

    masks: np.ndarray
    values: np.ndarray
    keys: np.ndarray | None


class Design:
    """A selected-coordinate design: one packed row per location.

    Unpacks as ``masks, values = design``.

    Attributes
    ----------
    masks : ndarray of uint64, shape (N, W)
        Bit ``j`` set when the location selects coordinate ``j``.
    values : ndarray of uint64, shape (N, W)
        The values required on the selected coordinates (zero elsewhere).
    """

    __slots__ = ("_masks", "_values", "_keys", "_checked", "_frozen", "_lock")

    masks = _DesignArray()
    values = _DesignArray()

    def __init__(self, masks: np.ndarray, values: np.ndarray, *, checked: bool = False):
        # ``checked``: the bits are known to fit the memory (generated, or checked by
        # sdm_design / check_saved_design); otherwise they are checked before use.
        self._masks, self._values, self._keys, self._checked = masks, values, None, checked
        self._frozen = False
        self._lock = threading.Lock()

    def freeze(self) -> None:
        """Refuse replacements of the arrays (a memory mapped for writing, whose
        flush() saves neither)."""
        self._frozen = True

    def __iter__(self):
        return iter((self.masks, self.values))

    def __repr__(self) -> str:
        return f"Design(masks={self.masks.shape}, values={self.values.shape})"

    def checked(self, n_bits: int, k: int, n_locations: int, *,
                required: str | None = None) -> CheckedDesign:
        """The arrays, checked for a memory of ``n_locations`` locations of
        ``k`` of ``n_bits`` coordinates (and ``required`` values), with their keys.

        Under the design's lock, so that an array replaced by another thread
        is never used with checks or keys made for the one it replaced (the
        keys kernel writes ``k`` keys per row: a row selecting more would
        write past them).  A replaced array's layout and bits are checked
        (``k`` coordinates in every row of the masks, values only where they
        select); the keys (:func:`design_keys`) are built on first use and
        kept; None where they do not fit int32 (``n_bits > 2**30``: such
        memories activate through the masked scan).
        """
        with self._lock:
            masks, values = self._masks, self._values
            for name, array in (("masks", masks), ("values", values)):
                check_state_array(array, f"SDM.design.{name}", (n_locations, n_words(n_bits)),
                                  np.uint64, fix=f"assign mem.design.{name} an array of that "
                                                 "layout")
            if not self._checked:
                problem = design_problem(masks, values, n_bits, k, required)
                if problem:
                    name, text = problem
                    raise ValueError(f"SDM.design.{name} {text}; the design arrays and the "
                                     "memory's parameters no longer fit (one of them was "
                                     "changed): assign arrays that fit, or set the parameters "
                                     "back")
                self._checked = True
            if self._keys is None and n_bits <= MAX_KEYS_BITS:
                self._keys = design_keys(masks, values, n_bits, k)
            return CheckedDesign(masks, values, self._keys)

    def recheck(self) -> None:
        """Check the arrays again before the next activation (the memory's
        parameters changed) and build their keys anew."""
        with self._lock:
            self._keys, self._checked = None, False

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(masks, values)`` as the design holds them (taken together, under its lock)."""
        with self._lock:
            return self._masks, self._values

    def keys(self, n_bits: int, k: int) -> np.ndarray | None:
        """The design's :func:`design_keys` (see :meth:`checked`)."""
        return self.checked(n_bits, k, self._masks.shape[0]).keys

    def __getstate__(self):
        with self._lock:
            return (self._masks, self._values)  # a copy is not frozen

    def __setstate__(self, state):
        self._masks, self._values = state
        self._keys, self._checked, self._frozen = None, True, False
        self._lock = threading.Lock()


class HyperplaneIndex(NamedTuple):
    """An inverted index of a design by coordinate (:func:`hyperplane_index`).

    ``postings[indptr[2 j + b] : indptr[2 j + b + 1]]`` are the locations,
    ascending, that select coordinate ``j`` with required value ``b``.
    """

    n_bits: int
    n_locations: int
    indptr: np.ndarray
    postings: np.ndarray


def _check_k(k, n_bits: int) -> int:
    return check_int(k, "k", 0, n_bits,
                     hint="k is the number of selected coordinates per location, "
                          "between 0 and n_bits")


def generate_design(entropy, n_locations: int, n_bits: int, k: int, start: int = 0,
                    stop: int | None = None, required: str = "random"):
    """Locations ``start:stop`` of the random design seeded with ``entropy``.

    Block ``b`` of :data:`fastsdm.memory.ADDRESS_BLOCK` locations is drawn from
    ``SeedSequence(entropy, spawn_key=(0, b))`` (the convention of
    :func:`fastsdm.memory.generate_addresses`), so any range can be generated
    alone and agrees with the whole.  Within a block, rows are drawn in
    chunks of at most :data:`DRAW_BYTES` selection bits: first the ``k``
    coordinates of each row (Floyd's algorithm: uniform ``k``-subsets,
    without repetition), then, with ``required="random"``, uniformly random
    words masked to them.

    Returns ``(masks, values)``, each ``uint64`` of shape
    ``(stop - start, ceil(n_bits / 64))``.  Arguments are not validated
    (see :func:`random_design`).
    """
    stop = n_locations if stop is None else stop
    W = n_words(n_bits)
    masks = np.empty((stop - start, W), dtype=np.uint64)
    values = np.empty_like(masks)
    rows_per_draw = max(1, DRAW_BYTES // n_bits)
    for block in range(start // ADDRESS_BLOCK, -(-stop // ADDRESS_BLOCK)):
        b0 = block * ADDRESS_BLOCK
        b1 = min(n_locations, b0 + ADDRESS_BLOCK)
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(0, block)))
        block_masks = np.empty((b1 - b0, W), dtype=np.uint64)
        block_values = np.empty_like(block_masks)
        for r0 in range(0, b1 - b0, rows_per_draw):
            rows = min(rows_per_draw, b1 - b0 - r0)
            m = pack_bits(k_subsets(rng, rows, n_bits, k))
            block_masks[r0 : r0 + rows] = m
            if required == "ones":
                block_values[r0 : r0 + rows] = m
            else:
                words = rng.integers(0, np.iinfo(np.uint64).max, size=(rows, W),
                                     dtype=np.uint64, endpoint=True)
                block_values[r0 : r0 + rows] = words & m
        lo, hi = max(start, b0), min(stop, b1)
        masks[lo - start : hi - start] = block_masks[lo - b0 : hi - b0]
        values[lo - start : hi - start] = block_values[lo - b0 : hi - b0]
    return masks, values


def random_design(n_locations: int, n_bits: int, k: int, *, seed=None,
                  required: str = "random"):
    """A random selected-coordinate design: ``k`` coordinates and values per location.

    Parameters
    ----------
    n_locations : int
        Number of hard locations ``N`` (>= 0).
    n_bits : int
        Address length ``n`` (>= 1).
    k : int
        Selected coordinates per location, in ``[0, n_bits]``, distinct within
        a location and uniformly random.
    seed : None, int or SeedSequence
        Seeds the design (see :func:`generate_design` for the streams).
    required : {"random", "ones"}
        The required values: uniformly random bits (the selected-coordinate
        design), or all 1 (Jaeckel's hyperplane design, for sparse addresses).

    Returns
    -------
    masks, values : ndarray of uint64, shape (N, ceil(n_bits / 64))

    Examples
    --------
    >>> import numpy as np
    >>> from fastsdm._hyperplane import random_design
    >>> masks, values = random_design(1000, 256, 8, seed=0)
    >>> np.bitwise_count(masks).sum(axis=1).min(), np.bitwise_count(masks).sum(axis=1).max()
    (np.uint64(8), np.uint64(8))
    >>> bool((values & ~masks == 0).all())
    True
    """
    n_locations = check_int(n_locations, "n_locations", 0)
    n_bits = check_int(n_bits, "n_bits", 1)
    k = _check_k(k, n_bits)
    required = check_choice(required, "required", REQUIRED_VALUES)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return generate_design(seq.entropy, n_locations, n_bits, k, required=required)


def design_from_coordinates(coordinates, required, n_bits: int):
    """Pack explicit selected coordinates and required values into a design.

    Parameters
    ----------
    coordinates : array_like of int, shape (N, k)
        The selected coordinates of each location, distinct within a row, in
        ``[0, n_bits)``.
    required : array_like of 0/1, shape (N, k)
        The value required on each selected coordinate.
    n_bits : int

    Returns
    -------
    masks, values : ndarray of uint64, shape (N, ceil(n_bits / 64))

    Examples
    --------
    >>> from fastsdm import unpack_bits
    >>> from fastsdm._hyperplane import design_from_coordinates
    >>> masks, values = design_from_coordinates([[0, 3]], [[1, 0]], 5)
    >>> unpack_bits(masks, 5), unpack_bits(values, 5)
    (array([[1, 0, 0, 1, 0]], dtype=uint8), array([[1, 0, 0, 0, 0]], dtype=uint8))
    """
    n_bits = check_int(n_bits, "n_bits", 1)
    coords = as_array(coordinates, "coordinates")
    values = as_array(required, "required")
    if coords.dtype.kind not in "iu" or coords.ndim != 2:
        raise TypeError(f"coordinates must be a 2-D integer array (locations x k), got "
                        f"{describe(coords)}")
    if values.shape != coords.shape or values.dtype.kind not in "biu":
        raise ValueError(f"required must be 0/1 values of the same shape as coordinates "
                         f"{coords.shape}, got {describe(values)}")
    if coords.size and (coords.min() < 0 or coords.max() >= n_bits):
        raise ValueError(f"coordinates must lie in [0, {n_bits}), got values in "
                         f"[{coords.min()}, {coords.max()}]")
    if values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError("required values must be 0 or 1")
    rows = np.arange(coords.shape[0])[:, None]
    selected = np.zeros((coords.shape[0], n_bits), dtype=np.uint8)
    np.add.at(selected, (rows, coords), 1)
    if (selected > 1).any():
        raise ValueError("coordinates must be distinct within a location (row "
                         f"{int(np.flatnonzero((selected > 1).any(axis=1))[0])} repeats one)")
    bits = np.zeros_like(selected)
    bits[rows, coords] = values
    return pack_bits(selected), pack_bits(bits)


def _check_design(masks, values, n_bits: int):
    M = check_words(masks, "masks", n_bits, ndim=(2,))
    V = check_words(values, "values", n_bits, ndim=(2,))
    if M.shape != V.shape:
        raise ValueError(f"masks and values must have the same shape (one row per location), "
                         f"got {M.shape} and {V.shape}")
    # Bits of values outside masks are ignored by every kernel (no O(N W) check per call).
    return M, V


def hyperplane_index(masks, values, *, n_bits: int) -> HyperplaneIndex:
    """Build the inverted index of a design by coordinate (for :func:`hyperplane_activate`).

    Examples
    --------
    >>> from fastsdm._hyperplane import design_from_coordinates, hyperplane_index
    >>> masks, values = design_from_coordinates([[0, 2], [2, 1]], [[1, 1], [0, 1]], 3)
    >>> index = hyperplane_index(masks, values, n_bits=3)
    >>> index.indptr  # keys 2 j + b for j = 0, 1, 2
    array([0, 0, 1, 1, 2, 3, 4])
    >>> index.postings
    array([0, 1, 1, 0], dtype=int32)
    """
    n_bits = check_int(n_bits, "n_bits", 1)
    M, V = _check_design(masks, values, n_bits)
    total = int(np.bitwise_count(M).sum(dtype=np.int64)) if M.size else 0
    indptr = np.empty(2 * n_bits + 1, dtype=np.int64)
    postings = np.empty(total, dtype=np.int32 if M.shape[0] < 2**31 else np.int64)
    _k.build_index(M, V, n_bits, indptr, postings)
    return HyperplaneIndex(n_bits, M.shape[0], indptr, postings)


def hyperplane_activate(queries, masks, values, *, n_bits: int,
                        index: HyperplaneIndex | None = None, parallel: bool | None = None):
    """Locations of a selected-coordinate design activated by each query, as CSR.

    Parameters
    ----------
    queries : ndarray, shape (W,) / (n_bits,) or (q, W) / (q, n_bits)
        Packed ``uint64`` words or 0/1 bits.
    masks, values : ndarray of uint64, shape (N, W)
        The design (:func:`random_design`, :func:`design_from_coordinates`).
    n_bits : int
    index : HyperplaneIndex, optional
        Use this inverted index (:func:`hyperplane_index` of the same design)
        instead of scanning the masks.
    parallel : bool, optional
        Force the parallel or serial kernels.

    Returns
    -------
    indptr : ndarray of int64, shape (q + 1,)
    indices : ndarray of int64
        Activated locations of query ``i``, ascending:
        ``indices[indptr[i]:indptr[i + 1]]`` (as :func:`fastsdm.radius_search`).

    Examples
    --------
    >>> from fastsdm._hyperplane import design_from_coordinates, hyperplane_activate
    >>> masks, values = design_from_coordinates([[0, 2], [2, 1], [1, 0]],
    ...                                         [[1, 1], [0, 1], [0, 1]], 3)
    >>> hyperplane_activate([[1, 0, 1], [1, 1, 0]], masks, values, n_bits=3)
    (array([0, 2, 3]), array([0, 2, 1]))
    """
    n_bits = check_int(n_bits, "n_bits", 1)
    M, V = _check_design(masks, values, n_bits)
    Q, _, _ = as_words(queries, "queries", n_bits)
    if index is not None:
        if not isinstance(index, HyperplaneIndex):
            raise TypeError(f"index must be a HyperplaneIndex from hyperplane_index(), got "
                            f"{type(index).__name__}")
        if (index.n_bits, index.n_locations) != (n_bits, M.shape[0]):
            raise ValueError(f"index was built for n_bits={index.n_bits} and "
                             f"{index.n_locations} locations, not {n_bits} and {M.shape[0]}; "
                             "rebuild it with hyperplane_index(masks, values, n_bits=...)")
    return activation_csr(Q, M, V, index, parallel)


def activation_csr(Q, M, V, index=None, parallel=None, keys=None):
    """CSR of the locations each query activates (validated 2-D input).

    With ``keys`` (:func:`design_keys` of the same design), batches of
    :data:`KEYS_MIN_QUERIES` or more queries go through :func:`keys_csr`,
    fewer through a byte table per query (both faster than the masked scan,
    which streams ``2 W`` words per location).

    The counterpart of :func:`fastsdm.search.radius_csr` for a memory that
    holds a validated design: ``Q`` (q, W), ``M`` and ``V`` (N, W) C-contiguous
    ``uint64`` with zero pad bits, ``index`` (optional) built from the same
    design.  Checking a design costs a pass over it (the pad bits of every
    row), as much as one activation: the wrapper does it, a memory does it
    once.
    """
    nq, N = Q.shape[0], M.shape[0]
    if N == 0:
        return np.zeros(nq + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if keys is not None and nq >= KEYS_MIN_QUERIES:
        return keys_csr(Q, keys, 64 * M.shape[1], parallel)
    n_mask = -(-N // 64)
    parts = []
    per_chunk = queries_per_chunk(N)
    for start in range(0, nq, per_chunk):
        block = Q[start : start + per_chunk]
        mask = np.empty((block.shape[0], n_mask), dtype=np.uint64)
        if index is not None:
            par = use_parallel(block.shape[0] * index.postings.size, parallel)
            (_k.activate_index_parallel if par else _k.activate_index_serial)(
                block, index.n_bits, N, index.indptr, index.postings, mask)
        elif keys is not None:
            _keys_rows(block, keys, 64 * M.shape[1], mask, parallel)
        else:
            _scan(block, M, V, mask, parallel)
        parts.append(mask_to_csr(mask, parallel))
    return join_query_parts(parts)


def _tile_size(n_words_: int) -> int:
    # Two transposed tiles (masks and values) of ~16 KiB each, 64..1024 locations.
    return 64 * int(np.clip(16384 // (8 * n_words_ * 64), 1, 16))


def _scan(Q, M, V, out_mask, parallel):
    nq, N, W = Q.shape[0], M.shape[0], M.shape[1]
    par = use_parallel(2 * nq * N * W, parallel)
    if nq >= TILED_MIN_QUERIES:
        L = _tile_size(W)
        n_qblocks = -(-nq // 256)
        q_block = -(-nq // n_qblocks // 4) * 4
        n_qblocks = -(-nq // q_block)
        n_chunks = location_chunks(par, -(-N // L), n_qblocks)
        run = _k.activate_tiled_parallel if par else _k.activate_tiled_serial
        # pad_queries: rows to a multiple of 4 (its extra words are not read).
        run(pad_queries(Q), nq, M, V, L, q_block, n_chunks, out_mask)
    else:
        n_chunks = location_chunks(par, -(-N // 64))
        run = _k.activate_rows_parallel if par else _k.activate_rows_serial
        run(Q, M, V, n_chunks, out_mask)


# -- activation through the design's keys ------------------------------------------------


def design_keys(M, V, n_bits: int, k: int) -> np.ndarray:
    """``E[i, t] = 2 c + b``: the t-th coordinate ``c`` location ``i`` selects, value ``b``.

    ``(N, k)`` ``int32``.  Every row of ``M`` must select exactly ``k``
    coordinates (a memory checks it first), and ``n_bits <= MAX_KEYS_BITS``.
    """
    if n_bits > MAX_KEYS_BITS:
        raise ValueError(f"design keys 2 c + b of {n_bits}-bit designs do not fit int32 "
                         f"(at most {MAX_KEYS_BITS} bits); use the masked scan")
    keys = np.empty((M.shape[0], k), dtype=np.int32)
    if k and M.shape[0]:
        bad = _k.location_keys(M, V, keys)
        if bad >= 0:
            raise ValueError(f"the design's masks select {int(np.bitwise_count(M[bad]).sum())} "
                             f"coordinates at location {bad}, not {k}; the arrays were changed "
                             "after they were checked")
    return keys


def query_table(Q, n_bits: int):
    """``(T, valid)``: ``T[2 j + b, w]`` bit ``r`` is set when query ``64 w + r`` has ``x_j = b``.

    ``valid[w]`` has a bit per query that exists in word ``w`` (the last
    word's high bits are padding and must never report a hit).
    """
    nq = Q.shape[0]
    n_qwords = -(-nq // 64)
    bits = np.zeros((64 * n_qwords, n_bits), dtype=np.uint8)
    bits[:nq] = unpack_bits(Q, n_bits)
    # (n_bits, query words, 64 queries) -> one little-endian word per 64 queries.
    by_query = bits.T.reshape(n_bits, n_qwords, 64)
    ones = np.ascontiguousarray(np.packbits(by_query, axis=-1, bitorder="little")).view(
        "<u8")[..., 0]
    table = np.empty((2 * n_bits, n_qwords), dtype=np.uint64)
    table[1::2] = ones
    table[0::2] = ~ones
    valid = np.full(n_qwords, np.iinfo(np.uint64).max, dtype=np.uint64)
    if nq % 64:
        valid[-1] = np.uint64((1 << (nq % 64)) - 1)
    return table, valid


def _keys_rows(Q, keys, n_bits, out_mask, parallel):
    # A few queries: the keys looked up in a byte table per query.
    bits = unpack_bits(Q, n_bits)
    table = np.empty((Q.shape[0], 2 * n_bits), dtype=np.uint8)
    table[:, 1::2] = bits
    table[:, 0::2] = 1 - bits
    N = keys.shape[0]
    par = use_parallel(Q.shape[0] * N * min(4, max(1, keys.shape[1])), parallel)
    n_chunks = location_chunks(par, -(-N // 64))
    (_k.activate_keys_rows_parallel if par else _k.activate_keys_rows_serial)(
        table, keys, n_chunks, out_mask)


def keys_csr(Q, keys, n_bits: int, parallel=None):
    """CSR of the locations each query activates, from the design's keys.

    ``Q`` (q, W) validated words, ``keys`` from :func:`design_keys`,
    ``n_bits`` at least the design's width (the table's extra coordinates
    are never looked up).  Queries are taken in chunks whose transposed
    hits (``N`` words per 64 queries) fit the radius masks' budget.
    """
    nq, N = Q.shape[0], keys.shape[0]
    indptr = np.zeros(nq + 1, dtype=np.int64)
    parts = []
    per_chunk = max(64, queries_per_chunk(N) // 64 * 64)
    for start in range(0, nq, per_chunk):
        table, valid = query_table(Q[start : start + per_chunk], n_bits)
        hits = np.empty((N, table.shape[1]), dtype=np.uint64)
        par = use_parallel(N * table.shape[1] * max(1, keys.shape[1]), parallel)
        n_chunks = location_chunks(par, -(-N // 64))
        (_k.activate_keys_parallel if par else _k.activate_keys_serial)(
            table, valid, keys, n_chunks, hits)
        m = min(per_chunk, nq - start)
        part = np.zeros(m + 1, dtype=np.int64)
        _k.hits_count(hits, part)
        indices = np.empty(part[-1], dtype=np.int64)
        _k.hits_fill(hits, part, indices)
        indptr[start + 1 : start + m + 1] = part[1:] + indptr[start]
        parts.append(indices)
    return indptr, (np.concatenate(parts) if len(parts) != 1 else parts[0]) if parts else (
        np.zeros(0, dtype=np.int64))


# -- Jaeckel's design as an SDM activation rule ---------------------------------------


def sdm_design(n_bits: int, n_locations: int | None, selected, required, design, entropy):
    """``(Design, n_locations, selected, required)`` of a new hyperplane SDM.

    ``design`` given: checked (uint64 words, same shapes, zero pad bits, the
    same number of selected coordinates in every row, agreeing with
    ``selected`` if given), the values cleared outside the masks, ``required``
    "given".  Otherwise generated from ``entropy`` by
    :func:`generate_design` (``selected`` and ``required`` already checked by
    :class:`fastsdm._params.SDMParams`, ``n_locations`` given).
    """
    if design is None:
        return None
    if required is not None:
        raise ValueError(f"required={required!r} chooses the values of a generated design; an "
                         "explicit design= carries its own values (omit required)")
    if not (isinstance(design, tuple) and len(design) == 2):
        raise TypeError(f"design must be a pair (masks, values) of packed uint64 arrays, one "
                        f"row per location (see fastsdm.SDM), got {type(design).__name__}")
    M = check_words(design[0], "design masks", n_bits, ndim=(2,))
    V = check_words(design[1], "design values", n_bits, ndim=(2,))
    if M.shape != V.shape:
        raise ValueError(f"design masks and values must have the same shape (one row per "
                         f"location), got {M.shape} and {V.shape}")
    if n_locations is not None and n_locations != M.shape[0]:
        raise ValueError(f"n_locations={n_locations} does not match the {M.shape[0]} "
                         "locations of the design given; omit n_locations")
    counts = np.bitwise_count(M).sum(axis=1, dtype=np.int64)
    k = int(counts[0]) if counts.size else (0 if selected is None else selected)
    if counts.size and (counts != k).any():
        bad = int(np.flatnonzero(counts != k)[0])
        raise ValueError(f"every location of a design must select the same number of "
                         f"coordinates: location 0 selects {k}, location {bad} selects "
                         f"{int(counts[bad])}")
    if selected is not None and selected != k:
        raise ValueError(f"selected={selected} does not match the design given, whose "
                         f"locations select {k} coordinates; omit selected")
    # Copies: the memory owns its design (the caller may reuse its buffers).
    return Design(np.array(M, order="C"), V & M, checked=True), M.shape[0], k, "given"


def check_saved_design(masks, values, n_bits: int, selected: int, required: str,
                       path) -> Design:
    """The design of a saved hyperplane memory, or one ValueError naming the file at fault.

    The arrays' shapes and dtypes are already checked; here what the
    parameters promise about their bits: zero pad bits, ``selected``
    coordinates in every row of ``masks``, ``values`` zero outside ``masks``
    and, for ``required="ones"``, equal to them.
    """
    def corrupt(name, problem):
        return ValueError(f"{path / (name + '.npy')} {problem}; the memory is corrupt")

    problem = design_problem(masks, values, n_bits, selected)
    if problem:
        raise corrupt(*problem)
    if required == "ones" and (values != masks).any():
        raise corrupt("values", "has a required value 0, but the design requires ones")
    return Design(masks, values, checked=True)


def design_problem(masks, values, n_bits: int, selected: int,
                   required: str | None = None) -> tuple[str, str] | None:
    """``(array name, what is wrong)`` if the bits of a design of the right shapes and
    dtype break its layout (zero pad bits, ``selected`` coordinates per row of
    ``masks``, ``values`` zero outside them and, for ``required="ones"``, equal
    to them), else None."""
    for name, array in (("masks", masks), ("values", values)):
        try:
            check_words(array, name, n_bits, ndim=(2,))
        except ValueError:
            return name, f"has non-zero pad bits beyond bit {n_bits} (the layout requires zeros)"
    counts = np.bitwise_count(masks).sum(axis=1, dtype=np.int64)
    if (counts != selected).any():
        bad = int(np.flatnonzero(counts != selected)[0])
        return "masks", (f"has location {bad} selecting {int(counts[bad])} coordinates, not "
                         f"the {selected} its parameters say")
    if (values & ~masks).any():
        return "values", "has required values on coordinates the masks do not select"
    if required == "ones" and (values != masks).any():
        return "values", "has a required value 0, but the memory requires ones"
    return None


def sdm_activate(design: CheckedDesign, words, parallel=None):
    """CSR of the locations of a hyperplane SDM that each query activates.

    The one entry point from the memories' core (:class:`fastsdm._core.Locations`):
    ``design`` is :meth:`Design.checked` of the memory's design.
    """
    return activation_csr(words, design.masks, design.values, None, parallel, design.keys)
