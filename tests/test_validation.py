"""The check vocabulary (fastsdm._validation) and the bit-vector forms it accepts."""

import numpy as np
import pytest

import fastsdm
from fastsdm import _layout
from fastsdm._validation import (
    as_bits,
    check_choice,
    check_cosines,
    check_distances,
    check_dtype,
    check_int,
    check_positive,
    check_probability,
    check_real,
    real_array,
)

pytestmark = pytest.mark.nojit


# -- the word layout --------------------------------------------------------------


@pytest.mark.parametrize("n_bits", [1, 7, 8, 9, 63, 64, 65, 100, 1000])
def test_layout_round_trips_against_numpy(rng, n_bits):
    bits = rng.integers(0, 2, (5, n_bits), dtype=np.uint8)
    words = _layout.words_from_bits(bits)
    assert words.shape == (5, _layout.n_words(n_bits))
    assert np.array_equal(_layout.bits_from_words(words, n_bits), bits)
    packed = np.packbits(bits, axis=-1)
    assert np.array_equal(_layout.bytes_from_words(words, n_bits), packed)
    assert np.array_equal(_layout.words_from_bytes(packed), words)
    # The contract: words are np.packbits bytes, zero-padded, viewed as little-endian.
    padded = np.zeros((5, 8 * _layout.n_words(n_bits)), np.uint8)
    padded[:, : packed.shape[1]] = packed
    assert np.array_equal(padded.view("<u8"), words)


# -- bit vectors in every form ------------------------------------------------------


@pytest.mark.parametrize("n_bits", [1, 8, 9, 64, 100])
def test_every_form_gives_the_same_words_and_comes_back_in_kind(rng, n_bits):
    rows = rng.integers(0, 2, (4, n_bits), dtype=np.uint8)
    rows[0, 0] = 1  # at least one set bit, so bytes of n_bits=1 are told from 0/1 rows
    words = fastsdm.pack_bits(rows)
    forms = {
        "words": words,
        "bytes": np.packbits(rows, axis=-1),
        "rows": rows,
        "bool": rows.astype(bool),
        "int64": rows.astype(np.int64),
    }
    for label, x in forms.items():
        got = as_bits(x, "x", n_bits)
        assert np.array_equal(got.words, words), label
        back = got.restore(got.words)
        assert back.dtype == x.dtype and np.array_equal(back, x), label
        one = as_bits(x[1], "x", n_bits)
        assert one.single and np.array_equal(one.restore(one.words), x[1]), label


def test_forms_without_n_bits_take_the_width_from_the_input(rng):
    rows = rng.integers(0, 2, (3, 16), dtype=np.uint8)
    rows[:, 0] = 1
    assert as_bits(fastsdm.pack_bits(rows), "x").n_bits == 64
    assert as_bits(rows.astype(bool), "x").n_bits == 16
    packed = np.packbits(rows, axis=-1)  # holds values above 1
    got = as_bits(packed, "x")
    assert got.form == "bytes" and got.n_bits == 16
    assert np.array_equal(got.words, fastsdm.pack_bits(rows))


def test_uint8_zeros_and_ones_without_n_bits_are_ambiguous():
    with pytest.raises(ValueError, match="could be 0/1 bits or np.packbits bytes; pass n_bits="):
        as_bits(np.ones((2, 8), np.uint8), "x")


def test_bytes_with_pad_bits_set_are_refused():
    # 9 bits take 2 bytes; bits 9..15 of the second byte are pad bits.
    with pytest.raises(ValueError, match="non-zero pad bits beyond bit 9"):
        as_bits(np.array([[0, 0x7F]], np.uint8), "x", 9)


def test_bytes_of_the_wrong_width_are_refused():
    # Values above 1 can only be bytes: the message speaks of bytes.
    with pytest.raises(ValueError, match="as np.packbits bytes must have 13 columns"):
        as_bits(np.full((1, 12), 255, np.uint8), "x", 100)
    with pytest.raises(ValueError, match="as 0/1 bits must have 100 columns"):
        as_bits(np.ones((1, 12), np.uint8), "x", 100)


def test_sdm_answers_np_packbits_bytes_with_bytes(rng):
    mem = fastsdm.SDM(100, 500, radius=40, seed=0)
    rows = rng.integers(0, 2, (3, 100), dtype=np.uint8)
    mem.write(rows)
    packed = np.packbits(rows, axis=-1)
    out = mem.read(packed)
    assert out.dtype == np.uint8 and out.shape == packed.shape
    assert np.array_equal(np.unpackbits(out, axis=-1, count=100), mem.read(rows))


