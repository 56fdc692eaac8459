"""Figures for the records of :mod:`fastsdm.experiments` (needs matplotlib).

Install with ``pip install fastsdm[plot]``. The figures are built with
:class:`matplotlib.figure.Figure` directly, not :mod:`matplotlib.pyplot`: no
GUI backend is touched, no global figure state is kept, and PNGs are rendered
by Agg. Each function takes the rows (a :class:`~fastsdm.experiments.Records`
or any list of row dicts, e.g. read back from JSON), averages repetitions, and
returns the figure; with ``path`` it also saves it.

* :func:`plot_capacity` -- bit error rate and exact recall against the number
  of stored patterns, one colour per cue noise, with the theory curves.
* :func:`plot_critical_distance` -- distance after iterated reads against cue
  distance, with the diagonal and the one-step model.
* :func:`plot_attention` -- SDM weights against softmax (log scale), and recall
  of both reads against cue noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["plot", "plot_attention", "plot_capacity", "plot_critical_distance"]

#: Resolution of saved PNGs (dots per inch).
DPI = 150

_STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
}


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("fastsdm.plots needs matplotlib: pip install fastsdm[plot]") from None
    return matplotlib


def _new_figure(ncols: int, size: tuple[float, float]):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


def _save(fig, path) -> None:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=DPI)


def _rows(records: Sequence[Mapping], experiment: str) -> list[Mapping]:
    rows = [r for r in records if r.get("experiment") == experiment]
    if not rows:
        raise ValueError(f"no {experiment} rows to plot (got {len(records)} rows); run "
                         f"fastsdm.experiments.{experiment}() first")
    return rows


def _mean_by(rows, keys, value):
    """{key tuple: (mean, std over repetitions)} of ``value``, keys in sorted order."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        v = r.get(value)
        if v is not None:
            groups.setdefault(tuple(r[k] for k in keys), []).append(float(v))
    return {k: (float(np.mean(v)), float(np.std(v))) for k, v in sorted(groups.items())}


def _series(stats, fixed):
    """x, mean, std for the points whose leading keys equal ``fixed``."""
    pts = [(k[-1], m, s) for k, (m, s) in stats.items() if k[:-1] == fixed]
    if not pts:
        return np.array([]), np.array([]), np.array([])
    x, m, s = map(np.asarray, zip(*pts, strict=True))
    return x, m, s


def _memory_title(r: Mapping) -> str:
    return (f"n = {r['n_bits']}, N = {r['n_locations']:,} locations, d = {r['radius']} "
            f"(p = {r['activation_probability']:.2e}, ≈{r['expected_activated']:.0f} active), "
            f"{r['counter_dtype']} counters, {r['n_cues']} cues/point, "
            f"{r['repetitions']} rep., seed {r['seed']}")


def _colors(k: int):
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.85 * i / max(1, k - 1)) for i in range(k)]


def _errorbar(ax, x, y, s, reps, **kw):
    if reps > 1:
        return ax.errorbar(x, y, yerr=s, capsize=2, elinewidth=0.8, **kw)
    return ax.plot(x, y, **kw)


