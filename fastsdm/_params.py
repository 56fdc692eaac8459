"""One validated path for a memory's parameters.

A memory's parameters come from three places: a constructor's arguments, a
saved directory's ``fastsdm.json`` and a sharded checkpoint's manifest.  They
all go through the frozen dataclasses here, so a file can never hold a
memory that the constructor would refuse:

* :meth:`SDMParams.create` / :meth:`ContinuousParams.create` check
  constructor arguments (Python numbers: ``100`` and ``np.int64(100)`` are
  both integers);
* ``from_metadata`` first checks the JSON types strictly (a JSON ``true`` is
  not the integer 1, ``2.0`` is not a count, strings are not numbers, no
  unknown fields) and then runs the same ``create`` checks, turning every
  complaint into one ``ValueError`` that names the file;
* ``to_metadata`` is the inverse, and ``array_specs`` gives the shape and
  dtype each saved array must have;
* ``of(memory)`` reads a memory's public attributes back into parameters
  (what ``save`` writes), and ``assign`` sets them on a memory.

Constructors and ``load`` both end in the memory's one private builder,
which takes these parameters and the arrays.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace

import numpy as np

from ._locking import set_checked
from ._validation import (
    check_choice,
    check_dtype,
    check_int,
    check_probability,
    check_real,
    n_words,
)

__all__ = [
    "COUNTER_DTYPES",
    "TIE_POLICIES",
    "ACCUMULATOR_DTYPES",
    "SDMParams",
    "ContinuousParams",
    "check_counter_dtype",
    "check_kappa",
    "check_accumulator_dtype",
    "seed_entropy",
    "check_tie_rng_state",
    "MetadataError",
    "ACTIVATIONS",
]

COUNTER_DTYPES = ("int8", "int16", "int32")
TIE_POLICIES = ("random", "zero", "one", "keep")
ACCUMULATOR_DTYPES = ("float32", "float64")


class MetadataError(ValueError):
    """A field of a saved memory's description is missing, mistyped or out of range."""


# -- checks shared by constructors and files -------------------------------------


def check_counter_dtype(counter_dtype) -> str:
    """The counter dtype's name, one of :data:`COUNTER_DTYPES`, or raise."""
    return check_dtype(counter_dtype, "counter_dtype", COUNTER_DTYPES).name


def check_kappa(kappa, counter_dtype) -> int | None:
    """The clipping bound ``kappa`` (None, or an int in [1, the counter dtype's max]), or raise."""
    if kappa is None:
        return None
    high = int(np.iinfo(check_counter_dtype(counter_dtype)).max)
    return check_int(kappa, "kappa", 1, high,
                     hint=f"counters are kept within [-kappa, kappa] and {counter_dtype} "
                     f"counters hold at most {high}; use kappa=None to saturate at the dtype's "
                     "bounds, or a wider counter_dtype")


def check_accumulator_dtype(dtype) -> np.dtype:
    """The accumulators' dtype, one of :data:`ACCUMULATOR_DTYPES`, or raise."""
    return check_dtype(dtype, "counter_dtype", ACCUMULATOR_DTYPES, "the accumulators' dtype")


def seed_entropy(seed) -> tuple[np.random.SeedSequence, int | list[int]]:
    """The seed sequence of a constructor's ``seed`` and its recordable entropy.

    ``None`` draws fresh entropy; an int, a list of ints or a
    ``SeedSequence`` gives its entropy (the entropy of a saved memory gives
    itself back).  A spawned ``SeedSequence`` (a child of ``spawn()``, or one
    with another pool size) is more than its entropy: it is recorded as eight
    words of its generated state, so that siblings give different memories.
    """
    if isinstance(seed, np.random.SeedSequence):
        if seed.spawn_key or seed.pool_size != np.random.SeedSequence().pool_size:
            return seed_entropy([int(v) for v in seed.generate_state(8)])
        seq = seed
        _check_seed(seq.entropy)  # what is recorded must load back
    else:
        _check_seed(seed)
        seq = np.random.SeedSequence(seed)
    entropy = seq.entropy
    if isinstance(entropy, numbers.Integral):
        return seq, int(entropy)
    return seq, [int(v) for v in np.asarray(entropy).ravel()]


