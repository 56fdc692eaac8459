"""The binary kernels on both code paths: explicit 512-bit and portable.

``fastsdm._jit.SIMD`` chooses the kernels every public function uses; the
``simd`` fixture sets it in-process, so each test below runs the whole public
path (padding, tile sizes, kernel variants) once per variant and checks it
against the references of ``tests/reference.py`` and independent oracles
(``np.bitwise_count``, ``bitarray.util.count_xor``).  These tests also run with
``NUMBA_DISABLE_JIT=1`` (the ``nojit`` ones) and ``NUMBA_BOUNDSCHECK=1`` (all:
``kernel``), as ``.ci/run`` does.
"""

import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from bitarray.util import count_xor

import fastsdm
from fastsdm import _intrinsics, _jit, search
from fastsdm._jit import jit
from fastsdm._kernels import counters as c
from fastsdm._kernels import hamming as h
from tests.reference import NaiveSDM, hamming, knn_lists, radius_lists, unpack

pytestmark = pytest.mark.kernel


@pytest.fixture(params=_jit.SIMD_VARIANTS)
def simd(request, monkeypatch):
    monkeypatch.setattr(_jit, "SIMD", request.param)
    return request.param


def _words(rng, shape, extremes=True):
    words = rng.integers(0, 2**64, size=shape, dtype=np.uint64, endpoint=False)
    if extremes and words.size >= 4:
        flat = words.reshape(-1)
        flat[0], flat[1], flat[2], flat[-1] = 2**64 - 1, 2**63, 0, 2**63
    return words


def _oracle(Q, A):
    return np.bitwise_count(Q[:, None, :] ^ A[None]).sum(-1)


# -- the explicit kernels themselves ------------------------------------------------


@jit
def _tile_call(Qp, q, T, acc):
    _intrinsics.tile_distances(Qp, q, T, acc)


@jit
def _rows_call(Q, q, A, start, count, acc):
    _intrinsics.row_distances(Q, q, A, start, count, acc)


@pytest.mark.parametrize("n_words", [1, 2, 3, 5, 8, 9, 16, 17])
@pytest.mark.parametrize("n_loc", [32, 96])
def test_tile_distances_equal_popcounts(n_words, n_loc):
    rng = np.random.default_rng(n_words * 100 + n_loc)
    Qp = _words(rng, (9, n_words))
    T = _words(rng, (n_words, n_loc))
    acc = np.full((5, n_loc), -1, np.int64)
    _tile_call(Qp, 5, T, acc)
    np.testing.assert_array_equal(acc[:4], _oracle(Qp[5:9], T.T))
    assert (acc[4] == -1).all()  # row 4 untouched


@pytest.mark.nojit
def test_tile_distances_in_python():
    rng = np.random.default_rng(0)
    Qp, T = _words(rng, (4, 3)), _words(rng, (3, 32))
    acc = np.zeros((4, 32), np.int64)
    _tile_call(Qp, 0, T, acc)
    np.testing.assert_array_equal(acc, _oracle(Qp, T.T))


@jit
def _masks_call(Qp, q, T, radius, masks):
    _intrinsics.tile_radius_masks(Qp, q, T, radius, masks)


def _mask_oracle(Q, T, radius):
    # Bit l % 64 of word l // 64: distance <= radius, built from np.packbits.
    bits = (_oracle(Q, T.T) <= radius).astype(np.uint8)
    return np.packbits(bits, axis=1, bitorder="little").view(np.uint64)


