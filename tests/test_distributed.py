"""ShardedSDM on Dask distributed: bit-identical to SDM, checkpoints, lost shards."""

import contextlib
import functools
import itertools
import json
import os
import pickle
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import fastsdm  # noqa: E402
from fastsdm._core import Locations  # noqa: E402
from fastsdm.distributed import ShardedSDM, ShardLostError, _checkpoint, _client, _worker  # noqa: E402  # noqa: E402

# In-process workers talk over inproc://.  The scheduler still serves HTTP: on a
# free loopback port (None would mean 8787, and a warning when it is taken).
INPROC = dict(processes=False, threads_per_worker=1, dashboard_address="127.0.0.1:0")


@pytest.fixture(scope="module")
def client():
    """Two in-process workers, so that shards spread over workers and run concurrently."""
    with distributed.LocalCluster(n_workers=2, **INPROC) as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture
def fresh_client():
    """A cluster of its own, for tests that close a worker."""
    with distributed.LocalCluster(n_workers=2, **INPROC) as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        yield c


def _same(a, b):
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        np.testing.assert_array_equal(a, b)
        assert np.asarray(a).dtype == np.asarray(b).dtype


def _exercise(single, sharded, seed=0):
    """The same calls on both memories, comparing every answer bit for bit."""
    rng = np.random.default_rng(seed)
    n, n_data = single.n_bits, single.n_data_bits
    _same(sharded.get_addresses(), single.addresses)
    keys = fastsdm.random_addresses(40, n, seed=seed + 1)
    data = None if n_data == n else fastsdm.random_addresses(40, n_data, seed=seed + 2)
    for mem in (single, sharded):
        mem.write(keys, data, weight=3)
        mem.write(keys[:7], data if data is None else data[:7], weight=-2)
    bits = rng.integers(0, 2, size=(5, n), dtype=np.uint8)
    bit_data = None if n_data == n else rng.integers(0, 2, size=(5, n_data), dtype=bool)
    for mem in (single, sharded):
        mem.write(bits, bit_data)
    _same(sharded.get_counters(), single.counters)
    _same(sharded.get_counters(3, single.n_locations - 2), single.counters[3:-2])
    cues = fastsdm.flip_bits(keys, n, max(1, n // 10), seed=seed + 3)
    for call in (lambda m: m.read(cues), lambda m: m.read_sums(cues), lambda m: m.read(cues[0]),
                 lambda m: m.read_sums(cues[1]), lambda m: m.activate(cues),
                 lambda m: m.activate(bits[0]), lambda m: m.read(bits)):
        _same(call(sharded), call(single))
    if n_data == n:
        for iterations in (1, 2, 8):
            _same(sharded.read(cues, iterations=iterations, return_info=True),
                  single.read(cues, iterations=iterations, return_info=True))
    _same(sharded.read(cues), single.read(cues))  # the tie streams are still in step


@pytest.mark.parametrize(("params", "n_shards"), [
    (dict(n_bits=100, n_locations=301, radius=40), 1),
    (dict(n_bits=100, n_locations=301, radius=40), 2),
    (dict(n_bits=100, n_locations=301, radius=40, ties="keep"), 3),
    (dict(n_bits=70, n_locations=300, radius=28, ties="zero", counter_dtype="int32"), 7),
    (dict(n_bits=70, n_locations=300, radius=28, ties="one"), 4),
    # int8 saturates; every location its own shard.
    (dict(n_bits=64, n_locations=9, radius=32, counter_dtype="int8"), 9),
    # Heteroassociative: data narrower than the addresses.
    (dict(n_bits=130, n_locations=250, radius=55, n_data_bits=40), 3),
    (dict(n_bits=128, n_locations=250, activation_probability=0.05), 2),
    (dict(n_bits=100, n_locations=301, k_nearest=9), 2),
    # Shards smaller than k: each offers all its locations as candidates.
    (dict(n_bits=100, n_locations=20, k_nearest=7), 6),
    (dict(n_bits=70, n_locations=200, k_nearest=5, n_data_bits=40, ties="zero"), 3),
])
def test_bit_identical_to_sdm(client, params, n_shards):
    params = {"seed": 11, **params}
    single = fastsdm.SDM(**params)
    with ShardedSDM(**params, n_shards=n_shards, client=client) as sharded:
        assert (sharded.radius, sharded.k_nearest) == (single.radius, single.k_nearest)
        _exercise(single, sharded)


@pytest.mark.parametrize("activation", [{"radius": 40}, {"k_nearest": 6}])
def test_batches_split_in_rounds_and_chunks_change_nothing(client, monkeypatch, activation):
    # Tiny rounds on the client and tiny query chunks on the shards (the
    # in-process workers share this module): many rounds, same answers.
    monkeypatch.setattr(_client, "ROUND_BYTES", 8 * 100 * 7)
    monkeypatch.setattr(fastsdm._core, "queries_per_chunk", lambda n_locations: 3)
    # Sums in int32 and int64 by turns (either is exact here): chunks of both.
    calls = iter(range(10**6))
    monkeypatch.setattr(Locations, "sum_dtype",
                        lambda self, indptr: np.int64 if next(calls) % 3 == 1 else np.int32)
    params = dict(n_bits=100, n_locations=200, seed=5, **activation)
    with ShardedSDM(**params, n_shards=3, client=client) as sharded:
        assert len(sharded._rounds(40)) > 4
        _exercise(fastsdm.SDM(**params), sharded)


@pytest.mark.parametrize(("ties", "expected"), [("zero", 0), ("one", 1)])
def test_ties_cover_data_wider_than_addresses(client, ties, expected):
    # Tie words are drawn ceil(n_data_bits / 64) wide when the data is wider
    # than the addresses (SDM draws ceil(n_bits / 64) words there).
    with ShardedSDM(64, 50, radius=64, n_data_bits=200, ties=ties, seed=0, n_shards=2,
                    client=client) as mem:
        out = mem.read(np.zeros((3, 64), np.uint8))
        assert out.shape == (3, 200) and (out == expected).all()
        random = ShardedSDM(64, 50, radius=64, n_data_bits=200, seed=0, n_shards=2,
                            client=client)
        bits = random.read(np.zeros((400, 64), np.uint8))
        assert 0.45 < bits[:, 128:].mean() < 0.55  # the last words are random too
        random.close()


def test_shard_layout_and_placement(client):
    with ShardedSDM(64, 10, radius=20, seed=0, n_shards=3, client=client) as mem:
        assert mem.shard_bounds.tolist() == [0, 3, 6, 10]
        info = mem.shard_info()
        assert [(d["index"], d["start"], d["stop"]) for d in info] == [(0, 0, 3), (1, 3, 6),
                                                                      (2, 6, 10)]
        assert [d["worker"] for d in info] == mem.workers
        assert len(set(mem.workers)) == 2  # spread over both workers
        assert mem.nbytes == fastsdm.SDM.estimate_nbytes(64, 10)
        assert mem.n_shards == 3 and mem.n_words == 1
        assert repr(mem) == ("ShardedSDM(n_bits=64, n_locations=10, radius=20, "
                             "counter_dtype='int16', ties='random', seed=0, n_shards=3; "
                             "2 workers)")
        assert mem.get_counters(4, 4).shape == (0, 64)
        assert mem.get_addresses(4, 4).shape == (0, 1)
    assert "closed" in repr(mem)
    with pytest.raises(RuntimeError, match="this ShardedSDM is closed"):
        mem.read(np.zeros(1, np.uint64))
    mem.close()  # twice is fine


def test_n_shards_must_leave_no_shard_empty():
    # Refused before any cluster is touched: an empty shard would be an idle actor.
    with pytest.raises(ValueError, match=r"n_shards must be in \[1, 5\], got 6; every shard holds"):
        ShardedSDM(64, 5, radius=20, n_shards=6)
    with pytest.raises(ValueError, match=r"n_shards must be in \[1, 5\]"):
        ShardedSDM(64, 5, radius=20, n_shards=0)
    with pytest.raises(TypeError, match="n_shards must be an integer"):
        ShardedSDM(64, 5, radius=20, n_shards=2.0)
    with pytest.raises(ValueError, match="a sharded memory holds at least one location"):
        ShardedSDM(64, 0, radius=20, n_shards=1)


def test_parameter_errors_match_sdm():
    with pytest.raises(ValueError, match="ties='keep' keeps the query's bit"):
        ShardedSDM(64, 10, radius=20, n_data_bits=32, ties="keep", n_shards=1)
    with pytest.raises(ValueError, match="give exactly one of radius"):
        ShardedSDM(64, 10, n_shards=1)
    with pytest.raises(ValueError, match="counter_dtype must be one of"):
        ShardedSDM(64, 10, radius=3, counter_dtype="int64", n_shards=1)
    with pytest.raises(ValueError, match="ties must be one of"):
        ShardedSDM(64, 10, radius=3, ties="coin", n_shards=1)


def test_call_errors(client):
    with ShardedSDM(64, 40, radius=20, n_data_bits=32, seed=0, n_shards=2,
                    client=client) as mem:
        x = fastsdm.random_addresses(3, 64, seed=0)
        with pytest.raises(ValueError, match="values are required"):
            mem.write(x)
        with pytest.raises(ValueError, match="same number of rows, got 3 and 2"):
            mem.write(x, fastsdm.random_addresses(2, 32, seed=0))
        with pytest.raises(ValueError, match="weight must be in"):
            mem.write(x, fastsdm.random_addresses(3, 32, seed=0), weight=2**31)
        with pytest.raises(ValueError, match="iterated reads feed the result back"):
            mem.read(x, iterations=2)
        with pytest.raises(TypeError, match="queries must be packed uint64 words or 0/1 bits"):
            mem.read(x.astype(float))
        with pytest.raises(ValueError, match=r"stop must be in \[5, 40\]"):
            mem.get_counters(5, 41)
        with pytest.raises(ValueError, match=r"start must be in \[0, 40\]"):
            mem.get_addresses(-1)
        with pytest.raises(TypeError, match="cannot be pickled; save\\(\\) it"):
            pickle.dumps(mem)
        # Nothing reached the shards.
        assert not mem.get_counters().any()


def test_private_cluster_is_owned_and_closed():
    with ShardedSDM(64, 50, radius=24, seed=3, n_shards=2) as mem:
        cluster = mem._owned[1]
        single = fastsdm.SDM(64, 50, radius=24, seed=3)
        x = fastsdm.random_addresses(6, 64, seed=1)
        mem.write(x)
        single.write(x)
        _same(mem.read(x, iterations=3), single.read(x, iterations=3))
    assert mem.client.status == "closed"
    assert cluster.status.name == "closed"


def test_a_given_client_stays_open(client):
    mem = ShardedSDM(64, 50, radius=24, seed=3, n_shards=2, client=client)
    mem.read(fastsdm.random_addresses(3, 64, seed=0))  # calls leave the actors in cycles
    key = mem._futures[0].key
    mem.close()
    assert client.status == "running"
    deadline = time.monotonic() + 10
    while key in client.futures and time.monotonic() < deadline:
        time.sleep(0.01)  # a release reaches the client's event loop asynchronously
    assert key not in client.futures


def test_save_load_round_trip(client, tmp_path):
    params = dict(n_bits=100, n_locations=300, radius=40, counter_dtype="int8", seed=4)
    single = fastsdm.SDM(**params)
    with ShardedSDM(**params, n_shards=3, client=client) as mem:
        keys = fastsdm.random_addresses(30, 100, seed=5)
        for m in (single, mem):
            m.write(keys, weight=5)
            m.read(keys)  # advance the tie stream: the checkpoint must carry it
        path = mem.save(tmp_path / "ckpt")
        manifest = json.loads((path / _checkpoint.MANIFEST_FILE).read_text())
        assert manifest["format"] == "fastsdm.ShardedSDM"
        assert [(s["start"], s["stop"]) for s in manifest["shards"]] == [(0, 100), (100, 200),
                                                                         (200, 300)]
        first_dirs = sorted(p.name for p in path.iterdir() if p.is_dir())
        assert len(first_dirs) == 3
        # Each shard directory is an ordinary saved SDM of its block.
        block = fastsdm.SDM.load(path / manifest["shards"][1]["dir"])
        _same(block.counters, single.counters[100:200])
        with pytest.raises(FileExistsError, match="pass overwrite=True"):
            mem.save(path)
        mem.save(path, overwrite=True)
        second_dirs = sorted(p.name for p in path.iterdir() if p.is_dir())
        assert len(second_dirs) == 3 and not set(first_dirs) & set(second_dirs)
    with ShardedSDM.load(path, client=client) as back:
        assert repr(back).split(";")[0] == repr(mem).split(";")[0]
        _same(back.get_counters(), single.counters)
        _same(back.read(keys, iterations=4), single.read(keys, iterations=4))
    # A private cluster, and a different shard layout than workers.
    with ShardedSDM.load(str(path)) as back:
        _same(back.read_sums(keys), single.read_sums(keys))


def test_save_refuses_to_clobber(client, tmp_path):
    with ShardedSDM(64, 10, radius=20, seed=0, n_shards=2, client=client) as mem:
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "keep.txt").write_text("x")
        with pytest.raises(FileExistsError, match="not a saved ShardedSDM; refusing"):
            mem.save(tmp_path / "other", overwrite=True)
        (tmp_path / "file").write_text("x")
        with pytest.raises(FileExistsError, match="is not a directory"):
            mem.save(tmp_path / "file")


def test_two_saves_of_one_checkpoint_never_destroy_it(client, tmp_path):
    # Saves racing from two threads: each either completes or is refused
    # because the other is running; the checkpoint always loads whole.
    path = tmp_path / "ck"
    mems = [ShardedSDM(64, 200, radius=24, seed=s, n_shards=2, client=client) for s in (1, 2)]
    try:
        mems[0].save(path)
        for _ in range(8):
            errors = []

            def save(mem, errors=errors):
                try:
                    mem.save(path, overwrite=True)
                except FileExistsError as exc:
                    errors.append(str(exc))

            threads = [threading.Thread(target=save, args=(m,)) for m in mems]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert all("another save of the checkpoint" in e for e in errors), errors
            assert len(errors) < 2
            with ShardedSDM.load(path, client=client) as back:
                assert back.seed in (1, 2)
            assert not (path / ".fastsdm-saving").exists()
    finally:
        for m in mems:
            m.close()


def test_a_running_or_failed_save_leaves_the_checkpoint_as_it_was(client, tmp_path,
                                                                   monkeypatch):
    from fastsdm.distributed import _checkpoint
    from fastsdm.distributed._worker import Shard

    path = tmp_path / "ck"
    x = fastsdm.random_addresses(4, 64, seed=0)
    with ShardedSDM(64, 40, radius=20, seed=0, n_shards=2, client=client) as mem:
        mem.write(x)
        mem.save(path)
        saved = mem.get_counters()
        mem.write(x)
        _checkpoint.prepare_save(str(path), True, "0" * 12)  # a save that is running
        with pytest.raises(FileExistsError, match="another save of the checkpoint .* is running "
                                                  ".*remove .*fastsdm-saving"):
            mem.save(path, overwrite=True)
        (path / _checkpoint.SAVE_LOCK).unlink()
        real = Shard.save

        def failing(self, where):
            if "shard-00001-" in where:
                raise OSError("disk full")
            return real(self, where)

        monkeypatch.setattr(Shard, "save", failing)
        with pytest.raises(Exception, match="disk full"):
            mem.save(path, overwrite=True)
        monkeypatch.undo()
        assert sorted(p.name for p in path.iterdir() if not p.name.startswith("shard-")) == [
            "fastsdm-sharded.json"]  # no lock and no leftovers of the failed save
        with ShardedSDM.load(path, client=client) as back:
            _same(back.get_counters(), saved)
        mem.save(path, overwrite=True)
        with ShardedSDM.load(path, client=client) as back:
            _same(back.get_counters(), mem.get_counters())


def test_what_a_failed_first_save_left_does_not_block_the_next(client, tmp_path):
    # A first save that timed out is cleaned up while a stalled shard's save
    # is still running; that shard's directory appears afterwards, beside no
    # manifest.  Every later save to the path, overwrite=True included, was
    # refused as "not a saved ShardedSDM".
    path = tmp_path / "ck"
    (path / "shard-00001-0123456789ab").mkdir(parents=True)  # the late shard
    (path / "shard-00001-0123456789ab" / "counters.npy").write_bytes(b"partial")
    (path / (_checkpoint.MANIFEST_FILE + ".tmp")).write_bytes(b"{")
    x = fastsdm.random_addresses(4, 64, seed=0)
    with ShardedSDM(64, 40, radius=20, seed=0, n_shards=2, client=client) as mem:
        mem.write(x)
        mem.save(path)
        with ShardedSDM.load(path, client=client) as back:
            _same(back.get_counters(), mem.get_counters())
    assert "shard-00001-0123456789ab" not in os.listdir(path)  # the save's commit removed it
    other = tmp_path / "other"
    (other / "shard-00001-0123456789ab").mkdir(parents=True)
    (other / "notes.txt").write_text("mine")  # anything else still protects the directory
    with ShardedSDM(64, 40, radius=20, seed=0, n_shards=2, client=client) as mem:
        with pytest.raises(FileExistsError, match="non-empty directory that is not a saved "
                                                  "ShardedSDM"):
            mem.save(other)


def test_loading_a_sharded_checkpoint_as_one_memory_names_the_right_loader(client, tmp_path):
    with ShardedSDM(64, 40, radius=20, seed=0, n_shards=2, client=client) as mem:
        mem.save(tmp_path / "ck")
    for cls in (fastsdm.SDM, fastsdm.ContinuousSDM):
        with pytest.raises(ValueError, match=r"no fastsdm.json\); it holds a sharded memory's "
                                             r"checkpoint: load it with fastsdm.distributed."
                                             r"ShardedSDM.load\(\)"):
            cls.load(tmp_path / "ck")
    with pytest.raises(ValueError, match=r"no fastsdm.json\); save one with SDM.save\(\)"):
        fastsdm.SDM.load(tmp_path)


def test_a_shard_from_another_save_is_refused(client, tmp_path):
    import shutil

    x = fastsdm.random_addresses(4, 64, seed=0)
    with ShardedSDM(64, 40, radius=20, seed=0, n_shards=2, client=client) as mem:
        mem.write(x)
        older = mem.save(tmp_path / "older")
        mem.write(x)
        newer = mem.save(tmp_path / "newer")
    manifest = json.loads((newer / _checkpoint.MANIFEST_FILE).read_text())
    assert all(type(s["digest"]) is int for s in manifest["shards"])
    old_dir = sorted(p for p in older.iterdir() if p.name.startswith("shard-00001-"))[0]
    new_dir = newer / manifest["shards"][1]["dir"]
    shutil.rmtree(new_dir)
    shutil.copytree(old_dir, new_dir)  # the same memory, one save earlier
    with pytest.raises(ValueError, match="does not hold the shard that .*recorded"):
        ShardedSDM.load(newer, client=client)
    # A manifest written before digests (re-sealed without them) loads as before.
    for shard in manifest["shards"]:
        del shard["digest"]
    manifest.pop("description_crc32")
    (newer / _checkpoint.MANIFEST_FILE).write_bytes(
        fastsdm._persist.encode_description(manifest))
    with ShardedSDM.load(newer, client=client) as back:
        assert back.n_locations == 40


def test_load_refuses_broken_checkpoints(client, tmp_path, caplog):
    caplog.clear()
    with pytest.raises(ValueError, match="is not a saved ShardedSDM"):
        ShardedSDM.load(tmp_path / "nowhere", client=client)
    # refused by a checkpoint helper on a worker: returned, not logged by Dask
    assert "Compute Failed" not in caplog.text
    with pytest.raises(ValueError, match="mmap must be True, False"):
        ShardedSDM.load(tmp_path, client=client, mmap="w")
    with pytest.raises(TypeError, match="verify must be True, False or None"):
        ShardedSDM.load(tmp_path, client=client, verify=0)
    with ShardedSDM(64, 10, radius=20, seed=0, n_shards=2, client=client) as mem:
        path = mem.save(tmp_path / "a")
        other = mem.save(tmp_path / "b")
    file = path / _checkpoint.MANIFEST_FILE
    manifest = json.loads(file.read_text())

    def broken(**changes):
        file.write_text(json.dumps({**manifest, **changes}))
        return path

    with pytest.raises(ValueError, match="format version 9"):
        ShardedSDM.load(broken(format_version=9), client=client)
    with pytest.raises(ValueError, match="does not describe a fastsdm.ShardedSDM"):
        ShardedSDM.load(broken(format="fastsdm.SDM"), client=client)
    shards = manifest["shards"]
    with pytest.raises(ValueError, match="do not tile locations 0:10"):
        ShardedSDM.load(broken(shards=[shards[0], {**shards[1], "stop": 9}]), client=client)
    with pytest.raises(ValueError, match="names a shard directory '../x'"):
        ShardedSDM.load(broken(shards=[shards[0], {**shards[1], "dir": "../x"}]),
                        client=client)
    # Another seed is a valid field: the manifest's own checksum catches it, and
    # re-sealed (by a tamperer who knows the format) the shards' parameters do.
    with pytest.raises(ValueError, match="fastsdm-sharded.json fails its checksum"):
        ShardedSDM.load(broken(seed=1), client=client)
    from fastsdm._persist import encode_description

    file.write_bytes(encode_description({**manifest, "seed": 1}))
    with pytest.raises(ValueError, match=r"does not hold shard \d of this memory .*'seed': \("):
        ShardedSDM.load(path, client=client)
    file.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        ShardedSDM.load(path, client=client)
    broken()
    del manifest["tie_rng_state"]
    with pytest.raises(ValueError, match=r"lacks \['tie_rng_state'\]"):
        ShardedSDM.load(broken(), client=client)
    # A shard's own error (here while loading) comes back as itself.
    counters = next(other.glob("shard-00001-*")) / "counters.npy"
    counters.write_bytes(counters.read_bytes()[:-7])
    caplog.clear()
    with pytest.raises(ValueError, match="truncated or corrupt") as raised:
        ShardedSDM.load(other, client=client)
    # the user's error, not a Dask task failure logged by the worker
    assert "Compute Failed" not in caplog.text
    assert any("raised on shard 1" in note for note in raised.value.__notes__)


def test_mmap_load_writes_through_and_flushes(client, tmp_path):
    params = dict(n_bits=64, n_locations=60, k_nearest=4, seed=2)
    single = fastsdm.SDM(**params)
    with ShardedSDM(**params, n_shards=2, client=client) as mem:
        path = mem.save(tmp_path / "m")
        with pytest.raises(ValueError, match="flush\\(\\) is for memories loaded with mmap"):
            mem.flush()
    x = fastsdm.random_addresses(5, 64, seed=3)
    with ShardedSDM.load(path, client=client, mmap=True) as mapped:
        for m in (single, mapped):
            m.write(x)
            m.read(x)
        with pytest.raises(ValueError, match="memory-mapped from .*call flush\\(\\)"):
            mapped.save(path, overwrite=True)
        mapped.flush()
    with ShardedSDM.load(path, client=client) as back:  # checksums verified
        _same(back.get_counters(), single.counters)
        _same(back.read(x), single.read(x))
    with ShardedSDM.load(path, client=client, mmap="r") as readonly:
        with pytest.raises(ValueError, match="read-only"):
            readonly.write(x)
        with pytest.raises(ValueError, match=r"read-only \(loaded with mmap='r'\)"):
            readonly.clear()  # refused up front: the shards stay usable
        _same(readonly.read_sums(x), single.read_sums(x))


def test_lost_worker_raises_and_checkpoint_recovers(fresh_client, tmp_path):
    params = dict(n_bits=64, n_locations=80, radius=25, seed=8)
    single = fastsdm.SDM(**params)
    x = fastsdm.random_addresses(10, 64, seed=9)
    mem = ShardedSDM(**params, n_shards=2, client=fresh_client)
    assert mem.workers[0] != mem.workers[1]
    for m in (single, mem):
        m.write(x)
    checkpoint = mem.save(tmp_path / "ckpt")
    mem.write(x[:2])  # made after the checkpoint: lost with the shard
    victim = mem.workers[1]
    # Close the worker holding shard 1 (retire_workers refuses: actors cannot move).
    worker = next(w for w in fresh_client.cluster.workers.values() if w.address == victim)
    fresh_client.sync(worker.close)
    with pytest.raises(ShardLostError, match=r"shard 1 \(locations 40:80\) on worker .* is "
                                             r"lost.*ShardedSDM.load\(last_checkpoint, "
                                             r"client=client\)"):
        mem.read(x)
    with pytest.raises(ShardLostError, match="shard 1"):
        mem.write(x)  # every later call refuses too
    assert "lost" in repr(mem)
    mem.close()
    with ShardedSDM.load(checkpoint, client=fresh_client) as back:
        assert len(set(back.workers)) == 1  # both shards on the surviving worker
        _same(back.get_counters(), single.counters)
        _same(back.read(x), single.read(x))


def test_retiring_a_worker_that_holds_a_shard_is_refused(fresh_client):
    # What the guide says: Dask will not retire a worker holding an actor (a
    # shard cannot move), so the memory keeps every shard and goes on answering.
    x = fastsdm.random_addresses(10, 64, seed=9)
    single = fastsdm.SDM(64, 80, radius=25, seed=8)
    with ShardedSDM(64, 80, radius=25, seed=8, n_shards=2, client=fresh_client) as mem:
        for m in (single, mem):
            m.write(x)
        assert fresh_client.retire_workers([mem.workers[1]]) == {}
        assert set(mem.workers) <= set(fresh_client.nthreads())
        _same(mem.read(x), single.read(x))


def test_a_worker_lost_during_calls_is_detected(fresh_client, monkeypatch):
    # Dask may leave a call to a vanished worker pending: the wait checks the
    # actor's status between short slices.
    monkeypatch.setattr(_client, "POLL_SECONDS", 0.05)
    mem = ShardedSDM(256, 20_000, radius=100, seed=0, n_shards=2, client=fresh_client)
    q = fastsdm.random_addresses(200, 256, seed=1)
    worker = next(w for w in fresh_client.cluster.workers.values()
                  if w.address == mem.workers[0])
    killer = threading.Timer(0.2, fresh_client.sync, args=(worker.close,))
    killer.start()
    deadline = time.monotonic() + 30
    with pytest.raises(ShardLostError, match="shard 0 .* is lost"):
        while time.monotonic() < deadline:  # reads in flight when the worker goes
            mem.read(q)
    killer.join()
    mem.close()


def test_a_worker_lost_while_building_is_detected(fresh_client, monkeypatch):
    monkeypatch.setattr(_client, "POLL_SECONDS", 0.05)
    build = _worker.Shard.__init__

    def slow(self, index, *args):
        if index == 1:
            time.sleep(0.5)
        build(self, index, *args)

    monkeypatch.setattr(_worker.Shard, "__init__", slow)  # in-process workers share the class
    victim = sorted(fresh_client.nthreads())[1]  # where shard 1 of 2 goes
    worker = next(w for w in fresh_client.cluster.workers.values() if w.address == victim)
    killer = threading.Timer(0.1, fresh_client.sync, args=(worker.close,))
    killer.start()
    with pytest.raises(ShardLostError, match=r"worker .* left while it was building shard 1"):
        ShardedSDM(64, 20, radius=20, n_shards=2, client=fresh_client)
    killer.join()


def test_failed_write_on_one_shard_makes_the_memory_refuse(client, monkeypatch):
    mem = ShardedSDM(64, 30, radius=25, seed=1, n_shards=3, client=client)
    original = _worker.Shard.write

    @functools.wraps(original)  # the client names an operation by its function's name
    def flaky(self, *args):
        if self.index == 1:
            raise MemoryError("no room for the deltas")
        return original(self, *args)

    monkeypatch.setattr(_worker.Shard, "write", flaky)  # in-process workers share the class
    x = fastsdm.random_addresses(2, 64, seed=0)
    with pytest.raises(ShardLostError, match="shard 1 .* failed during write .*no room") as info:
        mem.write(x)
    assert isinstance(info.value.__cause__, MemoryError)
    assert "raised on shard 1" in info.value.__cause__.__notes__[0]
    with pytest.raises(ShardLostError, match="failed during write"):
        mem.read(x)
    mem.close()


def test_a_shard_that_does_not_answer_in_time_is_lost(client):
    mem = ShardedSDM(64, 2000, radius=25, seed=1, n_shards=2, client=client)
    mem.timeout = 0.0
    with pytest.raises(ShardLostError, match=r"did not answer within 0.0 s \(TimeoutError: the "
                                             r"limit set by timeout= when the memory was made "
                                             r"or loaded; pass a larger one, or None to wait "
                                             r"without a limit\)"):
        mem.read(fastsdm.random_addresses(500, 64, seed=0))
    mem.close()


def test_worker_memory_limit_is_checked(client, monkeypatch):
    def tiny(**kwargs):
        return {"workers": {w: {"memory_limit": 10_000} for w in client.nthreads()}}

    monkeypatch.setattr(client, "scheduler_info", tiny)
    with pytest.raises(MemoryError, match=r"shards placed on worker .* need 27200 bytes .* "
                                          r"memory_limit is 10000 bytes"):
        ShardedSDM(64, 400, radius=20, n_shards=2, client=client)


def test_a_cluster_without_workers_is_refused():
    with distributed.LocalCluster(n_workers=0, **INPROC) as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        with pytest.raises(RuntimeError, match="no workers; .*wait_for_workers"):
            ShardedSDM(64, 10, radius=20, n_shards=1, client=c)


def test_missing_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r'pip install "fastsdm\[distributed\]"'):
        ShardedSDM(64, 10, radius=20, n_shards=1)


