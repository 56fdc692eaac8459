import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastsdm
from fastsdm import memory
from tests.reference import NaiveSDM, unpack


def _naive_for(mem):
    bits = unpack(mem.addresses, mem.n_bits)
    return NaiveSDM(bits, mem.n_data_bits, radius=mem.radius, k_nearest=mem.k_nearest,
                    dtype=mem.counter_dtype)


@pytest.mark.nojit
def test_reference_worked_examples():
    # REFERENCE.md section 1: a write onto given counters, and a read of given counters.
    addresses = np.zeros((1, 7), np.uint8)
    mem = fastsdm.SDM(7, addresses=fastsdm.pack_bits(addresses), radius=0, ties="zero")
    mem.counters[0] = [6, -3, 12, -1, 0, 2, 4]
    mem.write(np.zeros(7, np.uint8), data=np.array([0, 1, 1, 0, 1, 0, 0], np.uint8))
    assert mem.counters[0].tolist() == [5, -2, 13, -2, 1, 1, 3]

    mem = fastsdm.SDM(5, addresses=np.zeros((4, 1), np.uint64), radius=0, ties="zero")
    mem.counters[:] = [[-2, 12, 4, 0, -3], [-5, -4, 2, 8, -2], [-1, 0, -1, -2, -1],
                       [3, 2, -1, 3, 1]]
    q = np.zeros(5, np.uint8)
    # REFERENCE.md prints the sums as [-5, 10, 4, 3, -5]; column 3 adds up to
    # 0 + 8 - 2 + 3 = 9 (a slip there).  The read, 01110, is the same.
    assert mem.read_sums(q).tolist() == [-5, 10, 4, 9, -5]
    assert mem.read(q).tolist() == [0, 1, 1, 1, 0]


@pytest.mark.kernel
@pytest.mark.parametrize("activation", [{"radius": 30}, {"radius": 0}, {"radius": 70},
                                        {"k_nearest": 7}])
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32"])
@pytest.mark.nojit
def test_sdm_matches_naive_reference(activation, dtype):
    rng = np.random.default_rng(1)
    mem = fastsdm.SDM(70, 300, counter_dtype=dtype, ties="zero", seed=2, **activation)
    naive = _naive_for(mem)
    data = rng.integers(0, 2, size=(25, 70), dtype=np.uint8)
    keys = rng.integers(0, 2, size=(25, 70), dtype=np.uint8)
    mem.write(keys, data, weight=3)
    for k, d in zip(keys, data, strict=True):
        naive.write(k, d, weight=3)
    np.testing.assert_array_equal(mem.counters, naive.c)
    queries = rng.integers(0, 2, size=(12, 70), dtype=np.uint8)
    np.testing.assert_array_equal(mem.read_sums(queries), [naive.sums(x) for x in queries])
    np.testing.assert_array_equal(mem.read(queries),
                                  [naive.read(x, np.zeros(70)) for x in queries])
    indptr, indices = mem.activate(queries)
    for i, x in enumerate(queries):
        np.testing.assert_array_equal(indices[indptr[i] : indptr[i + 1]], np.sort(naive.active(x)))


@pytest.mark.kernel
@settings(deadline=None, max_examples=25)
@given(n=st.integers(1, 130), N=st.integers(1, 60), m=st.integers(1, 30),
       dtype=st.sampled_from(["int8", "int16"]), weight=st.integers(-300, 300),
       seed=st.integers(0, 2**32 - 1))
