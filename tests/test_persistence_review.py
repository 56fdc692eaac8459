"""Saved memories against the second adversarial review (2026-12-06).

Each test fails without the change it names: files that are not regular
files, memory maps that skipped every checksum or shared a file, loads that
failed while a save replaced the memory, sharded manifests naming
directories outside the checkpoint, and maps for writing whose arrays were
replaced or changed outside the map.
"""

from __future__ import annotations

import copy
import gc
import json
import os
import pickle
import re
import threading

import numpy as np
import pytest

import fastsdm
from fastsdm import _persist
from fastsdm.continuous import ContinuousSDM

MAKERS = {"SDM": lambda seed=0: fastsdm.SDM(64, 50, radius=20, seed=seed),
          "ContinuousSDM": lambda seed=0: ContinuousSDM(8, 50, radius=3, seed=seed)}
DATA = {"SDM": "counters", "ContinuousSDM": "accumulators"}


@pytest.fixture(params=sorted(MAKERS))
def kind(request):
    return request.param


def _saved(tmp_path, kind, name="m", seed=0, write=True):
    mem = MAKERS[kind](seed)
    if write:
        mem.write(mem.addresses[:3])
    return mem, mem.save(tmp_path / name)


def _load_within(load, seconds=20):
    """Run ``load()`` in a thread; its error, or a failure if it hangs."""
    outcome = {}

    def run():
        try:
            outcome["value"] = load()
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the load hangs"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
@pytest.mark.parametrize("name", ["fastsdm.json", "addresses.npy", "DATA.npy"])
@pytest.mark.parametrize("via_link", [False, True])
def test_a_fifo_in_place_of_a_file_is_refused_not_waited_on(tmp_path, kind, name, via_link):
    mem, path = _saved(tmp_path, kind)
    name = name.replace("DATA", DATA[kind])
    (path / name).unlink()
    if via_link:
        os.mkfifo(tmp_path / "fifo")
        os.symlink(tmp_path / "fifo", path / name)
    else:
        os.mkfifo(path / name)
    for mmap in (False, "r"):
        with pytest.raises(ValueError, match=f"{name} is not a regular file"):
            _load_within(lambda mmap=mmap: type(mem).load(path, mmap=mmap))


@pytest.mark.parametrize("name", ["fastsdm.json", "DATA.npy"])
@pytest.mark.parametrize("what", ["link loop", "socket"])
def test_a_link_loop_or_a_socket_in_place_of_a_file_is_refused(tmp_path, kind, name, what):
    import socket

    mem, path = _saved(tmp_path, kind)
    name = name.replace("DATA", DATA[kind])
    (path / name).unlink()
    if what == "link loop":
        os.symlink(name, path / name)
    else:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path / name))  # the socket file stays after the close
    for mmap in (False, "r", True):
        # (a map for writing refuses every symbolic link to its data, loop or not)
        with pytest.raises(ValueError, match=f"{re.escape(str(path / name))} is (not a regular "
                                             "file|a symbolic link)"):
            type(mem).load(path, mmap=mmap)


def test_memory_mapped_loads_check_the_arrays_they_read(tmp_path, kind):
    # Addresses swapped in from another memory (same parameters, other seed):
    # every mode reads them into RAM, and every mode now checks them.
    mem, path = _saved(tmp_path, kind)
    other, other_path = _saved(tmp_path, kind, "other", seed=1)
    os.replace(other_path / "addresses.npy", path / "addresses.npy")
    for mmap in (False, True, "r", "c"):
        with pytest.raises(ValueError, match="addresses.npy fails its checksum"):
            type(mem).load(path, mmap=mmap)
    type(mem).load(path, mmap="r", verify=False)  # on request, as documented


