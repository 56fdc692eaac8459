"""ContinuousSDM's scans (rows, int8, BLAS), their vector primitives, and input forms.

Every scan must give the activation of the exact float64 cosine
(``tests.test_continuous.ref_activate``), whatever path the batch size and the
CPU select; the int8 scan's bounds are checked on their own.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from numba.core import config

from fastsdm import continuous
from fastsdm._jit import jit
from fastsdm._kernels import continuous as _k
from fastsdm.continuous import ContinuousSDM
from tests.test_continuous import csr_lists, ref_activate, ref_cosines, ref_sums, unit32

kernel = pytest.mark.kernel
nojit = pytest.mark.nojit

DIM, N, Q = 24, 300, 17  # DIM % 16 != 0: the vector code's tails run too
#: The int8 scan runs under the JIT only on CPUs with AVX-512 VNNI; its plain
#: Python form (NUMBA_DISABLE_JIT=1) runs anywhere.
INT8_RUNS = _k.vnni_available() or config.DISABLE_JIT
needs_int8 = pytest.mark.skipif(not INT8_RUNS, reason="the int8 scan needs AVX-512 VNNI")
PATHS = ["rows", pytest.param("int8", marks=needs_int8), "blas"]


@pytest.fixture
def rng():
    return np.random.default_rng(777)


def use_path(monkeypatch, path):
    """Route every threshold activation through one scan."""
    monkeypatch.setattr(continuous, "ROWS_MAX_QUERIES", 10**9 if path == "rows" else 0)
    monkeypatch.setattr(continuous, "INT8_SCAN", path == "int8")


# ---------------------------------------------------------------------------
# The scans against the exact reference
# ---------------------------------------------------------------------------


@kernel
@nojit
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("kwargs", [{"radius": 10}, {"threshold": 0.3}, {"threshold": -0.2}])
def test_every_scan_matches_the_reference(path, parallel, kwargs, rng, monkeypatch):
    use_path(monkeypatch, path)
    mem = ContinuousSDM(DIM, N, seed=1, **kwargs)
    x = np.vstack([rng.standard_normal((Q, DIM)), mem.addresses[:3]])
    got = csr_lists(*mem.activate(x, parallel=parallel))
    want = ref_activate(mem, unit32(x))
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    assert sum(w.size for w in want) > Q


@kernel
@nojit
@pytest.mark.parametrize("parallel", [False, True])
def test_the_blas_scan_in_blocks_and_chunks(parallel, rng, monkeypatch):
    # The fallback's block merges (several location blocks, several query
    # chunks), which the default sizes never reach on a small memory.
    use_path(monkeypatch, "blas")
    monkeypatch.setattr(continuous, "SIMILARITY_BUDGET", 4 * 64 * 5)  # 64 locations
    monkeypatch.setattr(continuous, "QUERY_CHUNK", 5)
    mem = ContinuousSDM(DIM, N, radius=10, seed=7)
    x = rng.standard_normal((Q, DIM))
    got = csr_lists(*mem.activate(x, parallel=parallel))
    want = ref_activate(mem, unit32(x))
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


@kernel
@nojit
@pytest.mark.parametrize("path", PATHS)
def test_every_scan_decides_cosines_exactly_at_the_threshold(path, rng, monkeypatch):
    use_path(monkeypatch, path)
    addresses = rng.standard_normal((N, DIM))
    probe = ContinuousSDM(DIM, threshold=0.0, addresses=addresses)
    x = unit32(rng.standard_normal((6, DIM)))
    cos = ref_cosines(x, probe.addresses)
    for q, i in ((0, int(np.argmax(cos[0]))), (3, int(np.argsort(cos[3])[N // 2])),
                 (5, int(np.argmin(cos[5])))):
        at = ContinuousSDM(DIM, threshold=float(cos[q, i]), addresses=addresses)
        assert i in csr_lists(*at.activate(x))[q]
        above = ContinuousSDM(DIM, threshold=float(np.nextafter(cos[q, i], 2.0)),
                              addresses=addresses)
        assert i not in csr_lists(*above.activate(x))[q]


@kernel
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dim", [16, 64, 100])
def test_scans_agree_on_larger_memories(path, dim, rng, monkeypatch):
    # Several tiles and chunks, dims with and without a tail; radius 0 finds
    # the addresses themselves.
    mem = ContinuousSDM(dim, 3000, radius=dim * 0.4, seed=2)
    x = np.vstack([rng.standard_normal((40, dim)), mem.addresses[[0, 1234, 2999]]])
    want = csr_lists(*mem.activate(x))  # the default choice
    use_path(monkeypatch, path)
    for parallel in (False, True):
        got = csr_lists(*mem.activate(x, parallel=parallel))
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    assert sum(w.size for w in want) > 40
    exact = ContinuousSDM(dim, radius=0, addresses=mem.addresses)
    assert csr_lists(*exact.activate(mem.addresses[[0, 1234, 2999]])) == [[0], [1234], [2999]]


@kernel
@nojit
def test_the_rows_scan_with_every_query_count(rng, monkeypatch):
    # Four queries per pass over a row; the last window of 5, 6, 7, 9, ...
    # queries overlaps the one before.
    use_path(monkeypatch, "rows")
    mem = ContinuousSDM(DIM, N, radius=10, seed=6)
    x = rng.standard_normal((10, DIM))
    want = ref_activate(mem, unit32(x))
    for nq in range(1, 11):
        got = csr_lists(*mem.activate(x[:nq], parallel=nq % 2 == 0))
        assert all(np.array_equal(g, w) for g, w in zip(got, want[:nq], strict=True))


@kernel
@nojit
@pytest.mark.parametrize("path", ["rows", pytest.param("int8", marks=needs_int8)])
def test_a_rescan_when_activations_exceed_the_estimate(path, rng, monkeypatch):
    # Buffers are sized by an estimate, forced to zero here: 256 pairs per
    # chunk.  In the first memory every chunk overflows and is scanned
    # again.  In the second the first half of the locations cluster around
    # the queries' direction: in parallel (8 chunks) only the first half's
    # chunks are scanned again, the others' regions are kept, and the CSR
    # joins both in location order.
    use_path(monkeypatch, path)
    monkeypatch.setattr(continuous, "_expected_fraction", lambda dim, threshold: 0.0)
    monkeypatch.setattr(continuous, "_int8_tile", lambda n4: 32)  # int8: 10 tiles
    u = rng.standard_normal(DIM)
    addresses = rng.standard_normal((N, DIM))
    addresses[: N // 2] = u + 0.1 * rng.standard_normal((N // 2, DIM))
    memories = [(ContinuousSDM(DIM, N, threshold=-0.5, seed=3), rng.standard_normal((Q, DIM))),
                (ContinuousSDM(DIM, threshold=0.5, addresses=addresses),
                 u + 0.1 * rng.standard_normal((Q, DIM)))]
    for mem, x in memories:
        want = ref_activate(mem, unit32(x))
        counts = np.array([[np.sum((w >= lo) & (w < lo + N // 8)) for lo in range(0, N, N // 8)]
                           for w in want]).sum(axis=0)
        assert counts[:3].min() > 256  # overflowing
        for parallel in (False, True):
            got = csr_lists(*mem.activate(x, parallel=parallel))
            assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
        single = csr_lists(*mem.activate(x[0], parallel=True))  # one query: no sort
        assert np.array_equal(single[0], want[0])
    assert counts[-3:].max() < 256  # the clustered memory's last chunks are not


@kernel
@nojit
@pytest.mark.parametrize("path", PATHS)
def test_batched_writes_equal_sequential_writes_on_every_path(path, rng, monkeypatch):
    use_path(monkeypatch, path)
    keys = rng.standard_normal((30, DIM))
    keys[15:] = keys[:15] + 0.01 * rng.standard_normal((15, DIM))
    values = rng.standard_normal((30, DIM)) * rng.uniform(1e-3, 1e3, (30, 1))
    batch = ContinuousSDM(DIM, N, radius=10, seed=4)
    one_by_one = ContinuousSDM(DIM, N, radius=10, seed=4)
    batch.write(keys, values, weight=0.7)
    monkeypatch.setattr(continuous, "ROWS_MAX_QUERIES", 4)  # singles: the rows scan
    monkeypatch.setattr(continuous, "INT8_SCAN", False)
    for k, v in zip(keys, values, strict=True):
        one_by_one.write(k, v, weight=0.7)
    assert np.array_equal(batch.accumulators, one_by_one.accumulators)
    assert np.abs(batch.accumulators).max() > 0
    sums = ref_sums(batch, unit32(keys))
    assert np.array_equal(batch.read_sums(keys), sums)


# ---------------------------------------------------------------------------
# The memory's int8 copy of its addresses
# ---------------------------------------------------------------------------


@kernel
@nojit
@needs_int8
@pytest.mark.parametrize("tiles", ["copy", "as it goes"])
def test_the_int8_scan_with_every_query_count(tiles, rng, monkeypatch):
    # Tiles from the memory's copy or quantised as the scan reaches them; one
    # query has its own kernel, 2-3 are padded to a block of 4 (tiles of 32
    # locations here: ten of them, the last one partial).
    use_path(monkeypatch, "int8")
    monkeypatch.setattr(continuous, "INT8_TILE_BYTES", 32 * 4 * 8)  # n4 = 8 at DIM = 24
    monkeypatch.setattr(continuous, "INT8_COPY_MAX_QUERIES", 10**9 if tiles == "copy" else 0)
    mem = ContinuousSDM(DIM, N, radius=10, seed=6)
    x = rng.standard_normal((70, DIM))
    want = ref_activate(mem, unit32(x))
    for nq in (1, 2, 3, 4, 5, 9, 70):
        for parallel in (False, True):
            got = csr_lists(*mem.activate(x[:nq], parallel=parallel))
            assert all(np.array_equal(g, w) for g, w in zip(got, want[:nq], strict=True))
    one = csr_lists(*mem.activate(mem.addresses[N - 1]))  # in the last, partial tile
    assert N - 1 in one[0]
    if tiles == "copy":
        assert mem._int8.tile == 32 and mem._int8.stats.shape == (10, 4)
    else:
        assert mem._int8 is None


@kernel
@nojit
@needs_int8
def test_the_int8_copy_follows_new_addresses(rng, monkeypatch):
    # Activation made the copy of the first addresses; after an assignment it
    # must scan a copy of the new ones, never the stale one.
    use_path(monkeypatch, "int8")
    mem = ContinuousSDM(DIM, N, radius=8, seed=1)
    x = rng.standard_normal((6, DIM))
    before = csr_lists(*mem.activate(x))
    mem.addresses = -mem.addresses  # every cosine changes sign
    want = ref_activate(mem, unit32(x))
    assert not same_lists(want, before)
    assert same_lists(csr_lists(*mem.activate(x)), want)
    assert same_lists(csr_lists(*mem.activate(x[0])), want[:1])


def same_lists(got, want):
    return len(got) == len(want) and all(np.array_equal(g, w)
                                         for g, w in zip(got, want, strict=True))


@kernel
@nojit
@pytest.mark.parametrize("path", ["rows", pytest.param("int8", marks=needs_int8)])
def test_activation_without_room_for_the_int8_copy(path, rng, monkeypatch):
    # A copy that does not fit in the available RAM is not made: the scans of
    # the float32 addresses answer (rows for a few queries, BLAS for more).
    use_path(monkeypatch, path)
    monkeypatch.setattr(continuous, "ROWS_MAX_QUERIES", 5)
    mem = ContinuousSDM(DIM, N, radius=10, seed=2)
    monkeypatch.setattr(continuous, "_available_memory", lambda: 1000)
    x = rng.standard_normal((Q, DIM))
    want = ref_activate(mem, unit32(x))
    for nq in (1, Q):
        got = csr_lists(*mem.activate(x[:nq]))
        assert all(np.array_equal(g, w) for g, w in zip(got, want[:nq], strict=True))
    assert mem._int8 is False or path == "rows"


@kernel
@needs_int8
def test_two_threads_make_one_int8_copy(rng, monkeypatch):
    # The copy is made by the first activation; two threads arriving together
    # share one copy (made under a lock) and both get the exact activation.
    use_path(monkeypatch, "int8")
    made = []
    quantize = continuous._quantize

    def slow_quantize(A, parallel, tile=None):
        made.append(threading.current_thread().name)
        time.sleep(0.2)  # both threads are inside activate() by now
        return quantize(A, parallel, tile)

    monkeypatch.setattr(continuous, "_quantize", slow_quantize)
    mem = ContinuousSDM(DIM, N, radius=10, seed=3)
    x = rng.standard_normal((Q, DIM))
    results = [None, None]

    def run(k):
        results[k] = csr_lists(*mem.activate(x[k:]))

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1
    want = ref_activate(mem, unit32(x))
    assert same_lists(results[0], want) and same_lists(results[1], want[1:])


# ---------------------------------------------------------------------------
# The int8 scan's bounds
# ---------------------------------------------------------------------------


def int8_scan(mem, x, lo32, hi32, L=64):
    """Pairs of the int8 scan with the float32 stage forced: ``lo32 = hi32 = +inf``
    keeps only the pairs the int8 bound calls sure, ``-inf`` every "maybe" pair."""
    U = unit32(x)
    A = mem.addresses.copy()
    copy = continuous._quantize(A, False, tile=L)
    X, xinfo = continuous._int8_queries(U, copy.n4)
    n_tiles = -(-mem.n_locations // L)
    first, last = np.array([0], dtype=np.int64), np.array([n_tiles], dtype=np.int64)
    cap = U.shape[0] * mem.n_locations
    region = np.array([0, cap], dtype=np.int64)
    pair_q = np.empty(cap, dtype=np.int32)
    pair_l = np.empty(cap, dtype=np.int64)
    n_pairs = np.zeros(1, dtype=np.int64)
    _k.scan(np.zeros(1, np.int64), True, A, A.reshape(-1), U, X, xinfo, mem.threshold,
            np.float32(lo32), np.float32(hi32), first, last, False, copy.words[None],
            copy.init[None], copy.stats[None], *continuous._int8_scratch(1, X.size // copy.n4),
            region, pair_q, pair_l, n_pairs)
    n = n_pairs[0]
    return set(zip(pair_q[:n].tolist(), pair_l[:n].tolist(), strict=True))


@kernel
@needs_int8
@pytest.mark.parametrize("dim", [24, 256])
@pytest.mark.parametrize("sigmas", [0.0, 1.0, 2.5])
def test_int8_bounds_are_sound_and_narrow(dim, sigmas, rng):
    # "sure" pairs must all be active and "maybe" pairs must include every
    # active one, whatever the query's scale; thresholds within the bulk of the
    # cosines (sd 1/sqrt(dim)) put many pairs close to the bounds.
    threshold = sigmas / np.sqrt(dim)
    mem = ContinuousSDM(dim, 2000, threshold=threshold, seed=5)
    x = rng.standard_normal((12, dim)) * rng.uniform(1e-3, 1e3, (12, 1))
    x[0] = mem.addresses[7] + 1e-3 * rng.standard_normal(dim)
    cos = ref_cosines(unit32(x), mem.addresses)
    active = set(zip(*np.nonzero(cos >= threshold), strict=True))
    sure = int8_scan(mem, x, np.inf, np.inf)
    maybe = int8_scan(mem, x, -np.inf, -np.inf)
    assert sure <= active <= maybe
    # The band in between holds the pairs within ~0.02 of the threshold (the
    # int8 error): a small fraction of all pairs, or the scan would be slow.
    band = len(maybe - sure) / cos.size
    near = np.mean(np.abs(cos - threshold) < 0.05)
    assert 0 < band <= near


# ---------------------------------------------------------------------------
# Vector primitives: compiled against their plain Python forms
# ---------------------------------------------------------------------------


@jit
def _jit_dot32(x, a, n):
    return _k.dot32(x, 0, a, 0, n)


@jit
def _jit_quantize(a, n, inv, scale, T, t_off, sums):
    _k.quantize_row(a, 0, n, inv, scale, T, t_off, sums, 0)


@jit
def _jit_masks(T, n4, X, init, lo, hi, maybe, sure):
    _k.int8_masks(T, 0, n4, X, 0, init, 0, lo, hi, 0, maybe, sure)


@jit
def _jit_masks_stream(T, n4, X, init, lo, hi, maybe, sure):
    _k.int8_masks_stream(T, 0, n4, X, 0, init, 0, lo, hi, 0, maybe, sure)


@jit
def _jit_mask_stream(T, n4, X, x_off, init, lo, hi, q_off, maybe, sure):
    _k.int8_mask_stream(T, 0, n4, X, x_off, init, 0, lo, hi, q_off, maybe, sure)


@kernel
@pytest.mark.parametrize("n", [16, 48, 256, 1024])
def test_dot32_is_within_the_float32_margin(n, rng):
    x = unit32(rng.standard_normal(n))[0]
    a = unit32(rng.standard_normal(n))[0]
    exact = float(x.astype(np.float64) @ a.astype(np.float64))
    margin = (n + 4) * 2.0**-23  # ContinuousSDM._margin
    assert abs(float(_jit_dot32(x, a, n)) - exact) < margin / 2
    assert abs(float(_k._dot32_py(x, 0, a, 0, n)) - exact) < margin / 2


@jit
def _jit_dots4(u, stride, a, n):
    return _k.dots4(u, 0, stride, a, 0, n)


@kernel
@pytest.mark.parametrize("n", [16, 64, 272])
def test_dots4_are_four_dot_products_within_the_margin(n, rng):
    u = unit32(rng.standard_normal((4, n)))
    a = unit32(rng.standard_normal(n))[0]
    exact = u.astype(np.float64) @ a.astype(np.float64)
    margin = (n + 4) * 2.0**-23
    for got in (_jit_dots4(u.reshape(-1), n, a, n), _k._dots4_py(u.reshape(-1), 0, n, a, 0, n)):
        assert len(got) == 4
        assert np.abs(np.array(got, dtype=np.float64) - exact).max() < margin / 2


@kernel
@nojit
def test_primitives_refuse_out_of_range_slices_in_python():
    x = np.zeros(32, dtype=np.float32)
    with pytest.raises(IndexError, match="beyond an array of 32"):
        _k._dot32_py(x, 16, x, 0, 32)
    with pytest.raises(ValueError, match="multiple of 16"):
        _k._dot32_py(x, 0, x, 0, 20)
    with pytest.raises(ValueError, match="multiple of 16"):
        _k._dots4_py(x, 0, 0, x, 0, 8)
    with pytest.raises(IndexError, match="beyond an array of 32"):
        _k._dots4_py(x, 0, 8, x, 0, 16)
    with pytest.raises(ValueError, match="multiple of 16"):
        _k._quantize_row_py(x, 0, 20, 1.0, 1.0, np.zeros(80, np.int32), 0, np.zeros(3), 0)
    with pytest.raises(IndexError, match="beyond an array of 16"):
        _k._quantize_row_py(x, 0, 32, 1.0, 1.0, np.zeros(16, np.int32), 0, np.zeros(3), 0)
    with pytest.raises(IndexError, match="beyond an array of 8"):
        _k._int8_masks_py(np.zeros(8, np.int32), 0, 1, np.zeros(4, np.int32), 0,
                      np.zeros(32, np.int32), 0, np.zeros(4, np.int32),
                      np.zeros(4, np.int32), 0, np.zeros(4, np.uint32), np.zeros(4, np.uint32))


@kernel
@pytest.mark.parametrize("n", [16, 64, 256])
def test_quantize_row_matches_its_python_form(n, rng):
    a = (rng.standard_normal(n) / np.sqrt(n)).astype(np.float32)
    amax = float(np.abs(a).max())
    inv, scale = np.float32(127.0 / amax), np.float32(amax / 127.0)
    n4 = n // 4
    results = []
    for fn in (_jit_quantize, lambda *args: _k._quantize_row_py(args[0], 0, *args[1:], 0)):
        T = np.full(32 * n4, -7, dtype=np.int32)
        sums = np.zeros(3)
        fn(a, n, inv, scale, T, 3, sums)
        results.append((T, sums))
    (T1, s1), (T2, s2) = results
    assert np.array_equal(T1, T2)
    # One lane of a block of 32 locations: every 32nd word from t_off, nothing else.
    assert (T1[3::32] != -7).all() and (np.delete(T1, np.arange(3, T1.size, 32)) == -7).all()
    q = T1[3::32].copy().view(np.int8)
    assert np.abs(q).max() == 127 and np.array_equal(q, np.rint(a * inv).astype(np.int8))
    err = a.astype(np.float64) - np.float64(scale) * q
    assert s1[0] == s2[0] == q.sum()
    np.testing.assert_allclose([s1[1], s2[1]], (err * err).sum(), rtol=1e-5)
    np.testing.assert_allclose([s1[2], s2[2]], (a.astype(np.float64) ** 2).sum(), rtol=1e-5)


@kernel
@nojit
@pytest.mark.parametrize("dim", [16, 24, 256, 1000])
@pytest.mark.parametrize("nq", [1, 3, 4, 5])
def test_queries_quantised_as_numpy_computes_them(dim, nq, rng):
    # x = sx * xq + ex: the bytes xq + 128 (128 fills the padding and the
    # padding queries) and the bound's terms sx, sx |xq|, |ex|, |x|.
    U = unit32(rng.standard_normal((nq, dim)) * rng.uniform(1e-3, 1e3, (nq, 1)))
    U[0, 5] = -np.abs(U[0]).max() * 1.5  # the largest magnitude negative: xq = -127
    U = unit32(U)
    n4 = 4 * -(-dim // 16)
    X, xinfo = continuous._int8_queries(U, n4)
    x = U.astype(np.float64)
    sx = np.abs(x).max(axis=1) / 127.0
    xq = np.rint(x / sx[:, None])
    err = x - sx[:, None] * xq
    words = np.full((-(-nq // 4) * 4, 4 * n4), 128, dtype=np.uint8)
    words[:nq, :dim] = xq + 128
    assert X.dtype == np.int32 and np.array_equal(X.view(np.uint8), words.reshape(-1))
    assert xq.min() == -127 and np.abs(xq).max() == 127
    want = np.stack([sx, sx * np.linalg.norm(xq, axis=1), np.linalg.norm(err, axis=1),
                     np.linalg.norm(x, axis=1)], axis=1)
    np.testing.assert_allclose(xinfo, want, rtol=1e-13)


@kernel
@needs_int8
@pytest.mark.parametrize("n4", [4, 8, 64])
def test_int8_masks_match_their_python_form(n4, rng):
    T = rng.integers(-127, 128, 32 * n4 * 4, dtype=np.int8).view(np.int32)
    X = rng.integers(1, 256, 4 * n4 * 4).astype(np.uint8).view(np.int32)
    init = rng.integers(-(1 << 20), 1 << 20, 32).astype(np.int32)
    # Word w of location l at T[32 * w + l]: 4 int8 values of dims 4w:4w + 4.
    tb = T.view(np.int8).reshape(n4, 32, 4).astype(np.int64)
    xb = X.view(np.uint8).reshape(4, n4, 4).astype(np.int64)
    D = np.einsum("kwb,wlb->kl", xb, tb) + init
    lo = np.percentile(D, 30, axis=1).astype(np.int32)
    hi = np.percentile(D, 70, axis=1).astype(np.int32)
    lo[2] = D[2, 5]  # a bound equal to a dot product: >= is inclusive
    out = []
    for fn in (_jit_masks, _jit_masks_stream,
               lambda T, n4, X, *rest: _k._int8_masks_py(T, 0, n4, X, 0, rest[0], 0, rest[1],
                                                         rest[2], 0, *rest[3:])):
        maybe, sure = np.zeros(4, np.uint32), np.zeros(4, np.uint32)
        fn(T, n4, X, init, lo, hi, maybe, sure)
        out.append((maybe, sure))
    bits = (1 << np.arange(32, dtype=np.int64))
    for k in range(4):
        for masks in out:
            assert masks[0][k] == ((D[k] >= lo[k]) * bits).sum()
            assert masks[1][k] == ((D[k] >= hi[k]) * bits).sum()
    assert out[0][0][2] & (1 << 5)
    # One query (its own kernel): query 2's masks, its words at x_off = 2 * n4.
    for fn in (_jit_mask_stream, lambda T, n4, X, x_off, init, *rest: _k._int8_mask_py(
            T, 0, n4, X, x_off, init, 0, *rest)):
        maybe, sure = np.zeros(1, np.uint32), np.zeros(1, np.uint32)
        fn(T, n4, X, 2 * n4, init, lo, hi, 2, maybe, sure)
        assert maybe[0] == ((D[2] >= lo[2]) * bits).sum() and maybe[0] & (1 << 5)
        assert sure[0] == ((D[2] >= hi[2]) * bits).sum()


@nojit
def test_vnni_detection_reads_numbas_target(monkeypatch):
    monkeypatch.setattr(config, "CPU_FEATURES", "+avx512f,+avx512bw,+avx512vnni,+sse2")
    assert _k.vnni_available()
    monkeypatch.setattr(config, "CPU_FEATURES", "+avx512f,+avx512bw,-avx512vnni")
    assert not _k.vnni_available()
    monkeypatch.setattr(config, "CPU_FEATURES", "")
    assert not _k.vnni_available()


# ---------------------------------------------------------------------------
# Input forms (integers, booleans) and read_sums
# ---------------------------------------------------------------------------


@kernel
@nojit
def test_integer_and_boolean_inputs_are_real_vectors(rng):
    mem = ContinuousSDM(DIM, N, radius=10, seed=8, value_dim=3)
    ints = rng.integers(-50, 50, (6, DIM))
    ints[0, 0] = 1  # no zero rows
    values = rng.integers(-9, 9, (6, 3))
    for form in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64):
        x = np.abs(ints).astype(form) if np.dtype(form).kind == "u" else ints.astype(form)
        want = mem.read_sums(x.astype(np.float64))
        assert np.array_equal(mem.read_sums(x), want)
        assert np.array_equal(mem.activate(x)[1], mem.activate(x.astype(np.float64))[1])
    bits = rng.integers(0, 2, (6, DIM)).astype(bool)
    bits[:, 0] = True
    assert np.array_equal(mem.read_sums(bits), mem.read_sums(bits.astype(np.float32)))
    a = ContinuousSDM(DIM, N, radius=10, seed=8, value_dim=3)
    b = ContinuousSDM(DIM, N, radius=10, seed=8, value_dim=3)
    a.write(ints, values, weight=2)
    b.write(ints.astype(np.float64), values.astype(np.float64), weight=2)
    assert np.array_equal(a.accumulators, b.accumulators) and a.accumulators.any()
    big = ContinuousSDM(3, threshold=0.9, addresses=np.eye(3, dtype=np.int64))
    assert big.addresses.dtype == np.float32
    assert big.read_sums(np.array([2**62, 0, 0], dtype=np.int64)).tolist() == [0, 0, 0]


@nojit
def test_non_real_inputs_are_refused():
    mem = ContinuousSDM(4, 20, radius=2, value_dim=2, seed=0)
    with pytest.raises(TypeError, match="keys must be real vectors, got .*complex64.*np.abs"):
        mem.write(np.ones(4, dtype=np.complex64), np.ones(2))
    with pytest.raises(TypeError, match="values must be real vectors of a numeric dtype.*object"):
        mem.write(np.ones(4), np.array([1.0, 2.0], dtype=object))
    with pytest.raises(TypeError, match="queries must be real vectors of a numeric dtype.*dateti"):
        mem.read_sums(np.array(["2020-01-01"] * 4, dtype="datetime64[D]"))
    with pytest.raises(ValueError, match="queries has zero vectors in rows \\[1\\]"):
        mem.read_sums(np.array([[1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.uint8))
    with pytest.raises(ValueError, match="queries has NaN or infinite values in rows \\[0\\]"):
        mem.read_sums([np.inf, 1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="length 4 \\(dim\\).*shape \\(3,\\)"):
        mem.read_sums(np.ones(3, dtype=np.int32))


@kernel
@nojit
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_read_sums_are_the_float64_sums(dtype, rng):
    mem = ContinuousSDM(DIM, N, radius=9, value_dim=4, dtype=dtype, seed=9)
    mem.write(rng.standard_normal((20, DIM)), rng.standard_normal((20, 4)) * 1e3)
    x = rng.standard_normal((7, DIM))
    sums = mem.read_sums(x)
    assert sums.dtype == np.float64 and sums.shape == (7, 4)
    assert np.array_equal(sums, ref_sums(mem, unit32(x)))
    assert np.abs(sums).max() > 0
    raw = mem.read(x, normalize=False)
    assert np.array_equal(raw, sums.astype(dtype))
    one = mem.read_sums(x[2])
    assert one.shape == (4,) and np.array_equal(one, sums[2])
    assert np.array_equal(mem.read_sums(x, parallel=True), mem.read_sums(x, parallel=False))


# ---------------------------------------------------------------------------
# The scans' threads
# ---------------------------------------------------------------------------


@nojit
@pytest.mark.parametrize("parallel", [False, True])
def test_every_task_runs_once_and_errors_reach_the_caller(parallel, monkeypatch):
    monkeypatch.setattr(continuous.numba, "get_num_threads", lambda: 3)
    seen = []
    continuous._on_threads(parallel, 40, lambda ids: seen.extend(ids.tolist()))
    assert sorted(seen) == list(range(40))

    def fail(ids):
        if 7 in ids:
            raise ArithmeticError("task 7")

    with pytest.raises(ArithmeticError, match="task 7"):
        continuous._on_threads(parallel, 12, fail)


@nojit
def test_scans_share_the_binary_kernels_worker_threads(monkeypatch):
    # One pool of threads for the package (fastsdm._jit.run_tasks), not one per module.
    monkeypatch.setattr(continuous.numba, "get_num_threads", lambda: 2)
    names = set()

    def record(ids):
        names.add(threading.current_thread().name)
        time.sleep(0.01)  # let the helper take a task

    continuous._on_threads(True, 8, record)
    helpers = {name for name in names if name != threading.current_thread().name}
    assert helpers and all(name.startswith("fastsdm-") for name in helpers)
