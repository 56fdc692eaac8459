"""The critical-distance experiment: Kanerva's convergence curves and the one-read models."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .._validation import check_int
from . import _common as common
from . import _fields as fields
from ._common import Records
from ._progress import Progress
from ._registry import Experiment, Names, about, param, register

__all__ = ["CriticalDistanceConfig", "critical_distance", "draw", "estimate_critical_distances",
           "findings", "recall_crossing", "run"]

NAME = "critical_distance"


@dataclass(frozen=True, kw_only=True)
class CriticalDistanceConfig:
    """The arguments of :func:`critical_distance` (see it for their meaning)."""

    n_bits: int = fields.n_bits()
    n_locations: int = fields.n_locations()
    radius: int | None = fields.radius()
    activation_probability: float | None = fields.activation_probability()
    counter_dtype: str = fields.counter_dtype()
    n_patterns: Sequence[int] = fields.n_patterns((250, 500, 1000),
                                                  "numbers of stored patterns, one curve each")
    distances: Sequence[int] | None = param(
        None, "cue distances in bits: 0,10,20 or start:stop:step (default 0..n/2 every "
        "--step bits)", flag="--distances", parse=fields.parse_int_list(0), metavar="LIST",
        resets=("step",))
    step: int | None = param(None, "spacing of the default cue-distance grid", flag="--step",
                             parse=fields.parse_positive_int, metavar="B", resets=("distances",))
    n_cues: int = fields.n_cues(200, "cues per curve")
    iterations: int = fields.iterations(20, "maximum reads per cue")
    repetitions: int = fields.repetitions()
    seed: int | None = fields.seed()

    def resolve(self, names: Names) -> dict:
        with about("n_patterns"):
            n_patterns = fields.int_list(self.n_patterns, names("n_patterns"), 1,
                                         hint="numbers of stored patterns, e.g. [500, 1000]")
        memory = fields.check_memory(self, names, max(n_patterns))
        n_bits = memory["n_bits"]
        distances, step = self.distances, self.step
        if distances is None:
            with about("step"):
                step = (max(1, round(n_bits / 64)) if step is None
                        else check_int(step, names("step"), 1,
                                       hint="the spacing of the cue-distance grid"))
                count = n_bits // 2 // step + 1
                if count > fields.MAX_VALUES:  # counted before the grid is built
                    raise ValueError(f"{names.value('step', step)} gives {count:,} cue "
                                     f"distances (0..n_bits/2), more than "
                                     f"{fields.MAX_VALUES:,}; use a larger {names('step')}")
            distances = range(0, n_bits // 2 + 1, step)
        elif step is not None:
            with about("distances", "step"):
                raise ValueError(f"give {names('distances')} or {names('step')}, not both (got "
                                 f"{names.value('step', step)}); the grid is 0..n_bits/2 every "
                                 "step bits, or exactly the distances given")
        with about("distances"):
            distances = fields.int_list(distances, names("distances"), 0, n_bits,
                                        hint="cue distances in bits, between 0 and n_bits")
        memory = fields.with_activation(memory)  # after the last check: O(n_bits^2)
        return {
            "experiment": NAME,
            **memory,
            # Iterated reads feed the read back as an address: words are stored
            # autoassociatively, and the matching one-read model is used.
            "storage": "autoassociative",
            "theory_model": "autoassociative",
            "n_patterns": n_patterns,
            "distances": distances,
            "step": step,
            "n_cues": self.n_cues, "iterations": self.iterations,
            "repetitions": self.repetitions, "seed": self.seed,
        }


def estimate_critical_distances(rows: list[dict]) -> dict:
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


def recall_crossing(x: Sequence[float], recall: Sequence[float],
                    level: float = 0.5) -> float | None:
    """Where a recall curve first falls below ``level``, linearly interpolated.

    ``x`` ascending.  The first point already below gives ``x[0]``; a curve
    that never falls below ``level`` on the grid gives None.

    Examples
    --------
    >>> from fastsdm.experiments._critical_distance import recall_crossing
    >>> recall_crossing([0, 40, 48, 56], [1.0, 0.75, 0.25, 0.0]), recall_crossing([0, 8], [1, 1])
    (44.0, None)
    """
    for k, value in enumerate(recall):
        if value < level:
            if k == 0:
                return float(x[0])
            a, b = float(recall[k - 1]), float(value)
            return float(x[k - 1] + (x[k] - x[k - 1]) * (a - level) / (a - b))
    return None


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
      exactly.  (The figure marks where exact recall crosses 50 %, interpolated
      between the grid points around it.)
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
    return RECORD.execute(locals())


def run(config: Mapping, progress: bool) -> Records:
    """Run a configuration of :class:`CriticalDistanceConfig` (made by ``configure``)."""
    from .. import theory
    from ..bits import flip_bits

    c = dict(config)
    n, N, d = c["n_bits"], c["n_locations"], c["radius"]
    total = c["repetitions"] * len(c["n_patterns"]) * len(c["distances"])
    records = Records(experiment=NAME, config=c, expected=total)
    # the patterns written between rows are timed apart (the ETA's rate per row)
    bar = Progress(total, "critical distance", progress,
                   work=c["repetitions"] * c["n_patterns"][-1])
    scalar_config = common.scalar_config(c)
    stamp = common.versions()
    try:
        for rep, seeds, mem, m, _, targets, rng in common.filled_memories(c, bar):
            with bar.work(0):  # the checkpoint's theory is not a row's time either
                model = theory.critical_distance(n, d, N, m, model=c["theory_model"])
                paper = theory.critical_distance(n, d, N, m, model="paper")
            curve = []
            for x in c["distances"]:
                bar.note(f"rep {rep}: m={m}, cue distance {x}")
                cues = flip_bits(targets, n, x, seed=rng)
                measured = common.recall(mem, cues, targets, c["iterations"])
                row = {
                    "experiment": NAME, "repetition": rep,
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
            estimates = estimate_critical_distances(curve)
            for row in curve:
                row.update(estimates)
    except KeyboardInterrupt:
        common.interrupted(records)
    finally:
        bar.close()
    return records


def _curves(rows: Sequence[Mapping]) -> dict:
    """Per stored-pattern count: the recall curve (averaged) and the critical distances."""
    from . import _figures as fig_

    stats = {v: fig_.mean_by(rows, ("n_patterns", "cue_distance"), v)
             for v in ("exact_recall_final", "critical_distance_sim",
                       "critical_distance_recall", "critical_distance_theory",
                       "critical_distance_theory_paper")}
    out = {}
    for m in sorted({r["n_patterns"] for r in rows}):
        x, y, _ = fig_.series(stats["exact_recall_final"], (m,))

        def mean(key, m=m):
            values = [v for k, (v, _) in stats[key].items() if k[0] == m]
            return float(np.mean(values)) if values else None

        out[m] = {"x": x, "recall": y, "crossing": recall_crossing(x, y) if len(x) else None,
                  "sim": mean("critical_distance_sim"),
                  "recall_grid": mean("critical_distance_recall"),
                  "model": mean("critical_distance_theory"),
                  "paper": mean("critical_distance_theory_paper")}
    return out


def findings(records: Records) -> list[str]:
    """Theory against measurement, and each curve's critical distances, one line each."""
    lines = [common.theory_agreement(records, "mean_distance_1", "theory_distance_1",
                                     "theory_distance_1_paper", "bits")]
    finished = [r for r in records if r["critical_distance_sim"] is not None]
    crossings = {m: c["crossing"] for m, c in _curves(finished).items()} if finished else {}
    seen: dict[int, list] = {}
    for r in finished:
        seen.setdefault(r["n_patterns"], []).append(r)
    for m, rows in seen.items():
        sims = sorted({r["critical_distance_sim"] for r in rows})
        recalls = sorted({r["critical_distance_recall"] for r in rows})
        crossing = crossings.get(m)
        where = ("beyond the grid" if crossing is None else f"at {crossing:.1f} bits")
        lines.append(f"m = {m}: critical distance {'/'.join(map(str, sims))} bits "
                     f"(mean final < cue), {'/'.join(map(str, recalls))} bits (>= 50% "
                     f"recalled; recall crosses 50% {where}); one-step model "
                     f"{rows[0]['critical_distance_theory']} bits "
                     f"({rows[0]['theory_model']}; paper model "
                     f"{rows[0]['critical_distance_theory_paper']} bits)")
    return lines