def test_a_map_for_writing_checks_the_data_before_flush_could_seal_it(tmp_path, kind):
    mem, path = _saved(tmp_path, kind)
    data = path / f"{DATA[kind]}.npy"
    raw = bytearray(data.read_bytes())
    raw[-3] ^= 0x10
    data.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"{DATA[kind]}.npy fails its checksum"):
        type(mem).load(path, mmap=True)
    # Read-only and copy-on-write maps skip the data's checksum (documented):
    # they cannot seal anything.
    assert type(mem).load(path, mmap="r") is not None
    with pytest.raises(ValueError, match="fails its checksum"):
        type(mem).load(path)  # still refused: nothing sealed the damage


def test_a_hard_linked_data_file_is_not_written_through(tmp_path, kind):
    mem, path = _saved(tmp_path, kind)
    backup = tmp_path / "backup"
    backup.mkdir()
    for f in path.iterdir():
        os.link(f, backup / f.name)  # what `cp -al` and rsync --link-dest make
    with pytest.raises(ValueError, match="hard links .*cp -al.*mmap='c'"):
        type(mem).load(path, mmap=True)
    mapped = type(mem).load(path, mmap="c")  # copy-on-write leaves the file alone
    mapped.write(mapped.addresses[:2])
    before = np.array(getattr(type(mem).load(backup), DATA[kind]))
    assert np.array_equal(before, getattr(mem, DATA[kind]))


def test_one_object_at_a_time_maps_a_memory_for_writing(tmp_path, kind):
    mem, path = _saved(tmp_path, kind)
    first = type(mem).load(path, mmap=True)
    with pytest.raises(ValueError, match=rf"already open for writing with mmap=True by another "
                                         rf"memory object \(process {os.getpid()} "):
        type(mem).load(path, mmap=True)
    for mmap in (False, "r", "c"):  # readers are not kept out
        type(mem).load(path, mmap=mmap, verify=False)
    first.write(first.addresses[:1])
    first.flush()
    del first
    gc.collect()
    second = type(mem).load(path, mmap=True)  # the first object is gone
    second.write(second.addresses[:1])
    second.flush()
    assert np.array_equal(getattr(type(mem).load(path), DATA[kind]),
                          getattr(second, DATA[kind]))


def test_a_map_whose_data_array_was_replaced_refuses_to_write_or_flush(tmp_path, kind):
    # A new array assigned after load(mmap=True) would take the writes meant
    # for the file, and flush() would record its checksum beside the file's
    # older bytes: the directory would no longer load.
    mem, path = _saved(tmp_path, kind)
    name = DATA[kind]
    mapped = type(mem).load(path, mmap=True)
    on_disk = np.array(getattr(mapped, name))
    setattr(mapped, name, np.zeros_like(on_disk))
    refused = (rf"{name} are no longer the array mapped from .*mmap=True.*"
               rf"mem\.{name}\[\.\.\.\] = values")
    with pytest.raises(ValueError, match=refused):
        mapped.write(mapped.addresses[:1])
    with pytest.raises(ValueError, match=refused):
        mapped.clear()
    with pytest.raises(ValueError, match=refused):
        mapped.flush()
    assert np.array_equal(getattr(type(mem).load(path, mmap="r"), name), on_disk)
    # A full view of the map is the map: it writes and flushes.
    del mapped
    gc.collect()
    mapped = type(mem).load(path, mmap=True)
    setattr(mapped, name, getattr(mapped, name)[...])
    mapped.write(mapped.addresses[:2])
    mapped.flush()
    back = type(mem).load(path)  # verified
    assert np.array_equal(getattr(back, name), getattr(mapped, name))
    assert not np.array_equal(getattr(back, name), on_disk)