#: Seeds (and their words) are below this: a saved memory records its seed as
#: a JSON number, and Python reads no integer of more than 4,300 digits.
SEED_LIMIT = 2**4096
#: A seed list has at most this many words: a saved memory's description is
#: read only up to ``_persist.MAX_META_BYTES``, which 1,024 words of the
#: largest size fit with room to spare (1.3 MB).
SEED_MAX_WORDS = 1024


def _check_seed(seed) -> None:
    # NumPy's own errors name neither the argument nor what it accepts, and it
    # takes True as 1.
    def entropy_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) and v >= 0

    too_large = [v for v in (seed if isinstance(seed, (list, tuple)) else [seed])
                 if entropy_int(v) and v >= SEED_LIMIT]
    if too_large:
        raise ValueError(f"seed must be below 2**4096 (a saved memory records it), got an "
                         f"int of {int(too_large[0]).bit_length()} bits; hash it to fewer bits "
                         "first (e.g. seed % 2**128)")
    if seed is None or entropy_int(seed):
        return
    if isinstance(seed, (list, tuple)) or (isinstance(seed, np.ndarray) and seed.ndim):
        words = seed.size if isinstance(seed, np.ndarray) else len(seed)
        if words > SEED_MAX_WORDS:
            raise ValueError(f"seed must be a list of at most {SEED_MAX_WORDS} ints (a saved "
                             f"memory records it), got {words}; hash it to fewer words first")
        if words and all(entropy_int(v) for v in np.asarray(seed, dtype=object).ravel()):
            return
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)):
        raise ValueError(f"seed must be non-negative, got {seed}")
    hint = (" (for a Generator, pass e.g. seed=int(rng.integers(2**63)))"
            if isinstance(seed, np.random.Generator) else "")
    raise TypeError(f"seed must be None, a non-negative int, a non-empty list of them or a "
                    f"numpy SeedSequence, got {seed!r}"[:200] + hint)


ACTIVATIONS = ("radius", "k_nearest", "hyperplane")
#: How a hyperplane design's required values were chosen ("given": explicit ``design=``).
REQUIRED_VALUES = ("random", "ones", "given")


def _sdm_activation(n_bits, n_locations, radius, probability, k_nearest, activation=None,
                    selected=None, required=None):
    """``(radius, k_nearest, selected, required)``: exactly one of the first three is set."""
    if activation is not None:
        check_choice(activation, "activation", ACTIVATIONS)
    if activation == "hyperplane" or (activation is None and selected is not None):
        return (None, None, *_hyperplane_activation(n_bits, radius, probability, k_nearest,
                                                    selected, required))
    for name, value in (("selected", selected), ("required", required)):
        if value is not None:
            raise ValueError(f"{name}= belongs to the hyperplane activation rule; pass "
                             f"activation='hyperplane' (got activation={activation!r})")
    given = [name for name, v in (("radius", radius), ("activation_probability", probability),
                                  ("k_nearest", k_nearest)) if v is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of radius, activation_probability and k_nearest, "
                         f"got {given or 'none'}")
    if activation is not None and activation != ("k_nearest" if k_nearest is not None
                                                 else "radius"):
        raise ValueError(f"activation={activation!r} does not match {given[0]}=; give "
                         f"{'k_nearest' if activation == 'k_nearest' else 'radius'}= (or omit "
                         "activation)")
    if k_nearest is not None:
        k = check_int(k_nearest, "k_nearest", 1, max(1, n_locations),
                      hint="k_nearest counts locations and cannot exceed n_locations")
        if n_locations == 0:
            raise ValueError("k_nearest activation needs at least one location")
        from .search import MAX_DISTANCE_BITS

        if 64 * n_words(n_bits) > MAX_DISTANCE_BITS:
            # Found at construction, not at the first write: k-nearest
            # activation ranks int32 Hamming distances.
            raise ValueError(f"k_nearest activation ranks Hamming distances, which fit int32 "
                             f"only up to {MAX_DISTANCE_BITS} bits (whole 64-bit words); got "
                             f"n_bits={n_bits}; use radius= or activation_probability= for "
                             "longer addresses")
        return None, k, None, None
    if probability is not None:
        from .theory import radius_for_probability

        # checked here to be named as the caller spelled it
        probability = check_probability(probability, "activation_probability")
        return radius_for_probability(n_bits, probability), None, None, None
    return check_int(radius, "radius", 0, n_bits,
                     hint="the activation radius is a Hamming distance in [0, n_bits]"
                     ), None, None, None


