"""Saved memories: a directory of ``.npy`` arrays and a JSON description.

Shared by :class:`fastsdm.SDM` and :class:`fastsdm.ContinuousSDM` (and by
the shard directories of a ``ShardedSDM`` checkpoint).  ``fastsdm.json``
names the format and its version, holds the parameters and, per array, its
dtype, shape and CRC-32, and a CRC-32 of the description itself
(``description_crc32``, checked by the loaders after every field: it catches
edits that leave each field valid; files written before it load without it).

Saving works like a database's atomic commit (SQLite's, with a directory in
place of a page):

1. Under an advisory lock on the path (``fcntl.flock`` on a sibling
   ``.NAME.fastsdm-lock`` file, removed again when the save ends), undo or
   clean up whatever an interrupted earlier save left behind.
2. Write the new memory into a sibling directory ``.NAME.fastsdm-new-TOKEN``
   and ``fsync`` every file and the directory.
3. First save: one ``rename``.  Overwrite: on Linux, ``renameat2`` with
   ``RENAME_EXCHANGE`` swaps the two directories atomically, so the path
   holds the complete old memory and then the complete new one with no
   instant in between; the old one (now under the temporary name) is then
   removed.  Where the exchange is unavailable (another OS, a file system
   without it), the old directory is first renamed aside to
   ``.NAME.fastsdm-old-TOKEN`` and the new one renamed in.

Recovery, done by the next ``save`` or ``load`` of that path: if the path is
missing and an ``-old-`` directory exists, a fallback swap was interrupted
between its two renames, and the old memory is renamed back (the save did
not happen: a save commits when the new directory appears at the path).
Every other ``-new-``/``-old-`` sibling of that path is removed.  So at
every instant the path, or the recovery, gives the complete old or the
complete new memory, and no temporary directory outlives the next save or
load.  Only siblings named after that exact path are touched.

Reading trusts nothing: the JSON is parsed strictly (no NaN, no duplicate
keys, size-limited); every ``.npy`` header is parsed here (never by
``np.load``, never with pickle) and checked against the description before
any byte of data is read or mapped, and a file whose size differs from what
its header promises is refused (``np.memmap`` in ``"r+"`` mode would
otherwise extend a short file with zeros).  Every problem is one
``ValueError`` that names the file.

A memory opened with ``mmap="r+"`` changes its counters in place.  Its
description keeps the checksum of the last save or ``flush()`` and records
``open_for_writing`` (when, which process, on which host, last flush), so a
later checksum mismatch is reported as "written through a memory map after
its last flush" with the ways to proceed, not as plain corruption.  Such a
map is checked before it is opened (its next flush seals whatever it holds),
and one object at a time holds it (:class:`WriteGuard`).
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import socket
import stat
import sys
import time
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

try:
    import fcntl
except ImportError:  # not a POSIX system: saves are not locked
    fcntl = None

META_FILE = "fastsdm.json"
#: The manifest of a sharded memory's checkpoint (:mod:`fastsdm.distributed`).
SHARDED_MANIFEST = "fastsdm-sharded.json"
#: A description is a few kilobytes, or 1.3 MB with the largest seed a memory
#: accepts (``_params.SEED_MAX_WORDS`` words below 2**4096); anything much
#: larger is not one.
MAX_META_BYTES = 2 << 20
#: Longest .npy header accepted (numpy's own default limit).
MAX_HEADER_BYTES = 10_000
_META_TMP = ".fastsdm.json.tmp"
_CORRUPT = ("the file is truncated or corrupt (or was not written by fastsdm): restore it from "
            "a copy")

#: Test hook: called with the name of each step of a save or recovery.  The
#: crash tests set it, in a child process, to a function that kills the process
#: at one step.
_fault = None


def _step(name: str) -> None:
    if _fault is not None:
        _fault(name)


#: The description's own checksum: CRC-32 of its canonical JSON (sorted keys, no
#: whitespace) without this field.  Written by every save and flush; a file
#: without it (written before it existed) loads as before.
META_CRC = "description_crc32"


def _description_crc(meta: dict) -> int:
    body = {k: v for k, v in meta.items() if k != META_CRC}
    return zlib.crc32(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def encode_description(meta: dict) -> bytes:
    """The bytes of ``fastsdm.json``: the description and its own checksum."""
    return json.dumps({**meta, META_CRC: _description_crc(meta)}, indent=1).encode()


def verify_description(meta: dict, file, what: str = "memory") -> None:
    """Check and remove the description's own checksum (absent in older files).

    Loaders call it after checking every field, so that a field that is wrong
    in itself is named as such; this catches the edits that leave every field
    valid and consistent with the arrays (another seed, another ``n_bits``
    within the same word count, another checksum of an array).
    """
    if META_CRC in meta:
        stored = meta.pop(META_CRC)
        if type(stored) is not int or stored != _description_crc(meta):
            raise ValueError(f"{file} fails its checksum ({META_CRC}): it was edited or "
                             f"damaged after fastsdm wrote it; the {what} is corrupt: restore "
                             "it from a copy")


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


def verify_option(verify) -> bool | None:
    """The public ``verify`` argument, refusing anything but None, True and False
    (``verify="no"`` would otherwise be truthy and check every byte)."""
    if verify is None or isinstance(verify, (bool, np.bool_)):
        return None if verify is None else bool(verify)
    raise TypeError(f"verify must be True, False or None (the default: check every array "
                    f"but one mapped with mmap='r' or 'c'), got {verify!r}"[:300])


# -- file system primitives -----------------------------------------------------------


def fsync_dir(path) -> None:
    """Make a directory's entries durable (where the OS lets a directory be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    """Remove a leftover directory (or file), as far as the OS allows."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


