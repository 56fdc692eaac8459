"""The ``fastsdm`` command: run experiments, write results and figures, show the machine.

Usage::

    fastsdm capacity [--preset small|kanerva] [overrides] [--out DIR] [--format json|csv]
    fastsdm critical-distance [--preset small|kanerva] [overrides] ...
    fastsdm attention [--preset small|digits] [overrides] ...
    fastsdm paper [--out DIR] [--quick] [--force]
    fastsdm info [--json]

Each experiment validates its arguments first (a bad one exits with status 2
and a one-line message on stderr, before any long work), runs with a progress
bar on stderr, prints a summary table, and writes ``results.json`` (or
``.csv``), ``config.json``, ``summary.md`` and a PNG figure to ``--out``
(default: a new timestamped folder under ``./fastsdm-results/``). Ctrl-C stops
the run, keeps and writes the finished rows, and exits with status 130.
``fastsdm paper`` regenerates the figures and tables of Bricken & Pehlevan
(2021) and Kanerva (1988) (:mod:`fastsdm.gallery`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import re
import shlex
import sys
import time
import warnings
from pathlib import Path

__all__ = ["main"]

PROG = "fastsdm"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# Library parameter -> command-line flag, to phrase library errors in CLI terms.
_FLAGS = {
    "n_bits": "--n-bits",
    "n_locations": "--locations",
    "activation_probability": "--activation-probability",
    "counter_dtype": "--counter-dtype",
    "n_patterns": "--patterns",
    "n_cues": "--cues",
    "repetitions": "--repetitions",
    "iterations": "--iterations",
    "beta_method": "--beta-method",
    "storage": "--storage",
}


class _UsageError(Exception):
    """A bad command line: reported on one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print the usage block and exit
        raise _UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


# ---------------------------------------------------------------------------
# Argument types: each rejects a malformed value with a message naming it
# ---------------------------------------------------------------------------


def _parse_int(text: str) -> int:
    try:
        return int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _parse_int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = _parse_int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability, got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return value