def _hyperplane_activation(n_bits, radius, probability, k_nearest, selected, required):
    if radius is not None or k_nearest is not None:
        raise ValueError("the hyperplane activation rule takes selected= or "
                         "activation_probability=, not radius= or k_nearest=")
    if (selected is None) == (probability is None):
        raise ValueError("the hyperplane activation rule needs exactly one of selected= (the "
                         "coordinates each location selects) and activation_probability=, got "
                         f"{'both' if selected is not None else 'neither'}")
    if probability is not None:
        from .theory import hyperplane_k_for_probability

        # checked here to be named as the caller spelled it
        probability = check_probability(probability, "activation_probability")
        selected = hyperplane_k_for_probability(n_bits, probability)
    selected = check_int(selected, "selected", 0, n_bits,
                         hint="selected is the number of coordinates each location selects, "
                              "between 0 and n_bits")
    required = check_choice("random" if required is None else required, "required",
                            REQUIRED_VALUES,
                            hint="the values required on the selected coordinates: random bits "
                                 "or all ones ('given' means an explicit design=)")
    return selected, required


def _continuous_activation(dim, n_locations, radius, threshold, k_nearest):
    given = [name for name, v in (("radius", radius), ("threshold", threshold),
                                  ("k_nearest", k_nearest)) if v is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of radius, threshold and k_nearest, got "
                         f"{given or 'none'}")
    if k_nearest is not None:
        if n_locations == 0:
            raise ValueError("k_nearest activation needs at least one location")
        k = check_int(k_nearest, "k_nearest", 1, n_locations,
                      hint="k_nearest counts locations and cannot exceed n_locations")
        return None, None, k
    if radius is not None:
        radius = check_real(radius, "radius", 0, dim, integers=True,
                            hint="the radius is Hamming-equivalent, in [0, dim]; give a "
                            "cosine directly with threshold=")
        return radius, 1.0 - 2.0 * radius / dim, None
    return None, check_real(threshold, "threshold", -1, 1, hint="the threshold is a cosine"), None


# -- strict JSON fields ------------------------------------------------------------


def _json_int(meta: dict, key: str, *, null: bool = False):
    value = meta[key]
    if value is None and null:
        return None
    if type(value) is not int:
        kind = "null" if value is None else type(value).__name__
        raise MetadataError(f"{key} must be an integer{' or null' if null else ''}, got "
                            f"{kind} {value!r}")
    return value


def _json_str(meta: dict, key: str):
    value = meta[key]
    if type(value) is not str:
        raise MetadataError(f"{key} must be a string, got {type(value).__name__} {value!r}")
    return value


def _json_number(meta: dict, key: str, *, null: bool = False):
    value = meta[key]
    if value is None and null:
        return None
    if type(value) not in (int, float):
        kind = "null" if value is None else type(value).__name__
        raise MetadataError(f"{key} must be a number{' or null' if null else ''}, got {kind} "
                            f"{value!r}")
    return value


def _json_seed(meta: dict):
    seed = meta["seed"]
    ok = (type(seed) is int and seed >= 0) or (
        type(seed) is list and 0 < len(seed) <= SEED_MAX_WORDS
        and all(type(v) is int and v >= 0 for v in seed))
    if not ok:
        raise MetadataError(f"seed must be a non-negative integer or a list of them (the "
                            f"entropy of numpy.random.SeedSequence), got {seed!r}"[:300])
    return seed


def _json_hyperplane(meta: dict):
    """The optional ``hyperplane`` field as ``{"selected": int, "required": str}``, or None."""
    value = meta.get("hyperplane")
    if value is None:
        return None
    if not (type(value) is dict and value.keys() == {"selected", "required"}
            and type(value["selected"]) is int and type(value["required"]) is str):
        raise MetadataError(f"hyperplane must be {{'selected': int, 'required': str}}, got "
                            f"{value!r}"[:300])
    return value