def test_import_fastsdm_does_not_import_dask():
    code = ("import fastsdm, fastsdm.distributed, sys; "
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_worker_processes_over_tcp(tmp_path):
    """Two worker processes on 127.0.0.1: identity, a checkpoint, a killed worker."""
    env = {"NUMBA_NUM_THREADS": "1", "OMP_WAIT_POLICY": "passive"}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                  env=env) as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        params = dict(n_bits=100, n_locations=301, radius=40, ties="random", seed=6)
        single = fastsdm.SDM(**params)
        mem = ShardedSDM(**params, n_shards=3, client=c)
        assert len({d["pid"] for d in mem.shard_info()}) == 2
        assert os.getpid() not in {d["pid"] for d in mem.shard_info()}
        _exercise(single, mem, seed=3)
        checkpoint = mem.save(tmp_path / "ckpt")
        victim = mem.workers[2]
        with contextlib.suppress(Exception):  # the connection dies with the worker
            c.run(os._exit, 1, workers=[victim])
        with pytest.raises(ShardLostError, match="shard 2 .* is lost.*ShardedSDM.load"):
            mem.read_sums(single.addresses[:5])
        mem.close()
        c.wait_for_workers(2, timeout=60)  # the nanny restarts the process (new address)
        with ShardedSDM.load(checkpoint, client=c) as back:
            _same(back.get_counters(), single.counters)
            cue = single.addresses[:20]
            _same(back.read(cue, iterations=3), single.read(cue, iterations=3))


