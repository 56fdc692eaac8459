"""The binary Sparse Distributed Memory (Kanerva 1988).

:class:`SDM` is a thin public class: each method validates its input
(:mod:`fastsdm._params`, :mod:`fastsdm._validation`), takes the memory's lock
(:mod:`fastsdm._locking`) and calls the block operations of the private core
(:class:`fastsdm._core.Locations`) on the memory's arrays; iterated reads run
the core's one loop (:func:`fastsdm._core.read_bits`).  Saving and loading go
through :mod:`fastsdm._persist` and the same validated parameters
(:class:`fastsdm._params.SDMParams`) as the constructor.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from . import _layout, _persist
from ._core import (
    FUSED_BUDGET,  # noqa: F401 (documented as fastsdm.memory.FUSED_BUDGET)
    Locations,
    ReadInfo,
    check_fits,
    read_bits,
    tie_words,
    write_inputs,
)
from ._locking import RWLock, exclusive, serialised_parameters, shared
from ._machine import available_memory as _available_memory
from ._params import (
    SDM_PARAMETERS,
    SDMParams,
    attribute_fingerprint,
    check_counter_dtype,
    check_tie_rng_state,
)
from ._validation import (
    as_words,
    check_int,
    check_state_array,
    check_words,
    n_words,
    owned,
    renamed_keywords,
)

__all__ = ["SDM", "ReadInfo"]

#: Locations whose addresses come from one child seed: a shard of a memory can
#: regenerate any block of addresses without drawing the others (defined in
#: ``fastsdm._layout``, with the rest of the layout).
ADDRESS_BLOCK = _layout.ADDRESS_BLOCK

FORMAT_NAME = "fastsdm.SDM"
FORMAT_VERSION = 1
#: The saved directory (``open_for_writing`` is set while the memory is
#: memory-mapped for writing, see fastsdm._persist).
_KIND = _persist.Kind(FORMAT_NAME, FORMAT_VERSION,
                      required=(*SDMParams.KEYS, "tie_rng_state"),
                      optional=("open_for_writing", *SDMParams.OPTIONAL_KEYS),
                      saver="SDM.save()", state="counters",
                      reseal="fastsdm.SDM.load(path, mmap=True, verify=False).flush()",
                      nullable=("counters",))


def generate_addresses(entropy: int, n_locations: int, n_bits: int, start: int = 0,
                       stop: int | None = None) -> np.ndarray:
    """Addresses ``start:stop`` of the memory seeded with ``entropy``.

    Block ``b`` of :data:`ADDRESS_BLOCK` locations is drawn from the child
    seed ``SeedSequence(entropy, spawn_key=(0, b))``, so any range can be
    generated alone and every range agrees with the whole.
    """
    from .bits import random_addresses

    stop = n_locations if stop is None else stop
    out = np.empty((stop - start, n_words(n_bits)), dtype=np.uint64)
    for block in range(start // ADDRESS_BLOCK, -(-stop // ADDRESS_BLOCK)):
        b0 = block * ADDRESS_BLOCK
        b1 = min(n_locations, b0 + ADDRESS_BLOCK)
        words = random_addresses(b1 - b0, n_bits,
                                 np.random.SeedSequence(entropy, spawn_key=(0, block)))
        lo, hi = max(start, b0), min(stop, b1)
        out[lo - start : hi - start] = words[lo - b0 : hi - b0]
    return out


@serialised_parameters(*SDM_PARAMETERS)
class SDM:
    """Kanerva's Sparse Distributed Memory over binary vectors.

    ``N`` hard locations each have a fixed random ``n_bits`` address and
    ``n_value_bits`` signed counters.  A location is *activated* by a vector
    when its address lies within Hamming distance ``radius`` (inclusive), or,
    with ``k_nearest``, when it is among the ``k`` nearest addresses, or,
    with Jaeckel's rule (``activation="hyperplane"``), when the vector agrees
    with the location on each of the ``selected`` coordinates it selects.
    Writing value ``w`` at key ``x`` adds ``+weight`` to counter ``j`` of
    every activated location where ``w_j = 1`` and ``-weight`` where
    ``w_j = 0``, saturating at the counter dtype's limits.  Reading at ``x``
    sums the counters of the activated locations and thresholds at zero.

    Parameters
    ----------
    n_bits : int
        Address length ``n`` (>= 1).
    n_locations : int, optional
        Number of hard locations ``N``; inferred from ``addresses`` if given.
    radius : int, optional
        Activation radius ``d`` in ``[0, n_bits]``.  Give exactly one of
        ``radius``, ``activation_probability`` and ``k_nearest``.
    activation_probability : float, optional
        Converted to a radius with the paper's convention: the smallest ``d``
        with ``P(Binomial(n, 1/2) <= d) >= p``.  With the hyperplane rule,
        to ``selected = round(-log2 p)`` (the ``2**-k`` nearest ``p`` on a
        log scale, ties to the smaller ``k``:
        :func:`fastsdm.theory.hyperplane_k_for_probability`).
    k_nearest : int, optional
        Activate the ``k`` nearest locations instead (ties by lower index).
    n_value_bits : int, optional
        Width of the stored values (default ``n_bits``: autoassociative
        use).  ``n_data_bits=`` is its older spelling, still accepted.
    counter_dtype : {"int16", "int8", "int32"}
        Counter width; counters saturate at its limits, never wrap.
    kappa : int, optional
        Keep every counter within ``[-kappa, kappa]`` (symmetric clipping,
        torchhd's ``kappa``), ``1 <= kappa <=`` the counter dtype's maximum.
        Default ``None``: counters saturate at the dtype's bounds, which
        are asymmetric (int8: -128 and 127).  See :doc:`/guide/weighted`.
    ties : {"random", "zero", "one", "keep"}
        The bit read where the counter sum is exactly zero: random (Kanerva;
        drawn from the memory's seeded generator), 0, 1, or the query's own
        bit ("keep", autoassociative memories only).
    seed : None, int, list of ints or SeedSequence
        Seeds the addresses and the tie generator.  ``None`` draws fresh
        entropy, recorded in ``seed`` so the memory can be rebuilt.  A
        child of ``SeedSequence.spawn()`` is recorded as eight words of its
        generated state, so independent replicates seeded from one parent's
        children differ.
    addresses : ndarray of uint64, shape (N, W), optional
        Use these addresses instead of random ones (the memory keeps a copy).
    activation : {"radius", "k_nearest", "hyperplane"}, optional
        The activation rule; by default the one the other arguments name
        (``selected`` or ``design`` imply "hyperplane").
    selected : int, optional
        Hyperplane rule: the number ``k`` of coordinates each location
        selects, in ``[0, n_bits]``; a random address activates a location
        with probability ``2**-k``.
    required : {"random", "ones"}, optional
        Hyperplane rule: the values a generated design requires on the
        selected coordinates, random bits (default) or all 1 (Jaeckel's
        hyperplane design, for sparse addresses).
    design : (masks, values), optional
        Hyperplane rule: an explicit design, two packed ``uint64`` arrays of
        shape (N, W): the selected coordinates (the same number per
        location) and the values required on them (bits outside ``masks``
        are ignored).  Without it the design is drawn from ``seed`` by
        blocks of locations, as addresses are.

    Attributes
    ----------
    addresses : ndarray of uint64, shape (N, ceil(n_bits / 64)), or None
        None with the hyperplane rule.  A read-only view: assign a new array
        to change them (it is checked and copied), except in a memory
        loaded with ``mmap=True``, whose :meth:`flush` writes only the
        counters.
    design : Design (masks, values), or None
        The hyperplane rule's design (None with the other rules).  Its
        arrays are read-only views: assign new ones (checked at the next
        activation), except in a memory loaded with ``mmap=True``.
    activation : str
        "radius", "k_nearest" or "hyperplane".
    selected, required : int and str, or None
        The hyperplane rule's ``k`` and how its values were chosen
        ("random", "ones" or "given").
    counters : ndarray, shape (N, n_value_bits)
    n_data_bits : int
        The values' width (``n_value_bits`` is the same number).
    kappa : int or None
        The clipping bound of the counters (``None``: the dtype's bounds).
    seed : int
        The entropy that generated the addresses (or design) and the tie
        stream.

    Notes
    -----
    Memory use is ``N * (8 * ceil(n / 64) + n_data * itemsize)`` bytes:
    1.05 GiB for Kanerva's canonical memory (n = 1000, N = 10**6) with int8
    counters; the hyperplane rule holds two packed rows per location and its
    ``int32`` keys (``4 k`` bytes) instead of one address.  The constructor
    refuses a memory that does not fit in the available RAM; :meth:`load`
    with ``mmap=True`` serves larger ones from disk.

    References
    ----------
    P. Kanerva, *Sparse Distributed Memory*, MIT Press, 1988.

    Examples
    --------
    >>> import fastsdm
    >>> mem = fastsdm.SDM(n_bits=256, n_locations=20_000, radius=112, seed=0)
    >>> patterns = fastsdm.random_addresses(50, 256, seed=1)
    >>> mem.write(patterns)
    >>> cue = fastsdm.flip_bits(patterns, 256, 20, seed=2)
    >>> recalled = mem.read(cue, iterations=10)
    >>> int(fastsdm.hamming_distances(recalled, patterns).diagonal().max())
    0

    Jaeckel's selected-coordinate rule at Kanerva's activation probability
    (``k = 10`` coordinates per location: ``2**-10`` of the locations):

    >>> mem = fastsdm.SDM(1000, 20_000, activation="hyperplane",
    ...                   activation_probability=0.001, seed=0)
    >>> mem.selected, mem.design.masks.shape
    (10, (20000, 16))
    >>> mem.write(fastsdm.random_addresses(10, 1000, seed=1))
    >>> indptr, _ = mem.activate(fastsdm.random_addresses(100, 1000, seed=2))
    >>> float(indptr[-1] / 100)  # about 20_000 / 1024 = 19.5
    19.49
    """

    @renamed_keywords(n_data_bits="n_value_bits")
    def __init__(self, n_bits: int, n_locations: int | None = None, radius: int | None = None, *,
                 activation_probability: float | None = None, k_nearest: int | None = None,
                 n_value_bits: int | None = None, counter_dtype="int16", ties: str = "random",
                 kappa: int | None = None, seed=None, addresses=None,
                 activation: str | None = None,
                 selected: int | None = None, required: str | None = None, design=None):
        n_bits = check_int(n_bits, "n_bits", 1)
        if n_locations is not None:  # checked before it is compared with addresses or design
            n_locations = check_int(n_locations, "n_locations", 0)
        if design is not None:
            from ._hyperplane import sdm_design

            if activation not in (None, "hyperplane") or addresses is not None:
                raise ValueError("design= is the hyperplane rule's locations: it goes with "
                                 "activation='hyperplane' and without addresses=")
            design, n_locations, selected, required = sdm_design(
                n_bits, n_locations, selected, required, design, None)
        elif required == "given":
            raise ValueError("required='given' names an explicit design: pass design=(masks, "
                             "values), or required='random' or 'ones' for a generated one")
        if addresses is not None:
            # Owned: a caller reusing its buffer must not move the locations
            # (or set pad bits unchecked).
            addresses = owned(check_words(addresses, "addresses", n_bits, ndim=(2,)), addresses)
            if n_locations is not None and n_locations != addresses.shape[0]:
                raise ValueError(f"n_locations={n_locations} does not match the "
                                 f"{addresses.shape[0]} addresses given; omit n_locations")
            n_locations = addresses.shape[0]
        params = SDMParams.create(
            n_bits, n_locations, radius, activation_probability=activation_probability,
            k_nearest=k_nearest, n_data_bits=n_value_bits, counter_dtype=counter_dtype,
            ties=ties, seed=seed, activation=activation, selected=selected, required=required,
            kappa=kappa)
        if params.selected is not None and addresses is not None:
            raise ValueError("addresses= belongs to the radius and k_nearest rules; a "
                             "hyperplane memory takes an explicit design=(masks, values)")
        counter_bytes = params.n_locations * params.n_data_bits * np.dtype(
            params.counter_dtype).itemsize
        need = self.estimate_nbytes(params.n_bits, params.n_locations, params.n_data_bits,
                                    params.counter_dtype)
        if params.selected is not None:
            # Masks and values instead of addresses, and the int32 keys.
            need += params.n_locations * (8 * n_words(params.n_bits) + 4 * params.selected)
        int8 = params.counter_dtype != "int8"
        check_fits("SDM", need, _available_memory(), "counters", counter_bytes,
                   params.counter_dtype, params.n_locations,
                   smaller="counter_dtype='int8'" if int8 else None,
                   smaller_need=need - counter_bytes + counter_bytes // np.dtype(
                       params.counter_dtype).itemsize if int8 else None)
        if params.selected is not None:
            if design is None:
                from ._hyperplane import Design, generate_design

                design = Design(*generate_design(params.seed, params.n_locations, params.n_bits,
                                                 params.selected, required=params.required),
                                checked=True)
        elif addresses is None:
            addresses = generate_addresses(params.seed, params.n_locations, params.n_bits)
        counters = np.zeros((params.n_locations, params.n_data_bits), dtype=params.counter_dtype)
        tie_rng = np.random.default_rng(np.random.SeedSequence(params.seed, spawn_key=(1,)))
        self._build(params, addresses, counters, tie_rng, None, design)

    def _build(self, params: SDMParams, addresses, counters, tie_rng, mapped,
               design=None) -> None:
        """Set the memory's state: the one place the constructor and :meth:`load` do it.

        ``params`` are validated, the arrays checked against them; ``mapped``
        is where :meth:`flush` writes (``load(mmap=True)``) or None;
        ``design`` the hyperplane rule's locations (else None).
        """
        params.assign(self)
        self.seed = params.seed
        self._design = design
        self.counters = counters
        self._tie_rng = tie_rng
        self._lock = RWLock()
        self._mapped = mapped
        self._set_addresses(addresses)
        if mapped is not None and design is not None:
            design.freeze()

    def _set_addresses(self, addresses) -> None:
        # The memory's own array, shown as a read-only view: every new address
        # goes through the setter's checks (pad bits set in place made
        # distances exceed n_bits, and a distance-weight table was read past
        # its end).  The kernels take the writable array: a read-only one
        # would compile them again.
        self._addresses = addresses
        self._addresses_view = addresses
        if isinstance(addresses, np.ndarray):
            self._addresses_view = addresses.view()
            self._addresses_view.flags.writeable = False

    @property
    def addresses(self):
        """The hard locations' addresses (None with the hyperplane rule): a read-only view.

        Assigning an array of the same layout (C-contiguous ``uint64`` of
        shape ``(N, ceil(n_bits / 64))``, pad bits zero) replaces them; the
        array is checked and copied.  Not in a memory loaded with
        ``mmap=True``: its :meth:`flush` writes only the counters, so the
        directory would pair its old addresses with counters written
        through new ones.

        Examples
        --------
        >>> import fastsdm
        >>> mem = fastsdm.SDM(64, 4, radius=20, seed=0)
        >>> new = mem.addresses.copy()
        >>> new[0] = 0
        >>> mem.addresses = new
        >>> int(mem.addresses[0, 0])
        0
        """
        return self._addresses_view

    @property
    def design(self):
        """The hyperplane rule's design (None with the other rules).

        Its arrays may be replaced (``mem.design.masks = new``: checked at the
        next activation), or the whole design.  Not in a memory loaded with
        ``mmap=True``, whose :meth:`flush` writes only the counters.
        """
        return self._design

    @design.setter
    @exclusive
    def design(self, value) -> None:
        _persist.refuse_if_mapped(self._mapped, "design", "counters")
        if self._design is None:
            raise ValueError(f"this memory activates by {self.activation}, not through a "
                             "hyperplane design; build one with activation='hyperplane'")
        from ._hyperplane import Design

        if not isinstance(value, Design):
            raise TypeError(f"SDM.design must be a Design (another hyperplane memory's "
                            f"mem.design), got {type(value).__name__}; or assign its arrays: "
                            "mem.design.masks = ..., mem.design.values = ...")
        # A design of this memory's own (lock, keys, checks): its arrays, never
        # written in place, may be shared; they are checked at the next activation.
        masks, values = value.arrays()
        self._design = Design(masks, values)

    @addresses.setter
    @exclusive
    def addresses(self, value) -> None:
        _persist.refuse_if_mapped(self._mapped, "addresses", "counters")
        if self._design is not None:
            raise ValueError("this memory activates through its hyperplane design and has no "
                             "addresses; build one with radius= or k_nearest= to use them")
        check_state_array(value, "SDM.addresses", (self.n_locations, self.n_words), np.uint64,
                          fix="assign an array of that layout")
        check_words(value, "SDM.addresses", self.n_bits)  # pad bits: distances rely on them
        self._set_addresses(np.array(value, copy=True))  # the caller's may change later

    @classmethod
    def _from_parts(cls, params: SDMParams, addresses, counters, tie_rng, mapped,
                    design=None) -> SDM:
        mem = cls.__new__(cls)  # the arguments are checked: skip the constructor's checks
        mem._build(params, addresses, counters, tie_rng, mapped, design)
        return mem

    def _params(self) -> SDMParams:
        return SDMParams.of(self)

    def _locations(self) -> Locations:
        """The locations every operation works on, the memory's state checked.

        The parameters are public attributes: one changed since the last
        call (``mem.k_nearest = 1000`` with 4 locations activated one
        location 997 times; ``mem.radius = -5`` nothing at all) is checked
        as the constructor checks it, and refused with its message.
        """
        if attribute_fingerprint(self, SDM_PARAMETERS) != self.__dict__.get("_checked_params"):
            params = self._params()
            if self.activation != params.activation:
                raise ValueError(f"activation={self.activation!r} does not match this memory's "
                                 f"rule ({params.activation!r}); the rule is fixed when the "
                                 "memory is built: build a new one for another")
            params.assign(self)  # the constructor's types ("int16" -> dtype('int16'))
            # What the arrays were checked against may have changed (n_bits,
            # selected, required): check them again.
            if self._design is None:
                check_words(self._addresses, "SDM.addresses", self.n_bits)
            else:
                self._design.recheck()
            self._checked_params = attribute_fingerprint(self, SDM_PARAMETERS)
        return Locations.of(self)

    # Pickling and copying: the lock is per object; a copy of a memory-mapped
    # memory holds its counters in RAM and is not tied to the files.
    # The counters are copied under the lock: pickle serialises the state after
    # __getstate__ returns, when a concurrent write could tear it.
    def __getstate__(self) -> dict:
        self._lock.acquire_shared()
        try:
            state = self.__dict__.copy()
            state["counters"] = np.array(state["counters"])
        finally:
            self._lock.release_shared()
        for derived in ("_lock", "_addresses_view", "_checked_params"):
            state.pop(derived, None)
        state["addresses"] = state.pop("_addresses")  # the keys of earlier pickles
        state["design"] = state.pop("_design")
        state["_mapped"] = None
        return state

    def __copy__(self) -> SDM:
        # A shallow copy would share the tie generator (reads of the copy
        # would change the original's next ties), the addresses and the
        # design: every copy is a memory of its own, as pickle and deepcopy give.
        return copy.deepcopy(self)

    def __setstate__(self, state: dict) -> None:
        # Pickles of memories from before the hyperplane rule and kappa lack their fields.
        defaults = {"design": None, "selected": None, "required": None, "kappa": None,
                    "activation": "k_nearest" if state.get("k_nearest") else "radius"}
        state = {**defaults, **state}
        addresses = state.pop("addresses")
        state["_design"] = state.pop("design")
        self.__dict__.update(state)
        self._set_addresses(addresses)
        self._lock = RWLock()

    # -- construction helpers -------------------------------------------------

    @property
    def n_words(self) -> int:
        """Words per address, ``ceil(n_bits / 64)``."""
        return n_words(self.n_bits)

    @property
    def n_value_bits(self) -> int:
        """Width of the stored values (the same number as ``n_data_bits``)."""
        return self.n_data_bits

    @staticmethod
    @renamed_keywords(n_data_bits="n_value_bits")
    def estimate_nbytes(n_bits: int, n_locations: int, n_value_bits: int | None = None,
                        counter_dtype="int16") -> int:
        """Bytes of addresses plus counters for a memory of this shape.

        ``n_data_bits=`` is the older spelling of ``n_value_bits``.

        Examples
        --------
        >>> import fastsdm
        >>> fastsdm.SDM.estimate_nbytes(1000, 10**6, counter_dtype="int8") / 2**30
        1.0505...
        """
        n_bits = check_int(n_bits, "n_bits", 1)
        n_locations = check_int(n_locations, "n_locations", 0)
        n_data = n_bits if n_value_bits is None else check_int(n_value_bits, "n_value_bits", 1)
        itemsize = np.dtype(check_counter_dtype(counter_dtype)).itemsize
        return n_locations * (8 * n_words(n_bits) + n_data * itemsize)

    @property
    def nbytes(self) -> int:
        """Bytes held by addresses (or a hyperplane design) and counters."""
        where = self.addresses if self.design is None else self.design.masks
        return where.nbytes * (1 if self.design is None else 2) + self.counters.nbytes

    def __repr__(self) -> str:
        act = (f"radius={self.radius}" if self.activation == "radius"
               else f"k_nearest={self.k_nearest}" if self.activation == "k_nearest"
               else f"activation='hyperplane', selected={self.selected}, "
                    f"required='{self.required}'")
        data = "" if self.n_data_bits == self.n_bits else f", n_value_bits={self.n_data_bits}"
        kappa = "" if self.kappa is None else f", kappa={self.kappa}"
        return (f"SDM(n_bits={self.n_bits}, n_locations={self.n_locations}, {act}{data}, "
                f"counter_dtype='{self.counter_dtype}', ties='{self.ties}'{kappa}, "
                f"seed={self.seed})")

    # -- activation -----------------------------------------------------------

    @shared
    def activate(self, queries, *, parallel: bool | None = None):
        """Locations activated by each query, as CSR.

        Parameters
        ----------
        queries : ndarray, shape (W,) / (n_bits,) or (q, W) / (q, n_bits)
            Packed ``uint64`` words or 0/1 bits.
        parallel : bool, optional
            Force the parallel or serial kernels.

        Returns
        -------
        indptr : ndarray of int64, shape (q + 1,)
        indices : ndarray of int64
            Activated locations of query ``i``, ascending:
            ``indices[indptr[i]:indptr[i + 1]]``.

        Examples
        --------
        >>> import fastsdm
        >>> mem = fastsdm.SDM(64, 1000, k_nearest=5, seed=0)
        >>> indptr, indices = mem.activate(mem.addresses[:2])
        >>> indptr
        array([ 0,  5, 10])
        """
        words, _, _ = as_words(queries, "queries", self.n_bits)
        return self._locations().activate(words, parallel)

    # -- write ----------------------------------------------------------------

    @renamed_keywords(addresses="keys", data="values")
    @exclusive
    def write(self, keys, values=None, *, weight: int = 1, distance_weights=None,
              parallel: bool | None = None):
        """Store values at keys (a batch at once).

        Parameters
        ----------
        keys : ndarray, shape (W,) / (n_bits,) or (m, W) / (m, n_bits)
            Packed ``uint64`` words or 0/1 bits: where to write.
            ``addresses=`` is its older spelling, still accepted.
        values : ndarray, optional
            What to store, one row per key, ``n_value_bits`` wide, packed or
            0/1.  ``None`` stores the keys themselves (autoassociative).
            ``data=`` is its older spelling, still accepted.
        weight : int
            Added to counters where the value bit is 1 and subtracted where it
            is 0 (negative weights erase).  Counters saturate (and are clipped
            at ``kappa`` if the memory has one).
        distance_weights : array_like of int, optional
            A weight per Hamming distance (PyPI ``sdm``'s weight table): a
            location at distance ``h`` from the write address gets
            ``weight * distance_weights[h]`` instead of ``weight``.  Length
            ``radius + 1`` or ``n_bits + 1`` (``n_bits + 1`` for k-nearest
            memories).  A zero entry leaves those locations unchanged, a
            negative one subtracts (erases), as a negative ``weight`` does.
            Every ``|weight * distance_weights[h]|`` must be below ``2**31``.
            Not for the hyperplane rule (it has no distances).
            See :doc:`/guide/weighted`.
        parallel : bool, optional
            Force the parallel or serial kernels.

        Notes
        -----
        A batch equals the same writes made one at a time, in order,
        saturation included: threads own disjoint ranges of locations and
        apply the batch in order to their rows.

        Examples
        --------
        >>> import fastsdm
        >>> mem = fastsdm.SDM(64, 1000, radius=24, counter_dtype="int8", seed=0)
        >>> x = mem.addresses[0]
        >>> for _ in range(300):
        ...     mem.write(x)
        >>> int(mem.counters[0].max()), int(mem.counters[0].min())
        (127, -128)

        Weights by distance: locations at distance 0 get 3, the others 1.

        >>> mem = fastsdm.SDM(64, 1000, radius=24, seed=0)
        >>> table = [3] + [1] * 24
        >>> mem.write(mem.addresses[0], distance_weights=table)
        >>> sorted(set(abs(mem.counters).max(axis=1).tolist()))
        [0, 1, 3]
        """
        self._check_writable()
        words, data_words, weight = write_inputs(self.n_bits, self.n_data_bits, keys, values,
                                                 weight)
        if distance_weights is not None or self.kappa is not None:
            from . import _weights  # compiles its kernels only when used

            _weights.write(self._locations(), self.kappa, words, data_words, weight,
                           distance_weights, parallel)
            return
        self._locations().write(words, data_words, weight, parallel)

    # -- read -----------------------------------------------------------------

    def _tie_words(self, words):
        return tie_words(self.ties, self.n_data_bits, self._tie_rng, words)

    @shared
    def read(self, queries, *, iterations: int = 1, return_info: bool = False, z=None,
             parallel: bool | None = None):
        """Read the memory at the queries, once or iterating to a fixed point.

        Parameters
        ----------
        queries : ndarray, shape (W,) / (n_bits,) or (q, W) / (q, n_bits)
            Packed ``uint64`` words, ``np.packbits`` ``uint8`` bytes or 0/1
            (or bool) bits.
        iterations : int
            Maximum number of reads.  With ``iterations > 1`` (autoassociative
            memories only) each result is read again, and each query stops as
            soon as a read returns its input (a fixed point).
        return_info : bool
            Also return a :class:`ReadInfo` with the steps taken and whether
            each query converged.
        z : float, optional
            Sum ``sign(c) * |c| ** z`` over the activated counters ``c``
            (PyPI ``sdm``'s generic read) instead of ``c``, in float64, added
            in ascending location order; ``z > 0``, and small enough that the
            sums cannot overflow (``N * max|c| ** z < 2**1023``: z < 143 for
            int8 counters in a million locations).  ``None`` or 1: the plain
            read.  Sums of exactly 0 are ties, as in the plain read.
        parallel : bool, optional
            Force the parallel or serial kernels.

        Returns
        -------
        result : ndarray
            In the representation of ``queries``: packed words in, packed
            words out; bytes in, bytes out; 0/1 rows in, 0/1 rows (same
            dtype) out.
        info : ReadInfo
            Only with ``return_info=True``.

        Notes
        -----
        Tie bits (``ties="random"``) are drawn once per read of the queries
        still moving, from the memory's own generator.

        Examples
        --------
        >>> import fastsdm
        >>> mem = fastsdm.SDM(64, 2000, radius=24, seed=0)
        >>> x = fastsdm.random_addresses(1, 64, seed=1)
        >>> mem.write(x)
        >>> y, info = mem.read(fastsdm.flip_bits(x, 64, 4, seed=2), iterations=5,
        ...                    return_info=True)
        >>> bool((y == x).all()), info.converged
        (True, array([ True]))

        A z read weighs large counters more (z > 1) or less (z < 1):

        >>> bool((mem.read(x, z=0.5) == x).all())
        True
        """
        locations = self._locations()
        z = _check_z(z, self)
        if z is not None:
            from . import _weights  # compiles its kernels only when used

            def step(words):
                return _weights.read_words(locations, words, self._tie_words(words), parallel,
                                           z)[0]
        else:
            def step(words):
                return locations.read_words(words, self._tie_words(words), parallel)

        return read_bits(step, queries, n_bits=self.n_bits, n_data_bits=self.n_data_bits,
                         iterations=iterations, return_info=return_info)

    @shared
    def read_sums(self, queries, *, z=None, parallel: bool | None = None) -> np.ndarray:
        """The counter sums a read thresholds (``int64``; ``float64`` with ``z``).

        Returns an array of shape (q, n_value_bits), or (n_value_bits,) for one
        query: the sum over activated locations of their counters (of
        ``sign(c) * |c| ** z`` with ``z``, see :meth:`read`).

        Examples
        --------
        >>> import fastsdm
        >>> mem = fastsdm.SDM(8, 4, radius=8, addresses=fastsdm.random_addresses(4, 8, seed=0))
        >>> mem.write([1, 0, 1, 0, 1, 0, 1, 0])
        >>> mem.read_sums([0, 0, 0, 0, 0, 0, 0, 0])
        array([ 4, -4,  4, -4,  4, -4,  4, -4])
        >>> mem.read_sums([0, 0, 0, 0, 0, 0, 0, 0], z=2)
        array([ 4., -4.,  4., -4.,  4., -4.,  4., -4.])
        """
        z = _check_z(z, self)
        words, single, _ = as_words(queries, "queries", self.n_bits)
        # Sums need no tie bits: none are drawn, so the tie stream (and the next
        # read) does not depend on whether the sums were looked at.
        no_ties = np.zeros((words.shape[0], n_words(self.n_data_bits)), dtype=np.uint64)
        if z is not None:
            from . import _weights  # compiles its kernels only when used

            _, sums = _weights.read_words(self._locations(), words, no_ties,
                                          parallel, z, want_sums=True)
        else:
            _, sums = self._locations().read_words(words, no_ties, parallel,
                                                    want_sums=True)
        return sums[0] if single else sums

    def _check_writable(self) -> None:
        check_state_array(self.counters, "SDM.counters", (self.n_locations, self.n_data_bits),
                          self.counter_dtype)
        if not self.counters.flags.writeable:
            raise _persist.read_only("counters", loaded=isinstance(self.counters, np.memmap))
        if self._mapped is not None:
            _persist.check_mapped(self._mapped, self._params(), self.counters, "counters")

    @exclusive
    def clear(self) -> None:
        """Set every counter to zero."""
        self._check_writable()
        self.counters[...] = 0

    # -- persistence ----------------------------------------------------------

    def _metadata(self) -> dict:
        with self._tie_rng.bit_generator.lock:  # not torn by a concurrent read's draw
            state = self._tie_rng.bit_generator.state
        return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                **self._params().to_metadata(), "tie_rng_state": state}

    @shared
    def save(self, path, *, overwrite: bool = False) -> Path:
        """Save the memory to a directory, losslessly, crash-safely and without pickle.

        The directory holds ``fastsdm.json`` (parameters, seed, tie-generator
        state, format version, array checksums) and ``addresses.npy`` and
        ``counters.npy``.  The new memory is written and ``fsync``-ed beside
        ``path`` first and then swapped in by renames, so that at every
        instant ``path`` holds the complete old memory or the complete new
        one, even if the process is killed or the machine loses power
        midway: a half-finished swap is completed by the next ``save`` or
        :meth:`load` of that path, which also removes what the interrupted
        save left beside it (see the guide's *Persistence* section).

        Parameters
        ----------
        path : str or Path
            The directory to create.
        overwrite : bool
            Replace an existing saved memory at ``path``.

        Returns
        -------
        Path
            ``path``.

        Raises
        ------
        FileExistsError
            If ``path`` exists and ``overwrite`` is false, or it is a file, a
            symbolic link, a non-empty directory that is not a saved memory,
            or a saved memory that also holds other files.
        ValueError
            If this memory is memory-mapped (``mmap=True``) from ``path``
            itself: call :meth:`flush` instead.

        Examples
        --------
        >>> import tempfile, os, fastsdm
        >>> mem = fastsdm.SDM(64, 100, radius=24, seed=0)
        >>> mem.write(mem.addresses[:3])
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     back = fastsdm.SDM.load(mem.save(os.path.join(tmp, "m")))
        ...     bool((back.counters == mem.counters).all())
        True
        """
        # The arrays checked (replaced ones would save a memory that does not
        # load), a design's as the snapshot its check saw (not re-read: another
        # thread may replace them meanwhile).
        locations = self._locations()
        where = ({"addresses": self.addresses} if locations.design is None
                 else {"masks": locations.design.masks, "values": locations.design.values})
        arrays = {**where, "counters": self.counters}
        return _persist.save_directory(path, self._metadata(), arrays, overwrite=overwrite,
                                       mapped=getattr(self, "_mapped", None))

    @classmethod
    def load(cls, path, *, mmap: bool | str = False, verify: bool | None = None) -> SDM:
        """Load a memory saved by :meth:`save`.

        Parameters
        ----------
        path : str or Path
        mmap : bool or {"r+", "r", "c"}
            Memory-map the counters instead of reading them: ``True`` or
            ``"r+"`` writes go to the file, ``"c"`` copy-on-write, ``"r"``
            read-only (writes then fail).  For memories larger than RAM.
        verify : bool, optional
            Check the arrays' CRC-32 checksums (reads every byte).  Default:
            every array, except the counters of a memory mapped read-only
            (``"r"``) or copy-on-write (``"c"``).  A memory opened for writing
            (``mmap=True``) is checked first because :meth:`flush` records
            a new checksum of whatever its counters hold.  Its writes change
            the file in place: the recorded checksum stays that of the last
            save or :meth:`flush`, and ``fastsdm.json`` records that it is
            open for writing, so that a load after writes without a
            ``flush()`` explains the mismatch (and how to proceed) instead of
            calling the data corrupt.  Only one object at a time may map a
            directory for writing; a second ``mmap=True`` load of it is
            refused while the first object lives.

        Returns
        -------
        SDM

        Raises
        ------
        ValueError
            If the directory is not a saved fastsdm memory, or is truncated,
            corrupt or of an unknown format version: every field of
            ``fastsdm.json`` is type- and range-checked and cross-checked
            against the arrays, every ``.npy`` header is checked before its
            data is read, and the error names the file and the problem.
            Files are never unpickled.

        Notes
        -----
        A save of this path that was interrupted (a killed process, a power
        loss) is completed first: the path then holds the complete old or
        the complete new memory, and the temporary directories beside it are
        removed.  Memories saved by earlier fastsdm versions (format version
        1) load unchanged.

        Examples
        --------
        >>> import tempfile, os, fastsdm
        >>> mem = fastsdm.SDM(64, 100, k_nearest=5, seed=0)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = mem.save(os.path.join(tmp, "m"))
        ...     mapped = fastsdm.SDM.load(path, mmap=True)
        ...     mapped.write(mapped.addresses[:2])
        ...     mapped.flush()  # counters and checksum are on disk
        ...     int(abs(fastsdm.SDM.load(path).counters).sum())
        640
        """
        path = Path(path)
        mode, verify = _persist.mmap_mode(mmap), _persist.verify_option(verify)
        return _persist.load_retrying(lambda: cls._load(path, mode, verify))

    @classmethod
    def _load(cls, path: Path, mode: str | None, verify: bool | None) -> SDM:
        def parse(meta):
            params = SDMParams.from_metadata(meta)
            check_tie_rng_state(meta["tie_rng_state"])  # restored below as it is
            return params

        def check(params, arrays):
            if params.selected is not None:
                from ._hyperplane import check_saved_design

                return check_saved_design(arrays["masks"], arrays["values"], params.n_bits,
                                          params.selected, params.required, path)
            try:
                check_words(arrays["addresses"], "addresses", params.n_bits, ndim=(2,))
            except ValueError:
                raise ValueError(f"{path / 'addresses.npy'} holds addresses with non-zero "
                                 f"pad bits beyond bit {params.n_bits} (the layout requires "
                                 "zeros); the memory is corrupt") from None
            return None

        saved = _persist.load_memory(path, _KIND, mode, verify, parse=parse, check=check,
                                     available=_available_memory)
        tie_rng = np.random.default_rng()
        tie_rng.bit_generator.state = saved.meta["tie_rng_state"]
        return cls._from_parts(saved.params, saved.arrays.get("addresses"),
                               saved.arrays["counters"], tie_rng, saved.mapped, saved.checked)

    @exclusive
    def flush(self) -> None:
        """Write a memory-mapped memory's counters and metadata to its files.

        Only for memories loaded with ``mmap=True``/``"r+"``: flushes the
        counters, then records their checksum and the tie-generator state, so
        the directory is again a complete, verifiable saved memory.

        Raises
        ------
        ValueError
            If the memory was not loaded with ``mmap=True``, or its directory
            was replaced (by a ``save`` to that path) since it was loaded.
        """
        _persist.flush_memory(getattr(self, "_mapped", None), _KIND, self._params(),
                              self.counters, tie_rng_state=self._tie_rng.bit_generator.state)


def _check_z(z, memory):
    # None for the plain read (z None or 1), else the validated exponent.
    if z is None:
        return None
    from ._weights import check_z

    return check_z(z, memory)