def check_tie_rng_state(state) -> dict:
    """A PCG64 ``bit_generator.state`` dict, checked field by field, or raise."""
    keys = {"bit_generator", "state", "has_uint32", "uinteger"}
    ok = (type(state) is dict and state.keys() == keys
          and state["bit_generator"] == "PCG64"
          and type(state["state"]) is dict and state["state"].keys() == {"state", "inc"}
          and all(type(v) is int and 0 <= v < 2**128 for v in state["state"].values())
          and state["state"]["inc"] % 2 == 1
          and type(state["has_uint32"]) is int and state["has_uint32"] in (0, 1)
          and type(state["uinteger"]) is int and 0 <= state["uinteger"] < 2**32)
    if not ok:
        raise MetadataError("tie_rng_state must be the state of a PCG64 generator "
                            "({'bit_generator': 'PCG64', 'state': {'state': s, 'inc': odd}, "
                            f"'has_uint32': 0 or 1, 'uinteger': u}}), got {state!r}"[:400])
    return state


#: The attributes a binary memory's parameters are read from (SDM, ShardedSDM).
SDM_PARAMETERS = ("n_bits", "n_locations", "n_data_bits", "radius", "k_nearest",
                  "counter_dtype", "ties", "activation", "selected", "required", "kappa", "seed")


def attribute_fingerprint(memory, names) -> tuple:
    """The memory's parameter attributes with their types: ``24.0`` is not ``24``,
    nor ``"int16"`` ``dtype('int16')``, to :meth:`SDM._locations`'s re-check."""
    return tuple((type(value), value) for value in (getattr(memory, n) for n in names))


def _create(cls, meta: dict, keys, **extra):
    """``cls.create`` on metadata fields, its complaints as MetadataError."""
    try:
        return cls.create(**{key: meta[key] for key in keys}, **extra)
    except (TypeError, ValueError) as exc:
        raise MetadataError(str(exc)) from None


# -- the binary memory -------------------------------------------------------------


