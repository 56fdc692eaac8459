"""The ``fastsdm`` command: run experiments, write results and figures, show the machine.

Usage::

    fastsdm capacity [--preset small|kanerva] [overrides] [--out DIR] [--format json|csv]
    fastsdm critical-distance [--preset small|kanerva] [overrides] ...
    fastsdm attention [--preset small|digits] [overrides] ...
    fastsdm family [--preset small|hopfield] [overrides] ...
    fastsdm paper [--out DIR] [--quick] [--force]
    fastsdm info [--json]

The experiment subcommands, their flags, help text and presets are generated
from the registry of :mod:`fastsdm.experiments` (one record per experiment).
Each experiment validates its arguments first (a bad one exits with status 2
and a one-line message on stderr, before any long work; a mistyped option is
answered with the closest one), runs with a progress bar on stderr, prints a
summary table, and writes ``results.json`` (or ``.csv``), ``config.json``,
``summary.md`` and a PNG figure to ``--out`` (default: a new timestamped folder
under ``./fastsdm-results/``). A folder that holds files already is refused
unless ``--force`` is given: a run never overwrites an earlier one unasked.
Ctrl-C stops the run, keeps and writes the finished rows (the figure and
``summary.md`` say the run was interrupted), and exits with status 130; Ctrl-C
while the command is still starting exits with 130 too, without a traceback.
``fastsdm paper`` regenerates the figures and tables of Bricken & Pehlevan
(2021) and Kanerva (1988) (:mod:`fastsdm.gallery`); Ctrl-C keeps its finished
exhibits, marks ``summary.md`` as interrupted and exits with status 130 too.
A run that fails before writing anything removes the folder it created.

This module imports only the standard library at import time: numpy, numba and
the experiments are imported inside :func:`main`, where Ctrl-C is caught.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import errno
import functools
import json
import os
import shlex
import sys
import textwrap
import time
import warnings
from pathlib import Path

__all__ = ["build_parser", "main"]

PROG = "fastsdm"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: Subcommands that are not experiments of the registry.
OTHER_COMMANDS = ("paper", "info")


class _UsageError(Exception):
    """A bad command line: reported on one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that reports errors on one line and knows its own flags."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.flags: list[str] = []

    def add_flag(self, group, *flags: str, **kwargs):
        self.flags.extend(flags)
        return group.add_argument(*flags, **kwargs)

    def error(self, message):  # argparse would print the usage block and exit
        raise _UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


# ---------------------------------------------------------------------------
# The parser, generated from the experiments' registry
# ---------------------------------------------------------------------------