def test_a_map_for_writing_shows_read_only_addresses(tmp_path, kind):
    mem, path = _saved(tmp_path, kind)
    mapped = type(mem).load(path, mmap=True)
    old = np.array(mapped.addresses)
    with pytest.raises(ValueError, match="read-only"):
        mapped.addresses[0] = mapped.addresses[1]
    with pytest.raises(ValueError, match="loaded with mmap=True.*flush\\(\\) writes only"):
        mapped.addresses = old[::-1].copy()
    mapped.write(old[:2])
    mapped.flush()
    back = type(mem).load(path)
    assert np.array_equal(back.addresses, old)
    assert np.array_equal(getattr(back, DATA[kind]), getattr(mapped, DATA[kind]))
    # A copy is in RAM, not tied to the files: it takes new addresses.
    for copied in (pickle.loads(pickle.dumps(mapped)), copy.deepcopy(mapped)):
        copied.addresses = old[::-1].copy()
        assert np.array_equal(copied.addresses, old[::-1])
    # Nothing of theirs is flushed: these take new addresses (never in place:
    # they are checked as they are assigned), and save() writes them.
    for mmap in (False, "r", "c"):
        other = type(mem).load(path, mmap=mmap, verify=False)
        assert not other.addresses.flags.writeable
        other.addresses = old[::-1].copy()
        other.save(tmp_path / f"n{mmap}")
        assert np.array_equal(type(mem).load(tmp_path / f"n{mmap}").addresses, old[::-1])


def test_a_map_refuses_parameters_and_designs_that_flush_would_not_record(tmp_path, kind):
    mem, path = _saved(tmp_path, kind)
    mapped = type(mem).load(path, mmap=True)
    name = "radius"
    old = mapped.radius
    mapped.radius = old + 1
    refused = (rf"parameters changed since load\(mmap=True\) from .*\({name} from {old} "
               rf"to {old + 1}.*\): flush\(\) records only")
    with pytest.raises(ValueError, match=refused):
        mapped.write(mapped.addresses[:1])
    with pytest.raises(ValueError, match=refused):
        mapped.flush()
    mapped.radius = old  # set back: both work again
    mapped.write(mapped.addresses[:1])
    mapped.flush()
    assert np.array_equal(getattr(type(mem).load(path), DATA[kind]), getattr(mapped, DATA[kind]))
    if kind == "SDM":  # a whole new hyperplane design is refused as its arrays are
        del mapped
        gc.collect()
        hyper = fastsdm.SDM(64, 50, activation="hyperplane", selected=3, seed=0)
        mapped = fastsdm.SDM.load(hyper.save(tmp_path / "h"), mmap=True)
        other = fastsdm.SDM(64, 50, activation="hyperplane", selected=3, seed=1).design
        with pytest.raises(ValueError, match="mmap=True.*a new design would be lost"):
            mapped.design = other
        assert np.array_equal(mapped.design.masks, hyper.design.masks)


def test_a_flush_after_chdir_finds_its_directory(tmp_path, kind, monkeypatch):
    monkeypatch.chdir(tmp_path)
    MAKERS[kind]().save("m")  # a relative path
    mapped = type(MAKERS[kind]()).load("m", mmap=True)
    mapped.write(mapped.addresses[:2])
    monkeypatch.chdir("/")
    mapped.flush()
    assert np.array_equal(getattr(type(mapped).load(tmp_path / "m"), DATA[kind]),
                          getattr(mapped, DATA[kind]))


def test_save_refuses_what_load_would_refuse(tmp_path):
    # Arrays replaced or edited after construction are checked as load()
    # checks them: a save must not put a memory that does not load over a
    # good one.
    hyper = fastsdm.SDM(64, 50, activation="hyperplane", selected=3, seed=0)
    path = hyper.save(tmp_path / "h")
    masks = hyper.design.masks.copy()
    masks[0] = np.uint64(0xFF)  # eight coordinates, not three
    hyper.design.masks = masks
    with pytest.raises(ValueError, match="SDM.design.masks has location 0 selecting 8 "):
        hyper.save(path, overwrite=True)
    assert fastsdm.SDM.load(path).design.masks[0] != np.uint64(0xFF)
    cont = ContinuousSDM(8, 50, radius=3, seed=0)
    with pytest.raises(ValueError, match="ContinuousSDM.addresses must be finite unit vectors; "
                                         "row 0 has squared norm 4.0"):
        cont.addresses = np.asarray(cont.addresses) * np.float32(2)
    with pytest.raises(ValueError, match="unit vectors; row 0 has squared norm nan"):
        cont.addresses = np.full((50, 8), np.nan, np.float32)


