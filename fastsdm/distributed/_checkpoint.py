"""A sharded memory's checkpoint files: the manifest and the shard directories.

These functions run on a Dask worker (the checkpoint path is the workers'),
called by :class:`fastsdm.distributed.ShardedSDM`; each shard saves its own
directory with :meth:`fastsdm.SDM.save`.  The manifest's parameters are
checked as :meth:`fastsdm.SDM.load` checks its metadata
(:meth:`fastsdm._params.SDMParams.from_metadata`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import zlib
from pathlib import Path

from .. import _persist
from .._params import MetadataError, SDMParams, check_tie_rng_state

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MANIFEST_FILE", "SHARD_DIR", "SHARD_NAME",
           "SAVE_LOCK", "prepare_save", "commit_save", "abort_save", "write_manifest",
           "read_manifest", "read_checkpoint", "update_manifest"]

FORMAT_NAME = "fastsdm.ShardedSDM"
FORMAT_VERSION = 1
MANIFEST_FILE = _persist.SHARDED_MANIFEST
#: The names a manifest may give its shards: a plain name inside the checkpoint.
SHARD_NAME = re.compile(r"shard-\d{5}-[0-9a-f]{12}")
#: The names of shard directories (and of what an interrupted save leaves beside them).
SHARD_DIR = re.compile(rf"^\.?{SHARD_NAME.pattern}(\..*)?$")


#: Held by a running save (created exclusively, removed when it ends), so that
#: two saves of one checkpoint cannot delete each other's shard directories.
SAVE_LOCK = ".fastsdm-saving"


def prepare_save(path: str, overwrite: bool, token: str, mapped_from: str | None = None
                 ) -> None:
    """Check the target and take its save lock (a file only one save can create).

    ``mapped_from``: the checkpoint the saving memory is memory-mapped from
    (``mmap=True``), which it must not replace, whatever path names it.
    """
    target = Path(path)
    if mapped_from is not None and target.exists() and (
            _persist.identity(target) == _persist.identity(mapped_from)):
        raise ValueError(f"this memory is memory-mapped from {mapped_from} (which {path} "
                         "names too); call flush() to bring that checkpoint up to date, or "
                         "save to another path")
    if target.exists():
        if not target.is_dir():
            raise FileExistsError(f"{target} exists and is not a directory; choose another path")
        _check_not_saving(target)
        if (target / MANIFEST_FILE).exists():
            if not overwrite:
                raise FileExistsError(f"{target} holds a saved ShardedSDM; pass overwrite=True "
                                      "to replace it")
        elif any(not _left_by_a_save(entry.name) for entry in target.iterdir()):
            raise FileExistsError(f"{target} is a non-empty directory that is not a saved "
                                  "ShardedSDM; refusing to write into it")
    target.mkdir(parents=True, exist_ok=True)
    record = json.dumps({"token": token, "pid": os.getpid(), "host": socket.gethostname(),
                         "started": _persist.stamp()})
    try:
        with open(target / SAVE_LOCK, "x") as f:
            f.write(record)
    except FileExistsError:
        _check_not_saving(target)
        raise


def _left_by_a_save(name: str) -> bool:
    # What a first save that failed can leave in its directory: shard
    # directories (a shard that finished after the save timed out and was
    # cleaned up) and a manifest's temporary file.  The next save's commit
    # removes them.
    return bool(SHARD_DIR.match(name)) or name == MANIFEST_FILE + ".tmp"


def _check_not_saving(target: Path) -> None:
    lock = target / SAVE_LOCK
    try:
        held = lock.read_text()[:300]
    except FileNotFoundError:
        return
    except OSError as exc:
        held = str(exc)
    raise FileExistsError(f"another save of the checkpoint {target} is running ({held}), or one "
                          f"was killed: if no save is running, remove {lock} and save again; "
                          "the checkpoint itself is intact")


def _holds_lock(target: Path, token: str) -> bool:
    try:
        return json.loads((target / SAVE_LOCK).read_text()).get("token") == token
    except (OSError, ValueError, AttributeError):
        return False


def commit_save(path: str, manifest: dict, token: str) -> None:
    """Publish a checkpoint: replace the manifest, drop other shard directories, and
    release the save lock.

    The manifest names the shard directories written by this save, so a save
    interrupted before this point leaves the previous checkpoint intact.  The
    lock guarantees that no other save's directories are being written.
    """
    target = Path(path)
    if not _holds_lock(target, token):
        raise RuntimeError(f"the save lock {target / SAVE_LOCK} of this save was removed "
                           "while it ran; the checkpoint was left as it was")
    write_manifest(target, with_digests(target, manifest))
    keep = {shard["dir"] for shard in manifest["shards"]}
    for entry in target.iterdir():
        if entry.name not in keep and SHARD_DIR.match(entry.name):
            # Shard directories of earlier or interrupted saves, and what an
            # interrupted shard save left beside its directory.
            _remove(entry)
    (target / SAVE_LOCK).unlink(missing_ok=True)


def abort_save(path: str, dirs: list, token: str) -> None:
    """Undo a failed save: remove the shard directories it wrote and its lock."""
    target = Path(path)
    if not _holds_lock(target, token):
        return
    for d in dirs:
        _remove(target / d)
    (target / SAVE_LOCK).unlink(missing_ok=True)


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def write_manifest(target: Path, manifest: dict) -> None:
    """Replace the manifest atomically and durably (temporary file, fsync, rename, fsync)."""
    tmp = target / (MANIFEST_FILE + ".tmp")
    with open(tmp, "wb") as f:
        f.write(_persist.encode_description(manifest))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target / MANIFEST_FILE)
    _persist.fsync_dir(target)


_MANIFEST_KEYS = (*SDMParams.KEYS, "tie_rng_state", "shards", "fastsdm_version")


def read_manifest(path: str) -> dict:
    """The checkpoint's manifest, every field checked (the parameters as SDM.load checks them)."""
    target = Path(path)
    file = target / MANIFEST_FILE
    if not file.is_file():
        raise ValueError(f"{target} is not a saved ShardedSDM (no {MANIFEST_FILE} there, as seen "
                         "from the Dask workers); save one with ShardedSDM.save()")
    with open(file, "rb") as f:
        raw = f.read(_persist.MAX_META_BYTES + 1)
    try:
        if len(raw) > _persist.MAX_META_BYTES:
            raise ValueError(f"larger than {_persist.MAX_META_BYTES} bytes")
        manifest = _persist.strict_json(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{file} is not valid JSON ({exc}); the checkpoint is corrupt") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ValueError(f"{file} does not describe a {FORMAT_NAME} memory (format={found!r})")
    version = manifest.get("format_version")
    if type(version) is not int or version < 1:
        raise ValueError(f"{file} has format_version {version!r}, which no fastsdm writes; "
                         "the checkpoint is corrupt")
    if version != FORMAT_VERSION:
        raise ValueError(f"{file} has format version {version}; this fastsdm reads version "
                         f"{FORMAT_VERSION}: " + ("upgrade fastsdm" if version > FORMAT_VERSION
                                                  else "load it with the fastsdm that wrote it"))
    missing = set(_MANIFEST_KEYS) - {"fastsdm_version"} - manifest.keys()
    if missing:
        raise ValueError(f"{file} lacks {sorted(missing)}; the checkpoint is corrupt")
    unknown = manifest.keys() - set(_MANIFEST_KEYS) - {"format", "format_version",
                                                        _persist.META_CRC}
    if unknown:
        raise ValueError(f"{file} has unknown fields {sorted(unknown)}; the checkpoint is "
                         "corrupt, or was written by a newer fastsdm: upgrade fastsdm")
    try:
        params = SDMParams.from_metadata(manifest, min_locations=1)
        check_tie_rng_state(manifest["tie_rng_state"])
        if type(manifest.get("fastsdm_version", "")) is not str:
            raise MetadataError(f"fastsdm_version must be a string, got "
                                f"{manifest['fastsdm_version']!r}")
        shards = manifest["shards"]
        if not (type(shards) is list and shards and all(
                type(s) is dict and s.keys() - {"digest"} == {"start", "stop", "dir"}
                and type(s["start"]) is int and type(s["stop"]) is int
                and type(s["dir"]) is str
                and (type(s.get("digest", 0)) is int and 0 <= s.get("digest", 0) < 2**32)
                for s in shards)):
            raise MetadataError("shards must be a non-empty list of {'start': int, 'stop': int, "
                                f"'dir': str, 'digest': int}}, got {shards!r}"[:300])
    except MetadataError as exc:
        raise ValueError(f"{file} holds invalid parameters ({exc}); the checkpoint is "
                         "corrupt") from None
    stops = [0] + [s["stop"] for s in shards]
    if ([s["start"] for s in shards] != stops[:-1] or stops[-1] != params.n_locations
            or any(s["stop"] <= s["start"] for s in shards)):
        raise ValueError(f"{file} lists shards that do not tile locations 0:"
                         f"{params.n_locations}; the checkpoint is corrupt")
    for shard in shards:
        if not SHARD_NAME.fullmatch(shard["dir"]):
            raise ValueError(f"{file} names a shard directory {shard['dir']!r} that fastsdm "
                             "does not write; the checkpoint is corrupt")
    _persist.verify_description(manifest, file, "checkpoint")
    return manifest


def update_manifest(path: str, updates: dict) -> None:
    """Change fields of the manifest (a flush: the shards' digests are taken again)."""
    target = Path(path)
    manifest = read_manifest(path)
    manifest.update(updates)
    write_manifest(target, with_digests(target, manifest))


def _shard_description(shard_dir: Path) -> dict | None:
    try:
        with open(shard_dir / _persist.META_FILE, "rb") as f:
            meta = _persist.strict_json(f.read(_persist.MAX_META_BYTES))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return meta if isinstance(meta, dict) else None


def shard_digest(shard_dir: Path) -> int | None:
    """What a shard directory holds, as one number: the CRC-32 of its description
    (parameters, seed and the arrays' checksums), without the parts a memory map
    or a flush of the same shard changes in place; None if unreadable."""
    meta = _shard_description(shard_dir)
    if meta is None:
        return None
    for volatile in (_persist.META_CRC, "open_for_writing", "tie_rng_state"):
        meta.pop(volatile, None)
    return zlib.crc32(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode())


def with_digests(target: Path, manifest: dict) -> dict:
    """``manifest`` with each shard's :func:`shard_digest` recorded."""
    shards = [{**s, "digest": shard_digest(target / s["dir"])} for s in manifest["shards"]]
    if any(s["digest"] is None for s in shards):
        missing = [s["dir"] for s in shards if s["digest"] is None]
        raise ValueError(f"shard directories {missing} of {target} cannot be read; the "
                         "checkpoint was not updated")
    return {**manifest, "shards": shards}


def manifest_identity(path: str) -> tuple | None:
    """Which manifest ``path`` holds now: a save replaces it by a rename (a new inode)."""
    try:
        info = os.stat(Path(path) / MANIFEST_FILE)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_mtime_ns


def read_checkpoint(path: str) -> dict:
    """:func:`read_manifest`, and every shard directory checked against the digest the
    manifest recorded for it (manifests written before digests have none).

    A shard that was memory-mapped for writing may differ: its counters'
    checksum changes with each flush, and a flush cut short (a killed client)
    leaves the manifest's digest behind; the shard's own checksums still
    guard it.
    """
    manifest = read_manifest(path)
    target = Path(path)
    for shard in manifest["shards"]:
        where = target / shard["dir"]
        if ("digest" in shard and shard_digest(where) != shard["digest"]
                and "open_for_writing" not in (_shard_description(where) or {})):
            raise ValueError(f"{where} does not hold the shard that "
                             f"{target / MANIFEST_FILE} recorded (it is missing, damaged, or "
                             "from another save); the checkpoint is corrupt: restore it from a "
                             "copy")
        # The sizes too, before they are used to size the shards on the workers: a
        # damaged manifest would otherwise be blamed on the cluster's memory.
        description = _shard_description(where) or {}
        sizes = {"n_bits": manifest["n_bits"], "n_data_bits": manifest["n_data_bits"],
                 "counter_dtype": manifest["counter_dtype"],
                 "n_locations": shard["stop"] - shard["start"]}
        differ = [f"{key} {description[key]!r} where the manifest says {want!r}"[:200]
                  for key, want in sizes.items()
                  if key in description and description[key] != want]
        if differ:
            raise ValueError(f"{where} holds a shard with {'; '.join(differ)}: "
                             f"{target / MANIFEST_FILE} or the shard is damaged, or they come "
                             "from different saves; the checkpoint is corrupt: restore it from "
                             "a copy")
    return manifest