def plot_capacity(records: Sequence[Mapping], path=None):
    """Bit errors and exact recall against stored patterns, per cue noise.

    Three panels over the number of stored patterns ``m`` (log scale): the
    bit error rate of one read (log scale; zero rates are not drawn) and the
    exact-recall rate of one read, each with the prediction of the one-read
    model that matches the storage (dashed; named in the legend, see
    :func:`fastsdm.experiments.capacity`) and, for the bit errors, the paper
    model (dotted); and the exact-recall rate after iterated reads. One colour
    per noise level.

    Parameters
    ----------
    records : sequence of dict
        Rows of :func:`fastsdm.experiments.capacity`.
    path : str or Path, optional
        Save the figure there (PNG, or any format matplotlib knows by suffix).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _matplotlib()
    from . import theory

    rows = _rows(records, "capacity")
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
    stats = {v: _mean_by(rows, ("noise", "n_patterns"), v)
             for v in ("bit_error_rate_1", "exact_recall_1", "exact_recall_final")}
    with _matplotlib().rc_context(_STYLE):
        fig, axes = _new_figure(3, (13.0, 4.3))
        for i, (color, k) in enumerate(zip(_colors(len(noises)), noises, strict=True)):
            label = f"noise {k} bits ({100 * k / n:.0f}%)"
            ber = np.array([model[int(m)][0][i] for m in dense])
            exact = np.array([model[int(m)][1][i] for m in dense])
            paper = np.array([model[int(m)][2][i] for m in dense])
            x, y, s = _series(stats["bit_error_rate_1"], (k,))
            keep = y > 0
            _errorbar(axes[0], x[keep], y[keep], s[keep], reps, color=color, marker="o", ms=4,
                      ls="none", label=label)
            axes[0].plot(dense, ber, color=color, ls="--", lw=1.2)
            axes[0].plot(dense, paper, color=color, ls=":", lw=0.9, alpha=0.7)
            x, y, s = _series(stats["exact_recall_1"], (k,))
            _errorbar(axes[1], x, y, s, reps, color=color, marker="o", ms=4, ls="none",
                      label=label)
            axes[1].plot(dense, exact, color=color, ls="--", lw=1.2)
            x, y, s = _series(stats["exact_recall_final"], (k,))
            _errorbar(axes[2], x, y, s, reps, color=color, marker="o", ms=4, lw=1.2,
                      label=label)
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
        axes[2].set_title(f"Iterated reads (≤ {r0['iterations']}): exact recall")
        axes[2].set_ylabel("exact recall (fraction of cues)")
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xlabel("stored patterns m (log scale)")
        from matplotlib.lines import Line2D

        handles, labels = axes[2].get_legend_handles_labels()
        handles += [Line2D([], [], color="0.3", ls="--", lw=1.2),
                    Line2D([], [], color="0.3", ls=":", lw=0.9)]
        labels += [f"theory, one read: {name} model", "paper model (Bricken & Pehlevan, "
                   "App. B; left panel)"]
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4),
                   frameon=False)
        fig.suptitle(f"SDM capacity, {name} storage — {_memory_title(r0)}", fontsize=10)
        _save(fig, path)
    return fig


def plot_critical_distance(records: Sequence[Mapping], path=None):
    """Final distance after iterated reads against cue distance.

    Left: mean distance to the target after iterated reads (solid), after one
    read (dotted), the autoassociative one-read model of
    :func:`fastsdm.theory.critical_distance` (dashed), the paper's model
    (dash-dot, thin) and the diagonal; the critical distances (simulated and
    both models) are in the legend. Right: fraction of cues that converged to
    the target exactly.

    Parameters
    ----------
    records : sequence of dict
        Rows of :func:`fastsdm.experiments.critical_distance`.
    path : str or Path, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    _matplotlib()
    rows = _rows(records, "critical_distance")
    r0 = rows[0]
    n = r0["n_bits"]
    reps = len({r["repetition"] for r in rows})
    ms = sorted({r["n_patterns"] for r in rows})
    stats = {v: _mean_by(rows, ("n_patterns", "cue_distance"), v)
             for v in ("mean_distance_final", "mean_distance_1", "theory_distance_1",
                       "theory_distance_1_paper", "exact_recall_final",
                       "critical_distance_sim", "critical_distance_theory",
                       "critical_distance_theory_paper")}
    name = r0.get("theory_model", "autoassociative")
    with _matplotlib().rc_context(_STYLE):
        from matplotlib.lines import Line2D

        fig, axes = _new_figure(2, (11.5, 4.8))
        top = max(r["cue_distance"] for r in rows)
        axes[0].plot([0, top], [0, top], color="0.6", lw=1)
        for color, m in zip(_colors(len(ms)), ms, strict=True):
            sim = [v for k, (v, _) in stats["critical_distance_sim"].items() if k[0] == m]
            model = [v for k, (v, _) in stats["critical_distance_theory"].items() if k[0] == m]
            paper = [v for k, (v, _) in stats["critical_distance_theory_paper"].items()
                     if k[0] == m]
            label = f"m = {m:,}: critical distance " + (f"{np.mean(sim):.0f}" if sim else "n/a")
            label += f" (model {model[0]:.0f}" if model else ""
            label += (f", paper {paper[0]:.0f})" if paper else ")") if model else ""
            x, y, s = _series(stats["mean_distance_final"], (m,))
            _errorbar(axes[0], x, y, s, reps, color=color, marker="o", ms=3.5, lw=1.4)
            x, y, _ = _series(stats["mean_distance_1"], (m,))
            axes[0].plot(x, y, color=color, ls=":", lw=1.3)
            x, y, _ = _series(stats["theory_distance_1"], (m,))
            axes[0].plot(x, y, color=color, ls="--", lw=1.0)
            x, y, _ = _series(stats["theory_distance_1_paper"], (m,))
            axes[0].plot(x, y, color=color, ls="-.", lw=0.7, alpha=0.7)
            x, y, s = _series(stats["exact_recall_final"], (m,))
            _errorbar(axes[1], x, y, s, reps, color=color, marker="o", ms=3.5, lw=1.4,
                      label=label)
            if sim:
                axes[1].axvline(np.mean(sim), color=color, lw=0.9, ls=":")
        styles = [Line2D([], [], color="0.3", marker="o", ms=3.5, lw=1.4),
                  Line2D([], [], color="0.3", ls=":", lw=1.3),
                  Line2D([], [], color="0.3", ls="--", lw=1.0),
                  Line2D([], [], color="0.3", ls="-.", lw=0.7),
                  Line2D([], [], color="0.6", lw=1)]
        axes[0].legend(styles, [f"after iterated reads (≤ {r0['iterations']})",
                                "after one read", f"one-read model ({name})",
                                "paper model (Bricken & Pehlevan)", "no change (y = x)"],
                       loc="upper left", frameon=False)
        axes[0].set_xlim(0, top)
        axes[0].set_ylim(0, max(top, n / 2) * 1.05)
        axes[0].set_xlabel("cue distance to the stored pattern (bits)")
        axes[0].set_ylabel("mean distance to the stored pattern after reading (bits)")
        axes[0].set_title("Distance after reading vs cue distance")
        axes[1].axhline(0.5, color="0.6", lw=0.8)
        axes[1].set_xlim(0, top)
        axes[1].set_ylim(-0.03, 1.03)
        axes[1].set_xlabel("cue distance to the stored pattern (bits)")
        axes[1].set_ylabel("converged to the stored pattern (fraction of cues)")
        axes[1].set_title("Exact recall after iterating (dotted: critical distance)")
        axes[1].legend(loc="upper right", frameon=False)
        fig.suptitle(f"SDM critical distance — {_memory_title(r0)}", fontsize=10)
        _save(fig, path)
    return fig