def test_clear_of_a_read_only_memory_says_so(tmp_path, kind):
    mem, path = _saved(tmp_path, kind)
    ro = type(mem).load(path, mmap="r")
    with pytest.raises(ValueError, match=r"are read-only \(loaded with mmap='r'\); load it "
                                         r"with mmap=True to write to its files or mmap='c'"):
        ro.clear()


def test_a_load_while_a_save_replaces_the_memory_loads_one_of_them(tmp_path, kind,
                                                                   monkeypatch):
    # The save swaps the new memory in and removes the old directory while
    # the load has read fastsdm.json from it: the load starts again.
    mem, path = _saved(tmp_path, kind)
    newer = MAKERS[kind](seed=5)
    newer.write(newer.addresses[:7])
    real = _persist.load_array
    saved = []

    def load_array(directory, name, *args, **kwargs):
        if not saved:
            saved.append(newer.save(path, overwrite=True))
        return real(directory, name, *args, **kwargs)

    monkeypatch.setattr(_persist, "load_array", load_array)
    back = type(mem).load(path)
    assert back.seed == 5
    assert np.array_equal(getattr(back, DATA[kind]), getattr(newer, DATA[kind]))
    assert np.array_equal(back.addresses, newer.addresses)


def test_a_load_that_cannot_fit_in_ram_says_to_map_it(tmp_path, kind, monkeypatch):
    import fastsdm.continuous
    import fastsdm.memory

    mem, path = _saved(tmp_path, kind)
    wide = ContinuousSDM(8, 50, radius=3, value_dim=32, seed=0)
    wide_path = wide.save(tmp_path / "wide")
    module = fastsdm.memory if kind == "SDM" else fastsdm.continuous
    monkeypatch.setattr(module, "_available_memory", lambda: 100)
    from fastsdm._machine import format_bytes

    held = re.escape(format_bytes(mem.addresses.nbytes))
    with pytest.raises(MemoryError, match=rf"addresses.npy holds {held}, more than the 100 "
                                          r"bytes of memory available; this array is always "
                                          r"read into RAM \(mmap= maps only the counters or "
                                          r"accumulators\)"):
        type(mem).load(path, mmap=True)  # mmap would not help: addresses are read
    if kind == "ContinuousSDM":  # data larger than the addresses
        mem, path = wide, wide_path
    data = getattr(mem, DATA[kind])
    monkeypatch.setattr(module, "_available_memory", lambda: mem.addresses.nbytes)
    with pytest.raises(MemoryError, match=rf"{DATA[kind]}.npy holds "
                                          rf"{re.escape(format_bytes(data.nbytes))}, more than "
                                          r".* available; load the memory with mmap=True"):
        type(mem).load(path)
    assert type(mem).load(path, mmap="r") is not None


def test_a_manifest_cannot_name_a_directory_outside_the_checkpoint(tmp_path):
    from fastsdm.distributed import _checkpoint

    params = fastsdm.SDM(64, 10, radius=20, seed=0)._params().to_metadata()
    state = np.random.default_rng(0).bit_generator.state
    for bad in ("shard-00000-aaaaaaaaaaaa.x/../../elsewhere/s1", "shard-00000-aaaaaaaaaaaa/..",
                ".shard-00000-aaaaaaaaaaaa", "shard-00000-aaaaaaaaaaaa.fastsdm-new-0"):
        manifest = {"format": _checkpoint.FORMAT_NAME, "format_version": 1, **params,
                    "tie_rng_state": state, "shards": [{"start": 0, "stop": 10, "dir": bad}]}
        (tmp_path / _checkpoint.MANIFEST_FILE).write_bytes(
            _persist.encode_description(manifest))  # re-sealed: only the name is wrong
        with pytest.raises(ValueError, match="names a shard directory .* that fastsdm does not "
                                             "write"):
            _checkpoint.read_manifest(str(tmp_path))
    manifest["shards"][0]["dir"] = "shard-00000-aaaaaaaaaaaa"
    (tmp_path / _checkpoint.MANIFEST_FILE).write_bytes(_persist.encode_description(manifest))
    assert _checkpoint.read_manifest(str(tmp_path))["shards"][0]["dir"] == manifest["shards"][0][
        "dir"]
    json.loads((tmp_path / _checkpoint.MANIFEST_FILE).read_text())


