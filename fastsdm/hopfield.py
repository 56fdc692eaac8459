"""Hopfield networks, classical and modern, with fastsdm's binary conventions.

Bricken & Pehlevan (2021) place Kanerva's SDM between two associative
memories: the classical Hopfield network (Hopfield 1982), whose Hebbian
weights are the SDM's counters when every location is activated by every
address, and the modern (dense) Hopfield network of Ramsauer et al. (2020),
whose update *is* softmax attention.  This module provides both, batched,
with the input/output conventions of :class:`fastsdm.SDM`:

* :class:`Hopfield` -- Hebbian outer-product weights with a zero diagonal,
  synchronous or asynchronous sign updates, optional weight clipping.
* :class:`ModernHopfield` -- the update ``ξ ← sign(Xᵀ softmax(β X ξ))`` on
  bipolar states, iterated to a fixed point.
* :func:`modern_retrieve` -- Ramsauer et al.'s update on real vectors,
  ``ξ ← Xᵀ softmax(β X ξ)``, iterated to a fixed point.
* :func:`classical_capacity` -- the published capacities of the classical
  network (0.138 n; n / (2 ln n); n / (4 ln n)).

**Binary I/O.** Patterns and queries are packed ``uint64`` words (the layout
of ``fastsdm.bits``) or 0/1 rows, and reads answer in kind, exactly like
:meth:`fastsdm.SDM.read`.  Bit 1 is the bipolar value +1 and bit 0 is -1 (the
SDM's counters use the same sign: +1 where the data bit is 1).  A read
returns the bits of the updated bipolar state; :func:`to_bipolar` and
:func:`from_bipolar` convert to and from ±1 rows.

**Iterated reads.** ``read(queries, iterations=k, return_info=True)`` updates
each query up to ``k`` times and stops a query as soon as an update returns
its input (a fixed point), returning a :class:`fastsdm.ReadInfo` with the
steps taken and whether each query converged -- the contract of
:meth:`fastsdm.SDM.read`.

References
----------
.. [1] J. J. Hopfield, "Neural networks and physical systems with emergent
   collective computational abilities", PNAS 79 (1982) 2554-2558.
.. [2] D. J. Amit, H. Gutfreund and H. Sompolinsky, "Storing infinite numbers
   of patterns in a spin-glass model of neural networks", Phys. Rev. Lett. 55
   (1985) 1530-1533.
.. [3] R. J. McEliece, E. C. Posner, E. R. Rodemich and S. S. Venkatesh, "The
   capacity of the Hopfield associative memory", IEEE Trans. Inf. Theory 33
   (1987) 461-482.
.. [4] H. Ramsauer et al., "Hopfield networks is all you need", ICLR 2021,
   arXiv:2008.02217.
.. [5] T. Bricken and C. Pehlevan, "Attention approximates sparse distributed
   memory", NeurIPS 2021, arXiv:2111.05498.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import numpy.typing as npt

from ._core import ReadInfo, iterate, moved_at_most, read_bits
from ._jit import use_parallel
from ._kernels import hopfield as _k
from ._layout import bits_from_words, words_from_bytes
from ._locking import RWLock, exclusive, serialised_parameters, set_checked, shared
from ._params import attribute_fingerprint, seed_entropy
from ._validation import (
    as_array,
    as_words,
    check_beta,
    check_choice,
    check_flag,
    check_int,
    check_real,
    describe,
    n_words,
    real_array,
)
from .bits import pack_bits
from .search import distance_rows, hamming_distances

__all__ = [
    "AMIT_CAPACITY_RATIO",
    "Hopfield",
    "ModernHopfield",
    "classical_capacity",
    "from_bipolar",
    "modern_retrieve",
    "to_bipolar",
]

UPDATES = ("asynchronous", "synchronous")
TIES = ("keep", "one", "zero")
_TIE_CODES = {"keep": _k.TIE_KEEP, "one": _k.TIE_ONE, "zero": _k.TIE_ZERO}
CAPACITY_CRITERIA = ("retrieval", "fixed_point", "all_fixed_points")

#: Critical load ``m / n`` of the classical Hopfield network (Amit, Gutfreund
#: and Sompolinsky 1985): below it, stored patterns are attractors up to about
#: 1.6 % wrong bits; above it, retrieval collapses.
AMIT_CAPACITY_RATIO = 0.138

#: Bytes of each temporary (bipolar rows, fields, softmax weights) of one
#: call: queries and patterns are processed in blocks of this size.
BLOCK_BYTES = 32 << 20

_INT32_MAX = int(np.iinfo(np.int32).max)
_EPS = np.finfo(np.float64).eps


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def _bipolar(words: np.ndarray, n_bits: int, dtype=np.int8) -> np.ndarray:
    """Bipolar rows (+1 for bit 1, -1 for bit 0) of validated packed ``words`` (2-D)."""
    return _signs(bits_from_words(words, n_bits), dtype)


def _signs(bits: np.ndarray, dtype) -> np.ndarray:
    """Bipolar rows of 0/1 ``bits`` (``uint8``), as ``dtype``."""
    out = bits.astype(dtype)
    out *= 2
    out -= 1
    return out


def _pack(bits: np.ndarray, n_bits: int) -> np.ndarray:
    """Packed words of 2-D boolean rows of ``n_bits`` (no checks: the caller's own)."""
    packed = np.packbits(bits, axis=-1)
    if n_bits % 64:
        return words_from_bytes(packed)
    return packed.view("<u8").astype(np.uint64, copy=False)


def _rows_per_block(row_bytes: int) -> int:
    return max(1, BLOCK_BYTES // max(1, row_bytes))


def _threshold(sums: np.ndarray, tol, tie: str, query_words: np.ndarray,
               n_bits: int, query_bits: np.ndarray | None = None) -> np.ndarray:
    """Packed bits of ``sums > tol``; ``|sums| <= tol`` follows the tie policy.

    ``query_bits``: the 0/1 rows of ``query_words``, if the caller has them.
    """
    if tie == "one":  # sums > tol, or |sums| <= tol: sums >= -tol (tol >= 0)
        return _pack(sums >= -tol, n_bits)
    bits = sums > tol
    if tie == "keep":
        ties = sums == 0 if tol == 0 else np.abs(sums) <= tol
        if ties.any():
            if query_bits is None:
                query_bits = bits_from_words(query_words, n_bits)
            ties &= query_bits.view(np.bool_)
            bits |= ties
    return _pack(bits, n_bits)


def _finish(current: np.ndarray, single: bool, form, n_bits: int, steps, converged,
            return_info: bool):
    """Back to the caller's representation (as :meth:`fastsdm.SDM.read`)."""
    if form is not None:  # a fastsdm._validation.Bits: the input was not packed words
        result = form.restore(current, n_bits)
    else:
        result = current[0] if single else current
    return (result, ReadInfo(steps, converged)) if return_info else result


def _softmax_from_distances(h: np.ndarray, beta: float) -> np.ndarray:
    """Rows of ``softmax(β (n − 2h))`` for Hamming distances ``h`` (stable)."""
    # β (n − 2h) − max = −2β (h − min h) <= 0.  Scale by −β first, then by 2:
    # −2β itself overflows to −inf for β > DBL_MAX / 2, and −inf · 0 would make
    # the best entries NaN; −β · 0 is −0, and any overflow is −inf (weight 0).
    shifted = (h - h.min(axis=1, keepdims=True)).astype(np.float64)
    with np.errstate(over="ignore"):
        shifted *= -beta
        shifted *= 2.0
    weights = np.exp(shifted)
    weights /= weights.sum(axis=1, keepdims=True)  # >= 1 term equal to 1
    return weights


def to_bipolar(x, n_bits: int) -> np.ndarray:
    """Bipolar ``int8`` rows (+1 for bit 1, -1 for bit 0) of packed words or 0/1 rows.

    Parameters
    ----------
    x : ndarray, shape (W,) / (n_bits,) or (m, W) / (m, n_bits)
        Packed ``uint64`` words or 0/1 bits.
    n_bits : int

    Returns
    -------
    ndarray of int8, shape (n_bits,) or (m, n_bits)

    See Also
    --------
    from_bipolar : The inverse.

    Examples
    --------
    >>> from fastsdm.hopfield import to_bipolar
    >>> to_bipolar([1, 0, 1], 3)
    array([ 1, -1,  1], dtype=int8)
    """
    n_bits = check_int(n_bits, "n_bits", 1)
    words, single, _ = as_words(x, "x", n_bits)
    out = _bipolar(words, n_bits)
    return out[0] if single else out


def from_bipolar(x) -> np.ndarray:
    """Packed words of bipolar rows: +1 becomes bit 1, -1 bit 0.

    Parameters
    ----------
    x : array_like of -1/+1, shape (..., n)
        Integers or floats; every value must be exactly -1 or +1 (a zero has
        no sign: decide it first, e.g. ``np.where(x > 0, 1, -1)``).

    Returns
    -------
    ndarray of uint64, shape (..., ceil(n / 64))
        For any memory's ``write`` or ``read``; ``unpack_bits`` gives 0/1 rows.

    Raises
    ------
    TypeError
        If ``x`` is not numeric.
    ValueError
        If a value is not -1 or +1.

    Examples
    --------
    >>> import fastsdm
    >>> from fastsdm.hopfield import from_bipolar
    >>> fastsdm.unpack_bits(from_bipolar([1, -1, -1, 1]), 4)
    array([1, 0, 0, 1], dtype=uint8)
    """
    array = as_array(x, "x")
    if array.dtype.kind not in "iuf":
        raise TypeError(f"x must be numeric -1/+1 values, got {describe(array)}")
    if array.size and not np.isin(array, (-1, 1)).all():
        bad = array[~np.isin(array, (-1, 1))].flat[0]
        raise ValueError(f"x must hold only -1 and +1 (bipolar states), got {bad!r}; map "
                         "0/1 bits with 2 * bits - 1, or decide zeros with np.where(x > 0, 1, -1)")
    return pack_bits(array > 0)


def _read_only_view(array: np.ndarray) -> np.ndarray:
    # What a stored array's property returns: the caller sees the data but
    # cannot change it behind the network's float caches.
    view = array.view()
    view.flags.writeable = False
    return view


# ---------------------------------------------------------------------------
# Classical Hopfield network
# ---------------------------------------------------------------------------


#: The public settings each network re-checks when one changed since its last call.
_HOPFIELD_SETTINGS = ("n_bits", "update", "ties", "kappa")
_MODERN_SETTINGS = ("n_bits", "beta", "ties")


@serialised_parameters(*_HOPFIELD_SETTINGS)
class Hopfield:
    """The classical Hopfield network over binary vectors.

    ``n_bits`` units with symmetric integer weights ``W`` and a zero
    diagonal.  Writing patterns adds their Hebbian outer products,
    ``W ← W + Σ_μ x_μ x_μᵀ`` with bipolar ``x_μ`` (bit 1 = +1, bit 0 = -1),
    and zeroes the diagonal.  A read sets units to the sign of their local
    field ``h = W s``, all at once (``"synchronous"``) or one at a time in a
    random order (``"asynchronous"``, Hopfield 1982).

    Parameters
    ----------
    n_bits : int
        Number of units ``n`` (>= 1).
    update : {"asynchronous", "synchronous"}
        The default dynamics of :meth:`read`.  One asynchronous read is one
        sweep: every unit is updated once, in a fresh random order, each with
        the fields left by the previous ones.
    ties : {"keep", "one", "zero"}
        The new state of a unit whose local field is exactly 0: unchanged
        (default; the usual convention, which makes asynchronous dynamics
        converge), +1 (bit 1) or -1 (bit 0).
    kappa : int, optional
        Clip every weight to ``[-kappa, kappa]`` after each pattern (as
        torchhd's ``Hopfield(kappa=)``, which clips after each batch).
        Default: no clipping.
    seed : None, int, list of ints or SeedSequence
        Seeds the asynchronous update order.  ``None`` draws fresh entropy,
        recorded in ``seed``, from which the same network can be built
        again.  A child of ``SeedSequence.spawn()`` is recorded as eight
        words of its generated state (as :class:`fastsdm.SDM` does), so
        siblings record different seeds.

    Attributes
    ----------
    weights : ndarray of int32, shape (n_bits, n_bits)
        Symmetric, zero diagonal; a read-only view (change them with
        :meth:`write` and :meth:`clear`).
    n_patterns : int
        Patterns written so far.
    seed : int or list of int
        The entropy of the order generator: ``Hopfield(n_bits, seed=net.seed)``
        updates in the same order.

    Notes
    -----
    **Asynchronous order.** The network owns a generator
    ``np.random.default_rng(seed)``; each sweep of each read draws one
    ``permutation(n_bits)`` from it, shared by all queries of the call (a
    query's result does not depend on the other queries of its batch).  Two
    networks built with the same seed and called the same way give the same
    results, serially or in parallel.

    **Energy.** ``E(s) = −½ sᵀ W s`` (:meth:`energy`).  With a zero diagonal,
    an asynchronous update never increases it, so asynchronous reads reach a
    fixed point; synchronous reads may end in a two-cycle instead (they then
    report ``converged=False``).

    **Exactness.** Weights and fields are integers; the matrix products run
    in BLAS floating point only where every partial sum is an integer below
    ``2**24`` (float32) or ``2**53`` (float64), so they are exact, ties
    included.  Without ``kappa`` the weights are bounded by the number of
    patterns, which must stay below ``2**31``.

    References
    ----------
    J. J. Hopfield, PNAS 79 (1982) 2554-2558.

    Examples
    --------
    >>> import fastsdm
    >>> from fastsdm.hopfield import Hopfield
    >>> net = Hopfield(256, seed=0)
    >>> patterns = fastsdm.random_addresses(10, 256, seed=1)
    >>> net.write(patterns)
    >>> cues = fastsdm.flip_bits(patterns, 256, 40, seed=2)
    >>> out, info = net.read(cues, iterations=10, return_info=True)
    >>> fastsdm.hamming_distances(out, patterns).diagonal()
    array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=int32)
    >>> bool(info.converged.all())
    True
    """

    def __init__(self, n_bits: int, *, update: str = "asynchronous", ties: str = "keep",
                 kappa: int | None = None, seed=None):
        self.n_bits = check_int(n_bits, "n_bits", 1, hint="the number of units, e.g. 256")
        self.update = check_choice(update, "update", UPDATES)
        self.ties = check_choice(ties, "ties", TIES)
        self.kappa = None if kappa is None else check_int(
            kappa, "kappa", 1, _INT32_MAX, hint="the weight bound; omit it for no clipping")
        seq, self.seed = seed_entropy(seed)
        self._rng = np.random.default_rng(seq)
        from ._machine import check_allocation

        check_allocation(f"Hopfield({self.n_bits}) (n_bits**2 int32 weights)",
                         4 * self.n_bits**2, "use fewer units, or fastsdm.SDM or "
                         "ModernHopfield, whose memory grows with the patterns")
        # Written only by write() and clear(): the public `weights` is a
        # read-only view, so the float copies reads keep cannot go stale.
        self._weights = np.zeros((self.n_bits, self.n_bits), dtype=np.int32)
        self.n_patterns = 0
        self._bound = 0  # |W_ij| <= _bound: what the exact float products rely on
        self._float_weights: dict = {}
        self._lock = RWLock()

    @property
    def weights(self) -> np.ndarray:
        """The Hebbian weights, ``int32`` (n_bits, n_bits): a read-only view (change
        them with :meth:`write` and :meth:`clear`)."""
        return _read_only_view(self._weights)

    # Pickling and copying: the lock is per object; the float weights are a cache.
    def __getstate__(self) -> dict:
        # A snapshot under the shared lock: writes change the weights in place
        # and asynchronous reads draw from the generator, so what pickle
        # serialises after this returns must be copies, not the live objects.
        self._lock.acquire_shared()
        try:
            state = self.__dict__.copy()
            state["_weights"] = self._weights.copy()
            state["_rng"] = copy.deepcopy(self._rng)
        finally:
            self._lock.release_shared()
        del state["_lock"]
        state["_float_weights"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        if "weights" in state:  # pickled when the weights were a plain attribute
            state["_weights"] = state.pop("weights")
        state["_float_weights"] = {}
        state.setdefault("_bound", state["n_patterns"])  # pickled before it was kept
        self.__dict__.update(state)
        self._lock = RWLock()

    @property
    def n_data_bits(self) -> int:
        """The width of a read (``n_bits``: the network is autoassociative)."""
        return self.n_bits

    def __repr__(self) -> str:
        kappa = "" if self.kappa is None else f", kappa={self.kappa}"
        return (f"Hopfield(n_bits={self.n_bits}, update='{self.update}', ties='{self.ties}'"
                f"{kappa}, seed={self.seed}, n_patterns={self.n_patterns})")

    # -- writing --------------------------------------------------------------

    @exclusive
    def write(self, patterns, *, parallel: bool | None = None) -> None:
        """Store patterns: add their Hebbian outer products to the weights.

        Parameters
        ----------
        patterns : ndarray, shape (W,) / (n_bits,) or (m, W) / (m, n_bits)
            Packed ``uint64`` words or 0/1 bits.
        parallel : bool, optional
            Force the parallel or serial kernel of clipped learning (``kappa``).

        Raises
        ------
        TypeError, ValueError
            On input that is not ``n_bits`` wide packed words or 0/1 rows.
        OverflowError
            If, without ``kappa``, the number of patterns would reach
            ``2**31`` (the weights are ``int32``).

        Notes
        -----
        ``W ← W + Σ_μ x_μ x_μᵀ`` with bipolar ``x_μ``, then ``W_ii = 0``.  A
        batch equals the same patterns written one at a time, clipping
        included: with ``kappa`` every weight is clipped after each pattern.

        Examples
        --------
        >>> from fastsdm.hopfield import Hopfield
        >>> net = Hopfield(3)
        >>> net.write([[1, 0, 1], [1, 1, 0]])
        >>> net.weights
        array([[ 0,  0,  0],
               [ 0,  0, -2],
               [ 0, -2,  0]], dtype=int32)
        """
        self._check_settings()
        words, _, _ = as_words(patterns, "patterns", self.n_bits)
        m = words.shape[0]
        if self.kappa is None and self.n_patterns + m > _INT32_MAX:
            raise OverflowError(f"{self.n_patterns} + {m} patterns would overflow the int32 "
                                "weights (|W_ij| <= number of patterns); pass kappa= to clip "
                                "the weights, or store fewer patterns")
        n = self.n_bits
        if self.kappa is None:
            # Each chunk's product has entries |G_ij| <= rows <= 2**24: exact in float32.
            step = min(1 << 24, _rows_per_block(4 * n))
            for start in range(0, m, step):
                X = _bipolar(words[start : start + step], n, np.float32)
                # NumPy hands X.T @ X (one buffer) to BLAS's syrk; gemm on a copy was
                # 1.0-2.4x faster here for m < n (n = 256, 1024), syrk up to 2x
                # faster for some m >= n.  Either product is exact.
                self._weights += (X.T @ (X.copy() if X.shape[0] < n else X)).astype(np.int32)
            np.fill_diagonal(self._weights, 0)
        else:
            step = _rows_per_block(n)
            par = use_parallel(m * n * n, parallel)
            run = _k.clipped_hebbian_parallel if par else _k.clipped_hebbian_serial
            for start in range(0, m, step):
                run(self._weights, _bipolar(words[start : start + step], n), self.kappa)
        self.n_patterns += m
        # Each pattern moves a weight by 1, and clipping brings every weight
        # within the kappa it was written with (which may since have changed).
        self._bound += m
        if self.kappa is not None:
            self._bound = min(self._bound, self.kappa)
        self._float_weights.clear()

    @exclusive
    def clear(self) -> None:
        """Forget every pattern (weights to zero)."""
        self._check_settings()
        self._weights[...] = 0
        self.n_patterns = 0
        self._bound = 0
        self._float_weights.clear()

    # -- fields and energy ----------------------------------------------------

    _SETTINGS = _HOPFIELD_SETTINGS

    def _check_settings(self) -> None:
        """The public settings as the constructor checks them, when one changed
        since the last call (a kappa of -3 or 0 made garbage or zero weights, an
        unknown update or tie rule was silently replaced by another)."""
        if attribute_fingerprint(self, self._SETTINGS) == self.__dict__.get("_settings"):
            return
        n = self._weights.shape[0]
        if check_int(self.n_bits, "n_bits", 1) != n:
            raise ValueError(f"Hopfield.n_bits is fixed by its {n} x {n} weights, got "
                             f"{self.n_bits}; build a new network for another width")
        kappa = self.kappa
        if kappa is not None:
            kappa = check_int(kappa, "kappa", 1, _INT32_MAX,
                              hint="the weight bound; None for no clipping")
        # Under the lock (a call's check): set without taking it again.
        set_checked(self, n_bits=n, update=check_choice(self.update, "update", UPDATES),
                    ties=check_choice(self.ties, "ties", TIES), kappa=kappa)
        self._settings = attribute_fingerprint(self, self._SETTINGS)

    def _weight_bound(self) -> int:
        # The weights' own bound, not today's kappa: a kappa assigned after the
        # writes clips nothing already written (it chose float32 for weights
        # beyond 2**24, and fields came out wrong).
        return self._bound

    def _field_dtype(self):
        """The dtype whose products of bipolar rows and weights are exact."""
        bound = (self.n_bits - 1) * self._weight_bound()
        if bound < 1 << 24:
            return np.float32
        if bound < 1 << 53:
            return np.float64
        return np.int64  # never in practice: integer matmul is exact, and slow

    def _fields(self, S: np.ndarray) -> np.ndarray:
        """Exact local fields ``S @ W`` of bipolar rows, as a float or int64 array."""
        dtype = self._field_dtype()
        if dtype is np.int64:
            return S.astype(np.int64) @ self._weights.astype(np.int64)
        Wf = self._float_weights.get(dtype)
        if Wf is None:
            Wf = self._float_weights[dtype] = self._weights.astype(dtype)
        return S.astype(dtype, copy=False) @ Wf

    @shared
    def fields(self, states) -> np.ndarray:
        """Local fields ``h = W s`` (``int64``) of binary states.

        Parameters
        ----------
        states : ndarray, shape (W,) / (n_bits,) or (q, W) / (q, n_bits)
            Packed words or 0/1 bits.

        Returns
        -------
        ndarray of int64, shape (n_bits,) or (q, n_bits)

        Examples
        --------
        >>> from fastsdm.hopfield import Hopfield
        >>> net = Hopfield(3)
        >>> net.write([1, 0, 1])
        >>> net.fields([1, 1, 1])
        array([ 0, -2,  0])
        """
        self._check_settings()
        words, single, _ = as_words(states, "states", self.n_bits)
        out = np.empty((words.shape[0], self.n_bits), dtype=np.int64)
        step = _rows_per_block(8 * self.n_bits)
        for start in range(0, words.shape[0], step):
            S = _bipolar(words[start : start + step], self.n_bits)
            out[start : start + step] = self._fields(S)
        return out[0] if single else out

    @shared
    def energy(self, states) -> np.ndarray:
        """Energy ``E(s) = −½ sᵀ W s`` of binary states (exact ``int64``).

        Parameters
        ----------
        states : ndarray, shape (W,) / (n_bits,) or (q, W) / (q, n_bits)
            Packed words or 0/1 bits.

        Returns
        -------
        int64 or ndarray of int64, shape (q,)

        Examples
        --------
        >>> import fastsdm
        >>> from fastsdm.hopfield import Hopfield
        >>> net = Hopfield(64)
        >>> x = fastsdm.random_addresses(1, 64, seed=0)
        >>> net.write(x)
        >>> int(net.energy(x[0]))  # -(n² - n) / 2 for the one stored pattern
        -2016
        """
        self._check_settings()
        words, single, _ = as_words(states, "states", self.n_bits)
        out = np.empty(words.shape[0], dtype=np.int64)
        step = _rows_per_block(8 * self.n_bits)
        for start in range(0, words.shape[0], step):
            S = _bipolar(words[start : start + step], self.n_bits)
            H = self._fields(S).astype(np.int64)
            # sᵀ W s = 2 Σ_{i<j} s_i W_ij s_j is even: the halving is exact.
            out[start : start + step] = -(np.einsum("ij,ij->i", S.astype(np.int64), H) // 2)
        return out[0] if single else out

    # -- reading --------------------------------------------------------------

    def _read_words(self, words: np.ndarray, parallel=None) -> np.ndarray:
        # One synchronous update (the step of fastsdm._core.read_bits).
        step = _rows_per_block(8 * self.n_bits)
        if words.shape[0] <= step:
            return self._sync_block(words)
        out = np.empty_like(words)
        for start in range(0, words.shape[0], step):
            out[start : start + step] = self._sync_block(words[start : start + step])
        return out

    def _sync_block(self, words: np.ndarray) -> np.ndarray:
        # The bipolar rows are made in the product's dtype (no second
        # conversion), and their bits serve the "keep" ties.
        bits = bits_from_words(words, self.n_bits)
        dtype = self._field_dtype()
        H = self._fields(_signs(bits, np.int8 if dtype is np.int64 else dtype))
        return _threshold(H, 0, self.ties, words, self.n_bits, bits)

    @shared
    def _read_synchronous(self, queries, iterations, return_info, parallel):
        return read_bits(lambda words: self._read_words(words, parallel), queries,
                         n_bits=self.n_bits, n_data_bits=self.n_bits, iterations=iterations,
                         return_info=return_info)

    @exclusive  # draws the sweeps' orders: one read at a time keeps the draws in call order
    def _read_asynchronous(self, queries, iterations, return_info, parallel):
        words, single, form = as_words(queries, "queries", self.n_bits)
        iterations = check_int(iterations, "iterations", 1,
                               hint="the maximum number of sweeps, e.g. iterations=10")
        n, nq = self.n_bits, words.shape[0]
        steps = np.zeros(nq, dtype=np.int64)
        converged = np.zeros(nq, dtype=bool)
        out = np.empty_like(words)
        orders: list[np.ndarray] = []  # sweep t's order, shared by every block
        tie = _TIE_CODES[self.ties]
        step = _rows_per_block(9 * n)  # int8 states + int64 fields
        for start in range(0, nq, step):
            block = words[start : start + step]
            states = _bipolar(block, n)
            fields = np.ascontiguousarray(self._fields(states), dtype=np.int64)
            active = np.arange(block.shape[0])
            for t in range(iterations):
                if t == len(orders):
                    orders.append(self._rng.permutation(n))
                changed = np.zeros(active.size, dtype=bool)
                par = use_parallel(active.size * n * 16, parallel)
                (_k.sweep_parallel if par else _k.sweep_serial)(
                    states, fields, self._weights, active, orders[t], tie, changed)
                steps[start + active] += 1
                converged[start + active[~changed]] = True
                active = active[changed]
                if active.size == 0:
                    break
            out[start : start + step] = _pack(states > 0, n)
        return _finish(out, single, form, n, steps, converged, return_info)

    def read(self, queries, *, iterations: int = 1, return_info: bool = False,
             update: str | None = None, parallel: bool | None = None):
        """Update the queries' states, once or iterating to a fixed point.

        Parameters
        ----------
        queries : ndarray, shape (W,) / (n_bits,) or (q, W) / (q, n_bits)
            Packed ``uint64`` words or 0/1 bits: the initial states.
        iterations : int
            Maximum number of updates (synchronous steps or asynchronous
            sweeps).  Each query stops as soon as an update returns its input.
        return_info : bool
            Also return a :class:`fastsdm.ReadInfo` (steps, converged).
        update : {"asynchronous", "synchronous"}, optional
            Override the network's ``update`` for this call.
        parallel : bool, optional
            Force the parallel or serial asynchronous kernel (synchronous
            updates are BLAS products, threaded by BLAS).

        Returns
        -------
        result : ndarray
            In the representation of ``queries``.
        info : ReadInfo
            Only with ``return_info=True``.

        Examples
        --------
        >>> import fastsdm
        >>> from fastsdm.hopfield import Hopfield
        >>> net = Hopfield(128, seed=0)
        >>> x = fastsdm.random_addresses(3, 128, seed=1)
        >>> net.write(x)
        >>> y, info = net.read(fastsdm.flip_bits(x, 128, 10, seed=2), iterations=5,
        ...                    update="synchronous", return_info=True)
        >>> bool((y == x).all()), info.steps
        (True, array([2, 2, 2]))
        """
        self._check_settings()
        update = self.update if update is None else check_choice(update, "update", UPDATES)
        return_info = check_flag(return_info, "return_info")
        if update == "synchronous":
            return self._read_synchronous(queries, iterations, return_info, parallel)
        return self._read_asynchronous(queries, iterations, return_info, parallel)


# ---------------------------------------------------------------------------
# Modern (dense) Hopfield network
# ---------------------------------------------------------------------------


@serialised_parameters(*_MODERN_SETTINGS)
class ModernHopfield:
    """The modern Hopfield network of Ramsauer et al. (2020) on binary vectors.

    Stores patterns ``x_μ`` (rows of ``X``) as they are; a read updates a
    bipolar state ``ξ`` to

    .. math:: \\xi \\leftarrow \\operatorname{sign}\\bigl(X^\\top
              \\operatorname{softmax}(\\beta X \\xi)\\bigr),

    Ramsauer et al.'s update followed by the sign, which maps it back to the
    binary states.

    Parameters
    ----------
    n_bits : int
        Pattern length ``n`` (>= 1).
    beta : float
        Inverse temperature on the raw bipolar dot products ``x_μ · ξ``
        (positive, finite).
    ties : {"keep", "one", "zero"}
        The bit read where ``Xᵀ softmax(β X ξ)`` is 0 (within rounding): the
        query's own bit (default), 1 or 0.

    Attributes
    ----------
    patterns : ndarray of uint64, shape (m, ceil(n_bits / 64))
        The stored patterns, packed; a read-only view (change them with
        :meth:`write` and :meth:`clear`).
    beta : float

    Notes
    -----
    **Binary mapping.** Bit 1 is +1 and bit 0 is -1.  For bipolar vectors
    ``x_μ · ξ = n − 2 h_μ`` with ``h_μ`` the Hamming distance, so the weights
    are ``softmax_μ(−2β h_μ)`` (computed from exact integer distances, stably
    for any β) and the update is ``sign(Σ_μ w_μ x_μ)``.  Large β retrieves
    the nearest stored pattern; equidistant nearest patterns split the vote
    and their disagreeing bits are ties.

    **Relation to attention and the SDM.** One update is
    ``sign(softmax_attention(ξ, X, X, beta))`` on the bipolar vectors
    (:func:`fastsdm.attention.softmax_attention`), and the SDM pattern-view
    read with ``beta = β n`` on cosines
    (:func:`fastsdm.attention.sdm_pattern_read`): since ``cos_μ = 1 − 2h_μ/n``,
    ``β_cos = β n``.  An SDM of radius ``d`` thus corresponds to
    ``β ≈ fit_beta(n, d) / n`` (:func:`fastsdm.theory.fit_beta`).

    **Not torchhd's ``modern_hopfield``.** torchhd's function computes, per
    unit, the energy difference of the two states of that unit (the update
    of Demircigil et al. 2017 with β = 1), which leaves each pattern's own
    unit out of its weight; this class computes Ramsauer et al.'s update,
    the one equal to attention.

    Sums within ``2 m ε`` (relative to the total weight 1) of zero count as
    ties, as in :func:`fastsdm.attention.sdm_pattern_read`: exactly balanced
    votes are not decided by rounding noise.

    **Memory.** Reads keep the patterns as float64 ±1 rows (``8 m n`` bytes)
    between calls while those take at most :data:`BLOCK_BYTES`; a write or
    :meth:`clear` drops them.  Larger stores are converted block by block in
    each read.

    References
    ----------
    H. Ramsauer et al., "Hopfield networks is all you need", ICLR 2021,
    arXiv:2008.02217.

    Examples
    --------
    >>> import fastsdm
    >>> from fastsdm.hopfield import ModernHopfield
    >>> net = ModernHopfield(256, beta=1.0)
    >>> patterns = fastsdm.random_addresses(1000, 256, seed=0)
    >>> net.write(patterns)
    >>> cues = fastsdm.flip_bits(patterns[:5], 256, 60, seed=1)
    >>> out = net.read(cues)
    >>> fastsdm.hamming_distances(out, patterns[:5]).diagonal()
    array([0, 0, 0, 0, 0], dtype=int32)
    """

    def __init__(self, n_bits: int, beta: float, *, ties: str = "keep"):
        self.n_bits = check_int(n_bits, "n_bits", 1, hint="the pattern length, e.g. 256")
        self._built_n_bits = self.n_bits
        self.beta = check_beta(beta, example="1.0")
        self.ties = check_choice(ties, "ties", TIES)
        # Replaced only by write() and clear(): the public `patterns` is a
        # read-only view, so the ±1 rows reads keep cannot go stale.
        self._patterns = np.zeros((0, n_words(self.n_bits)), dtype=np.uint64)
        self._signed = None  # float64 ±1 patterns, kept by reads when small (_signed_patterns)
        self._lock = RWLock()

    @property
    def patterns(self) -> np.ndarray:
        """The stored patterns, packed ``uint64`` words (m, W): a read-only view (change
        them with :meth:`write` and :meth:`clear`)."""
        return _read_only_view(self._patterns)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]
        state["_signed"] = None  # a cache: rebuilt by the next read
        return state

    def __setstate__(self, state: dict) -> None:
        if "patterns" in state:  # pickled when the patterns were a plain attribute
            state["_patterns"] = state.pop("patterns")
        self.__dict__.update(state)
        self.__dict__.setdefault("_signed", None)
        self._lock = RWLock()

    @property
    def n_patterns(self) -> int:
        """Patterns stored."""
        return self._patterns.shape[0]

    @property
    def n_data_bits(self) -> int:
        """The width of a read (``n_bits``: the network is autoassociative)."""
        return self.n_bits

    def __repr__(self) -> str:
        return (f"ModernHopfield(n_bits={self.n_bits}, beta={self.beta!r}, ties='{self.ties}', "
                f"n_patterns={self.n_patterns})")

    @exclusive
    def write(self, patterns) -> None:
        """Store patterns (appended to :attr:`patterns`).

        Parameters
        ----------
        patterns : ndarray, shape (W,) / (n_bits,) or (m, W) / (m, n_bits)
            Packed ``uint64`` words or 0/1 bits.

        Examples
        --------
        >>> from fastsdm.hopfield import ModernHopfield
        >>> net = ModernHopfield(8, beta=1.0)
        >>> net.write([[1, 0, 1, 0, 1, 0, 1, 0], [1, 1, 1, 1, 0, 0, 0, 0]])
        >>> net.n_patterns
        2
        """
        self._check_settings()
        words, _, _ = as_words(patterns, "patterns", self.n_bits)
        self._patterns = np.concatenate([self._patterns, words])
        self._signed = None

    @exclusive
    def clear(self) -> None:
        """Forget every pattern."""
        self._check_settings()
        self._patterns = self._patterns[:0].copy()
        self._signed = None

    _SETTINGS = _MODERN_SETTINGS

    def _check_settings(self) -> None:
        """The public settings as the constructor checks them, when one changed
        since the last call (a NaN or negative beta read wrong patterns, a
        narrower n_bits was read against the wider stored ones)."""
        if attribute_fingerprint(self, self._SETTINGS) == self.__dict__.get("_settings"):
            return
        built = self.__dict__.setdefault("_built_n_bits", self.n_bits)
        if check_int(self.n_bits, "n_bits", 1) != built:
            raise ValueError(f"ModernHopfield.n_bits is fixed at {built} when the network is "
                             f"built, got {self.n_bits}; build a new network for another width")
        # Under the lock (a call's check): set without taking it again.
        set_checked(self, n_bits=built, beta=check_beta(self.beta, example="1.0"),
                    ties=check_choice(self.ties, "ties", TIES))
        self._settings = attribute_fingerprint(self, self._SETTINGS)

    def _check_not_empty(self) -> None:
        if self.n_patterns == 0:
            raise ValueError("this ModernHopfield stores no patterns, so its softmax is "
                             "undefined; write(patterns) first")

    @shared
    def weights(self, queries, *, parallel: bool | None = None) -> np.ndarray:
        """The softmax weights ``softmax(β X ξ)`` of binary states over the patterns.

        Parameters
        ----------
        queries : ndarray, shape (W,) / (n_bits,) or (q, W) / (q, n_bits)
            Packed words or 0/1 bits.
        parallel : bool, optional
            Force the parallel or serial Hamming scan.

        Returns
        -------
        ndarray of float64, shape (m,) or (q, m)

        Examples
        --------
        >>> from fastsdm.hopfield import ModernHopfield
        >>> net = ModernHopfield(4, beta=0.5)
        >>> net.write([[1, 1, 1, 1], [0, 0, 0, 0]])
        >>> net.weights([1, 1, 1, 0]).round(4)  # dot products 2 and -2
        array([0.8808, 0.1192])
        """
        self._check_settings()
        self._check_not_empty()
        words, single, _ = as_words(queries, "queries", self.n_bits)
        w = _softmax_from_distances(hamming_distances(words, self._patterns, parallel=parallel),
                                    self.beta)
        return w[0] if single else w

    def _signed_patterns(self) -> np.ndarray | None:
        """The patterns as float64 ±1 rows, kept between reads while they take at most
        ``BLOCK_BYTES`` (None above: reads convert them block by block)."""
        if 8 * self.n_bits * self.n_patterns > BLOCK_BYTES:
            return None
        # Reads share the lock: two may fill the cache at once, with equal arrays.
        signed = self._signed
        if signed is None:
            signed = self._signed = _bipolar(self._patterns, self.n_bits, np.float64)
        return signed

    def _read_words(self, words: np.ndarray, parallel=None) -> np.ndarray:
        self._check_not_empty()
        n, m = self.n_bits, self.n_patterns
        q_step = _rows_per_block(8 * m)
        p_step = _rows_per_block(8 * n)
        signed = self._signed_patterns()
        if words.shape[0] <= q_step:
            return self._read_block(words, signed, p_step, parallel)
        out = np.empty_like(words)
        for start in range(0, words.shape[0], q_step):
            out[start : start + q_step] = self._read_block(words[start : start + q_step],
                                                           signed, p_step, parallel)
        return out

    def _read_block(self, block, signed, p_step, parallel):
        n, m = self.n_bits, self.n_patterns
        # hamming_distances of validated words, without checking them again.
        w = _softmax_from_distances(distance_rows(block, self._patterns, parallel), self.beta)
        if signed is not None:  # p_step >= m: one product, as the loop below would do
            sums = w @ signed
        else:
            sums = np.zeros((block.shape[0], n))
            for p in range(0, m, p_step):
                sums += w[:, p : p + p_step] @ _bipolar(self._patterns[p : p + p_step], n,
                                                        np.float64)
        return _threshold(sums, 2.0 * m * _EPS, self.ties, block, n)

    @shared
    def read(self, queries, *, iterations: int = 1, return_info: bool = False,
             parallel: bool | None = None):
        """Update the queries, once or iterating to a fixed point.

        Parameters
        ----------
        queries : ndarray, shape (W,) / (n_bits,) or (q, W) / (q, n_bits)
            Packed ``uint64`` words or 0/1 bits.
        iterations : int
            Maximum number of updates; each query stops as soon as an update
            returns its input (a fixed point).
        return_info : bool
            Also return a :class:`fastsdm.ReadInfo` (steps, converged).
        parallel : bool, optional
            Force the parallel or serial Hamming scan.

        Returns
        -------
        result : ndarray
            In the representation of ``queries``.
        info : ReadInfo
            Only with ``return_info=True``.

        Raises
        ------
        ValueError
            If no pattern is stored, or on bad queries.

        Examples
        --------
        >>> import fastsdm
        >>> from fastsdm.hopfield import ModernHopfield
        >>> net = ModernHopfield(64, beta=0.2)
        >>> x = fastsdm.random_addresses(20, 64, seed=0)
        >>> net.write(x)
        >>> y, info = net.read(fastsdm.flip_bits(x, 64, 8, seed=1), iterations=5,
        ...                    return_info=True)
        >>> int(fastsdm.hamming_distances(y, x).diagonal().max()), bool(info.converged.all())
        (0, True)
        """
        self._check_settings()
        return read_bits(lambda words: self._read_words(words, parallel), queries,
                         n_bits=self.n_bits, n_data_bits=self.n_bits, iterations=iterations,
                         return_info=return_info)


# ---------------------------------------------------------------------------
# Continuous retrieval (Ramsauer et al.'s update on real vectors)
# ---------------------------------------------------------------------------


def modern_retrieve(queries: npt.ArrayLike, patterns: npt.ArrayLike, beta: float, *,
                    iterations: int = 1, tol: float = 1e-12, return_info: bool = False):
    """Ramsauer et al.'s update ``ξ ← Xᵀ softmax(β X ξ)`` on real vectors.

    Parameters
    ----------
    queries : array_like, shape (d,) or (q, d)
        Initial states ``ξ``.
    patterns : array_like, shape (m, d)
        Stored patterns, one per row (the rows of ``X``).
    beta : float
        Inverse temperature (positive, finite).
    iterations : int
        Maximum number of updates.  Each query stops as soon as an update
        moves it by at most ``tol · max(1, max|X|)`` in every coordinate (a
        fixed point up to rounding).
    tol : float
        Relative tolerance of the fixed-point test (``>= 0``).
    return_info : bool
        Also return a :class:`fastsdm.ReadInfo` (steps, converged).

    Returns
    -------
    result : ndarray of float64, shape (d,) or (q, d)
    info : ReadInfo
        Only with ``return_info=True``.

    Raises
    ------
    TypeError
        If an array is not real-valued or ``beta`` is not a number.
    ValueError
        If a shape is wrong, the widths differ, an array holds NaN/inf,
        ``beta`` or ``tol`` is out of range, or the dot products ``X ξ``
        overflow float64.

    See Also
    --------
    ModernHopfield : The same update on binary states.
    fastsdm.attention.softmax_attention : One update is attention with
        ``K = V = X``.

    Notes
    -----
    The scores ``X ξ`` and the weighted sums are NumPy (BLAS) products; the
    softmax subtracts each row's maximum before multiplying by β, so no β
    overflows.  Ramsauer et al. (2020) show that this update minimises the
    energy ``−lse(β, Xξ) + ½ ξᵀξ + const`` and that, for well separated
    patterns, a single update retrieves the pattern nearest the query.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsdm.hopfield import modern_retrieve
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> modern_retrieve([0.9, 0.2], X, beta=20.0, iterations=10).round(6)
    array([1., 0.])
    """
    return_info = check_flag(return_info, "return_info")
    X = real_array(patterns, "patterns", (2,), "(m, d)", allow_bool=False, nonempty=True,
                   contiguous=False)
    Q = real_array(queries, "queries", (1, 2), "(d,) or (q, d)", allow_bool=False,
                   nonempty=True, contiguous=False)
    if Q.shape[-1] != X.shape[1]:
        raise ValueError(f"queries and patterns must have the same width, got {Q.shape[-1]} and "
                         f"{X.shape[1]}; one pattern per row of shape (m, d)")
    beta = check_beta(beta, example="1.0")
    iterations = check_int(iterations, "iterations", 1,
                           hint="the maximum number of updates, e.g. iterations=10")
    tol = check_real(tol, "tol", 0, hint="the largest change of a coordinate that counts as "
                     "a fixed point, relative to the patterns' largest magnitude")
    single = Q.ndim == 1

    def update(states):
        with np.errstate(over="ignore", invalid="ignore"):  # reported below, with a fix
            scores = states @ X.T
        if not np.isfinite(scores).all():  # else inf − inf: silent NaN weights
            raise ValueError("the dot products X·ξ of the patterns and the queries overflowed "
                             "float64; rescale the queries and patterns (e.g. to unit length; "
                             "β sets the sharpness)")
        with np.errstate(over="ignore"):
            shifted = beta * (scores - scores.max(axis=1, keepdims=True))
        w = np.exp(shifted)
        w /= w.sum(axis=1, keepdims=True)
        return w @ X

    if iterations == 1 and not return_info:  # no fixed-point test to make
        result = update(np.atleast_2d(Q))
        return result[0] if single else result
    limit = tol * max(1.0, float(np.abs(X).max()))
    current, info = iterate(update, np.atleast_2d(Q), iterations, fixed=moved_at_most(limit))
    result = current[0] if single else current
    return (result, info) if return_info else result


# ---------------------------------------------------------------------------
# Capacity of the classical network
# ---------------------------------------------------------------------------


def classical_capacity(n: int, criterion: str = "retrieval") -> float:
    """Published capacity (number of patterns) of a classical Hopfield network.

    Parameters
    ----------
    n : int
        Number of units (``n >= 2``).
    criterion : {"retrieval", "fixed_point", "all_fixed_points"}
        ``"retrieval"``: ``0.138 n`` (Amit, Gutfreund & Sompolinsky 1985), the
        load below which stored patterns are attractors with about 1.6 % of
        their bits wrong.  ``"fixed_point"``: ``n / (2 ln n)`` (McEliece et al.
        1987), the load up to which a given stored pattern is, with
        probability tending to 1, an exact fixed point.
        ``"all_fixed_points"``: ``n / (4 ln n)`` (McEliece et al. 1987), all
        stored patterns exact fixed points at once.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        If ``n`` is not an integer >= 2 or ``criterion`` is unknown.

    Notes
    -----
    All three are large-``n`` results for random unbiased patterns and
    Hebbian weights with a zero diagonal.  ``0.138 n`` counts *approximate*
    retrieval; exact recall of every bit is bounded by the ``ln n`` forms,
    which are much smaller at practical sizes (``n = 256``: 35.3 vs 23.1 and
    11.5).

    Examples
    --------
    >>> from fastsdm.hopfield import classical_capacity
    >>> [round(classical_capacity(1000, c), 1)
    ...  for c in ("retrieval", "fixed_point", "all_fixed_points")]
    [138.0, 72.4, 36.2]
    """
    # Below 2**53: a float holds the count exactly (10**400 overflowed the formula).
    n = check_int(n, "n", 2, 2**53, hint="the number of units")
    criterion = check_choice(criterion, "criterion", CAPACITY_CRITERIA)
    if criterion == "retrieval":
        return AMIT_CAPACITY_RATIO * n
    return n / ((2.0 if criterion == "fixed_point" else 4.0) * math.log(n))
