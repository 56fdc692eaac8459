"""Saved memories: a directory of ``.npy`` arrays and a JSON description.

Shared by :class:`fastsdm.SDM` and :class:`fastsdm.ContinuousSDM`.  The JSON
file names the format and its version, holds the parameters and, per array,
its dtype, shape and CRC-32.  Arrays are read with ``allow_pickle=False``:
nothing is ever unpickled, and a truncated, corrupt or foreign file is refused
with a ``ValueError`` that says which file and why.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np

META_FILE = "fastsdm.json"


def crc32(array: np.ndarray) -> int:
    """CRC-32 of an array's bytes, read in 64 MiB pieces (memory maps too)."""
    crc = 0
    flat = array.reshape(-1).view(np.uint8) if array.size else np.zeros(0, np.uint8)
    step = 1 << 26
    for start in range(0, flat.size, step):
        crc = zlib.crc32(flat[start : start + step], crc)
    return crc


def mmap_mode(mmap) -> str | None:
    """``np.load``'s ``mmap_mode`` for the public ``mmap`` argument."""
    mode = {False: None, True: "r+"}[mmap] if isinstance(mmap, bool) else mmap
    if mode not in (None, "r+", "r", "c"):
        raise ValueError(f"mmap must be True, False, 'r+', 'r' or 'c', got {mmap!r}")
    return mode


def write_metadata(path: Path, meta: dict) -> None:
    tmp = path / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, path / META_FILE)


def save_directory(path, meta: dict, arrays: dict, *, overwrite: bool) -> Path:
    """Write ``arrays`` and ``meta`` to the directory ``path``, atomically.

    Everything goes to a temporary sibling first, which is then renamed, so
    an interrupted save never leaves a half-written memory under ``path``.
    """
    path = Path(path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        if path.is_dir() and not (path / META_FILE).exists() and any(path.iterdir()):
            raise FileExistsError(f"{path} is a non-empty directory that is not a saved "
                                  "fastsdm memory; refusing to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        meta = {**meta, "arrays": {}}
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", array, allow_pickle=False)
            meta["arrays"][name] = {"dtype": str(array.dtype), "shape": list(array.shape),
                                    "crc32": crc32(array)}
        write_metadata(tmp, meta)
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_metadata(path: Path, format_name: str, version: int, required, saver: str) -> dict:
    """The JSON description of a saved memory, checked for format and keys."""
    meta_file = path / META_FILE
    if not meta_file.is_file():
        raise ValueError(f"{path} is not a saved fastsdm memory (no {META_FILE}); save one "
                         f"with {saver}")
    try:
        meta = json.loads(meta_file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{meta_file} is not valid JSON ({exc}); the memory is corrupt") from None
    if not isinstance(meta, dict) or meta.get("format") != format_name:
        found = meta.get("format") if isinstance(meta, dict) else None
        hint = f"; load it with {found}.load()" if found in ("fastsdm.SDM",
                                                              "fastsdm.ContinuousSDM") else ""
        raise ValueError(f"{meta_file} does not describe a {format_name} memory "
                         f"(format={found!r}){hint}")
    if meta.get("format_version") != version:
        raise ValueError(f"{path} has format version {meta.get('format_version')!r}; this "
                         f"fastsdm reads version {version}: upgrade fastsdm")
    missing = (set(required) | {"arrays"}) - meta.keys()
    if missing:
        raise ValueError(f"{meta_file} lacks {sorted(missing)}; the memory is corrupt")
    return meta


def load_array(path: Path, name: str, spec: dict, *, mode: str | None, verify: bool,
               shape=None, dtype=None) -> np.ndarray:
    """Load ``name.npy`` (memory-mapped with ``mode``), checked against ``spec``.

    ``shape``/``dtype`` default to the ones ``spec`` records; a checksum of
    ``None`` (a memory-mapped file written in place) is not verified.
    """
    shape = spec.get("shape") if shape is None else shape
    dtype = spec.get("dtype") if dtype is None else dtype
    file = path / f"{name}.npy"
    try:
        array = np.load(file, mmap_mode=mode, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{path} is not a complete fastsdm memory: {file.name} is "
                         "missing") from None
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{file} is truncated or corrupt and cannot be loaded ({exc}); "
                         "restore it from a copy") from None
    if str(array.dtype) != dtype or list(array.shape) != list(shape):
        raise ValueError(f"{file} holds an array of shape {array.shape} and dtype "
                         f"{array.dtype}, but {META_FILE} says {shape} {dtype}; the memory "
                         "is corrupt")
    if verify and spec.get("crc32") is not None and crc32(array) != spec["crc32"]:
        raise ValueError(f"{file} fails its checksum: the data is corrupt; restore it "
                         "from a copy")
    return array
