"""The paper gallery: the computational figures of Bricken & Pehlevan (2021) and Kanerva (1988).

:func:`run` regenerates, with fastsdm, every figure and table of the two works
that is a computation rather than a drawing or a trained network, writes one
PNG per exhibit, and a ``summary.md`` (and ``numbers.json``) that prints the
published numbers beside fastsdm's. The ``fastsdm paper`` command calls it.

=========================  ==================================================
exhibit                    reproduces
=========================  ==================================================
``weights``                SDM read weights against softmax(β cos), n = 64,
                           d = 5, 11, 15, and their log-space decay (B&P §2)
``beta``                   β against the radius and the activation
                           probability (B&P §2 and App. B)
``learned_betas``          the β learned by Query-Key Normalization
                           Transformers between β_CD and β_Mem (B&P §3)
``snr_capacity``           signal-to-noise and memory capacity against the
                           radius, with the optimal radii (B&P App. B;
                           Kanerva 1993)
``critical_distance``      critical distance against the radius, and the
                           one-read curves (B&P App. B.5; Kanerva 1988 ch. 7)
``kanerva_table``          the intersection table of the canonical memory,
                           book against exact (Kanerva 1988, table 7.1)
``caps``                   continuous caps against Monte Carlo, and the
                           cap-fitted β (B&P App. A and the authors' code)
``one_step``               theory against simulation: the distance after one
                           read and after iterating (Kanerva 1988 ch. 7)
=========================  ==================================================

Only the last two simulate; ``quick=True`` shrinks them (seconds instead of
minutes: the full ``one_step`` is Kanerva's canonical memory, 1.05 GiB with
int8 counters, and about two minutes on two cores). Needs matplotlib
(``pip install "fastsdm[plot]"``).

References
----------
.. [1] T. Bricken and C. Pehlevan, "Attention approximates sparse distributed
   memory", NeurIPS 2021, arXiv:2111.05498.
.. [2] P. Kanerva, *Sparse Distributed Memory*, MIT Press, 1988.
.. [3] P. Kanerva, "Sparse distributed memory and related models", in
   *Associative Neural Memories*, M. H. Hassoun (ed.), Oxford University
   Press, 1993, pp. 50-76.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import attention, theory

__all__ = ["EXHIBITS", "PUBLISHED", "Exhibit", "Gallery", "GalleryInterrupted", "Published",
           "run"]

#: Resolution of the PNGs (dots per inch).
DPI = 130

_STYLE = {
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.bbox": "tight",
}
_COLORS = {5: "#1b9e77", 9: "#e7298a", 11: "#d95f02", 15: "#7570b3"}
_NAMES = {5: "Mem", 11: "SNR", 15: "CD"}

#: Bricken & Pehlevan's attention setting: n = 64 (head dimension), r = 2^64
#: neurons, m = 1024 patterns (context length).
_N64, _R64, _M64 = 64, 2**64, 1024
#: Kanerva's canonical memory.
_CANONICAL = {"n": 1000, "N": 10**6, "d": 451, "m": 10_000}


class Published(NamedTuple):
    """A published number: its value, the digits it was given with, and where."""

    value: float
    digits: int | None
    source: str


_BP = "Bricken & Pehlevan (2021)"
#: The published numbers the gallery reproduces, by name.
PUBLISHED = {
    "beta_mem": Published(35.5, 1, f"{_BP}, §2"),
    "beta_snr": Published(15.9, 1, f"{_BP}, §2"),
    "beta_cd": Published(10.1, 1, f"{_BP}, §2"),
    "d_mem": Published(5, 0, f"{_BP}, §1 (derived in App. B)"),
    "d_snr": Published(11, 0, f"{_BP}, §1 (derived in App. B)"),
    "d_cd": Published(15, 0, f"{_BP}, §1 (derived in App. B.5)"),
    "p_snr": Published(2.0**-25, None, "Kanerva (1993): p* = (2mr)^(-1/3)"),
    "learned_mean": Published(15.6, 1, f"{_BP}, §3 (learned QKNorm β, mean)"),
    "learned_between": Published(1.0, 2, f"{_BP}, §3 (all between β_CD and β_Mem)"),
    "cfit_5": Published(71.70921, 5, f"{_BP}, authors' code (CFit, d = 5)"),
    "cfit_9": Published(29.76709, 5, f"{_BP}, authors' code (CFit, d = 9)"),
    "cfit_11": Published(21.53975, 5, f"{_BP}, authors' code (CFit, d = 11)"),
    "critical_distance": Published(209, 0, "Kanerva (1988), ch. 7 (canonical memory, "
                                           "10,000 words, iterated reads)"),
    **{f"table_{h}": Published(v, 0, "Kanerva (1988), table 7.1")
       for h, v in zip((0, 1, 10, 50, 100, 150, 200, 300, 400, 500),
                       (1000, 894, 743, 445, 267, 162, 97, 30, 7, 1), strict=True)},
}


class Exhibit(NamedTuple):
    """One figure of the gallery: its file stem, title and what it reproduces."""

    name: str
    title: str
    reproduces: str


class Gallery(NamedTuple):
    """Result of :func:`run`.

    Attributes
    ----------
    out : pathlib.Path
        The folder written.
    files : list of pathlib.Path
        Every file written (PNGs, CSVs, ``summary.md``, ``numbers.json``).
    rows : list of dict
        The numbers: ``exhibit``, ``quantity``, ``published``, ``fastsdm``,
        ``source`` and ``status`` ("reproduced", "differs by ...", or "" when
        nothing was published).
    """

    out: Path
    files: list
    rows: list


class _Context(NamedTuple):
    quick: bool
    seed: int
    progress: bool


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _matplotlib():
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('the paper gallery draws figures with matplotlib, which is not '
                          'installed: pip install "fastsdm[plot]"') from None
    return Figure


def _figure(ncols: int, size: tuple[float, float], nrows: int = 1):
    fig = _matplotlib()(figsize=size, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _row(exhibit: str, quantity: str, value, published: str | None = None, *,
         note: str = "", digits: int | None = None) -> dict:
    """A table row; ``published`` names an entry of PUBLISHED."""
    entry = PUBLISHED.get(published) if published else None
    status = ""
    if entry is not None and isinstance(value, (int, float, np.floating, np.integer)):
        places = entry.digits if entry.digits is not None else digits
        if places is None:
            same = math.isclose(float(value), entry.value, rel_tol=1e-9)
        else:
            same = round(float(value), places) == round(entry.value, places)
        status = "reproduced" if same else f"differs by {float(value) - entry.value:+.4g}"
    if note:
        status = f"{status}; {note}" if status else note
    return {"exhibit": exhibit, "quantity": quantity,
            "published": None if entry is None else entry.value,
            "fastsdm": value.item() if isinstance(value, np.generic) else value,
            "source": "" if entry is None else entry.source, "status": status}


def _format(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)) or (float(value).is_integer() and abs(value) < 1e15):
        return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
    value = float(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.4g}"
    return f"{value:.5g}"


# ---------------------------------------------------------------------------
# Exhibits
# ---------------------------------------------------------------------------


def _weights(ctx: _Context):
    """SDM weights I(h)/Σ I against softmax(β cos), n = 64, d = 5, 11, 15."""
    fig, axes = _figure(2, (10.5, 3.9))
    left, right = axes[0]
    rows = []
    h = np.arange(_N64 + 1)
    for d, key in ((5, "beta_mem"), (11, "beta_snr"), (15, "beta_cd")):
        cmp = attention.compare_weights(_N64, d)
        shown = h <= 2 * d + 2
        left.plot(h[shown], cmp.sdm[shown], "o", ms=3.5, color=_COLORS[d],
                  label=f"SDM, d = {d} ({_NAMES[d]})")
        left.plot(h[shown], cmp.softmax[shown], "-", lw=1.2, color=_COLORS[d],
                  label=f"softmax, β = {cmp.beta:.1f}")
        beta, intercept = theory.fit_beta(_N64, d, return_intercept=True)
        log_i = theory.log_intersection(_N64, d, h)
        met = np.isfinite(log_i)
        right.plot(h[met], log_i[met], "o", ms=3, color=_COLORS[d])
        fit_h = h[: 2 * d + 1]
        right.plot(fit_h, intercept + beta * (1 - 2 * fit_h / _N64), "-", lw=1,
                   color=_COLORS[d], label=f"d = {d}: fit on h < d, β = {beta:.2f}")
        rows.append(_row("weights", f"β, d = {d} (paper fit)", beta, key))
        rows.append(_row("weights", f"total variation SDM vs softmax, d = {d}",
                         cmp.total_variation))
    left.set_yscale("log")
    left.set_ylim(1e-7, 1)
    left.set_xlabel("Hamming distance h between query and pattern")
    left.set_ylabel("normalised weight of the pattern")
    left.set_title("read weights: SDM (points) vs softmax (lines)")
    left.legend(ncol=2, frameon=False, loc="lower left")
    right.set_xlabel("Hamming distance h")
    right.set_ylabel("log I(h)  (natural log)")
    right.set_title("log-space decay and the fitted line (slope gives β)")
    right.legend(frameon=False, loc="upper right")
    return fig, rows, {}


def _beta(ctx: _Context):
    """β against the radius and against the activation probability."""
    fig, axes = _figure(2, (10.5, 3.7))
    left, right = axes[0]
    rows = []
    for n, style in ((64, "-"), (256, "--"), (1000, ":")):
        radii = np.arange(2, n // 2 + 1)
        betas = np.array([theory.fit_beta(n, int(d)) for d in radii])
        probs = np.array([theory.activation_probability(n, int(d)) for d in radii])
        left.plot(radii / n, betas, style, color="k", lw=1.2, label=f"n = {n}")
        keep = probs > 1e-40
        right.plot(probs[keep], betas[keep], style, color="k", lw=1.2, label=f"n = {n}")
    for d in (5, 11, 15):
        beta = theory.fit_beta(_N64, d)
        p = theory.activation_probability(_N64, d)
        left.plot([d / _N64], [beta], "o", color=_COLORS[d], ms=7, zorder=3,
                  label=f"d*_{_NAMES[d]} = {d}: β = {beta:.1f}")
        right.plot([p], [beta], "o", color=_COLORS[d], ms=7, zorder=3)
        rows.append(_row("beta", f"p(d = {d}), n = 64", p))
    p_snr = theory.optimal_probability(_R64, _M64)
    right.axvline(p_snr, color=_COLORS[11], lw=0.8, ls="--", label="p*_SNR = 2^-25")
    rows.append(_row("beta", "p*_SNR, n = 64, r = 2^64, m = 1024", p_snr, "p_snr"))
    rows.append(_row("beta", "radius for the learned mean β 15.6, n = 64",
                     theory.radius_for_beta(_N64, 15.6)))
    for ax in (left, right):
        ax.set_yscale("log")
        ax.set_ylabel("fitted β (paper convention)")
    left.set_xlabel("radius d / n")
    left.set_title("β against the radius (larger balls: smaller β)")
    left.legend(frameon=False, fontsize=7)
    right.set_xscale("log")
    right.set_xlim(1e-40, 1.5)
    right.set_xlabel("activation probability p(d)")
    right.set_title("β against the activation probability")
    right.legend(frameon=False, fontsize=7)
    return fig, rows, {}


def _learned_betas(ctx: _Context):
    """Histogram of the learned QKNorm β with β_CD, β_SNR and β_Mem."""
    summary = attention.learned_beta_summary()
    fig, axes = _figure(1, (6.4, 3.6))
    ax = axes[0][0]
    ax.hist(summary.betas, bins=30, color="0.55", edgecolor="white")
    for beta, d, name in ((summary.beta_cd, summary.radius_cd, "CD"),
                          (summary.beta_snr, summary.radius_snr, "SNR"),
                          (summary.beta_mem, summary.radius_mem, "Mem")):
        ax.axvline(beta, color=_COLORS[d], lw=1.6, label=f"β_{name} = {beta:.1f} (d = {d})")
    ax.axvline(summary.mean, color="k", ls="--", lw=1, label=f"mean = {summary.mean:.2f}")
    ax.set_xlabel("β learned by Query-Key Normalization (90 attention modules)")
    ax.set_ylabel("count")
    ax.set_title(f"{summary.fraction_between:.0%} of the learned β lie in [β_CD, β_Mem]")
    ax.legend(frameon=False)
    rows = [
        _row("learned_betas", "mean learned β", summary.mean, "learned_mean"),
        _row("learned_betas", "fraction in [β_CD, β_Mem]", summary.fraction_between,
             "learned_between"),
        _row("learned_betas", "min, max learned β",
             f"{summary.min:.2f}, {summary.max:.2f}"),
    ]
    return fig, rows, {}


def _snr_capacity(ctx: _Context):
    """SNR(d) and memory capacity m(d), n = 64, r = 2^64, m = 1024."""
    fig, axes = _figure(2, (10.5, 3.7))
    left, right = axes[0]
    radii = np.arange(1, 33)
    snr = np.array([theory.snr(_N64, int(d), _R64, _M64) for d in radii])
    cap = np.array([theory.capacity(_N64, int(d), _R64) for d in radii])
    d_snr = theory.optimal_radius(_N64, _R64, _M64, "snr")
    d_mem = theory.optimal_radius(_N64, _R64, _M64, "memory")
    left.plot(radii, snr, "o-", ms=3, color="k")
    left.axvline(d_snr, color=_COLORS[11], lw=1.2, label=f"d*_SNR = {d_snr} (published 11)")
    left.set_yscale("log")
    left.set_xlabel("radius d")
    left.set_ylabel("signal-to-noise ratio")
    left.set_title("SNR = sqrt(pr / (1 + pm + p³mr)), m = 1024")
    left.legend(frameon=False)
    keep = cap > 0
    right.plot(radii[keep], cap[keep], "o-", ms=3, color="k")
    right.axvline(d_mem, color=_COLORS[5], lw=1.2, label=f"d*_Mem = {d_mem} (published 5)")
    right.set_yscale("log")
    right.set_xlabel("radius d")
    right.set_ylabel("storable patterns m(d), P_whole = 0.5")
    right.set_title("memory capacity")
    right.legend(frameon=False)
    rows = [
        _row("snr_capacity", "d*_SNR (paper rounding)", d_snr, "d_snr"),
        _row("snr_capacity", "d*_Mem (paper rounding)", d_mem, "d_mem"),
        _row("snr_capacity", "d*_SNR, d*_Mem (exact argmax)",
             f"{theory.optimal_radius(_N64, _R64, _M64, 'snr', 'argmax')}, "
             f"{theory.optimal_radius(_N64, _R64, _M64, 'memory', 'argmax')}"),
    ]
    return fig, rows, {}


def _critical_distance(ctx: _Context):
    """CD(d) at n = 64 (paper and autoassociative models) and canonical one-read curves."""
    fig, axes = _figure(2, (10.5, 3.9))
    left, right = axes[0]
    radii = np.arange(0, 33)
    for model, style in (("paper", "o-"), ("autoassociative", "s--")):
        cds = [theory.critical_distance(_N64, int(d), _R64, _M64, model=model).distance
               for d in radii]
        left.plot(radii, cds, style, ms=3, lw=1, label=f"{model} model",
                  color="k" if model == "paper" else "0.55")
    ties = theory.optimal_radius(_N64, _R64, _M64, "critical_distance", return_all=True)
    for d in ties:
        left.plot([d], [theory.critical_distance(_N64, d, _R64, _M64, model="paper").distance],
                  "o", ms=8, mfc="none", color=_COLORS[15])
    left.set_xlabel("radius d")
    left.set_ylabel("critical distance (bits)")
    left.set_title(f"n = 64, r = 2^64, m = 1024: paper model ties at d = "
                   f"{', '.join(map(str, ties))}")
    left.legend(frameon=False)
    c = _CANONICAL
    for model, color in (("autoassociative", "k"), ("heteroassociative", "#1b9e77"),
                         ("paper", "#d95f02")):
        result = theory.critical_distance(c["n"], c["d"], c["N"], c["m"], model=model)
        right.plot(*result.curve, color=color, lw=1.3,
                   label=f"{model}: critical distance {result.distance}")
    right.plot([0, 600], [0, 600], color="0.6", lw=0.8, ls=":")
    right.axvline(209, color="0.3", lw=0.8, ls="--", label="Kanerva: 209 (iterated)")
    right.set_xlim(0, 600)
    right.set_ylim(0, 600)
    right.set_xlabel("cue distance x (bits)")
    right.set_ylabel("expected distance after one read x'(x)")
    right.set_title("canonical memory, 10,000 words")
    right.legend(frameon=False, loc="lower right")
    auto = theory.critical_distance(c["n"], c["d"], c["N"], c["m"]).distance
    paper = theory.critical_distance(c["n"], c["d"], c["N"], c["m"], model="paper").distance
    rows = [
        _row("critical_distance", "d*_CD (paper model, smallest of the tie)", ties[0], "d_cd",
             note=f"tied radii {', '.join(map(str, ties))}"),
        _row("critical_distance", "canonical, one-read autoassociative model", auto,
             "critical_distance", note="one-read bound; iterated simulation in one_step"),
        _row("critical_distance", "canonical, paper model", paper, "critical_distance"),
    ]
    return fig, rows, {}


def _kanerva_table(ctx: _Context):
    """round(1000·I(h)/|O(451)|) for the canonical memory: book and exact."""
    fig, axes = _figure(1, (6.2, 3.6))
    ax = axes[0][0]
    hs = [0, 1, 10, 50, 100, 150, 200, 300, 400, 500]
    exact = theory.intersection_fraction(1000, 451, hs)
    book = [PUBLISHED[f"table_{h}"].value for h in hs]
    dense = np.arange(0, 903)
    ax.plot(dense, np.exp(theory.log_intersection(1000, 451, dense)
                          - theory.log_ball_size(1000, 451)) * 1000, "-", color="k", lw=1.2,
            label="exact, 1000·I(h)/|O(451)|")
    ax.plot(hs, book, "o", mfc="none", ms=7, color="#d95f02", label="Kanerva (1988), table")
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 2000)
    ax.set_xlabel("distance h between the two addresses")
    ax.set_ylabel("locations shared, per 1000")
    ax.set_title("n = 1000, d = 451: shared fraction of a read's locations")
    ax.legend(frameon=False)
    rows = [_row("kanerva_table", f"1000·I({h})/|O(451)|, rounded", int(round(1000 * f)),
                 f"table_{h}") for h, f in zip(hs, exact, strict=True)]
    table = [{"h": h, "book": b, "exact": float(1000 * f)}
             for h, b, f in zip(hs, book, exact, strict=True)]
    return fig, rows, {"kanerva_table": table}


def _caps(ctx: _Context):
    """Cap intersections against Monte Carlo, and the cap-fitted β."""
    n, d = 24, 6
    cosines = np.array([1.0, 0.9, 0.8, 0.6, 0.4, 0.2, 0.0])
    total = 200_000 if ctx.quick else 4_000_000
    rng = np.random.default_rng(np.random.SeedSequence(ctx.seed, spawn_key=(7,)))
    threshold = 1.0 - 2.0 * d / n
    counts = np.zeros(cosines.size, dtype=np.int64)
    done = 0
    while done < total:
        block = min(200_000, total - done)
        x = rng.standard_normal((block, n))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        in_a = x[:, 0] >= threshold
        # centre b at cosine c from a = e1: b = c e1 + sqrt(1 - c²) e2
        sines = np.sqrt(1 - cosines**2)
        along_b = cosines[:, None] * x[None, :, 0] + sines[:, None] * x[None, :, 1]
        counts += ((along_b >= threshold) & in_a[None]).sum(axis=1)
        done += block
    measured = counts / total
    stderr = np.sqrt(np.maximum(measured * (1 - measured), 1.0 / total) / total)
    exact = np.asarray(theory.cap_intersection(n, d, cosines))
    z = (measured - exact) / np.sqrt(exact * (1 - exact) / total)
    fig, axes = _figure(2, (10.5, 3.7))
    left, right = axes[0]
    fine = np.linspace(-0.3, 1.0, 131)
    left.plot(fine, theory.cap_intersection(n, d, fine), "-", color="k", lw=1.2,
              label="Lee & Kim formula (fastsdm)")
    left.errorbar(cosines, measured, yerr=2 * stderr, fmt="o", ms=4, color="#d95f02",
                  capsize=2, label=f"Monte Carlo, {total:,} unit vectors (±2 s.e.)")
    left.set_yscale("log")
    left.set_ylim(1e-7, 1e-2)
    left.set_xlabel("cosine between the two cap centres")
    left.set_ylabel("fraction of the sphere in both caps")
    left.set_title(f"n = {n}, caps cos ≥ {threshold:g} (d = {d})")
    left.legend(frameon=False, loc="lower right")
    radii = np.arange(2, 33)
    right.plot(radii, [theory.fit_cap_beta(_N64, int(r)) for r in radii], "-", color="k",
               label="caps (fit_cap_beta, CFit)")
    right.plot(radii, [theory.fit_beta(_N64, int(r)) for r in radii], "--", color="0.5",
               label="balls (fit_beta)")
    for r, key in ((5, "cfit_5"), (9, "cfit_9"), (11, "cfit_11")):
        right.plot([r], [PUBLISHED[key].value], "o", mfc="none", ms=8, color=_COLORS[r])
    right.plot([], [], "o", mfc="none", color="0.3", label="authors' CFit values")
    right.set_yscale("log")
    right.set_xlabel("radius d (bit units), n = 64")
    right.set_ylabel("fitted β (paper convention)")
    right.set_title("β of the continuous memory")
    right.legend(frameon=False)
    rows = [_row("caps", f"cap-fitted β, n = 64, d = {r}", theory.fit_cap_beta(_N64, r),
                 f"cfit_{r}") for r in (5, 9, 11)]
    rows.append(_row("caps", "largest |z| of Monte Carlo vs formula (7 cosines)",
                     float(np.abs(z).max()), note="|z| < 3 expected"))
    table = [{"n": n, "d": d, "cosine": float(c), "monte_carlo": float(f),
              "standard_error": float(e), "formula": float(x), "samples": total}
             for c, f, e, x in zip(cosines, measured, stderr, exact, strict=True)]
    return fig, rows, {"caps_monte_carlo": table}


def _one_step(ctx: _Context):
    """fastsdm's SDM against the one-read models: after one read and after iterating."""
    from . import experiments

    if ctx.quick:
        memory = {"n_bits": 256, "n_locations": 20_000, "radius": 108, "counter_dtype": "int16"}
        m, distances, cues, iterations = 800, list(range(0, 129, 8)), 50, 10
    else:
        c = _CANONICAL
        memory = {"n_bits": c["n"], "n_locations": c["N"], "radius": c["d"],
                  "counter_dtype": "int8"}
        m, distances, cues, iterations = c["m"], list(range(0, 501, 20)), 100, 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", experiments.ExperimentInterrupted)
        rows_ = experiments.critical_distance(**memory, n_patterns=[m], distances=distances,
                                              n_cues=cues, iterations=iterations,
                                              seed=ctx.seed, progress=ctx.progress)
    if rows_.interrupted:  # Ctrl-C: no figure from part of a curve
        raise KeyboardInterrupt
    n, N, d = memory["n_bits"], memory["n_locations"], memory["radius"]
    x = np.array([r["cue_distance"] for r in rows_])
    one = np.array([r["mean_distance_1"] for r in rows_])
    spread = np.array([r["std_distance_1"] for r in rows_]) / math.sqrt(cues)
    final = np.array([r["mean_distance_final"] for r in rows_])
    fig, axes = _figure(2, (10.5, 4.0))
    left, right = axes[0]
    models = {name: theory.critical_distance(n, d, N, m, model=name)
              for name in ("autoassociative", "paper")}
    for name, color in (("autoassociative", "k"), ("paper", "#d95f02")):
        left.plot(*models[name].curve, color=color, lw=1.2,
                  label=f"{name} model (one read): crosses at {models[name].distance}")
    left.errorbar(x, one, yerr=2 * spread, fmt="o", ms=3.5, color="#1b9e77", capsize=2,
                  label="fastsdm SDM, one read (±2 s.e.)")
    left.plot(x, final, "s--", ms=3.5, lw=0.8, color="#7570b3", mfc="none",
              label=f"fastsdm SDM, iterated (≤ {iterations} reads)")
    left.plot([0, n], [0, n], ":", color="0.6", lw=0.8)
    top = max(distances)
    left.set_xlim(0, top)
    left.set_ylim(0, min(n, top * 1.35))
    left.set_xlabel("cue distance x to the stored word (bits)")
    left.set_ylabel("mean distance after reading (bits)")
    left.set_title(f"n = {n}, N = {N:,}, d = {d}, m = {m:,} (autoassociative)")
    left.legend(frameon=False, loc="upper left", fontsize=7)
    gap = models["autoassociative"].curve[1][x] - one
    right.axhline(0, color="0.6", lw=0.8)
    right.plot(x, gap, "o-", ms=3, color="k", label="autoassociative model − simulation")
    right.plot(x, models["paper"].curve[1][x] - one, "s-", ms=3, color="#d95f02",
               label="paper model − simulation")
    right.fill_between(x, -2 * spread, 2 * spread, color="#1b9e77", alpha=0.15,
                       label="±2 s.e. of the simulated mean")
    right.set_xlabel("cue distance x (bits)")
    right.set_ylabel("model − simulation after one read (bits)")
    right.set_title("where theory and measurement agree")
    right.legend(frameon=False, fontsize=7)
    crossing = _diagonal_crossing(x, one)
    sim_cd = rows_[0]["critical_distance_sim"]
    rows = [
        _row("one_step", "critical distance, simulated, iterated reads", sim_cd,
             "critical_distance" if not ctx.quick else None,
             note="" if not ctx.quick else "quick size: not the canonical memory"),
        _row("one_step", "one simulated read stops bringing cues closer at (bits, "
             "interpolated between grid points)",
             "none on the grid" if crossing is None else round(crossing, 1)),
        _row("one_step", "critical distance, autoassociative model (one read)",
             models["autoassociative"].distance),
        _row("one_step", "critical distance, paper model (one read)", models["paper"].distance),
        _row("one_step", "largest |model − simulation| after one read, autoassociative (bits)",
             float(np.abs(gap).max())),
        _row("one_step", "largest |model − simulation| after one read, paper model (bits)",
             float(np.abs(models["paper"].curve[1][x] - one).max())),
    ]
    probe = 200 if not ctx.quick else 32
    if probe in x:
        i = int(np.flatnonzero(x == probe)[0])
        rows.append(_row("one_step", f"distance after one read from {probe} bits: simulated / "
                         "autoassociative / paper",
                         f"{one[i]:.1f} / {models['autoassociative'].curve[1][probe]:.1f} / "
                         f"{models['paper'].curve[1][probe]:.1f}"))
    table = [{"n": n, "n_locations": N, "radius": d, "n_patterns": m, "cue_distance": int(a),
              "n_cues": cues, "mean_distance_1": float(b), "std_distance_1": r["std_distance_1"],
              "mean_distance_final": float(f),
              "model_autoassociative": float(models["autoassociative"].curve[1][a]),
              "model_paper": float(models["paper"].curve[1][a]), "seed": ctx.seed}
             for a, b, f, r in zip(x, one, final, rows_, strict=True)]
    return fig, rows, {"one_step": table}


