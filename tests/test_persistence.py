"""Saved memories: crash safety, files as untrusted input, memory maps, old formats.

The crash tests kill real processes (SIGKILL): at random moments of a loop
of saves, and right after every step of the swap (the process's save kills
itself when ``fastsdm._persist._fault`` reports that step).  They are forked
from one helper process that loaded ``fastsdm/_persist.py`` alone (NumPy
only), so that each costs a fork rather than a Python start-up.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fastsdm
from fastsdm import _persist
from fastsdm.continuous import ContinuousSDM

posix_only = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and flock are POSIX")


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _memory(seed: int, **kwargs) -> fastsdm.SDM:
    params = {"n_bits": 64, "n_locations": 300, "radius": 24, **kwargs}
    mem = fastsdm.SDM(**params, seed=seed)
    keys = fastsdm.random_addresses(20, 64, seed=seed + 100)
    data = (None if mem.n_data_bits == 64
            else fastsdm.random_addresses(20, mem.n_data_bits, seed=seed + 200))
    mem.write(keys, data, weight=seed + 1)
    mem.read(keys)  # advance the tie stream: it is saved too
    return mem


def _same(a: fastsdm.SDM, b: fastsdm.SDM) -> bool:
    return (repr(a) == repr(b) and np.array_equal(a.addresses, b.addresses)
            and a.counters.dtype == b.counters.dtype and np.array_equal(a.counters, b.counters)
            and a._tie_rng.bit_generator.state == b._tie_rng.bit_generator.state)


def _leftovers(path) -> list[str]:
    """What a save of ``path`` may leave beside it (temporary directories, lock file)."""
    prefix = f".{os.path.basename(path)}.fastsdm-"
    return sorted(n for n in os.listdir(os.path.dirname(path)) if n.startswith(prefix))


def _flip_json(path, **changes) -> None:
    file = path / "fastsdm.json"
    file.write_text(json.dumps({**json.loads(file.read_text()), **changes}, indent=1))


# A "zygote" child process: imports NumPy and the module under test once, then
# forks a grandchild per save loop on request (a single-threaded process forks
# safely).  Commands and answers are JSON lines on stdin / stdout.
ZYGOTE = r"""
import importlib.util, json, os, signal, sys, traceback
import numpy as np

spec = importlib.util.spec_from_file_location("persist_under_test", sys.argv[1])
persist = importlib.util.module_from_spec(spec)
spec.loader.exec_module(persist)
cache = {}


def memory(source):
    if source not in cache:
        with open(os.path.join(source, "fastsdm.json")) as f:
            meta = json.load(f)
        arrays = {name: np.load(os.path.join(source, name + ".npy"))
                  for name in meta.pop("arrays")}
        cache[source] = (meta, arrays)
    return cache[source]


def saves(branch, target, die_at, memories):
    if branch == "fallback":
        persist._renameat2 = None  # as on a system without renameat2(RENAME_EXCHANGE)
    if die_at:
        def fault(step):
            if step == die_at:
                os.kill(os.getpid(), signal.SIGKILL)
        persist._fault = fault
    i = 0
    while True:
        meta, arrays = memories[i % len(memories)]
        persist.save_directory(target, meta, arrays, overwrite=True)
        i += 1
        if die_at or branch == "once":
            return


for line in sys.stdin:
    command = json.loads(line)
    if command[0] == "spawn":
        _, branch, target, die_at, sources = command
        memories = [memory(s) for s in sources]
        pid = os.fork()
        if pid == 0:
            try:
                saves(branch, target, die_at, memories)
                code = 0
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        print(json.dumps(["pid", pid]), flush=True)
    else:
        _, pid = command
        _, status = os.waitpid(pid, 0)
        print(json.dumps(["exit", os.waitstatus_to_exitcode(status)]), flush=True)
"""


class Zygote:
    """Client of the zygote: ``spawn`` a save loop in a new process, ``wait`` for it."""

    def __init__(self):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE, _persist.__file__],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env)

    def _ask(self, command):
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())[1]

    def spawn(self, target, sources, *, branch="exchange", die_at="") -> int:
        """Start saving ``sources`` over ``target`` in turn (once, if ``die_at``)."""
        return self._ask(["spawn", branch, str(target), die_at, [str(s) for s in sources]])

    def wait(self, pid: int) -> int:
        """The exit code of a spawned process (``-9`` when killed by SIGKILL)."""
        return self._ask(["wait", pid])

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def zygote():
    if not hasattr(os, "fork"):
        pytest.skip("the crash tests fork processes")
    z = Zygote()
    yield z
    z.close()


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Memories A and B (and C), saved once; the children save them over each other."""
    root = tmp_path_factory.mktemp("sources")
    mems = {name: _memory(seed) for name, seed in (("A", 1), ("B", 2), ("C", 3))}
    return {name: (mem, mem.save(root / name)) for name, mem in mems.items()}