def plot_attention(records: Sequence[Mapping], path=None):
    """SDM read weights against fitted softmax, and recall of both reads.

    Left: the normalised SDM weight curve ``I(h)/Σ I`` (solid) and
    ``softmax(β cos)`` with the fitted β (dashed) against the Hamming
    distance ``h``, log scale, one colour per radius
    (:func:`fastsdm.attention.compare_weights`). Right: exact recall of the
    SDM pattern-view read (solid) and of softmax attention (dashed) against cue
    noise.

    Parameters
    ----------
    records : sequence of dict
        Rows of :func:`fastsdm.experiments.attention_comparison`.
    path : str or Path, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    _matplotlib()
    from .attention import compare_weights

    rows = _rows(records, "attention")
    r0 = rows[0]
    n = r0["n_bits"]
    reps = len({r["repetition"] for r in rows})
    radii = sorted({r["radius"] for r in rows})
    method = r0["beta_method"]
    stats = {v: _mean_by(rows, ("radius", "noise"), v)
             for v in ("sdm_exact_recall", "softmax_exact_recall")}
    h_max = min(n, 2 * radii[-1] + 4)
    with _matplotlib().rc_context(_STYLE):
        from matplotlib.lines import Line2D

        fig, axes = _new_figure(2, (12.5, 4.6))
        floor = 1.0
        by_radius = []
        for color, d in zip(_colors(len(radii)), radii, strict=True):
            cmp = compare_weights(n, d, method=method)
            h = cmp.h[: h_max + 1]
            sdm = np.where(cmp.sdm[: h_max + 1] > 0, cmp.sdm[: h_max + 1], np.nan)
            floor = min(floor, float(np.nanmin(sdm)))
            axes[0].plot(h, sdm, color=color, lw=1.2, marker="o", ms=2.5)
            axes[0].plot(h, cmp.softmax[: h_max + 1], color=color, ls="--", lw=1.2)
            by_radius.append((Line2D([], [], color=color, lw=2),
                              f"d = {d}: β = {cmp.beta:.1f}, TV = {cmp.total_variation:.3f}"))
            x, y, s = _series(stats["sdm_exact_recall"], (d,))
            _errorbar(axes[1], x, y, s, reps, color=color, marker="o", ms=4, lw=1.6)
            x, y, s = _series(stats["softmax_exact_recall"], (d,))
            _errorbar(axes[1], x, y, s, reps, color=color, marker="s", ms=4, lw=1.2, ls="--",
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
        axes[1].legend([Line2D([], [], color=c, lw=2) for c in _colors(len(radii))]
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
        _save(fig, path)
    return fig


_PLOTTERS = {
    "capacity": plot_capacity,
    "critical_distance": plot_critical_distance,
    "attention": plot_attention,
}


def plot(records: Sequence[Mapping], path):
    """The figure of an experiment's rows (by their ``"experiment"`` key), saved to ``path``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If there are no rows or their experiment is unknown.
    ImportError
        Without matplotlib.
    """
    if not records:
        raise ValueError("no rows to plot; the experiment produced none")
    name = records[0].get("experiment")
    if name not in _PLOTTERS:
        raise ValueError(f"unknown experiment {name!r}; expected one of {sorted(_PLOTTERS)}")
    return _PLOTTERS[name](records, path)
