"""The associative-memory family side by side: capacity of SDM, attention and Hopfield.

The experiment :func:`fastsdm.experiments.family_capacity` (``fastsdm family``)
and its figure (:func:`fastsdm.plots.plot_family_capacity`).  Five memories
store the *same* random patterns and are read from the *same* noisy cues:

* ``"sdm"`` -- :class:`fastsdm.SDM` with ``N`` hard locations and radius ``d``;
* ``"sdm_pattern"`` -- the same SDM with infinitely many locations, the
  pattern view of Bricken & Pehlevan (2021)
  (:func:`fastsdm.attention.sdm_pattern_read`, weights ``I(h)``);
* ``"attention"`` -- softmax attention over the stored patterns at the β
  fitted to radius ``d`` (:func:`fastsdm.theory.fit_beta`; the pattern-view
  read with ``beta="fit"``);
* ``"hopfield"`` -- the classical Hopfield network
  (:class:`fastsdm.hopfield.Hopfield`);
* ``"modern_hopfield"`` -- the modern Hopfield network of Ramsauer et al.
  (2020) (:class:`fastsdm.hopfield.ModernHopfield`).

The rows have the layout of :mod:`fastsdm.experiments` (a
:class:`~fastsdm.experiments.Records` of dicts with configuration, seeds and
versions).

References
----------
.. [1] P. Kanerva, "Sparse distributed memory and related models", in
   *Associative Neural Memories*, M. H. Hassoun (ed.), Oxford University
   Press, 1993, pp. 50-76.
.. [2] D. J. Amit, H. Gutfreund and H. Sompolinsky, Phys. Rev. Lett. 55
   (1985) 1530-1533.
.. [3] R. J. McEliece et al., IEEE Trans. Inf. Theory 33 (1987) 461-482.
.. [4] H. Ramsauer et al., "Hopfield networks is all you need", ICLR 2021.
.. [5] T. Bricken and C. Pehlevan, "Attention approximates sparse distributed
   memory", NeurIPS 2021, arXiv:2111.05498.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .._validation import n_words
from ..hopfield import UPDATES
from . import _common as common
from . import _fields as fields
from ._common import Records
from ._progress import Progress
from ._registry import Experiment, Names, about, param, register

__all__ = ["MODELS", "FamilyConfig", "draw", "family_capacity", "findings", "measure",
           "memories", "model_nbytes", "run", "theory_capacity"]

NAME = "family_capacity"
#: The memories compared, in the order of the rows (and the figure's legend).
MODELS = ("sdm", "sdm_pattern", "attention", "hopfield", "modern_hopfield")
MODEL_LABELS = {
    "sdm": "SDM (N hard locations)",
    "sdm_pattern": "SDM pattern view (N → ∞)",
    "attention": "softmax attention, fitted β",
    "hopfield": "classical Hopfield",
    "modern_hopfield": "modern Hopfield",
}
_MARKERS = {"sdm": "o", "sdm_pattern": "s", "attention": "^", "hopfield": "D",
            "modern_hopfield": "v"}
#: Seeds drawn per repetition (recorded in the rows as ``<name>_seed``).
SEED_NAMES = ("memory", "pattern", "cue", "hopfield")


def _check_models(models, name: str) -> list[str]:
    return fields.name_list(models, name, MODELS)


@dataclass(frozen=True, kw_only=True)
class FamilyConfig:
    """The arguments of :func:`family_capacity` (see it for their meaning)."""

    n_bits: int = fields.n_bits(256, "pattern length in bits")
    n_locations: int = fields.n_locations()
    radius: int | None = fields.radius()
    activation_probability: float | None = fields.activation_probability()
    counter_dtype: str = fields.counter_dtype()
    n_patterns: Sequence[int] = fields.n_patterns(
        (10, 20, 35, 50, 100, 200, 500, 1000, 2000, 4000, 8000),
        "checkpoints, numbers of stored patterns: 10,100,1000 or start:stop:step")
    noise: Sequence[int] = fields.noise((0, 32))
    n_cues: int = fields.n_cues(100, "cues per checkpoint (the same for every model)")
    iterations: int = fields.iterations(10, "maximum reads of the iterated read")
    modern_beta: float | None = param(
        None, "beta of the modern Hopfield network on bipolar dot products (default "
        "1/sqrt(n))", flag="--modern-beta", parse=fields.parse_real, metavar="B")
    hopfield_update: str = param("asynchronous", "dynamics of the classical Hopfield network",
                                 flag="--hopfield-update", choices=UPDATES,
                                 check=fields.choice(UPDATES))
    models: Sequence[str] = param(MODELS, f"models, comma-separated: {','.join(MODELS)}",
                                  flag="--models", parse=fields.parse_names(MODELS),
                                  metavar="LIST", check=_check_models)
    repetitions: int = fields.repetitions()
    seed: int | None = fields.seed()

    def resolve(self, names: Names) -> dict:
        from .. import theory

        with about("n_patterns"):
            n_patterns = fields.int_list(self.n_patterns, names("n_patterns"), 1,
                                         hint="numbers of stored patterns, e.g. [10, 100, "
                                              "1000]")
        memory = fields.check_memory(self, names, max(n_patterns),
                                     _model_nbytes(self, max(n_patterns), names))
        n = memory["n_bits"]
        if memory["radius"] < 2 and "attention" in self.models:
            with about("radius"):
                raise ValueError(f"{names('radius')} must be >= 2 for the fitted β of the "
                                 "attention model (fit_beta needs two points), got "
                                 f"{memory['radius']}; use a larger {names('radius')} or "
                                 f"{names('activation_probability')}")
        with about("noise"):
            noise = fields.int_list(self.noise, names("noise"), 0, n,
                                    hint="cue noise in flipped bits, between 0 and n_bits")
        with about("modern_beta"):
            modern_beta = _check_modern_beta(self.modern_beta, n, names("modern_beta"),
                                             "leave it out" if names.cli else "None")
        memory = fields.with_activation(memory)  # after the last check: O(n_bits^2)
        return {
            "experiment": NAME,
            **memory,
            "n_patterns": n_patterns,
            "noise": noise,
            "models": list(self.models),
            # None without the attention model at radii below 2 (no fit there).
            "attention_beta": (theory.fit_beta(n, memory["radius"])
                               if memory["radius"] >= 2 else None),
            "modern_beta": modern_beta,
            "hopfield_update": self.hopfield_update,
            "n_cues": self.n_cues, "iterations": self.iterations,
            "repetitions": self.repetitions, "seed": self.seed,
        }


def model_nbytes(n_bits: int, n_patterns: int, n_cues: int, models: Sequence[str]
                 ) -> dict[str, int]:
    """Bytes of the models' state and reads beyond the SDM and the patterns (an estimate).

    ``"Hopfield weights"``: the ``n_bits²`` int32 weights of the classical network,
    the float32 (float64 when ``(n_bits − 1) · n_patterns >= 2^24``) copy its
    reads multiply by, and a write's float32 product and its int32 conversion;
    ``"modern Hopfield patterns"``: its own copy of the patterns (twice while
    one is appended); ``"pattern-view reads"``: the temporaries of one read
    that weighs every stored pattern (the pattern view, attention, the modern
    network; :func:`fastsdm.experiments._attention.estimate_nbytes`).

    Examples
    --------
    >>> from fastsdm.experiments._family import model_nbytes
    >>> model_nbytes(200_000, 10, 2, ["hopfield"])  # 4·10^10 weights, 16 bytes each
    {'Hopfield weights': 640000000000}
    """
    from ._attention import estimate_nbytes

    n, m = n_bits, n_patterns
    parts = {}
    if "hopfield" in models:
        copy = 4 if (n - 1) * m < 1 << 24 else 8
        parts["Hopfield weights"] = n * n * (4 + copy + 8)
    if "modern_hopfield" in models:
        parts["modern Hopfield patterns"] = 2 * m * 8 * n_words(n)
    if {"sdm_pattern", "attention", "modern_hopfield"} & set(models):
        parts["pattern-view reads"] = estimate_nbytes(n, m, n_cues, 1, 1)["reads"]
    return parts


def _model_nbytes(c: FamilyConfig, n_patterns: int, names: Names) -> list:
    """:func:`model_nbytes` for :func:`~._fields.check_memory`: ``(what, bytes, hint)``."""
    if not isinstance(c.n_bits, numbers.Integral) or c.n_bits < 1:
        return []  # check_memory refuses it
    hints = {"Hopfield weights": f"leave hopfield out of {names('models')} or use a smaller "
                                 f"{names('n_bits')}",
             "modern Hopfield patterns": f"store fewer {names('n_patterns')}",
             "pattern-view reads": f"store fewer {names('n_patterns')}"}
    return [(what, nbytes, hints[what]) for what, nbytes in
            model_nbytes(int(c.n_bits), n_patterns, c.n_cues, c.models).items()]


def _check_modern_beta(beta, n_bits: int, name: str, default: str = "None") -> float:
    if beta is None:
        return 1.0 / math.sqrt(n_bits)
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, numbers.Real):
        raise TypeError(f"{name} must be a positive real number or None, got {beta!r} "
                        f"of type {type(beta).__name__}; e.g. {name}=0.1")
    if not 0.0 < float(beta) < math.inf:
        example = f"{name} 0.1" if name.startswith("--") else f"{name}=0.1"
        raise ValueError(f"{name} must be a positive finite number, got {beta!r}; e.g. "
                         f"{example}, or {default} for 1/sqrt(n_bits)")
    return float(beta)


def theory_capacity(model: str, config: Mapping) -> dict:
    """The published capacity drawn for ``model`` (``None`` where there is none).

    The SDM's is None also where :func:`fastsdm.theory.capacity` is ``<= 0`` (no
    load meets Kanerva's criterion); its source is still named.

    Returns ``{"theory_capacity": float | None, "theory_capacity_source": str,
    "theory_capacity_exact": float | None}``; see :func:`family_capacity`.
    """
    from .. import theory
    from ..hopfield import classical_capacity

    n, d, N = config["n_bits"], config["radius"], config["n_locations"]
    # Neither formula has a 1-bit case (P_whole = 0.5 is a 1-bit word's chance).
    drawn = model if n >= 2 else None
    if drawn == "sdm":
        capacity = theory.capacity(n, d, N)  # <= 0: not even one pattern meets the criterion
        return {"theory_capacity": capacity if capacity > 0 else None,
                "theory_capacity_source": "fastsdm.theory.capacity (Kanerva 1993, P_whole=0.5)",
                "theory_capacity_exact": None}
    if drawn == "hopfield":
        return {"theory_capacity": classical_capacity(n, "retrieval"),
                "theory_capacity_source": "0.138 n (Amit, Gutfreund & Sompolinsky 1985)",
                "theory_capacity_exact": classical_capacity(n, "fixed_point")}
    return {"theory_capacity": None, "theory_capacity_source": "", "theory_capacity_exact": None}



def measure(read, cues: np.ndarray, targets: np.ndarray, n: int, iterations: int) -> dict:
    """One read and an iterated read (continuing from it) of ``cues``; their errors.

    ``read(words, iterations)`` returns ``(result, ReadInfo)``.  As in
    :func:`fastsdm.experiments.capacity`: the iterated read shares the first
    step and stops per cue at a fixed point.
    """
    first, info = read(cues, 1)
    d1 = common.row_distances(first, targets)
    final = first.copy()
    steps = np.ones(cues.shape[0], dtype=np.int64)
    fixed = info.converged.copy()
    todo = ~fixed
    if iterations > 1 and todo.any():
        more, more_info = read(first[todo], iterations - 1)
        final[todo] = more
        steps[todo] += more_info.steps
        fixed[todo] = more_info.converged
    dist = common.row_distances(final, targets)
    return {
        "mean_distance_1": float(d1.mean()),
        "bit_error_rate_1": float(d1.mean() / n),
        "exact_recall_1": float(np.mean(d1 == 0)),
        "mean_distance_final": float(dist.mean()),
        "std_distance_final": float(dist.std()),
        "bit_error_rate_final": float(dist.mean() / n),
        "exact_recall_final": float(np.mean(dist == 0)),
        "fixed_point_fraction": float(fixed.mean()),
        "mean_steps": float(steps.mean()),
    }


def memories(c: dict, seeds: dict, patterns: np.ndarray):
    """Empty SDM / Hopfield / modern networks for one repetition, and the readers.

    Returns ``(write, readers)``: ``write(chunk)`` adds patterns to the
    networks that hold state, ``readers[model](m)`` is the read function of
    :func:`measure` when ``m`` patterns are stored.
    """
    from ..attention import sdm_pattern_read
    from ..hopfield import Hopfield, ModernHopfield
    from ..memory import SDM

    n, models = c["n_bits"], c["models"]
    sdm = (SDM(n, c["n_locations"], radius=c["radius"], counter_dtype=c["counter_dtype"],
               seed=seeds["memory_seed"]) if "sdm" in models else None)
    hop = (Hopfield(n, update=c["hopfield_update"], seed=seeds["hopfield_seed"])
           if "hopfield" in models else None)
    modern = ModernHopfield(n, c["modern_beta"]) if "modern_hopfield" in models else None

    def write(chunk):
        for net in (sdm, hop, modern):
            if net is not None:
                net.write(chunk)

    def pattern_view(beta):
        return lambda m: (lambda x, k: sdm_pattern_read(
            x, patterns[:m], n_bits=n, radius=c["radius"], beta=beta, iterations=k,
            return_info=True))

    readers = {
        "sdm": lambda m: lambda x, k: sdm.read(x, iterations=k, return_info=True),
        "sdm_pattern": pattern_view(None),
        "attention": pattern_view("fit"),
        "hopfield": lambda m: lambda x, k: hop.read(x, iterations=k, return_info=True),
        "modern_hopfield": lambda m: lambda x, k: modern.read(x, iterations=k,
                                                              return_info=True),
    }
    return write, readers


def run(config: Mapping, progress: bool) -> Records:
    """Run a configuration of :class:`FamilyConfig` (made by ``configure``)."""
    from ..bits import flip_bits, random_addresses

    c = dict(config)
    n = c["n_bits"]
    total = c["repetitions"] * len(c["n_patterns"]) * len(c["noise"]) * len(c["models"])
    records = Records(experiment=NAME, config=c, expected=total)
    # the patterns written between rows are timed apart (the ETA's rate per row)
    bar = Progress(total, NAME, progress, work=c["repetitions"] * c["n_patterns"][-1])
    scalar_config = common.scalar_config(c)
    stamp = common.versions()
    capacities = {model: theory_capacity(model, c) for model in c["models"]}
    try:
        for rep in range(c["repetitions"]):
            seeds = common.repetition_seeds(c["seed"], rep, SEED_NAMES)
            bar.note(f"rep {rep}: making the memories")
            with bar.work(0):  # not a row's time
                patterns = random_addresses(c["n_patterns"][-1], n,
                                            seed=seeds["pattern_seed"])
                write, readers = memories(c, seeds, patterns)
            rng = np.random.default_rng(seeds["cue_seed"])
            written = 0
            for m in c["n_patterns"]:
                bar.note(f"rep {rep}: writing {m} patterns")
                # the first writes into new memories are not the rate of the rest
                with bar.work(m - written, warmup=written == 0 and m < c["n_patterns"][-1]):
                    write(patterns[written:m])
                written = m
                targets = patterns[np.sort(rng.choice(m, size=min(c["n_cues"], m),
                                                      replace=False))]
                for k in c["noise"]:
                    cues = flip_bits(targets, n, k, seed=rng)
                    for model in c["models"]:
                        bar.note(f"rep {rep}: m={m}, noise={k}, {model}")
                        measured = measure(readers[model](m), cues, targets, n,
                                            c["iterations"])
                        records.append({
                            "experiment": NAME, "model": model, "repetition": rep,
                            "n_patterns": m, "noise": k, "noise_fraction": k / n,
                            "n_cues_read": len(targets), **measured, **capacities[model],
                            **scalar_config, "models": ",".join(c["models"]), **seeds,
                            **stamp,
                        })
                        bar.update()
    except KeyboardInterrupt:
        common.interrupted(records)
    finally:
        bar.close()
    return records



def family_capacity(*, n_bits: int = 256, n_locations: int = 50_000, radius: int | None = None,
                    activation_probability: float | None = None, counter_dtype: str = "int16",
                    n_patterns: Sequence[int] = (10, 20, 35, 50, 100, 200, 500, 1000, 2000,
                                                 4000, 8000),
                    noise: Sequence[int] = (0, 32), n_cues: int = 100, iterations: int = 10,
                    modern_beta: float | None = None, hopfield_update: str = "asynchronous",
                    models: Sequence[str] = MODELS, repetitions: int = 1, seed: int | None = 0,
                    progress: bool = True) -> Records:
    """Exact recall and bit errors of the associative-memory family as it fills.

    For each repetition ``max(n_patterns)`` random patterns are drawn and
    written, incrementally, into every memory; at each checkpoint ``m``,
    ``n_cues`` of the ``m`` stored patterns are chosen and read from the same
    cues (``noise`` bits flipped) by every model -- once, and iterated up to
    ``iterations`` times (stopping per cue at a fixed point).

    Parameters
    ----------
    n_bits : int
        Pattern length ``n``.
    n_locations : int
        Hard locations ``N`` of the SDM (the other models do not use it).
    radius : int, optional
        Activation radius ``d`` of the SDM and its pattern view (>= 2 with the
        attention model, whose β is fitted to it);
        default from ``activation_probability``.
    activation_probability : float, optional
        Converted with :func:`fastsdm.theory.radius_for_probability`; 0.001
        when neither is given.
    counter_dtype : {"int16", "int8", "int32"}
        The SDM's counters.
    n_patterns : int or sequence of int
        Checkpoints (sorted, distinct).
    noise : int or sequence of int
        Cue noise in flipped bits.
    n_cues : int
        Cues per checkpoint (distinct stored patterns, at most ``m``), shared by
        every noise level and model.
    iterations : int
        Maximum reads of the iterated read.
    modern_beta : float, optional
        β of the modern Hopfield network on bipolar dot products; default
        ``1/sqrt(n_bits)`` (the default of
        :func:`fastsdm.attention.softmax_attention`), i.e. ``sqrt(n)`` on
        cosines.  The attention model's β is ``fit_beta(n, d)`` on cosines,
        ``fit_beta(n, d)/n`` in these units.
    hopfield_update : {"asynchronous", "synchronous"}
        Dynamics of the classical network (asynchronous: random order,
        seeded by ``hopfield_seed``).
    models : sequence of str
        A subset of :data:`fastsdm.experiments.FAMILY_MODELS`.
    repetitions : int
        Independent pattern sets (and memories).
    seed : int or None
        Base seed; each repetition derives ``memory_seed`` (SDM addresses and
        ties), ``pattern_seed``, ``cue_seed`` and ``hopfield_seed``, recorded
        in its rows.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    Records
        One row per (repetition, n_patterns, noise, model) with ``model``,
        the measurements of :func:`fastsdm.experiments.capacity`
        (``bit_error_rate_1``, ``exact_recall_1``, ``bit_error_rate_final``,
        ``exact_recall_final``, ``fixed_point_fraction``, ``mean_steps``, ...),
        ``theory_capacity`` (see Notes; ``None`` where no formula is drawn,
        and for the SDM where :func:`fastsdm.theory.capacity` is ``<= 0``),
        ``theory_capacity_source``, ``theory_capacity_exact`` (classical
        Hopfield's ``n / (2 ln n)``), ``attention_beta``, ``modern_beta``, the
        configuration, seeds and versions.  Ctrl-C returns the finished rows
        with ``records.interrupted = True``.

    Raises
    ------
    TypeError, ValueError
        On a bad argument (before any work).
    MemoryError
        If the SDM, the patterns and the other models' state (the classical
        Hopfield network's ``n_bits²`` weights, see ``model_nbytes``) do
        not fit in the available RAM.

    See Also
    --------
    fastsdm.experiments.capacity : The SDM alone, with its one-read model.
    fastsdm.plots.plot_family_capacity : The figure.

    Notes
    -----
    **Theoretical capacities.** ``"sdm"``: :func:`fastsdm.theory.capacity`
    ``(n, d, N)``, Kanerva's (1993) memory criterion, as the paper gives it:
    the load at which the signal-to-noise ratio of one read at a stored
    address reaches the z-score for which all ``n`` bits are right with
    probability 1/2.  It is conservative: in simulation exact recall at that
    load is still about 0.9, and it falls to 1/2 at a load about twice as
    high (n = 128, N = 10,000, d = 47: the criterion 920, recall 0.89-0.92
    there and 0.49-0.55 at 1,800;
    :func:`fastsdm.theory.exact_recall_probability` puts 1/2 at 1,780).
    ``"hopfield"``: ``0.138 n`` (Amit, Gutfreund & Sompolinsky 1985), the load
    where retrieval with a few per cent of wrong bits collapses; exact recall
    fails earlier, near ``n / (2 ln n)`` (McEliece et al. 1987), recorded as
    ``theory_capacity_exact``.  The pattern view, attention and the modern
    network have no capacity formula here (Ramsauer et al. prove an
    exponential lower bound under separation conditions, not a number at
    given ``n`` and β).

    **Random draws, in order.** Per repetition: the patterns
    (``random_addresses(max(n_patterns), n, pattern_seed)``); then, from
    ``default_rng(cue_seed)``, per checkpoint the targets
    (``rng.choice(m, min(n_cues, m), replace=False)``, sorted) and per noise
    level the cues (``flip_bits(targets, n, noise, seed=rng)``).  So any row
    can be recomputed from its seeds.

    Examples
    --------
    >>> from fastsdm.experiments import family_capacity
    >>> rows = family_capacity(n_bits=64, n_locations=2000, radius=24, n_patterns=[4, 40],
    ...                        noise=[4], n_cues=10, progress=False)
    >>> [(r["model"], r["n_patterns"], r["exact_recall_final"]) for r in rows
    ...  if r["model"] in ("hopfield", "modern_hopfield")]
    [('hopfield', 4, 1.0), ('modern_hopfield', 4, 1.0), ('hopfield', 40, 0.0),
     ('modern_hopfield', 40, 1.0)]
    """
    return RECORD.execute(locals())


def findings(records: Records) -> list[str]:
    """Per noise level: up to which load each model still recalls half of the cues."""
    from . import _figures as fig_

    stats = fig_.mean_by(records, ("noise", "model", "n_patterns"), "exact_recall_final")
    lines = []
    for k in sorted({r["noise"] for r in records}):
        parts = []
        for model in [m for m in MODELS if any(r["model"] == m for r in records)]:
            points = [(key[2], value) for key, (value, _) in stats.items()
                      if key[:2] == (k, model)]
            held = None
            for m, value in points:
                if value < 0.5:
                    break
                held = m
            last = points[-1][0] if points else None
            text = ("none" if held is None else f"{held:,}" + ("+" if held == last else ""))
            first = next(r for r in records if r["model"] == model)
            cap = first["theory_capacity"]
            theory = ("" if not first.get("theory_capacity_source") and cap is None
                      else " (theory: none)" if cap is None or cap <= 0
                      else f" (theory {cap:,.4g})")
            parts.append(f"{model} {text}{theory}")
        lines.append(f"noise {k}: exact recall after iterating >= 50% up to m = "
                     + ", ".join(parts) + " (+: at every load measured)")
    return lines


def draw(rows: Sequence[Mapping]):
    """Exact recall and bit errors per model against stored patterns (plot_family_capacity)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from . import _figures as fig_

    r0 = rows[0]
    noises = sorted({r["noise"] for r in rows})
    present = {r["model"] for r in rows}
    models = [m for m in MODELS if m in present]
    reps = len({r["repetition"] for r in rows})
    ms = sorted({r["n_patterns"] for r in rows})
    stats = {v: fig_.mean_by(rows, ("model", "noise", "n_patterns"), v)
             for v in ("exact_recall_final", "exact_recall_1", "bit_error_rate_final",
                       "bit_error_rate_1")}
    colors = dict(zip(models, fig_.colors(len(models), "tab10"), strict=True))
    fig = Figure(figsize=(4.2 * len(noises) + 1.0, 6.6), layout="constrained")
    axes = fig.subplots(2, len(noises), squeeze=False, sharex=True)
    floor = 1.0 / (r0["n_bits"] * max(r["n_cues_read"] for r in rows))
    for col, k in enumerate(noises):
        top, bottom = axes[0, col], axes[1, col]
        for model in models:
            color = colors[model]
            for value, ax, style in (("exact_recall_final", top, "-"),
                                     ("exact_recall_1", top, ":"),
                                     ("bit_error_rate_final", bottom, "-"),
                                     ("bit_error_rate_1", bottom, ":")):
                x, y, s = fig_.series(stats[value], (model, k))
                if value.startswith("bit"):
                    keep = y > 0
                    x, y, s = x[keep], y[keep], s[keep]
                label = MODEL_LABELS[model] if (col == 0 and value == "exact_recall_final"
                                                ) else None
                # Distinct markers and widths keep coinciding curves (all at
                # recall 1.0, say) visible under each other.
                fig_.errorbar(ax, x, y, s, reps, color=color, ls=style,
                          marker=_MARKERS[model] if style == "-" else None,
                          ms=7.0 - models.index(model), mfc="none",
                          lw=(3.0 - 0.4 * models.index(model)) if style == "-" else 1.0,
                          label=label)
            first = next(r for r in rows if r["model"] == model)
            for key, dash in (("theory_capacity", "--"), ("theory_capacity_exact", "-.")):
                cap = first.get(key)
                if cap is not None and cap > 0:
                    for ax in (top, bottom):
                        ax.axvline(cap, color=color, ls=dash, lw=1.0, alpha=0.8)
        top.set_title(f"cue noise {k} bits ({100 * k / r0['n_bits']:.0f}%)")
        top.set_ylim(-0.03, 1.03)
        bottom.set_yscale("log")
        bottom.set_ylim(floor / 5, 0.7)
        bottom.set_xlabel("stored patterns m (log scale)")
        for ax in (top, bottom):
            ax.set_xscale("log")
            ax.set_xlim(ms[0] / 1.3, ms[-1] * 1.3)
    axes[0, 0].set_ylabel("exact recall (fraction of cues)")
    axes[1, 0].set_ylabel("bit error rate")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", ls="-"), Line2D([], [], color="0.3", ls=":"),
                Line2D([], [], color="0.3", ls="--"), Line2D([], [], color="0.3", ls="-.")]
    labels += [f"iterated (≤ {r0['iterations']} reads)", "one read",
               "capacity: theory.capacity (SDM), 0.138 n (Hopfield)",
               "Hopfield exact recall n / (2 ln n)"]
    fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
    attention = ("" if r0["attention_beta"] is None
                 else f"attention β = {r0['attention_beta']:.2f} (fit), ")
    fig.suptitle(f"The associative-memory family — n = {r0['n_bits']}, SDM N = "
                 f"{r0['n_locations']:,}, d = {r0['radius']}, {attention}"
                 f"modern β = {r0['modern_beta']:.3g}, "
                 f"Hopfield {r0['hopfield_update']}, {r0['n_cues']} cues/point, "
                 f"{reps} rep., seed {r0['seed']}", fontsize=9)
    return fig


RECORD = register(Experiment(
    name=NAME,
    config=FamilyConfig,
    run=run,
    function=family_capacity,
    draw=draw,
    presets={
        "small": {},
        "hopfield": {"n_bits": 128, "n_locations": 20_000, "n_patterns": [4, 8, 12, 16, 20,
                                                                        25, 30, 40, 60, 100],
                     "noise": [0, 8, 16]},
    },
    summary=(("n_patterns", "noise", "model"),
             ("exact_recall_1", "exact_recall_final", "bit_error_rate_final", "mean_steps",
              "theory_capacity")),
    command="family",
    title="SDM, attention and Hopfield networks side by side: capacity",
    description="The associative-memory family on the same random patterns and the same "
                "noisy cues: SDM with N hard locations, its pattern view (N to infinity), "
                "softmax attention at the beta fitted to the radius, and the classical and "
                "modern Hopfield networks. Exact recall and bit errors against the number of "
                "stored patterns, with each model's theoretical capacity where one exists "
                "(fastsdm.theory.capacity for the SDM, 0.138 n for classical Hopfield). "
                "Preset hopfield: loads around the classical network's capacity.",
    notes=("no radius: the radius activating a fraction 0.001 of the locations",),
    findings=findings,
))
