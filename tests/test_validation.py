"""The check vocabulary (fastsdm._validation) and the bit-vector forms it accepts."""

import numpy as np
import pytest

import fastsdm
from fastsdm import _layout, _validation
from fastsdm._validation import (
    as_bits,
    check_beta,
    check_choice,
    check_cosine_rows,
    check_cosines,
    check_distance_rows,
    check_distances,
    check_dtype,
    check_int,
    check_iterations,
    check_n,
    check_pairs,
    check_positive,
    check_probability,
    check_radius,
    check_real,
    check_rows,
    check_width,
    finite_rows,
    list_rows,
    normalise_rows,
    real_array,
    real_rows,
    renamed_keywords,
    require_values,
    unit_rows,
    unit_vectors,
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


# -- additions for the theory and attention modules (issue 13) ----------------------


def test_expected_words_the_range_in_the_callers_terms():
    assert check_int(3, "k", 0, 5, expected="in [0, n] = [0, 5]") == 3
    with pytest.raises(ValueError, match=r"^k must be in \[0, n\] = \[0, 5\], got 6; fewer$"):
        check_int(6, "k", 0, 5, hint="fewer", expected="in [0, n] = [0, 5]")
    with pytest.raises(ValueError, match=r"^x must be in \[0, n\] = \[0, 8\], got 9.5$"):
        check_real(9.5, "x", 0, 8, expected="in [0, n] = [0, 8]")
    # A described name still suggests the plain argument in its fix.
    with pytest.raises(TypeError, match=r"got float 64.0; pass n=64 \(an int, not a float\)"):
        check_int(64.0, "n (the number of bits)")
    with pytest.raises(TypeError, match=r"pass d=5 \(an int"):
        check_int(5.0, "radius d")


def test_check_n_and_check_radius():
    assert check_n(np.int64(7)) == 7
    with pytest.raises(ValueError, match=r"n \(the number of bits\) must be an integer >= 2 "
                                         r"for a fit, got 1; pass the dimension"):
        check_n(1, 2, " for a fit")
    with pytest.raises(TypeError, match=r"n \(the number of bits\) must be an integer, got bool"):
        check_n(True)
    assert check_radius(3, 8) == 3 and check_radius(2, 8, 2) == 2
    with pytest.raises(ValueError, match=r"radius d must be an integer in \[2, n\] = \[2, 8\], "
                                         r"got 9; choose a radius between 2 and n_bits"):
        check_radius(9, 8, 2)
    assert check_radius(np.float32(2.5), 8, real=True) == 2.5
    assert check_radius(3, 8, real=True) == 3.0
    with pytest.raises(ValueError, match=r"radius d must be in \[0, n\] = \[0, 8\], got -0.5"):
        check_radius(-0.5, 8, real=True)
    with pytest.raises(TypeError, match="radius d must be a real number, got str"):
        check_radius("2", 8, real=True)
    for huge in (10**400, float("inf"), float("nan")):
        with pytest.raises(ValueError, match=r"radius d must be in \[0, n\] = \[0, 8\]"):
            check_radius(huge, 8, real=True)


def test_check_positive_options_and_check_beta():
    with pytest.raises(TypeError, match=r"^N must be a positive number, got '1' of type str"):
        check_positive("1", "N")
    with pytest.raises(TypeError, match=r"beta must be a positive real number, got '2' of type "
                                        r"str; pass a value such as beta=15.6; the inverse"):
        check_beta("2")
    with pytest.raises(ValueError, match=r"beta must be a positive finite number, got nan"):
        check_beta(float("nan"))
    assert check_beta(np.float32(0.5)) == 0.5
    assert check_positive(1, "m", minimum=1) == 1.0
    with pytest.raises(ValueError, match=r"^m must be >= 1 for a read, got 0.5; more$"):
        check_positive(0.5, "m", minimum=1, why=" for a read", hint="more")
    with pytest.raises(ValueError, match=r"m must be a positive finite number, got 0; pass a "
                                         r"value such as m=1_000_000; more$"):
        check_positive(0, "m", minimum=1, hint="more")


def test_real_array_options():
    with pytest.raises(TypeError, match="K must be a real-valued array"):
        real_array(np.ones((2, 2), bool), "K", (2,), allow_bool=False)
    assert real_array(np.ones((2, 2), bool), "K", (2,)).dtype == np.float64
    for bad in (np.ones(3), np.ones((0, 3)), np.ones((3, 0))):
        with pytest.raises(ValueError, match=r"K must be a non-empty array of shape \(N, d\)"):
            real_array(bad, "K", (2,), "(N, d)", nonempty=True)
    assert real_array(np.ones((0, 3)), "K", (2,)).shape == (0, 3)  # empty is fine by default
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    out = real_array(fortran, "K", (2,))
    assert out.flags.c_contiguous and np.array_equal(out, fortran)
    kept = real_array(fortran, "K", (2,), contiguous=False)  # the caller's layout, no copy
    assert kept is fortran
    assert real_array(np.arange(3), "x", (1,), contiguous=False).dtype == np.float64


def test_unit_rows_against_a_naive_norm(rng):
    x = rng.standard_normal((5, 7))
    naive = np.array([[v / sum(w * w for w in row) ** 0.5 for v in row] for row in x.tolist()])
    np.testing.assert_allclose(unit_rows(x, "x"), naive, rtol=1e-15)
    # Squares of 1e200 overflow and of 1e-200 underflow: scaling first keeps the direction.
    for scale in (1e200, 1e-200):
        np.testing.assert_allclose(unit_rows(x * scale, "x"), naive, rtol=1e-14)
    with pytest.raises(ValueError, match=r"x has a zero vector \(row 1\).*; drop it"):
        unit_rows(np.array([[1.0, 0.0], [0.0, 0.0]]), "x", "drop it")


def test_check_width_and_rows():
    check_width(np.ones((2, 3)), "q", np.ones((4, 3)), "K")
    with pytest.raises(ValueError, match="q and K must have the same number of features, got 2"):
        check_width(np.ones(2), "q", np.ones((4, 3)), "K")
    check_rows(np.ones((4, 2)), 4, "V")
    with pytest.raises(ValueError, match=r"V must have one row per key, got 3 rows for 4 keys; "
                                         r"pass V with shape \(4, ...\)"):
        check_rows(np.ones((3, 2)), 4, "V")
    with pytest.raises(ValueError, match="data must have one row per address, got 1 rows for 2 "
                                         "addresses"):
        check_rows(np.ones((1, 2)), 2, "data", "address", "addresses")


def test_distance_and_cosine_rows():
    h = check_distance_rows(np.array([[0, 8]], np.uint8), 8)
    assert h.dtype == np.intp and h.tolist() == [[0, 8]]
    with pytest.raises(TypeError, match="distances must be integer Hamming distances"):
        check_distance_rows([0.5], 8)
    for bad in (3, np.zeros((2, 0), int)):
        with pytest.raises(ValueError, match="at least one pattern along the last axis"):
            check_distance_rows(bad, 8)
    with pytest.raises(ValueError, match=r"must lie in \[0, n\] = \[0, 8\], got values in "
                                         r"\[0, 9\]"):
        check_distance_rows([0, 9], 8)
    with pytest.raises(ValueError, match=r"got values in \[0, 18446744073709551615\]"):
        check_distance_rows(np.array([0, 2**64 - 1], np.uint64), 8)  # reported, not wrapped
    c = check_cosine_rows([[1, -1]])
    assert c.dtype == np.float64 and c.tolist() == [[1.0, -1.0]]
    with pytest.raises(TypeError, match="cosines must be real numbers"):
        check_cosine_rows([1j])
    with pytest.raises(ValueError, match="cosines must have at least one pattern"):
        check_cosine_rows([])
    with pytest.raises(ValueError, match=r"cosines must lie in \[-1, 1\] \(NaN is refused\)"):
        check_cosine_rows([0.0, np.nan])
    # The any-shape check says how to fix rounding errors.
    with pytest.raises(ValueError, match=r"cos must lie in \[-1, 1\], got 1.5; clip rounding "
                                         r"errors with np.clip\(cos, -1, 1\)"):
        check_cosines(1.5)


def test_words_in_a_signed_dtype_are_named_as_such(rng):
    words = fastsdm.random_addresses(3, 64, seed=0)
    with pytest.raises(TypeError, match=r"keys must be packed uint64 words or 0/1 bits, got .*"
                                        r"looks like packed words in the wrong dtype; convert"):
        as_bits(words.view(np.int64), "keys", 64)
    suggested = np.asarray(words.view(np.int64)).view(np.uint64)  # the fix the message gives
    assert np.array_equal(as_bits(suggested, "keys", 64).words, words)
    # 0/1 values of the words' width are still read as (too short) rows.
    with pytest.raises(ValueError, match="keys as 0/1 bits must have 64 columns"):
        as_bits(np.ones((3, 1), np.int64), "keys", 64)
    with pytest.raises(ValueError, match=r"keys must have 2 dimensions \(one vector per row\)"):
        as_bits(words[0], "keys", 64, ndim=(2,))


def test_renamed_keywords():
    @renamed_keywords(distances="h")
    def weights(n, d, h):
        """Weights."""
        return n, d, h

    assert weights(1, 2, 3) == weights(1, 2, h=3) == weights(1, 2, distances=3) == (1, 2, 3)
    with pytest.raises(TypeError, match=r"weights\(\) got both h= and distances= \(its older "
                                        r"spelling\); pass only h="):
        weights(1, 2, h=3, distances=3)
    import inspect

    assert list(inspect.signature(weights).parameters) == ["n", "d", "h"]
    assert weights.__doc__ == "Weights." and weights.__name__ == "weights"



# -- checks the memories share (issue 13: one vocabulary) -------------------------------


def test_check_real_keeps_integers_when_asked():
    assert check_real(107, "radius", 0, 1000, integers=True) == 107
    assert type(check_real(np.int64(107), "radius", integers=True)) is int
    assert type(check_real(107, "radius")) is float
    assert check_real(2.5, "radius", integers=True) == 2.5


def test_check_dtype_says_what_the_dtype_is_for():
    with pytest.raises(ValueError, match=r"dtype must be one of float32, float64 \(the "
                                         r"accumulators' dtype\), got 'int8'"):
        check_dtype("int8", "dtype", ("float32", "float64"), "the accumulators' dtype")


def test_list_rows_names_at_most_ten():
    assert list_rows(np.array([False, True, True])) == "[1, 2] (2 of 3)"
    assert (list_rows(np.arange(30) % 2 == 0)
            == "[0, 2, 4, 6, 8, 10, 12, 14, 16, 18, ...] (15 of 30)")


def test_real_rows_accepts_what_numpy_upcasts():
    for dtype in (np.float16, np.float64, np.int8, np.uint64, np.bool_):
        rows, single = real_rows(np.ones((2, 3), dtype), "x", 3, "dim")
        assert rows.shape == (2, 3) and rows.dtype == dtype and not single
    rows, single = real_rows([1, 2, 3], "x", 3, "dim")
    assert rows.shape == (1, 3) and single
    with pytest.raises(TypeError, match=r"x must be real vectors, got .*complex.*np.real\(x\)"):
        real_rows(np.ones(3, complex), "x", 3, "dim")
    with pytest.raises(TypeError, match="x must be real vectors of a numeric dtype"):
        real_rows(np.array(["a", "b", "c"]), "x", 3, "dim")
    with pytest.raises(ValueError, match=r"x must be one vector of length 3 \(dim\) or a batch "
                                         r"of shape \(m, 3\)"):
        real_rows(np.ones((2, 4)), "x", 3, "dim")
    with pytest.raises(ValueError, match="x is empty"):
        real_rows(np.ones((0, 3)), "x", 3, "dim")


def test_unit_vectors_normalise_in_float64_then_round_to_float32(rng):
    x = rng.standard_normal((5, 7)) * 1e-200  # squares would underflow without scaling
    u = unit_vectors(x, "x")
    assert u.dtype == np.float32
    want = (x * 1e200) / np.linalg.norm(x * 1e200, axis=1, keepdims=True)
    np.testing.assert_array_equal(u, want.astype(np.float32))
    unit, zero = normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_array_equal(unit, [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_array_equal(zero, [False, True])
    with pytest.raises(ValueError, match=r"x has NaN or infinite values in rows \[1\] "
                                         r"\(1 of 3\)"):
        unit_vectors(np.array([[1.0, 0], [np.inf, 0], [0, 1]]), "x")
    if np.finfo(np.longdouble).max > np.finfo(np.float64).max:  # x86: 80-bit long double
        huge = np.array([[1.0, 0], [np.finfo(np.longdouble).max, 0]], np.longdouble)
        with pytest.raises(ValueError, match=r"x has NaN or infinite values \(or values beyond "
                                             r"the float64 range\) in rows \[1\]"):
            unit_vectors(huge, "x")
    with pytest.raises(ValueError, match=r"x has zero vectors in rows \[0\] \(1 of 2\)"):
        unit_vectors(np.array([[0.0, 0], [0, 1]]), "x")


def test_unit_vectors_name_every_bad_row_across_blocks(monkeypatch):
    # Rows are converted NORMALIZE_ROWS at a time; a refusal lists the bad
    # rows of every block, NaN and infinity before zero rows.
    monkeypatch.setattr(_validation, "NORMALIZE_ROWS", 4)
    x = np.ones((11, 3))
    x[9] = 0.0
    with pytest.raises(ValueError, match=r"x has zero vectors in rows \[9\] \(1 of 11\)"):
        unit_vectors(x, "x")
    x[[1, 6], 2] = [np.nan, -np.inf]
    with pytest.raises(ValueError, match=r"NaN or infinite values in rows \[1, 6\] \(2 of 11\)"):
        unit_vectors(x, "x")
    x[[1, 6, 9]] = [[-0.0, 0.0, 0.0], [1e-320, 0, 0], [0, 2, 0]]  # -0.0 is zero, 1e-320 is not
    with pytest.raises(ValueError, match=r"zero vectors in rows \[1\] \(1 of 11\)"):
        unit_vectors(x, "x")
    x[1] = 1.0
    assert np.array_equal(unit_vectors(x, "x")[[6, 9]], [[1, 0, 0], [0, 1, 0]])
    with pytest.raises(ValueError, match=r"zero vectors in rows \[0, 1\] \(2 of 2\)"):
        unit_vectors(np.ones((2, 0)), "x")  # rows of no values have no direction either


def test_finite_rows_refuse_overflow_in_the_target_dtype():
    out = finite_rows(np.array([[1, 2]], np.int64), "v", np.float32)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    with pytest.raises(ValueError, match=r"v has NaN or infinite values \(or values beyond the "
                                         r"float32 range\) in rows \[1\]"):
        finite_rows(np.array([[1.0, 2.0], [1e300, 0.0]]), "v", np.float32)


def test_write_and_iteration_checks_the_memories_share():
    check_pairs(3, 3)
    with pytest.raises(ValueError, match="keys and values must have the same number of rows, "
                                         "got 3 and 2"):
        check_pairs(3, 2)
    require_values(8, 8, "-bit")
    with pytest.raises(ValueError, match="values are required: this memory stores 4-dimensional "
                                         "values at 8-dimensional keys"):
        require_values(8, 4, "-dimensional")
    assert check_iterations(5, 8, 8, "value_dim == dim") == 5
    assert check_iterations(1, 8, 4, "value_dim == dim") == 1
    with pytest.raises(ValueError, match=r"iterated reads feed the result back as a query and "
                                         r"need an autoassociative memory \(value_dim == dim\), "
                                         r"got 4 != 8; use iterations=1"):
        check_iterations(2, 8, 4, "value_dim == dim", "a query")
    with pytest.raises(ValueError, match=r"iterations must be in \[1, inf\]"):
        check_iterations(0, 8, 8, "value_dim == dim")



@pytest.mark.parametrize("n_bits", [1, 64, 65, 130])
@pytest.mark.parametrize("single", [True, False])
def test_packed_words_fast_path_returns_what_the_checks_return(rng, n_bits, single,
                                                               monkeypatch):
    from fastsdm import _validation

    words = fastsdm.pack_bits(rng.integers(0, 2, (3, n_bits), dtype=np.uint8))
    x = words[1] if single else words
    fast = as_bits(x, "q", n_bits)
    monkeypatch.setattr(_validation, "_NATIVE_U64", np.dtype(np.int64))  # no fast path
    checked = as_bits(x, "q", n_bits)
    assert np.array_equal(fast.words, checked.words)
    assert fast.words.shape == checked.words.shape == ((1,) if single else (3,)) + words.shape[1:]
    assert fast[1:] == checked[1:] == (n_bits, single, "words", np.dtype(np.uint64))
    assert np.shares_memory(fast.words, x) and np.shares_memory(checked.words, x)  # no copy


@pytest.mark.parametrize("single", [True, False])
def test_packed_words_fast_path_keeps_every_refusal(single):
    # Pad bits set, the wrong width, empty, non-contiguous (accepted by copying),
    # big-endian: each answered as the full checks answer it.
    bad = np.array([[0, 1]], dtype=np.uint64)  # bit 71: the last byte's low bit
    with pytest.raises(ValueError, match="non-zero pad bits beyond bit 65"):
        as_bits(bad[0] if single else bad, "q", 65)
    with pytest.raises(ValueError, match="must have 2 words per vector for n_bits=65"):
        as_bits(np.zeros(3 if single else (2, 3), np.uint64), "q", 65)
    with pytest.raises(ValueError, match="is empty"):
        as_bits(np.zeros((0, 2), np.uint64), "q", 65)
    strided = np.arange(8, dtype=np.uint64).reshape(4, 2)[:, :1]
    got = as_bits(strided, "q", 64)
    assert got.words.flags.c_contiguous and np.array_equal(got.words, strided)
    with pytest.raises(TypeError, match="big-endian"):
        as_bits(np.zeros(2, ">u8"), "q", 65)


def _flag_calls():
    from fastsdm import attention
    from fastsdm.continuous import ContinuousSDM
    from fastsdm.hopfield import Hopfield, ModernHopfield, modern_retrieve

    x = fastsdm.random_addresses(2, 64, seed=0)
    patterns = np.eye(3)
    return {
        "SDM.read": lambda flag: fastsdm.SDM(64, 50, radius=24, seed=0).read(
            x, return_info=flag),
        "ContinuousSDM.read return_info": lambda flag: ContinuousSDM(3, 20, radius=1, seed=0)
        .read(patterns, return_info=flag),
        "ContinuousSDM.read normalize": lambda flag: ContinuousSDM(3, 20, radius=1, seed=0)
        .read(patterns, normalize=flag),
        "Hopfield.read": lambda flag: Hopfield(64, seed=0).read(x, return_info=flag),
        "ModernHopfield.read": lambda flag: _modern(ModernHopfield, x).read(
            x, return_info=flag),
        "modern_retrieve": lambda flag: modern_retrieve(patterns[0], patterns, beta=2.0,
                                                        return_info=flag),
        "sdm_pattern_read": lambda flag: attention.sdm_pattern_read(
            x, x, radius=24, n_bits=64, return_info=flag),
        "softmax_weights": lambda flag: attention.softmax_weights(patterns[0], patterns, 2.0,
                                                                  normalize=flag),
        "optimal_radius": lambda flag: fastsdm.theory.optimal_radius(64, 1000, 10,
                                                                     return_all=flag),
    }


def _modern(cls, x):
    net = cls(64, beta=0.5)
    net.write(x)
    return net


@pytest.mark.parametrize("name", sorted(_flag_calls()))
def test_flags_are_true_or_false_not_any_truthy_value(name):
    call = _flag_calls()[name]
    keyword = {"ContinuousSDM.read normalize": "normalize", "softmax_weights": "normalize",
               "optimal_radius": "return_all"}.get(name, "return_info")
    with pytest.raises(TypeError, match=f"{keyword} must be True or False, got 'yes'"):
        call("yes")
    with pytest.raises(TypeError, match=f"{keyword} must be True or False, got 1"):
        call(1)
    call(np.bool_(True))  # NumPy's bool is a bool
    call(False)


_RAGGED = [[1, 0, 1], [1]]


@pytest.mark.parametrize("call, name", [
    (lambda: fastsdm.pack_bits(_RAGGED), "bits"),
    (lambda: fastsdm.clear_pad_bits(_RAGGED, 8), "words"),
    (lambda: fastsdm.hamming_distances(_RAGGED, np.zeros((3, 1), np.uint64)), "queries"),
    (lambda: fastsdm.radius_search(np.zeros((2, 1), np.uint64), _RAGGED, 3), "addresses"),
    (lambda: fastsdm.SDM(64, 10, radius=20, seed=0).read(_RAGGED), "queries"),
    (lambda: fastsdm.SDM(64, 10, radius=20, seed=0).write(_RAGGED), "keys"),
    (lambda: fastsdm.ContinuousSDM(3, 10, radius=1.0, seed=0).write(_RAGGED), "keys"),
    (lambda: fastsdm.attention.softmax_weights(_RAGGED, np.eye(3)), "q"),
    (lambda: fastsdm.attention.sdm_weights(8, 2, _RAGGED), "distances"),
    (lambda: fastsdm.attention.hamming_to_cosine(_RAGGED, 8), "h"),
    (lambda: fastsdm.hopfield.from_bipolar(_RAGGED), "x"),
])
def test_ragged_lists_are_refused_by_the_argument_s_name(call, name):
    # NumPy's own "inhomogeneous shape" error named no argument.
    with pytest.raises(ValueError, match=rf"^{name} must be a rectangular array, but its nested "
                                         "rows have different lengths"):
        call()
