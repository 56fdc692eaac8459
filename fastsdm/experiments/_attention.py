"""The attention comparison: SDM's pattern-view read against softmax with the fitted β."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .. import _machine
from .._validation import check_int, check_real, n_words
from . import _common as common
from . import _fields as fields
from ._common import Records
from ._progress import Progress
from ._registry import PYTHON, Experiment, Names, about, param, register

__all__ = ["DATASETS", "AttentionConfig", "attention_comparison", "draw", "load_digits",
           "pattern_recall", "run", "weight_rows"]

NAME = "attention"
#: The stored patterns: uniform random, or scikit-learn's 8x8 digits.
DATASETS = ("random", "digits")
BETA_METHODS = ("paper", "ols")


@dataclass(frozen=True, kw_only=True)
class AttentionConfig:
    """The arguments of :func:`attention_comparison` (see it for their meaning)."""

    n_bits: int = fields.n_bits(64, "pattern length in bits", group="experiment", resets=())
    radii: Sequence[int] = param((5, 9, 11, 15), "radii, e.g. 5,9,11,15", flag="--radii",
                                 parse=fields.parse_int_list(0), metavar="LIST")
    n_patterns: int = param(1024, "number of stored patterns (keys)", flag="--patterns",
                            parse=fields.parse_positive_int, metavar="M")
    noise: Sequence[int] = fields.noise(tuple(range(0, 25, 2)))
    n_cues: int = fields.n_cues(256, "cues per point")
    iterations: int = fields.iterations(1, "reads per cue")
    beta_method: str = param("paper", "beta estimator", flag="--beta-method",
                             choices=BETA_METHODS, check=fields.choice(BETA_METHODS))
    dataset: str = param("random", "stored patterns (digits needs scikit-learn)",
                         flag="--dataset", choices=DATASETS, check=fields.choice(DATASETS))
    threshold: float = param(8.0, "digits: pixels (0..16) >= T become 1", flag="--threshold",
                             parse=fields.parse_real, metavar="T")
    repetitions: int = fields.repetitions()
    seed: int | None = fields.seed()

    def resolve(self, names: Names) -> dict:
        with about("n_bits"):
            n_bits = check_int(self.n_bits, names("n_bits"), 2, hint="the pattern length, e.g. 64")
        available = None
        if self.dataset == "digits":
            if n_bits != 64:
                with about("dataset", "n_bits"):
                    raise ValueError(f"{names.value('dataset', 'digits')} has 64-bit patterns "
                                     f"(8x8 pixels), got {names.value('n_bits', n_bits)}; use "
                                     f"{names.value('n_bits', 64)}")
            with about("threshold"):
                threshold = check_real(self.threshold, names("threshold"), 0, 16,
                                       low_open=True, hint="digit pixels are 0..16; e.g. 8")
            with about("dataset"):
                available = load_digits(threshold, names).shape[0]
        with about("n_patterns"):
            n_patterns = check_int(self.n_patterns, names("n_patterns"), 1, available,
                                   hint=f"the binarised digits have {available} distinct "
                                        "patterns" if available else
                                        "the number of stored patterns (keys)")
        with about("radii"):
            radii = fields.int_list(self.radii, names("radii"), 2, n_bits,
                                    hint="radii between 2 and n_bits (a beta fit needs h = 0, 1)")
        with about("noise"):
            noise = fields.int_list(self.noise, names("noise"), 0, n_bits,
                                    hint="cue noise in flipped bits, between 0 and n_bits")
        parts = estimate_nbytes(n_bits, n_patterns, self.n_cues, len(noise), len(radii))
        largest = max(parts, key=parts.__getitem__)
        fields.refuse_if_too_big(
            sum(parts.values()), "the patterns, reads and weight curves",
            f"{names.value('n_bits', n_bits)}, {names.value('n_patterns', n_patterns)}, "
            f"{names.value('n_cues', self.n_cues)}, {len(radii)} "
            f"{'radius' if len(radii) == 1 else 'radii'}; "
            + ", ".join(f"{k} {_machine.format_bytes(v)}" for k, v in parts.items()),
            {"patterns": f"use fewer {names('n_patterns')} or {names('n_cues')}",
             "reads": f"use fewer {names('n_patterns')} (a read weighs every stored pattern)",
             "weight curves": f"use a smaller {names('n_bits')} or fewer {names('radii')} (the "
                              "weights table has a row per radius, beta method and distance "
                              "0..n_bits)"}[largest],
            {"patterns": ("n_patterns", "n_cues"), "reads": ("n_patterns",),
             "weight curves": ("n_bits", "radii")}[largest])
        return {
            "experiment": NAME,
            "n_bits": n_bits,
            "radii": radii,
            "n_patterns": n_patterns,
            "noise": noise,
            "beta_method": self.beta_method,
            "dataset": self.dataset,
            "threshold": float(self.threshold) if self.dataset == "digits" else None,
            "distinct_patterns_available": available,
            "estimated_nbytes": sum(parts.values()),
            "n_cues": self.n_cues, "iterations": self.iterations,
            "repetitions": self.repetitions, "seed": self.seed,
        }


#: Bytes per row of the weights table, held and then written (JSON or CSV), measured.
WEIGHT_ROW_NBYTES = 2304


def estimate_nbytes(n_bits: int, n_patterns: int, n_cues: int, n_noise: int,
                    n_radii: int) -> dict[str, int]:
    """The largest allocations of an attention run, in bytes (an estimate, no allocation).

    ``"patterns"``: the stored patterns, the targets, the cues of every noise
    level and the reads' results (packed words); ``"reads"``: the temporaries of
    one pattern-view read (a block of queries weighs every stored pattern,
    :data:`fastsdm.attention.BLOCK_BYTES`); ``"weight curves"``: the curves
    ``h = 0..n_bits`` of every radius and β method and their rows in the weights
    table (``WEIGHT_ROW_NBYTES`` each).

    Examples
    --------
    >>> from fastsdm.experiments._attention import estimate_nbytes
    >>> parts = estimate_nbytes(64, 4_000_000_000, 8, 1, 1)
    >>> parts["patterns"] > 2 * 8 * 4_000_000_000
    True
    """
    from ..attention import BLOCK_BYTES

    n, m = n_bits, n_patterns
    cues = min(n_cues, m)
    word_bytes = 8 * n_words(n)
    queries = min(cues, max(1, BLOCK_BYTES // (8 * m)))  # rows of a block of queries
    values = min(m, max(1, BLOCK_BYTES // (8 * n)))      # patterns unpacked at once
    return {
        # keys (and their draw), targets, cues per noise level, reads and their copies
        "patterns": word_bytes * (2 * m + cues * (1 + n_noise + 4)),
        # distances (int32), log weights, weights and a temporary per (query, pattern);
        # sums per (query, bit); unpacked values (uint8, float64 and 2b - 1); the tables
        "reads": 28 * queries * m + 8 * queries * n + 17 * values * n + 16 * (n + 1),
        # per radius and method: the curves (kept) and a fit's temporaries, and the rows
        "weight curves": 8 * (n + 1) * (6 * n_radii + 8) + WEIGHT_ROW_NBYTES * 2 * n_radii
                         * (n + 1),
    }


def load_digits(threshold: float, names: Names = PYTHON) -> np.ndarray:
    """scikit-learn's 8x8 digits, binarised (pixel >= threshold), distinct, packed."""
    from ..bits import pack_bits

    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError(f"{names.value('dataset', 'digits')} needs scikit-learn, which ships "
                          "the 8x8 digits: pip install scikit-learn (or use "
                          f"{names.value('dataset', 'random')})") from None
    bits = (sklearn_digits().data >= threshold).astype(np.uint8)
    _, first = np.unique(bits, axis=0, return_index=True)
    return pack_bits(bits[np.sort(first)])


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
    MemoryError
        If the patterns, the reads' temporaries and the weight curves (an
        estimate, recorded as ``estimated_nbytes``) do not fit in the available
        RAM.

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
    return RECORD.execute(locals())