def _diagonal_crossing(x: np.ndarray, after: np.ndarray) -> float | None:
    """First x > 0 where after(x) reaches x, linearly interpolated between grid points."""
    gap = after - x
    for k in range(1, x.size):
        if gap[k] >= 0:
            if k == 1 or gap[k - 1] >= 0:
                return float(x[k])
            return float(x[k - 1] + (x[k] - x[k - 1]) * -gap[k - 1] / (gap[k] - gap[k - 1]))
    return None


_EXHIBITS: tuple[tuple[Exhibit, Callable], ...] = (
    (Exhibit("weights", "SDM read weights and softmax attention",
             f"{_BP}, §2: the normalised intersection weights against softmax(β cos) for "
             "n = 64, d = 5, 11, 15, and their exponential decay in log space"), _weights),
    (Exhibit("beta", "β against the radius and the activation probability",
             f"{_BP}, §2 and App. B: the β–d–p relationship, n = 64 (and 256, 1000)"), _beta),
    (Exhibit("learned_betas", "Learned β between β_CD and β_Mem",
             f"{_BP}, §3: the β learned by Query-Key Normalization Transformers"),
     _learned_betas),
    (Exhibit("snr_capacity", "Signal-to-noise ratio and memory capacity",
             f"{_BP}, App. B (Kanerva 1993): SNR and capacity against d, optimal radii 11 "
             "and 5"), _snr_capacity),
    (Exhibit("critical_distance", "Critical distance",
             f"{_BP}, App. B.5 (d*_CD = 15) and Kanerva (1988), ch. 7 (canonical memory)"),
     _critical_distance),
    (Exhibit("kanerva_table", "Kanerva's intersection table",
             "Kanerva (1988), table 7.1: shared locations of two reads, canonical memory"),
     _kanerva_table),
    (Exhibit("caps", "Continuous caps and the cap-fitted β",
             f"{_BP}, App. A (Lee & Kim 2014 cap intersections) and the CFit β of the "
             "authors' code"), _caps),
    (Exhibit("one_step", "Theory against simulation: one read and iterated reads",
             "Kanerva (1988), ch. 7: the distance after reading against the cue distance "
             "(critical distance about 209 bits)"), _one_step),
)