def _steps(tmp_path, sources, branch: str) -> list[str]:
    """The steps of one save in ``branch``, recorded in this process."""
    target = tmp_path / f"record-{branch}"
    if branch != "first":
        sources["A"][0].save(target)
    steps = []
    saved = _persist._renameat2
    try:
        if branch == "fallback":
            _persist._renameat2 = None
        _persist._fault = steps.append
        sources["B"][0].save(target, overwrite=True)
    finally:
        _persist._fault = None
        _persist._renameat2 = saved
    return steps


# ---------------------------------------------------------------------------
# Crash safety
# ---------------------------------------------------------------------------


@posix_only
@pytest.mark.parametrize("branch", ["exchange", "fallback", "first"])
def test_a_kill_after_any_step_of_a_save_leaves_old_or_new(tmp_path, sources, zygote, branch):
    if branch == "exchange" and _persist._renameat2 is None:
        pytest.skip("renameat2 is not available here")
    steps = _steps(tmp_path, sources, branch)
    commit = {"exchange": "exchanged", "fallback": "moved in", "first": "renamed"}[branch]
    assert commit in steps and len(steps) >= 8, steps
    for k, step in enumerate(steps):
        target = tmp_path / f"k{k}" / "m"
        target.parent.mkdir()
        if branch != "first":
            sources["A"][0].save(target)
        pid = zygote.spawn(target, [sources["B"][1]], die_at=step,
                           branch="fallback" if branch == "fallback" else "exchange")
        assert zygote.wait(pid) == -signal.SIGKILL, step
        # Before the commit step the save did not happen; from it on, it did.
        if k >= steps.index(commit):
            assert _same(fastsdm.SDM.load(target), sources["B"][0]), step
        elif branch == "first":
            with pytest.raises(ValueError, match="is not a saved fastsdm memory"):
                fastsdm.SDM.load(target)
        else:
            assert _same(fastsdm.SDM.load(target), sources["A"][0]), step
        assert _leftovers(target) == [], step  # the load cleaned up


@posix_only
def test_the_next_save_recovers_an_interrupted_fallback_swap(tmp_path, sources, zygote):
    target = tmp_path / "m"
    sources["A"][0].save(target)
    pid = zygote.spawn(target, [sources["B"][1]], branch="fallback", die_at="moved aside")
    assert zygote.wait(pid) == -signal.SIGKILL
    assert not target.exists()  # between the two renames: nothing at the path
    assert any(n.startswith(".m.fastsdm-old-") for n in _leftovers(target))
    sources["C"][0].save(target, overwrite=True)
    assert _same(fastsdm.SDM.load(target), sources["C"][0])
    assert _leftovers(target) == []


@posix_only
@pytest.mark.slow
def test_random_kills_during_saves(tmp_path, sources, zygote):
    """40 processes, each killed at a random moment of a loop of saves (A, B, A, ...)."""
    rng = random.Random(11)
    seen = set()
    for i in range(40):
        target = tmp_path / f"r{i}" / "m"
        target.parent.mkdir()
        sources["A"][0].save(target)
        pid = zygote.spawn(target, [sources["A"][1], sources["B"][1]],
                           branch="fallback" if i % 2 else "exchange")
        time.sleep(rng.uniform(0.0, 0.08))  # a save takes a few tens of milliseconds
        os.kill(pid, signal.SIGKILL)  # not yet reaped by the zygote: the pid is still its
        assert zygote.wait(pid) == -signal.SIGKILL
        back = fastsdm.SDM.load(target)
        seen.add("A" if _same(back, sources["A"][0]) else "B")
        assert _same(back, sources["A"][0]) or _same(back, sources["B"][0])
        assert _leftovers(target) == []
    assert seen == {"A", "B"}


@posix_only
def test_two_processes_saving_one_path_take_turns(tmp_path, sources, zygote):
    target = tmp_path / "m"
    pids = [zygote.spawn(target, [sources[name][1]], branch="once") for name in "ABCABC"]
    assert [zygote.wait(pid) for pid in pids] == [0] * 6
    back = fastsdm.SDM.load(target)
    assert any(_same(back, sources[name][0]) for name in "ABC")
    assert _leftovers(target) == []


# ---------------------------------------------------------------------------
# What save refuses to replace
# ---------------------------------------------------------------------------