def test_private_cluster_checks_the_whole_memory_fits(monkeypatch):
    monkeypatch.setattr(_client, "available_memory", lambda: 10_000)
    with pytest.raises(MemoryError, match=r"needs 27200 bytes .* private in-process cluster .* "
                                          r"pass client="):
        ShardedSDM(64, 200, radius=20, n_shards=2)


def test_shard_returns_its_own_errors(tmp_path):
    # The actor's state, built directly (no cluster): errors come back as values.
    params = dict(n_bits=64, n_locations=10, n_data_bits=64, radius=20, k_nearest=None,
                  counter_dtype="int16", ties="random", seed=0)
    shard = _worker.Shard(0, 0, 10, params)
    ok, (sums, bound) = shard.call(_worker.Shard.sums, shard.sdm.addresses[:2], None)
    assert ok and sums.shape == (2, 64) and bound >= np.abs(sums).max()
    shard.sdm.save(tmp_path / "s")
    readonly = _worker.Shard(0, 0, 10, params, str(tmp_path / "s"), "r")
    ok, failure = readonly.call(_worker.Shard.write_csr, np.array([0, 1]), np.array([3]),
                                np.zeros((1, 1), np.uint64), 1, None)
    assert not ok and isinstance(failure.exc, ValueError)
    assert "read-only" in str(failure.exc) and "Traceback" in failure.text

    class Unpicklable(Exception):  # a local class cannot be pickled
        pass

    try:
        raise Unpicklable("odd")
    except Unpicklable as exc:
        failure = _worker.Failure(exc)
    assert isinstance(failure.exc, RuntimeError) and str(failure.exc) == "Unpicklable: odd"


