"""Weighted SDM operations (issue 16 §2): distance-weighted writes, z reads, kappa.

Every case is compared exactly with ``tests.reference.NaiveSDM`` on both
paths: the fused scan-and-update kernels (radius activation, batches of at
least ``search.TILED_MIN_QUERIES``) and the activation-list (CSR) kernels
(smaller batches, k-nearest activation).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import fastsdm
from fastsdm import _jit, _weights
from fastsdm._kernels import weighted as _kw
from fastsdm.search import TILED_MIN_QUERIES
from tests.reference import NaiveSDM, unpack

DATA = Path(__file__).parent / "data"


def _naive_for(mem):
    return NaiveSDM(unpack(mem.addresses, mem.n_bits), mem.n_data_bits, radius=mem.radius,
                    k_nearest=mem.k_nearest, dtype=mem.counter_dtype, kappa=mem.kappa)


def _write_both(mem, naive, keys, data, *, fused, **options):
    # A batch of >= TILED_MIN_QUERIES takes the fused path (radius memories);
    # batches of 3 take the CSR path.  The reference writes one at a time.
    step = keys.shape[0] if fused else 3
    for start in range(0, keys.shape[0], step):
        mem.write(keys[start : start + step], data[start : start + step], **options)
    for k, d in zip(keys, data, strict=True):
        naive.write(k, d, options.get("weight", 1), options.get("distance_weights"))
    np.testing.assert_array_equal(mem.counters, naive.c)


def _check_reads(mem, naive, queries, z, *, fused):
    step = queries.shape[0] if fused else 3
    sums = np.concatenate([mem.read_sums(queries[s : s + step], z=z)
                           for s in range(0, queries.shape[0], step)])
    expected = np.array([naive.sums(x, z) for x in queries])
    assert sums.dtype == (np.int64 if z in (None, 1) else np.float64)
    np.testing.assert_array_equal(sums, expected)  # bit for bit, floats included
    reads = np.concatenate([mem.read(queries[s : s + step], z=z)
                            for s in range(0, queries.shape[0], step)])
    np.testing.assert_array_equal(reads, [naive.read(x, np.zeros(mem.n_data_bits), z)
                                          for x in queries])


# -- against the naive reference ------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "csr"])
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32"])
@pytest.mark.parametrize("n", [1, 63, 65, 1000])
def test_weighted_operations_match_naive(n, dtype, fused):
    rng = np.random.default_rng(n)
    radius = n // 2
    kappa = {"int8": 127, "int16": 40, "int32": 1000}[dtype]  # int8: kappa at the bound
    mem = fastsdm.SDM(n, 50, radius=radius, counter_dtype=dtype, ties="zero", kappa=kappa,
                      seed=n)
    naive = _naive_for(mem)
    m = 2 * TILED_MIN_QUERIES
    keys = rng.integers(0, 2, size=(m, n), dtype=np.uint8)
    data = rng.integers(0, 2, size=(m, n), dtype=np.uint8)
    keys[m // 2 :] = keys[0]  # repeats reach kappa
    table = rng.integers(-3, 9, size=radius + 1)
    table[0] = 0  # a zero entry: the location at distance 0 is left alone
    _write_both(mem, naive, keys, data, fused=fused, weight=7, distance_weights=table)
    _write_both(mem, naive, keys[:5], data[:5], fused=fused, weight=-2)  # kappa alone
    assert np.abs(mem.counters).max() <= kappa
    queries = rng.integers(0, 2, size=(m, n), dtype=np.uint8)
    for z in (None, 0.5, 2.0, 3.7):
        _check_reads(mem, naive, queries, z, fused=fused)


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32"])
def test_k_nearest_memories(dtype):
    rng = np.random.default_rng(5)
    mem = fastsdm.SDM(65, 40, k_nearest=6, counter_dtype=dtype, ties="zero", kappa=9, seed=1)
    naive = _naive_for(mem)
    keys = rng.integers(0, 2, size=(12, 65), dtype=np.uint8)
    data = rng.integers(0, 2, size=(12, 65), dtype=np.uint8)
    table = rng.integers(-2, 5, size=66)  # k-nearest: every distance 0..n_bits
    _write_both(mem, naive, keys, data, fused=True, weight=3, distance_weights=table)
    _check_reads(mem, naive, rng.integers(0, 2, size=(10, 65), dtype=np.uint8), 1.5, fused=True)


@pytest.mark.kernel
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "csr"])
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32"])
def test_saturation_edges(dtype, fused):
    # Counters next to the dtype's bounds, products up to 2**31 - 1: exact
    # saturation (no wrap), including int8's asymmetric -128.
    info = np.iinfo(dtype)
    rng = np.random.default_rng(2)
    mem = fastsdm.SDM(63, 30, radius=63, counter_dtype=dtype, ties="zero", seed=3)
    mem.counters[:] = rng.choice([info.min, info.min + 1, -1, 0, 1, info.max - 1, info.max],
                                 size=mem.counters.shape)
    naive = _naive_for(mem)
    naive.c[:] = mem.counters
    m = TILED_MIN_QUERIES
    keys = rng.integers(0, 2, size=(m, 63), dtype=np.uint8)
    data = rng.integers(0, 2, size=(m, 63), dtype=np.uint8)
    big = 2**31 - 1
    table = rng.choice([-big, -1, 0, 1, 2, big], size=64)
    _write_both(mem, naive, keys, data, fused=fused, distance_weights=table)
    _write_both(mem, naive, keys, data, fused=fused, weight=-1, distance_weights=table)
    table = rng.integers(-3, 4, size=64)
    weight = min(int(info.max) - 1, (2**31 - 1) // 3)  # products within 2**31
    _write_both(mem, naive, keys, data, fused=fused, weight=weight, distance_weights=table)
    assert mem.counters.min() == info.min and mem.counters.max() == info.max
    # z reads of counters at the bounds: int32's |c| ** z through pow.
    _check_reads(mem, naive, keys, 2.5, fused=fused)


@pytest.mark.kernel
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32"])
def test_kappa_at_its_bounds(dtype):
    high = int(np.iinfo(dtype).max)
    for kappa in (1, high):
        mem = fastsdm.SDM(64, 40, radius=30, counter_dtype=dtype, kappa=kappa, seed=0)
        naive = _naive_for(mem)
        keys = np.repeat(fastsdm.unpack_bits(fastsdm.random_addresses(2, 64, seed=1), 64), 5,
                         axis=0)
        for weight in (high, 3, -high):
            _write_both(mem, naive, keys, keys, fused=True, weight=weight)
        assert mem.counters.min() >= -kappa and mem.counters.max() <= kappa
    # Without kappa int8 saturates at -128; with kappa=127 it stops at -127.
    if dtype == "int8":
        for kappa, low in ((None, -128), (127, -127)):
            mem = fastsdm.SDM(8, 1, radius=8, counter_dtype="int8", kappa=kappa, seed=0)
            mem.write(np.zeros(8, np.uint8), weight=100)
            mem.write(np.zeros(8, np.uint8), weight=100)
            assert mem.counters.min() == low


@pytest.mark.kernel
@pytest.mark.parametrize("n_queries", [3, TILED_MIN_QUERIES + 5])
def test_serial_and_parallel_are_identical(n_queries):
    # The z read's float sums do not depend on the threads (location order).
    def run(parallel):
        mem = fastsdm.SDM(200, 3000, radius=90, counter_dtype="int16", kappa=30, seed=4)
        keys = fastsdm.random_addresses(40, 200, seed=5)
        mem.write(keys, distance_weights=np.arange(91) % 4 - 1, weight=5, parallel=parallel)
        q = keys[:n_queries]
        return mem.counters.copy(), mem.read_sums(q, z=1.7, parallel=parallel)

    c0, s0 = run(False)
    c1, s1 = run(True)
    np.testing.assert_array_equal(c0, c1)
    np.testing.assert_array_equal(s0, s1)


@pytest.mark.slow
@pytest.mark.parametrize("simd", [v for v in _jit.SIMD_VARIANTS if v != _jit.SIMD])
def test_the_other_vector_variant_of_the_fused_kernels(monkeypatch, simd):
    # Both vector variants of the fused weighted kernels agree with the reference.
    monkeypatch.setattr(_jit, "SIMD", simd)
    rng = np.random.default_rng(9)
    mem = fastsdm.SDM(130, 200, radius=60, kappa=20, ties="zero", seed=2)
    naive = _naive_for(mem)
    keys = rng.integers(0, 2, size=(12, 130), dtype=np.uint8)
    _write_both(mem, naive, keys, keys, fused=True, distance_weights=np.arange(61) % 5 - 1)
    _check_reads(mem, naive, keys, 0.75, fused=True)
    assert _kw.WEIGHTED_WRITE[simd].signatures and _kw.Z_READ[simd].signatures


def test_z_one_is_the_plain_read_bit_for_bit():
    mem = fastsdm.SDM(100, 2000, radius=42, seed=0)
    keys = fastsdm.random_addresses(30, 100, seed=1)
    mem.write(keys)
    for q in (keys[:2], keys):  # CSR and fused
        plain_sums = mem.read_sums(q)
        for z in (1, 1.0, np.float32(1)):
            np.testing.assert_array_equal(mem.read_sums(q, z=z), plain_sums)
            assert mem.read_sums(q, z=z).dtype == np.int64
        a = fastsdm.SDM(100, 2000, radius=42, seed=0)
        b = fastsdm.SDM(100, 2000, radius=42, seed=0)
        a.counters[:] = b.counters[:] = mem.counters
        np.testing.assert_array_equal(a.read(q, z=1), b.read(q))  # same tie draws too
    # z != 1 changes the sums: a test of the option, not of the default
    assert not np.array_equal(mem.read_sums(keys, z=2), mem.read_sums(keys))


def test_iterated_z_reads():
    mem = fastsdm.SDM(64, 1500, radius=26, ties="zero", seed=0)
    naive = _naive_for(mem)
    patterns = fastsdm.random_addresses(12, 64, seed=1)
    mem.write(patterns)
    naive.c[:] = mem.counters
    cues = fastsdm.flip_bits(patterns, 64, 6, seed=2)
    out, info = mem.read(cues, iterations=6, z=2, return_info=True)
    for cue, got, steps in zip(unpack(cues, 64), unpack(out, 64), info.steps, strict=True):
        x = cue
        for _ in range(steps):
            x = naive.read(x, np.zeros(64), 2)
        np.testing.assert_array_equal(got, x)


def test_power_table_is_libm_pow():
    table = _weights.power_table("int8", 0.5)
    assert table[128] == 0 and table[128 + 4] == 2.0 and table[0] == -(128**0.5)
    assert not table.flags.writeable


def test_default_operations_never_reach_the_weighted_kernels(monkeypatch):
    # The default write and read never call fastsdm._weights (so its kernels
    # are never compiled for them); the options do.
    def refuse(*args, **kwargs):
        raise AssertionError("a default operation reached fastsdm._weights")

    for name in ("write", "read_words"):  # z=1 is only validated (check_z), then plain
        monkeypatch.setattr(_weights, name, refuse)
    mem = fastsdm.SDM(64, 100, radius=24, seed=0)
    x = mem.addresses[:TILED_MIN_QUERIES]
    for batch in (x, x[:2]):  # fused and CSR
        mem.write(batch)
        mem.read(batch, iterations=2)
        mem.read(batch, z=None)
        mem.read(batch, z=1)
        mem.read_sums(batch)
    with pytest.raises(AssertionError, match="reached fastsdm._weights"):
        mem.read(x, z=2)
    with pytest.raises(AssertionError, match="reached fastsdm._weights"):
        mem.write(x, distance_weights=[1] * 25)


# -- persistence --------------------------------------------------------------------------


def test_kappa_is_saved_and_loaded(tmp_path):
    mem = fastsdm.SDM(64, 100, radius=24, counter_dtype="int8", kappa=7, seed=0)
    mem.write(mem.addresses[:10], weight=3)
    path = mem.save(tmp_path / "m")
    assert json.loads((path / "fastsdm.json").read_text())["kappa"] == 7
    back = fastsdm.SDM.load(path)
    assert back.kappa == 7 and repr(back) == repr(mem)
    back.write(mem.addresses[:10], weight=3)
    assert back.counters.max() == 7
    plain = fastsdm.SDM(64, 100, radius=24, seed=0)
    path = plain.save(tmp_path / "plain")
    assert "kappa" not in json.loads((path / "fastsdm.json").read_text())  # old readers read it
    assert fastsdm.SDM.load(path).kappa is None


def test_a_memory_saved_before_kappa_loads_unchanged(tmp_path):
    # tests/data/sdm_saved_before_kappa was saved by fastsdm at commit 70f2bd1
    # (before issue 16): SDM(64, 40, radius=24, counter_dtype="int8", seed=3),
    # 10 writes of random_addresses(10, 64, seed=4) with weight=5.
    path = shutil.copytree(DATA / "sdm_saved_before_kappa", tmp_path / "m")
    back = fastsdm.SDM.load(path)
    assert back.kappa is None and back.counters.any()
    mem = fastsdm.SDM(64, 40, radius=24, counter_dtype="int8", seed=3)
    mem.write(fastsdm.random_addresses(10, 64, seed=4), weight=5)
    assert repr(back) == repr(mem)
    np.testing.assert_array_equal(back.counters, mem.counters)
    np.testing.assert_array_equal(back.addresses, mem.addresses)
    assert back._tie_rng.bit_generator.state == mem._tie_rng.bit_generator.state


@pytest.mark.parametrize(("kappa", "match"), [
    (True, "kappa must be an integer or null, got bool True"),
    (5.0, "kappa must be an integer or null, got float 5.0"),
    ("5", "kappa must be an integer or null, got str '5'"),
    (0, r"kappa must be in \[1, 32767\], got 0"),
    (40000, r"kappa must be in \[1, 32767\], got 40000"),
])
def test_a_saved_kappa_is_checked(tmp_path, kappa, match):
    path = fastsdm.SDM(64, 10, radius=24, kappa=3, seed=0).save(tmp_path / "m")
    meta = json.loads((path / "fastsdm.json").read_text())
    (path / "fastsdm.json").write_text(json.dumps({**meta, "kappa": kappa}))
    with pytest.raises(ValueError, match=match) as info:
        fastsdm.SDM.load(path)
    assert str(path / "fastsdm.json") in str(info.value)


def test_a_null_kappa_in_a_file_is_no_kappa(tmp_path):
    path = fastsdm.SDM(64, 10, radius=24, seed=0).save(tmp_path / "m")
    meta = json.loads((path / "fastsdm.json").read_text())
    # A hand-written (or older) description without fastsdm's own checksum.
    meta.pop("description_crc32")
    (path / "fastsdm.json").write_text(json.dumps({**meta, "kappa": None}))
    assert fastsdm.SDM.load(path).kappa is None


def test_sharded_memories_refuse_the_options():
    # ShardedSDM does not take the options: each keyword is refused by name
    # (an instance without a cluster suffices: the call fails on its keywords).
    from fastsdm._locking import RWLock
    from fastsdm.distributed import ShardedSDM

    with pytest.raises(TypeError, match="unexpected keyword argument 'kappa'"):
        ShardedSDM(64, 100, radius=24, kappa=3)
    sharded = ShardedSDM.__new__(ShardedSDM)
    sharded._lock = RWLock()
    with pytest.raises(TypeError, match="unexpected keyword argument 'distance_weights'"):
        sharded.write(np.zeros(64, np.uint8), distance_weights=[1] * 25)
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        sharded.read(np.zeros(64, np.uint8), z=2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        sharded.read_sums(np.zeros(64, np.uint8), z=2)


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.nojit
@pytest.mark.parametrize(("table", "error", "match"), [
    ([1] * 24, ValueError, r"distance_weights must be 1-D of length 25 or 65 \(entry h weighs"),
    ([[1] * 25], ValueError, r"length 25 or 65 .*got shape \(1, 25\)"),
    (np.ones(25, bool), TypeError, "distance_weights must hold integers, got an array of "
                                   "dtype bool"),
    (["a"] * 25, TypeError, "must hold integers, got an array of dtype <U1"),
    (3, TypeError, "distance_weights must be a 1-D sequence .* pass weight= for one weight"),
    ("abc", TypeError, "distance_weights must be a 1-D sequence"),
    (np.full(25, 0.5), ValueError, "distance_weights must hold whole numbers, got 0.5"),
    (np.full(25, np.nan), ValueError, "whole numbers, got nan"),
    (np.full(25, 2.0**40), ValueError, r"weight \* distance_weights\[h\] must lie in"),
    (np.full(25, 2**31), ValueError, r"must lie in \[-2147483647, 2147483647\].* of "
                                     "2147483648"),
    (np.full(25, 1e300), ValueError, r"largest \|distance_weights\[h\]\| of 1.00e\+300; "),
])
def test_bad_distance_weights(table, error, match):
    mem = fastsdm.SDM(64, 10, radius=24, seed=0)
    with pytest.raises(error, match=match):
        mem.write(mem.addresses[0], distance_weights=table)
    assert not mem.counters.any()


@pytest.mark.nojit
def test_distance_weights_products_and_k_nearest_lengths():
    mem = fastsdm.SDM(64, 10, radius=24, seed=0)
    with pytest.raises(ValueError, match=r"got weight=3 and a largest \|distance_weights\[h\]\| "
                                         "of 1000000000"):
        mem.write(mem.addresses[0], weight=3, distance_weights=[10**9] * 25)
    mem.write(mem.addresses[0], weight=2, distance_weights=[10**9] * 25)  # 2e9 < 2**31
    knn = fastsdm.SDM(64, 10, k_nearest=3, seed=0)
    with pytest.raises(ValueError, match=r"length 65 \(k-nearest locations may lie at any "
                                         "distance"):
        knn.write(knn.addresses[0], distance_weights=[1] * 25)
    full = fastsdm.SDM(64, 10, radius=64, seed=0)  # radius + 1 == n_bits + 1: one length
    with pytest.raises(ValueError, match=r"length 65 \(entry h"):
        full.write(full.addresses[0], distance_weights=[1] * 64)


@pytest.mark.nojit
@pytest.mark.parametrize(("z", "error", "match"), [
    (0, ValueError, r"z must be .*\(0, inf\).*got 0"),
    (-1.5, ValueError, r"z must be .*got -1.5"),
    (float("nan"), ValueError, "z must be"),
    (float("inf"), ValueError, "z must be"),
    (True, TypeError, "z must be a real number, got bool"),
    ("2", TypeError, "z must be a real number, got str"),
])
def test_bad_z(z, error, match):
    mem = fastsdm.SDM(64, 10, radius=24, seed=0)
    with pytest.raises(error, match=match):
        mem.read(mem.addresses[0], z=z)
    with pytest.raises(error, match=match):
        mem.read_sums(mem.addresses[0], z=z)


@pytest.mark.nojit
def test_z_whose_sums_could_overflow_is_refused():
    # 10 int8 locations: N * 128 ** z < 2**1023 needs z < (1023 - log2 10) / 7 = 145.7.
    mem = fastsdm.SDM(64, 10, radius=64, counter_dtype="int8", ties="zero", seed=0)
    mem.write(mem.addresses[:2], weight=127)
    assert np.isfinite(mem.read_sums(mem.addresses[0], z=145)).all()
    with pytest.raises(ValueError, match=r"z must be below 145.7 for this memory \(int8 "
                                         r"counters, 10 locations\): with z=146, sums"):
        mem.read(mem.addresses[0], z=146)
    big = fastsdm.SDM(64, 10, radius=64, counter_dtype="int32", seed=0)
    with pytest.raises(ValueError, match="z must be below 32.89"):
        big.read_sums(big.addresses[0], z=33)


def test_a_memory_pickled_before_kappa_unpickles_without_it():
    import pickle

    mem = fastsdm.SDM(64, 10, radius=24, seed=0)
    state = mem.__getstate__()
    del state["kappa"]
    back = fastsdm.SDM.__new__(fastsdm.SDM)
    back.__setstate__(state)
    assert back.kappa is None
    back.write(mem.addresses[0])
    assert pickle.loads(pickle.dumps(back)).kappa is None


@pytest.mark.nojit
@pytest.mark.parametrize(("dtype", "kappa", "error", "match"), [
    ("int8", 0, ValueError, r"kappa must be in \[1, 127\], got 0; counters are kept within "
                            r"\[-kappa, kappa\] and int8 counters hold at most 127"),
    ("int8", 128, ValueError, r"kappa must be in \[1, 127\], got 128"),
    ("int16", 32768, ValueError, r"kappa must be in \[1, 32767\]"),
    ("int32", 2**31, ValueError, r"kappa must be in \[1, 2147483647\]"),
    ("int16", 5.0, TypeError, "kappa must be an integer, got float 5.0"),
    ("int16", True, TypeError, "kappa must be an integer, got bool"),
])
def test_bad_kappa(dtype, kappa, error, match):
    with pytest.raises(error, match=match):
        fastsdm.SDM(64, 10, radius=24, counter_dtype=dtype, kappa=kappa)


def test_the_hyperplane_rule_refuses_kappa_and_distance_weights():
    with pytest.raises(ValueError, match="kappa works with the radius and k_nearest rules"):
        fastsdm.SDM(64, 100, activation="hyperplane", selected=3, kappa=5, seed=0)
    mem = fastsdm.SDM(64, 100, activation="hyperplane", selected=3, seed=0)
    with pytest.raises(ValueError, match="a hyperplane memory has no location addresses"):
        mem.write(fastsdm.random_addresses(1, 64, seed=1), distance_weights=[1] * 65)
    assert not mem.counters.any()
    # z reads need no distances: they work with the hyperplane rule.
    x = fastsdm.random_addresses(1, 64, seed=1)
    mem.write(x, weight=3)
    plain = mem.read_sums(x)  # counters of +-3: each adds +-9 at z = 2
    assert np.abs(plain).sum() > 0
    assert np.array_equal(mem.read_sums(x, z=2), 3.0 * plain)
