"""Draw the figures of the fastsdm documentation with fastsdm itself.

Run by ``docs/conf.py`` at every build (about ten seconds, the quick paper
gallery included), so the figures always match the code; or by hand::

    python docs/make_figures.py [OUTPUT_DIRECTORY]

The PNGs go to ``docs/_static/figures/`` by default.  Every number plotted
comes from :mod:`fastsdm.theory` and :mod:`fastsdm.attention`, except the
simulated canonical memory of ``one_step_canonical.png``: it is read from
``docs/data/one_step_canonical.csv``, measured once with ``fastsdm paper``
(full size, seed 0; about two minutes on two cores).  The paper gallery is
drawn by :func:`fastsdm.gallery.run` at its quick size into ``gallery/``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# Draw with the checkout this file belongs to, installed or not (as docs/conf.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastsdm import attention, theory  # noqa: E402

OUT = Path(__file__).resolve().parent / "_static" / "figures"

#: Bricken & Pehlevan's setting for a Transformer head: n = 64 bits,
#: r = 2**64 neurons, m = 1024 patterns (the context length).
N64, R64, M64 = 64, 2**64, 1024
#: The optimal radii for that setting and the names of their criteria.
RADII = {5: "memory", 11: "SNR", 15: "critical distance"}
SHORT = {5: "Mem", 11: "SNR", 15: "CD"}
#: Kanerva's canonical memory.
N_CANON, D_CANON, R_CANON, M_CANON = 1000, 451, 10**6, 10**4

COLORS = {5: "#1b9e77", 11: "#d95f02", 15: "#7570b3"}
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 130,
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _save(fig, out: Path, name: str) -> Path:
    path = out / name
    fig.savefig(path, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def _fitted_log_fraction(n: int, d: int, h: np.ndarray, method: str = "paper") -> np.ndarray:
    """log(I(h)/|O_n(d)|) predicted by the exponential fit (β and intercept)."""
    beta, intercept = theory.fit_beta(n, d, method=method, return_intercept=True)
    return intercept + beta * (1.0 - 2.0 * h / n) - theory.log_ball_size(n, d)


def intersections(out: Path) -> Path:
    """I(h)/|O| on a log scale with the exponential fit: n = 64 and the canonical memory."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.6, 3.4))
    h = np.arange(N64 + 1)
    for d in RADII:
        frac = np.exp(theory.log_intersection(N64, d, h) - theory.log_ball_size(N64, d))
        shown = frac > 0
        beta = theory.fit_beta(N64, d)
        left.plot(h[shown], frac[shown], "o-", ms=3.5, color=COLORS[d], lw=0.6,
                  label=rf"$d={d}$ ({SHORT[d]}): $\beta={beta:.1f}$")
        left.plot(h[: 2 * d + 1], np.exp(_fitted_log_fraction(N64, d, h[: 2 * d + 1])),
                  color=COLORS[d], ls="--", lw=1)
        left.axvline(2 * d, color=COLORS[d], lw=0.6, ls=":")
    left.plot([], [], color="k", ls="--", lw=1, label=r"$c_1 e^{-c_2 h}$ fitted on $h<d$")
    left.set_yscale("log")
    left.set_ylim(1e-8, 2)
    left.set_xlim(0, 34)
    left.set_xlabel("Hamming distance $h$ between the two centres")
    left.set_ylabel("intersection / ball size")
    left.set_title("$n=64$: $I(h)$ vanishes beyond $h=2d$ (dotted)")
    left.legend(ncol=1, loc="lower left", frameon=False)

    h = np.arange(0, 2 * D_CANON + 1)
    log_frac = theory.log_intersection(N_CANON, D_CANON, h) - theory.log_ball_size(N_CANON,
                                                                                   D_CANON)
    right.plot(h, np.exp(log_frac), color="k", lw=1.4, label="$I(h)/|O|$ (exact)")
    beta = theory.fit_beta(N_CANON, D_CANON)
    right.plot(h, np.exp(_fitted_log_fraction(N_CANON, D_CANON, h)), color="#d95f02", ls="--",
               lw=1.2, label=rf"fit on $h<{D_CANON}$: $\beta={beta:.2f}$")
    table_h = np.array([0, 1, 10, 50, 100, 150, 200, 300, 400, 500])
    table = np.array([1000, 894, 743, 445, 267, 162, 97, 30, 7, 1]) / 1000
    right.plot(table_h, table, "o", mfc="none", color="#1b9e77", ms=5,
               label="Kanerva (1988), table 7.1")
    right.set_yscale("log")
    right.set_ylim(1e-12, 2)
    right.set_xlabel("Hamming distance $h$")
    right.set_ylabel("intersection / ball size")
    right.set_title(f"canonical memory: $n={N_CANON}$, $d={D_CANON}$")
    right.legend(loc="lower left", frameon=False)
    fig.tight_layout()
    return _save(fig, out, "intersections.png")