@dataclass(frozen=True)
class SDMParams:
    """Validated parameters of a binary SDM (or of a sharded one)."""

    n_bits: int
    n_locations: int
    n_data_bits: int
    radius: int | None
    k_nearest: int | None
    counter_dtype: str
    ties: str
    seed: int | list
    #: Jaeckel's selected-coordinate rule: coordinates per location (else None).
    selected: int | None = None
    #: Its required values: "random", "ones" or "given" (else None).
    required: str | None = None
    #: Symmetric clipping bound of the counters (issue 16); saved only when set.
    kappa: int | None = None

    #: Fields every saved memory holds; a hyperplane memory adds the optional
    #: ``"hyperplane": {"selected": k, "required": ...}`` and a memory with
    #: clipped counters ``"kappa"`` (:data:`OPTIONAL_KEYS`), so that memories
    #: without them save as before and older files load.
    KEYS = ("n_bits", "n_locations", "n_data_bits", "radius", "k_nearest", "counter_dtype",
            "ties", "seed")
    OPTIONAL_KEYS = ("hyperplane", "kappa")

    @classmethod
    def create(cls, n_bits, n_locations, radius=None, *, activation_probability=None,
               k_nearest=None, n_data_bits=None, counter_dtype="int16", ties="random",
               seed=0, min_locations: int = 0, locations_hint: str = "", activation=None,
               selected=None, required=None, kappa=None) -> SDMParams:
        """Check constructor arguments; ``seed`` (None draws fresh entropy) becomes its entropy."""
        n_bits = check_int(n_bits, "n_bits", 1)
        if n_locations is None:
            raise TypeError("SDM needs n_locations (or explicit addresses=)")
        n_locations = check_int(n_locations, "n_locations", min_locations, hint=locations_hint)
        n_data_bits = n_bits if n_data_bits is None else check_int(n_data_bits, "n_value_bits", 1)
        counter_dtype = check_counter_dtype(counter_dtype)
        ties = check_choice(ties, "ties", TIE_POLICIES)
        if ties == "keep" and n_data_bits != n_bits:
            raise ValueError("ties='keep' keeps the query's bit and needs n_value_bits == n_bits "
                             f"(got {n_data_bits} != {n_bits}); choose 'random', "
                             "'zero' or 'one' for a heteroassociative memory")
        radius, k_nearest, selected, required = _sdm_activation(
            n_bits, n_locations, radius, activation_probability, k_nearest, activation,
            selected, required)
        kappa = check_kappa(kappa, counter_dtype)
        if kappa is not None and selected is not None:
            raise ValueError("kappa works with the radius and k_nearest rules; a hyperplane "
                             "memory saturates at its counter dtype's bounds (choose "
                             "counter_dtype to bound the counters, or kappa=None)")
        return cls(n_bits, n_locations, n_data_bits, radius, k_nearest, counter_dtype, ties,
                   seed_entropy(seed)[1], selected, required, kappa)

    @classmethod
    def of(cls, memory, *, min_locations: int = 0) -> SDMParams:
        """The parameters of a binary memory, from its public attributes (checked again)."""
        return cls.create(memory.n_bits, memory.n_locations, memory.radius,
                          k_nearest=memory.k_nearest, n_data_bits=memory.n_data_bits,
                          counter_dtype=memory.counter_dtype, ties=memory.ties, seed=memory.seed,
                          selected=getattr(memory, "selected", None),
                          required=getattr(memory, "required", None),
                          kappa=getattr(memory, "kappa", None), min_locations=min_locations)

    def arguments(self) -> dict:
        """Keyword arguments that rebuild this memory with :class:`fastsdm.SDM` (with
        ``addresses=`` of ``n_locations`` rows, or ``n_locations=``)."""
        return {"n_bits": self.n_bits, "radius": self.radius, "k_nearest": self.k_nearest,
                "n_value_bits": self.n_data_bits, "counter_dtype": self.counter_dtype,
                "ties": self.ties, "seed": self.seed}

    def shard(self, start: int, stop: int) -> SDMParams:
        """The parameters of locations ``start:stop`` as a memory of their own.

        A shard of a k-nearest memory offers at most its own locations.
        """
        n_local = stop - start
        k_nearest = None if self.k_nearest is None else min(self.k_nearest, n_local)
        return replace(self, n_locations=n_local, k_nearest=k_nearest)

    @classmethod
    def from_metadata(cls, meta: dict, *, min_locations: int = 0) -> SDMParams:
        """Check the fields of a saved description strictly (raises :class:`MetadataError`)."""
        for key in ("n_bits", "n_locations", "n_data_bits"):
            _json_int(meta, key)
        radius, k = _json_int(meta, "radius", null=True), _json_int(meta, "k_nearest", null=True)
        hyperplane = _json_hyperplane(meta)
        if (radius is None) + (k is None) + (hyperplane is None) != 2:
            raise MetadataError(f"exactly one of radius and k_nearest must be set, or neither "
                                f"with a hyperplane field, got radius={radius!r}, "
                                f"k_nearest={k!r}, hyperplane={meta.get('hyperplane')!r}")
        _json_str(meta, "counter_dtype")
        _json_str(meta, "ties")
        seed = _json_seed(meta)
        # Exact names: the constructor would also take "i2" or "<i2".
        if meta["counter_dtype"] not in COUNTER_DTYPES:
            raise MetadataError(f"counter_dtype must be one of {', '.join(COUNTER_DTYPES)}, "
                                f"got {meta['counter_dtype']!r}")
        # kappa is optional: files written before it existed load as kappa=None.
        kappa = _json_int(meta, "kappa", null=True) if "kappa" in meta else None
        return _create(cls, {**meta, **(hyperplane or {})},
                       ("n_bits", "n_locations", "radius", "k_nearest", "n_data_bits",
                        "counter_dtype", "ties") + (("selected", "required") if hyperplane
                                                     else ()),
                       seed=seed, kappa=kappa, min_locations=min_locations)

    def to_metadata(self) -> dict:
        meta = {key: getattr(self, key) for key in self.KEYS}
        if self.selected is not None:
            meta["hyperplane"] = {"selected": self.selected, "required": self.required}
        if self.kappa is not None:
            meta["kappa"] = self.kappa
        return meta

    @property
    def activation(self) -> str:
        """The activation rule: "radius", "k_nearest" or "hyperplane"."""
        return ("hyperplane" if self.selected is not None
                else "k_nearest" if self.k_nearest is not None else "radius")

    def assign(self, memory) -> None:
        """Set the parameters as attributes of an SDM or ShardedSDM (not the seed).

        Also from a call holding the memory's lock: set without taking it.
        """
        set_checked(memory, n_bits=self.n_bits, n_locations=self.n_locations,
                    n_data_bits=self.n_data_bits, radius=self.radius, k_nearest=self.k_nearest,
                    counter_dtype=np.dtype(self.counter_dtype), ties=self.ties,
                    activation=self.activation, selected=self.selected, required=self.required,
                    kappa=self.kappa)

    @property
    def n_words(self) -> int:
        return n_words(self.n_bits)

    def array_specs(self) -> dict:
        """``{name: (shape, dtype name)}`` of the arrays of a saved memory."""
        words = ((self.n_locations, self.n_words), "uint64")
        where = ({"masks": words, "values": words} if self.selected is not None
                 else {"addresses": words})
        return {**where, "counters": ((self.n_locations, self.n_data_bits), self.counter_dtype)}


