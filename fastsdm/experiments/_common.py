"""What every experiment's rows share: the records, seeds, versions and measurements.

The measurement helpers are module-level names so that a test can replace one
(e.g. :func:`recall`) to simulate Ctrl-C in the middle of a run.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "STORAGE",
    "ExperimentInterrupted",
    "Records",
    "cue_note",
    "filled_memories",
    "interrupted",
    "recall",
    "repetition_seeds",
    "row_distances",
    "scalar_config",
    "theory_agreement",
    "theory_preface",
    "versions",
]

#: How an experiment stores its words: each at its own address, or at an
#: independent random address (the names of the one-read models of fastsdm.theory).
STORAGE = ("autoassociative", "heteroassociative")


class ExperimentInterrupted(UserWarning):
    """Warned when Ctrl-C stops an experiment; the finished rows are returned."""


class Records(list):
    """The rows of an experiment: a ``list`` of dicts, plus what produced them.

    Parameters
    ----------
    rows : iterable of dict
    experiment : str
        ``"capacity"``, ``"critical_distance"``, ``"attention"`` or
        ``"family_capacity"``.
    config : dict
        The validated configuration (JSON-serialisable).
    interrupted : bool
        True when Ctrl-C stopped the run: the rows are those finished before.
    tables : dict of str to list of dict
        Secondary tidy tables (``"weights"`` for the attention comparison).
    expected : int, optional
        The number of rows the whole run produces (more than ``len(rows)``
        when it was interrupted).

    Examples
    --------
    >>> from fastsdm.experiments import Records
    >>> rows = Records([{"m": 100, "recall": 1.0}], experiment="demo")
    >>> rows, rows.experiment, rows.interrupted, isinstance(rows, list)
    ([{'m': 100, 'recall': 1.0}], 'demo', False, True)
    """

    def __init__(self, rows: Iterable[dict] = (), *, experiment: str = "",
                 config: Mapping | None = None, interrupted: bool = False,
                 tables: Mapping[str, list] | None = None, expected: int | None = None):
        super().__init__(rows)
        self.experiment = experiment
        self.config = dict(config or {})
        self.interrupted = interrupted
        self.tables = {name: list(rows) for name, rows in (tables or {}).items()}
        self.expected = expected


def versions() -> dict:
    """Versions recorded in every row: fastsdm, NumPy, numba and Python.

    Examples
    --------
    >>> from fastsdm.experiments import versions
    >>> sorted(versions())
    ['fastsdm_version', 'numba_version', 'numpy_version', 'python_version']
    """
    import numba

    from .._version import __version__

    return {"fastsdm_version": __version__, "numpy_version": np.__version__,
            "numba_version": numba.__version__, "python_version": platform.python_version()}


def scalar_config(config: Mapping) -> dict:
    """The configuration entries that every row repeats (lists stay in ``records.config``)."""
    return {k: v for k, v in config.items() if not isinstance(v, list)}


def repetition_seeds(seed: int, repetition: int, names: Sequence[str]) -> dict:
    """Independent 32-bit seeds for one repetition, recorded in its rows."""
    state = np.random.SeedSequence(seed, spawn_key=(repetition,)).generate_state(len(names))
    return {f"{name}_seed": int(s) for name, s in zip(names, state, strict=True)}


def interrupted(records: Records) -> None:
    """Mark ``records`` as stopped by Ctrl-C and say so with :class:`ExperimentInterrupted`."""
    records.interrupted = True
    warnings.warn(f"{records.experiment} interrupted (Ctrl-C) after {len(records)} of "
                  f"{records.expected} rows; returning the finished rows (records.interrupted "
                  "is True)", ExperimentInterrupted, stacklevel=_caller_stacklevel())


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _caller_stacklevel() -> int:
    """``stacklevel`` of the first frame outside fastsdm, for a warning raised from here.

    The experiments reach :func:`interrupted` through different depths of the
    package (a function, ``run(config)``, the command line), so a fixed level
    would point into the library instead of at the user's call.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def row_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distance between row i of ``a`` and row i of ``b`` (packed words)."""
    return np.unpackbits(np.ascontiguousarray(a ^ b).view(np.uint8), axis=1).sum(
        axis=1, dtype=np.int64)


def recall(mem, cues: np.ndarray, targets: np.ndarray, iterations: int,
           autoassociative: bool = True) -> dict:
    """Read ``cues`` once and iterated; distances of both results to ``targets``.

    The iterated read continues from the single read (so the first step is
    shared) and stops per cue at a fixed point, as ``SDM.read(iterations=)``.
    A heteroassociative read (``autoassociative=False``) is not iterated and has
    no fixed points (``fixed_point_fraction`` is None).
    """
    first = mem.read(cues)
    d1 = row_distances(first, targets)
    final = first.copy()
    steps = np.ones(cues.shape[0], dtype=np.int64)
    fixed = (first == cues).all(axis=1)
    if iterations > 1 and autoassociative and not fixed.all():
        todo = ~fixed
        more, info = mem.read(first[todo], iterations=iterations - 1, return_info=True)
        final[todo] = more
        steps[todo] += info.steps
        fixed[todo] = info.converged
    dist = row_distances(final, targets)
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