def test_manifest_fields_are_checked_like_a_saved_sdm(client, tmp_path):
    with ShardedSDM(64, 10, radius=20, seed=0, n_shards=2, client=client) as mem:
        path = mem.save(tmp_path / "a")
    file = path / _checkpoint.MANIFEST_FILE
    manifest = json.loads(file.read_text())
    cases = [
        ({"n_locations": True}, r"holds invalid parameters \(n_locations must be an integer, "
                                r"got bool True\)"),
        ({"n_locations": 0}, r"n_locations must be in \[1, inf\]"),
        ({"radius": 65}, r"radius must be in \[0, 64\]"),
        ({"ties": "aero"}, "ties must be one of"),
        ({"k_nearest": 11, "radius": None}, r"k_nearest must be in \[1, 10\]"),
        ({"tie_rng_state": {"state": 1}}, "tie_rng_state must be the state of a PCG64"),
        ({"shards": [{"start": 0, "stop": 10}]}, "shards must be a non-empty list"),
        ({"shards": []}, "shards must be a non-empty list"),
        ({"fastsdm_version": 1}, "fastsdm_version must be a string"),
        ({"radius2": 3}, r"unknown fields \['radius2'\]"),
        ({"format_version": True}, "format_version True"),
    ]
    for changes, match in cases:
        file.write_text(json.dumps({**manifest, **changes}))
        with pytest.raises(ValueError, match=match):
            ShardedSDM.load(path, client=client)
    # Sizes the shards contradict, in a manifest without its checksum (older
    # ones have none): refused before they size the shards on the workers (a
    # MemoryError blamed the cluster, an OverflowError escaped).
    unsealed = {key: v for key, v in manifest.items() if key != "description_crc32"}
    for changes, match in [
        ({"n_bits": 2**63}, r"shard-00000-\w+ holds a shard with n_bits 64 where the "
                            r"manifest says 9223372036854775808: .* checkpoint is corrupt"),
        ({"n_bits": 10**400}, "holds a shard with n_bits 64 where the manifest says 1000"),
        ({"n_data_bits": 2**40}, "holds a shard with n_data_bits 64 where the manifest says"),
    ]:
        file.write_text(json.dumps({**unsealed, **changes}))
        with pytest.raises(ValueError, match=match):
            ShardedSDM.load(path, client=client)
    file.write_text(json.dumps(manifest).replace('"radius": 20', '"radius": NaN'))
    with pytest.raises(ValueError, match="not valid JSON"):
        ShardedSDM.load(path, client=client)
    file.write_text(json.dumps(manifest))
    with ShardedSDM.load(path, client=client) as back:
        assert back.radius == 20 and back._lock is not None