# -- scalars ---------------------------------------------------------------------


def test_check_int():
    assert check_int(np.int64(5), "k", 0, 10) == 5
    with pytest.raises(TypeError, match=r"k must be an integer, got bool True"):
        check_int(True, "k")
    with pytest.raises(TypeError, match=r"got float 3.0; pass k=3 \(an int, not a float\)"):
        check_int(3.0, "k")
    with pytest.raises(TypeError, match=r"pass the number k=3, not the string '3'"):
        check_int("3", "k")
    with pytest.raises(ValueError, match=r"k must be in \[0, 10\], got 11; fewer"):
        check_int(11, "k", 0, 10, hint="fewer")


def test_check_real():
    assert check_real(np.float32(0.5), "x", 0, 1) == 0.5
    assert check_real(2, "x") == 2.0
    with pytest.raises(ValueError, match=r"x must be a finite number in \(0, 1\], got 0"):
        check_real(0, "x", 0, 1, low_open=True)
    with pytest.raises(ValueError, match=r"x must be a finite number in \(-inf, inf\), got nan"):
        check_real(float("nan"), "x")
    with pytest.raises(ValueError, match="finite number"):
        check_real(10**400, "x")
    with pytest.raises(TypeError, match="x must be a real number, got str"):
        check_real("1", "x")
    with pytest.raises(TypeError, match="x must be a real number, got bool"):
        check_real(True, "x")


def test_check_positive_and_probability():
    assert check_positive(2**64, "N") == 2.0**64
    with pytest.raises(ValueError, match="N must be a positive finite number, got 0"):
        check_positive(0, "N")
    with pytest.raises(ValueError, match="N must be a positive finite number"):
        check_positive(10**400, "N")
    assert check_probability(1, "p") == 1.0
    assert check_probability(0, "p", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match=r"p must be a probability in \(0, 1\), got 1"):
        check_probability(1, "p", allow_one=False)
    with pytest.raises(TypeError, match="p must be a probability"):
        check_probability("0.1", "p")


def test_check_choice_and_dtype():
    assert check_choice("a", "mode", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="mode must be one of 'a', 'b', got 'c'"):
        check_choice("c", "mode", ("a", "b"))
    with pytest.raises(ValueError, match="mode must be one of"):
        check_choice(["a"], "mode", {"a"})  # unhashable: refused, not a TypeError
    assert check_dtype("int8", "counter_dtype", ("int8", "int16")) == np.int8
    assert check_dtype(np.int16, "counter_dtype", ("int8", "int16")) == np.int16
    with pytest.raises(ValueError, match="counter_dtype must be one of int8, int16, got"):
        check_dtype("float32", "counter_dtype", ("int8", "int16"))
    with pytest.raises(ValueError, match="counter_dtype must be one of"):
        check_dtype("nonsense", "counter_dtype", ("int8", "int16"))


# -- arrays ------------------------------------------------------------------------


def test_real_array():
    out = real_array([[1, 2]], "q", (2,), "(m, d)")
    assert out.dtype == np.float64 and out.flags.c_contiguous
    assert real_array(np.ones((3, 2), np.float32)[:, ::1], "q", (2,)).shape == (3, 2)
    with pytest.raises(TypeError, match=r"q must be a real-valued array of shape \(m, d\)"):
        real_array(np.ones(2, complex), "q", (1,), "(m, d)")
    with pytest.raises(ValueError, match="q must have 2 dimensions"):
        real_array(np.ones(2), "q", (2,))
    with pytest.raises(ValueError, match="q contains NaN or infinite values"):
        real_array([[np.inf]], "q", (2,))


def test_check_distances_and_cosines():
    h, scalar = check_distances(np.uint64(3), 10)
    assert scalar and h == 3 and h.dtype == np.int64
    with pytest.raises(ValueError, match="got 18446744073709551615;"):
        check_distances(np.uint64(2**64 - 1), 10)
    with pytest.raises(TypeError, match="Hamming distance h must be an integer"):
        check_distances(1.5, 10)
    c, scalar = check_cosines([0.5, -1])
    assert not scalar and c.dtype == np.float64
    with pytest.raises(ValueError, match=r"cos must lie in \[-1, 1\], got nan"):
        check_cosines([np.nan])
    with pytest.raises(TypeError, match="cos must be a real number"):
        check_cosines(np.array([True]))