@pytest.mark.parametrize("length", [200, 218, 255])
def test_the_longest_directory_names_save_and_load(tmp_path, kind, length):
    # Siblings add 38 characters: names above 217 used to fail with an error
    # about the hidden sibling (and the path lock silently did nothing).
    mem, _ = _saved(tmp_path, kind, write=False)
    path = tmp_path / ("é" * 10 + "m" * (length - 20))  # 255 bytes at most
    assert len(os.fsencode(path.name)) == length
    mem.save(path)
    mem.write(mem.addresses[:2])
    mem.save(path, overwrite=True)
    back = type(mem).load(path)
    assert np.array_equal(getattr(back, DATA[kind]), getattr(mem, DATA[kind]))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m", path.name])
    lock = _persist._PathLock(path)
    assert lock.acquire(blocking=False) and len(os.fsencode(lock.file.name)) <= 255
    lock.release()


def test_a_name_too_long_and_a_loop_of_links_are_refused_by_the_users_path(tmp_path, kind):
    # A 256-byte name failed only at the final rename, after every array was
    # written, with an OSError naming the hidden temporary; a loop of links
    # escaped load() as a bare OSError.
    mem, _ = _saved(tmp_path, kind, write=False)
    path = tmp_path / ("m" * 256)
    with pytest.raises(ValueError, match=r"cannot save to .*m{256}: its name has 256 bytes, "
                                         r"more than the 255 its file system allows"):
        mem.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    with pytest.raises(ValueError, match=r"loop is not a saved fastsdm memory: it is a loop of "
                                         r"symbolic links"):
        type(mem).load(loop)


def test_a_memory_opened_for_writing_refuses_symlinked_files(tmp_path):
    # Writes through a link would change its target, e.g. a shared cache object.
    path = fastsdm.SDM(64, 100, radius=24, seed=1).save(tmp_path / "m")
    cache = tmp_path / "cache-object.npy"
    (path / "counters.npy").rename(cache)
    (path / "counters.npy").symlink_to(cache)
    before = cache.read_bytes()
    with pytest.raises(ValueError, match=r"counters.npy is a symbolic link: writes through it "
                                         r"would change the file it points to"):
        fastsdm.SDM.load(path, mmap=True)
    for mode in ("r", "c", False):  # nothing is written through the link
        mem = fastsdm.SDM.load(path, mmap=mode)
        if mode == "c":
            mem.write(mem.addresses[:5])
    assert cache.read_bytes() == before
    assert not json.loads((path / "fastsdm.json").read_text()).get("open_for_writing")


def test_a_directory_in_place_of_an_array_is_named_as_such(tmp_path):
    path = fastsdm.SDM(64, 100, radius=24, seed=1).save(tmp_path / "m")
    (path / "counters.npy").unlink()
    (path / "counters.npy").mkdir()
    for mode in (True, False, "r"):
        with pytest.raises(ValueError, match=r"counters.npy is not a regular file"):
            fastsdm.SDM.load(path, mmap=mode)