def test_sharded_memory_speaks_the_sdm_vocabulary(client):
    keys = fastsdm.random_addresses(4, 64, seed=1)
    values = fastsdm.random_addresses(4, 32, seed=2)
    single = fastsdm.SDM(64, 60, radius=25, n_value_bits=32, seed=3)
    single.write(keys, values)
    with ShardedSDM(64, 60, radius=25, n_value_bits=32, seed=3, n_shards=2,
                    client=client) as new, \
            ShardedSDM(64, 60, radius=25, n_data_bits=32, seed=3, n_shards=2,
                       client=client) as old:
        assert new.n_value_bits == old.n_data_bits == 32
        new.write(keys=keys, values=values)
        old.write(addresses=keys, data=values)
        assert np.array_equal(new.get_counters(), single.counters)
        assert np.array_equal(old.get_counters(), single.counters)


@pytest.mark.parametrize("timeout, error, match", [
    (-1, ValueError, r"timeout must be a positive finite number, got -1"),
    (0, ValueError, r"timeout must be a positive finite number, got 0"),
    (float("nan"), ValueError, r"timeout must be a positive finite number, got nan"),
    ("x", TypeError, r"timeout must be a positive number of seconds, got 'x'"),
])
def test_a_bad_timeout_is_refused_before_any_shard_is_built(timeout, error, match):
    # It used to be taken as given: the first call then reported a shard
    # "lost" (-1, "x"), the memory stayed marked lost although every shard was
    # alive, and nan meant no timeout at all.
    with pytest.raises(error, match=match):
        ShardedSDM(64, 100, radius=28, seed=0, n_shards=2, timeout=timeout)
    with pytest.raises(error, match=match):
        ShardedSDM.load("no-such-checkpoint", timeout=timeout)


