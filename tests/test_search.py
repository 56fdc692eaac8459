import numpy as np
import pytest
from bitarray import bitarray
from bitarray.util import count_xor
from hypothesis import given, settings
from hypothesis import strategies as st

import fastsdm
from fastsdm import _intrinsics, search
from fastsdm._jit import jit
from fastsdm._kernels import hamming as h
from tests.reference import hamming, knn_lists, radius_lists

pytestmark = pytest.mark.kernel

# Query counts on both sides of the row-wise / tiled switch, tile tails, and
# vector lengths around word boundaries.
CASES = [(n, N, q) for n in (1, 63, 64, 65, 1000)
         for N, q in ((1, 1), (67, 3), (300, 9), (700, 37))]
# Tiles of 5 and 10 words: no and one 8 x 8 transposed block plus loose words.
CASES += [(300, 300, 9), (600, 700, 37)]
# A few of them also run with NUMBA_DISABLE_JIT=1 (the kernels as plain Python).
CASES = [pytest.param(*c, marks=pytest.mark.nojit) if c[0] in (63, 65) and c[1] <= 300 else c
         for c in CASES]


def _data(n, N, q, seed=0):
    rng = np.random.default_rng(seed)
    return fastsdm.random_addresses(q, n, rng), fastsdm.random_addresses(N, n, rng)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("n,N,q", CASES)
def test_distances_match_reference_and_oracles(n, N, q, parallel):
    Q, A = _data(n, N, q)
    d = fastsdm.hamming_distances(Q, A, n_bits=n, parallel=parallel)
    assert d.dtype == np.int32 and d.shape == (q, N)
    np.testing.assert_array_equal(d, hamming(Q, A, n))
    np.testing.assert_array_equal(d, np.bitwise_count(Q[:, None, :] ^ A[None]).sum(-1))
    qa = fastsdm.to_bitarray(Q, n)
    aa = fastsdm.to_bitarray(A, n)
    assert [[count_xor(x, y) for y in aa] for x in qa] == d.tolist()


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("n,N,q", CASES)
def test_radius_search_matches_reference(n, N, q, parallel):
    Q, A = _data(n, N, q, seed=1)
    for radius in sorted({0, n // 2 - 1 if n > 2 else 0, n // 2, n}):
        indptr, indices = fastsdm.radius_search(Q, A, radius, n_bits=n, parallel=parallel)
        assert indptr.dtype == np.int64 and indices.dtype == np.int64
        expected = radius_lists(Q, A, n, radius)
        assert indptr.tolist() == np.cumsum([0] + [len(e) for e in expected]).tolist()
        for i, e in enumerate(expected):
            np.testing.assert_array_equal(indices[indptr[i] : indptr[i + 1]], e)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("n,N,q", CASES)
def test_knn_matches_reference(n, N, q, parallel):
    Q, A = _data(n, N, q, seed=2)
    for k in sorted({1, min(N, 5), N}):
        idx, dist = fastsdm.knn_search(Q, A, k, n_bits=n, parallel=parallel)
        assert idx.shape == dist.shape == (q, k)
        for i, (e_idx, e_dist) in enumerate(knn_lists(Q, A, n, k)):
            np.testing.assert_array_equal(idx[i], e_idx)
            np.testing.assert_array_equal(dist[i], e_dist)


@pytest.mark.nojit
@pytest.mark.parametrize("q", [1, 5, 12])  # one query, row-wise scan, tiled scan
@pytest.mark.parametrize("parallel", [False, True])
def test_distances_into_out_are_the_returned_distances(q, parallel, tmp_path):
    rng = np.random.default_rng(q)
    Q, A = fastsdm.random_addresses(q, 130, rng), fastsdm.random_addresses(700, 130, rng)
    expected = hamming(Q, A, 192)
    out = np.full((q, 700), -1, dtype=np.int32)  # stale contents are overwritten
    assert fastsdm.hamming_distances(Q, A, parallel=parallel, out=out) is out
    np.testing.assert_array_equal(out, expected)
    one = np.full(700, -1, dtype=np.int32)
    assert fastsdm.hamming_distances(Q[0], A, parallel=parallel, out=one) is one
    np.testing.assert_array_equal(one, expected[0])
    stacked = np.full((1, q, 700), -1, dtype=np.int32)
    fastsdm.hamming_distances(Q[None], A, parallel=parallel, out=stacked)
    np.testing.assert_array_equal(stacked[0], expected)
    mapped = np.lib.format.open_memmap(tmp_path / "d.npy", mode="w+", dtype=np.int32,
                                       shape=(q, 700))
    assert fastsdm.hamming_distances(Q, A, parallel=parallel, out=mapped) is mapped
    mapped.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), expected)