def _load_renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2  # glibc >= 2.28
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                     ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


_renameat2 = _load_renameat2()
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# Errors that mean "this system or file system cannot exchange": fall back.
_NO_EXCHANGE = {errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP}


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically; False where that is not supported."""
    if _renameat2 is None:
        return False
    import ctypes

    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in _NO_EXCHANGE:
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


class _PathLock:
    """An advisory lock on a path, held through a sibling lock file.

    The file is removed by the holder on release.  A process that locked a
    file that was meanwhile removed (or replaced) sees that its inode is no
    longer the one at the path and tries again, so removal keeps mutual
    exclusion.  Where locking is impossible (no ``fcntl``, a read-only
    directory, a file system without ``flock``) the lock is a no-op.
    """

    def __init__(self, path: Path):
        self.file = path.parent / f"{_sibling_prefix(path)}lock"
        self.fd = None

    def acquire(self, blocking: bool = True) -> bool:
        if fcntl is None:
            return True
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        while True:
            try:
                fd = os.open(self.file, flags, 0o644)
            except OSError as exc:
                if exc.errno in (errno.EISDIR, errno.ELOOP):
                    # Not a file this lock can hold: saving unlocked would let
                    # two saves of the path run at once.
                    raise FileExistsError(
                        f"{self.file} is in the way of the save lock (a directory or a "
                        "symbolic link where fastsdm keeps its lock file); remove it and "
                        "try again") from None
                return True  # cannot create it (read-only directory): unlocked
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
            except OSError:
                os.close(fd)
                return True  # no flock on this file system: unlocked
            try:
                held = os.stat(self.file, follow_symlinks=False)
                mine = os.fstat(fd)
                same = (held.st_dev, held.st_ino) == (mine.st_dev, mine.st_ino)
            except OSError:
                same = False
            if same:
                self.fd = fd
                return True
            os.close(fd)  # removed by its last holder meanwhile: lock the new one

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.file)
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


#: Longest name kept whole in a sibling's name: the sibling adds 38 characters
#: (".", ".fastsdm-new-" and a 24-digit token) and a name may have 255 bytes.
_LONGEST_NAME = 200


def _sibling_prefix(path: Path) -> str:
    """``.NAME.fastsdm-``: how the siblings of a save of ``path`` begin.

    A longer name is cut and given its checksum, so that every sibling's
    name still fits the file system's limit and stays unique to ``path``.
    """
    name, encoded = path.name, os.fsencode(path.name)
    if len(encoded) > _LONGEST_NAME:
        cut = encoded[:_LONGEST_NAME - 9].decode(errors="ignore")
        name = f"{cut}~{zlib.crc32(encoded):08x}"
    return f".{name}.fastsdm-"


def _token() -> str:
    # Time first, so that names sort by age.
    return f"{time.time_ns():016x}{secrets.token_hex(4)}"


_SIBLING = re.compile(r"(new|old)-[0-9a-f]{24}|lock")


def _siblings(path: Path) -> list[tuple[str, Path]]:
    """``(kind, path)`` of the siblings a save of ``path`` leaves, oldest first.

    ``kind`` is "new" (a memory being written), "old" (a memory moved aside)
    or "lock".
    """
    prefix = _sibling_prefix(path)
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    found = []
    for name in names:
        rest = name[len(prefix):]
        if name.startswith(prefix) and _SIBLING.fullmatch(rest):
            found.append((rest[:3] if rest != "lock" else "lock", rest, path.parent / name))
    found.sort(key=lambda item: item[1][4:])
    return [(kind, p) for kind, _, p in found]


def _recover(path: Path) -> None:
    """Finish what an interrupted save left at ``path`` (call holding its lock)."""
    siblings = _siblings(path)
    if not os.path.lexists(path):
        olds = [p for kind, p in siblings if kind == "old"]
        if olds:
            # A fallback swap stopped between its renames: the save did not
            # commit, so the old memory goes back.
            os.rename(olds[-1], path)
            fsync_dir(path.parent)
            _step("restored")
            siblings = [(kind, p) for kind, p in siblings if p != olds[-1]]
    for kind, p in siblings:
        if kind != "lock":
            _remove(p)


def _recover_quietly(path: Path) -> None:
    """:func:`_recover` for loads: a read-only directory must not make a load fail."""
    try:
        _recover(path)
    except OSError as exc:
        olds = [p for kind, p in _siblings(path) if kind == "old"]
        if not os.path.lexists(path) and olds:
            raise ValueError(f"a save to {path} was interrupted after moving the previous "
                             f"memory to {olds[-1]}, and it cannot be moved back ({exc}); "
                             f"rename {olds[-1]} to {path} yourself") from None


# -- saving -----------------------------------------------------------------------------


class Mapped(NamedTuple):
    """Where a memory opened with ``mmap="r+"`` lives: its path (absolute) and
    directory identity, the lock that keeps other objects from mapping it for
    writing too, the state array mapped from its file (the one array
    :func:`flush_memory` seals) and the parameters its description records."""

    path: Path
    identity: tuple
    guard: WriteGuard | None = None
    state: np.ndarray | None = None
    params: Any = None


def refuse_if_mapped(mapped: Mapped | None, new: str, state: str) -> None:
    """Refuse to replace ``new`` (e.g. ``"addresses"``) in a memory mapped for writing:
    its flush() writes only ``state``, so the directory would pair the old one with
    ``state`` written through the new one."""
    if mapped is not None:
        raise ValueError(f"this memory is loaded with mmap=True from {mapped.path}, whose "
                         f"flush() writes only the {state}, so a new {new} would be lost; "
                         f"load it without mmap, assign the {new}, then save()")


def check_mapped(mapped: Mapped | None, params, array: np.ndarray, what: str) -> None:
    """Refuse a memory-mapped memory that no longer matches its directory.

    ``flush()`` writes only the state array and its checksum.  A parameter
    changed since the load (``mem.radius = ...``) would stay unrecorded beside
    counters written with it, and a new array assigned to ``mem.<what>`` takes
    the writes that should reach the file, while :func:`flush_memory` would
    record its checksum beside the file's older bytes (the directory would no
    longer load).  Views of the map itself (same buffer, shape, strides) pass.
    """
    if mapped is None:
        return
    if mapped.params is not None and params != mapped.params:
        was, now = mapped.params.to_metadata(), params.to_metadata()
        changed = ", ".join(f"{key} from {was.get(key)!r} to {now.get(key)!r}"
                            for key in sorted(was.keys() | now.keys())
                            if was.get(key) != now.get(key))
        raise ValueError(
            f"this memory's parameters changed since load(mmap=True) from {mapped.path} "
            f"({changed}): flush() records only the {what}, so the directory would keep the "
            "old parameters beside data written with the new.  Set them back, or save() the "
            "memory to another path")
    state = mapped.state
    if state is not None and not (
            isinstance(array, np.ndarray) and array.shape == state.shape
            and array.strides == state.strides and array.dtype == state.dtype
            and array.__array_interface__["data"][0] == state.__array_interface__["data"][0]):
        raise ValueError(
            f"this memory's {what} are no longer the array mapped from {mapped.path} (a new "
            f"array was assigned to mem.{what} after load(mmap=True)): its writes would not "
            f"reach the file, and flush() would record a checksum the file does not match.  "
            f"Copy values into the map instead (mem.{what}[...] = values), or load without "
            f"mmap, assign, then save()")


class WriteGuard:
    """An exclusive ``flock`` on a memory's directory, held while one object maps it
    for writing (``mmap="r+"``); released when that object is garbage-collected
    or its process ends, however it ends.

    Two objects writing through maps of one file would lose each other's
    updates (each adds to the counters it read), so a second ``mmap="r+"``
    open of a directory is refused while the first lives.
    """

    __slots__ = ("fd",)

    def __init__(self, fd: int):
        self.fd = fd

    def __del__(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    @classmethod
    def take(cls, directory: Directory, marker: dict | None) -> WriteGuard | None:
        """The guard of ``directory``, or None where ``flock`` is unavailable."""
        if fcntl is None:
            return None
        if directory.fd is None:
            fd = os.open(directory.path, os.O_RDONLY)
        else:
            fd = os.open(".", os.O_RDONLY, dir_fd=directory.fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            who = (f" (process {marker['pid']} on {marker['host']}, since {marker['opened']})"
                   if marker else "")
            raise ValueError(
                f"{directory.path} is already open for writing with mmap=True by another memory "
                f"object{who}: two maps written at once would lose each other's updates.  "
                "Use that object, or drop it (del, or end its process) before opening this "
                "one; or open with mmap='r' (read-only) or mmap='c' (writes stay in RAM)"
            ) from None
        except OSError:
            os.close(fd)
            return None  # no flock on this file system
        return cls(fd)


def identity(path) -> tuple | None:
    """``(device, inode)`` of ``path`` (links followed), or None if it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _check_target(path: Path, overwrite: bool, mapped: Mapped | None) -> None:
    if not os.path.lexists(path):
        return
    if mapped is not None and identity(path) == mapped.identity:
        raise ValueError(f"this memory is memory-mapped from {path} (loaded with mmap=True): "
                         "saving over that directory would swap out the files its writes go "
                         "to; call flush() to bring it up to date, or save to another path")
    if path.is_symlink():
        raise FileExistsError(f"{path} is a symbolic link; save to the directory it points to "
                              f"({os.path.realpath(path)}) or choose another path")
    if not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if not path.is_dir():
        raise FileExistsError(f"{path} is a file, not a saved fastsdm memory; refusing to replace "
                              "it: remove it yourself or choose another path")
    entries = os.listdir(path)
    if entries and META_FILE not in entries:
        raise FileExistsError(f"{path} is a non-empty directory that is not a saved fastsdm "
                              "memory; refusing to replace it")
    foreign = sorted(e if e not in _OWN_FILES else f"{e} (not a regular file: a link or a "
                     "directory)" for e in entries if not _own_file(path, e))
    if foreign:
        raise FileExistsError(f"{path} is a saved fastsdm memory but also holds {foreign[:5]}; "
                              "refusing to delete them: move them away or choose another path")