_COMMIT_AFTER_READ: list = []  # checkpoints to move in after the next manifest read


def _read_then_commit(where):
    # read_checkpoint, then what a concurrent save's commit does: the other
    # checkpoint's shard directories and manifest move in, the old ones go.
    # (Module level: the workers run it by reference, in this process.)
    manifest = _checkpoint.read_checkpoint(where)
    if _COMMIT_AFTER_READ:
        source, target = _COMMIT_AFTER_READ.pop(), Path(where)
        for shard in json.loads((source / _checkpoint.MANIFEST_FILE).read_text())["shards"]:
            os.rename(source / shard["dir"], target / shard["dir"])
        os.replace(source / _checkpoint.MANIFEST_FILE, target / _checkpoint.MANIFEST_FILE)
        for shard in manifest["shards"]:
            shutil.rmtree(target / shard["dir"])
    return manifest


def test_a_load_during_a_concurrent_save_returns_the_old_or_the_new_checkpoint(
        client, tmp_path, monkeypatch):
    # A save committed between a load's reading of the manifest and the shards'
    # opening removes the shard directories that manifest names: the load failed
    # ("not a saved fastsdm memory", "the checkpoint is corrupt").  It now tries
    # again while the manifest it read is no longer the one at the path.
    params = dict(n_bits=64, n_locations=200, radius=24, n_shards=2, client=client)
    path = tmp_path / "ckpt"
    with ShardedSDM(**params, seed=1) as a, ShardedSDM(**params, seed=2) as b:
        a.write(a.get_addresses()[:5])
        a.save(path)
        b.write(b.get_addresses()[:7])
        _COMMIT_AFTER_READ.append(b.save(tmp_path / "next"))
        monkeypatch.setattr(_client, "read_checkpoint", _read_then_commit)
        with ShardedSDM.load(path, client=client) as back:
            _same(back.get_counters(), b.get_counters())
        assert not _COMMIT_AFTER_READ
        # A checkpoint that is really damaged is refused, not tried again and again.
        manifest = json.loads((path / _checkpoint.MANIFEST_FILE).read_text())
        (path / manifest["shards"][0]["dir"] / "counters.npy").unlink()
        with pytest.raises(ValueError, match="does not hold the shard|counters.npy is missing"):
            ShardedSDM.load(path, client=client)


