"""What the experiments' figures share: the style, the averaging, the interruption note.

Figures are built with :class:`matplotlib.figure.Figure` directly, not
:mod:`matplotlib.pyplot`: no GUI backend is touched, no global figure state is
kept, and PNGs are rendered by Agg.  matplotlib is imported inside the
functions, never when fastsdm is imported.  :func:`figure` is the one entry:
it picks the experiment's rows, draws them with the record's ``draw``, marks
an interrupted run in the figure, and saves it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ._io import interruption_note, replacing
from ._registry import REGISTRY

__all__ = [
    "DPI",
    "STYLE",
    "colors",
    "errorbar",
    "figure",
    "matplotlib",
    "mean_by",
    "memory_title",
    "new_figure",
    "rows_of",
    "series",
]

#: Resolution of saved PNGs (dots per inch).
DPI = 150

STYLE = {
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


def matplotlib():
    """The matplotlib module, or an ImportError that says how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError("fastsdm.plots needs matplotlib: pip install fastsdm[plot]") from None
    return matplotlib


def new_figure(ncols: int, size: tuple[float, float], nrows: int = 1):
    """A constrained-layout figure and its axes (a flat array when ``nrows == 1``)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, (axes[0] if nrows == 1 else axes)


def rows_of(records: Sequence[Mapping], experiment: str) -> list[Mapping]:
    """The rows of ``experiment``, or a ValueError saying how to get some."""
    rows = [r for r in records if r.get("experiment") == experiment]
    if not rows:
        function = REGISTRY[experiment].function.__name__ if experiment in REGISTRY else ""
        raise ValueError(f"no {experiment} rows to plot (got {len(records)} rows); run "
                         f"fastsdm.experiments.{function or experiment}() first")
    return rows


def mean_by(rows, keys, value):
    """{key tuple: (mean, std over repetitions)} of ``value``, keys in sorted order."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        v = r.get(value)
        if v is not None:
            groups.setdefault(tuple(r[k] for k in keys), []).append(float(v))
    return {k: (float(np.mean(v)), float(np.std(v))) for k, v in sorted(groups.items())}


def series(stats, fixed):
    """x, mean, std for the points whose leading keys equal ``fixed``."""
    pts = [(k[-1], m, s) for k, (m, s) in stats.items() if k[:-1] == fixed]
    if not pts:
        return np.array([]), np.array([]), np.array([])
    x, m, s = map(np.asarray, zip(*pts, strict=True))
    return x, m, s


def memory_title(r: Mapping) -> str:
    return (f"n = {r['n_bits']}, N = {r['n_locations']:,} locations, d = {r['radius']} "
            f"(p = {r['activation_probability']:.2e}, ≈{r['expected_activated']:.0f} active), "
            f"{r['counter_dtype']} counters, {r['n_cues']} cues/point, "
            f"{r['repetitions']} rep., seed {r['seed']}")


def colors(k: int, name: str = "viridis"):
    """``k`` colours of a colormap (viridis: light to dark; tab10: distinct)."""
    from matplotlib import colormaps

    cmap = colormaps[name]
    if name == "tab10":
        return [cmap(i % 10) for i in range(k)]
    return [cmap(0.85 * i / max(1, k - 1)) for i in range(k)]


def errorbar(ax, x, y, s, reps, **kw):
    """Points with ±1 std error bars over repetitions (plain lines for one repetition)."""
    if reps > 1:
        return ax.errorbar(x, y, yerr=s, capsize=2, elinewidth=0.8, **kw)
    return ax.plot(x, y, **kw)


def figure(experiment: str, records: Sequence[Mapping], path=None):
    """Draw ``experiment``'s rows of ``records``, mark an interruption, save to ``path``."""
    mpl = matplotlib()
    rows = rows_of(records, experiment)
    with mpl.rc_context(STYLE):
        fig = REGISTRY[experiment].draw(rows)
        note = interruption_note(records)
        if note:
            # Where people look: across the top of the figure, in red.
            fig.text(0.5, 1.0, note.replace("Interrupted", "INTERRUPTED", 1), ha="center",
                     va="bottom",
                     color="#c0392b", fontsize=10, fontweight="bold",
                     bbox={"facecolor": "#fdecea", "edgecolor": "#c0392b", "pad": 3})
        if path is not None:
            path = Path(path)
            if not path.suffix:  # as savefig does: the default format's extension is added
                path = path.with_name(f"{path.name}.{mpl.rcParams['savefig.format']}")
            path.parent.mkdir(parents=True, exist_ok=True)
            with replacing(path) as partial:
                fig.savefig(partial, dpi=DPI)
    return fig