def weight_rows(n: int, d: int) -> tuple[list[dict], dict]:
    """The weight curves of radius ``d`` by both β methods, and their comparisons."""
    from ..attention import compare_weights

    rows, metrics = [], {}
    for method in ("paper", "ols"):
        cmp = compare_weights(n, d, method=method)
        metrics[method] = cmp
        cos = 1.0 - 2.0 * cmp.h / n
        rows.extend({"radius": d, "method": method, "beta": cmp.beta, "h": int(h),
                     "cosine": float(c), "sdm_weight": float(s), "softmax_weight": float(q)}
                    for h, c, s, q in zip(cmp.h, cos, cmp.sdm, cmp.softmax, strict=True))
    return rows, metrics


def run(config: Mapping, progress: bool) -> Records:
    """Run a configuration of :class:`AttentionConfig` (made by ``configure``)."""
    from ..bits import flip_bits, random_addresses

    c = dict(config)
    n = c["n_bits"]
    total = c["repetitions"] * len(c["radii"]) * len(c["noise"])
    records = Records(experiment=NAME, config=c, tables={"weights": []}, expected=total)
    bar = Progress(total, "attention", progress)
    scalar_config = common.scalar_config(c)
    stamp = common.versions()
    digits = load_digits(c["threshold"]) if c["dataset"] == "digits" else None
    curves = {}
    try:
        for d in c["radii"]:
            rows, curves[d] = weight_rows(n, d)
            records.tables["weights"].extend(rows)
        for rep in range(c["repetitions"]):
            seeds = common.repetition_seeds(c["seed"], rep, ("pattern", "cue"))
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
                    measured = pattern_recall(cues[k], targets, keys, n, d, used.beta,
                                               c["iterations"])
                    records.append({
                        "experiment": NAME, "repetition": rep, "radius": d, "noise": k,
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
        common.interrupted(records)
    finally:
        bar.close()
    return records


def pattern_recall(cues, targets, keys, n_bits, radius, beta, iterations) -> dict:
    """SDM pattern-view read and its softmax approximation, against the targets."""
    from ..attention import sdm_pattern_read

    sdm = sdm_pattern_read(cues, keys, n_bits=n_bits, radius=radius, iterations=iterations)
    att = sdm_pattern_read(cues, keys, n_bits=n_bits, radius=radius, iterations=iterations,
                           beta=beta)  # 0 near d = n_bits: equal weights
    ds, da = common.row_distances(sdm, targets), common.row_distances(att, targets)
    both = common.row_distances(sdm, att)
    return {
        "sdm_bit_error_rate": float(ds.mean() / n_bits),
        "sdm_exact_recall": float(np.mean(ds == 0)),
        "softmax_bit_error_rate": float(da.mean() / n_bits),
        "softmax_exact_recall": float(np.mean(da == 0)),
        "read_agreement": float(np.mean(both == 0)),
        "bit_agreement": float(1.0 - both.mean() / n_bits),
    }


def draw(rows: Sequence[Mapping]):
    """Read weights SDM vs softmax, and recall of both reads (see plot_attention)."""
    from matplotlib.lines import Line2D

    from ..attention import compare_weights
    from . import _figures as fig_

    r0 = rows[0]
    n = r0["n_bits"]
    reps = len({r["repetition"] for r in rows})
    radii = sorted({r["radius"] for r in rows})
    method = r0["beta_method"]
    stats = {v: fig_.mean_by(rows, ("radius", "noise"), v)
             for v in ("sdm_exact_recall", "softmax_exact_recall")}
    h_max = min(n, 2 * radii[-1] + 4)
    fig, axes = fig_.new_figure(2, (12.5, 4.6))
    floor = 1.0
    by_radius = []
    colors = fig_.colors(len(radii))
    for color, d in zip(colors, radii, strict=True):
        cmp = compare_weights(n, d, method=method)
        h = cmp.h[: h_max + 1]
        sdm = np.where(cmp.sdm[: h_max + 1] > 0, cmp.sdm[: h_max + 1], np.nan)
        floor = min(floor, float(np.nanmin(sdm)))
        axes[0].plot(h, sdm, color=color, lw=1.2, marker="o", ms=2.5)
        axes[0].plot(h, cmp.softmax[: h_max + 1], color=color, ls="--", lw=1.2)
        by_radius.append((Line2D([], [], color=color, lw=2),
                          f"d = {d}: β = {cmp.beta:.1f}, TV = {cmp.total_variation:.3f}"))
        x, y, s = fig_.series(stats["sdm_exact_recall"], (d,))
        fig_.errorbar(axes[1], x, y, s, reps, color=color, marker="o", ms=4, lw=1.6)
        x, y, s = fig_.series(stats["softmax_exact_recall"], (d,))
        fig_.errorbar(axes[1], x, y, s, reps, color=color, marker="s", ms=4, lw=1.2, ls="--",
                      mfc="none")
    handles, labels = map(list, zip(*by_radius, strict=True))
    axes[0].legend(handles + [Line2D([], [], color="0.3", marker="o", ms=2.5, lw=1.2),
                              Line2D([], [], color="0.3", ls="--", lw=1.2)],
                   labels + ["SDM: I(h) / Σ I", "softmax(β cos h)"],
                   loc="upper right", frameon=False)
    axes[0].set_yscale("log")
    axes[0].set_ylim(max(floor / 10, 1e-30), 2.0)
    axes[0].set_xlim(0, h_max)
    axes[0].set_xlabel("Hamming distance h between query and pattern (bits)")
    axes[0].set_ylabel("normalised read weight (log scale)")
    axes[0].set_title(f"Read weights: SDM vs softmax, β fitted ({method} method)")
    axes[1].legend([Line2D([], [], color=c, lw=2) for c in colors]
                   + [Line2D([], [], color="0.3", marker="o", ms=4, lw=1.6),
                      Line2D([], [], color="0.3", marker="s", ms=4, lw=1.2, ls="--",
                             mfc="none")],
                   [f"d = {d}" for d in radii] + ["SDM (pattern view)",
                                                  "softmax attention,\nfitted β"],
                   loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    axes[1].set_ylim(-0.03, 1.03)
    axes[1].set_xlabel("cue noise (flipped bits)")
    axes[1].set_ylabel("exact recall (fraction of cues)")
    reads = "one read" if r0["iterations"] == 1 else f"≤ {r0['iterations']} reads"
    axes[1].set_title(f"Recall of stored patterns ({reads})")
    data = ("random patterns" if r0["dataset"] == "random"
            else f"8×8 digits binarised at {r0['threshold']:g}")
    fig.suptitle(f"SDM vs softmax attention — n = {n}, {r0['n_patterns']:,} {data}, "
                 f"{r0['n_cues']} cues/point, {reps} rep., seed {r0['seed']}", fontsize=10)
    return fig


RECORD = register(Experiment(
    name=NAME,
    config=AttentionConfig,
    run=run,
    function=attention_comparison,
    draw=draw,
    presets={
        "small": {},
        "digits": {"dataset": "digits", "noise": list(range(0, 13))},
    },
    summary=(("radius", "noise"),
             ("beta", "weights_total_variation", "sdm_exact_recall", "softmax_exact_recall",
              "read_agreement")),
    command="attention",
    title="SDM (pattern view) vs softmax attention with fitted beta",
    description="Fit beta to the SDM intersection curve for each radius, compare the weight "
                "curves, and read stored patterns from noisy cues with the SDM pattern-view "
                "read and with softmax attention (Bricken & Pehlevan 2021). Preset digits "
                "uses scikit-learn's 8x8 digits (needs scikit-learn).",
))