def test_a_checkpoint_mapped_for_writing_is_free_as_soon_as_close_returns(client, tmp_path):
    # close() returned before the workers dropped their shards, so an immediate
    # reload with mmap=True was refused as "already open ... by another memory
    # object" (6 of 10 tries in the probe).
    params = dict(n_bits=64, n_locations=300, radius=24, n_shards=3, client=client)
    with ShardedSDM(**params, seed=1) as mem:
        path = mem.save(tmp_path / "m")
    x = fastsdm.random_addresses(4, 64, seed=2)
    for _ in range(6):
        mapped = ShardedSDM.load(path, client=client, mmap=True)
        mapped.write(x)
        mapped.flush()
        mapped.close()
    with ShardedSDM.load(path, client=client) as back:
        assert back.get_counters().any()


def test_a_closed_client_is_named_and_a_cluster_is_not_a_client(fresh_client, tmp_path):
    mem = ShardedSDM(64, 100, radius=28, seed=0, n_shards=2, client=fresh_client)
    path = mem.save(tmp_path / "m")
    fresh_client.close()
    for call in (lambda: mem.read(fastsdm.random_addresses(1, 64, seed=0)),
                 lambda: mem.save(tmp_path / "other")):
        with pytest.raises(RuntimeError, match="the Dask client of this memory was closed.*"
                                               "open a new distributed.Client"):
            call()
    mem.close()
    with pytest.raises(ValueError, match="the Dask client given is closed"):
        ShardedSDM(64, 100, radius=28, n_shards=2, client=fresh_client)
    with pytest.raises(ValueError, match="the Dask client given is closed"):
        ShardedSDM.load(path, client=fresh_client)
    for thing in ("tcp://127.0.0.1:8786", object()):
        with pytest.raises(TypeError, match="client must be a distributed.Client .*got"):
            ShardedSDM(64, 100, radius=28, n_shards=2, client=thing)
        with pytest.raises(TypeError, match="client must be a distributed.Client"):
            ShardedSDM.load(path, client=thing)