#: The exhibits, in order: name, title and what each reproduces.
EXHIBITS = tuple(exhibit for exhibit, _ in _EXHIBITS)


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------


def _output_folder(out, force: bool) -> Path:
    """The folder :func:`run` writes: refused if it holds files, unless ``force``."""
    from .experiments._io import prepare_folder

    return prepare_folder(out, force=force, stem="paper",
                          force_hint="force=True (fastsdm paper --force)")


def _summary(rows: list[dict], files: dict[str, list[str]], meta: dict) -> str:
    lines = ["# Bricken & Pehlevan (2021) and Kanerva (1988), regenerated with fastsdm", "",
             f"fastsdm {meta['fastsdm_version']}, size **{meta['size']}**, seed {meta['seed']}, "
             f"{meta['started']}, {meta['wall_time_s']:.1f} s.", "",
             "Each exhibit names the published figure or table it reproduces; its table puts "
             "the published number beside fastsdm's (*reproduced* = equal to the published "
             "digits).", ""]
    if meta.get("interrupted"):
        lines[1:1] = ["", f"> **Interrupted (Ctrl-C) after {meta['exhibits_done']} of "
                          f"{meta['exhibits']} exhibits: partial results, the unfinished "
                          "exhibits are missing.**"]
    for k, exhibit in enumerate(EXHIBITS, 1):
        if exhibit.name not in files and meta.get("interrupted"):
            continue
        lines += [f"## {k}. {exhibit.title}", "", f"Reproduces: {exhibit.reproduces}.", ""]
        for name in files.get(exhibit.name, []):
            lines.append(f"![{exhibit.title}]({name})" if name.endswith(".png")
                         else f"Data: `{name}`")
        lines += ["", "| quantity | published | fastsdm | status | source |",
                  "|---|---:|---:|---|---|"]
        for row in rows:
            if row["exhibit"] == exhibit.name:
                cells = [row["quantity"], _format(row["published"]), _format(row["fastsdm"]),
                         row["status"], row["source"]]
                lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def run(out=None, *, quick: bool = False, force: bool = False, seed: int = 0,
        progress: bool = False) -> Gallery:
    """Regenerate the gallery: one PNG per exhibit, ``summary.md`` and ``numbers.json``.

    Parameters
    ----------
    out : str or Path, optional
        Output folder, created if needed. Default: a new folder
        ``fastsdm-results/<timestamp>-paper`` (never an existing one).
    quick : bool, default False
        Shrink the two simulations (Monte Carlo caps: 200,000 instead of 4
        million vectors; one-step: a 256-bit memory instead of Kanerva's
        canonical one). The theory exhibits are the same at both sizes.
    force : bool, default False
        Write into an ``out`` that already holds files. The other files an
        earlier run listed (a gallery's ``numbers.json``, an experiment's
        ``config.json``) are removed once this run's are written; a run that
        fails keeps them, listed with its own. Files no run listed stay.
        Without it such a folder is refused.
    seed : int, default 0
        Seeds the simulations.
    progress : bool, default False
        Report each exhibit (and the simulation's progress bar) on stderr.

    Returns
    -------
    Gallery
        The folder, the files written and the table of numbers.

    Raises
    ------
    ImportError
        Without matplotlib.
    FileExistsError
        If ``out`` holds files and ``force`` is false.
    NotADirectoryError
        If ``out`` is a file.
    TypeError, ValueError
        For a bad ``seed``.
    GalleryInterrupted
        On Ctrl-C (a :class:`KeyboardInterrupt`), after writing the finished
        exhibits, ``summary.md`` (which says the run was interrupted) and
        ``numbers.json`` (``"interrupted": true``).

    See Also
    --------
    EXHIBITS : What each figure reproduces.
    PUBLISHED : The published numbers compared with.

    Examples
    --------
    .. code-block:: python

       from fastsdm import gallery

       result = gallery.run("paper-figures", quick=True)
       print((result.out / "summary.md").read_text())
    """
    from ._validation import check_int
    from ._version import __version__
    from .experiments import _io

    seed = check_int(seed, "seed", 0, hint="pass a non-negative integer")
    _matplotlib()
    import matplotlib

    out = _output_folder(out, bool(force))
    ctx = _Context(bool(quick), seed, bool(progress))
    started = _dt.datetime.now().astimezone()
    t0 = time.perf_counter()
    rows: list[dict] = []
    written: list[Path] = []
    per_exhibit: dict[str, list[str]] = {}
    meta = {"fastsdm_version": __version__, "size": "quick" if quick else "full",
            "seed": seed, "started": started.isoformat(timespec="seconds")}
    numbers = out / "numbers.json"
    # A forced run over an earlier one removes the earlier run's other files only
    # once its own are written and listed; until then numbers.json lists both.
    earlier = _io.earlier_run_files(out)

    def write_numbers(**more):
        _io.write_text(numbers, json.dumps(
            {**meta, **more, "files": _io.listed([*written, numbers], earlier), "rows": rows},
            indent=1, default=float) + "\n")

    interrupted = False
    try:
        try:
            _make_exhibits(out, progress, ctx, rows, written, per_exhibit, matplotlib,
                           listed=lambda: write_numbers(complete=False))
        except KeyboardInterrupt:
            interrupted = True  # keep the finished exhibits, say so, then stop as asked
        meta["wall_time_s"] = time.perf_counter() - t0
        if interrupted:
            meta.update(interrupted=True, exhibits_done=len(per_exhibit),
                        exhibits=len(_EXHIBITS))
        written.append(_io.write_text(out / "summary.md", _summary(rows, per_exhibit, meta)))
        write_numbers(complete=False)
        earlier = _io.remove_earlier_run(out, earlier, kept=[*written, numbers])
        written.append(numbers)
        write_numbers(complete=True)
    except Exception as exc:
        if written:  # listed beside the earlier run's files: a forced run clears them all
            with contextlib.suppress(OSError):
                write_numbers(complete=False, failed=f"{type(exc).__name__}: {exc}",
                              exhibits_done=len(per_exhibit))
        raise
    result = Gallery(out, written, rows)
    if interrupted:
        raise GalleryInterrupted(result, len(per_exhibit), len(_EXHIBITS))
    return result


class GalleryInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`run`; the finished exhibits were written and marked.

    Attributes
    ----------
    gallery : Gallery
        What was written (``summary.md`` says the run was interrupted).
    done, total : int
        Exhibits finished, exhibits in the gallery.

    Examples
    --------
    >>> from fastsdm.gallery import GalleryInterrupted
    >>> issubclass(GalleryInterrupted, KeyboardInterrupt)  # Ctrl-C still stops a caller
    True
    """

    def __init__(self, gallery: Gallery, done: int, total: int):
        super().__init__(f"interrupted after {done} of {total} exhibits")
        self.gallery, self.done, self.total = gallery, done, total


def _make_exhibits(out: Path, progress: bool, ctx, rows: list, written: list,
                   per_exhibit: dict, matplotlib, listed: Callable[[], None]) -> None:
    """Draw and write every exhibit in turn (the lists grow as each one finishes;
    ``listed()`` lists the files written so far after each one)."""
    from .experiments import _io

    with matplotlib.rc_context(_STYLE):
        for k, (exhibit, make) in enumerate(_EXHIBITS, 1):
            t1 = time.perf_counter()
            fig, exhibit_rows, tables = make(ctx)
            fig.suptitle(f"{exhibit.title} — reproduces {exhibit.reproduces}", fontsize=8.5,
                         wrap=True)
            png = out / f"{exhibit.name}.png"
            with _io.replacing(png) as partial:
                fig.savefig(partial, dpi=DPI, metadata={"Software": None})
            names = [png.name]
            written.append(png)
            listed()
            for name, table in tables.items():
                path = out / f"{name}.csv"
                _io.to_csv(table, path)
                written.append(path)
                listed()
                names.append(path.name)
            per_exhibit[exhibit.name] = names
            rows += exhibit_rows
            if progress:
                print(f"fastsdm paper: [{k}/{len(_EXHIBITS)}] {exhibit.name} "
                      f"({time.perf_counter() - t1:.1f} s)", file=sys.stderr)