def filled_memories(c: dict, bar):
    """Per repetition, one memory filled up to each load of ``c["n_patterns"]``.

    Writing the patterns incrementally into one memory is much faster than
    rebuilding it per load.  Yields ``(repetition, seeds, memory, m, keys,
    targets, rng)``: ``targets`` are up to ``n_cues`` of the ``m`` stored
    patterns, ``keys`` the addresses they were written at (the targets
    themselves unless ``c["storage"]`` is heteroassociative), and ``rng`` draws
    that repetition's cue noise.
    """
    from ..bits import random_addresses
    from ..memory import SDM

    n = c["n_bits"]
    hetero = c.get("storage", "autoassociative") == "heteroassociative"
    for rep in range(c["repetitions"]):
        seeds = repetition_seeds(c["seed"], rep, ("memory", "pattern", "cue"))
        bar.note(f"rep {rep}: making the memory")
        with bar.work(0):  # not a row's time (the canonical memory: about a second)
            mem = SDM(n, c["n_locations"], radius=c["radius"],
                      counter_dtype=c["counter_dtype"], seed=seeds["memory_seed"])
            addresses = random_addresses(c["n_patterns"][-1], n, seed=seeds["pattern_seed"])
            patterns = addresses
            if hetero:
                patterns = random_addresses(c["n_patterns"][-1], n, seed=np.random.SeedSequence(
                    seeds["pattern_seed"], spawn_key=(1,)))
        rng = np.random.default_rng(seeds["cue_seed"])
        written = 0
        for m in c["n_patterns"]:
            bar.note(f"rep {rep}: writing {m} patterns")
            # Timed apart from the rows (the ETA); the first writes into the new
            # memory are not the rate of the rest.
            with bar.work(m - written, warmup=written == 0 and m < c["n_patterns"][-1]):
                mem.write(addresses[written:m], patterns[written:m] if hetero else None)
            written = m
            chosen = np.sort(rng.choice(m, size=min(c["n_cues"], m), replace=False))
            yield rep, seeds, mem, m, addresses[chosen], patterns[chosen], rng


def theory_agreement(records, measured: str, predicted: str, paper: str, unit: str) -> str:
    """Where the one-read theory and the measurement agree, in one line.

    Gaps are taken per point (``n_patterns`` and the noise or cue
    distance), between the theory and the measurement averaged over the
    repetitions, as the summary table shows it.
    """
    model = records[0]["theory_model"]
    axis = "noise" if "noise" in records[0] else "cue_distance"
    points: dict[tuple, list] = {}
    for r in records:
        points.setdefault((r["n_patterns"], r[axis]), []).append(r)

    def mean(rows, field):
        return float(np.mean([r[field] for r in rows]))

    gaps = {key: abs(mean(rows, predicted) - mean(rows, measured))
            for key, rows in points.items()}
    paper_gaps = [abs(mean(rows, paper) - mean(rows, measured)) for rows in points.values()]
    (m, value), worst = max(gaps.items(), key=lambda item: item[1])
    point = f"m = {m}, noise {value}" if axis == "noise" else f"m = {m}, cue distance {value}"
    return (f"theory ({model} model, one read) vs measurement: largest gap {worst:.3g} "
            f"({unit}, at {point}), median {float(np.median(list(gaps.values()))):.3g}; "
            f"the paper model's largest gap {max(paper_gaps):.3g}")


def cue_note(config: Mapping, names=None) -> str:
    """One line when ``n_cues`` exceeds the stored patterns somewhere, or ``""``.

    A point reads at most its ``m`` stored patterns (distinct targets): with
    fewer stored than ``n_cues``, every one of them is read, once
    (``n_cues_read`` in the rows).  ``names`` spells the parameter
    (:class:`~fastsdm.experiments._registry.Names`; default Python's).

    Examples
    --------
    >>> from fastsdm.experiments._common import cue_note
    >>> print(cue_note({"n_cues": 100, "n_patterns": [10, 50, 500]}))
    n_cues=100 is more than the stored patterns at 2 of 3 checkpoints (10, 50): every stored
    pattern is read there, once (n_cues_read in the rows)
    >>> cue_note({"n_cues": 8, "n_patterns": 1024})
    ''
    """
    from ._registry import PYTHON

    names = PYTHON if names is None else names
    cues, loads = config.get("n_cues"), config.get("n_patterns")
    if cues is None or loads is None:
        return ""
    loads = [loads] if isinstance(loads, int) else list(loads)
    fewer = [m for m in loads if m < cues]
    if not fewer:
        return ""
    where = (f"the {fewer[0]:,} stored patterns" if len(loads) == 1 else
             f"the stored patterns at {len(fewer)} of {len(loads)} checkpoints ("
             + ", ".join(f"{m:,}" for m in fewer[:6]) + (", ..." if len(fewer) > 6 else "")
             + ")")
    return (f"{names.value('n_cues', cues)} is more than {where}: every stored pattern is "
            f"read{' there' if len(loads) > 1 else ''}, once (n_cues_read in the rows)")


def theory_preface(config: Mapping) -> str:
    """The line of ``summary.md`` that names the theory columns' model."""
    model = config.get("theory_model")
    return (f"Theory columns: the {model} one-read model of fastsdm.theory (the storage of "
            f"this run); *_paper: the model of Bricken & Pehlevan (2021, App. B)."
            if model else "")