def test_read_only_files_opened_for_writing_say_what_to_do(tmp_path, monkeypatch):
    path = fastsdm.SDM(64, 100, radius=24, seed=1).save(tmp_path / "m")
    real_open = os.open

    def refuse_writes(name, flags, *args, **kwargs):
        if str(name).endswith("counters.npy") and flags & os.O_RDWR:
            raise PermissionError(13, "Permission denied")
        return real_open(name, flags, *args, **kwargs)

    with monkeypatch.context() as patch:  # root ignores file modes: simulate a read-only file
        patch.setattr(os, "open", refuse_writes)
        with pytest.raises(PermissionError, match=r"counters.npy is not writable \(Permission "
                                                  r"denied\); load the memory with mmap='r'"):
            fastsdm.SDM.load(path, mmap=True)
    assert fastsdm.SDM.load(path, mmap="r").counters.shape == (100, 64)

    def refuse_new_files(name, flags, *args, **kwargs):
        if str(name).endswith(".fastsdm.json.tmp"):
            raise OSError(30, "Read-only file system")
        return real_open(name, flags, *args, **kwargs)

    with monkeypatch.context() as patch:  # writable files in a directory that is not
        patch.setattr(os, "open", refuse_new_files)
        with pytest.raises(OSError, match=r"\[Errno 30\] .*/m is not writable \(Read-only file "
                                          r"system\); load the memory with mmap='r'"):
            fastsdm.SDM.load(path, mmap=True)


def test_save_errors_name_the_users_path_not_a_temporary(tmp_path, monkeypatch):
    from fastsdm import _persist

    mem = fastsdm.SDM(64, 100, radius=24, seed=1)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(FileExistsError, match=r"cannot save to .*afile/m: .*afile is a file, "
                                              r"not a directory"):
        mem.save(tmp_path / "afile" / "m")
    with pytest.raises(FileExistsError, match=r"afile is a file, not a directory"):
        mem.save(tmp_path / "afile" / "deeper" / "m")

    real_mkdir = os.mkdir

    def no_write_access(name, *args, **kwargs):
        if "fastsdm-new" in str(name):
            raise PermissionError(13, "Permission denied")
        return real_mkdir(name, *args, **kwargs)

    with monkeypatch.context() as patch:  # root ignores modes: simulate a read-only directory
        patch.setattr(os, "mkdir", no_write_access)
        with pytest.raises(PermissionError, match=r"cannot save to .*/ro/m: cannot write into "
                                                  r".*/ro \(Permission denied\)"):
            mem.save(tmp_path / "ro" / "m")

    path = mem.save(tmp_path / "m")
    other = fastsdm.SDM(64, 100, radius=24, seed=2)
    other.write(other.addresses[:3])
    real_write = _persist._write_npy

    def disk_full(file, array):
        if file.name == "counters.npy":
            raise OSError("128000 requested and 4968 written")  # numpy's text, no errno
        real_write(file, array)

    with monkeypatch.context() as patch:
        patch.setattr(_persist, "_write_npy", disk_full)
        with pytest.raises(OSError, match=r"^saving .*/m failed while writing counters.npy "
                                          r"\(128000 requested and 4968 written; a full disk "
                                          r"or a file-size limit\?\); nothing at .*/m was "
                                          r"changed"):
            other.save(path, overwrite=True)
    assert np.array_equal(fastsdm.SDM.load(path).counters, mem.counters)
    assert sorted(os.listdir(tmp_path)) == ["afile", "m", "ro"]  # nothing left beside it


def test_something_in_the_way_of_the_save_lock_is_refused_not_ignored(tmp_path):
    # A directory or a link where the lock file goes made every save of the path
    # run unlocked, silently.
    mem = fastsdm.SDM(64, 100, radius=24, seed=1)
    lock = tmp_path / ".m.fastsdm-lock"
    lock.mkdir()
    with pytest.raises(FileExistsError, match=r"\.m\.fastsdm-lock is in the way of the save "
                                              r"lock .*; remove it and try again"):
        mem.save(tmp_path / "m")
    lock.rmdir()
    lock.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FileExistsError, match=r"is in the way of the save lock"):
        mem.save(tmp_path / "m")
    lock.unlink()
    assert fastsdm.SDM.load(mem.save(tmp_path / "m")).n_locations == 100