#: Every array any memory type saves (``{name}.npy``).  Fixed here, not
#: gathered from the types as they are imported: an SDM saved over a
#: ContinuousSDM's directory must replace ``accumulators.npy`` in a process
#: that never imported fastsdm.continuous.  :func:`save_directory` refuses
#: an array not listed here.
MEMORY_ARRAYS = frozenset({"addresses", "masks", "values", "counters", "accumulators"})

#: The files a saved memory of any type may hold (what an overwrite may
#: delete): the description and every array of :data:`MEMORY_ARRAYS`.
_OWN_FILES = frozenset({META_FILE, _META_TMP, *(f"{name}.npy" for name in MEMORY_ARRAYS)})


def _own_file(directory: Path, name: str) -> bool:
    # One of a saved memory's own names, and a regular file: a user's
    # results.npy, or a directory named counters.npy, is not the memory's.
    if name not in _OWN_FILES:
        return False
    try:
        return stat.S_ISREG(os.lstat(directory / name).st_mode)
    except OSError:
        return False


def _write_file(file: Path, data: bytes) -> None:
    with open(file, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_npy(file: Path, array: np.ndarray) -> None:
    with open(file, "xb") as f:
        np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def _check_name_length(path: Path) -> None:
    # Checked before anything is written: the final rename would otherwise
    # fail only after every array was written, naming the hidden temporary.
    try:
        longest = os.pathconf(path.parent, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows), or not known
        longest = 255
    length = len(os.fsencode(path.name))
    if longest > 0 and length > longest:
        raise ValueError(f"cannot save to {path}: its name has {length} bytes, more than the "
                         f"{longest} its file system allows; choose a shorter name")


def save_directory(path, meta: dict, arrays: dict, *, overwrite: bool,
                   mapped: Mapped | None = None) -> Path:
    """Write ``arrays`` and ``meta`` to the directory ``path``, crash-safely.

    At every instant ``path`` holds the complete old memory (or nothing, on
    a first save) or the complete new one; see the module docstring.
    ``mapped`` is where the saving memory is memory-mapped from (with
    ``mmap="r+"``): saving over that directory is refused.
    """
    undeclared = [name for name in arrays if name not in MEMORY_ARRAYS]
    if undeclared:  # a programming error: an overwrite would refuse to delete them
        raise AssertionError(f"arrays {undeclared} are not declared in _persist.MEMORY_ARRAYS")
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise ValueError(f"cannot save to {str(path)!r}: name the directory to create, e.g. "
                         "'memories/run-1'")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(p for p in (path.parent, *path.parent.parents)
                       if os.path.lexists(p) and not p.is_dir())
        raise FileExistsError(f"cannot save to {path}: {blocker} is a file, not a directory"
                              ) from None
    _check_name_length(path)
    lock = _PathLock(path)
    lock.acquire()
    try:
        _step("locked")
        _recover(path)
        _step("recovered")
        _check_target(path, overwrite, mapped)
        token = _token()
        new = path.parent / f"{_sibling_prefix(path)}new-{token}"
        try:
            os.mkdir(new)
        except OSError as exc:  # not the hidden temporary's name: the user's path
            raise type(exc)(exc.errno, f"cannot save to {path}: cannot write into "
                            f"{path.parent} ({exc.strerror})") from None
        try:
            _step("created")
            file = new / META_FILE
            try:
                meta = {**meta, "arrays": {}}
                for name, array in arrays.items():
                    file = new / f"{name}.npy"
                    _write_npy(file, array)
                    meta["arrays"][name] = {"dtype": str(array.dtype),
                                            "shape": list(array.shape), "crc32": crc32(array)}
                    _step(f"wrote {name}.npy")
                file = new / META_FILE
                _write_file(file, encode_description(meta))
                _step(f"wrote {META_FILE}")
                fsync_dir(new)
                _step("synced")
            except OSError as exc:
                # numpy's own text ("128000 requested and 4968 written") names no file.
                message = (f"saving {path} failed while writing {file.name} "
                           f"({exc.strerror or exc}; a full disk or a file-size limit?); "
                           f"nothing at {path} was changed")
                raise (OSError(exc.errno, message) if exc.errno else OSError(message)) from exc
            if not os.path.lexists(path):
                os.rename(new, path)
                fsync_dir(path.parent)
                _step("renamed")
            elif _exchange(new, path):
                fsync_dir(path.parent)
                _step("exchanged")
                _remove(new)  # the old memory, now under the temporary name
                _step("removed old")
            else:
                aside = path.parent / f"{_sibling_prefix(path)}old-{token}"
                os.rename(path, aside)
                fsync_dir(path.parent)
                _step("moved aside")
                os.rename(new, path)
                fsync_dir(path.parent)
                _step("moved in")
                _remove(aside)
                _step("removed old")
        except BaseException:
            try:
                _recover(path)  # put back the old memory if it was moved aside
            except OSError:
                pass
            raise
    finally:
        lock.release()
    return path


# -- reading ---------------------------------------------------------------------------

# os.replace takes dir_fd arguments wherever os.rename does (both call renameat).
_DIR_FD = os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd


class Directory:
    """A saved memory's directory, opened once: its files are opened relative to it.

    A save that swaps another memory in while this one is being read does
    not mix the two: the open directory is the one that was there.
    """

    def __init__(self, path: Path):
        self.path = path
        self.fd = None
        try:
            if _DIR_FD:
                self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
                st = os.fstat(self.fd)
            else:
                st = os.stat(path)
                if not path.is_dir():
                    raise NotADirectoryError(path)
        except (FileNotFoundError, NotADirectoryError):
            raise FileNotFoundError(path) from None
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise ValueError(f"{path} is not a saved fastsdm memory: it is a loop of symbolic "
                             f"links ({exc.strerror}); give the path of a saved memory"
                             ) from None
        self.identity = (st.st_dev, st.st_ino)

    def open(self, name: str, mode: str = "rb"):
        """Open one of the memory's files; anything but a regular file is refused.

        (Opened without blocking: a FIFO planted in a memory's directory
        would otherwise hang the load.)
        """
        where = {} if self.fd is None else {"dir_fd": self.fd}
        # A file opened for writing must be the memory's own: writes through
        # a symbolic link would change its target (a shared cache, another
        # memory).  Hard links are refused by load_array.
        nofollow = getattr(os, "O_NOFOLLOW", 0) if "+" in mode or "w" in mode else 0
        file = self.path / name

        def opener(n, flags):
            try:
                fd = os.open(n, flags | getattr(os, "O_NONBLOCK", 0) | nofollow, **where)
            except IsADirectoryError:
                raise ValueError(f"{file} is not a regular file; the memory is corrupt or is "
                                 "not a fastsdm memory") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP and nofollow:
                    raise ValueError(
                        f"{file} is a symbolic link: writes through it would change the file "
                        "it points to, which may be shared (a cache, another memory).  Give "
                        "this memory its own copy (cp --remove-destination \"$(readlink "
                        "FILE)\" FILE), or load it with mmap='c' or mmap='r'") from None
                if nofollow and (isinstance(exc, PermissionError) or exc.errno == errno.EROFS):
                    what = (f"{self.path} is not writable" if "w" in mode
                            else f"{file} is not writable")
                    raise type(exc)(
                        exc.errno, f"{what} ({exc.strerror}); load the memory with mmap='r' "
                        "(read-only) or mmap='c' (writes stay in RAM), or make its directory "
                        "and files writable") from None
                if exc.errno in (errno.ELOOP, errno.ENXIO):  # a link loop, a socket
                    raise ValueError(f"{file} is not a regular file ({exc.strerror}); the "
                                     "memory is corrupt or is not a fastsdm memory") from None
                raise
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise ValueError(f"{file} is not a regular file; the memory is corrupt or is "
                                 "not a fastsdm memory")
            return fd

        return open(self.path / name if self.fd is None else name, mode, opener=opener)

    def replace_file(self, name: str, data: bytes) -> None:
        """Replace ``name`` atomically (temporary file, fsync, rename, fsync)."""
        with self.open(_META_TMP, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if self.fd is None:
            os.replace(self.path / _META_TMP, self.path / name)
            fsync_dir(self.path)
        else:
            os.replace(_META_TMP, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            os.fsync(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@contextmanager
def opened(path, *, saver: str, write: bool = False):
    """Open the saved memory at ``path`` for a load, after recovering an interrupted save.

    ``write``: hold the path's lock until the block ends (a load that will
    change the directory: ``mmap="r+"``).  Otherwise the lock is taken only
    to clean up leftovers, and not waited for while a save is running and
    the path holds a complete memory.
    """
    path = Path(path)
    lock = _PathLock(path)
    held = False
    try:
        if write:
            held = lock.acquire()
            _recover_quietly(path)
        elif _siblings(path):
            # Wait for a running save only when the path holds nothing yet.
            held = lock.acquire(blocking=not os.path.lexists(path))
            if held:
                _recover_quietly(path)
                lock.release()
                held = False
        try:
            directory = Directory(path)
        except FileNotFoundError:
            raise not_a_memory(path, saver) from None
        try:
            yield directory
        except Exception as exc:
            if not held and identity(path) != directory.identity:
                # A save swapped another memory in and removed this one's
                # files while they were being read.
                raise Replaced(path) from exc
            raise
        finally:
            directory.close()
    finally:
        if held:
            lock.release()


class Replaced(Exception):
    """A load failed because a save replaced the directory it was reading."""


def load_retrying(load, attempts: int = 3):
    """``load()``, run again (up to ``attempts`` times) while a concurrent save
    replaces the memory under it; then its last error."""
    for attempt in range(attempts):
        try:
            return load()
        except Replaced as replaced:
            if attempt == attempts - 1:
                raise replaced.__cause__ from None


@contextmanager
def reopened(mapped: Mapped, *, saver: str):
    """The directory of a memory opened with ``mmap="r+"``, locked, for a flush."""
    lock = _PathLock(mapped.path)
    lock.acquire()
    try:
        if identity(mapped.path) != mapped.identity:
            raise ValueError(f"{mapped.path} was replaced after this memory was opened from it "
                             "with mmap=True (a save() put another memory there): its writes "
                             "went to the replaced files, which are no longer at that path; "
                             "save() this memory to keep its state")
        directory = Directory(mapped.path)
        try:
            yield directory
        finally:
            directory.close()
    finally:
        lock.release()


def _no_constants(name):
    raise ValueError(f"{name} is not a number JSON allows")


def _no_duplicates(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys {sorted({k for k in keys if keys.count(k) > 1})}")
    return dict(pairs)


def strict_json(raw: bytes):
    """Decode UTF-8 JSON, refusing NaN/Infinity and duplicate keys (raises ValueError).

    How every fastsdm description is read: saved memories' ``fastsdm.json``
    and a sharded memory's manifest.
    """
    return json.loads(raw.decode("utf-8"), parse_constant=_no_constants,
                      object_pairs_hook=_no_duplicates)


def not_a_memory(path, saver: str) -> ValueError:
    """The refusal of a directory without a description, naming what it holds instead."""
    sharded = os.path.exists(os.path.join(path, SHARDED_MANIFEST))
    return ValueError(f"{path} is not a saved fastsdm memory (no {META_FILE})"
                      + ("; it holds a sharded memory's checkpoint: load it with "
                         "fastsdm.distributed.ShardedSDM.load()" if sharded
                         else f"; save one with {saver}"))


def read_metadata(directory: Directory, format_name: str, version: int, required,
                  optional=(), saver: str = "save()") -> dict:
    """The JSON description of a saved memory, checked for format, version and keys."""
    path, meta_file = directory.path, directory.path / META_FILE
    try:
        with directory.open(META_FILE) as f:
            raw = f.read(MAX_META_BYTES + 1)
    except FileNotFoundError:
        raise not_a_memory(path, saver) from None
    if len(raw) > MAX_META_BYTES:
        raise ValueError(f"{meta_file} is larger than {MAX_META_BYTES} bytes, far larger than "
                         "a fastsdm description; the memory is corrupt")
    try:
        meta = strict_json(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{meta_file} is not valid JSON ({exc}); the memory is "
                         "corrupt") from None
    if not isinstance(meta, dict) or meta.get("format") != format_name:
        found = meta.get("format") if isinstance(meta, dict) else None
        hint = f"; load it with {found}.load()" if found in ("fastsdm.SDM",
                                                              "fastsdm.ContinuousSDM") else ""
        raise ValueError(f"{meta_file} does not describe a {format_name} memory "
                         f"(format={found!r}){hint}")
    if "format_version" not in meta:
        raise ValueError(f"{meta_file} lacks format_version; the memory is corrupt")
    found = meta["format_version"]
    if type(found) is not int or found < 1:
        raise ValueError(f"{meta_file} has format_version {found!r}, which no fastsdm writes "
                         "(versions are integers from 1); the memory is corrupt")
    if found != version:
        raise ValueError(f"{meta_file} has format version {found}; this fastsdm reads version "
                         f"{version}: " + ("upgrade fastsdm" if found > version else
                                           "load it with the fastsdm that wrote it"))
    missing = (set(required) | {"arrays"}) - meta.keys()
    if missing:
        raise ValueError(f"{meta_file} lacks {sorted(missing)}; the memory is corrupt")
    unknown = meta.keys() - set(required) - set(optional) - {"arrays", "format",
                                                              "format_version", META_CRC}
    if unknown:
        raise ValueError(f"{meta_file} has unknown fields {sorted(unknown)}; the memory is "
                         "corrupt, or was written by a newer fastsdm: upgrade fastsdm")
    return meta


def invalid(meta_file, exc) -> ValueError:
    """The error for a description field that fails its check."""
    return ValueError(f"{meta_file} holds invalid parameters ({exc}); the memory is corrupt")


def check_array_specs(directory: Directory, meta: dict, expected: dict,
                      nullable=()) -> dict:
    """Check ``meta["arrays"]`` against ``expected`` ``{name: (shape, dtype)}``; the checksums.

    ``nullable``: arrays whose checksum may be null (written in place by a
    memory map of a fastsdm that cleared checksums on open).
    """
    meta_file = directory.path / META_FILE
    arrays = meta["arrays"]
    if type(arrays) is not dict or arrays.keys() != expected.keys():
        found = sorted(arrays) if type(arrays) is dict else arrays
        raise invalid(meta_file, f"arrays must describe {sorted(expected)}, got {found!r}"[:300])
    crcs = {}
    for name, (shape, dtype) in expected.items():
        spec = arrays[name]
        ok = (type(spec) is dict and spec.keys() == {"dtype", "shape", "crc32"}
              and type(spec["dtype"]) is str and type(spec["shape"]) is list
              and all(type(n) is int for n in spec["shape"]))
        crc = spec.get("crc32") if type(spec) is dict else None
        if not ok or not ((type(crc) is int and 0 <= crc < 2**32)
                          or (crc is None and name in nullable)):
            raise invalid(meta_file, f"arrays.{name} must be {{'dtype': str, 'shape': [int, "
                                     f"...], 'crc32': int}}, got {spec!r}"[:300])
        if spec["shape"] != list(shape) or spec["dtype"] != dtype:
            raise ValueError(f"{meta_file} describes {name} as {spec['shape']} {spec['dtype']}, "
                             f"inconsistent with its parameters ({list(shape)} {dtype}); the "
                             "memory is corrupt")
        crcs[name] = crc
    return crcs


def check_marker(directory: Directory, meta: dict) -> dict | None:
    """The ``open_for_writing`` record of ``meta``, checked, or None."""
    marker = meta.get("open_for_writing")
    if marker is None:
        return None
    ok = (type(marker) is dict and marker.keys() == {"opened", "flushed", "pid", "host"}
          and type(marker["opened"]) is str and len(marker["opened"]) <= 64
          and (marker["flushed"] is None or (type(marker["flushed"]) is str
                                             and len(marker["flushed"]) <= 64))
          and type(marker["pid"]) is int and 0 <= marker["pid"] < 2**63
          and type(marker["host"]) is str and len(marker["host"]) <= 255)
    if not ok:
        raise invalid(directory.path / META_FILE,
                      f"open_for_writing must be {{'opened': str, 'flushed': str or null, "
                      f"'pid': int, 'host': str}}, got {marker!r}"[:300])
    return marker


def _npy_error(file, problem: str) -> ValueError:
    return ValueError(f"{file} {problem}; {_CORRUPT}")


#: The header numpy's writer gives a plain array (fastsdm's files, of every
#: version): ``{'descr': '<i2', 'fortran_order': False, 'shape': (3, 4), }``,
#: padded with spaces to a line.
#: Only the kinds of plain numbers (and O, to name it) and dimensions of at most
#: 19 digits (beyond int64, far beyond any file) are read.
_NPY_HEADER = re.compile(r"\{'descr': '([<>|=]?[biufcO]\d{0,2})', 'fortran_order': "
                         r"(True|False), 'shape': \((|\d{1,19},|\d{1,19}(?:, \d{1,19})+)\), "
                         r"\} *\n")


def _read_header(f, file) -> tuple[np.dtype, tuple, int]:
    """Parse a .npy header without numpy's loader: ``(dtype, shape, data offset)``.

    Parsed here, by a strict pattern, rather than by numpy's reader: that one
    evaluates the header with ``ast.literal_eval``, which can fail spuriously
    (``SystemError``) while other threads run Python code, and a good file
    would then be reported as damaged.
    """
    magic = f.read(8)
    if magic[:4] == b"PK\x03\x04":
        raise _npy_error(file, "is a zip archive (an .npz written by np.savez?), not a .npy file")
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY" or magic[6] not in (1, 2) or magic[7] != 0:
        found = "an empty file" if not magic else f"starts with {magic[:8]!r}"
        raise _npy_error(file, f"has a damaged .npy header (not the .npy magic string of "
                               f"format 1.0 or 2.0: {found})")
    size_bytes = f.read(2 if magic[6] == 1 else 4)
    size = int.from_bytes(size_bytes, "little")
    if len(size_bytes) < (2 if magic[6] == 1 else 4) or size > MAX_HEADER_BYTES:
        raise _npy_error(file, f"has a damaged .npy header (its length field says {size} "
                               f"bytes; at most {MAX_HEADER_BYTES})")
    raw = f.read(size)  # latin-1 decodes every byte; the pattern is the check
    match = _NPY_HEADER.fullmatch(raw.decode("latin-1")) if len(raw) == size else None
    if match is None:
        raise _npy_error(file, f"has a damaged .npy header (not the header of a plain array: "
                               f"{raw[:120]!r})")
    descr, fortran, shape_text = match.groups()
    if "O" in descr:
        raise _npy_error(file, "holds Python objects (dtype object), which fastsdm never "
                               "unpickles")
    try:
        dtype = np.dtype(descr)
    except TypeError:
        raise _npy_error(file, f"has a damaged .npy header (unknown dtype {descr!r})") from None
    shape = tuple(int(v) for v in shape_text.split(",") if v.strip())
    if fortran == "True":
        raise _npy_error(file, f"holds a Fortran-ordered array (shape {shape}); fastsdm writes "
                               "C order")
    return dtype, shape, f.tell()


def _readinto(f, array: np.ndarray, file) -> None:
    buf = memoryview(array.reshape(-1).view(np.uint8))
    done = 0
    while done < len(buf):
        got = f.readinto(buf[done:])
        if not got:
            raise _npy_error(file, "ended early while being read")
        done += got


def stamp() -> str:
    """The current UTC time as fastsdm records it (ISO 8601, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _mismatch(file, marker: dict | None, reseal: str) -> ValueError:
    if marker is None:
        return ValueError(f"{file} fails its checksum: the data is corrupt; restore it from a "
                          "copy (or load with verify=False to inspect it as it is)")
    flushed = marker["flushed"] or "never"
    return ValueError(
        f"{file} fails its checksum, and {META_FILE} records that the memory was opened for "
        f"writing with mmap=True (process {marker['pid']} on {marker['host']}, at "
        f"{marker['opened']}; last flush(): {flushed}).  Writes through that memory map change "
        "the file without updating its checksum until flush() records a new one: if that "
        "process is still running, call its flush(); if it ended without one (or crashed), the "
        "file holds its writes (a batch cut by a crash may be partly applied).  To use the data "
        f"as it is, load with verify=False; to accept it and record a new checksum, run "
        f"{reseal}.  If nothing wrote to it through a memory map, the file is damaged: restore "
        "it from a copy")


def load_array(directory: Directory, name: str, shape: tuple, dtype: str, *, crc: int | None,
               mode: str | None, verify: bool, marker: dict | None = None,
               reseal: str = "", available: int | None = None,
               mappable: bool = True) -> np.ndarray:
    """Read (or memory-map with ``mode``) ``name.npy``, checked before any data is touched.

    The header must give exactly ``shape`` and the little-endian ``dtype``, C
    order, and the file must be exactly as long as the header promises.
    With ``verify``, a non-null ``crc`` must match.  An array to read that
    is larger than ``available`` bytes (of RAM; None: unknown) is refused;
    the message offers ``mmap=`` only for an array that ``mmap=`` would map
    (``mappable``: the memory's state).
    """
    file = directory.path / f"{name}.npy"
    try:
        f = directory.open(f"{name}.npy", "r+b" if mode == "r+" else "rb")
    except FileNotFoundError:
        raise ValueError(f"{directory.path} is not a complete fastsdm memory: {name}.npy is "
                         "missing") from None
    with f:
        info = os.fstat(f.fileno())
        if mode == "r+" and info.st_nlink > 1:
            raise ValueError(
                f"{file} has {info.st_nlink} hard links (a snapshot made with "
                "cp -al or rsync --link-dest?): writes through a memory map would change every "
                "linked copy.  Give this memory its own copy of the file first (cp FILE TMP && "
                "mv TMP FILE), or load it with mmap='c' or without mmap")
        got_dtype, got_shape, offset = _read_header(f, file)
        want = np.dtype(dtype).newbyteorder("<")
        if got_dtype != want or tuple(got_shape) != tuple(shape):
            raise ValueError(f"{file} holds an array of shape {got_shape} and dtype "
                             f"{got_dtype.str}, but {META_FILE} says {tuple(shape)} {dtype}; the "
                             "memory is corrupt")
        nbytes = int(np.prod(shape, dtype=object)) * want.itemsize
        size = info.st_size
        if size != offset + nbytes:
            raise _npy_error(file, f"is {size} bytes long but its header promises {offset} + "
                                   f"{nbytes} (shape {tuple(shape)}, {dtype})")
        if mode is None:
            if available is not None and nbytes > available:
                # Imported here: the kill tests load this module on its own.
                from ._machine import format_bytes

                fix = ("load the memory with mmap=True (or mmap='r') to serve it from disk"
                       if mappable else "this array is always read into RAM (mmap= maps only "
                       "the counters or accumulators): load it on a machine with more memory")
                raise MemoryError(f"{file} holds {format_bytes(nbytes)}, more than the "
                                  f"{format_bytes(available)} of memory available; {fix}")
            array = np.empty(shape, dtype=want)
            _readinto(f, array, file)
        else:
            array = np.memmap(f, dtype=want, mode=mode, offset=offset, shape=tuple(shape))
    if verify and crc is not None and crc32(array) != crc:
        raise _mismatch(file, marker, reseal)
    return array


def read_only(what: str, loaded: bool = True) -> ValueError:
    """The refusal of a change to a memory whose ``what`` (its arrays) are read-only:
    ``loaded`` with ``mmap='r'``, or else a read-only array assigned by the caller."""
    if not loaded:
        return ValueError(f"this memory's {what} are a read-only array (assigned to the "
                          f"memory, not loaded with mmap='r'); make it writeable, or assign a "
                          f"writeable copy (mem.{what} = mem.{what}.copy())")
    return ValueError(f"this memory's {what} are read-only (loaded with mmap='r'); load it "
                      "with mmap=True to write to its files or mmap='c' to write in RAM")


def verifies(verify: bool | None, mapped_array: bool, mode: str | None) -> bool:
    """Whether a load checks an array's checksum: ``verify``, or by default every
    array but one mapped read-only or copy-on-write (``mapped_array``: the one
    array a load maps).  A map for writing is checked, because ``flush()``
    seals a new checksum over whatever it holds."""
    if verify is not None:
        return verify
    return not (mapped_array and mode in ("r", "c"))


def write_metadata(directory: Directory, meta: dict) -> None:
    """Replace the description of an opened memory, atomically and durably."""
    directory.replace_file(META_FILE, encode_description(meta))


class Kind(NamedTuple):
    """What one memory type's saved directory holds, for :func:`load_memory`."""

    format_name: str
    format_version: int
    required: tuple
    optional: tuple
    #: The method named in errors, e.g. ``"SDM.save()"``.
    saver: str
    #: The one array that ``mmap=`` maps and ``flush()`` seals (the state).
    state: str
    #: The command that records a new checksum, quoted in a mismatch error.
    reseal: str
    #: Arrays whose checksum may be null (see :func:`check_array_specs`).
    nullable: tuple = ()


class Loaded(NamedTuple):
    """A saved memory read by :func:`load_memory`."""

    params: Any
    meta: dict
    arrays: dict
    checked: Any
    mapped: Mapped | None


def load_memory(path: Path, kind: Kind, mode: str | None, verify: bool | None, *,
                parse: Callable[[dict], Any], check: Callable[[Any, dict], Any],
                available: Callable[[], int | None]) -> Loaded:
    """A saved memory's parameters, description and arrays, every part checked.

    ``parse(meta)`` turns the description into parameters, checking every
    field (a bad one raises ``MetadataError``); their ``array_specs()`` give
    each array's shape and dtype.  ``check(params, arrays)`` refuses arrays that
    are inconsistent with the parameters and returns whatever the caller
    needs from them (``checked``).  Both run before a load for writing
    (``mode == "r+"``) marks the directory open for writing, so a refused
    load leaves it as it was.  ``available`` is called before each array is
    read: earlier arrays use RAM.
    """
    from ._params import MetadataError  # here: the kill tests load this module on its own

    with opened(path, saver=kind.saver, write=mode == "r+") as directory:
        meta = read_metadata(directory, kind.format_name, kind.format_version, kind.required,
                             kind.optional, kind.saver)
        meta_file = path / META_FILE
        try:
            params = parse(meta)
        except MetadataError as exc:
            raise invalid(meta_file, exc) from None
        marker = check_marker(directory, meta)
        specs = params.array_specs()
        crcs = check_array_specs(directory, meta, specs, nullable=kind.nullable)
        verify_description(meta, meta_file)
        arrays = {name: load_array(
            directory, name, *specs[name], crc=crcs[name],
            verify=verifies(verify, name == kind.state, mode),
            mode=mode if name == kind.state else None, marker=marker, reseal=kind.reseal,
            available=available(), mappable=name == kind.state)
            for name in specs}
        checked = check(params, arrays)
        mapped = (mark_open_for_writing(directory, meta, arrays[kind.state], params)
                  if mode == "r+" else None)
    return Loaded(params, meta, arrays, checked, mapped)


def flush_memory(mapped: Mapped | None, kind: Kind, params, state: np.ndarray,
                 **updates) -> None:
    """``flush()`` of a memory loaded with ``mmap=True``: seal ``state`` and ``updates``.

    ``mapped`` is the memory's :class:`Mapped` (None: it was not loaded for
    writing); the description on disk must still describe ``params``'s
    arrays.  ``updates`` are description fields to record with the checksum.
    """
    if mapped is None:
        raise ValueError("flush() is for memories loaded with mmap=True; use save(path) "
                         "for others")
    check_mapped(mapped, params, state, kind.state)
    with reopened(mapped, saver=kind.saver) as directory:
        meta = read_metadata(directory, kind.format_name, kind.format_version, kind.required,
                             kind.optional, kind.saver)
        check_array_specs(directory, meta, params.array_specs(), nullable=kind.nullable)
        meta.update(updates)
        seal(directory, meta, kind.state, state)


def mark_open_for_writing(directory: Directory, meta: dict, state: np.ndarray,
                          params) -> Mapped:
    """Take the directory's :class:`WriteGuard` and record that the memory is
    memory-mapped for writing (its checksum stays); ``state`` is the map and
    ``params`` the parameters the description records."""
    guard = WriteGuard.take(directory, meta.get("open_for_writing"))
    meta["open_for_writing"] = {"opened": stamp(), "flushed": None, "pid": os.getpid(),
                                "host": socket.gethostname()[:255]}
    write_metadata(directory, meta)
    # Absolute: a flush() after os.chdir() must find the same directory.
    return Mapped(Path(os.path.abspath(directory.path)), directory.identity, guard, state,
                  params)


def seal(directory: Directory, meta: dict, name: str, array: np.ndarray) -> None:
    """Flush a memory-mapped array and record its checksum (``flush()``)."""
    if isinstance(array, np.memmap):
        array.flush()
    meta["arrays"][name]["crc32"] = crc32(array)
    marker = meta.get("open_for_writing")
    if isinstance(marker, dict):
        marker["flushed"] = stamp()
    write_metadata(directory, meta)