def test_save_refuses_files_links_and_foreign_directories(tmp_path, sources):
    mem = sources["A"][0]
    (tmp_path / "file").write_text("precious")
    with pytest.raises(FileExistsError, match="is a file, not a saved fastsdm memory"):
        mem.save(tmp_path / "file", overwrite=True)
    assert (tmp_path / "file").read_text() == "precious"
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        mem.save(tmp_path / "file")
    real = mem.save(tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(FileExistsError, match="is a symbolic link; save to the directory"):
        mem.save(tmp_path / "link", overwrite=True)
    (real / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"also holds \['notes.txt'\]; refusing"):
        mem.save(real, overwrite=True)
    (real / "notes.txt").unlink()
    # A user's own .npy files, and directories with a memory's file names, are not
    # the memory's: an overwrite must not delete them.
    np.save(real / "my_results.npy", np.arange(5))
    with pytest.raises(FileExistsError, match=r"also holds \['my_results.npy'\]; refusing"):
        mem.save(real, overwrite=True)
    assert np.load(real / "my_results.npy").tolist() == [0, 1, 2, 3, 4]
    (real / "my_results.npy").unlink()
    (real / "values.npy").mkdir()
    with pytest.raises(FileExistsError, match=r"also holds \['values.npy \(not a regular file: "
                                              r"a link or a directory\)'\]; refusing"):
        mem.save(real, overwrite=True)
    (real / "values.npy").rmdir()
    fastsdm.SDM.load(mem.save(real, overwrite=True))  # its own files alone: replaced
    with pytest.raises(ValueError, match="name the directory to create"):
        mem.save(".", overwrite=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    fastsdm.SDM.load(mem.save(empty, overwrite=True))  # an empty directory may be filled
    for cls, thing in ((ContinuousSDM, ContinuousSDM(4, 10, radius=1, seed=0)),):
        with pytest.raises(FileExistsError, match="is a file"):
            thing.save(tmp_path / "file", overwrite=True)
        assert cls.load(thing.save(tmp_path / "cont"))


def test_every_memory_type_replaces_its_own_arrays_and_no_undeclared_one(tmp_path):
    # What an overwrite may delete comes from the memory types' declarations;
    # each type saved over the other replaces the other's arrays...
    memories = [fastsdm.SDM(16, 40, radius=6, seed=0),  # addresses.npy
                fastsdm.SDM(16, 40, activation="hyperplane", selected=3, seed=0),  # masks, values
                ContinuousSDM(4, 10, radius=1, seed=0)]  # accumulators.npy
    target = tmp_path / "m"
    for first in memories:
        for second in memories:
            first.save(target, overwrite=True)
            type(second).load(second.save(target, overwrite=True))
    # ...also in a process that has not imported the other type's module...
    ContinuousSDM(4, 10, radius=1, seed=0).save(target, overwrite=True)
    script = ("import sys, fastsdm; fastsdm.SDM(16, 40, radius=6, seed=0).save(sys.argv[1], "
              "overwrite=True); assert 'fastsdm.continuous' not in sys.modules")
    subprocess.run([sys.executable, "-c", script, str(target)], check=True)
    assert fastsdm.SDM.load(target).n_locations == 40
    # ...and an array no memory type declares is a programming error, caught
    # at the save, not at the next overwrite.
    with pytest.raises(AssertionError, match=r"arrays \['scratch'\] are not declared"):
        _persist.save_directory(tmp_path / "x", {}, {"scratch": np.zeros(3)}, overwrite=False)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("cls", ["SDM", "ContinuousSDM"])
def test_a_memory_mapped_memory_cannot_save_over_its_own_directory(tmp_path, cls):
    mem = (fastsdm.SDM(64, 50, radius=20, seed=0) if cls == "SDM"
           else ContinuousSDM(8, 50, radius=3, seed=0))
    path = mem.save(tmp_path / "m")
    mapped = type(mem).load(path, mmap=True)
    for spelling in (path, tmp_path / "." / "m", os.path.relpath(path)):
        with pytest.raises(ValueError, match="memory-mapped from .*call flush\\(\\)"):
            mapped.save(spelling, overwrite=True)
    mapped.save(tmp_path / "copy")  # elsewhere is fine
    # Copy-on-write and read-only maps do not write the files: they may.
    for mode in ("c", "r"):
        type(mem).load(path, mmap=mode).save(path, overwrite=True)
    type(mem).load(path)


@pytest.mark.parametrize("cls", ["SDM", "ContinuousSDM"])
def test_flush_refuses_a_directory_replaced_since_the_load(tmp_path, cls):
    mem = (fastsdm.SDM(64, 50, radius=20, seed=0) if cls == "SDM"
           else ContinuousSDM(8, 50, radius=3, seed=0))
    path = mem.save(tmp_path / "m")
    mapped = type(mem).load(path, mmap=True)
    mem.save(path, overwrite=True)
    with pytest.raises(ValueError, match="was replaced after this memory was opened"):
        mapped.flush()


# ---------------------------------------------------------------------------
# Memory maps: the checksum record is never weakened
# ---------------------------------------------------------------------------


def _crc(path, name):
    return json.loads((path / "fastsdm.json").read_text())["arrays"][name]["crc32"]


@pytest.mark.parametrize("cls", ["SDM", "ContinuousSDM"])
def test_unflushed_mmap_writes_are_explained_and_can_be_resealed(tmp_path, cls):
    if cls == "SDM":
        mem, name, reseal = fastsdm.SDM(64, 50, radius=20, seed=0), "counters", "fastsdm.SDM"

        def data(m):
            return m.counters
    else:
        mem, name = ContinuousSDM(8, 50, radius=3, seed=0), "accumulators"
        reseal = "fastsdm.ContinuousSDM"

        def data(m):
            return m.accumulators
    path = mem.save(tmp_path / "m")
    crc = _crc(path, name)
    mapped = type(mem).load(path, mmap=True)
    assert _crc(path, name) == crc  # opening does not clear the checksum
    meta = json.loads((path / "fastsdm.json").read_text())
    assert meta["open_for_writing"]["pid"] == os.getpid()
    assert meta["open_for_writing"]["flushed"] is None
    key = mem.addresses[0] if cls == "SDM" else np.ones(8)
    mapped.write(key)
    data(mapped).flush()  # the bytes reach the file, the checksum does not change
    with pytest.raises(ValueError, match=r"fails its checksum, and fastsdm.json records that "
                                         r"the memory was opened for writing with mmap=True "
                                         rf"\(process {os.getpid()} .*last flush\(\): never\)"
                                         r".*verify=False.*"
                                         rf"{reseal}.load\(path, mmap=True, verify=False\)"
                                         r".flush\(\)"):
        type(mem).load(path)
    as_is = type(mem).load(path, verify=False)
    assert np.array_equal(data(as_is), data(mapped))
    written = np.array(data(mapped))
    del mapped  # as if its process had ended without a flush
    gc.collect()
    type(mem).load(path, mmap=True, verify=False).flush()  # the documented re-seal
    assert np.array_equal(data(type(mem).load(path)), written)
    flushed = json.loads((path / "fastsdm.json").read_text())["open_for_writing"]["flushed"]
    assert flushed is not None
    # After a flush the record stays: damage is still explained with both causes.
    gc.collect()
    mapped = type(mem).load(path, mmap=True)
    mapped.write(key)
    mapped.flush()
    assert np.array_equal(data(type(mem).load(path)), data(mapped))


def test_a_plain_checksum_failure_says_corrupt(tmp_path, sources):
    path = sources["A"][0].save(tmp_path / "m")
    raw = bytearray((path / "counters.npy").read_bytes())
    raw[-3] ^= 1
    (path / "counters.npy").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="fails its checksum: the data is corrupt; restore"):
        fastsdm.SDM.load(path)
    assert fastsdm.SDM.load(path, verify=False).counters.shape == (300, 64)
    # "no" is truthy: a load that read it as True would refuse the file, one that
    # read it as False would skip the check the caller may have meant
    with pytest.raises(TypeError, match="verify must be True, False or None .* got 'no'"):
        fastsdm.SDM.load(path, verify="no")


@pytest.mark.parametrize("mmap", [True, "r", "c", False])
def test_a_short_file_is_refused_before_it_is_mapped(tmp_path, sources, mmap):
    path = sources["A"][0].save(tmp_path / "m")
    counters = path / "counters.npy"
    short = counters.read_bytes()[:-100]
    counters.write_bytes(short)
    meta_before = (path / "fastsdm.json").read_text()
    with pytest.raises(ValueError, match=r"counters.npy is \d+ bytes long but its header "
                                         r"promises 128 \+ 38400.*truncated or corrupt"):
        fastsdm.SDM.load(path, mmap=mmap)
    assert counters.read_bytes() == short  # not zero-extended on disk
    assert (path / "fastsdm.json").read_text() == meta_before  # checksum record intact
    with pytest.raises(ValueError, match="header promises"):
        fastsdm.SDM.load(path)


def test_a_mapped_empty_memory_round_trips(tmp_path):
    path = fastsdm.SDM(10, 0, radius=5, seed=0).save(tmp_path / "e")
    mapped = fastsdm.SDM.load(path, mmap=True)
    mapped.write(np.zeros(10, np.uint8))
    mapped.flush()
    assert fastsdm.SDM.load(path).counters.shape == (0, 10)


# ---------------------------------------------------------------------------
# Memories saved by fastsdm 0.1 (format version 1) still load
# ---------------------------------------------------------------------------


def _write_version_1(path, mem: fastsdm.SDM, *, crc_counters=True) -> None:
    """A directory exactly as fastsdm 0.1.0 wrote it (np.save + json, indent=1)."""
    import zlib

    path.mkdir()
    meta = {"format": "fastsdm.SDM", "format_version": 1, "n_bits": mem.n_bits,
            "n_locations": mem.n_locations, "n_data_bits": mem.n_data_bits,
            "radius": mem.radius, "k_nearest": mem.k_nearest,
            "counter_dtype": str(mem.counter_dtype), "ties": mem.ties, "seed": mem.seed,
            "tie_rng_state": mem._tie_rng.bit_generator.state, "arrays": {}}
    for name in ("addresses", "counters"):
        array = getattr(mem, name)
        np.save(path / f"{name}.npy", array, allow_pickle=False)
        meta["arrays"][name] = {"dtype": str(array.dtype), "shape": list(array.shape),
                                "crc32": zlib.crc32(array.tobytes())}
    if not crc_counters:  # opened with mmap=True by 0.1.0, which cleared the checksum
        meta["arrays"]["counters"]["crc32"] = None
    (path / "fastsdm.json").write_text(json.dumps(meta, indent=1))


@pytest.mark.parametrize("crc_counters", [True, False])
def test_version_1_directories_load(tmp_path, crc_counters):
    for i, mem in enumerate((_memory(5), _memory(6, k_nearest=7, radius=None, n_data_bits=40,
                                                 counter_dtype="int8", ties="zero"))):
        path = tmp_path / f"v1-{i}"
        _write_version_1(path, mem, crc_counters=crc_counters)
        back = fastsdm.SDM.load(path)
        assert _same(back, mem)
        mapped = fastsdm.SDM.load(path, mmap=True)
        mapped.write(mem.addresses[:3], None if mem.n_data_bits == 64
                     else fastsdm.random_addresses(3, 40, seed=0))
        mapped.flush()
        assert np.array_equal(fastsdm.SDM.load(path).counters, mapped.counters)
    cont = ContinuousSDM(8, 30, threshold=0.25, seed=2)
    cont.write(np.ones(8))
    path = tmp_path / "v1-continuous"
    path.mkdir()
    import zlib

    meta = {"format": "fastsdm.ContinuousSDM", "format_version": 1, "dim": 8, "n_locations": 30,
            "value_dim": 8, "radius": None, "threshold": 0.25, "k_nearest": None,
            "dtype": "float32", "seed": 2, "arrays": {}}
    for name in ("addresses", "accumulators"):
        array = getattr(cont, name)
        np.save(path / f"{name}.npy", array)
        meta["arrays"][name] = {"dtype": str(array.dtype), "shape": list(array.shape),
                                "crc32": zlib.crc32(array.tobytes())}
    (path / "fastsdm.json").write_text(json.dumps(meta, indent=1))
    back = ContinuousSDM.load(path)
    assert repr(back) == repr(cont) and np.array_equal(back.accumulators, cont.accumulators)


# ---------------------------------------------------------------------------
# Files are untrusted input: each problem, one ValueError naming the file
# ---------------------------------------------------------------------------


def _raw_npy(f, header: str) -> None:
    # A format 2.0 file with this header text (padded, newline-terminated), no data.
    text = header.encode("latin-1")
    text += b" " * (-(len(text) + 13) % 64) + b"\n"
    f.write(b"\x93NUMPY\x02\x00" + len(text).to_bytes(4, "little") + text)


@pytest.mark.parametrize(("writer", "match"), [
    (lambda f: np.savez(f, counters=np.zeros((300, 64), np.int16)),
     "counters.npy is a zip archive .*np.savez"),
    (lambda f: np.save(f, np.asfortranarray(np.zeros((300, 64), np.int16))),
     "counters.npy holds a Fortran-ordered array"),
    (lambda f: np.save(f, np.array([{}], dtype=object), allow_pickle=True),
     "counters.npy holds Python objects .*never unpickles"),
    (lambda f: np.save(f, np.zeros((300, 64), np.int32)),
     "counters.npy holds an array of shape \\(300, 64\\) and dtype <i4, but fastsdm.json "
     "says \\(300, 64\\) int16; the memory is corrupt"),
    (lambda f: np.save(f, np.zeros((300, 64), ">i2")), "dtype >i2, but"),
    (lambda f: np.save(f, np.zeros((64, 300), np.int16)), "shape \\(64, 300\\)"),
    (lambda f: f.write(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<i2', 'fortran"),
     "counters.npy has a damaged .npy header"),
    (lambda f: f.write(b"\x93NUMPY\x03\x00" + b"\x00" * 100),
     "counters.npy has a damaged .npy header"),
    (lambda f: f.write(b""), "counters.npy has a damaged .npy header"),
    # Hostile headers: a dimension of 5,000 digits, a deprecated dtype code, O8.
    (lambda f: _raw_npy(f, "{'descr': '<i2', 'fortran_order': False, 'shape': (" + "9" * 5000
                        + ", 64), }"), "counters.npy has a damaged .npy header"),
    (lambda f: _raw_npy(f, "{'descr': '|a8', 'fortran_order': False, 'shape': (300, 64), }"),
     "counters.npy has a damaged .npy header"),
    (lambda f: _raw_npy(f, "{'descr': '|O8', 'fortran_order': False, 'shape': (300, 64), }"),
     "counters.npy holds Python objects"),
])
def test_bad_npy_files(tmp_path, sources, writer, match):
    path = sources["A"][0].save(tmp_path / "m")
    file = path / "counters.npy"
    file.unlink()
    with open(file, "wb") as f:
        writer(f)
    for mmap in (False, True):
        with pytest.raises(ValueError, match=match):
            fastsdm.SDM.load(path, mmap=mmap)


def test_npy_headers_are_parsed_without_ast(tmp_path, sources, monkeypatch):
    # numpy's header reader runs ast.literal_eval, which can raise SystemError
    # spuriously while other threads run Python code: a good file was then
    # reported as damaged.  fastsdm parses its headers itself.
    import ast

    path = sources["A"][0].save(tmp_path / "m")

    def broken(*args, **kwargs):
        raise SystemError("AST constructor recursion depth mismatch")

    monkeypatch.setattr(ast, "literal_eval", broken)
    back = fastsdm.SDM.load(path)
    assert np.array_equal(back.counters, sources["A"][0].counters)
    assert ContinuousSDM.load(ContinuousSDM(4, 10, radius=1, seed=0).save(tmp_path / "c"))
    # Format 2.0 headers (numpy writes them for long headers) are read too.
    with open(path / "counters.npy", "wb") as f:
        np.lib.format.write_array(f, back.counters, version=(2, 0))
    assert np.array_equal(fastsdm.SDM.load(path).counters, back.counters)


def test_a_file_longer_than_its_header_promises(tmp_path, sources):
    path = sources["A"][0].save(tmp_path / "m")
    with open(path / "addresses.npy", "ab") as f:
        f.write(b"\x00" * 8)
    with pytest.raises(ValueError, match="addresses.npy is 2536 bytes long but its header "
                                         "promises 128 \\+ 2400"):
        fastsdm.SDM.load(path)


def test_pad_bits_of_saved_addresses_are_checked(tmp_path):
    mem = fastsdm.SDM(60, 20, radius=20, seed=0)
    path = mem.save(tmp_path / "m")
    addresses = mem.addresses.copy()
    addresses[3, 0] |= np.uint64(1 << 56)  # vector bit 63: the low bit of the last byte
    np.save(path / "addresses.npy", addresses)
    with pytest.raises(ValueError, match="addresses.npy holds addresses with non-zero pad bits "
                                         "beyond bit 60"):
        fastsdm.SDM.load(path, verify=False)


def test_continuous_addresses_must_be_unit_vectors(tmp_path):
    mem = ContinuousSDM(8, 20, radius=3, seed=0)
    path = mem.save(tmp_path / "m")
    for bad in (2.0, np.nan):
        addresses = mem.addresses.copy()
        addresses[4] *= bad
        np.save(path / "addresses.npy", addresses)
        with pytest.raises(ValueError, match="holds address 4 with squared norm .*unit vectors"):
            ContinuousSDM.load(path, verify=False)


SDM_FIELD_CASES = [
    ({"n_bits": True}, "n_bits must be an integer, got bool True"),
    ({"n_bits": 64.0}, "n_bits must be an integer, got float 64.0"),
    ({"n_bits": "64"}, "n_bits must be an integer, got str '64'"),
    ({"n_bits": 0}, r"n_bits must be in \[1, inf\], got 0"),
    ({"n_bits": 10**30}, "describes addresses as .*inconsistent with its parameters"),
    ({"n_locations": -1}, r"n_locations must be in \[0, inf\]"),
    ({"n_locations": 301}, "inconsistent with its parameters"),
    ({"n_data_bits": 65}, "describes counters as \\[300, 64\\] int16, inconsistent .*\\[300, "
                          "65\\]"),
    ({"n_data_bits": None}, "n_data_bits must be an integer, got null"),
    ({"radius": -5}, r"radius must be in \[0, 64\], got -5"),
    ({"radius": 1000}, r"radius must be in \[0, 64\], got 1000"),
    ({"radius": 24.5}, "radius must be an integer or null, got float"),
    ({"radius": None}, "exactly one of radius and k_nearest must be set"),
    ({"k_nearest": 301, "radius": None}, r"k_nearest must be in \[1, 300\]"),
    ({"k_nearest": 3}, "exactly one of radius and k_nearest"),
    ({"ties": "aero"}, "ties must be one of 'random', 'zero', 'one', 'keep', got 'aero'"),
    ({"ties": 1}, "ties must be a string"),
    ({"counter_dtype": "int64"}, "counter_dtype must be one of int8, int16, int32, got 'int64'"),
    ({"counter_dtype": "<i2"}, "counter_dtype must be one of"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"seed": 1.5}, "seed must be a non-negative integer"),
    ({"seed": []}, "seed must be a non-negative integer"),
    ({"tie_rng_state": {"bit_generator": "MT19937"}}, "tie_rng_state must be the state of a "
                                                      "PCG64"),
    ({"tie_rng_state": None}, "tie_rng_state must be"),
    ({"arrays": []}, "arrays must describe"),
    ({"arrays": {"addresses": {}, "counters": {}}}, "arrays.addresses must be"),
    ({"open_for_writing": {"pid": "x"}}, "open_for_writing must be"),
]


@pytest.mark.parametrize(("changes", "match"), SDM_FIELD_CASES)
def test_every_sdm_field_is_checked(tmp_path, sources, changes, match):
    path = sources["A"][0].save(tmp_path / "m")
    _flip_json(path, **changes)
    with pytest.raises(ValueError, match=match) as info:
        fastsdm.SDM.load(path)
    assert str(path / "fastsdm.json") in str(info.value)


def test_sdm_keep_ties_need_an_autoassociative_memory(tmp_path):
    path = fastsdm.SDM(64, 30, radius=20, n_data_bits=32, seed=0).save(tmp_path / "m")
    _flip_json(path, ties="keep")
    with pytest.raises(ValueError, match="ties='keep' keeps the query's bit"):
        fastsdm.SDM.load(path)


@pytest.mark.parametrize(("text", "match"), [
    ("{}", "does not describe a fastsdm.SDM memory"),
    ('{"format": "fastsdm.SDM", "format_version": true}', "format_version True"),
    ('{"format": "fastsdm.SDM", "format_version": 1.0}', "format_version 1.0"),
    ('{"format": "fastsdm.SDM", "format_version": 1, "format": "x"}', "duplicate keys"),
    ('{"radius": NaN}', "NaN is not a number JSON allows"),
    ('{"radius": ' + "9" * 5000 + "}", "not valid JSON"),
    ("[" * 100_000, "not valid JSON"),
    ("\xff\xfe", "not valid JSON"),
])
def test_malformed_json_is_one_value_error(tmp_path, sources, text, match):
    path = sources["A"][0].save(tmp_path / "m")
    (path / "fastsdm.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=match):
        fastsdm.SDM.load(path)


def test_unknown_fields_and_oversized_json_are_refused(tmp_path, sources):
    path = sources["A"][0].save(tmp_path / "m")
    _flip_json(path, radiua=3)
    with pytest.raises(ValueError, match=r"unknown fields \['radiua'\]"):
        fastsdm.SDM.load(path)
    (path / "fastsdm.json").write_text(" " * (3 << 20))
    with pytest.raises(ValueError, match="larger than 2097152 bytes"):
        fastsdm.SDM.load(path)


CONTINUOUS_FIELD_CASES = [
    ({"dim": True}, "dim must be an integer, got bool"),
    ({"radius": float("inf")}, "not a number JSON allows"),
    ({"radius": "3"}, "radius must be a number or null"),
    ({"radius": 9}, r"radius must be a finite number in \[0, 8\]"),
    ({"threshold": 0.5}, "threshold 0.5 is inconsistent with radius 3"),
    ({"dtype": "float16"}, "dtype must be one of float32, float64"),
    ({"value_dim": 0}, r"value_dim must be in \[1, inf\]"),
    ({"k_nearest": 2}, "exactly one of radius, threshold and k_nearest"),
]


@pytest.mark.parametrize(("changes", "match"), CONTINUOUS_FIELD_CASES)
def test_every_continuous_field_is_checked(tmp_path, changes, match):
    path = ContinuousSDM(8, 20, radius=3, seed=0).save(tmp_path / "m")
    file = path / "fastsdm.json"
    meta = json.loads(file.read_text())
    meta.update(changes)
    file.write_text(json.dumps(meta))  # json.dumps writes inf as Infinity
    with pytest.raises(ValueError, match=match):
        ContinuousSDM.load(path)


# ---------------------------------------------------------------------------
# Tamper sweeps: every one-character edit loads as a valid memory or is one
# clear ValueError
# ---------------------------------------------------------------------------


def _exercise_sdm(back: fastsdm.SDM) -> None:
    """A loaded memory behaves exactly as the same memory built by the constructor."""
    ref = fastsdm.SDM(back.n_bits, radius=back.radius, k_nearest=back.k_nearest,
                      n_data_bits=back.n_data_bits, counter_dtype=back.counter_dtype,
                      ties=back.ties, seed=back.seed, addresses=back.addresses)
    ref.counters[...] = back.counters
    ref._tie_rng.bit_generator.state = back._tie_rng.bit_generator.state
    keys = fastsdm.random_addresses(2, back.n_bits, seed=0)
    data = fastsdm.random_addresses(2, back.n_data_bits, seed=1)
    for mem in (back, ref):
        mem.write(keys, data)
    assert np.array_equal(back.read(keys), ref.read(keys))
    assert np.array_equal(back.counters, ref.counters)


def _exercise_continuous(back: ContinuousSDM) -> None:
    ref = ContinuousSDM(back.dim, radius=back.radius,
                        threshold=None if back.radius is not None else back.threshold,
                        k_nearest=back.k_nearest, value_dim=back.value_dim, dtype=back.dtype,
                        seed=back.seed, addresses=back.addresses)
    ref.accumulators[...] = back.accumulators
    keys = np.random.default_rng(0).standard_normal((2, back.dim))
    values = np.random.default_rng(1).standard_normal((2, back.value_dim))
    for mem in (back, ref):
        mem.write(keys, values)
    assert np.array_equal(back.read(keys), ref.read(keys))


def _sweep(path, file, load, exercise, edits) -> tuple[int, int]:
    """Apply each edit to ``file``; return (loads, refusals)."""
    original = file.read_bytes()
    loads = refusals = 0
    try:
        for position, replacement in edits(original):
            file.write_bytes(original[:position] + replacement + original[position + 1:])
            try:
                back = load(path)
            except ValueError as exc:
                assert str(path) in str(exc), (position, replacement, exc)
                refusals += 1
                continue
            exercise(back)
            loads += 1
    finally:
        file.write_bytes(original)
    return loads, refusals


JSON_EDITS = (b"", b"0", b"9", b"-", b'"', b" ", b"x")


def _json_edits(original: bytes):
    for position in range(len(original)):
        for replacement in JSON_EDITS:
            if replacement != original[position:position + 1]:
                yield position, replacement


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["radius", "k_nearest", "continuous"])
def test_one_character_edits_of_the_description(tmp_path, kind):
    if kind == "continuous":
        mem = ContinuousSDM(6, 12, radius=2, value_dim=4, seed=0)
        mem.write(np.ones((2, 6)), np.ones((2, 4)))
        load, exercise = ContinuousSDM.load, _exercise_continuous
    else:
        activation = {"radius": 20} if kind == "radius" else {"k_nearest": 9}
        mem = fastsdm.SDM(64, 12, n_data_bits=60, counter_dtype="int8", seed=0, **activation)
        mem.write(mem.addresses[:3], fastsdm.random_addresses(3, 60, seed=1))
        load, exercise = fastsdm.SDM.load, _exercise_sdm
    path = mem.save(tmp_path / "m")
    loads, refusals = _sweep(path, path / "fastsdm.json", load, exercise, _json_edits)
    assert loads > 50 and refusals > 1000, (loads, refusals)


def _header_edits(original: bytes):
    header = 10 + int.from_bytes(original[8:10], "little")
    for position in range(header):
        for replacement in (b"", b"1", b" ", b"\x00", b"'"):
            if replacement != original[position:position + 1]:
                yield position, replacement


@pytest.mark.slow
@pytest.mark.parametrize("mmap", [False, "c"])
def test_one_byte_edits_of_the_npy_headers(tmp_path, mmap):
    sdm = fastsdm.SDM(64, 12, radius=20, counter_dtype="int8", seed=0)
    cont = ContinuousSDM(6, 12, radius=2, seed=0)
    for mem, exercise, names in ((sdm, _exercise_sdm, ("addresses", "counters")),
                                 (cont, _exercise_continuous, ("addresses", "accumulators"))):
        path = mem.save(tmp_path / type(mem).__name__)
        for name in names:
            loads, refusals = _sweep(path, path / f"{name}.npy",
                                     functools.partial(type(mem).load, mmap=mmap),
                                     exercise, _header_edits)
            # The header is matched whole by a strict pattern: no edit of it
            # loads (numpy's own reader let a few harmless ones through).
            assert loads == 0 and refusals > 200, (name, loads, refusals)
