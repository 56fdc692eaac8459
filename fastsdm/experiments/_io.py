"""Output of experiment rows: CSV, JSON, text tables, ``summary.md`` and output folders.

No experiment logic here: these functions take rows (any sequence of dicts)
and write or format them.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import numbers
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .._validation import check_choice
from ._registry import REGISTRY

__all__ = [
    "column_names",
    "new_folder_name",
    "interruption_note",
    "plain",
    "prepare_folder",
    "summary_markdown",
    "summary_table",
    "to_csv",
    "to_json",
]


def plain(value):
    """A JSON/CSV-friendly Python scalar (NaN and inf become None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def column_names(rows: Sequence[Mapping]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _marked(records: Sequence[Mapping]) -> list[Mapping]:
    # The rows of an interrupted run say so in every row, so that a file saved
    # from Python is not taken for a whole run (the flag lives on the Records).
    if getattr(records, "interrupted", False):
        return [{**row, "interrupted": True} for row in records]
    return list(records)


#: The temporary name of a file being written (:func:`replacing`): a hidden
#: sibling, ``.{stem}-partial-{8 hex digits}{suffix}``.
_PARTIAL = re.compile(r"\..*-partial-[0-9a-f]{8}(\.[^.]*)?")


@contextmanager
def replacing(path) -> Iterator[Path]:
    """A temporary sibling of ``path`` to write, renamed onto ``path`` once written.

    A full disk, a Ctrl-C or a crash while the file is written then leaves the
    earlier file or none, never a truncated one that reads as a short result
    (a crash can leave the hidden temporary file, which a forced run in the
    folder removes).  The temporary name keeps the suffix, which matplotlib
    reads as the format; the file keeps the permissions of the one it
    replaces.  A path that is a symbolic link, a pipe or a device is written
    through, as it is.
    """
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        yield path
        return
    partial = path.with_name(f".{path.stem}-partial-{secrets.token_hex(4)}{path.suffix}")
    try:
        yield partial
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data is on disk before the name points at it
        finally:
            os.close(fd)
        if path.exists():
            shutil.copymode(path, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all (:func:`replacing`)."""
    with replacing(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return Path(path)


def to_csv(records: Sequence[Mapping], path) -> Path:
    """Write rows to a CSV file (header = every key, in first-seen order).

    ``None``, NaN and infinities are written as empty fields.  The rows of a
    run stopped by Ctrl-C (``records.interrupted``) get a column
    ``interrupted`` set to True.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastsdm.experiments import to_csv
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = to_csv([{"m": 1, "recall": 0.5}, {"m": 2, "recall": None}],
    ...                   os.path.join(tmp, "r.csv"))
    ...     print(path.read_text(), end="")
    m,recall
    1,0.5
    2,
    """
    path = Path(path)
    rows = _marked(records)
    with replacing(path) as partial, partial.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=column_names(rows), restval="")
        writer.writeheader()
        for row in rows:
            cells = {k: plain(v) for k, v in row.items()}
            writer.writerow({k: "" if v is None else v for k, v in cells.items()})
    return path


def to_json(records: Sequence[Mapping], path, *, indent: int | None = 1) -> Path:
    """Write rows to a JSON file: an array of objects (NaN and inf become null).

    The rows of a run stopped by Ctrl-C (``records.interrupted``) get the
    entry ``"interrupted": true``.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from fastsdm.experiments import to_json
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = to_json([{"m": 1, "recall": float("nan")}], os.path.join(tmp, "r.json"))
    ...     json.loads(path.read_text())
    [{'m': 1, 'recall': None}]
    """
    return write_text(path, rows_json(records, indent=indent))


def rows_json(records: Sequence[Mapping], *, indent: int | None = 1) -> str:
    """The text :func:`to_json` writes."""
    return json.dumps([plain(dict(row)) for row in _marked(records)], indent=indent,
                      allow_nan=False) + "\n"


def _format_cell(value, float_format: str) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(value)
    return format(value, float_format)


def summary_table(records: Sequence[Mapping], columns: Sequence[str] | None = None, *,
                  keys: Sequence[str] | None = None, style: str = "markdown",
                  float_format: str = ".4g") -> str:
    """An aligned text table of rows, averaged over repetitions.

    Parameters
    ----------
    records : sequence of dict
    columns : sequence of str, optional
        Metric columns. Default: a per-experiment selection
        (:data:`fastsdm.experiments.SUMMARY_COLUMNS`, by the rows' ``"experiment"``), or every
        numeric column of unknown rows.
    keys : sequence of str, optional
        Parameter columns that identify a point: rows sharing them (i.e.
        repetitions) are averaged; a ``reps`` column counts them when more than
        one. Default: the experiment's parameters.
    style : {"markdown", "plain"}
        A Markdown pipe table, or space-aligned columns under a dashed rule.
    float_format : str
        Format spec for floats.

    Returns
    -------
    str

    Examples
    --------
    >>> from fastsdm.experiments import summary_table
    >>> rows = [{"m": 100, "recall": 1.0}, {"m": 100, "recall": 0.5},
    ...         {"m": 200, "recall": 0.25}]
    >>> print(summary_table(rows, ["recall"], keys=["m"]))
    |   m | recall | reps |
    |----:|-------:|-----:|
    | 100 |   0.75 |    2 |
    | 200 |   0.25 |    1 |
    >>> print(summary_table(rows[2:], ["recall"], keys=["m"], style="plain"))
      m  recall
    ---  ------
    200    0.25
    """
    style = check_choice(style, "style", ("markdown", "plain"))
    rows = list(records)
    if not rows:
        return "(no rows)"
    record = REGISTRY.get(rows[0].get("experiment"))
    default_keys, default_columns = record.summary if record else ((), ())
    keys = list(default_keys if keys is None else keys)
    if columns is None:
        columns = default_columns or [
            k for k in column_names(rows) if k not in keys
            and isinstance(rows[0].get(k), numbers.Real) and not isinstance(rows[0][k], bool)]
    columns = [c for c in columns if c not in keys]
    missing = [c for c in keys + columns if all(c not in row for row in rows)]
    if missing:
        raise ValueError(f"summary_table: no row has the column(s) {missing}; available: "
                         f"{column_names(rows)}")
    groups: dict[tuple, list[Mapping]] = {}
    for i, row in enumerate(rows):
        # Without keys every row stands alone; with keys, repetitions are averaged.
        key = tuple(row.get(k) for k in keys) if keys else (i,)
        groups.setdefault(key, []).append(row)
    counted = any(len(g) > 1 for g in groups.values())
    header = keys + columns + (["reps"] if counted else [])
    body = []
    for key, group in groups.items():
        cells = list(key) if keys else []
        for col in columns:
            values = [plain(r.get(col)) for r in group]
            numeric = [v for v in values if isinstance(v, numbers.Real)
                       and not isinstance(v, bool)]
            if len(group) > 1 and numeric and len(numeric) == len(values):
                cells.append(float(np.mean(numeric)))
            else:
                cells.append(values[0])
        if counted:
            cells.append(len(group))
        body.append([_format_cell(v, float_format) for v in cells])
    numeric_col = [all(_is_number_text(r[i]) for r in body) for i in range(len(header))]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]

    def line(cells):
        out = [c.rjust(w) if num else c.ljust(w)
               for c, w, num in zip(cells, widths, numeric_col, strict=True)]
        return "| " + " | ".join(out) + " |" if style == "markdown" else "  ".join(out).rstrip()

    if style == "markdown":
        rule = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2))
                              for w, num in zip(widths, numeric_col, strict=True)) + "|"
    else:
        rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in body)])


def _is_number_text(text: str) -> bool:
    if text == "":
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------
# Output folders and summary.md
# ---------------------------------------------------------------------------


def new_folder_name(stem: str) -> Path:
    """``fastsdm-results/<timestamp>-<stem>``, with ``-2``, ``-3``, ... if it exists."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path("fastsdm-results") / f"{stamp}-{stem}"
    out, k = base, 2
    while out.exists():
        out, k = base.with_name(f"{base.name}-{k}"), k + 1
    return out


def prepare_folder(out, *, force: bool, stem: str, force_hint: str) -> Path:
    """The output folder of a run, created; never an earlier run's folder unless forced.

    ``out=None`` is a new folder (:func:`new_folder_name`).  An existing folder
    that holds files is refused with :class:`FileExistsError` unless
    ``force``; ``force_hint`` says how to force (``"force=True"``,
    ``"--force"``).  A path that is a file raises :class:`NotADirectoryError`,
    a folder that cannot be made :class:`OSError`.  Nothing is removed here:
    a forced run removes the earlier run's files only once it has written its
    own (:func:`earlier_run_files`, :func:`remove_earlier_run`).
    """
    out = new_folder_name(stem) if out is None else Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a folder; choose another folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        held = sorted(p.name for p in out.iterdir())
        shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
        if earlier_run_files(out):
            raise FileExistsError(f"the output folder {out} already holds files ({shown}), "
                                  f"from an earlier run; choose a new folder, or pass "
                                  f"{force_hint} to overwrite them")
        raise FileExistsError(f"the output folder {out} already holds files ({shown}); choose "
                              f"a new folder, or pass {force_hint} to write into it (files "
                              "with the names of this run's are replaced, others stay)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the output folder {out} ({exc.strerror or exc}); choose "
                      "another folder") from None
    # Found out now, not after the run: a folder that exists but cannot be
    # written would otherwise lose the run's results at the end.
    probe = out / f".fastsdm-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OSError(f"cannot write into the output folder {out} ({exc.strerror or exc}); "
                      "choose another folder") from None
    return out


#: The files in which a run lists every file it wrote (``"files"``, themselves
#: included): an experiment's ``config.json``, the paper gallery's ``numbers.json``.
RUN_LISTINGS = ("config.json", "numbers.json")

#: The kinds of file a run writes: the only ones a listing may have removed.
_RUN_FILE_SUFFIXES = (".json", ".csv", ".png", ".md")


def _written_by_fastsdm(listing: str, meta) -> bool:
    """Whether a listing's contents are a fastsdm run's (not an app's own config.json)."""
    if not isinstance(meta, dict) or not isinstance(meta.get("files"), list):
        return False
    if listing == "numbers.json":
        return isinstance(meta.get("fastsdm_version"), str)
    command, versions = meta.get("command"), meta.get("versions")
    return (isinstance(command, str) and command.startswith("fastsdm ")
            and isinstance(versions, dict) and "fastsdm_version" in versions)


def _regular_file(path: Path) -> bool:
    try:
        return path.is_file() and not path.is_symlink()
    except (OSError, ValueError):  # a name too long, a NUL byte: not a run's file
        return False


def earlier_run_files(out: Path) -> list[str]:
    """The files that an earlier fastsdm run in ``out`` listed as its own and that exist,
    and the hidden temporary files a killed run left (:func:`replacing`).

    Only a listing that is a fastsdm run's counts, and only plain names of
    the kinds of file a run writes: a listing is not trusted to name a
    user's files, or a path outside the folder.
    """
    out = Path(out)
    names: list[str] = []
    for listing in RUN_LISTINGS:
        try:
            meta = json.loads((out / listing).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not _written_by_fastsdm(listing, meta):
            continue
        for name in meta["files"]:
            if (isinstance(name, str) and Path(name).name == name
                    and name.endswith(_RUN_FILE_SUFFIXES) and name not in names
                    and _regular_file(out / name)):
                names.append(name)
    try:
        names += sorted(p.name for p in out.iterdir()
                        if _PARTIAL.fullmatch(p.name) and _regular_file(p))
    except OSError:
        pass
    return names


def listed(own, earlier) -> list[str]:
    """What a run's listing names: its own files, then the earlier run's still there."""
    own = list(dict.fromkeys(Path(name).name for name in own))
    return own + [name for name in earlier if name not in own]


def remove_earlier_run(out: Path, earlier, kept) -> list[str]:
    """Remove the ``earlier`` run's files that this run has not rewritten (``kept``).

    Called once a forced run has written its own files and listed them with
    the earlier ones: so it leaves no figure or table of another kind of run
    beside its own, and a failure before that leaves nothing unlisted.
    Returns the files that could not be removed (to stay listed).
    """
    kept = {Path(name).name for name in kept}
    left = []
    for name in earlier:
        if name not in kept:
            try:
                (Path(out) / name).unlink(missing_ok=True)
            except OSError:
                left.append(name)
    return left


def interruption_note(records) -> str:
    """One line saying that a run was interrupted and what its rows are, or ``""``."""
    if not getattr(records, "interrupted", False):
        return ""
    expected = getattr(records, "expected", None)
    of = f" of {expected}" if expected else ""
    return (f"Interrupted (Ctrl-C) after {len(records)}{of} rows: partial results, the "
            "unfinished points are missing")


def summary_markdown(title: str, records, *, preface: str = "",
                     findings: Sequence[str] = ()) -> str:
    """``summary.md``: the title, an interruption warning, the table and the findings."""
    parts = [f"# {title}"]
    note = interruption_note(records)
    if note:
        parts.append(f"> **{note}.**")
    if preface:
        parts.append(preface)
    parts.append(summary_table(records))
    parts.extend(findings)
    return "\n\n".join(parts) + "\n"
