"""Capacity, critical-distance and attention experiments, as tidy records.

Each experiment returns a :class:`Records`: a list of dicts, one row per
parameter combination and repetition, each row carrying the full
configuration, the seeds that reproduce it and the versions of fastsdm, NumPy,
numba and Python. Rows go straight into :func:`to_csv`, :func:`to_json`,
:func:`summary_table`, ``pandas.DataFrame(records)`` or the figures of
:mod:`fastsdm.plots`.

* :func:`capacity` -- bit errors and exact recall as a memory fills up
  (patterns written incrementally into one memory), next to Kanerva's (1993)
  signal-to-noise prediction.
* :func:`critical_distance` -- Kanerva's (1988) convergence experiment: final
  distance after iterated reads against cue distance, the critical distance it
  implies, and the one-step model of :func:`fastsdm.theory.critical_distance`.
* :func:`attention_comparison` -- the SDM read with infinitely many neurons
  (pattern view) against softmax attention with the fitted β (Bricken &
  Pehlevan 2021): weight curves, their distances, and recall.

Long runs show a tqdm progress bar on stderr (``progress=False`` hides it).
Ctrl-C (``KeyboardInterrupt``) stops an experiment cleanly: it returns the rows
finished so far with ``records.interrupted = True`` and warns with
:class:`ExperimentInterrupted`.

References
----------
.. [1] P. Kanerva, *Sparse Distributed Memory*, MIT Press, 1988.
.. [2] P. Kanerva, "Sparse distributed memory and related models", in
   *Associative Neural Memories*, M. H. Hassoun (ed.), Oxford University
   Press, 1993, pp. 50-76.
.. [3] T. Bricken and C. Pehlevan, "Attention approximates sparse distributed
   memory", NeurIPS 2021, arXiv:2111.05498.
"""

from __future__ import annotations

import csv
import inspect
import json
import math
import numbers
import platform
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from statistics import NormalDist

import numpy as np

from . import theory
from ._validation import check_choice, check_int
from .bits import flip_bits, pack_bits, random_addresses
from .memory import SDM, _available_memory, _gib

__all__ = [
    "EXPERIMENTS",
    "PRESETS",
    "STORAGE",
    "ExperimentInterrupted",
    "Records",
    "attention_comparison",
    "capacity",
    "configure",
    "critical_distance",
    "run",
    "summary_table",
    "to_csv",
    "to_json",
    "versions",
]

#: Activation probability used when neither ``radius`` nor
#: ``activation_probability`` is given: Kanerva's canonical memory activates
#: about one location in a thousand.
DEFAULT_ACTIVATION_PROBABILITY = 0.001

_PHI = NormalDist().cdf


class ExperimentInterrupted(UserWarning):
    """Warned when Ctrl-C stops an experiment; the finished rows are returned."""


class Records(list):
    """The rows of an experiment: a ``list`` of dicts, plus what produced them.

    Parameters
    ----------
    rows : iterable of dict
    experiment : str
        ``"capacity"``, ``"critical_distance"`` or ``"attention"``.
    config : dict
        The validated configuration (JSON-serialisable).
    interrupted : bool
        True when Ctrl-C stopped the run: the rows are those finished before.
    tables : dict of str to list of dict
        Secondary tidy tables (``"weights"`` for the attention comparison).

    Examples
    --------
    >>> from fastsdm.experiments import Records
    >>> rows = Records([{"m": 100, "recall": 1.0}], experiment="demo")
    >>> rows, rows.experiment, rows.interrupted, isinstance(rows, list)
    ([{'m': 100, 'recall': 1.0}], 'demo', False, True)
    """

    def __init__(self, rows: Iterable[dict] = (), *, experiment: str = "",
                 config: Mapping | None = None, interrupted: bool = False,
                 tables: Mapping[str, list] | None = None):
        super().__init__(rows)
        self.experiment = experiment
        self.config = dict(config or {})
        self.interrupted = interrupted
        self.tables = {name: list(rows) for name, rows in (tables or {}).items()}


def versions() -> dict:
    """Versions recorded in every row: fastsdm, NumPy, numba and Python.

    Examples
    --------
    >>> from fastsdm.experiments import versions
    >>> sorted(versions())
    ['fastsdm_version', 'numba_version', 'numpy_version', 'python_version']
    """
    import numba

    from . import __version__

    return {"fastsdm_version": __version__, "numpy_version": np.__version__,
            "numba_version": numba.__version__, "python_version": platform.python_version()}


# ---------------------------------------------------------------------------
# Argument checks: each raises one TypeError/ValueError naming the parameter,
# what it got and how to fix it.  They run before any memory is allocated.
# ---------------------------------------------------------------------------


def _int_list(values, name: str, low: int, high: int | None = None, hint: str = "") -> list[int]:
    """``values`` (an int or a sequence of ints) as a sorted list of distinct ints."""
    if isinstance(values, numbers.Integral) and not isinstance(values, bool):
        values = [values]
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be an integer or a sequence of integers, got "
                        f"{type(values).__name__} {values!r}" + (f"; {hint}" if hint else ""))
    out = sorted({check_int(v, f"each of {name}", low, high, hint) for v in values})
    if not out:
        raise ValueError(f"{name} is empty; give at least one value" + (f" ({hint})" if hint
                                                                        else ""))
    return out


def _check_seed(seed) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    return check_int(seed, "seed", 0, hint="pass a non-negative integer, or None for fresh "
                                           "entropy (recorded in the rows)")