# -- the continuous memory ---------------------------------------------------------


@dataclass(frozen=True)
class ContinuousParams:
    """Validated parameters of a :class:`fastsdm.ContinuousSDM`."""

    dim: int
    n_locations: int
    value_dim: int
    radius: int | float | None
    threshold: float | None
    k_nearest: int | None
    dtype: str
    seed: int | list

    KEYS = ("dim", "n_locations", "value_dim", "radius", "threshold", "k_nearest", "dtype",
            "seed")

    @classmethod
    def create(cls, dim, n_locations, radius=None, *, threshold=None, k_nearest=None,
               value_dim=None, dtype=np.float32, seed=0) -> ContinuousParams:
        """Check constructor arguments; ``seed`` (None draws fresh entropy) becomes its entropy."""
        # Bounded where float arithmetic on it (the threshold 1 - 2 r / dim) stays exact
        # and finite: no address of more than 2**53 floats could be stored anyway.
        dim = check_int(dim, "dim", 1, 2**53)
        if n_locations is None:
            raise TypeError("ContinuousSDM needs n_locations (or explicit addresses=)")
        n_locations = check_int(n_locations, "n_locations", 0)
        value_dim = dim if value_dim is None else check_int(value_dim, "value_dim", 1)
        dtype = check_accumulator_dtype(dtype).name
        radius, threshold, k_nearest = _continuous_activation(dim, n_locations, radius,
                                                              threshold, k_nearest)
        return cls(dim, n_locations, value_dim, radius, threshold, k_nearest, dtype,
                   seed_entropy(seed)[1])

    @classmethod
    def of(cls, memory) -> ContinuousParams:
        """The parameters of a ContinuousSDM, from its public attributes (checked again)."""
        return cls.create(memory.dim, memory.n_locations, memory.radius,
                          threshold=None if memory.radius is not None else memory.threshold,
                          k_nearest=memory.k_nearest, value_dim=memory.value_dim,
                          dtype=memory.dtype, seed=memory.seed)

    @classmethod
    def from_metadata(cls, meta: dict) -> ContinuousParams:
        """Check the fields of a saved description strictly (raises :class:`MetadataError`)."""
        for key in ("dim", "n_locations", "value_dim"):
            _json_int(meta, key)
        radius = _json_number(meta, "radius", null=True)
        threshold = _json_number(meta, "threshold", null=True)
        k = _json_int(meta, "k_nearest", null=True)
        _json_str(meta, "dtype")
        seed = _json_seed(meta)
        if meta["dtype"] not in ACCUMULATOR_DTYPES:
            raise MetadataError(f"dtype must be one of {', '.join(ACCUMULATOR_DTYPES)}, got "
                                f"{meta['dtype']!r}")
        # A radius is saved with the threshold it implies; otherwise one of the two.
        params = _create(cls, {**meta, "threshold": None if radius is not None else threshold},
                         ("dim", "n_locations", "radius", "threshold", "k_nearest", "value_dim",
                          "dtype"), seed=seed)
        if params.threshold != threshold or (k is not None and threshold is not None):
            raise MetadataError(f"threshold {threshold!r} is inconsistent with radius "
                                f"{radius!r} and k_nearest {k!r} (dim={params.dim})")
        return params

    def to_metadata(self) -> dict:
        return {key: getattr(self, key) for key in self.KEYS}

    def assign(self, memory) -> None:
        """Set the parameters as attributes of a ContinuousSDM (not the seed).

        Also from a call holding the memory's lock: set without taking it.
        """
        set_checked(memory, dim=self.dim, n_locations=self.n_locations,
                    value_dim=self.value_dim, k_nearest=self.k_nearest,
                    dtype=np.dtype(self.dtype),
                    _radius=self.radius, _threshold=self.threshold)  # (linked properties)

    def array_specs(self) -> dict:
        """``{name: (shape, dtype name)}`` of the arrays of a saved memory."""
        return {"addresses": ((self.n_locations, self.dim), "float32"),
                "accumulators": ((self.n_locations, self.value_dim), self.dtype)}
