"""The capacity experiment: recall as a memory fills, beside the one-read theory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .._validation import check_int
from . import _common as common
from . import _fields as fields
from ._common import STORAGE, Records
from ._progress import Progress
from ._registry import Experiment, Names, about, param, register

__all__ = ["CapacityConfig", "capacity", "draw", "findings", "run"]

NAME = "capacity"


@dataclass(frozen=True, kw_only=True)
class CapacityConfig:
    """The arguments of :func:`capacity` (see it for their meaning)."""

    n_bits: int = fields.n_bits()
    n_locations: int = fields.n_locations()
    radius: int | None = fields.radius()
    activation_probability: float | None = fields.activation_probability()
    counter_dtype: str = fields.counter_dtype()
    n_patterns: Sequence[int] = fields.n_patterns(
        (250, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 12000, 16000),
        "checkpoints, numbers of stored patterns: 100,200,400 or start:stop:step")
    noise: Sequence[int] = fields.noise((0, 16, 32, 48))
    storage: str = param(
        "autoassociative", "store each pattern at its own address (default) or at an "
        "independent random address (one read, no iteration); the theory columns use the "
        "matching model", flag="--storage", choices=STORAGE, check=fields.choice(STORAGE),
        resets=("iterations",))
    n_cues: int = fields.n_cues(200, "cues read per point")
    iterations: int | None = fields.iterations(
        None, "maximum reads of the iterated read (default 10; 1 when heteroassociative)",
        check=False)
    repetitions: int = fields.repetitions()
    seed: int | None = fields.seed()

    def resolve(self, names: Names) -> dict:
        auto = self.storage == "autoassociative"
        iterations = self.iterations
        with about("iterations"):
            if iterations is None:
                iterations = 10 if auto else 1
            iterations = check_int(iterations, names("iterations"), 1,
                                          hint="the maximum number of reads per cue (1 = a "
                                               "single read)")
            if not auto and iterations > 1:
                raise ValueError(f"{names.value('iterations', iterations)} needs "
                                 f"{names.value('storage', 'autoassociative')}: a "
                                 "heteroassociative read returns data, not an address to read "
                                 f"at again; use {names.value('iterations', 1)}")
        with about("n_patterns"):
            n_patterns = fields.int_list(self.n_patterns, names("n_patterns"), 1,
                                         hint="numbers of stored patterns, e.g. [500, 1000, "
                                              "2000]")
        # A heteroassociative memory also keeps the addresses of the stored words.
        memory = fields.check_memory(self, names, max(n_patterns) * (1 if auto else 2))
        with about("noise"):
            noise = fields.int_list(self.noise, names("noise"), 0, memory["n_bits"],
                                    hint="cue noise in flipped bits, between 0 and n_bits")
        memory = fields.with_activation(memory)  # after the last check: O(n_bits^2)
        return {"experiment": NAME, **memory, "storage": self.storage,
                "theory_model": self.storage, "n_patterns": n_patterns, "noise": noise,
                "n_cues": self.n_cues, "iterations": iterations,
                "repetitions": self.repetitions, "seed": self.seed}


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
    return RECORD.execute(locals())


def run(config: Mapping, progress: bool) -> Records:
    """Run a configuration of :class:`CapacityConfig` (made by ``configure``)."""
    from .. import theory
    from ..bits import flip_bits

    c = dict(config)
    n, N, d = c["n_bits"], c["n_locations"], c["radius"]
    total = c["repetitions"] * len(c["n_patterns"]) * len(c["noise"])
    records = Records(experiment=NAME, config=c, expected=total)
    # the patterns written between rows are timed apart (the ETA's rate per row)
    bar = Progress(total, "capacity", progress, work=c["repetitions"] * c["n_patterns"][-1])
    scalar_config = common.scalar_config(c)
    stamp = common.versions()
    auto = c["storage"] == "autoassociative"
    try:
        for rep, seeds, mem, m, keys, targets, rng in common.filled_memories(c, bar):
            model = dict(model=c["theory_model"])
            with bar.work(0):  # the checkpoint's theory is not a row's time either
                model_ber = theory.bit_error_probability(n, d, N, m, c["noise"], **model)
                model_exact = theory.exact_recall_probability(n, d, N, m, c["noise"], **model)
                paper_ber = theory.bit_error_probability(n, d, N, m, c["noise"],
                                                         model="paper")
                snr = theory.snr(n, d, N, m)
            for i, k in enumerate(c["noise"]):
                bar.note(f"rep {rep}: m={m}, noise={k}")
                cues = flip_bits(keys, n, k, seed=rng)
                measured = common.recall(mem, cues, targets, c["iterations"], auto)
                records.append({
                    "experiment": NAME, "repetition": rep, "n_patterns": m,
                    "noise": k, "noise_fraction": k / n, "n_cues_read": len(targets),
                    **measured,
                    "theory_bit_error_rate_1": float(model_ber[i]),
                    "theory_exact_recall_1": float(model_exact[i]),
                    "theory_bit_error_rate_1_paper": float(paper_ber[i]),
                    # Kanerva's (1993) bit error from the signal-to-noise ratio: Φ(−SNR).
                    "theory_snr": snr, "theory_bit_error_rate_snr": NormalDist().cdf(-snr),
                    **scalar_config, **seeds, **stamp,
                })
                bar.update()
    except KeyboardInterrupt:
        common.interrupted(records)
    finally:
        bar.close()
    return records


def findings(records: Records) -> list[str]:
    """The one-read theory against the measurement, in one line."""
    return [common.theory_agreement(records, "bit_error_rate_1", "theory_bit_error_rate_1",
                                    "theory_bit_error_rate_1_paper", "bit error rate")]


#: The legend's words for noise 0: its iterated curve stays at 1.0 far beyond
#: capacity, because a cue that *is* a stored pattern only tests that pattern's
#: stability (a fixed point), not recall from a noisy cue.
NOISE_0 = "noise 0: the cue is the stored pattern (stability, not recall from noise)"
NOISE_0_PANEL = "dotted, noise 0: stored patterns as cues (stability, not capacity)"


def draw(rows: Sequence[Mapping]):
    """Bit errors and exact recall against stored patterns, per cue noise (see plot_capacity)."""
    from matplotlib.lines import Line2D

    from .. import theory
    from . import _figures as fig_

    r0 = rows[0]
    n, N, d = r0["n_bits"], r0["n_locations"], r0["radius"]
    name = r0.get("theory_model", "autoassociative")
    reps = len({r["repetition"] for r in rows})
    noises = sorted({r["noise"] for r in rows})
    ms = sorted({r["n_patterns"] for r in rows})
    dense = np.unique(np.geomspace(ms[0], ms[-1], 60).round().astype(int))
    model = {int(m): (theory.bit_error_probability(n, d, N, int(m), noises, model=name),
                      theory.exact_recall_probability(n, d, N, int(m), noises, model=name),
                      theory.bit_error_probability(n, d, N, int(m), noises, model="paper"))
             for m in dense}
    stats = {v: fig_.mean_by(rows, ("noise", "n_patterns"), v)
             for v in ("bit_error_rate_1", "exact_recall_1", "exact_recall_final")}
    fig, axes = fig_.new_figure(3, (13.0, 4.3))
    for i, (color, k) in enumerate(zip(fig_.colors(len(noises)), noises, strict=True)):
        label = NOISE_0 if k == 0 else f"noise {k} bits ({100 * k / n:.0f}%)"
        ber = np.array([model[int(m)][0][i] for m in dense])
        exact = np.array([model[int(m)][1][i] for m in dense])
        paper = np.array([model[int(m)][2][i] for m in dense])
        x, y, s = fig_.series(stats["bit_error_rate_1"], (k,))
        keep = y > 0
        fig_.errorbar(axes[0], x[keep], y[keep], s[keep], reps, color=color, marker="o", ms=4,
                      ls="none", label=label)
        axes[0].plot(dense, ber, color=color, ls="--", lw=1.2)
        axes[0].plot(dense, paper, color=color, ls=":", lw=0.9, alpha=0.7)
        x, y, s = fig_.series(stats["exact_recall_1"], (k,))
        fig_.errorbar(axes[1], x, y, s, reps, color=color, marker="o", ms=4, ls="none",
                      label=label)
        axes[1].plot(dense, exact, color=color, ls="--", lw=1.2)
        x, y, s = fig_.series(stats["exact_recall_final"], (k,))
        # noise 0 iterated is drawn dashed and named on the panel: it is not a capacity.
        fig_.errorbar(axes[2], x, y, s, reps, color=color, marker="o", ms=4, lw=1.2,
                      ls=":" if k == 0 else "-", label=label)
    cues = max(r["n_cues_read"] for r in rows)
    floor = 1.0 / (n * cues)  # one wrong bit among all the cues of a point
    axes[0].axhline(floor, color="0.5", lw=0.8, ls=":")
    axes[0].annotate("one wrong bit in all cues", (dense[0], floor), xytext=(2, 3),
                     textcoords="offset points", fontsize=7, color="0.4")
    axes[0].set_yscale("log")
    axes[0].set_ylim(floor / 5, 0.7)
    for ax in axes[1:]:
        ax.set_ylim(-0.03, 1.03)
    axes[0].set_title("One read: bit error rate")
    axes[0].set_ylabel("bit error rate (fraction of n bits)")
    axes[1].set_title("One read: exact recall")
    axes[1].set_ylabel("exact recall (fraction of cues)")
    # Said above the panel, where it covers no curve.
    axes[2].set_title(f"Iterated reads (≤ {r0['iterations']}): exact recall"
                      + (f"\n{NOISE_0_PANEL}" if 0 in noises else ""))
    axes[2].set_ylabel("exact recall (fraction of cues)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("stored patterns m (log scale)")
    handles, labels = axes[2].get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", ls="--", lw=1.2),
                Line2D([], [], color="0.3", ls=":", lw=0.9)]
    labels += [f"theory, one read: {name} model", "paper model (Bricken & Pehlevan, "
               "App. B; left panel)"]
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 3),
               frameon=False)
    fig.suptitle(f"SDM capacity, {name} storage — {fig_.memory_title(r0)}", fontsize=10)
    return fig


RECORD = register(Experiment(
    name=NAME,
    config=CapacityConfig,
    run=run,
    function=capacity,
    draw=draw,
    presets={
        "small": {},
        "kanerva": {
            "n_bits": 1000, "n_locations": 1_000_000, "radius": 451, "counter_dtype": "int8",
            "n_patterns": [1000, 2000, 5000, 10000, 15000, 20000, 30000, 40000, 60000],
            "noise": [0, 50, 100, 150, 200], "n_cues": 100, "iterations": 10,
        },
    },
    summary=(("n_patterns", "noise"),
             ("bit_error_rate_1", "theory_bit_error_rate_1", "theory_bit_error_rate_1_paper",
              "exact_recall_1", "theory_exact_recall_1", "exact_recall_final", "mean_steps")),
    command="capacity",
    title="recall as the memory fills up, with the theory",
    description="Write random patterns incrementally into one memory; at each checkpoint "
                "read stored patterns from noisy cues, once and iterated, and compare bit "
                "errors and exact recall with the one-read model of fastsdm.theory and "
                "Kanerva's (1993) SNR theory. The small preset runs in seconds; kanerva (the "
                "canonical memory) in minutes.",
    notes=("no radius: the radius activating a fraction 0.001 of the locations",
           "no iterations: 10, or 1 with --storage heteroassociative"),
    findings=findings,
    preface=common.theory_preface,
))