def beta_vs_radius(out: Path) -> Path:
    """β of the exponential fit against the radius, both estimators, n = 64."""
    fig, ax = plt.subplots(figsize=(5.6, 3.5))
    radii = np.arange(2, N64 // 2 + 1)
    paper = [theory.fit_beta(N64, int(d)) for d in radii]
    ols = [theory.fit_beta(N64, int(d), method="ols") for d in radii]
    ax.plot(radii, paper, "o-", ms=3, color="k", label="paper: cov (ddof=1) / var (ddof=0)")
    ax.plot(radii, ols, "s-", ms=3, color="#999999", mfc="none",
            label="OLS slope = paper $\\times (d-1)/d$")
    for d in RADII:
        beta = theory.fit_beta(N64, d)
        ax.plot([d], [beta], "o", ms=8, color=COLORS[d], zorder=3)
        ax.annotate(rf"$d^*_{{\mathrm{{{SHORT[d]}}}}}={d}$, "
                    rf"$\beta={beta:.1f}$", (d, beta), xytext=(8, 6),
                    textcoords="offset points", color=COLORS[d])
    ax.set_yscale("log")
    ax.set_xlabel("radius $d$ (bits)")
    ax.set_ylabel(r"fitted $\beta$ (inverse temperature)")
    ax.set_title(r"$\beta$ against the radius, $n=64$ (fit over $h=0..d-1$)")
    ax.legend(frameon=False, loc="upper right")
    fig.tight_layout()
    return _save(fig, out, "beta_vs_radius.png")


def sdm_vs_softmax(out: Path) -> Path:
    """Normalised SDM weights against the fitted softmax (attention.compare_weights)."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), sharey=False)
    for ax, d in zip(axes, RADII, strict=True):
        cmp = attention.compare_weights(N64, d)  # metrics over h = 0..n
        shown = cmp.h <= 2 * d + 4
        ax.bar(cmp.h[shown], cmp.sdm[shown], width=0.8, color=COLORS[d], alpha=0.55,
               label=r"SDM: $I(h)/\sum_{h'} I(h')$")
        ax.plot(cmp.h[shown], cmp.softmax[shown], "o-", ms=3, color="k", lw=1,
                label=rf"softmax$(\beta\cos)$, $\beta={cmp.beta:.1f}$")
        ax.set_title(f"$d={d}$ ({RADII[d]}): TV {cmp.total_variation:.3f}, "
                     f"KL {cmp.kl:.3f}")
        ax.set_xlabel("Hamming distance $h$ to the query")
        ax.legend(frameon=False)
    axes[0].set_ylabel("weight of a pattern at distance $h$")
    fig.tight_layout()
    return _save(fig, out, "sdm_vs_softmax.png")


def critical_distance(out: Path) -> Path:
    """One-read curves of the canonical memory (three models), and CD(d) for n = 64."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.6, 3.4))
    for model, color in (("autoassociative", "k"), ("heteroassociative", "#1b9e77"),
                         ("paper", "#d95f02")):
        result = theory.critical_distance(N_CANON, D_CANON, R_CANON, M_CANON, model=model)
        x, x_new = result.curve
        left.plot(x, x_new, color=color, lw=1.3,
                  label=f"{model}: critical distance {result.distance}")
        left.plot([result.distance], [x_new[result.distance]], "o", color=color, ms=4)
    left.plot([0, N_CANON], [0, N_CANON], color="#999999", lw=0.8, ls="--",
              label="$x' = x$")
    left.set_xlim(0, 600)
    left.set_ylim(0, 600)
    left.set_xlabel("cue distance $x$ to the stored pattern (bits)")
    left.set_ylabel("expected distance after one read $x'$")
    left.set_title(f"one-read models, $n={N_CANON}$, $N=10^6$, $d={D_CANON}$, $m=10^4$")
    left.legend(frameon=False, loc="lower right")

    radii = np.arange(0, N64 // 2 + 1)
    cds = [theory.critical_distance(N64, int(d), R64, M64, model="paper").distance
           for d in radii]
    ties = theory.optimal_radius(N64, R64, M64, "critical_distance", return_all=True)
    right.plot(radii, cds, "o-", ms=3, color="k", label="CD$(d)$, paper model")
    right.plot(radii, 2 * radii, color="#999999", lw=0.8, ls="--", label="$2d$")
    right.axvspan(0, N64 / 4, color="#7570b3", alpha=0.08,
                  label=r"$2d < n/2$: model has no crosstalk")
    for d in ties:
        right.plot([d], [cds[d]], "o", ms=8, mfc="none", color=COLORS[15], zorder=3)
    right.annotate(rf"$d^*_{{\mathrm{{CD}}}}$ = {', '.join(map(str, ties))}",
                   (ties[-1], cds[ties[-1]]), xytext=(22.5, 34), color=COLORS[15],
                   arrowprops={"arrowstyle": "->", "color": COLORS[15]})
    right.set_xlim(0, N64 // 2)
    right.set_ylim(0, 46)
    right.set_xlabel("radius $d$ (bits)")
    right.set_ylabel("critical distance (bits)")
    right.set_title("$n=64$, $r=2^{64}$, $m=1024$: CD against the radius")
    right.legend(frameon=False, loc="upper left")
    fig.tight_layout()
    return _save(fig, out, "critical_distance.png")


#: fastsdm's canonical memory, measured once: ``fastsdm paper --out DIR`` (full size,
#: seed 0) writes DIR/one_step.csv, copied here.
CANONICAL_MEASUREMENT = Path(__file__).resolve().parent / "data" / "one_step_canonical.csv"


def one_step_canonical(out: Path) -> Path:
    """The measured canonical memory against the one-read models (stored measurement)."""
    import csv

    with CANONICAL_MEASUREMENT.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    x = np.array([int(r["cue_distance"]) for r in rows])
    one = np.array([float(r["mean_distance_1"]) for r in rows])
    se = np.array([float(r["std_distance_1"]) / np.sqrt(int(r["n_cues"])) for r in rows])
    final = np.array([float(r["mean_distance_final"]) for r in rows])
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.4, 3.6))
    models = {m: theory.critical_distance(N_CANON, D_CANON, R_CANON, M_CANON, model=m)
              for m in ("autoassociative", "paper")}
    for name, color in (("autoassociative", "k"), ("paper", "#d95f02")):
        left.plot(*models[name].curve, color=color, lw=1.2,
                  label=f"{name} model: crosses at {models[name].distance}")
    left.errorbar(x, one, yerr=2 * se, fmt="o", ms=3.5, color="#1b9e77", capsize=2,
                  label="simulated, one read (±2 s.e.)")
    left.plot(x, final, "s--", ms=3.5, lw=0.8, color="#7570b3", mfc="none",
              label="simulated, iterated (≤ 20 reads)")
    left.plot([0, 500], [0, 500], ":", color="#999999", lw=0.8)
    left.set_xlim(0, 500)
    left.set_ylim(0, 520)
    left.set_xlabel("cue distance $x$ (bits)")
    left.set_ylabel("mean distance after reading (bits)")
    left.set_title("canonical memory, 10,000 words, int8, seed 0")
    left.legend(frameon=False, loc="upper left", fontsize=7.5)
    right.axhline(0, color="#999999", lw=0.8)
    right.fill_between(x, -2 * se, 2 * se, color="#1b9e77", alpha=0.15,
                       label="±2 s.e. of the simulated mean")
    for name, color, mark in (("autoassociative", "k", "o"), ("paper", "#d95f02", "s")):
        right.plot(x, models[name].curve[1][x] - one, f"{mark}-", ms=3, color=color,
                   label=f"{name} model − simulation")
    right.set_xlabel("cue distance $x$ (bits)")
    right.set_ylabel("model − simulation, one read (bits)")
    right.set_title("where theory and measurement agree")
    right.legend(frameon=False, fontsize=7.5)
    fig.tight_layout()
    return _save(fig, out, "one_step_canonical.png")


def learned_beta(out: Path) -> Path:
    """β learned by Query-Key Normalization Transformers against β_CD, β_SNR, β_Mem."""
    summary = attention.learned_beta_summary()
    table = attention.load_learned_betas()
    fig, ax = plt.subplots(figsize=(6.4, 3.3))
    tasks = sorted(set(table["task"].tolist()))
    rng = np.random.default_rng(0)
    for i, task in enumerate(tasks):
        betas = table["beta"][table["task"] == task]
        ax.plot(betas, i + rng.uniform(-0.18, 0.18, betas.size), "o", ms=3.5, alpha=0.75,
                mfc="none", color="k")
    lines = ((summary.beta_cd, summary.radius_cd, "CD", COLORS[15]),
             (summary.beta_snr, summary.radius_snr, "SNR", COLORS[11]),
             (summary.beta_mem, summary.radius_mem, "Mem", COLORS[5]))
    for beta, d, name, color in lines:
        ax.axvline(beta, color=color, lw=1.5,
                   label=rf"$\beta_{{\mathrm{{{name}}}}}={beta:.1f}$ ($d={d}$)")
    ax.axvline(summary.mean, color="k", lw=1, ls="--",
               label=rf"mean learned $\beta={summary.mean:.1f}$")
    ax.set_yticks(range(len(tasks)), tasks)
    ax.set_xlabel(r"$\beta$ (softmax inverse temperature)")
    ax.set_ylabel("model (translation task)")
    ax.set_title(f"{summary.betas.size} learned Query-Key Normalization $\\beta$, "
                 f"{summary.fraction_between:.0%} between $\\beta_{{CD}}$ and "
                 f"$\\beta_{{Mem}}$")
    ax.set_xlim(0, 40)
    ax.grid(axis="y", alpha=0)
    ax.legend(frameon=False, loc="center right", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return _save(fig, out, "learned_beta.png")


def caps_vs_balls(out: Path) -> Path:
    """Continuous cap intersections against binary ball intersections, n = 64."""
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    h = np.arange(N64 + 1)
    cos = 1.0 - 2.0 * h / N64
    fine = np.linspace(-1.0, 1.0, 257)
    for d in RADII:
        caps = theory.cap_intersection(N64, d, fine) / theory.cap_fraction(N64, d)
        shown = caps > 0
        ax.plot(fine[shown], caps[shown], color=COLORS[d], lw=1.4,
                label=f"caps, $d={d}$ ({SHORT[d]})")
    for d in RADII:
        binary = np.exp(theory.log_intersection(N64, d, h) - theory.log_ball_size(N64, d))
        ax.plot(cos[binary > 0], binary[binary > 0], "o", ms=3, mfc="none", color=COLORS[d],
                label=f"balls, $d={d}$")
    ax.set_yscale("log")
    ax.set_ylim(1e-9, 2)
    ax.set_xlim(0.0, 1.02)
    ax.set_xlabel(r"cosine between the centres ($1-2h/n$ for bits)")
    ax.set_ylabel("intersection / one cap (ball)")
    ax.set_title("continuous caps (Lee & Kim) and binary balls, $n=64$")
    ax.legend(frameon=False, ncol=2, loc="upper left")
    fig.tight_layout()
    return _save(fig, out, "caps_vs_balls.png")


FIGURES = (intersections, beta_vs_radius, sdm_vs_softmax, critical_distance, learned_beta,
           caps_vs_balls, one_step_canonical)


def paper_gallery(out: Path) -> list[Path]:
    """The gallery of :doc:`paper_gallery` at its quick size (``fastsdm paper --quick``)."""
    from fastsdm import gallery

    result = gallery.run(out / "gallery", quick=True, force=True)
    return [path for path in result.files if path.suffix == ".png"]


def main(out: str | Path = OUT) -> list[Path]:
    """Draw every figure into ``out``; return the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        paths = [figure(out) for figure in FIGURES]
    return paths + paper_gallery(out)


if __name__ == "__main__":
    start = time.perf_counter()
    paths = main(*sys.argv[1:2])
    for path in paths:
        print(f"{path}  {path.stat().st_size / 1024:.0f} KiB")
    print(f"{len(paths)} figures in {time.perf_counter() - start:.1f} s")