def _check_memory(n_bits, n_locations, radius, activation_probability, counter_dtype,
                  n_patterns=None) -> dict:
    n_bits = check_int(n_bits, "n_bits", 1, hint="the address length, e.g. 256")
    n_locations = check_int(n_locations, "n_locations", 1,
                            hint="the number of hard locations, e.g. 50_000")
    try:
        name = np.dtype(counter_dtype).name
    except TypeError:
        name = None
    if name not in ("int8", "int16", "int32"):
        raise ValueError(f"counter_dtype must be one of 'int8', 'int16', 'int32', got "
                         f"{counter_dtype!r}; int8 quarters the memory of int32")
    counter_dtype = name
    if radius is not None and activation_probability is not None:
        raise ValueError(f"radius and activation_probability are alternatives: give one, not "
                         f"both (got radius={radius} and activation_probability="
                         f"{activation_probability})")
    requested = None
    if radius is None:
        requested = (DEFAULT_ACTIVATION_PROBABILITY if activation_probability is None
                     else activation_probability)
        if (isinstance(requested, bool) or not isinstance(requested, numbers.Real)
                or not 0.0 < requested <= 1.0):
            raise ValueError(f"activation_probability must be in (0, 1], got {requested!r}; "
                             "e.g. 0.001 (Kanerva's canonical memory)")
        radius = theory.radius_for_probability(n_bits, float(requested))
    radius = check_int(radius, "radius", 0, n_bits,
                       hint="the activation radius is a Hamming distance in [0, n_bits]")
    p = theory.activation_probability(n_bits, radius)
    need = SDM.estimate_nbytes(n_bits, n_locations, counter_dtype=counter_dtype)
    if n_patterns:  # the stored patterns, packed
        need += max(n_patterns) * 8 * ((n_bits + 63) // 64)
    available = _available_memory()
    if available is not None and need > available:
        hint = ("use counter_dtype='int8'" if counter_dtype != "int8" else "use fewer locations")
        raise MemoryError(f"the memory and patterns need {_gib(need)} (n_bits={n_bits}, "
                          f"n_locations={n_locations}, {counter_dtype} counters) but only "
                          f"{_gib(available)} is available; {hint}")
    return {"n_bits": n_bits, "n_locations": n_locations, "radius": radius,
            "activation_probability": p,
            "requested_activation_probability": None if requested is None else float(requested),
            "expected_activated": p * n_locations, "counter_dtype": counter_dtype,
            "estimated_nbytes": need}


def _check_common(n_cues, iterations, repetitions, seed) -> dict:
    return {
        "n_cues": check_int(n_cues, "n_cues", 1, hint="the number of cues read per point"),
        "iterations": check_int(iterations, "iterations", 1,
                                hint="the maximum number of reads per cue (1 = a single read)"),
        "repetitions": check_int(repetitions, "repetitions", 1,
                                 hint="independent memories and patterns per point"),
        "seed": _check_seed(seed),
    }


def _repetition_seeds(seed: int, repetition: int, names: Sequence[str]) -> dict:
    """Independent 32-bit seeds for one repetition, recorded in its rows."""
    state = np.random.SeedSequence(seed, spawn_key=(repetition,)).generate_state(len(names))
    return {f"{name}_seed": int(s) for name, s in zip(names, state, strict=True)}


# ---------------------------------------------------------------------------
# Measurement helpers (module level: tests replace them to simulate Ctrl-C)
# ---------------------------------------------------------------------------


def _row_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distance between row i of ``a`` and row i of ``b`` (packed words)."""
    return np.unpackbits(np.ascontiguousarray(a ^ b).view(np.uint8), axis=1).sum(
        axis=1, dtype=np.int64)


def _recall(mem: SDM, cues: np.ndarray, targets: np.ndarray, iterations: int,
            autoassociative: bool = True) -> dict:
    """Read ``cues`` once and iterated; distances of both results to ``targets``.

    The iterated read continues from the single read (so the first step is
    shared) and stops per cue at a fixed point, as ``SDM.read(iterations=)``.
    A heteroassociative read (``autoassociative=False``) is not iterated and has
    no fixed points (``fixed_point_fraction`` is None).
    """
    first = mem.read(cues)
    d1 = _row_distances(first, targets)
    final = first.copy()
    steps = np.ones(cues.shape[0], dtype=np.int64)
    fixed = (first == cues).all(axis=1)
    if iterations > 1 and autoassociative and not fixed.all():
        todo = ~fixed
        more, info = mem.read(first[todo], iterations=iterations - 1, return_info=True)
        final[todo] = more
        steps[todo] += info.steps
        fixed[todo] = info.converged
    dist = _row_distances(final, targets)
    n = mem.n_bits
    return {
        "mean_distance_1": float(d1.mean()),
        "std_distance_1": float(d1.std()),
        "bit_error_rate_1": float(d1.mean() / n),
        "exact_recall_1": float(np.mean(d1 == 0)),
        "mean_distance_final": float(dist.mean()),
        "std_distance_final": float(dist.std()),
        "bit_error_rate_final": float(dist.mean() / n),
        "exact_recall_final": float(np.mean(dist == 0)),
        "fixed_point_fraction": float(fixed.mean()) if autoassociative else None,
        "mean_steps": float(steps.mean()),
    }


class _Progress:
    """A tqdm bar on stderr (or nothing), closed whatever happens."""

    def __init__(self, total: int, desc: str, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="row", file=sys.stderr,
                            dynamic_ncols=True, mininterval=0.25)

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def note(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _interrupted(records: Records, total: int) -> None:
    records.interrupted = True
    warnings.warn(f"{records.experiment} interrupted (Ctrl-C) after {len(records)} of {total} "
                  "rows; returning the finished rows (records.interrupted is True)",
                  ExperimentInterrupted, stacklevel=3)


# ---------------------------------------------------------------------------
# Capacity
# ---------------------------------------------------------------------------


#: How an experiment stores its words: each at its own address, or at an
#: independent random address (the names of the one-read models of fastsdm.theory).
STORAGE = ("autoassociative", "heteroassociative")


def _check_storage(storage, iterations) -> tuple[str, int]:
    storage = check_choice(storage, "storage", STORAGE)
    if iterations is None:
        return storage, 10 if storage == "autoassociative" else 1
    iterations = check_int(iterations, "iterations", 1,
                           hint="the maximum number of reads per cue (1 = a single read)")
    if storage == "heteroassociative" and iterations > 1:
        raise ValueError(f"iterations={iterations} needs storage='autoassociative': a "
                         "heteroassociative read returns data, not an address to read at "
                         "again; use iterations=1")
    return storage, iterations


def _capacity_config(*, n_bits, n_locations, radius, activation_probability, counter_dtype,
                     n_patterns, noise, storage, n_cues, iterations, repetitions, seed) -> dict:
    storage, iterations = _check_storage(storage, iterations)
    n_patterns = _int_list(n_patterns, "n_patterns", 1,
                           hint="numbers of stored patterns, e.g. [500, 1000, 2000]")
    # A heteroassociative memory also keeps the addresses of the stored words.
    memory = _check_memory(n_bits, n_locations, radius, activation_probability, counter_dtype,
                           [2 * m for m in n_patterns] if storage != "autoassociative"
                           else n_patterns)
    n_bits = memory["n_bits"]
    return {
        "experiment": "capacity",
        **memory,
        "storage": storage,
        "theory_model": storage,
        "n_patterns": n_patterns,
        "noise": _int_list(noise, "noise", 0, n_bits,
                           hint="cue noise in flipped bits, between 0 and n_bits"),
        **_check_common(n_cues, iterations, repetitions, seed),
    }


def capacity(*, n_bits: int = 256, n_locations: int = 50_000, radius: int | None = None,
             activation_probability: float | None = None, counter_dtype: str = "int16",
             n_patterns: Sequence[int] = (250, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000,
                                          12000, 16000),
             noise: Sequence[int] = (0, 16, 32, 48), storage: str = "autoassociative",
             n_cues: int = 200, iterations: int | None = None, repetitions: int = 1,
             seed: int | None = 0, progress: bool = True) -> Records:
    """Recall as a memory fills: bit errors and exact recall against stored patterns.

    For each repetition a fresh memory and ``max(n_patterns)`` random patterns
    are drawn; the patterns are written incrementally and at each checkpoint
    ``m`` of ``n_patterns``, ``n_cues`` of the ``m`` stored patterns are chosen
    at random and read from cues with ``noise`` bits flipped -- once, and
    (autoassociatively) iterated up to ``iterations`` reads.

    Parameters
    ----------
    n_bits : int
        Address (and pattern) length ``n``.
    n_locations : int
        Hard locations ``N``.
    radius : int, optional
        Activation radius ``d``. Default: from ``activation_probability``.
    activation_probability : float, optional
        Converted to a radius with :func:`fastsdm.theory.radius_for_probability`;
        default 0.001 when ``radius`` is not given either.
    counter_dtype : {"int16", "int8", "int32"}
    n_patterns : int or sequence of int
        Checkpoints: numbers of stored patterns (sorted, distinct).
    noise : int or sequence of int
        Cue noise, in flipped bits (``0 <= noise <= n_bits``).
    storage : {"autoassociative", "heteroassociative"}
        ``"autoassociative"``: each pattern is written at its own address and
        read back from a noisy copy of it. ``"heteroassociative"``: each pattern
        is written at an independent random address and read back from a noisy
        copy of that address (no iteration).
    n_cues : int
        Cues per checkpoint (distinct stored patterns; at most ``m``). The same
        targets are used for every noise level of a checkpoint.
    iterations : int, optional
        Maximum reads of the iterated read (stopping at a fixed point). Default
        10 for autoassociative storage; heteroassociative storage allows only 1.
    repetitions : int
        Independent memories and pattern sets.
    seed : int or None
        Base seed; each repetition derives its own ``memory_seed``,
        ``pattern_seed`` and ``cue_seed``, recorded in its rows.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    Records
        One row per (repetition, n_patterns, noise), with the measured
        ``bit_error_rate_1``, ``exact_recall_1`` (one read),
        ``bit_error_rate_final``, ``exact_recall_final``,
        ``fixed_point_fraction``, ``mean_steps`` (iterated; the fixed-point
        fraction is None for heteroassociative storage), the predictions
        ``theory_bit_error_rate_1`` and ``theory_exact_recall_1`` of the model
        named in ``theory_model``, the paper model's
        ``theory_bit_error_rate_1_paper``, Kanerva's (1993) ``theory_snr`` and
        ``theory_bit_error_rate_snr``, and the configuration, seeds and versions.

    Raises
    ------
    TypeError, ValueError
        On a bad argument (before any work).
    MemoryError
        If the memory does not fit in the available RAM.

    See Also
    --------
    critical_distance, fastsdm.theory.bit_error_probability,
    fastsdm.theory.exact_recall_probability, fastsdm.plots.plot_capacity

    Notes
    -----
    **Prediction.** The model is the one that matches the storage
    (``theory_model = storage``): :func:`fastsdm.theory.bit_error_probability`
    and :func:`fastsdm.theory.exact_recall_probability` with
    ``model=storage``. A cue ``x`` bits from a stored pattern shares
    ``S(x) = N·I(x)/2^n`` locations with it on average; each of the other
    ``m − 1`` patterns adds crosstalk through the locations it shares with the
    cue, averaged over its random distance from the cue; stored
    autoassociatively, those patterns also pull every bit towards the cue's own
    value (the self-bias ``b``), which helps the right bits and keeps the
    flipped ones wrong. The one-read bit error is
    ``[x·P_flipped + (n − x)·P_right]/n`` with ``P ≈ Φ(−(S ∓ b)/σ)``, and exact
    recall mixes the per-bit errors over the number of shared locations (the
    bits of one read share it, so they do not err independently).

    The paper model (``theory_bit_error_rate_1_paper``, Bricken & Pehlevan 2021,
    App. B) treats every other pattern as ``n/2`` bits away and has no
    self-bias: it understates heteroassociative errors (``n = 256``,
    ``N = 10^5``, ``d = 103``, 2,000 patterns, 32 noisy bits: 7.2 % against
    9.3 % measured and 9.6 % from the heteroassociative model) and overstates
    autoassociative ones, by far at high load (canonical memory, int8, 60,000
    patterns, 200 cues, noise 0: 2.1e-3 against 1.5e-5 measured and 3.0e-5
    from the autoassociative model; exact recall 0.14 against 0.985 and 0.97). At ``x = 0``, with
    ``S½ ≈ p²N``, its ratio is Kanerva's (1993)
    ``SNR = sqrt(pN / (1 + pm + p³mN))`` (``theory_snr``,
    ``theory_bit_error_rate_snr = Φ(−SNR)``). There is no closed form for
    iterated reads.

    **Measurement.** Bit error rate = mean Hamming distance to the target / n;
    exact recall = fraction of cues read back exactly.

    Writing incrementally into one memory makes the whole curve cost about as
    much as the largest checkpoint alone. With the defaults (``n = 256``,
    ``N = 50,000``, ``d = 103``: about 53 locations per read) exact recall falls
    from 100 % to near 0 between a few hundred and sixteen thousand patterns.

    Examples
    --------
    >>> from fastsdm.experiments import capacity
    >>> rows = capacity(n_bits=64, n_locations=2000, radius=24, n_patterns=[10, 100],
    ...                 noise=[0, 8], n_cues=20, progress=False)
    >>> [(r["n_patterns"], r["noise"], r["exact_recall_final"]) for r in rows]
    [(10, 0, 1.0), (10, 8, 1.0), (100, 0, 0.8), (100, 8, 0.05)]
    >>> rows = capacity(n_bits=64, n_locations=2000, radius=24, n_patterns=[100], noise=[8],
    ...                 storage="heteroassociative", n_cues=20, progress=False)
    >>> rows[0]["theory_model"], rows[0]["iterations"], rows[0]["fixed_point_fraction"]
    ('heteroassociative', 1, None)
    """
    config = _capacity_config(
        n_bits=n_bits, n_locations=n_locations, radius=radius,
        activation_probability=activation_probability, counter_dtype=counter_dtype,
        n_patterns=n_patterns, noise=noise, storage=storage, n_cues=n_cues,
        iterations=iterations, repetitions=repetitions, seed=seed)
    return _run_capacity(config, progress)


def _filled_memories(c: dict, bar):
    """Per repetition, one memory filled up to each load of ``c["n_patterns"]``.

    Writing the patterns incrementally into one memory is much faster than
    rebuilding it per load.  Yields ``(repetition, seeds, memory, m, keys,
    targets, rng)``: ``targets`` are up to ``n_cues`` of the ``m`` stored
    patterns, ``keys`` the addresses they were written at (the targets
    themselves unless ``c["storage"]`` is heteroassociative), and ``rng`` draws
    that repetition's cue noise.
    """
    n = c["n_bits"]
    hetero = c.get("storage", "autoassociative") == "heteroassociative"
    for rep in range(c["repetitions"]):
        seeds = _repetition_seeds(c["seed"], rep, ("memory", "pattern", "cue"))
        mem = SDM(n, c["n_locations"], radius=c["radius"], counter_dtype=c["counter_dtype"],
                  seed=seeds["memory_seed"])
        addresses = random_addresses(c["n_patterns"][-1], n, seed=seeds["pattern_seed"])
        patterns = addresses
        if hetero:
            patterns = random_addresses(c["n_patterns"][-1], n, seed=np.random.SeedSequence(
                seeds["pattern_seed"], spawn_key=(1,)))
        rng = np.random.default_rng(seeds["cue_seed"])
        written = 0
        for m in c["n_patterns"]:
            bar.note(f"rep {rep}: writing {m} patterns")
            mem.write(addresses[written:m], patterns[written:m] if hetero else None)
            written = m
            chosen = np.sort(rng.choice(m, size=min(c["n_cues"], m), replace=False))
            yield rep, seeds, mem, m, addresses[chosen], patterns[chosen], rng


def _run_capacity(config: dict, progress: bool) -> Records:
    c = config
    n, N, d = c["n_bits"], c["n_locations"], c["radius"]
    records = Records(experiment="capacity", config=c)
    total = c["repetitions"] * len(c["n_patterns"]) * len(c["noise"])
    bar = _Progress(total, "capacity", progress)
    scalar_config = {k: v for k, v in c.items() if not isinstance(v, list)}
    stamp = versions()
    auto = c["storage"] == "autoassociative"
    try:
        for rep, seeds, mem, m, keys, targets, rng in _filled_memories(c, bar):
            model = dict(model=c["theory_model"])
            model_ber = theory.bit_error_probability(n, d, N, m, c["noise"], **model)
            model_exact = theory.exact_recall_probability(n, d, N, m, c["noise"], **model)
            paper_ber = theory.bit_error_probability(n, d, N, m, c["noise"], model="paper")
            snr = theory.snr(n, d, N, m)
            for i, k in enumerate(c["noise"]):
                bar.note(f"rep {rep}: m={m}, noise={k}")
                cues = flip_bits(keys, n, k, seed=rng)
                measured = _recall(mem, cues, targets, c["iterations"], auto)
                records.append({
                    "experiment": "capacity", "repetition": rep, "n_patterns": m,
                    "noise": k, "noise_fraction": k / n, "n_cues_read": len(targets),
                    **measured,
                    "theory_bit_error_rate_1": float(model_ber[i]),
                    "theory_exact_recall_1": float(model_exact[i]),
                    "theory_bit_error_rate_1_paper": float(paper_ber[i]),
                    "theory_snr": snr, "theory_bit_error_rate_snr": _PHI(-snr),
                    **scalar_config, **seeds, **stamp,
                })
                bar.update()
    except KeyboardInterrupt:
        _interrupted(records, total)
    finally:
        bar.close()
    return records


# ---------------------------------------------------------------------------
# Critical distance
# ---------------------------------------------------------------------------


def _critical_distance_config(*, n_bits, n_locations, radius, activation_probability,
                              counter_dtype, n_patterns, distances, step, n_cues, iterations,
                              repetitions, seed) -> dict:
    n_patterns = _int_list(n_patterns, "n_patterns", 1,
                           hint="numbers of stored patterns, e.g. [500, 1000]")
    memory = _check_memory(n_bits, n_locations, radius, activation_probability, counter_dtype,
                           n_patterns)
    n_bits = memory["n_bits"]
    if distances is None:
        step = (max(1, round(n_bits / 64)) if step is None
                else check_int(step, "step", 1, hint="the spacing of the cue-distance grid"))
        distances = list(range(0, n_bits // 2 + 1, step))
    elif step is not None:
        raise ValueError(f"give distances or step, not both (got step={step}); the grid is "
                         "0..n_bits/2 every step bits, or exactly the distances given")
    else:
        step = None
    return {
        "experiment": "critical_distance",
        **memory,
        # Iterated reads feed the read back as an address: words are stored
        # autoassociatively, and the matching one-read model is used.
        "storage": "autoassociative",
        "theory_model": "autoassociative",
        "n_patterns": n_patterns,
        "distances": _int_list(distances, "distances", 0, n_bits,
                               hint="cue distances in bits, between 0 and n_bits"),
        "step": step,
        **_check_common(n_cues, iterations, repetitions, seed),
    }


def _estimate_critical_distances(rows: list[dict]) -> dict:
    """Critical distances of one curve (rows sorted by cue distance)."""
    by_mean = by_recall = 0
    mean_ok = recall_ok = True
    for row in rows:
        x = row["cue_distance"]
        mean_ok = mean_ok and (x == 0 or row["mean_distance_final"] < x)
        recall_ok = recall_ok and row["exact_recall_final"] >= 0.5
        if mean_ok:
            by_mean = x
        if recall_ok:
            by_recall = x
    return {"critical_distance_sim": by_mean, "critical_distance_recall": by_recall}


def critical_distance(*, n_bits: int = 256, n_locations: int = 50_000,
                      radius: int | None = None, activation_probability: float | None = None,
                      counter_dtype: str = "int16", n_patterns: Sequence[int] = (250, 500, 1000),
                      distances: Sequence[int] | None = None, step: int | None = None,
                      n_cues: int = 200, iterations: int = 20, repetitions: int = 1,
                      seed: int | None = 0, progress: bool = True) -> Records:
    """Kanerva's convergence experiment: final distance after iterated reads vs cue distance.

    For each repetition and each ``m`` of ``n_patterns`` (written
    incrementally into one memory), ``n_cues`` stored patterns are chosen, and
    for every cue distance ``x`` cues ``x`` bits from them are read once and
    iterated (up to ``iterations`` reads, stopping at a fixed point).

    Parameters
    ----------
    n_bits, n_locations, radius, activation_probability, counter_dtype
        The memory, as in :func:`capacity`.
    n_patterns : int or sequence of int
        Numbers of stored patterns: one curve each.
    distances : sequence of int, optional
        Cue distances in bits. Default: ``0..n_bits // 2`` every ``step`` bits.
    step : int, optional
        Grid spacing when ``distances`` is not given (default
        ``round(n_bits / 64)``: 4 bits for ``n = 256``, 16 for ``n = 1000``).
    n_cues : int
        Targets per curve (the same targets at every distance).
    iterations : int
        Maximum reads per cue.
    repetitions : int
    seed : int or None
        Base seed; per-repetition seeds are recorded in the rows.
    progress : bool

    Returns
    -------
    Records
        One row per (repetition, n_patterns, cue_distance): ``mean_distance_1``
        (after one read), ``mean_distance_final``, ``std_distance_final``,
        ``exact_recall_final`` (fraction that converged to the target exactly),
        ``fixed_point_fraction``, ``mean_steps``; the one-read predictions
        ``theory_distance_1`` (the autoassociative model, named in
        ``theory_model``) and ``theory_distance_1_paper``; and, repeated on each
        row of a completed curve, ``critical_distance_sim``,
        ``critical_distance_recall``, ``critical_distance_theory`` and
        ``critical_distance_theory_paper``.

    Raises
    ------
    TypeError, ValueError
        On a bad argument (before any work).
    MemoryError
        If the memory does not fit in the available RAM.

    See Also
    --------
    capacity, fastsdm.theory.critical_distance, fastsdm.plots.plot_critical_distance

    Notes
    -----
    Definitions, on the grid of cue distances ``x_0 = 0 < x_1 < ...`` of one
    curve:

    * ``critical_distance_sim``: the largest ``x_k`` such that for every grid
      distance ``0 < x_j <= x_k`` iterating brings the cues closer on average,
      ``mean_distance_final(x_j) < x_j``. It mirrors the model's definition
      (``x'(y) < y`` for all ``1 <= y <= x``) with the simulated iterated read
      in place of the one-step prediction, and is resolved to the grid step.
    * ``critical_distance_recall``: the largest ``x_k`` such that at every grid
      distance ``x_j <= x_k`` at least half of the cues converge to the target
      exactly.
    * ``critical_distance_theory``: :func:`fastsdm.theory.critical_distance`
      with ``r = n_locations`` and the autoassociative one-read model (the
      words are stored at their own addresses); ``theory_distance_1`` is its
      predicted distance after one read (compare ``mean_distance_1``, which it
      tracks within a few bits). ``critical_distance_theory_paper`` and
      ``theory_distance_1_paper`` are the model of Bricken & Pehlevan (2021),
      which ignores the pull of the stored words towards the cue and so
      predicts a shorter critical distance. When a model's curve stays below
      the diagonal all the way to ``n``, it reports ``n``: no critical distance.

    Both simulated definitions are 0 when the first positive grid distance
    already fails, and equal the largest grid distance when none fails (then
    only a lower bound). Beyond the critical distance iterated reads wander
    away instead of converging (Kanerva 1988, ch. 7). The one-read model
    predicts where a single read stops bringing cues closer; iterating
    converges from a little less far, because after the first read the cue is
    no longer a random point at its distance (it has moved towards other stored
    words). For the canonical memory (``n = 1000``, ``N = 10^6``, ``d = 451``,
    ``m = 10^4``) the model gives 228 bits, fastsdm's one-read simulation
    crosses the diagonal at about 230, and its iterated reads converge from 200
    bits and diverge from 220 (Kanerva reports about 209); the paper model gives
    164.

    Examples
    --------
    >>> from fastsdm.experiments import critical_distance
    >>> rows = critical_distance(n_bits=64, n_locations=2000, radius=24, n_patterns=[20],
    ...                          distances=[0, 8, 16, 32], n_cues=10, progress=False)
    >>> [r["cue_distance"] for r in rows], rows[0]["critical_distance_sim"] >= 8
    ([0, 8, 16, 32], True)
    """
    config = _critical_distance_config(
        n_bits=n_bits, n_locations=n_locations, radius=radius,
        activation_probability=activation_probability, counter_dtype=counter_dtype,
        n_patterns=n_patterns, distances=distances, step=step, n_cues=n_cues,
        iterations=iterations, repetitions=repetitions, seed=seed)
    return _run_critical_distance(config, progress)


def _run_critical_distance(config: dict, progress: bool) -> Records:
    c = config
    n, N, d = c["n_bits"], c["n_locations"], c["radius"]
    records = Records(experiment="critical_distance", config=c)
    total = c["repetitions"] * len(c["n_patterns"]) * len(c["distances"])
    bar = _Progress(total, "critical distance", progress)
    scalar_config = {k: v for k, v in c.items() if not isinstance(v, list)}
    stamp = versions()
    try:
        for rep, seeds, mem, m, _, targets, rng in _filled_memories(c, bar):
            model = theory.critical_distance(n, d, N, m, model=c["theory_model"])
            paper = theory.critical_distance(n, d, N, m, model="paper")
            curve = []
            for x in c["distances"]:
                bar.note(f"rep {rep}: m={m}, cue distance {x}")
                cues = flip_bits(targets, n, x, seed=rng)
                measured = _recall(mem, cues, targets, c["iterations"])
                row = {
                    "experiment": "critical_distance", "repetition": rep,
                    "n_patterns": m, "cue_distance": x, "n_cues_read": len(targets),
                    **measured,
                    "theory_distance_1": float(model.curve[1][x]),
                    "theory_distance_1_paper": float(paper.curve[1][x]),
                    "critical_distance_sim": None, "critical_distance_recall": None,
                    "critical_distance_theory": model.distance,
                    "critical_distance_theory_paper": paper.distance,
                    **scalar_config, **seeds, **stamp,
                }
                curve.append(row)
                records.append(row)
                bar.update()
            estimates = _estimate_critical_distances(curve)
            for row in curve:
                row.update(estimates)
    except KeyboardInterrupt:
        _interrupted(records, total)
    finally:
        bar.close()
    return records


# ---------------------------------------------------------------------------
# SDM (pattern view) versus softmax attention
# ---------------------------------------------------------------------------

DATASETS = ("random", "digits")


def _load_digits(threshold: float) -> np.ndarray:
    """scikit-learn's 8x8 digits, binarised (pixel >= threshold), distinct, packed."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("dataset='digits' needs scikit-learn, which ships the 8x8 digits: "
                          "pip install scikit-learn (or use dataset='random')") from None
    bits = (load_digits().data >= threshold).astype(np.uint8)
    _, first = np.unique(bits, axis=0, return_index=True)
    return pack_bits(bits[np.sort(first)])


def _attention_config(*, n_bits, radii, n_patterns, noise, n_cues, iterations, beta_method,
                      dataset, threshold, repetitions, seed) -> dict:
    dataset = check_choice(dataset, "dataset", DATASETS)
    n_bits = check_int(n_bits, "n_bits", 2, hint="the pattern length, e.g. 64")
    if dataset == "digits":
        if n_bits != 64:
            raise ValueError(f"dataset='digits' has 64-bit patterns (8x8 pixels), got "
                             f"n_bits={n_bits}; use n_bits=64")
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not (
                0 < threshold <= 16):
            raise ValueError(f"threshold must be in (0, 16] (digit pixels are 0..16), got "
                             f"{threshold!r}; e.g. 8")
        available = _load_digits(float(threshold)).shape[0]
    else:
        available = None
    n_patterns = check_int(n_patterns, "n_patterns", 1, available,
                           hint=f"the binarised digits have {available} distinct patterns"
                           if available else "the number of stored patterns (keys)")
    return {
        "experiment": "attention",
        "n_bits": n_bits,
        "radii": _int_list(radii, "radii", 2, n_bits,
                           hint="radii between 2 and n_bits (a beta fit needs h = 0, 1)"),
        "n_patterns": n_patterns,
        "noise": _int_list(noise, "noise", 0, n_bits,
                           hint="cue noise in flipped bits, between 0 and n_bits"),
        "beta_method": check_choice(beta_method, "beta_method", ("paper", "ols")),
        "dataset": dataset,
        "threshold": float(threshold) if dataset == "digits" else None,
        "distinct_patterns_available": available,
        **_check_common(n_cues, iterations, repetitions, seed),
    }


def _pattern_recall(cues, targets, keys, n_bits, radius, beta, iterations) -> dict:
    """SDM pattern-view read and its softmax approximation, against the targets."""
    from .attention import sdm_pattern_read

    sdm = sdm_pattern_read(cues, keys, n_bits=n_bits, radius=radius, iterations=iterations)
    att = sdm_pattern_read(cues, keys, n_bits=n_bits, radius=radius, iterations=iterations,
                           beta=beta)
    ds, da = _row_distances(sdm, targets), _row_distances(att, targets)
    both = _row_distances(sdm, att)
    return {
        "sdm_bit_error_rate": float(ds.mean() / n_bits),
        "sdm_exact_recall": float(np.mean(ds == 0)),
        "softmax_bit_error_rate": float(da.mean() / n_bits),
        "softmax_exact_recall": float(np.mean(da == 0)),
        "read_agreement": float(np.mean(both == 0)),
        "bit_agreement": float(1.0 - both.mean() / n_bits),
    }


def attention_comparison(*, n_bits: int = 64, radii: Sequence[int] = (5, 9, 11, 15),
                         n_patterns: int = 1024, noise: Sequence[int] = tuple(range(0, 25, 2)),
                         n_cues: int = 256, iterations: int = 1, beta_method: str = "paper",
                         dataset: str = "random", threshold: float = 8.0, repetitions: int = 1,
                         seed: int | None = 0, progress: bool = True) -> Records:
    """SDM with infinitely many neurons against softmax attention with the fitted β.

    For each radius ``d``: β is fitted to the SDM weight curve ``I(h)``
    (:func:`fastsdm.theory.fit_beta`, both methods recorded), the two weight
    curves are compared (:func:`fastsdm.attention.compare_weights`), and
    ``n_cues`` stored patterns are read back from cues with ``noise`` bits
    flipped, by the SDM pattern-view read and by softmax attention.

    Parameters
    ----------
    n_bits : int
        Pattern length (64 in Bricken & Pehlevan's analysis; 64 for digits).
    radii : sequence of int
        Radii ``d`` in ``[2, n_bits]``. The defaults 5, 11 and 15 are the
        memory-, SNR- and critical-distance-optimal radii for ``n = 64``,
        ``r = 2^64``, ``m = 1024``; 9 lies between.
    n_patterns : int
        Stored patterns (keys = values, autoassociative).
    noise : int or sequence of int
        Cue noise, in flipped bits.
    n_cues : int
        Cues per point (distinct stored patterns; the same at every radius).
    iterations : int
        Reads per cue (both sides iterate to a fixed point).
    beta_method : {"paper", "ols"}
        The β used for the softmax reads and for the weight metrics columns.
    dataset : {"random", "digits"}
        Uniform random patterns, or scikit-learn's 8x8 digits binarised at
        ``threshold`` (distinct images only; needs scikit-learn).
    threshold : float
        Digit pixels (0..16) at or above it become 1.
    repetitions : int
    seed : int or None
    progress : bool

    Returns
    -------
    Records
        One row per (repetition, radius, noise): ``beta_paper``, ``beta_ols``,
        ``beta`` (used), the weight metrics ``weights_max_abs_diff``,
        ``weights_total_variation``, ``weights_kl``, and ``sdm_*`` /
        ``softmax_*`` bit error rates and exact recall, ``read_agreement``
        (fraction of identical reads) and ``bit_agreement``.
        ``records.tables["weights"]`` holds the weight curves, one row per
        (radius, method, h).

    Raises
    ------
    TypeError, ValueError
        On a bad argument (before any work).
    ImportError
        For ``dataset="digits"`` without scikit-learn.

    See Also
    --------
    fastsdm.attention.sdm_pattern_read, fastsdm.attention.compare_weights,
    fastsdm.plots.plot_attention

    Notes
    -----
    The SDM read weighs pattern ``μ`` by ``I(h_μ)``, the number of neurons in
    both Hamming balls (infinitely many neurons: the pattern view of
    Bricken & Pehlevan 2021, §3). The attention read weighs it by
    ``softmax_μ(β cos_μ)`` with ``cos_μ = 1 − 2h_μ/n``, i.e. softmax attention
    with Query-Key Normalization on the bipolar vectors; both sum the bipolar
    values and threshold at 0, ties keeping the query's bit
    (:func:`fastsdm.attention.sdm_pattern_read` with ``beta=None`` and
    ``beta=β``). Where every stored pattern is farther than ``2d`` from the
    cue, the SDM read has no weight at all and returns the cue unchanged,
    while softmax still attends -- which is why the small radii fail abruptly
    at ``noise > 2d`` and softmax does not.

    Examples
    --------
    >>> from fastsdm.experiments import attention_comparison
    >>> rows = attention_comparison(radii=[11], n_patterns=64, noise=[0, 4], n_cues=16,
    ...                             progress=False)
    >>> [(r["noise"], r["sdm_exact_recall"], r["softmax_exact_recall"]) for r in rows]
    [(0, 1.0, 1.0), (4, 1.0, 1.0)]
    >>> round(rows[0]["beta_paper"], 1)
    15.9
    """
    config = _attention_config(
        n_bits=n_bits, radii=radii, n_patterns=n_patterns, noise=noise, n_cues=n_cues,
        iterations=iterations, beta_method=beta_method, dataset=dataset, threshold=threshold,
        repetitions=repetitions, seed=seed)
    return _run_attention(config, progress)


def _weight_rows(n: int, d: int) -> tuple[list[dict], dict]:
    from .attention import compare_weights

    rows, metrics = [], {}
    for method in ("paper", "ols"):
        cmp = compare_weights(n, d, method=method)
        metrics[method] = cmp
        cos = 1.0 - 2.0 * cmp.h / n
        rows.extend({"radius": d, "method": method, "beta": cmp.beta, "h": int(h),
                     "cosine": float(c), "sdm_weight": float(s), "softmax_weight": float(q)}
                    for h, c, s, q in zip(cmp.h, cos, cmp.sdm, cmp.softmax, strict=True))
    return rows, metrics


def _run_attention(config: dict, progress: bool) -> Records:
    c = config
    n = c["n_bits"]
    records = Records(experiment="attention", config=c, tables={"weights": []})
    total = c["repetitions"] * len(c["radii"]) * len(c["noise"])
    bar = _Progress(total, "attention", progress)
    scalar_config = {k: v for k, v in c.items() if not isinstance(v, list)}
    stamp = versions()
    digits = _load_digits(c["threshold"]) if c["dataset"] == "digits" else None
    curves = {}
    try:
        for d in c["radii"]:
            rows, curves[d] = _weight_rows(n, d)
            records.tables["weights"].extend(rows)
        for rep in range(c["repetitions"]):
            seeds = _repetition_seeds(c["seed"], rep, ("pattern", "cue"))
            rng = np.random.default_rng(seeds["pattern_seed"])
            if digits is None:
                keys = random_addresses(c["n_patterns"], n, seed=rng)
            else:
                keys = digits[np.sort(rng.choice(digits.shape[0], c["n_patterns"],
                                                 replace=False))]
            cue_rng = np.random.default_rng(seeds["cue_seed"])
            targets = keys[np.sort(cue_rng.choice(keys.shape[0],
                                                  size=min(c["n_cues"], keys.shape[0]),
                                                  replace=False))]
            cues = {k: flip_bits(targets, n, k, seed=cue_rng) for k in c["noise"]}
            for d in c["radii"]:
                used = curves[d][c["beta_method"]]
                for k in c["noise"]:
                    bar.note(f"rep {rep}: radius {d}, noise {k}")
                    measured = _pattern_recall(cues[k], targets, keys, n, d, used.beta,
                                               c["iterations"])
                    records.append({
                        "experiment": "attention", "repetition": rep, "radius": d, "noise": k,
                        "n_cues_read": len(targets),
                        "beta_paper": curves[d]["paper"].beta, "beta_ols": curves[d]["ols"].beta,
                        "beta": used.beta,
                        "weights_max_abs_diff": used.max_abs_diff,
                        "weights_total_variation": used.total_variation,
                        "weights_kl": used.kl,
                        **measured, **scalar_config, **seeds, **stamp,
                    })
                    bar.update()
    except KeyboardInterrupt:
        _interrupted(records, total)
    finally:
        bar.close()
    return records


# ---------------------------------------------------------------------------
# Registry: configure() validates, run() executes
# ---------------------------------------------------------------------------

#: The experiments by name: the public function of each.
EXPERIMENTS = {
    "capacity": capacity,
    "critical_distance": critical_distance,
    "attention": attention_comparison,
}

_CONFIGURE = {
    "capacity": _capacity_config,
    "critical_distance": _critical_distance_config,
    "attention": _attention_config,
}

_RUN = {
    "capacity": _run_capacity,
    "critical_distance": _run_critical_distance,
    "attention": _run_attention,
}

#: Named parameter sets per experiment. ``small`` runs in seconds (the default
#: of the command line); ``kanerva`` is the canonical memory (n = 1000,
#: N = 10**6, d = 451, int8 counters: 1.06 GiB) and takes minutes.
PRESETS = {
    "capacity": {
        "small": {},
        "kanerva": {
            "n_bits": 1000, "n_locations": 1_000_000, "radius": 451, "counter_dtype": "int8",
            "n_patterns": [1000, 2000, 5000, 10000, 15000, 20000, 30000, 40000, 60000],
            "noise": [0, 50, 100, 150, 200], "n_cues": 100, "iterations": 10,
        },
    },
    "critical_distance": {
        "small": {},
        "kanerva": {
            "n_bits": 1000, "n_locations": 1_000_000, "radius": 451, "counter_dtype": "int8",
            "n_patterns": [10000], "step": 10, "n_cues": 40, "iterations": 20,
        },
    },
    "attention": {
        "small": {},
        "digits": {"dataset": "digits", "noise": list(range(0, 13))},
    },
}


def configure(experiment: str, **kwargs) -> dict:
    """Validate an experiment's arguments and return its full configuration.

    Cheap (no memory is allocated), so an application can refuse bad arguments
    before any long work; :func:`run` then executes the configuration.

    Parameters
    ----------
    experiment : {"capacity", "critical_distance", "attention"}
    **kwargs
        Arguments of the experiment's function (except ``progress``); missing
        ones take the function's defaults.

    Returns
    -------
    dict
        JSON-serialisable: every parameter, resolved (e.g. the radius from an
        activation probability), with ``"experiment"`` naming the runner.

    Raises
    ------
    TypeError, ValueError, MemoryError, ImportError
        As the experiment would.

    Examples
    --------
    >>> from fastsdm.experiments import configure
    >>> config = configure("capacity", n_bits=1000, n_locations=1000)
    >>> config["radius"], round(config["activation_probability"], 6)
    (451, 0.001072)
    """
    experiment = check_choice(experiment, "experiment", tuple(EXPERIMENTS))
    signature = inspect.signature(EXPERIMENTS[experiment])
    if "progress" in kwargs:
        raise TypeError("configure() takes no progress argument; pass it to run()")
    try:
        bound = signature.bind(**kwargs)
    except TypeError as exc:
        raise TypeError(f"{experiment}: {exc}") from None
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop("progress")
    return _CONFIGURE[experiment](**arguments)


def run(config: Mapping, progress: bool = True) -> Records:
    """Run a configuration made by :func:`configure`.

    Examples
    --------
    >>> from fastsdm.experiments import configure, run
    >>> config = configure("attention", radii=[11], n_patterns=32, noise=[0], n_cues=4)
    >>> run(config, progress=False)[0]["sdm_exact_recall"]
    1.0
    """
    return _RUN[config["experiment"]](dict(config), progress)


# ---------------------------------------------------------------------------
# Output: CSV, JSON, text tables
# ---------------------------------------------------------------------------


def _plain(value):
    """A JSON/CSV-friendly Python scalar (NaN and inf become None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _columns(rows: Sequence[Mapping]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def to_csv(records: Sequence[Mapping], path) -> Path:
    """Write rows to a CSV file (header = every key, in first-seen order).

    ``None``, NaN and infinities are written as empty fields.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastsdm.experiments import to_csv
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = to_csv([{"m": 1, "recall": 0.5}, {"m": 2, "recall": None}],
    ...                   os.path.join(tmp, "r.csv"))
    ...     print(path.read_text(), end="")
    m,recall
    1,0.5
    2,
    """
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=_columns(records), restval="")
        writer.writeheader()
        for row in records:
            plain = {k: _plain(v) for k, v in row.items()}
            writer.writerow({k: "" if v is None else v for k, v in plain.items()})
    return path


def to_json(records: Sequence[Mapping], path, *, indent: int | None = 1) -> Path:
    """Write rows to a JSON file: an array of objects (NaN and inf become null).

    Examples
    --------
    >>> import json, os, tempfile
    >>> from fastsdm.experiments import to_json
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = to_json([{"m": 1, "recall": float("nan")}], os.path.join(tmp, "r.json"))
    ...     json.loads(path.read_text())
    [{'m': 1, 'recall': None}]
    """
    path = Path(path)
    path.write_text(json.dumps([_plain(dict(row)) for row in records], indent=indent,
                               allow_nan=False) + "\n", encoding="utf-8")
    return path


#: Columns of :func:`summary_table` per experiment: parameters, then metrics.
SUMMARY_COLUMNS = {
    "capacity": (("n_patterns", "noise"),
                 ("bit_error_rate_1", "theory_bit_error_rate_1", "theory_bit_error_rate_1_paper",
                  "exact_recall_1", "theory_exact_recall_1", "exact_recall_final",
                  "mean_steps")),
    "critical_distance": (("n_patterns", "cue_distance"),
                          ("mean_distance_1", "theory_distance_1", "theory_distance_1_paper",
                           "mean_distance_final", "exact_recall_final", "mean_steps")),
    "attention": (("radius", "noise"),
                  ("beta", "weights_total_variation", "sdm_exact_recall",
                   "softmax_exact_recall", "read_agreement")),
}


def _format_cell(value, float_format: str) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(value)
    return format(value, float_format)


def summary_table(records: Sequence[Mapping], columns: Sequence[str] | None = None, *,
                  keys: Sequence[str] | None = None, style: str = "markdown",
                  float_format: str = ".4g") -> str:
    """An aligned text table of rows, averaged over repetitions.

    Parameters
    ----------
    records : sequence of dict
    columns : sequence of str, optional
        Metric columns. Default: a per-experiment selection
        (:data:`SUMMARY_COLUMNS`, by the rows' ``"experiment"``), or every
        numeric column of unknown rows.
    keys : sequence of str, optional
        Parameter columns that identify a point: rows sharing them (i.e.
        repetitions) are averaged; a ``reps`` column counts them when more than
        one. Default: the experiment's parameters.
    style : {"markdown", "plain"}
        A Markdown pipe table, or space-aligned columns under a dashed rule.
    float_format : str
        Format spec for floats.

    Returns
    -------
    str

    Examples
    --------
    >>> from fastsdm.experiments import summary_table
    >>> rows = [{"m": 100, "recall": 1.0}, {"m": 100, "recall": 0.5},
    ...         {"m": 200, "recall": 0.25}]
    >>> print(summary_table(rows, ["recall"], keys=["m"]))
    |   m | recall | reps |
    |----:|-------:|-----:|
    | 100 |   0.75 |    2 |
    | 200 |   0.25 |    1 |
    >>> print(summary_table(rows[2:], ["recall"], keys=["m"], style="plain"))
      m  recall
    ---  ------
    200    0.25
    """
    style = check_choice(style, "style", ("markdown", "plain"))
    rows = list(records)
    if not rows:
        return "(no rows)"
    default_keys, default_columns = SUMMARY_COLUMNS.get(rows[0].get("experiment"), ((), ()))
    keys = list(default_keys if keys is None else keys)
    if columns is None:
        columns = default_columns or [
            k for k in _columns(rows) if k not in keys
            and isinstance(rows[0].get(k), numbers.Real) and not isinstance(rows[0][k], bool)]
    columns = [c for c in columns if c not in keys]
    missing = [c for c in keys + columns if all(c not in row for row in rows)]
    if missing:
        raise ValueError(f"summary_table: no row has the column(s) {missing}; available: "
                         f"{_columns(rows)}")
    groups: dict[tuple, list[Mapping]] = {}
    for i, row in enumerate(rows):
        # Without keys every row stands alone; with keys, repetitions are averaged.
        key = tuple(row.get(k) for k in keys) if keys else (i,)
        groups.setdefault(key, []).append(row)
    counted = any(len(g) > 1 for g in groups.values())
    header = keys + columns + (["reps"] if counted else [])
    body = []
    for key, group in groups.items():
        cells = list(key) if keys else []
        for col in columns:
            values = [_plain(r.get(col)) for r in group]
            numeric = [v for v in values if isinstance(v, numbers.Real)
                       and not isinstance(v, bool)]
            if len(group) > 1 and numeric and len(numeric) == len(values):
                cells.append(float(np.mean(numeric)))
            else:
                cells.append(values[0])
        if counted:
            cells.append(len(group))
        body.append([_format_cell(v, float_format) for v in cells])
    numeric_col = [all(_is_number_text(r[i]) for r in body) for i in range(len(header))]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]

    def line(cells):
        out = [c.rjust(w) if num else c.ljust(w)
               for c, w, num in zip(cells, widths, numeric_col, strict=True)]
        return "| " + " | ".join(out) + " |" if style == "markdown" else "  ".join(out).rstrip()

    if style == "markdown":
        rule = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2))
                              for w, num in zip(widths, numeric_col, strict=True)) + "|"
    else:
        rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in body)])


def _is_number_text(text: str) -> bool:
    if text == "":
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True