def test_distances_out_is_checked():
    Q, A = fastsdm.random_addresses(5, 128, seed=0), fastsdm.random_addresses(100, 128, seed=1)
    with pytest.raises(TypeError, match=r"int32 array of shape \(5, 100\).*dtype int64"):
        fastsdm.hamming_distances(Q, A, out=np.empty((5, 100), np.int64))
    with pytest.raises(TypeError, match="NumPy array"):
        fastsdm.hamming_distances(Q, A, out=[[0] * 100] * 5)
    for wrong in (np.empty((5, 99), np.int32), np.empty(100, np.int32)):
        with pytest.raises(ValueError, match=r"shape \(5, 100\)"):
            fastsdm.hamming_distances(Q, A, out=wrong)
    with pytest.raises(ValueError, match="C-contiguous.*non-contiguous"):
        fastsdm.hamming_distances(Q, A, out=np.empty((100, 5), np.int32).T)
    read_only = np.empty((5, 100), np.int32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastsdm.hamming_distances(Q, A, out=read_only)
    # Distances written over the addresses they are computed from.
    words = fastsdm.random_addresses(260, 128, seed=2)
    with pytest.raises(ValueError, match="shares memory"):
        fastsdm.hamming_distances(words[:5], words[10:110],
                                  out=words[100:225].view(np.int32).reshape(5, 100))


def test_knn_ties_go_to_the_lower_index():
    A = np.zeros((10, 1), np.uint64)  # ten identical addresses
    idx, dist = fastsdm.knn_search(np.zeros((9, 1), np.uint64), A, 4)
    assert (idx == [0, 1, 2, 3]).all() and (dist == 0).all()
    A[3] = 1
    idx, _ = fastsdm.knn_search(np.zeros(1, np.uint64), A, 9)
    assert idx.tolist() == [0, 1, 2, 4, 5, 6, 7, 8, 9]


@settings(deadline=None, max_examples=40)
@given(n=st.integers(1, 200), N=st.integers(1, 150), q=st.integers(1, 12),
       radius_frac=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_search_properties(n, N, q, radius_frac, seed):
    Q, A = _data(n, N, q, seed)
    d = hamming(Q, A, n)
    np.testing.assert_array_equal(fastsdm.hamming_distances(Q, A), d)
    radius = int(round(radius_frac * n))
    indptr, indices = fastsdm.radius_search(Q, A, radius)
    assert indptr[-1] == (d <= radius).sum()
    k = max(1, N // 2)
    idx, dist = fastsdm.knn_search(Q, A, k)
    np.testing.assert_array_equal(dist, np.sort(d, axis=1)[:, :k])
    np.testing.assert_array_equal(np.take_along_axis(d, idx, axis=1), dist)


@pytest.mark.nojit
def test_extreme_words():
    A = np.array([[2**64 - 1], [2**63], [0], [1]], np.uint64)
    d = fastsdm.hamming_distances(A, A)
    np.testing.assert_array_equal(d, [[0, 63, 64, 63], [63, 0, 1, 2], [64, 1, 0, 1],
                                      [63, 2, 1, 0]])
    many = np.repeat(A, 5, axis=0)  # >= 8 queries: the tiled path
    np.testing.assert_array_equal(fastsdm.hamming_distances(many, A), np.repeat(d, 5, axis=0))


@pytest.mark.nojit
def test_single_query_returns_one_dimension():
    Q, A = _data(100, 50, 2)
    assert fastsdm.hamming_distances(Q[0], A).shape == (50,)
    idx, dist = fastsdm.knn_search(Q[0], A, 3)
    assert idx.shape == dist.shape == (3,)
    indptr, _ = fastsdm.radius_search(Q[0], A, 50)
    assert indptr.shape == (2,)


@pytest.mark.nojit
def test_empty_address_set():
    Q, _ = _data(100, 1, 3)
    A = np.zeros((0, 2), np.uint64)
    assert fastsdm.hamming_distances(Q, A).shape == (3, 0)
    indptr, indices = fastsdm.radius_search(Q, A, 10)
    assert indptr.tolist() == [0, 0, 0, 0] and indices.size == 0


@pytest.mark.nojit
def test_layouts_read_only_fortran_strided():
    Q, A = _data(200, 90, 10, seed=3)
    expected = hamming(Q, A, 200)
    ro = A.copy()
    ro.setflags(write=False)
    np.testing.assert_array_equal(fastsdm.hamming_distances(Q, ro), expected)
    np.testing.assert_array_equal(fastsdm.hamming_distances(np.asfortranarray(Q),
                                                            np.asfortranarray(A)), expected)
    wide = np.zeros((90, 8), np.uint64)
    wide[:, ::2] = A
    np.testing.assert_array_equal(fastsdm.hamming_distances(Q, wide[:, ::2]), expected)
    np.testing.assert_array_equal(fastsdm.hamming_distances(Q[::2], A[::3]),
                                  expected[::2, ::3])


def test_serial_and_parallel_twins_agree_on_large_input():
    Q, A = _data(1000, 5000, 40, seed=4)
    for f in (lambda p: fastsdm.hamming_distances(Q, A, parallel=p),
              lambda p: fastsdm.radius_search(Q, A, 480, parallel=p),
              lambda p: fastsdm.knn_search(Q, A, 17, parallel=p)):
        serial, parallel = f(False), f(True)
        for a, b in zip(serial, parallel, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.nojit
def test_radius_masks_are_chunked_over_queries(monkeypatch):
    Q, A = _data(64, 200, 30, seed=5)
    expected = fastsdm.radius_search(Q, A, 28)
    monkeypatch.setattr(search, "MASK_BUDGET", 8 * 4 * 3)  # 3 queries' masks per chunk
    assert search.queries_per_chunk(200) == 8
    got = fastsdm.radius_search(Q, A, 28)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.nojit
def test_interop_with_bitarray_bytes():
    b = bitarray("1100" * 30)
    words = fastsdm.from_bitarray(b)
    assert fastsdm.hamming_distances(words, fastsdm.from_bitarray(~b)[None])[0] == 120


@pytest.mark.nojit
def test_search_errors():
    Q, A = _data(100, 10, 2)
    with pytest.raises(TypeError, match="queries must be packed uint64 words"):
        fastsdm.hamming_distances(Q.astype(np.int64), A)
    with pytest.raises(TypeError, match="addresses must be packed uint64 words"):
        fastsdm.hamming_distances(Q, A.astype(float))
    with pytest.raises(ValueError, match="same number of words"):
        fastsdm.hamming_distances(Q[:, :1], A)
    with pytest.raises(ValueError, match="queries is empty"):
        fastsdm.hamming_distances(Q[:0], A)
    with pytest.raises(ValueError, match="addresses must have 2 dimensions"):
        fastsdm.hamming_distances(Q, A[0])
    # Stacked batches are hamming_distances' (tested below); the other two take 1-D or 2-D.
    with pytest.raises(ValueError, match="queries must be one vector"):
        fastsdm.radius_search(Q[None], A, 3)
    with pytest.raises(ValueError, match="queries must be one vector"):
        fastsdm.knn_search(Q[None], A, 3)
    with pytest.raises(ValueError, match=r"radius must be in \[0, 100\]"):
        fastsdm.radius_search(Q, A, 101, n_bits=100)
    with pytest.raises(ValueError, match=r"radius must be in \[0, 128\]"):
        fastsdm.radius_search(Q, A, -1)
    with pytest.raises(TypeError, match="radius must be an integer"):
        fastsdm.radius_search(Q, A, 3.5)
    with pytest.raises(ValueError, match=r"k must be in \[1, 10\]"):
        fastsdm.knn_search(Q, A, 11)
    with pytest.raises(ValueError, match=r"k must be in \[1, 10\]"):
        fastsdm.knn_search(Q, A, 0)
    with pytest.raises(ValueError, match="non-zero pad bits"):
        fastsdm.hamming_distances(Q, A | np.uint64(2**63), n_bits=100)
    with pytest.raises(ValueError, match="must have 1 words per vector for n_bits=50"):
        fastsdm.hamming_distances(Q, A, n_bits=50)


@jit
def _load_tile(A, start, count, T):
    h.load_tile(A, start, count, T)


@jit
def _transpose(src, src_start, src_stride, dst, dst_start, dst_stride):
    _intrinsics.transpose8x8(src, src_start, src_stride, dst, dst_start, dst_stride)


@pytest.mark.nojit
@pytest.mark.parametrize("count", [256, 200, 13, 3])
@pytest.mark.parametrize("W", [1, 5, 8, 10, 16, 24])
def test_tiles_are_transposed_exactly(W, count):
    # load_tile moves whole 8 x 8 blocks with vector shuffles and the rest
    # word by word; compare with numpy's transpose, pads zero.
    rng = np.random.default_rng(W * 1000 + count)
    A = rng.integers(0, 2**64, size=(600, W), dtype=np.uint64, endpoint=False)
    W8 = search.padded_words(W)
    T = np.full((W8, 256), 7, dtype=np.uint64)
    _load_tile(A, 300, count, T)
    expected = np.zeros((W8, 256), dtype=np.uint64)
    expected[:W, :count] = A[300 : 300 + count].T
    np.testing.assert_array_equal(T, expected)


@pytest.mark.nojit
def test_transpose8x8_matches_plain_python():
    src = np.arange(400, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    dst = np.zeros(500, dtype=np.uint64)
    _transpose(src, 7, 40, dst, 3, 50)
    expected = np.zeros(500, dtype=np.uint64)
    for i in range(8):
        for k in range(8):
            expected[3 + 50 * i + k] = src[7 + 40 * k + i]
    np.testing.assert_array_equal(dst, expected)
    plain = np.zeros(500, dtype=np.uint64)
    _intrinsics.transpose8x8(src, 7, 40, plain, 3, 50)
    np.testing.assert_array_equal(plain, expected)


# -- pad bits, n_bits and byte order (issue 11, section 5) -----------------------------


def test_pad_bits_count_without_n_bits_and_are_refused_with_it(rng):
    n = 100
    a = fastsdm.random_addresses(6, n, seed=0)
    q = fastsdm.random_addresses(3, n, seed=1)
    garbage = q.copy()
    # Word 1 holds vector bits 64..127 as bytes 8..15; bits 100..127 are pad.
    garbage[:, -1] |= np.uint64((1 << 63) | (1 << 33))  # vector bits 120 and 102
    # Without n_bits every one of the 64 W bits counts (np.bitwise_count is the oracle).
    oracle = np.bitwise_count(garbage[:, None, :] ^ a[None, :, :]).sum(axis=2)
    np.testing.assert_array_equal(fastsdm.hamming_distances(garbage, a), oracle)
    assert (oracle != fastsdm.hamming_distances(q, a)).any()
    radius = int(np.median(oracle))
    indptr, indices = fastsdm.radius_search(garbage, a, radius)
    assert indices.tolist() == [j for row in oracle for j in np.flatnonzero(row <= radius)]
    _, distances = fastsdm.knn_search(garbage, a, 6)
    np.testing.assert_array_equal(distances, np.sort(oracle, axis=1))
    # With n_bits they are refused, by every function, for queries and addresses.
    for call in (lambda x, y: fastsdm.hamming_distances(x, y, n_bits=n),
                 lambda x, y: fastsdm.radius_search(x, y, 3, n_bits=n),
                 lambda x, y: fastsdm.knn_search(x, y, 2, n_bits=n)):
        with pytest.raises(ValueError, match="queries has non-zero pad bits beyond bit 100"):
            call(garbage, a)
        with pytest.raises(ValueError, match="addresses has non-zero pad bits beyond bit 100"):
            call(q, garbage)
    cleared = fastsdm.clear_pad_bits(garbage, n)
    np.testing.assert_array_equal(fastsdm.hamming_distances(cleared, a, n_bits=n),
                                  fastsdm.hamming_distances(q, a))


@pytest.mark.parametrize(("n_bits", "match"), [
    (100.0, r"n_bits must be an integer, got float 100.0; .*pass n_bits=100 \(an int, not a "
            r"float\)"),
    ("100", r"n_bits must be an integer, got str '100'; .*pass the number n_bits=100, not the "
            r"string '100'"),
    ("lots", r"pass a whole number such as n_bits=100, not a string"),
])
def test_n_bits_of_the_wrong_type_say_how_to_fix_it(n_bits, match):
    a = fastsdm.random_addresses(3, 100, seed=0)
    for call in (lambda: fastsdm.hamming_distances(a, a, n_bits=n_bits),
                 lambda: fastsdm.radius_search(a, a, 3, n_bits=n_bits),
                 lambda: fastsdm.knn_search(a, a, 2, n_bits=n_bits)):
        with pytest.raises(TypeError, match=match):
            call()


def test_big_endian_words_are_refused_with_both_conversions():
    a = fastsdm.random_addresses(4, 100, seed=0)
    big = a.astype(">u8")  # same values, other byte order
    match = (r"queries are uint64 words in non-native \(big-endian\) byte order.*"
             r"np.asarray\(queries, dtype=np.uint64\).*queries.view\('<u8'\)")
    for call in (lambda: fastsdm.hamming_distances(big, a),
                 lambda: fastsdm.radius_search(big, a, 3),
                 lambda: fastsdm.knn_search(big, a, 2)):
        with pytest.raises(TypeError, match=match):
            call()
    with pytest.raises(TypeError, match="addresses are uint64 words in non-native"):
        fastsdm.hamming_distances(a, big)
    # The first conversion of the hint gives the same words back.
    np.testing.assert_array_equal(
        fastsdm.hamming_distances(np.asarray(big, dtype=np.uint64), a),
        fastsdm.hamming_distances(a, a))


# -- every bit form, and stacked batches (issue 13 §6, issue 16 §4) ----------------------


def _forms(words, n):
    """The same vectors as uint64 words, np.packbits bytes, 0/1 uint8 rows and bool rows."""
    bits = fastsdm.unpack_bits(words, n)
    return {"words": words, "bytes": np.packbits(bits, axis=-1), "rows": bits,
            "bool": bits.astype(bool)}


@pytest.mark.parametrize("q_form", ["words", "bytes", "rows", "bool"])
@pytest.mark.parametrize("a_form", ["words", "bytes", "rows", "bool"])
def test_search_accepts_every_bit_form(q_form, a_form):
    n = 100
    Q, A = _data(n, 40, 6, seed=3)
    q, a = _forms(Q, n)[q_form], _forms(A, n)[a_form]
    oracle = np.bitwise_count(Q[:, None, :] ^ A[None]).sum(-1)
    np.testing.assert_array_equal(fastsdm.hamming_distances(q, a, n_bits=n), oracle)
    np.testing.assert_array_equal(fastsdm.hamming_distances(q[2], a, n_bits=n), oracle[2])
    indptr, indices = fastsdm.radius_search(q, a, 45, n_bits=n)
    for i in range(6):
        np.testing.assert_array_equal(indices[indptr[i]:indptr[i + 1]],
                                      np.flatnonzero(oracle[i] <= 45))
    idx, dist = fastsdm.knn_search(q, a, 5, n_bits=n)
    want = np.argsort(oracle, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_array_equal(dist, np.take_along_axis(oracle, want, 1))


def test_without_n_bits_the_width_is_read_off_the_addresses():
    # 0/1 rows of 100 bits: the length is exact, and packed queries of that
    # length (2 words, 13 bytes) are measured over 100 bits.
    n = 100
    Q, A = _data(n, 30, 4, seed=4)
    oracle = np.array([[count_xor(fastsdm.to_bitarray(q, n), fastsdm.to_bitarray(a, n))
                        for a in A] for q in Q])
    rows = fastsdm.unpack_bits(A, n).astype(bool)
    for q in _forms(Q, n).values():
        if q.dtype == np.uint8 and q.shape[-1] == n:
            continue  # uint8 0/1 rows without n_bits are ambiguous (below)
        np.testing.assert_array_equal(fastsdm.hamming_distances(q, rows), oracle)
    # Bytes of a multiple of 8 bits and words of a multiple of 64 need no n_bits.
    Q8, A8 = _data(64, 20, 3, seed=5)
    np.testing.assert_array_equal(
        fastsdm.hamming_distances(_forms(Q8, 64)["bytes"], _forms(A8, 64)["bytes"]),
        np.bitwise_count(Q8[:, None, :] ^ A8[None]).sum(-1))
    indptr, _ = fastsdm.radius_search(_forms(Q, n)["bool"], rows, 100)
    assert indptr[-1] == 4 * 30  # radius 100 is the whole length: all within
    with pytest.raises(ValueError, match=r"radius must be in \[0, 100\]"):
        fastsdm.radius_search(_forms(Q, n)["bool"], rows, 101)


def test_mismatched_widths_are_refused_clearly():
    Q, A = _data(100, 10, 2, seed=6)
    rows = fastsdm.unpack_bits(A, 100).astype(bool)
    with pytest.raises(ValueError, match=r"queries as 0/1 bits must have 100 columns.*"
                                         r"read off the addresses \(100 bits: 0/1 rows.*"
                                         r"same width: pass n_bits="):
        fastsdm.hamming_distances(fastsdm.unpack_bits(Q, 100)[:, :90].astype(bool), rows)
    with pytest.raises(ValueError, match=r"queries as np.packbits bytes must have 16 columns "
                                         r"for n_bits=128.*read off the addresses \(128 bits: "
                                         r"uint64 words"):
        fastsdm.hamming_distances(_forms(Q, 100)["bytes"], A)
    with pytest.raises(ValueError, match="queries as 0/1 bits must have 100 columns"):
        fastsdm.knn_search(np.ones((2, 99), bool), rows, 2, n_bits=100)
    with pytest.raises(ValueError, match="could be 0/1 bits or np.packbits bytes; pass n_bits="):
        fastsdm.hamming_distances(Q, rows.astype(np.uint8))
    with pytest.raises(TypeError, match="queries must be packed uint64 words or 0/1 bits"):
        fastsdm.hamming_distances(np.zeros((2, 100)), rows)


@pytest.mark.parametrize("form", ["words", "bytes", "rows"])
def test_hamming_distances_on_stacked_batches(form):
    # Leading batch dimensions, as torchhd's hamming_similarity: the result
    # is batch_shape + (N,), each slice the distances of its queries.
    n = 70
    Q, A = _data(n, 25, 24, seed=7)
    q = _forms(Q, n)[form]
    stacked = q.reshape(2, 3, 4, q.shape[-1])
    d = fastsdm.hamming_distances(stacked, A, n_bits=n)
    assert d.shape == (2, 3, 4, 25) and d.dtype == np.int32
    oracle = np.bitwise_count(Q[:, None, :] ^ A[None]).sum(-1)
    np.testing.assert_array_equal(d.reshape(24, 25), oracle)
    np.testing.assert_array_equal(d[1, 2], oracle[20:24])
    assert fastsdm.hamming_distances(stacked[:, :1], A, n_bits=n).shape == (2, 1, 4, 25)
    with pytest.raises(ValueError, match="queries is empty"):
        fastsdm.hamming_distances(stacked[:0], A, n_bits=n)
    # The message describes the array given, not its rows reshaped.
    with pytest.raises(ValueError, match=r"queries is empty \(array of shape \(2, 0, 4, "):
        fastsdm.hamming_distances(stacked[:, :0], A, n_bits=n)


def test_impossible_bounds_are_described_as_they_are():
    q = fastsdm.random_addresses(2, 100, seed=0)
    with pytest.raises(ValueError, match=r"radius must be in \[0, 100\], got -1; an inclusive "
                                         r"Hamming radius is a distance between 0 and the vector"):
        fastsdm.radius_search(q, q, -1, n_bits=100)
    with pytest.raises(ValueError, match="knn_search needs at least one address .* 0 rows"):
        fastsdm.knn_search(q, np.zeros((0, 2), np.uint64), 1, n_bits=100)