@pytest.mark.parametrize("n_words", [1, 3, 8, 16, 17])
@pytest.mark.parametrize("n_loc", [64, 192])
def test_tile_radius_masks_equal_popcounts(n_words, n_loc):
    rng = np.random.default_rng(n_words * 100 + n_loc)
    Qp = _words(rng, (9, n_words))
    T = _words(rng, (n_words, n_loc))
    T[:, 5] = Qp[6]  # distance 0
    T[:, 6] = ~Qp[7]  # the largest distance
    d = _oracle(Qp[5:9], T.T)
    for radius in sorted({-1, 0, 1, int(np.median(d)), 64 * n_words - 1, 64 * n_words, 10**6}):
        masks = np.full((5, n_loc // 64 + 1), 7, np.uint64)
        _masks_call(Qp, 5, T, radius, masks)
        np.testing.assert_array_equal(masks[:4, : n_loc // 64], _mask_oracle(Qp[5:9], T, radius))
        assert (masks[4] == 7).all() and (masks[:, -1] == 7).all()  # nothing else written


def test_tile_radius_masks_compare_distances_above_2_to_15():
    # Lanes of 16 bits compared unsigned: distances of 32,768 .. 65,472 bits.
    rng = np.random.default_rng(3)
    n_words = _intrinsics.MASK_MAX_WORDS
    Qp = _words(rng, (4, n_words))
    T = _words(rng, (n_words, 64))
    T[:, :32] = ~Qp[0][:, None]  # distance 65,472 from query 0
    T[: n_words // 2, 32:] = ~Qp[1][: n_words // 2, None]  # above 2**15 from query 1
    d = _oracle(Qp, T.T)
    assert d.max() == 64 * n_words and (d > 2**15).sum() > 64
    for radius in (2**15 - 1, 2**15, int(np.median(d[1])), 64 * n_words - 1, 64 * n_words):
        masks = np.zeros((4, 1), np.uint64)
        _masks_call(Qp, 0, T, radius, masks)
        np.testing.assert_array_equal(masks, _mask_oracle(Qp, T, radius))


@pytest.mark.nojit
def test_tile_radius_masks_in_python():
    rng = np.random.default_rng(2)
    Qp, T = _words(rng, (4, 3)), _words(rng, (3, 64))
    masks = np.zeros((4, 1), np.uint64)
    _masks_call(Qp, 0, T, 96, masks)
    np.testing.assert_array_equal(masks, _mask_oracle(Qp, T, 96))


@pytest.mark.parametrize("n_words", [1, 2, 7, 8, 9, 16, 17, 24, 25, 33, 40])
def test_row_distances_equal_popcounts(n_words):
    rng = np.random.default_rng(n_words)
    Q = _words(rng, (3, n_words))
    A = _words(rng, (200, n_words))
    expected = _oracle(Q[2:3], A)[0]
    for start, count in ((0, 0), (0, 1), (5, 7), (3, 8), (9, 9), (17, 64), (136, 64)):
        acc = np.full(70, -1, np.int64)
        _rows_call(Q, 2, A, start, count, acc)
        np.testing.assert_array_equal(acc[:count], expected[start : start + count])
        assert (acc[count:] == -1).all()


@pytest.mark.nojit
def test_row_distances_in_python():
    rng = np.random.default_rng(1)
    Q, A = _words(rng, (1, 2)), _words(rng, (20, 2))
    acc = np.zeros(20, np.int64)
    _rows_call(Q, 0, A, 3, 11, acc)
    np.testing.assert_array_equal(acc[:11], _oracle(Q, A[3:14])[0])


@pytest.mark.nojit
def test_explicit_kernels_check_their_arguments():
    # Compiled, they check shapes only with NUMBA_BOUNDSCHECK=1 (as numba's own
    # indexing); as Python (NUMBA_DISABLE_JIT=1), NumPy's indexing refuses.
    if not (_intrinsics.BOUNDSCHECK or numba.config.DISABLE_JIT):
        pytest.skip("runs with NUMBA_BOUNDSCHECK=1 or NUMBA_DISABLE_JIT=1 (.ci/run runs both)")
    Q = np.zeros((4, 2), np.uint64)
    with pytest.raises(IndexError):
        _tile_call(Q, 1, np.zeros((2, 32), np.uint64), np.zeros((4, 32), np.int64))
    with pytest.raises(IndexError):
        _masks_call(Q, 1, np.zeros((2, 64), np.uint64), 3, np.zeros((4, 1), np.uint64))
    with pytest.raises(IndexError):
        _masks_call(Q, 0, np.zeros((2, 64), np.uint64), 3, np.zeros((3, 1), np.uint64))
    with pytest.raises(IndexError):
        _rows_call(Q, 0, np.zeros((10, 2), np.uint64), 5, 6, np.zeros(64, np.int64))
    with pytest.raises(IndexError):
        _add_rows_call(np.zeros((2, 5), np.int16), 2, np.zeros((2, 5), np.int8), (0, 1))
    with pytest.raises(IndexError):
        _add_rows_call(np.zeros((2, 5), np.int16), 0, np.zeros((2, 5), np.int8), (0, 2))
    with pytest.raises(IndexError):
        _add_row_saturating_call(np.zeros((2, 5), np.int8), 0, np.zeros((2, 5), np.int8), 2)


@jit
def _add_rows_call(dst, i, src, rows):
    _intrinsics.add_rows(dst, i, src, rows)


@jit
def _add_row_saturating_call(dst, i, src, k):
    _intrinsics.add_row_saturating(dst, i, src, k)


@pytest.mark.parametrize("n", [1, 15, 16, 63, 64, 65, 1000, 1024])
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32"])
def test_add_row_saturating_clamps_like_int64_arithmetic(n, dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(n)
    dst = rng.integers(info.min, info.max, size=(3, n), dtype=dtype, endpoint=True)
    src = rng.integers(info.min, info.max, size=(2, n), dtype=dtype, endpoint=True)
    k = min(3, n)  # saturation both ways, and the largest sum
    dst[1, :k] = [info.max, info.min, info.max][:k]
    src[0, :k] = [1, -1, info.max][:k]
    expected = dst.copy()
    expected[1] = np.clip(dst[1].astype(np.int64) + src[0], info.min, info.max)
    _add_row_saturating_call(dst, 1, src, 0)
    np.testing.assert_array_equal(dst, expected)


@pytest.mark.parametrize("n", [1, 31, 32, 33, 1000])
@pytest.mark.parametrize("dst_dtype,src_dtype", [("int16", "int8"), ("int32", "int8"),
                                                  ("int32", "int16"), ("int64", "int32")])
@pytest.mark.parametrize("rows", [(3,), (0, 3, 1), (2, 2, 0, 3, 1, 1, 3, 0)])
def test_add_rows_sign_extends_and_sums(n, dst_dtype, src_dtype, rows):
    # One, three and eight source rows (the fused read's batch), repeated rows
    # included, at the extremes of the source dtype: exact int64 arithmetic.
    rng = np.random.default_rng(n + 7)
    info = np.iinfo(src_dtype)
    src = rng.integers(info.min, info.max, size=(4, n), dtype=src_dtype, endpoint=True)
    src[0, : min(2, n)] = [info.min, info.max][: min(2, n)]
    dst = rng.integers(-1000, 1000, size=(2, n), dtype=dst_dtype)
    expected = dst.astype(np.int64)
    expected[1] += src[list(rows)].astype(np.int64).sum(axis=0)
    _add_rows_call(dst, 1, src, rows)
    np.testing.assert_array_equal(dst, expected)


@pytest.mark.nojit
def test_add_rows_in_python():
    dst = np.array([[120, -120, 0]], np.int8)
    _add_row_saturating_call(dst, 0, np.array([[10, -10, 5]], np.int8), 0)
    assert dst.tolist() == [[127, -128, 5]]
    wide = np.zeros((1, 3), np.int16)
    _add_rows_call(wide, 0, np.array([[-128, 127, 1], [-128, 127, 2]], np.int8), (0, 1, 1))
    assert wide.tolist() == [[-384, 381, 5]]


# -- both code paths through the public functions -----------------------------------

WIDTHS = [1, 63, 64, 65, 127, 129, 1000, 1024, 1025]
#: Locations around tile sizes (64 .. 1024) and query counts on both sides of
#: the row-wise / tiled switch.
SHAPES = [(1, 1), (67, 3), (1037, 9), (300, 37)]


@pytest.mark.parametrize("n", WIDTHS)
@pytest.mark.parametrize("N,q", SHAPES)
def test_scans_match_references_on_both_code_paths(simd, n, N, q):
    rng = np.random.default_rng(n * 7 + N)
    Q, A = fastsdm.random_addresses(q, n, rng), fastsdm.random_addresses(N, n, rng)
    expected = hamming(Q, A, n)
    for parallel in (False, True):
        d = fastsdm.hamming_distances(Q, A, n_bits=n, parallel=parallel)
        np.testing.assert_array_equal(d, expected)
        for radius in sorted({0, n // 2, n}):
            indptr, indices = fastsdm.radius_search(Q, A, radius, n_bits=n, parallel=parallel)
            lists = radius_lists(Q, A, n, radius)
            assert indptr.tolist() == np.cumsum([0] + [len(x) for x in lists]).tolist()
            np.testing.assert_array_equal(indices, np.concatenate(lists))
        k = min(N, 5)
        idx, dist = fastsdm.knn_search(Q, A, k, n_bits=n, parallel=parallel)
        for i, (e_idx, e_dist) in enumerate(knn_lists(Q, A, n, k)):
            np.testing.assert_array_equal(idx[i], e_idx)
            np.testing.assert_array_equal(dist[i], e_dist)
    np.testing.assert_array_equal(expected, _oracle(Q, A))
    qa, aa = fastsdm.to_bitarray(Q[:2], n), fastsdm.to_bitarray(A[:50], n)
    assert [[count_xor(x, y) for y in aa] for x in qa] == expected[:2, :50].tolist()


@pytest.mark.nojit
@pytest.mark.parametrize("n,N,q", [(65, 70, 3), (129, 70, 9)])
def test_scans_on_both_code_paths_small(simd, n, N, q):
    # The subset that also runs as plain Python (NUMBA_DISABLE_JIT=1).
    rng = np.random.default_rng(n)
    Q, A = fastsdm.random_addresses(q, n, rng), fastsdm.random_addresses(N, n, rng)
    np.testing.assert_array_equal(fastsdm.hamming_distances(Q, A), hamming(Q, A, n))
    indptr, indices = fastsdm.radius_search(Q, A, n // 2)
    np.testing.assert_array_equal(indices, np.concatenate(radius_lists(Q, A, n, n // 2)))
    idx, _ = fastsdm.knn_search(Q, A, 4)
    np.testing.assert_array_equal(idx, [e for e, _ in knn_lists(Q, A, n, 4)])


def test_extreme_words_on_both_code_paths(simd):
    words = np.array([2**64 - 1, 2**63, 0, 1], np.uint64)
    A = np.stack([np.roll(words, i) for i in range(4)] * 20)  # (80, 4): n = 256
    Q = A[::7].copy()  # 12 queries: the tiled path
    np.testing.assert_array_equal(fastsdm.hamming_distances(Q, A), _oracle(Q, A))
    np.testing.assert_array_equal(fastsdm.hamming_distances(Q[:2], A), _oracle(Q[:2], A))


@pytest.mark.parametrize("dtype", ["int8", "int16"])
@pytest.mark.parametrize("n,N", [(65, 300), (129, 1100)])
def test_sdm_matches_reference_on_both_code_paths(simd, dtype, n, N):
    rng = np.random.default_rng(n + N)
    radius = n // 2 - 2
    mem = fastsdm.SDM(n, N, radius=radius, counter_dtype=dtype, ties="zero", seed=4)
    naive = NaiveSDM(unpack(mem.addresses, n), n, radius=radius, dtype=dtype)
    keys = fastsdm.random_addresses(20, n, rng)
    keys[12:] = keys[0]  # saturation (with weight 40 on int8)
    data = fastsdm.random_addresses(20, n, rng)
    mem.write(keys[:16], data[:16], weight=40, parallel=True)  # fused
    mem.write(keys[16], data[16], weight=40)  # activation lists
    mem.write(keys[17:], data[17:], weight=40, parallel=False)
    for k, d in zip(unpack(keys, n), unpack(data, n), strict=True):
        naive.write(k, d, weight=40)
    np.testing.assert_array_equal(mem.counters, naive.c)
    cues = fastsdm.flip_bits(keys, n, 3, seed=5)
    for parallel in (False, True):
        np.testing.assert_array_equal(mem.read_sums(cues, parallel=parallel),
                                      [naive.sums(x) for x in unpack(cues, n)])
        np.testing.assert_array_equal(mem.read_sums(cues[:3], parallel=parallel),
                                      [naive.sums(x) for x in unpack(cues[:3], n)])


@pytest.mark.parametrize("n", [64 * 1016, 64 * 1025])
def test_radius_of_long_vectors_on_both_code_paths(simd, n):
    # 1,016 words: distances above 2**15 in the radius masks' 16-bit lanes;
    # past MASK_MAX_WORDS words (1,025) the kernels compare int64 distances
    # instead: a distance of 65,600 does not fit 16 bits.
    rng = np.random.default_rng(n)
    Q, A = fastsdm.random_addresses(16, n, rng), fastsdm.random_addresses(150, n, rng)
    A[7] = ~Q[3]  # the largest distance, n
    A[9] = Q[5]
    d = _oracle(Q, A)
    for radius in sorted({int(np.median(d)), 2**15, n}):
        indptr, indices = fastsdm.radius_search(Q, A, radius, n_bits=n)
        np.testing.assert_array_equal(indptr, np.cumsum([0, *(d <= radius).sum(1)]))
        np.testing.assert_array_equal(indices, np.nonzero(d <= radius)[1])
    radius = int(np.median(d))
    mem = fastsdm.SDM(n, 150, radius=radius, counter_dtype="int8", ties="zero", seed=4)
    naive = NaiveSDM(unpack(mem.addresses, n), n, radius=radius, dtype="int8")
    keys = fastsdm.random_addresses(16, n, rng)
    mem.write(keys, parallel=True)  # fused
    for k in unpack(keys, n):
        naive.write(k, k)
    np.testing.assert_array_equal(mem.counters, naive.c)
    np.testing.assert_array_equal(mem.read_sums(keys, parallel=True),
                                  [naive.sums(x) for x in unpack(keys, n)])


def test_kernel_variants_called_directly_agree():
    # The same scan from each variant's kernel, called in this process.
    rng = np.random.default_rng(11)
    Q, A = fastsdm.random_addresses(12, 300, rng), fastsdm.random_addresses(500, 300, rng)
    W = A.shape[1]
    results = {}
    for simd in _jit.SIMD_VARIANTS:
        L = search.tile_size(W, simd)
        out = np.zeros((12, 500), np.int32)
        _jit.run_tasks(h.scan_tiled(h.MODE_DISTANCES, simd), 1,
                       (search.pad_queries(Q, simd), 12, A, L, 12, 1, 0, out,
                        np.zeros((1, 1), np.uint64), np.zeros((1, 1, 1), np.int64), 1), False)
        rows = np.zeros((12, 500), np.int32)
        _jit.run_tasks(h.scan_rows(simd), 3, (Q, A, 3, h.MODE_DISTANCES, 0, rows,
                                              np.zeros((1, 1), np.uint64),
                                              np.zeros((1, 1, 1), np.int64), 1), True)
        results[simd] = (out, rows)
    expected = hamming(Q, A, 300)
    for out, rows in results.values():
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(rows, expected)
    assert c.scan_update(True, "avx512") is not c.scan_update(True, "generic")


def _assert_radius_search(Q, A, radius, expected):
    # radius_search, serial and parallel, gives the reference lists as CSR.
    for parallel in (False, True):
        indptr, indices = fastsdm.radius_search(Q, A, radius, parallel=parallel)
        assert indptr.tolist() == np.cumsum([0] + [len(e) for e in expected]).tolist()
        np.testing.assert_array_equal(indices, np.concatenate(expected))


@pytest.mark.nojit
def test_radius_masks_are_cut_by_queries_and_locations(monkeypatch):
    # Masks beyond MASK_BUDGET: blocks of >= QUERY_BLOCK queries over blocks
    # of locations, whose lists are then joined per query.
    rng = np.random.default_rng(12)
    Q, A = fastsdm.random_addresses(300, 70, rng), fastsdm.random_addresses(700, 70, rng)
    expected = radius_lists(Q, A, 70, 30)
    monkeypatch.setattr(search, "MASK_BUDGET", 8 * 300)
    assert search.mask_blocks(300, 700, 2) == (256, 64)
    assert search.mask_blocks(40, 700, 2) == (40, 448)
    assert search.mask_blocks(27, 700, 2) == (27, 700)
    _assert_radius_search(Q, A, 30, expected)


@pytest.mark.nojit
def test_location_blocks_with_uneven_hits_are_joined_exactly(monkeypatch):
    # The blocks' lists go into one staging array sized from the blocks seen
    # so far: here the first blocks hold no hit at all and the last ones
    # nearly all, so it must grow (twice), and one query has no hit anywhere.
    rng = np.random.default_rng(3)
    n = 70
    Q = fastsdm.random_addresses(40, n, rng)
    A = fastsdm.random_addresses(700, n, rng)
    near = rng.integers(0, 39, 300)  # query 39 has no near copy
    A[400:] = fastsdm.flip_bits(Q[near], n, 3, seed=4)
    expected = radius_lists(Q, A, n, 6)
    assert not any(e.size and e.min() < 400 for e in expected) and expected[39].size == 0
    monkeypatch.setattr(search, "MASK_BUDGET", 8 * 2 * 40)
    assert search.mask_blocks(40, 700, 2) == (40, 128)
    _assert_radius_search(Q, A, 6, expected)


@pytest.mark.nojit
@pytest.mark.parametrize("step", [0, 2**31])
def test_location_blocks_refuse_steps_whose_indices_would_not_fit_int32(step):
    Q = fastsdm.random_addresses(8, 64, seed=0)
    with pytest.raises(ValueError, match="int32 indices"):
        search.radius_csr_by_location_blocks(Q, Q, 3, step, None)


@pytest.mark.skipif(os.environ.get("NUMBA_BOUNDSCHECK") == "1",
                    reason="uncached there: warmup would compile everything, checking nothing more")
def test_warmup_prepares_what_a_session_uses():
    # A fresh process: in this one, earlier tests may have compiled them.
    code = ("import fastsdm\n"
            "from fastsdm._kernels import hamming as h\n"
            "assert not h.join_location_blocks.signatures\n"
            "fastsdm.warmup(('int8',), parallel=False)\n"
            "assert h.join_location_blocks.signatures\n"
            "print(*sorted(str(s[4].dtype) for s in h.mask_to_indices.signatures))\n"
            # What a user's own (writeable) arrays and the memory's read-only
            # address view then need: nothing more (warmup's batches are
            # sliced from mem.addresses, and they compiled other signatures).
            "import gc\n"
            "from numba.core.registry import CPUDispatcher\n"
            "def compiled():\n"
            "    return sum(len(d.signatures) for d in gc.get_objects()\n"
            "               if isinstance(d, CPUDispatcher))\n"
            "before = compiled()\n"
            "mem = fastsdm.SDM(64, 300, radius=30, counter_dtype='int8', seed=1)\n"
            "P = fastsdm.random_addresses(9, 64, seed=2)\n"
            "for batch in (P[:3], P):\n"
            "    mem.write(batch, parallel=False)\n"
            "    mem.read(batch, parallel=False)\n"
            "    for A in (P, mem.addresses):\n"
            "        fastsdm.hamming_distances(batch, A, parallel=False)\n"
            "        fastsdm.radius_search(batch, A, 30, parallel=False)\n"
            "        fastsdm.knn_search(batch, A, 2, parallel=False)\n"
            "print(compiled() - before)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    *dtypes, more = result.stdout.split()
    assert dtypes == ["int32", "int64"]  # staging, and one-block results
    assert more == "0"


def test_kernel_input_shares_writeable_memory_and_leaves_the_rest_alone(tmp_path):
    owner = np.arange(12, dtype=np.uint64).reshape(3, 4)
    assert _jit.kernel_input(owner) is owner
    shown = owner.view()
    shown.flags.writeable = False
    alias = _jit.kernel_input(shown)
    assert alias.flags.writeable and np.shares_memory(alias, owner)
    assert not shown.flags.writeable  # the caller's view is untouched
    np.save(tmp_path / "a.npy", owner)
    for frozen in (np.load(tmp_path / "a.npy", mmap_mode="r"),
                   np.frombuffer(owner.tobytes(), dtype=np.uint64)):
        assert _jit.kernel_input(frozen) is frozen and not frozen.flags.writeable


def _frozen(array):
    # Memory that cannot be written: kernel_input passes it as it is, so
    # numba types it read-only and refuses to compile a kernel that writes it
    # (NumPy refuses the write with the JIT disabled).
    return np.frombuffer(array.tobytes(), dtype=array.dtype).reshape(array.shape)


@pytest.mark.nojit
def test_kernels_never_write_their_bit_inputs():
    # kernel_input hands the kernels writeable views of read-only views of
    # writeable memory (mem.addresses): safe only while no kernel writes its
    # inputs.  Unwriteable memory reaches them read-only, so a kernel that
    # wrote would not compile (nor run, with the JIT disabled).
    mem = fastsdm.SDM(128, 300, radius=52, counter_dtype="int8", seed=0)
    own = mem.addresses.copy()
    P = fastsdm.random_addresses(8, 128, seed=1)
    results = []
    for Q, A in ((P, own), (_frozen(P), _frozen(own))):
        got = []
        # The row scan, and the tiled and fused kernels (8 rows need no
        # padding: the kernels get the array itself).
        for batch in (Q[:3], Q):
            got.append(fastsdm.hamming_distances(batch, A))
            got.append(fastsdm.radius_search(batch, A, 52)[1])
            got.append(fastsdm.knn_search(batch, A, 3)[0])
            mem.write(batch)
            got.append(mem.read(batch))
        mem.clear()
        results.append(got)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
    for batch in (mem.addresses[:3], mem.addresses[:8]):  # through the memory's own view
        fastsdm.radius_search(batch, mem.addresses, 52)
        mem.write(batch)
        mem.read(batch)
    np.testing.assert_array_equal(mem.addresses, own)


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="counts compilations")
def test_read_only_inputs_reuse_the_kernels_of_writeable_ones():
    # The writeable flag is part of numba's array type: batches sliced from
    # mem.addresses (a read-only view) compiled each fused kernel and scan a
    # second time, and fastsdm.warmup(), which writes such batches, prepared
    # the kernels users' own (writeable) arrays did not use.
    mem = fastsdm.SDM(64, 64, radius=32, counter_dtype="int8", seed=0)
    own = mem.addresses.copy()
    kernels = (c.scan_update(True), c.scan_update(False), h.scan_tiled(h.MODE_RADIUS),
               h.scan_rows(), h.load_tile)

    def run(batch, addresses):
        mem.write(batch[:8])
        mem.read(batch[:8])
        mem.read(batch[:3])
        fastsdm.radius_search(batch[:8], addresses, 32)
        fastsdm.radius_search(batch[:2], addresses, 32)

    run(own, own)
    compiled = [len(k.signatures) for k in kernels]
    run(mem.addresses, mem.addresses)
    assert [len(k.signatures) for k in kernels] == compiled
    assert not mem.addresses.flags.writeable  # still shown read-only


# -- k-NN keys for long vectors (issue 11) -------------------------------------------


@pytest.mark.parametrize("n_bits", [2**23 + 1, 2**23 + 65])
def test_knn_is_exact_for_vectors_of_millions_of_bits(n_bits):
    # The heap key was distance << 40 | index: a distance of 2**23 or more
    # overflowed it (wrong neighbours, garbage indices).
    rng = np.random.default_rng(n_bits)
    A = fastsdm.random_addresses(6, n_bits, rng)
    A[4] = A[1]  # a tie: the lower index wins
    A[2] = fastsdm.flip_bits(A[1], n_bits, n_bits, seed=0)  # the complement: distance n
    Q = A[[1, 3]].copy()
    idx, dist = fastsdm.knn_search(Q, A, 6)
    d = _oracle(Q, A)
    for i in range(2):
        order = sorted(range(6), key=lambda j, i=i: (d[i, j], j))
        assert idx[i].tolist() == order
        assert dist[i].tolist() == d[i, order].tolist()
    assert idx[0].tolist()[:2] == [1, 4] and idx[0, -1] == 2 and dist[0, -1] == n_bits


def test_k_nearest_sdm_reads_vectors_of_millions_of_bits():
    # Wrong heap keys made k-nearest SDMs read counters at garbage rows (segfault).
    n = 2**23 + 1
    addresses = fastsdm.random_addresses(5, n, seed=1)
    addresses[2] = fastsdm.flip_bits(addresses[0], n, n, seed=0)
    mem = fastsdm.SDM(n, addresses=addresses, k_nearest=5, n_data_bits=70, ties="zero")
    data = fastsdm.random_addresses(2, 70, seed=2)
    mem.write(addresses[[0, 3]], data)
    indptr, indices = mem.activate(addresses[[0, 3]])
    assert indptr.tolist() == [0, 5, 10] and indices.tolist() == [0, 1, 2, 3, 4] * 2
    naive = NaiveSDM(np.zeros((5, 1)), 70, k_nearest=5, dtype=np.int16)  # all rows active
    for d in unpack(data, 70):
        naive.write(np.zeros(1), d)
    np.testing.assert_array_equal(mem.read_sums(addresses[[0, 3]]), [naive.sums(np.zeros(1))] * 2)


@pytest.mark.nojit
def test_too_long_keys_and_distances_are_refused():
    with pytest.raises(ValueError, match="exceeds the 63-bit sort keys"):
        h.key_shift(2**40, 2**20)
    assert h.key_shift(1, 1) == 1 and h.key_shift(2**20 + 1, 16) == 21
    # A (1, 2**25)-word array without memory: zero strides.
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint64), shape=(1, 2**25),
                                           strides=(0, 0))
    with pytest.raises(ValueError, match="too long for int32 Hamming distances"):
        search._scan(huge, huge, h.MODE_DISTANCES, out_dist=np.zeros((1, 1), np.int32))


# -- running tasks on threads --------------------------------------------------------


def _claim_all(tasks):
    claimed = []
    while (task := _intrinsics.next_task(tasks)) >= 0:
        claimed.append(task)
    return claimed


@pytest.mark.nojit
def test_run_tasks_hands_out_every_task_once(monkeypatch):
    monkeypatch.setattr(numba, "get_num_threads", lambda: 3)
    seen = []

    def kernel(tasks, worker, tag):
        for task in _claim_all(tasks):
            seen.append((task, worker, tag))

    _jit.run_tasks(kernel, 10, ("x",), parallel=True)
    assert sorted(t for t, _, _ in seen) == list(range(10))
    assert {w for _, w, _ in seen} <= {0, 1, 2} and {tag for _, _, tag in seen} == {"x"}
    seen.clear()
    _jit.run_tasks(kernel, 10, ("y",), parallel=False)
    assert seen == [(t, 0, "y") for t in range(10)]  # in order, by the caller
    assert _jit.parallel_parts(10, True) == 3 and _jit.parallel_parts(2, True) == 2
    assert _jit.parallel_parts(10, False) == 1


@pytest.mark.nojit
@pytest.mark.parametrize("n", [0, 1, 7, 10**6, 10**18])
@pytest.mark.parametrize("parts", [1, 3, 8, 64])
def test_even_cuts_split_a_range_into_nearly_equal_parts(n, parts):
    cuts = _jit.even_cuts(n, parts)
    assert cuts.dtype == np.int64 and cuts.size == parts + 1
    assert cuts[0] == 0 and cuts[-1] == n  # exact to 10**18: no float rounding
    sizes = np.diff(cuts)
    assert (sizes >= 0).all() and sizes.max() - sizes.min() <= 1


@jit
def _claim_in_kernel(tasks, out):
    n = 0
    while True:
        task = _intrinsics.next_task(tasks)
        if task < 0:
            break
        out[task] += 1
        n += 1
    return n


def test_next_task_is_atomic_across_threads():
    # Threads hammering one counter: every task exactly once.
    import threading

    tasks = np.array([0, 200_000], np.int64)
    out = np.zeros(200_000, np.int64)
    threads = [threading.Thread(target=_claim_in_kernel, args=(tasks, out)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (out == 1).all()


@pytest.mark.nojit
def test_run_tasks_waits_for_every_task_and_reraises(monkeypatch):
    import threading
    import time

    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    finished = []

    def kernel(tasks, worker):
        if worker == 0:
            raise KeyboardInterrupt  # the caller's own part is interrupted
        time.sleep(0.2)
        finished.append(threading.current_thread().name)

    with pytest.raises(KeyboardInterrupt):
        _jit.run_tasks(kernel, 2, (), parallel=True)
    assert len(finished) == 1  # the other thread's task ended before the call returned

    def failing(tasks, worker):
        if worker == 1:
            raise ValueError("task 1 failed")

    with pytest.raises(ValueError, match="task 1 failed"):
        _jit.run_tasks(failing, 2, (), parallel=True)


@pytest.mark.nojit
def test_an_interrupt_raised_just_after_the_wait_succeeded_does_not_hang(monkeypatch):
    # A Ctrl-C that reaches another thread is raised in the main thread when
    # the lock's acquire returns, after it succeeded: the wait retried the
    # acquire of a lock it held and hung for good (fastsdm capacity, Ctrl-C).
    import threading
    import time

    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    _jit.run_tasks(lambda tasks, worker: None, 2, (), parallel=True)  # start the worker
    worker = _jit._workers[0]
    real = worker.finished

    class InterruptedAfterAcquire:
        armed = True

        def acquire(self, *args, **kwargs):
            taken = real.acquire(*args, **kwargs)
            if taken and self.armed:
                self.armed = False
                raise KeyboardInterrupt
            return taken

        def release(self):
            real.release()

        def locked(self):
            return real.locked()

    monkeypatch.setattr(worker, "finished", InterruptedAfterAcquire())
    done, outcome = [], []

    def kernel(tasks, index):
        if index == 1:
            time.sleep(0.05)
            done.append(index)

    def call():
        try:
            _jit.run_tasks(kernel, 2, (), parallel=True)
            outcome.append("returned")
        except KeyboardInterrupt:
            outcome.append("interrupted")

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "the wait hung on a lock it already held"
    assert outcome == ["interrupted"] and done == [1]
    # The worker is left in a state the next calls can use.
    for _ in range(3):
        done.clear()
        _jit.run_tasks(kernel, 2, (), parallel=True)
        assert done == [1]


@pytest.mark.nojit
def test_a_call_while_the_workers_are_busy_runs_serially(monkeypatch):
    import threading

    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    inside, release = threading.Event(), threading.Event()
    workers_seen = []

    def slow(tasks, worker):
        _claim_all(tasks)
        if worker == 1:
            inside.set()
            release.wait(10)

    def record(tasks, worker):
        workers_seen.append((worker, _claim_all(tasks)))

    first = threading.Thread(target=_jit.run_tasks, args=(slow, 2, (), True))
    first.start()
    assert inside.wait(10)
    _jit.run_tasks(record, 4, (), parallel=True)  # the workers are taken: all by the caller
    release.set()
    first.join()
    assert workers_seen == [(0, [0, 1, 2, 3])]
    workers_seen.clear()
    _jit.run_tasks(record, 4, (), parallel=True)  # free again: shared
    assert sorted(t for _, ts in workers_seen for t in ts) == [0, 1, 2, 3]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with threads (3.12+)
def test_parallel_calls_work_in_a_forked_child():
    # The parent's thread pool does not exist in a child: it starts its own.
    A = fastsdm.random_addresses(3000, 256, seed=0)
    expected = fastsdm.radius_search(A[:2], A, 100, parallel=True)
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child reports through its exit status)
        got = fastsdm.radius_search(A[:2], A, 100, parallel=True)
        os._exit(0 if all((g == e).all() for g, e in zip(got, expected, strict=True)) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
