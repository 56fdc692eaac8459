import numpy as np
import pytest
from bitarray import bitarray
from hypothesis import given, settings
from hypothesis import strategies as st

import fastsdm
from tests.reference import pack_loop, unpack

pytestmark = pytest.mark.nojit

N_BITS = [1, 7, 8, 63, 64, 65, 127, 128, 1000, 4096]


@pytest.mark.parametrize("n", N_BITS)
def test_pack_matches_layout_definition_and_bitarray(rng, n):
    bits = rng.integers(0, 2, size=(5, n), dtype=np.uint8)
    words = fastsdm.pack_bits(bits)
    assert words.dtype == np.uint64 and words.shape == (5, (n + 63) // 64)
    for row, w in zip(bits, words, strict=True):
        np.testing.assert_array_equal(w, pack_loop(row))
        raw = bitarray(row.tolist(), endian="big").tobytes()
        assert w.astype("<u8").tobytes()[: len(raw)] == raw
    np.testing.assert_array_equal(fastsdm.unpack_bits(words, n), bits)


@settings(deadline=None, max_examples=50)
@given(st.lists(st.booleans(), min_size=1, max_size=300))
def test_pack_unpack_roundtrip(bits):
    words = fastsdm.pack_bits(bits)
    np.testing.assert_array_equal(fastsdm.unpack_bits(words, len(bits)), np.array(bits, np.uint8))


def test_pack_accepts_bool_and_ints_and_leading_axes(rng):
    bits = rng.integers(0, 2, size=(2, 3, 70))
    words = fastsdm.pack_bits(bits)
    assert words.shape == (2, 3, 2)
    np.testing.assert_array_equal(words, fastsdm.pack_bits(bits.astype(bool)))
    np.testing.assert_array_equal(fastsdm.unpack_bits(words, 70), bits)


def test_pack_edge_words():
    assert int(fastsdm.pack_bits(np.ones(64, np.uint8))[0]) == 2**64 - 1
    # Bit 0 is the most significant bit of byte 0, the lowest byte of the word.
    assert int(fastsdm.pack_bits([1] + [0] * 63)[0]) == 0x80
    assert int(fastsdm.pack_bits([0] * 56 + [1] + [0] * 7)[0]) == 2**63


@pytest.mark.parametrize("n", N_BITS)
def test_pad_bits_are_zero(n):
    words = fastsdm.pack_bits(np.ones(n, np.uint8))
    assert unpack(words, 64 * words.size).sum() == n
    assert fastsdm.random_addresses(50, n, seed=0).view(np.uint64).size == 50 * words.size
    a = fastsdm.random_addresses(50, n, seed=0)
    assert unpack(a, 64 * a.shape[1])[:, n:].sum() == 0


def test_pack_errors():
    with pytest.raises(ValueError, match="bits must be 0 or 1"):
        fastsdm.pack_bits([0, 2, 1])
    with pytest.raises(ValueError, match="bits must be 0 or 1"):
        fastsdm.pack_bits([0, -1])
    with pytest.raises(TypeError, match="threshold real values first"):
        fastsdm.pack_bits([0.5, 1.0])
    with pytest.raises(ValueError, match="at least one bit"):
        fastsdm.pack_bits(np.zeros((3, 0), np.uint8))
    # a single value of another type is refused for its type, not as "no bits"
    for value in ["0101", b"\x01\x00", None, 1.5]:
        with pytest.raises(TypeError, match="bits must be bool or integers 0/1"):
            fastsdm.pack_bits(value)


def test_unpack_errors():
    with pytest.raises(TypeError, match="packed uint64 words"):
        fastsdm.unpack_bits(np.zeros(2, np.int64), 100)
    with pytest.raises(ValueError, match="must have 2 words per vector for n_bits=100"):
        fastsdm.unpack_bits(np.zeros(3, np.uint64), 100)
    with pytest.raises(ValueError, match="non-zero pad bits"):
        fastsdm.unpack_bits(np.array([2**64 - 1], np.uint64), 10)
    with pytest.raises(ValueError, match=r"n_bits must be in \[1, inf\]"):
        fastsdm.unpack_bits(np.zeros(1, np.uint64), 0)
    with pytest.raises(TypeError, match="n_bits must be an integer"):
        fastsdm.unpack_bits(np.zeros(1, np.uint64), 10.0)


def test_clear_pad_bits():
    w = np.array([[2**64 - 1, 2**64 - 1]], np.uint64)
    cleared = fastsdm.clear_pad_bits(w, 70)
    assert unpack(cleared, 128).sum() == 70
    assert w[0, 1] == 2**64 - 1  # input untouched
    with pytest.raises(ValueError, match="must have 2 words per vector"):
        fastsdm.clear_pad_bits(w[:, :1], 70)


def test_random_addresses_seeded_and_uniform():
    a = fastsdm.random_addresses(2000, 1000, seed=3)
    b = fastsdm.random_addresses(2000, 1000, seed=3)
    c = fastsdm.random_addresses(2000, 1000, seed=4)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    ones = unpack(a, 1000).mean(axis=0)
    # each bit is 1 with probability 1/2: 2000 draws give sd 0.011
    assert np.abs(ones - 0.5).max() < 0.06
    assert fastsdm.random_addresses(0, 10).shape == (0, 1)
    with pytest.raises(ValueError, match=r"m must be in \[0, inf\]"):
        fastsdm.random_addresses(-1, 10)
    # NumPy takes True as seed 1; the memories refuse it, and so do the bit helpers
    for seed in (True, np.False_):
        with pytest.raises(TypeError, match="seed must be None, a non-negative int"):
            fastsdm.random_addresses(2, 10, seed=seed)
        with pytest.raises(TypeError, match="seed must be None, a non-negative int"):
            fastsdm.flip_bits(a[:2], 1000, 3, seed=seed)


@pytest.mark.parametrize("n", [1, 64, 65, 1000])
def test_flip_bits_flips_exactly_k_distinct_bits(n):
    x = fastsdm.random_addresses(40, n, seed=1)
    for k in sorted({0, 1, n // 2, n}):
        y = fastsdm.flip_bits(x, n, k, seed=k)
        d = (unpack(x, n) != unpack(y, n)).sum(axis=1)
        assert (d == k).all()
        assert unpack(y, 64 * y.shape[1])[:, n:].sum() == 0
    np.testing.assert_array_equal(fastsdm.flip_bits(x, n, 1, seed=5),
                                  fastsdm.flip_bits(x, n, 1, seed=5))
    assert fastsdm.flip_bits(x[0], n, 1, seed=0).shape == x[0].shape


def test_flip_bits_positions_are_uniform():
    x = np.zeros((4000, 1), np.uint64)
    y = fastsdm.flip_bits(x, 10, 3, seed=0)
    freq = unpack(y, 10).mean(axis=0)
    assert np.abs(freq - 0.3).max() < 0.04  # sd 0.007
    # more than half the bits: the complement is drawn instead
    freq = unpack(fastsdm.flip_bits(x, 10, 8, seed=1), 10).mean(axis=0)
    assert np.abs(freq - 0.8).max() < 0.04


def test_flip_bits_errors():
    x = fastsdm.random_addresses(2, 10, seed=0)
    with pytest.raises(ValueError, match=r"k must be in \[0, 10\]"):
        fastsdm.flip_bits(x, 10, 11)
    with pytest.raises(ValueError, match="non-zero pad bits"):
        fastsdm.flip_bits(x | np.uint64(2**63 >> 20), 10, 1)


def test_bitarray_roundtrip_and_endianness(rng):
    bits = rng.integers(0, 2, size=(3, 77), dtype=np.uint8)
    words = fastsdm.pack_bits(bits)
    bas = fastsdm.to_bitarray(words, 77)
    assert [b.tolist() for b in bas] == bits.tolist()
    np.testing.assert_array_equal(fastsdm.from_bitarray(bas), words)
    little = bitarray(bits[0].tolist(), endian="little")
    np.testing.assert_array_equal(fastsdm.from_bitarray(little), words[0])
    assert fastsdm.to_bitarray(words[0], 77) == bas[0]


def test_garbage_pad_bits_from_bitarray_buffers():
    # setall(1) on a 3-bit bitarray sets the whole byte of its buffer: the raw
    # buffer carries 5 garbage pad bits.
    b = bitarray("101", endian="big")
    b.setall(1)
    raw = np.zeros(8, np.uint8)
    raw[0] = np.frombuffer(memoryview(b), np.uint8)[0]
    assert raw[0] == 0xFF  # the premise: garbage beyond bit 3
    words = raw.view("<u8").astype(np.uint64)
    with pytest.raises(ValueError, match="non-zero pad bits beyond bit 3"):
        fastsdm.unpack_bits(words, 3)
    np.testing.assert_array_equal(fastsdm.clear_pad_bits(words, 3), fastsdm.pack_bits([1, 1, 1]))
    np.testing.assert_array_equal(fastsdm.from_bitarray(b), fastsdm.pack_bits([1, 1, 1]))


def test_from_bitarray_errors():
    with pytest.raises(TypeError, match="expects a bitarray"):
        fastsdm.from_bitarray([1, 0])
    with pytest.raises(ValueError, match="same length"):
        fastsdm.from_bitarray([bitarray("10"), bitarray("1")])


def test_big_endian_words_are_refused_everywhere_words_are_taken():
    w = fastsdm.random_addresses(3, 70, seed=0)
    big = w.astype(">u8")
    for call in (lambda: fastsdm.unpack_bits(big, 70), lambda: fastsdm.flip_bits(big, 70, 3),
                 lambda: fastsdm.to_bitarray(big, 70), lambda: fastsdm.clear_pad_bits(big, 70)):
        with pytest.raises(TypeError, match=r"words are uint64 words in non-native "
                                            r"\(big-endian\) byte order, got array of shape "
                                            r"\(3, 2\) and dtype >u8"):
            call()
    # clear_pad_bits also takes int64 words, whose big-endian form is as ambiguous.
    with pytest.raises(TypeError, match=r"words are int64 words in non-native \(big-endian\) "
                                        r"byte order, got array of shape \(3, 2\) and dtype "
                                        r">i8"):
        fastsdm.clear_pad_bits(w.astype(">i8"), 70)
    np.testing.assert_array_equal(fastsdm.clear_pad_bits(w.astype(np.int64), 70), w)
    # Bits (0/1 values) in any byte order are still bits.
    bits = fastsdm.unpack_bits(w, 70)
    np.testing.assert_array_equal(fastsdm.pack_bits(bits.astype(">u8")), w)
    # The hint's conversions: by value, and reinterpreting np.packbits bytes.
    np.testing.assert_array_equal(fastsdm.unpack_bits(np.asarray(big, dtype=np.uint64), 70), bits)
    packed = np.zeros((3, 16), np.uint8)
    packed[:, :9] = np.packbits(bits, axis=-1)
    np.testing.assert_array_equal(packed.view(">u8").view("<u8"), w)


def test_n_bits_of_the_wrong_type_say_how_to_fix_it():
    with pytest.raises(TypeError, match=r"got float 70.0; pass n_bits=70 \(an int"):
        fastsdm.unpack_bits(fastsdm.random_addresses(1, 70, seed=0), 70.0)
    with pytest.raises(TypeError, match=r"got str '70'; pass the number n_bits=70"):
        fastsdm.random_addresses(3, "70")
    with pytest.raises(TypeError, match=r"n_bits must be an integer, got float nan$"):
        fastsdm.random_addresses(3, float("nan"))