def _layout(panels: int) -> tuple[int, int]:
    ncols = {1: 1, 2: 2, 3: 3, 4: 2}.get(panels, 3)
    return math.ceil(panels / ncols), ncols


def draw(rows: Sequence[Mapping]):
    """A panel per stored-pattern count and the exact-recall panel (plot_critical_distance)."""
    from matplotlib.lines import Line2D

    from . import _figures as fig_

    r0 = rows[0]
    n = r0["n_bits"]
    name = r0.get("theory_model", "autoassociative")
    reps = len({r["repetition"] for r in rows})
    ms = sorted({r["n_patterns"] for r in rows})
    stats = {v: fig_.mean_by(rows, ("n_patterns", "cue_distance"), v)
             for v in ("mean_distance_final", "mean_distance_1", "theory_distance_1",
                       "theory_distance_1_paper")}
    curves = _curves(rows)
    # At least 1: a grid of distance 0 alone (--step beyond n) would give a
    # zero-width axis, which matplotlib widens with a warning.
    top = max(1, max(r["cue_distance"] for r in rows))
    nrows, ncols = _layout(len(ms) + 1)
    fig, grid = fig_.new_figure(ncols, (3.9 * ncols + 1.0, 3.5 * nrows + 0.9), nrows=nrows)
    axes = list(np.asarray(grid).ravel())
    for ax in axes[len(ms) + 1:]:
        ax.remove()
    colors = fig_.colors(len(ms), "tab10")
    recall_ax = axes[len(ms)]
    for ax, color, m in zip(axes, colors, ms, strict=False):
        curve = curves[m]
        ax.plot([0, top], [0, top], color="0.6", lw=1)
        x, y, s = fig_.series(stats["mean_distance_final"], (m,))
        fig_.errorbar(ax, x, y, s, reps, color=color, marker="o", ms=3.5, lw=1.6)
        x, y, _ = fig_.series(stats["mean_distance_1"], (m,))
        ax.plot(x, y, color=color, ls=":", lw=1.2, marker="o", ms=3, mfc="white")
        x, y, _ = fig_.series(stats["theory_distance_1"], (m,))
        ax.plot(x, y, color="0.15", ls="--", lw=1.0)
        x, y, _ = fig_.series(stats["theory_distance_1_paper"], (m,))
        ax.plot(x, y, color="0.45", ls="-.", lw=0.8)
        if curve["sim"] is not None:
            ax.axvline(curve["sim"], color=color, lw=1.0, ls=(0, (1, 2)))
        sim = ("n/a (unfinished curve)" if curve["sim"] is None
               else f"{curve['sim']:.0f} bits")
        models = ("" if curve["model"] is None else
                  f" (model {curve['model']:.0f}, paper {curve['paper']:.0f})")
        ax.set_title(f"m = {m:,}: critical distance {sim}{models}", fontsize=9)
        ax.set_xlim(0, top)
        ax.set_ylim(0, max(top, n / 2) * 1.05)
        ax.set_xlabel("cue distance to the stored pattern (bits)")
        ax.set_ylabel("mean distance after reading (bits)")
    recall_handles = []
    for color, m in zip(colors, ms, strict=True):
        curve = curves[m]
        x, y, s = fig_.series(fig_.mean_by(rows, ("n_patterns", "cue_distance"),
                                           "exact_recall_final"), (m,))
        fig_.errorbar(recall_ax, x, y, s, reps, color=color, marker="o", ms=3.5, lw=1.4)
        crossing = curve["crossing"]
        if crossing is not None:
            recall_ax.axvline(crossing, color=color, lw=1.0, ls=(0, (1, 2)))
            recall_ax.plot([crossing], [0.5], marker="D", ms=5, color=color, zorder=4)
        where = "beyond the grid" if crossing is None else f"{crossing:.1f} bits"
        recall_handles.append((Line2D([], [], color=color, marker="o", ms=3.5, lw=1.4),
                               f"m = {m:,}: 50 % crossed at {where}"))
    recall_ax.axhline(0.5, color="0.6", lw=0.8)
    recall_ax.set_xlim(0, top)
    recall_ax.set_ylim(-0.03, 1.03)
    recall_ax.set_xlabel("cue distance to the stored pattern (bits)")
    recall_ax.set_ylabel("converged to the stored pattern (fraction)")
    recall_ax.set_title("Exact recall after iterating (◆: crosses 50 %)", fontsize=9)
    styles = [Line2D([], [], color="0.3", marker="o", ms=3.5, lw=1.6),
              Line2D([], [], color="0.3", ls=":", lw=1.2, marker="o", ms=3, mfc="white"),
              Line2D([], [], color="0.15", ls="--", lw=1.0),
              Line2D([], [], color="0.45", ls="-.", lw=0.8),
              Line2D([], [], color="0.6", lw=1),
              Line2D([], [], color="0.3", lw=1.0, ls=(0, (1, 2)))]
    labels = [f"after iterated reads (≤ {r0['iterations']})", "after one read",
              f"one-read model ({name})", "paper model (Bricken & Pehlevan)",
              "no change (y = x)", "critical distance: mean final < cue"]
    handles, texts = map(list, zip(*recall_handles, strict=True))
    # Outside the axes: a legend never covers the curves it explains.
    fig.legend(styles + handles, labels + texts, loc="outside lower center",
               ncol=3, frameon=False)
    fig.suptitle(f"SDM critical distance — {fig_.memory_title(r0)}", fontsize=10)
    return fig


RECORD = register(Experiment(
    name=NAME,
    config=CriticalDistanceConfig,
    run=run,
    function=critical_distance,
    draw=draw,
    presets={
        "small": {},
        "kanerva": {
            "n_bits": 1000, "n_locations": 1_000_000, "radius": 451, "counter_dtype": "int8",
            "n_patterns": [10000], "step": 10, "n_cues": 40, "iterations": 20,
        },
    },
    summary=(("n_patterns", "cue_distance"),
             ("mean_distance_1", "theory_distance_1", "theory_distance_1_paper",
              "mean_distance_final", "exact_recall_final", "mean_steps")),
    command="critical-distance",
    title="final vs cue distance under iterated reads",
    description="Kanerva's convergence experiment: store m patterns, read from cues at "
                "distances 0..n/2, iterate, and record the final distance to the target; "
                "estimate the critical distance and compare with the one-step model. Preset "
                "kanerva: the canonical memory with 10,000 patterns (Kanerva reports about "
                "209 bits; about 1.5 minutes).",
    notes=("no radius: the radius activating a fraction 0.001 of the locations",
           "no distances: 0..n_bits/2 every step bits, step = round(n_bits/64)"),
    findings=findings,
    preface=common.theory_preface,
))