def _text(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _presets_epilog(record) -> str:
    """The presets of an experiment spelled as flags, with the memory each needs."""
    from ._machine import format_bytes
    from .experiments._fields import memory_nbytes

    params = record.params()
    defaults = record.defaults()
    lines = ["presets:"]
    for name, preset in record.presets.items():
        values = {**defaults, **preset}
        parts = [f"{params[k].flag} {_text(v)}" for k, v in values.items()
                 if v is not None and params[k].flag and k not in ("seed", "repetitions")]
        text = f"{name}: " + " ".join(parts)
        if "n_locations" in values:
            size = memory_nbytes(values["n_bits"], values["n_locations"],
                                 values["counter_dtype"])
            text += f" (SDM memory {format_bytes(size)})"
        lines.append(textwrap.fill(text, width=78, initial_indent="  ",
                                   subsequent_indent="    ", break_on_hyphens=False))
    lines += [f"  ({note})" for note in (*record.notes, "a flag given overrides the preset")]
    return "\n".join(lines)


def _sub(sub, name: str, help: str, description: str, epilog: str | None = None) -> _Parser:
    return sub.add_parser(
        name, help=help, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(" ".join(description.split()), width=78), epilog=epilog)


def _preset_type(record):
    def parse(text: str) -> str:
        if text not in record.presets:
            raise argparse.ArgumentTypeError(f"unknown preset {text!r}; choose one of "
                                             f"{', '.join(record.presets)}")
        return text

    return parse


def _add_experiment(sub, record) -> None:
    from .experiments._registry import GROUPS

    p = _sub(sub, record.command, record.title, record.description, _presets_epilog(record))
    p.set_defaults(experiment=record.name)
    params = record.params()
    groups = {}
    for key in GROUPS:
        if key == "run" or any(prm.group == key and prm.flag for prm in params.values()):
            groups[key] = p.add_argument_group(GROUPS[key])
    run = groups["run"]
    p.add_flag(run, "--preset", default="small", metavar="NAME", type=_preset_type(record),
               help=f"parameter set: {', '.join(record.presets)} (default: small)")
    for name, prm in params.items():
        if not prm.flag:
            continue
        default = record.defaults()[name]
        shown = f" (default {_text(default)})" if prm.group == "run" else ""
        kwargs = {"dest": name, "default": None, "help": prm.help + shown}
        if prm.choices:
            kwargs["choices"] = prm.choices
        else:
            kwargs.update(type=prm.parse, metavar=prm.metavar)
        p.add_flag(groups[prm.group], prm.flag, **kwargs)
    _output_flags(p, run, record.command.replace("_", "-"))
    p.add_flag(run, "--format", choices=("json", "csv"), default="json",
               help="results file format (default json)")
    p.add_flag(run, "--no-plot", action="store_true", help="do not draw the PNG figure")


def _user_path(text: str) -> Path:
    # The shell leaves "--out=~/runs" and a quoted "~/runs" alone: expand them here.
    try:
        return Path(text).expanduser()
    except RuntimeError:  # "~nosuchuser/runs", or no home folder at all
        raise argparse.ArgumentTypeError(f"cannot expand {text!r}: no such user's home "
                                         "folder; give the folder's full path") from None


def _output_flags(p: _Parser, group, stem: str) -> None:
    """--out, --force and --quiet: the same for every command that writes a folder."""
    p.add_flag(group, "--out", type=_user_path, metavar="DIR",
               help=f"output folder (default: ./fastsdm-results/<timestamp>-{stem}); a folder "
                    "that already holds files is refused unless --force")
    p.add_flag(group, "--force", action="store_true",
               help="write into an --out that holds an earlier run, replacing its files")
    p.add_flag(group, "-q", "--quiet", action="store_true",
               help="no progress bar, no table: only errors")


def _add_paper(sub) -> None:
    from ._machine import format_bytes
    from .experiments._fields import memory_nbytes, parse_non_negative_int

    size = format_bytes(memory_nbytes(1000, 10**6, "int8"))
    p = _sub(sub, "paper", "regenerate the figures of Bricken & Pehlevan (2021) and Kanerva "
             "(1988)",
             f"""Regenerate the computational figures and tables of Bricken & Pehlevan
             (2021) and Kanerva (1988) with fastsdm: one PNG per exhibit, summary.md with the
             published numbers beside fastsdm's, numbers.json and the measured data as CSV.
             The full size simulates Kanerva's canonical memory ({size}, minutes); --quick
             shrinks the two simulations to seconds. Needs matplotlib.""")
    group = p.add_argument_group("run and output")
    p.add_flag(group, "--quick", action="store_true",
               help="reduced simulations (seconds; for CI and a first look)")
    p.add_flag(group, "--seed", type=parse_non_negative_int, default=0, metavar="S",
               help="seed of the simulations (default 0)")
    _output_flags(p, group, "paper")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fastsdm`` command, generated from the experiments' registry.

    Returns
    -------
    argparse.ArgumentParser
        One subcommand per registered experiment, then ``paper`` and ``info``.

    Examples
    --------
    >>> from fastsdm.cli import build_parser
    >>> args = build_parser().parse_args(["capacity", "--locations", "2000"])
    >>> args.experiment, args.n_locations, args.preset
    ('capacity', 2000, 'small')
    """
    from ._version import __version__
    from .experiments._registry import REGISTRY

    parser = _Parser(prog=PROG, description="Fast Kanerva Sparse Distributed Memory: "
                     "experiments and machine information.")
    parser.add_argument("--version", action="version", version=f"fastsdm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=_Parser)
    parser.commands = sub.choices  # name -> subparser
    for record in REGISTRY.values():
        _add_experiment(sub, record)
    _add_paper(sub)
    p = _sub(sub, "info", "versions, CPU features, numba threads and cache",
             """Show versions, the CPU model and the flags fastsdm's kernels use, numba's
             threads, threading layer and cache.""")
    p.add_flag(p, "--json", action="store_true", help="print a JSON object")
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse, answering a mistyped command or option with the closest known one."""
    commands = parser.commands
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is not None and argv[0] == first and first not in commands:
        close = difflib.get_close_matches(first, list(commands), n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        raise _UsageError(f"{PROG}: error: argument COMMAND: invalid choice: {first!r}{guess} "
                          f"(choose from {', '.join(commands)}; see {PROG} --help)")
    args, extras = parser.parse_known_args(argv)
    if extras:
        sub = commands[args.command]
        guess = ""
        options = [a.split("=", 1)[0] for a in extras if a.startswith("-")]
        if options:  # compare without the dashes, which every flag shares
            known = {flag.lstrip("-"): flag for flag in sub.flags}
            close = difflib.get_close_matches(options[0].lstrip("-"), list(known), n=1)
            guess = f"; did you mean {known[close[0]]}?" if close else ""
        raise _UsageError(f"{sub.prog}: error: unrecognized arguments: {' '.join(extras)}"
                          f"{guess} (see {sub.prog} --help)")
    return args


# ---------------------------------------------------------------------------
# Experiments
# ---------------------------------------------------------------------------


def _message(exc: BaseException, record) -> str:
    """A library error on one line; it names the flag (the registry's ``exc.parameters``)."""
    text = " ".join(str(exc).split())
    flags = [record.flags()(p) for p in getattr(exc, "parameters", ())]
    if flags and not any(flag in text for flag in flags):
        text = f"{', '.join(flags)}: {text}"
    return text


def _prepare_out(args: argparse.Namespace, stem: str) -> Path:
    from .experiments._io import prepare_folder

    try:
        return prepare_folder(args.out, force=args.force, stem=stem, force_hint="--force")
    except OSError as exc:  # an earlier run's folder, a file, or no permission
        raise _UsageError(f"{PROG} {args.command}: error: --out: {exc}") from None


@contextlib.contextmanager
def _output_folder(args: argparse.Namespace, stem: str):
    """The output folder (:func:`_prepare_out`), removed again if the command fails before
    writing anything into it: a crash or Ctrl-C leaves no empty folder behind."""
    existed = args.out is not None and Path(args.out).is_dir()
    out = _prepare_out(args, stem)
    try:
        yield out
    except BaseException:
        if not existed:
            with contextlib.suppress(OSError):
                out.rmdir()  # only an empty folder: never a file written before
        raise


def _run_experiment(args: argparse.Namespace) -> int:
    from .experiments._registry import REGISTRY

    record = REGISTRY[args.experiment]
    given = {name: getattr(args, name) for name in record.params()
             if getattr(args, name, None) is not None}
    kwargs = record.arguments(args.preset, given)
    try:
        config = record.configure(kwargs, record.flags())
    except (TypeError, ValueError, MemoryError, ImportError) as exc:
        raise _UsageError(f"{PROG} {args.command}: error: {_message(exc, record)}") from None
    with _output_folder(args, args.command) as out:
        return _write_experiment(args, record, config, out)


def _write_experiment(args: argparse.Namespace, record, config: dict, out: Path) -> int:
    import datetime as _dt

    from . import _machine
    from .experiments import _io
    from .experiments._common import ExperimentInterrupted, cue_note, versions

    capped = cue_note(config, record.flags())
    if capped and not args.quiet:
        print(f"{PROG} {args.command}: note: {capped}", file=sys.stderr)
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
        # The command reports an interruption itself (exit status 130).
        warnings.simplefilter("ignore", ExperimentInterrupted)
        records = record.run(config, not args.quiet)
    wall = time.perf_counter() - t0
    if records.interrupted:
        _CTRL_C.handled()

    ext = args.format
    write = _io.to_json if ext == "json" else _io.to_csv
    findings = record.findings(records) if (record.findings and records) else []
    preface = "\n\n".join(p for p in (record.preface(config) if record.preface else "",
                                       f"Note: {capped}." if capped else "") if p)
    figure = out / f"{args.command}.png" if plot and records else None
    meta = {
        "command": shlex.join([PROG, *args.argv]),
        "argv": args.argv,
        "experiment": record.name,
        "preset": args.preset,
        "config": config,
        "versions": versions(),
        "environment": _machine.environment(),
        "started": started.isoformat(timespec="seconds"),
        "wall_time_s": round(wall, 3),
        "rows": len(records),
        "expected_rows": records.expected,
        "interrupted": records.interrupted,
        # config.json goes first, listing what this run writes and saying it is
        # not complete yet: a Ctrl-C while the files are written then leaves a
        # folder that says so, and whose files --force knows.
        "complete": False,
        "files": None,
    }

    def write_summary(file):
        _io.write_text(file, _io.summary_markdown(f"fastsdm {args.command}", records,
                                                  preface=preface, findings=findings))

    def draw(file):
        from . import plots

        plots.plot(records, file)

    # What this run writes, in order: (file, how, whether a failure costs only that
    # file).  config.json lists the same names before any of them is written.
    plan = [(out / f"results.{ext}", functools.partial(write, records), False),
            *((out / f"{name}.{ext}", functools.partial(write, table), False)
              for name, table in records.tables.items()),
            (out / "summary.md", write_summary, False),
            *([(figure, draw, True)] if figure is not None else [])]
    # A forced run over an earlier one removes the earlier run's other files once
    # its own are written; until then config.json lists them too.
    earlier = _io.earlier_run_files(out)
    meta["files"] = _io.listed([*(file for file, _, _ in plan), "config.json"], earlier)

    def write_config():
        _io.write_text(out / "config.json", json.dumps(meta, indent=1, default=str) + "\n")

    def held() -> str:
        # What the folder holds now, in words, for a message about a stop midway.
        text = (f"{out} holds this run's {', '.join(f.name for f in files)}" if files
                else f"{out} holds none of this run's results")
        if config_written:
            text += " and its config.json, which says the output is not complete"
        return text + ("; the earlier run's files are still there" if earlier else "")

    files, config_written, status = [], False, 0
    writing = out / "config.json"
    try:
        write_config()
        config_written = True
        for file, write_file, optional in plan:
            writing = file
            try:
                write_file(file)
            except Exception as exc:
                if not optional:
                    raise
                # The results are written; report the figure, go on.
                print(f"{PROG} {args.command}: could not draw or write the figure {file.name}: "
                      f"{type(exc).__name__}: {exc}", file=sys.stderr)
                status = 1
                continue
            files.append(file)
        own = [*files, "config.json"]
        earlier = _io.remove_earlier_run(out, earlier, kept=own)  # those it could not remove
        meta.update(complete=True, files=_io.listed(own, earlier))
        writing = out / "config.json"
        write_config()
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted while writing the results: {held()}",
              file=sys.stderr)
        raise
    except OSError as exc:
        # A full disk after a long run: say so, and show the rows rather than lose them.
        print(f"{PROG} {args.command}: could not write {writing}: {_os_reason(exc)}. "
              f"{held()}. The rows are printed below as JSON; {_os_advice(exc)}",
              file=sys.stderr)
        print(_io.rows_json(records), end="")
        return 1
    if not args.quiet:
        print(_io.summary_table(records))
        for line in findings:
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


def _run_paper(args: argparse.Namespace) -> int:
    from . import gallery

    try:
        import matplotlib

        matplotlib.use("Agg")  # files only
    except ImportError:
        raise _UsageError(f"{PROG} paper: error: the gallery draws figures with matplotlib, "
                          'which is not installed: pip install "fastsdm[plot]"') from None
    with _output_folder(args, "paper") as out:
        # The folder passed the same check as an experiment's (refused unless --force).
        try:
            result = gallery.run(out, quick=args.quick, force=True, seed=args.seed,
                                 progress=not args.quiet)
        except gallery.GalleryInterrupted as stop:
            print(f"{PROG} paper: interrupted; kept the {stop.done} of {stop.total} finished "
                  f"exhibits in {out} (summary.md says so)", file=sys.stderr)
            return EXIT_INTERRUPTED
        except OSError as exc:
            if exc.errno not in _WRITE_ERRORS:
                raise
            print(f"{PROG} paper: could not write into {out}: {_os_reason(exc)}; the files "
                  f"written before the failure are whole. {_os_advice(exc).capitalize()}",
                  file=sys.stderr)
            return 1
    if not args.quiet:
        done = sum(r["status"].startswith("reproduced") for r in result.rows)
        published = sum(r["published"] is not None for r in result.rows)
        print(f"{done} of {published} published numbers reproduced; wrote "
              f"{len(result.files)} files to {result.out} (see summary.md)")
    return 0


_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_NOT_ALLOWED = (errno.EACCES, errno.EPERM, errno.EROFS)
#: Errors of a write that the user's folder or disk causes (not a bug to trace).
_WRITE_ERRORS = (*_FULL, *_NOT_ALLOWED, errno.EIO, errno.EFBIG)


def _os_reason(exc: OSError) -> str:
    """What went wrong with a write, in words (a full disk named as such)."""
    reason = exc.strerror or str(exc)
    if exc.errno in _FULL:
        reason += " (the disk or your quota is full)"
    return reason


def _os_advice(exc: OSError) -> str:
    """What to do about a failed write."""
    if exc.errno in _FULL:
        fix = "free some space"
    elif exc.errno in _NOT_ALLOWED:
        fix = "make the folder writable"
    else:
        fix = "check the folder and its disk"
    return f"{fix} and run again with --force, or choose another --out"


def _run_info(args: argparse.Namespace) -> int:
    from . import _machine

    info = _machine.info()
    print(json.dumps(info, indent=1) if args.json else _machine.format_info(info))
    return 0


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def _main(argv: list[str]) -> int:
    try:
        args = _parse(build_parser(), argv)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    args.argv = argv
    if args.command == "info":
        return _run_info(args)
    if args.command == "paper":
        return _run_paper(args)
    return _run_experiment(args)


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
        long work), 130 when Ctrl-C interrupted the command (an experiment's
        finished rows are written; while the command was starting, nothing
        is), 1 when the results were written but the figure failed.
    """
    # The command is an application, so it may set process-wide settings that
    # the library must not. numba's OpenMP thread pool spin-waits between
    # parallel launches by default; on a 2-core machine the spinning threads
    # steal the cores from the main thread and cost milliseconds per launch.
    # OpenMP reads the variable when its runtime starts, i.e. at the first
    # parallel kernel, which has not happened yet here. A user's own setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    argv = list(sys.argv[1:] if argv is None else argv)
    with _ctrl_c_noted() as ctrl_c:
        try:
            # Everything heavy (numpy, numba, the kernels, matplotlib) is imported
            # in here, so Ctrl-C in the first second ends quietly too.
            status = _main(argv)
        except _UsageError as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception:
            if not ctrl_c.seen:
                raise
            # A library swallowed the KeyboardInterrupt (llvmlite's callbacks
            # during a compile do) and failed in its own way after it.
            print(f"{PROG}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
    if ctrl_c.seen and status != EXIT_INTERRUPTED:
        # Swallowed where Python cannot raise it (in a __del__): Ctrl-C still
        # never ends in status 0.
        print(f"{PROG}: interrupted (Ctrl-C came as the command was finishing; the files "
              "it reported are complete)", file=sys.stderr)
        return EXIT_INTERRUPTED
    return status


class _CtrlC:
    """The Ctrl-C the command has received and not reported itself yet."""

    seen = False

    def handler(self, signum, frame):
        self.seen = True
        raise KeyboardInterrupt

    def handled(self) -> None:
        """The command caught that Ctrl-C and reports it (an experiment kept its rows):
        an error after it is an error of its own."""
        self.seen = False


#: The current command's Ctrl-C record (:func:`_ctrl_c_noted` resets it).
_CTRL_C = _CtrlC()


@contextlib.contextmanager
def _ctrl_c_noted():
    """Note every Ctrl-C the command receives, even one that a library swallows.

    Python's own handler raises KeyboardInterrupt at the next bytecode, which
    may run inside a ``__del__`` or a C callback that prints or drops it; this
    one raises it too and remembers it.  Installed only in the main thread and
    over Python's default handler (not over one a caller chose).
    """
    import signal
    import threading

    ctrl_c = _CTRL_C
    ctrl_c.seen = False
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield ctrl_c
        return
    previous_hook = sys.unraisablehook

    def unraisable(info):
        # "Exception ignored in ...": the interpreter's report of a Ctrl-C that
        # landed in a __del__ or a C callback, with a traceback; noted instead.
        if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt):
            ctrl_c.seen = True
            return
        previous_hook(info)

    signal.signal(signal.SIGINT, ctrl_c.handler)
    sys.unraisablehook = unraisable
    try:
        yield ctrl_c
    finally:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