def test_the_checkpoint_a_memory_is_mapped_from_is_refused_under_any_name(client, tmp_path):
    with ShardedSDM(64, 100, radius=28, seed=0, n_shards=2, client=client) as mem:
        path = mem.save(tmp_path / "m")
    (tmp_path / "link").symlink_to(path)
    with ShardedSDM.load(path, client=client, mmap=True) as mapped:
        for alias in (tmp_path / "link", tmp_path / "m" / ".." / "m"):
            with pytest.raises(ValueError, match="memory-mapped from .*call flush"):
                mapped.save(alias, overwrite=True)
        mapped.write(fastsdm.random_addresses(2, 64, seed=1))
        mapped.flush()  # the checkpoint is still the one it maps


_IDENTITIES = itertools.count()


def _another_manifest_each_time(where):
    # Module level: the workers run it by reference, in this process.
    return next(_IDENTITIES)


def test_a_load_that_loses_every_race_says_so(client, tmp_path, monkeypatch):
    # Every attempt failed and each found another manifest at the path: the
    # checkpoint is not damaged, and the error must not say it is no memory.
    with ShardedSDM(64, 100, radius=28, seed=0, n_shards=2, client=client) as mem:
        path = mem.save(tmp_path / "m")
    def replaced(cls, *args):
        raise ValueError("... is not a saved fastsdm memory (no fastsdm.json)")

    monkeypatch.setattr(_client, "manifest_identity", _another_manifest_each_time)
    monkeypatch.setattr(ShardedSDM, "_load_once", classmethod(replaced))
    with pytest.raises(ValueError, match=r"was replaced by another save during each of 3 "
                                         r"attempts to load it; load it again once the saves "
                                         r"pause"):
        ShardedSDM.load(path, client=client)


def test_parameters_changed_on_the_client_are_refused_not_ignored(client):
    # The shards keep the parameters they were built with: mem.radius = 10
    # read and wrote with 25 (counters differing from SDM's), radius -5 and
    # ties 'bogus' were taken silently.
    keys = fastsdm.random_addresses(10, 64, seed=1)
    with ShardedSDM(64, 200, radius=25, seed=1, n_shards=3, client=client) as mem:
        for name, value in (("radius", 10), ("radius", -5), ("ties", "bogus"),
                            ("k_nearest", 3)):
            good = getattr(mem, name)
            setattr(mem, name, value)
            for call in (mem.write, mem.read, mem.activate):
                with pytest.raises(ValueError, match=f"ShardedSDM's {name} changed since its "
                                                     "shards were built"):
                    call(keys)
            setattr(mem, name, good)
        mem.write(keys)
        single = fastsdm.SDM(64, 200, radius=25, seed=1)
        single.write(keys)
        assert np.array_equal(mem.get_counters(), single.counters)