def _real(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _int_list(minimum: int):
    """A parser for '100,200,300' or 'start:stop:step' (stop included)."""

    def parse(text: str) -> list[int]:
        text = text.strip()
        try:
            if ":" in text:
                parts = [_parse_int(p) for p in text.split(":")]
                if len(parts) != 3 or parts[2] <= 0:
                    raise argparse.ArgumentTypeError(
                        f"a range is start:stop:step with step > 0, got {text!r}")
                values = list(range(parts[0], parts[1] + 1, parts[2]))
            else:
                values = [_parse_int(p) for p in text.split(",") if p.strip()]
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{exc} in the list {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError(f"expected at least one integer, got {text!r}")
        low = [v for v in values if v < minimum]
        if low:
            kind = "positive" if minimum == 1 else f">= {minimum}"
            raise argparse.ArgumentTypeError(f"values must be {kind}, got {low[0]} in {text!r}")
        return values

    return parse


# ---------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------

_EXPERIMENTS = {  # subcommand -> name in fastsdm.experiments
    "capacity": "capacity",
    "critical-distance": "critical_distance",
    "attention": "attention",
}


def _output_options(p: argparse.ArgumentParser, presets: tuple[str, ...]) -> None:
    g = p.add_argument_group("run and output")
    g.add_argument("--preset", default="small", metavar="NAME",
                   help=f"parameter set: {', '.join(presets)} (default: small)")
    g.add_argument("--repetitions", type=_positive_int, metavar="K",
                   help="independent repetitions per point (default 1)")
    g.add_argument("--seed", type=_non_negative_int, metavar="S",
                   help="base seed; per-repetition seeds are recorded (default 0)")
    g.add_argument("--out", type=Path, metavar="DIR",
                   help="output folder (default: ./fastsdm-results/<timestamp>-<experiment>)")
    g.add_argument("--format", choices=("json", "csv"), default="json",
                   help="results file format (default json)")
    g.add_argument("--no-plot", action="store_true", help="do not draw the PNG figure")
    g.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar, no table: only errors")


def _memory_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("memory (override the preset)")
    g.add_argument("--n-bits", type=_positive_int, metavar="n", help="address length in bits")
    g.add_argument("--locations", dest="n_locations", type=_positive_int, metavar="N",
                   help="number of hard locations")
    g.add_argument("--radius", type=_non_negative_int, metavar="d",
                   help="activation radius in bits (replaces --activation-probability)")
    g.add_argument("--activation-probability", type=_probability, metavar="p",
                   help="choose the radius activating this fraction of locations")
    g.add_argument("--counter-dtype", choices=("int8", "int16", "int32"),
                   help="counter width (counters saturate)")


def _preset_epilog(experiment: str) -> str:
    """The presets of an experiment, spelled out (defaults of the function + overrides)."""
    import inspect
    import textwrap

    from .experiments import EXPERIMENTS, PRESETS

    defaults = {k: p.default for k, p in inspect.signature(EXPERIMENTS[experiment]).parameters
                .items() if k not in ("progress", "seed", "repetitions")}
    lines = ["presets:"]
    for name, preset in PRESETS[experiment].items():
        values = {**defaults, **preset}
        if "radius" in preset:
            values.pop("activation_probability", None)
        if values.get("radius") is None:
            values.pop("radius", None)
        if values.get("distances") is None:
            values.pop("distances", None)
        parts = []
        for key, value in values.items():
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                value = ",".join(map(str, value))
            parts.append(f"{key}={value}")
        lines.append(textwrap.fill(f"{name}: " + ", ".join(parts), width=78,
                                   initial_indent="  ", subsequent_indent="    "))
    if experiment in ("capacity", "critical_distance"):
        lines.append("  (no radius: the radius activating a fraction 0.001 of the locations)")
    if experiment == "critical_distance":
        lines.append("  (no distances: 0..n_bits/2 every step bits, step = round(n_bits/64))")
    if experiment == "capacity":
        lines.append("  (no iterations: 10, or 1 with --storage heteroassociative)")
    return "\n".join(lines)


def _sub(sub, name: str, help: str, description: str, experiment: str | None = None):
    import textwrap

    return sub.add_parser(
        name, help=help, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(" ".join(description.split()), width=78),
        epilog=_preset_epilog(experiment) if experiment else None)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fastsdm`` command."""
    from . import __version__
    from .experiments import PRESETS

    parser = _Parser(prog=PROG, description="Fast Kanerva Sparse Distributed Memory: "
                     "experiments and machine information.")
    parser.add_argument("--version", action="version", version=f"fastsdm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _sub(sub, "capacity", "recall as the memory fills up, with the theory",
             """Write random patterns incrementally into one memory; at each checkpoint
             read stored patterns from noisy cues, once and iterated, and compare bit errors
             and exact recall with Kanerva's (1993) SNR theory. The small preset runs in
             seconds; kanerva (the canonical memory, 1.06 GiB) in minutes.""", "capacity")
    _memory_options(p)
    g = p.add_argument_group("experiment")
    g.add_argument("--patterns", dest="n_patterns", type=_int_list(1), metavar="LIST",
                   help="checkpoints, numbers of stored patterns: 100,200,400 or "
                        "start:stop:step")
    g.add_argument("--noise", type=_int_list(0), metavar="LIST",
                   help="cue noise levels in flipped bits, e.g. 0,16,32")
    g.add_argument("--storage", choices=("autoassociative", "heteroassociative"),
                   help="store each pattern at its own address (default) or at an "
                        "independent random address (one read, no iteration); the theory "
                        "columns use the matching model")
    g.add_argument("--cues", dest="n_cues", type=_positive_int, metavar="C",
                   help="cues read per point")
    g.add_argument("--iterations", type=_positive_int, metavar="I",
                   help="maximum reads of the iterated read (default 10; 1 when "
                        "heteroassociative)")
    _output_options(p, tuple(PRESETS["capacity"]))

    p = _sub(sub, "critical-distance", "final vs cue distance under iterated reads",
             """Kanerva's convergence experiment: store m patterns, read from cues at
             distances 0..n/2, iterate, and record the final distance to the target;
             estimate the critical distance and compare with the one-step model. Preset
             kanerva: the canonical memory with 10,000 patterns (Kanerva reports about 209
             bits; about 1.5 minutes).""", "critical_distance")
    _memory_options(p)
    g = p.add_argument_group("experiment")
    g.add_argument("--patterns", dest="n_patterns", type=_int_list(1), metavar="LIST",
                   help="numbers of stored patterns, one curve each")
    g.add_argument("--distances", type=_int_list(0), metavar="LIST",
                   help="cue distances in bits: 0,10,20 or start:stop:step "
                        "(default 0..n/2 every --step bits)")
    g.add_argument("--step", type=_positive_int, metavar="B",
                   help="spacing of the default cue-distance grid")
    g.add_argument("--cues", dest="n_cues", type=_positive_int, metavar="C",
                   help="cues per curve")
    g.add_argument("--iterations", type=_positive_int, metavar="I",
                   help="maximum reads per cue")
    _output_options(p, tuple(PRESETS["critical_distance"]))

    p = _sub(sub, "attention", "SDM (pattern view) vs softmax attention with fitted beta",
             """Fit beta to the SDM intersection curve for each radius, compare the weight
             curves, and read stored patterns from noisy cues with the SDM pattern-view read
             and with softmax attention (Bricken & Pehlevan 2021). Preset digits uses
             scikit-learn's 8x8 digits (needs scikit-learn).""", "attention")
    g = p.add_argument_group("experiment")
    g.add_argument("--n-bits", type=_positive_int, metavar="n", help="pattern length")
    g.add_argument("--radii", type=_int_list(0), metavar="LIST", help="radii, e.g. 5,9,11,15")
    g.add_argument("--patterns", dest="n_patterns", type=_positive_int, metavar="M",
                   help="number of stored patterns (keys)")
    g.add_argument("--noise", type=_int_list(0), metavar="LIST",
                   help="cue noise levels in flipped bits")
    g.add_argument("--cues", dest="n_cues", type=_positive_int, metavar="C",
                   help="cues per point")
    g.add_argument("--iterations", type=_positive_int, metavar="I", help="reads per cue")
    g.add_argument("--dataset", choices=("random", "digits"), help="stored patterns")
    g.add_argument("--threshold", type=_real, metavar="T",
                   help="digits: pixels (0..16) >= T become 1 (default 8)")
    g.add_argument("--beta-method", choices=("paper", "ols"), help="beta estimator")
    _output_options(p, tuple(PRESETS["attention"]))

    _add_paper_parser(sub)

    p = _sub(sub, "info", "versions, CPU features, numba threads and cache",
             """Show versions, the CPU model and the flags fastsdm's kernels use, numba's
             threads, threading layer and cache.""")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    return parser


# ---------------------------------------------------------------------------
# Experiments
# ---------------------------------------------------------------------------

_RUN_OPTIONS = {"command", "preset", "out", "format", "no_plot", "quiet", "_argv"}


def _experiment_kwargs(experiment: str, args: argparse.Namespace) -> dict:
    from .experiments import PRESETS

    presets = PRESETS[experiment]
    if args.preset not in presets:
        raise _UsageError(f"{PROG} {args.command}: error: unknown preset {args.preset!r}; "
                          f"choose one of {', '.join(presets)}")
    kwargs = dict(presets[args.preset])
    overrides = {k: v for k, v in vars(args).items()
                 if k not in _RUN_OPTIONS and v is not None}
    # An override of how the radius is chosen replaces the preset's choice.
    if {"radius", "activation_probability", "n_bits"} & overrides.keys():
        kwargs.pop("radius", None)
        kwargs.pop("activation_probability", None)
    if {"distances", "step"} & overrides.keys():
        kwargs.pop("distances", None)
        kwargs.pop("step", None)
    # A heteroassociative read is not iterated: a preset's iteration count gives way.
    if overrides.get("storage") == "heteroassociative" and "iterations" not in overrides:
        kwargs.pop("iterations", None)
    kwargs.update(overrides)
    return kwargs


# Parameters whose names are also plain words: renamed only as the subject of
# a message ("radius must be ...", "each of noise must be ...").
_SUBJECT_FLAGS = {"radius": "--radius", "noise": "--noise", "radii": "--radii",
                  "step": "--step", "seed": "--seed", "threshold": "--threshold",
                  "dataset": "--dataset", "distances": "--distances"}


def _cli_message(exc: BaseException) -> str:
    """A library error phrased with the command's flags, on one line."""
    text = " ".join(str(exc).split())
    match = re.match(r"(each of )?([a-z_]+)\b", text)
    if match and match[2] in _SUBJECT_FLAGS:
        text = text[: match.start(2)] + _SUBJECT_FLAGS[match[2]] + text[match.end(2):]
    for name, flag in {**_FLAGS, "dataset": "--dataset"}.items():
        text = re.sub(rf"(?<![\w-]){name}\b", flag, text)
    return re.sub(r"(--[a-z-]+)='([^']*)'", r"\1 \2", text)  # --flag='x' -> --flag x


def _new_out_dir(experiment: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path("fastsdm-results") / f"{stamp}-{experiment.replace('_', '-')}"
    out, k = base, 2
    while out.exists():
        out, k = base.with_name(f"{base.name}-{k}"), k + 1
    return out


def _prepare_out(path: Path | None, experiment: str) -> Path:
    out = _new_out_dir(experiment) if path is None else path
    if out.exists() and not out.is_dir():
        raise _UsageError(f"{PROG}: error: --out {out} exists and is not a folder; choose "
                          "another path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _UsageError(f"{PROG}: error: cannot create the output folder {out} "
                          f"({exc.strerror or exc}); choose another --out") from None
    return out


def _headline(records) -> list[str]:
    """One-line findings to print under the table."""
    lines = []
    if records and "theory_model" in records[0]:
        lines.append(_agreement(records))
    if records.experiment == "critical_distance":
        seen = {}
        for r in records:
            if r["critical_distance_sim"] is not None:
                seen.setdefault(r["n_patterns"], []).append(r)
        for m, rows in seen.items():
            sims = sorted({r["critical_distance_sim"] for r in rows})
            recalls = sorted({r["critical_distance_recall"] for r in rows})
            lines.append(f"m = {m}: critical distance {'/'.join(map(str, sims))} bits "
                         f"(mean final < cue), {'/'.join(map(str, recalls))} bits (>= 50% "
                         f"recalled); one-step model {rows[0]['critical_distance_theory']} bits "
                         f"({rows[0]['theory_model']}; paper model "
                         f"{rows[0]['critical_distance_theory_paper']} bits)")
    return lines


def _agreement(records) -> str:
    """Where the one-read theory and the measurement agree, in one line."""
    model = records[0]["theory_model"]
    if records.experiment == "capacity":
        measured, predicted, paper = ("bit_error_rate_1", "theory_bit_error_rate_1",
                                      "theory_bit_error_rate_1_paper")
        unit = "bit error rate"
    else:
        measured, predicted, paper = ("mean_distance_1", "theory_distance_1",
                                      "theory_distance_1_paper")
        unit = "bits"
    gaps = [abs(r[predicted] - r[measured]) for r in records]
    paper_gaps = [abs(r[paper] - r[measured]) for r in records]
    worst = max(range(len(gaps)), key=gaps.__getitem__)
    where = records[worst]
    point = (f"m = {where['n_patterns']}, noise {where['noise']}" if "noise" in where
             else f"m = {where['n_patterns']}, cue distance {where['cue_distance']}")
    return (f"theory ({model} model, one read) vs measurement: largest gap {gaps[worst]:.3g} "
            f"({unit}, at {point}), median {float(sorted(gaps)[len(gaps) // 2]):.3g}; "
            f"the paper model's largest gap {max(paper_gaps):.3g}")


def _environment() -> dict:
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel ran yet
        layer = None
    return {"numba_threads": numba.get_num_threads(), "threading_layer": layer,
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
            "cpu": _cpu_model(), "platform": platform.platform()}


def _run_experiment(args: argparse.Namespace) -> int:
    from . import experiments

    experiment = _EXPERIMENTS[args.command]
    kwargs = _experiment_kwargs(experiment, args)
    try:
        config = experiments.configure(experiment, **kwargs)
    except (TypeError, ValueError, MemoryError, ImportError) as exc:
        raise _UsageError(f"{PROG} {args.command}: error: {_cli_message(exc)}") from None
    out = _prepare_out(args.out, experiment)
    plot = not args.no_plot
    if plot:
        try:
            import matplotlib

            matplotlib.use("Agg")  # an application may choose the backend; files only
        except ImportError:
            plot = False
            if not args.quiet:
                print("install fastsdm[plot] for figures", file=sys.stderr)

    started = _dt.datetime.now().astimezone()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # The CLI reports an interruption itself (exit status 130).
        warnings.simplefilter("ignore", experiments.ExperimentInterrupted)
        records = experiments.run(config, progress=not args.quiet)
    wall = time.perf_counter() - t0

    ext = args.format
    write = experiments.to_json if ext == "json" else experiments.to_csv
    files = [write(records, out / f"results.{ext}")]
    for name, table in records.tables.items():
        files.append(write(table, out / f"{name}.{ext}"))
    table = experiments.summary_table(records)
    headline = _headline(records)
    model = config.get("theory_model")
    named = (f"\nTheory columns: the {model} one-read model of fastsdm.theory (the storage of "
             f"this run); *_paper: the model of Bricken & Pehlevan (2021, App. B).\n"
             if model else "")
    (out / "summary.md").write_text(
        f"# fastsdm {args.command}\n{named}\n{table}\n"
        + "".join(f"\n{line}\n" for line in headline), encoding="utf-8")
    files.append(out / "summary.md")
    meta = {
        "command": shlex.join([PROG, *args._argv]),
        "argv": args._argv,
        "experiment": experiment,
        "preset": args.preset,
        "config": config,
        "versions": experiments.versions(),
        "environment": _environment(),
        "started": started.isoformat(timespec="seconds"),
        "wall_time_s": round(wall, 3),
        "rows": len(records),
        "interrupted": records.interrupted,
        "files": [],
    }
    status = 0
    if plot and records:
        from . import plots

        figure = out / f"{experiment.replace('_', '-')}.png"
        try:
            plots.plot(records, figure)
            files.append(figure)
        except Exception as exc:  # the results are written; report the figure and go on
            print(f"{PROG} {args.command}: could not draw the figure: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr)
            status = 1
    meta["files"] = [f.name for f in files] + ["config.json"]
    (out / "config.json").write_text(json.dumps(meta, indent=1, default=str) + "\n",
                                     encoding="utf-8")
    if not args.quiet:
        print(table)
        for line in headline:
            print(line)
        print(f"{len(records)} rows in {wall:.1f} s; wrote {', '.join(meta['files'])} to {out}")
    if records.interrupted:
        print(f"{PROG} {args.command}: interrupted; kept the {len(records)} finished rows "
              f"in {out}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return status


# ---------------------------------------------------------------------------
# paper: the gallery of published figures (fastsdm.gallery)
# ---------------------------------------------------------------------------


def _add_paper_parser(sub) -> None:
    p = _sub(sub, "paper", "regenerate the figures of Bricken & Pehlevan (2021) and Kanerva "
             "(1988)",
             """Regenerate the computational figures and tables of Bricken & Pehlevan
             (2021) and Kanerva (1988) with fastsdm: one PNG per exhibit, summary.md with the
             published numbers beside fastsdm's, numbers.json and the measured data as CSV.
             The full size simulates Kanerva's canonical memory (1.1 GB, minutes); --quick
             shrinks the two simulations to seconds. Needs matplotlib.""")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output folder (default: ./fastsdm-results/<timestamp>-paper); an "
                        "existing folder with files is refused unless --force")
    p.add_argument("--quick", action="store_true",
                   help="reduced simulations (seconds; for CI and a first look)")
    p.add_argument("--force", action="store_true",
                   help="write into an --out that already holds files, overwriting them")
    p.add_argument("--seed", type=_non_negative_int, default=0, metavar="S",
                   help="seed of the simulations (default 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors")


def _run_paper(args: argparse.Namespace) -> int:
    from . import gallery

    try:
        import matplotlib

        matplotlib.use("Agg")  # files only
    except ImportError:
        raise _UsageError(f"{PROG} paper: error: the gallery draws figures with matplotlib, "
                          'which is not installed: pip install "fastsdm[plot]"') from None
    try:
        result = gallery.run(args.out, quick=args.quick, force=args.force, seed=args.seed,
                             progress=not args.quiet)
    except (FileExistsError, NotADirectoryError) as exc:
        raise _UsageError(f"{PROG} paper: error: {exc}".replace("force=True (fastsdm paper "
                                                                "--force)", "--force")) from None
    if not args.quiet:
        done = sum(r["status"].startswith("reproduced") for r in result.rows)
        published = sum(r["published"] is not None for r in result.rows)
        print(f"{done} of {published} published numbers reproduced; wrote "
              f"{len(result.files)} files to {result.out} (see summary.md)")
    return 0


# ---------------------------------------------------------------------------
# info
# ---------------------------------------------------------------------------

_CPU_FLAGS = ("popcnt", "avx2", "avx512f", "avx512bw", "avx512_vpopcntdq")


def _cpuinfo() -> dict:
    info = {}
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "flags", "Features") and key not in info:
                    info[key] = value.strip()
                if "model name" in info and ("flags" in info or "Features" in info):
                    break
    return info


def _cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def _numba_cache() -> dict:
    import importlib
    import pkgutil

    import numba

    from . import _jit, _kernels

    status = {"enabled": bool(_jit.CACHE), "NUMBA_CACHE_DIR": numba.config.CACHE_DIR or None,
              "dirs": [], "index_files": 0, "bytes": 0, "writable": None}
    if numba.config.DISABLE_JIT:
        status["enabled"] = False
        status["note"] = "NUMBA_DISABLE_JIT=1: kernels run as plain Python"
        return status
    dirs = set()
    modules = [importlib.import_module(f"{_kernels.__name__}.{m.name}")
               for m in pkgutil.iter_modules(_kernels.__path__)]
    for module in modules + [importlib.import_module("fastsdm.theory")]:
        for value in vars(module).values():
            cache = getattr(value, "_cache", None)
            path = getattr(cache, "_cache_path", None)
            if path:
                dirs.add(path)
    for d in sorted(dirs):
        p = Path(d)
        files = list(p.glob("*.nb[ic]")) if p.is_dir() else []
        status["dirs"].append(d)
        status["index_files"] += sum(f.suffix == ".nbi" for f in files)
        status["bytes"] += sum(f.stat().st_size for f in files)
    if status["dirs"]:
        status["writable"] = all(os.access(d, os.W_OK) for d in status["dirs"]
                                 if Path(d).exists())
    return status


def _info() -> dict:
    import llvmlite
    import numba
    import numpy as np
    import tqdm

    from . import __version__
    from .memory import _available_memory

    versions = {"fastsdm": __version__, "python": platform.python_version(),
                "numpy": np.__version__, "numba": numba.__version__,
                "llvmlite": llvmlite.__version__, "tqdm": tqdm.__version__}
    for name, module in (("matplotlib", "matplotlib"), ("scikit-learn", "sklearn")):
        try:
            versions[name] = importlib_version(module)
        except ImportError:
            versions[name] = None
    cpu = _cpuinfo()
    flags = set((cpu.get("flags") or cpu.get("Features") or "").split())
    # Run one tiny parallel kernel so numba reports the threading layer it chose.
    try:
        layer = numba.threading_layer()
    except ValueError:
        from .bits import random_addresses
        from .search import hamming_distances

        words = random_addresses(4, 64, seed=0)
        hamming_distances(words, words, parallel=True)
        try:
            layer = numba.threading_layer()
        except ValueError:
            layer = None
    available = _available_memory()
    return {
        "versions": versions,
        "platform": platform.platform(),
        "cpu": {"model": _cpu_model(), "logical_cpus": os.cpu_count(),
                "flags": {f: (f in flags) if flags else None for f in _CPU_FLAGS}},
        "numba": {"threads": numba.get_num_threads(),
                  "NUMBA_NUM_THREADS": numba.config.NUMBA_NUM_THREADS,
                  "threading_layer": layer,
                  "requested_threading_layer": numba.config.THREADING_LAYER,
                  "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
                  "cache": _numba_cache()},
        "memory_available_bytes": available,
    }


def importlib_version(module: str) -> str:
    """Installed version of a module's distribution, importing nothing heavy."""
    import importlib.metadata
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ImportError(module)
    dist = {"sklearn": "scikit-learn"}.get(module, module)
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return getattr(__import__(module), "__version__", "unknown")


def _format_info(info: dict) -> str:
    v = info["versions"]
    optional = [f"{k} {v[k]}" if v[k] else f"{k} missing" for k in ("matplotlib", "scikit-learn")]
    cpu = info["cpu"]
    flags = cpu["flags"]
    flag_text = ("unknown (no /proc/cpuinfo)" if all(x is None for x in flags.values())
                 else ", ".join(f"{k} {'yes' if ok else 'no'}" for k, ok in flags.items()))
    nb = info["numba"]
    cache = nb["cache"]
    if cache.get("note"):
        cache_text = cache["note"]
    elif not cache["enabled"]:
        cache_text = "off (FASTSDM_NUMBA_CACHE=0): kernels compile in every process"
    else:
        where = cache["NUMBA_CACHE_DIR"] or "next to the sources (__pycache__)"
        dirs = ", ".join(cache["dirs"]) or "(none yet)"
        state = ("warm" if cache["index_files"] else "cold: the first run compiles (~10 s)")
        cache_text = (f"on, {where}; {cache['index_files']} kernels cached "
                      f"({cache['bytes'] / 2**20:.1f} MiB) in {dirs} [{state}"
                      + ("" if cache["writable"] in (None, True) else "; NOT writable") + "]")
    vpop = flags.get("avx512_vpopcntdq")
    popcount = ("AVX-512 vpopcntq (fastest scan)" if vpop
                else "scalar popcnt" if flags.get("popcnt") else "unknown")
    mem = info["memory_available_bytes"]
    rows = [
        ("fastsdm", v["fastsdm"]),
        ("python", f"{v['python']} ({info['platform']})"),
        ("core", f"numpy {v['numpy']}, numba {v['numba']}, llvmlite {v['llvmlite']}, "
                 f"tqdm {v['tqdm']}"),
        ("optional", ", ".join(optional)),
        ("cpu", f"{cpu['model']} ({cpu['logical_cpus']} logical CPUs)"),
        ("cpu flags", flag_text),
        ("popcount", popcount),
        ("numba threads", f"{nb['threads']} (NUMBA_NUM_THREADS={nb['NUMBA_NUM_THREADS']})"),
        ("threading layer", f"{nb['threading_layer']} (requested: "
                            f"{nb['requested_threading_layer']})"),
        ("OMP_WAIT_POLICY", nb["OMP_WAIT_POLICY"] or "unset"),
        ("numba cache", cache_text),
        ("memory", "unknown" if mem is None else f"{mem / 2**30:.1f} GiB available"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {val}" for k, val in rows)


def _run_info(args: argparse.Namespace) -> int:
    info = _info()
    print(json.dumps(info, indent=1) if args.json else _format_info(info))
    return 0


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the ``fastsdm`` command; return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for a bad command line (one line on stderr, before any
        long work), 130 when Ctrl-C interrupted an experiment (its finished
        rows are written), 1 when the results were written but the figure
        failed.
    """
    # The command is an application, so it may set process-wide settings that
    # the library must not. numba's OpenMP thread pool spin-waits between
    # parallel launches by default; on a 2-core machine the spinning threads
    # steal the cores from the main thread and cost milliseconds per launch.
    # OpenMP reads the variable when its runtime starts, i.e. at the first
    # parallel kernel, which has not happened yet here. A user's own setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else 0
        args._argv = argv
        if args.command == "info":
            return _run_info(args)
        if args.command == "paper":
            return _run_paper(args)
        return _run_experiment(args)
    except _UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