def test_batched_write_equals_sequential_writes(n, N, m, dtype, weight, seed):
    rng = np.random.default_rng(seed)
    radius = int(rng.integers(0, n + 1))
    batched = fastsdm.SDM(n, N, radius=radius, counter_dtype=dtype, seed=seed)
    one_by_one = fastsdm.SDM(n, N, radius=radius, counter_dtype=dtype, seed=seed)
    keys = fastsdm.random_addresses(m, n, rng)
    keys[m // 2 :] = keys[0]  # repeated writes reach saturation with large weights
    batched.write(keys, weight=weight)
    for k in keys:
        one_by_one.write(k, weight=weight)
    np.testing.assert_array_equal(batched.counters, one_by_one.counters)


@pytest.mark.kernel
def test_serial_and_parallel_writes_and_reads_are_identical():
    kwargs = dict(n_bits=128, n_locations=3000, radius=56, counter_dtype="int8", seed=5)
    a, b = fastsdm.SDM(**kwargs, ties="zero"), fastsdm.SDM(**kwargs, ties="zero")
    keys = fastsdm.random_addresses(600, 128, seed=6)
    keys[300:] = keys[:300]  # the same rows hit twice in one batch
    a.write(keys, weight=50, parallel=False)
    b.write(keys, weight=50, parallel=True)
    np.testing.assert_array_equal(a.counters, b.counters)
    assert (np.abs(a.counters) == 127).any() or (a.counters == -128).any()
    np.testing.assert_array_equal(a.read(keys[:200], parallel=False),
                                  b.read(keys[:200], parallel=True))


@pytest.mark.nojit
def test_counters_saturate_never_wrap():
    mem = fastsdm.SDM(64, 50, radius=64, counter_dtype="int8", seed=0)
    x = fastsdm.random_addresses(1, 64, seed=1)
    mem.write(np.repeat(x, 300, axis=0))
    bits = unpack(x, 64)[0]
    assert (mem.counters[:, bits == 1] == 127).all()
    assert (mem.counters[:, bits == 0] == -128).all()
    # a peer library wraps 201 increments of int8 to -55; and from the bottom:
    mem.write(np.repeat(x, 201, axis=0), weight=-1)
    assert (mem.counters[:, bits == 1] == -74).all()
    mem.write(x, weight=2**31 - 1)
    assert (mem.counters[:, bits == 1] == 127).all()
    np.testing.assert_array_equal(mem.read(mem.addresses[:3]), np.repeat(x, 3, axis=0))


@pytest.mark.kernel
@pytest.mark.parametrize("n_queries", [3, 16])  # CSR gather / fused scan-and-sum
@pytest.mark.parametrize("parallel", [False, True])
def test_int8_sums_over_many_rows_are_exact(parallel, n_queries):
    # int8 rows are summed in int16 blocks of 256 rows: the extremes must not wrap.
    mem = fastsdm.SDM(8, 1000, radius=8, counter_dtype="int8", ties="zero", seed=0)
    mem.counters[:, :4] = -128
    mem.counters[:, 4:] = 127
    mem.counters[::3, 7] = -1
    expected = [-128_000] * 4 + [127_000] * 3 + [334 * -1 + 666 * 127]
    q = np.zeros((n_queries, 8), np.uint8)
    assert (mem.read_sums(q, parallel=parallel) == expected).all()


@pytest.mark.kernel
@pytest.mark.parametrize("counter_dtype", ["int8", "int16", "int32"])
@pytest.mark.parametrize("parallel", [False, True])
def test_fused_reads_add_rows_in_batches_exactly(counter_dtype, parallel):
    # A fused read adds each query's rows eight at a time (int8: into int16 sums
    # flushed every 256 rows) and the remainder one by one: every count of rows
    # mod 8, across the flushes, at the counters' extremes and in between.
    # 150 counters a row: whole 512-bit vectors and a masked rest for every dtype.
    # Oracle: distances by np.bitwise_count, sums in int64 NumPy.
    from fastsdm._kernels import counters

    batch = getattr(counters.pending_rows, "py_func", counters.pending_rows)
    assert len(batch(np.arange(counters.ROWS_AT_ONCE))) == counters.ROWS_AT_ONCE
    rng = np.random.default_rng(5)
    mem = fastsdm.SDM(20, 3001, radius=8, n_value_bits=150, counter_dtype=counter_dtype,
                      seed=1)
    info = np.iinfo(counter_dtype)
    mem.counters[:] = rng.integers(info.min, info.max, mem.counters.shape, endpoint=True)
    mem.counters[::7] = info.min
    mem.counters[1::7] = info.max
    queries = fastsdm.random_addresses(41, 20, seed=2)
    near = np.bitwise_count(queries[:, None, 0] ^ mem.addresses[None, :, 0]) <= 8
    counts = near.sum(1)
    assert len(set(counts % 8)) == 8 and counts.max() > 256  # every remainder, past a flush
    expected = near.astype(np.int64) @ mem.counters.astype(np.int64)
    np.testing.assert_array_equal(mem.read_sums(queries, parallel=parallel), expected)


@pytest.mark.parametrize("n_queries", [1, 8])
def test_wide_counters_do_not_overflow_the_sum(n_queries):
    mem = fastsdm.SDM(8, 40000, radius=8, counter_dtype="int32", ties="zero", seed=0)
    mem.counters[:] = 2**31 - 1
    sums = mem.read_sums(np.zeros((n_queries, 8), np.uint8))
    assert sums.tolist() == [[40000 * (2**31 - 1)] * 8] * n_queries


@pytest.mark.kernel
@pytest.mark.parametrize("n,N", [(1, 40), (64, 900), (130, 700), (300, 600), (600, 1100),
                                 (1000, 2000)])
@pytest.mark.parametrize("parallel", [False, True])
def test_fused_scan_and_update_equals_csr_path(n, N, parallel):
    # A batch of >= 8 radius queries scans and updates in one kernel; single
    # queries activate (CSR) first.  Both must give the same counters, sums
    # and reads, saturation and wide weights included.
    rng = np.random.default_rng(n)
    radius = n // 2 - max(1, n // 20) if n > 1 else 0
    for dtype, weight in (("int8", 1), ("int8", 90), ("int16", 40_000), ("int32", -7)):
        fused = fastsdm.SDM(n, N, radius=radius, counter_dtype=dtype, ties="zero", seed=3)
        csr = fastsdm.SDM(n, N, radius=radius, counter_dtype=dtype, ties="zero", seed=3)
        keys = fastsdm.random_addresses(40, n, rng)
        keys[30:] = keys[0]
        data = fastsdm.random_addresses(40, n, rng)
        fused.write(keys, data, weight=weight, parallel=parallel)
        for k, d in zip(keys, data, strict=True):
            csr.write(k, d, weight=weight, parallel=parallel)
        np.testing.assert_array_equal(fused.counters, csr.counters)
        assert fused.counters.any()
        np.testing.assert_array_equal(fused.read_sums(keys, parallel=parallel),
                                      [csr.read_sums(k, parallel=parallel) for k in keys])
        np.testing.assert_array_equal(fused.read(keys, parallel=parallel),
                                      [csr.read(k, parallel=parallel) for k in keys])


@pytest.mark.parametrize("ties,expected", [("zero", 0), ("one", 1)])
@pytest.mark.nojit
def test_tie_policies(ties, expected):
    mem = fastsdm.SDM(100, 10, radius=100, ties=ties, seed=0)
    q = fastsdm.random_addresses(3, 100, seed=1)
    assert (unpack(mem.read(q), 100) == expected).all()


@pytest.mark.nojit
@pytest.mark.parametrize("ties,expected", [("zero", 0), ("one", 1)])
def test_ties_cover_data_wider_than_addresses(ties, expected):
    # The tie bits once had the address's width: reads of wider data ran past them.
    mem = fastsdm.SDM(64, 100, radius=64, n_data_bits=200, ties=ties, seed=0)
    assert (mem.read(np.zeros(64, np.uint8)) == expected).all()
    mem = fastsdm.SDM(64, 100, radius=64, n_data_bits=200, seed=0)
    assert 60 < mem.read(np.zeros(64, np.uint8)).sum() < 140  # random ties over all 200 bits


def test_tie_policy_keep_and_random():
    q = fastsdm.random_addresses(4, 100, seed=1)
    keep = fastsdm.SDM(100, 10, radius=100, ties="keep", seed=0)
    np.testing.assert_array_equal(keep.read(q), q)
    a = fastsdm.SDM(100, 10, radius=100, ties="random", seed=3)
    b = fastsdm.SDM(100, 10, radius=100, ties="random", seed=3)
    ra, rb = a.read(q), b.read(q)
    np.testing.assert_array_equal(ra, rb)  # seeded
    ones = unpack(ra, 100).mean()
    assert 0.35 < ones < 0.65
    assert (a.read(q) != ra).any()  # the stream advances


@pytest.mark.nojit
def test_output_representation_follows_input():
    mem = fastsdm.SDM(70, 500, radius=30, seed=0)
    words = fastsdm.random_addresses(3, 70, seed=1)
    mem.write(words)
    bits = unpack(words, 70)
    for x in (bits.astype(bool), bits.astype(np.int64), bits):
        out = mem.read(x)
        assert out.dtype == x.dtype and out.shape == x.shape
        np.testing.assert_array_equal(fastsdm.pack_bits(out), mem.read(words))
        assert mem.read(x[0]).shape == (70,)
    assert mem.read(words[0]).shape == (2,) and mem.read(words[0]).dtype == np.uint64


@pytest.mark.nojit
def test_heteroassociative_memory():
    mem = fastsdm.SDM(100, 2000, radius=40, n_data_bits=30, seed=0)
    keys = fastsdm.random_addresses(20, 100, seed=1)
    values = fastsdm.random_addresses(20, 30, seed=2)
    mem.write(keys, values)
    assert mem.counters.shape == (2000, 30)
    np.testing.assert_array_equal(mem.read(fastsdm.flip_bits(keys, 100, 5, seed=3)), values)


def test_iterated_reads_stop_at_fixed_points():
    mem = fastsdm.SDM(256, 20000, radius=112, seed=0)
    patterns = fastsdm.random_addresses(30, 256, seed=1)
    mem.write(patterns)
    cues = fastsdm.flip_bits(patterns, 256, 40, seed=2)
    out, info = mem.read(cues, iterations=20, return_info=True)
    np.testing.assert_array_equal(out, patterns)
    assert info.converged.all()
    assert (info.steps >= 2).all()  # one step to arrive, one to confirm
    # each query stopped at its own fixed point: one more read changes nothing
    np.testing.assert_array_equal(mem.read(out), out)
    single = mem.read(cues, iterations=1, return_info=True)[1]
    assert (single.steps == 1).all() and not single.converged.any()
    capped = mem.read(cues, iterations=2, return_info=True)[1]
    assert (capped.steps <= 2).all()


@pytest.mark.slow
def test_canonical_memory_at_reduced_size():
    """Kanerva's n=1000, d=451 with int8 counters; N and m scaled down tenfold and
    twentyfold.  Exact recall from 100 and 150 flipped bits; far cues diverge."""
    mem = fastsdm.SDM(1000, 100_000, radius=451, counter_dtype="int8", seed=0)
    patterns = fastsdm.random_addresses(500, 1000, seed=1)
    mem.write(patterns)
    expected_active = 100_000 * fastsdm.theory.activation_probability(1000, 451)
    assert abs(np.diff(mem.activate(patterns[:50])[0]).mean() - expected_active) < 5 * 1.1
    for noise in (100, 150):
        cues = fastsdm.flip_bits(patterns[:64], 1000, noise, seed=noise)
        out = mem.read(cues, iterations=30)
        assert (fastsdm.hamming_distances(out, patterns[:64]).diagonal() == 0).all()
    cues = fastsdm.flip_bits(patterns[:64], 1000, 350, seed=350)
    final = fastsdm.hamming_distances(mem.read(cues, iterations=30), patterns[:64]).diagonal()
    assert final.mean() > 350 and (final == 0).mean() < 0.25


@pytest.mark.nojit
def test_activation_probability_uses_the_paper_convention():
    assert fastsdm.SDM(1000, 10, activation_probability=1 / 1000, seed=0).radius == 451
    p451 = fastsdm.theory.activation_probability(1000, 451)
    assert fastsdm.SDM(1000, 10, activation_probability=p451, seed=0).radius == 451
    assert fastsdm.SDM(1000, 10, activation_probability=p451 * (1 + 1e-9), seed=0).radius == 452
    assert fastsdm.SDM(256, 10, activation_probability=1 / 1000, seed=0).radius == 103


def test_seeds_reproduce_addresses_in_blocks(monkeypatch):
    monkeypatch.setattr(memory, "ADDRESS_BLOCK", 64)
    a = fastsdm.SDM(100, 1000, radius=40, seed=7)
    b = fastsdm.SDM(100, 1000, radius=40, seed=7)
    np.testing.assert_array_equal(a.addresses, b.addresses)
    part = memory.generate_addresses(7, 1000, 100, start=130, stop=700)
    np.testing.assert_array_equal(part, a.addresses[130:700])
    fresh = fastsdm.SDM(100, 10, radius=40)
    again = fastsdm.SDM(100, 10, radius=40, seed=fresh.seed)
    np.testing.assert_array_equal(fresh.addresses, again.addresses)


@pytest.mark.nojit
def test_edge_sizes():
    empty = fastsdm.SDM(10, 0, radius=5, ties="one")
    assert empty.read(np.zeros(10, np.uint8)).tolist() == [1] * 10
    empty.write(np.zeros(10, np.uint8))
    one = fastsdm.SDM(1, 1, radius=0, ties="zero", seed=0)
    one.write(one.addresses)
    np.testing.assert_array_equal(one.read(one.addresses), one.addresses)


@pytest.mark.nojit
def test_save_load_roundtrip_is_bit_identical(tmp_path):
    mem = fastsdm.SDM(100, 500, radius=45, counter_dtype="int8", seed=3, n_data_bits=40)
    keys = fastsdm.random_addresses(30, 100, seed=4)
    mem.write(keys, fastsdm.random_addresses(30, 40, seed=5), weight=7)
    mem.read(keys)  # advance the tie stream
    path = mem.save(tmp_path / "m")
    back = fastsdm.SDM.load(path)
    for name in ("n_bits", "n_locations", "n_data_bits", "radius", "k_nearest", "ties", "seed"):
        assert getattr(back, name) == getattr(mem, name)
    assert back.counters.dtype == np.int8
    np.testing.assert_array_equal(back.addresses, mem.addresses)
    np.testing.assert_array_equal(back.counters, mem.counters)
    np.testing.assert_array_equal(back.read(keys), mem.read(keys))  # same tie stream
    assert repr(back) == repr(mem)


def test_mmap_load_writes_through(tmp_path):
    mem = fastsdm.SDM(64, 200, k_nearest=10, seed=0)
    path = mem.save(tmp_path / "m")
    mapped = fastsdm.SDM.load(path, mmap=True)
    assert isinstance(mapped.counters, np.memmap)
    mapped.write(mapped.addresses[:5])
    mapped.flush()
    back = fastsdm.SDM.load(path)  # verifies the checksum flush() recorded
    np.testing.assert_array_equal(back.counters, mapped.counters)
    assert back.counters.any()
    with pytest.raises(ValueError, match="flush\\(\\) is for memories loaded with mmap"):
        back.flush()
    readonly = fastsdm.SDM.load(path, mmap="r")
    with pytest.raises(ValueError, match="read-only"):
        readonly.write(readonly.addresses[:1])


def test_save_refuses_to_clobber(tmp_path):
    mem = fastsdm.SDM(8, 4, radius=2, seed=0)
    mem.save(tmp_path / "m")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        mem.save(tmp_path / "m")
    mem.save(tmp_path / "m", overwrite=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not a saved fastsdm memory"):
        mem.save(tmp_path / "other", overwrite=True)


def _saved(tmp_path):
    mem = fastsdm.SDM(64, 100, radius=20, seed=0)
    mem.write(mem.addresses[:10])
    return mem.save(tmp_path / "m")


@pytest.mark.nojit
def test_load_refuses_corrupt_truncated_and_foreign_files(tmp_path):
    path = _saved(tmp_path)
    counters = path / "counters.npy"
    raw = bytearray(counters.read_bytes())
    raw[-1] ^= 0xFF
    counters.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="fails its checksum"):
        fastsdm.SDM.load(path)
    counters.write_bytes(bytes(raw[: len(raw) // 2]))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        fastsdm.SDM.load(path)
    (path / "counters.npy").unlink()
    with pytest.raises(ValueError, match="counters.npy is missing"):
        fastsdm.SDM.load(path)

    path = _saved(tmp_path / "b")
    meta = json.loads((path / "fastsdm.json").read_text())
    (path / "fastsdm.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ValueError, match="format version 99"):
        fastsdm.SDM.load(path)
    (path / "fastsdm.json").write_text(json.dumps({**meta, "format": "something.else"}))
    with pytest.raises(ValueError, match="does not describe a fastsdm.SDM memory"):
        fastsdm.SDM.load(path)
    (path / "fastsdm.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        fastsdm.SDM.load(path)
    del meta["seed"]
    (path / "fastsdm.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"lacks \['seed'\]"):
        fastsdm.SDM.load(path)
    with pytest.raises(ValueError, match="no fastsdm.json"):
        fastsdm.SDM.load(tmp_path / "nowhere")


def test_load_never_unpickles(tmp_path):
    path = _saved(tmp_path)
    np.save(path / "counters.npy", np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        fastsdm.SDM.load(path)
    (path / "counters.npy").write_bytes(pickle.dumps({"evil": True}))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        fastsdm.SDM.load(path)


def test_load_checks_shapes_against_metadata(tmp_path):
    path = _saved(tmp_path)
    np.save(path / "counters.npy", np.zeros((3, 3), np.int16))
    with pytest.raises(ValueError, match="the memory is corrupt"):
        fastsdm.SDM.load(path, verify=False)


@pytest.mark.nojit
def test_memory_estimate_and_refusal(monkeypatch):
    assert fastsdm.SDM.estimate_nbytes(1000, 10**6, counter_dtype="int8") == 10**6 * (128 + 1000)
    monkeypatch.setattr(memory, "_available_memory", lambda: 10**6)
    # int8 would not fit either (1,128,000 bytes): say how many locations do.
    with pytest.raises(MemoryError, match=r"needs 2128000 bytes .* use fewer locations: about "
                                          r"886 fit with counter_dtype='int8', or save"):
        fastsdm.SDM(1000, 1000, radius=451)
    with pytest.raises(MemoryError, match="use fewer locations: about 886 fit, or save"):
        fastsdm.SDM(1000, 2000, radius=451, counter_dtype="int8")
    # int8 fits: suggest it.
    monkeypatch.setattr(memory, "_available_memory", lambda: 1_500_000)
    with pytest.raises(MemoryError, match=r"use counter_dtype='int8' \(it fits\), or save"):
        fastsdm.SDM(1000, 1000, radius=451)


@pytest.mark.nojit
def test_constructor_errors():
    with pytest.raises(ValueError, match="exactly one of radius, activation_probability and "
                                         "k_nearest"):
        fastsdm.SDM(10, 10)
    with pytest.raises(ValueError, match="exactly one of"):
        fastsdm.SDM(10, 10, radius=3, k_nearest=2)
    with pytest.raises(ValueError, match=r"radius must be in \[0, 10\]"):
        fastsdm.SDM(10, 10, radius=11)
    with pytest.raises(ValueError, match=r"k_nearest must be in \[1, 10\]"):
        fastsdm.SDM(10, 10, k_nearest=11)
    with pytest.raises(ValueError, match="k_nearest activation needs at least one location"):
        fastsdm.SDM(10, 0, k_nearest=1)
    # Refused before anything is allocated (2**31 int8 counters would be 2 GiB).
    with pytest.raises(ValueError, match=r"k_nearest activation ranks Hamming distances, which "
                                         r"fit int32 only up to 2147483647 bits .* got "
                                         r"n_bits=2147483647; use radius="):
        fastsdm.SDM(2**31 - 1, 1, k_nearest=1)
    with pytest.raises(ValueError, match="counter_dtype must be one of int8, int16, int32"):
        fastsdm.SDM(10, 10, radius=3, counter_dtype="int64")
    with pytest.raises(ValueError, match="counter_dtype must be one of"):
        fastsdm.SDM(10, 10, radius=3, counter_dtype="float")
    with pytest.raises(ValueError, match="ties must be one of"):
        fastsdm.SDM(10, 10, radius=3, ties="coin")
    with pytest.raises(ValueError, match="ties='keep' keeps the query's bit"):
        fastsdm.SDM(10, 10, radius=3, ties="keep", n_data_bits=5)
    with pytest.raises(ValueError, match=r"n_bits must be in \[1, inf\]"):
        fastsdm.SDM(0, 10, radius=0)
    with pytest.raises(ValueError, match=r"n_locations must be in \[0, inf\]"):
        fastsdm.SDM(10, -1, radius=0)
    with pytest.raises(TypeError, match="needs n_locations"):
        fastsdm.SDM(10, radius=0)
    with pytest.raises(ValueError, match="does not match the 3 addresses"):
        fastsdm.SDM(10, 4, radius=0, addresses=np.zeros((3, 1), np.uint64))
    # n_locations is checked even when it matches the addresses' count by value.
    with pytest.raises(TypeError, match="n_locations must be an integer"):
        fastsdm.SDM(10, 3.0, radius=0, addresses=np.zeros((3, 1), np.uint64))
    with pytest.raises(TypeError, match="n_locations must be an integer"):
        fastsdm.SDM(10, True, radius=0, addresses=np.zeros((1, 1), np.uint64))


def test_the_memory_keeps_its_own_copy_of_given_addresses():
    A = fastsdm.random_addresses(50, 64, seed=0)
    mem = fastsdm.SDM(64, radius=20, addresses=A, seed=0)
    assert not np.shares_memory(mem.addresses, A)
    x = A[3].copy()
    _, before = mem.activate(x)
    assert 3 in before
    A[:] = 0  # the caller reuses its buffer
    assert np.array_equal(mem.activate(x)[1], before)


@pytest.mark.nojit
def test_io_errors():
    mem = fastsdm.SDM(100, 50, radius=40, seed=0, n_data_bits=20)
    x = fastsdm.random_addresses(2, 100, seed=0)
    with pytest.raises(TypeError, match="packed uint64 words or 0/1 bits, got array of shape "
                                        r"\(2, 100\) and dtype float64"):
        mem.read(np.zeros((2, 100)))
    with pytest.raises(ValueError, match="as 0/1 bits must have 100 columns"):
        mem.read(np.zeros((2, 99), np.uint8))
    with pytest.raises(ValueError, match="queries must have 2 words per vector"):
        mem.read(np.zeros((2, 3), np.uint64))
    with pytest.raises(ValueError, match="queries is empty"):
        mem.read(x[:0])
    with pytest.raises(ValueError, match="one vector"):
        mem.read(np.zeros((1, 2, 2), np.uint64))
    with pytest.raises(ValueError, match="non-zero pad bits"):
        mem.read(x | np.uint64(2**63))
    with pytest.raises(ValueError, match="bits must be 0 or 1"):
        mem.read(np.full((1, 100), 2, np.uint8))
    with pytest.raises(ValueError, match="values are required"):
        mem.write(x)
    with pytest.raises(ValueError, match="same number of rows, got 2 and 1"):
        mem.write(x, fastsdm.random_addresses(1, 20, seed=0))
    with pytest.raises(ValueError, match="values must have 1 words per vector for n_bits=20"):
        mem.write(x, x)
    with pytest.raises(TypeError, match="weight must be an integer"):
        mem.write(x, fastsdm.random_addresses(2, 20, seed=0), weight=0.5)
    with pytest.raises(ValueError, match="iterated reads feed the result back"):
        mem.read(x, iterations=3)
    with pytest.raises(ValueError, match=r"iterations must be in \[1, inf\]"):
        mem.read(x, iterations=0)


# -- clear errors (issue 11, sections 4 and 5) ------------------------------------------


@pytest.mark.nojit
def test_n_bits_of_the_wrong_type_say_how_to_fix_it():
    with pytest.raises(TypeError, match=r"n_bits must be an integer, got float 100.0; pass "
                                        r"n_bits=100 \(an int, not a float\)"):
        fastsdm.SDM(100.0, 10, radius=3)
    with pytest.raises(TypeError, match=r"got str '100'; pass the number n_bits=100, not the "
                                        r"string '100'"):
        fastsdm.SDM("100", 10, radius=3)
    with pytest.raises(TypeError, match=r"radius must be an integer, got float 3.5; the "
                                        r"activation radius"):
        fastsdm.SDM(100, 10, radius=3.5)


def test_big_endian_words_are_never_read_as_bits():
    mem = fastsdm.SDM(100, 30, radius=40, ties="zero", seed=0)
    x = fastsdm.random_addresses(3, 100, seed=1)
    big = x.astype(">u8")
    match = r"are uint64 words in non-native \(big-endian\) byte order.*np.asarray"
    for call in (lambda: mem.write(big), lambda: mem.write(x, big), lambda: mem.read(big),
                 lambda: mem.read_sums(big), lambda: mem.activate(big),
                 lambda: fastsdm.SDM(100, radius=40, addresses=mem.addresses.astype(">u8"))):
        with pytest.raises(TypeError, match=match):
            call()
    assert not mem.counters.any()
    np.testing.assert_array_equal(mem.read(np.asarray(big, dtype=np.uint64)), mem.read(x))


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGALRM"),
                    reason="needs SIGALRM for the hang guard")
def test_an_activation_probability_for_a_million_bits_answers():
    import signal

    binom = pytest.importorskip("scipy.stats").binom

    def hang(*_):
        raise TimeoutError("SDM(10**6, 10, activation_probability=0.001) took over 60 s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)  # fastsdm 0.1.0 did not answer within minutes
    try:
        mem = fastsdm.SDM(10**6, 10, activation_probability=0.001, counter_dtype="int8", seed=0)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert mem.radius == int(binom.ppf(0.001, 10**6, 0.5)) == 498455


def test_one_vocabulary_with_the_older_spellings_still_accepted():
    # write(keys, values) and n_value_bits (issue 13 §6) beside the older
    # addresses=/data= and n_data_bits=: the same memory either way.
    keys = fastsdm.random_addresses(5, 40, seed=1)
    values = fastsdm.random_addresses(5, 24, seed=2)
    new = fastsdm.SDM(40, 300, radius=16, n_value_bits=24, seed=0)
    old = fastsdm.SDM(40, 300, radius=16, n_data_bits=24, seed=0)
    assert new.n_value_bits == new.n_data_bits == old.n_value_bits == 24
    new.write(keys=keys, values=values)
    old.write(addresses=keys, data=values)
    assert np.array_equal(new.counters, old.counters)
    new.write(keys, values)  # positional, as before
    assert np.array_equal(new.counters, 2 * old.counters)
    assert fastsdm.SDM.estimate_nbytes(40, 300, n_value_bits=24) == fastsdm.SDM.estimate_nbytes(
        40, 300, n_data_bits=24)
    with pytest.raises(TypeError, match=r"write\(\) got both values= and data="):
        new.write(keys, values=values, data=values)
    with pytest.raises(TypeError, match="got both n_value_bits= and n_data_bits="):
        fastsdm.SDM(40, 300, radius=16, n_value_bits=24, n_data_bits=24)
    # The messages and the repr speak the current vocabulary.
    assert "n_value_bits=24" in repr(new) and "n_data_bits" not in repr(new)
    with pytest.raises(ValueError, match=r"n_value_bits must be in \[1, inf\]"):
        fastsdm.SDM(40, 300, radius=16, n_value_bits=0)
    with pytest.raises(ValueError, match="needs n_value_bits == n_bits"):
        fastsdm.SDM(40, 300, radius=16, n_value_bits=24, ties="keep")
