"""The binary memory's and the bit helpers' API against the second adversarial review.

Each test fails without the change it names.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastsdm
from fastsdm.continuous import ContinuousSDM


@pytest.mark.parametrize("make", [lambda seed: fastsdm.SDM(64, 500, radius=24, seed=seed),
                                  lambda seed: ContinuousSDM(8, 500, radius=3, seed=seed)])
def test_spawned_seed_sequences_give_independent_reproducible_memories(make, tmp_path):
    a, b = np.random.SeedSequence(0).spawn(2)
    first, second = make(a), make(b)
    assert not np.array_equal(first.addresses, second.addresses)
    again = make(np.random.SeedSequence(0).spawn(2)[0])
    assert np.array_equal(first.addresses, again.addresses)
    # The recorded seed rebuilds the memory, and survives a save.
    assert np.array_equal(make(first.seed).addresses, first.addresses)
    assert type(first).load(first.save(tmp_path / "m")).seed == first.seed
    # A plain SeedSequence is still its entropy, as before.
    plain = make(np.random.SeedSequence(5))
    assert plain.seed == 5 and np.array_equal(plain.addresses, make(5).addresses)


@pytest.mark.parametrize("seed, error, match", [
    (-1, ValueError, "seed must be non-negative, got -1"),
    (1.5, TypeError, "seed must be None, a non-negative int, .* got 1.5"),
    (True, TypeError, "got True"),
    ([], TypeError, "got \\[\\]"),
    (np.array(5), TypeError, "got array\\(5\\)"),  # was numpy's "len() of unsized object"
    ("7", TypeError, "got '7'"),
    (np.random.default_rng(0), TypeError, "seed=int\\(rng.integers\\(2\\*\\*63\\)\\)"),
    # one a saved memory could not record (JSON numbers of over 4,300 digits do not load)
    (2**5000, ValueError, "seed must be below 2\\*\\*4096 .*5001 bits"),
    ([1, 2**4096], ValueError, "seed must be below 2\\*\\*4096 .*4097 bits"),
    # more words than a saved description holds: saved, then refused as corrupt
    (list(range(1025)), ValueError, "seed must be a list of at most 1024 ints .* got 1025"),
    (np.random.SeedSequence(list(range(1025))), ValueError, "at most 1024 ints .* got 1025"),
    (np.random.SeedSequence(2**5000), ValueError, "seed must be below 2\\*\\*4096"),
])
def test_bad_seeds_are_named(seed, error, match):
    for make in (lambda: fastsdm.SDM(64, 10, radius=3, seed=seed),
                 lambda: ContinuousSDM(8, 10, radius=3, seed=seed)):
        with pytest.raises(error, match=match):
            make()


def test_good_seeds_are_kept(tmp_path):
    for seed in (0, np.int64(3), 2**100, [1, 2], np.array([4, 5], np.uint32)):
        assert fastsdm.SDM(64, 10, radius=3, seed=seed).seed is not None
    largest = fastsdm.SDM(64, 10, radius=3, seed=2**4096 - 1)
    assert fastsdm.SDM.load(largest.save(tmp_path / "m")).seed == 2**4096 - 1
    # The largest seed list accepted loads back (it was refused as corrupt).
    for make in (fastsdm.SDM, ContinuousSDM):
        seed = [2**4096 - 1 - k for k in range(1024)]
        mem = make(8, 10, radius=3, seed=seed)
        assert make.load(mem.save(tmp_path / make.__name__)).seed == seed


def test_a_dimension_beyond_float_arithmetic_is_a_value_error():
    # 1 - 2 r / dim overflowed a float: OverflowError, from a file's dim too
    with pytest.raises(ValueError, match=r"dim must be in \[1, 9007199254740992\]"):
        ContinuousSDM(10**400, 20, radius=4)


def test_int64_words_get_the_view_hint_even_without_n_bits():
    w = fastsdm.random_addresses(3, 128, seed=0).view(np.int64)
    for call in (lambda: fastsdm.hamming_distances(w, w),
                 lambda: fastsdm.radius_search(w, w, 3),
                 lambda: fastsdm.knn_search(w, w, 1)):
        with pytest.raises(TypeError, match="looks like packed words in the wrong dtype; "
                                            "convert them with .*view\\(np.uint64\\)"):
            call()
    # 0/1 rows in int64 are still rows.
    rows = np.array([[0, 1, 1], [1, 0, 0]], np.int64)
    assert fastsdm.hamming_distances(rows, rows).tolist() == [[0, 3], [3, 0]]


def test_a_queries_error_that_is_not_about_width_says_only_what_it_is():
    A = fastsdm.random_addresses(5, 64, seed=0)
    with pytest.raises(ValueError) as info:
        fastsdm.hamming_distances(np.zeros((0, 1), np.uint64), A)
    assert "is empty" in str(info.value) and "n_bits=" not in str(info.value)
    with pytest.raises(ValueError) as info:
        fastsdm.radius_search(A[None], A, 3)
    assert "(2-D)" in str(info.value) and "same width" not in str(info.value)
    # A real width mismatch still explains the width rule.
    with pytest.raises(ValueError, match="queries and addresses must have the same width"):
        fastsdm.hamming_distances(np.ones((1, 10), bool), A)


def test_parallel_must_be_a_bool_or_none():
    mem = fastsdm.SDM(64, 10, radius=30, seed=0)
    for bad in ("False", "no", 1, 0.0):
        with pytest.raises(TypeError, match="parallel must be True, False or None"):
            mem.read(mem.addresses[:1], parallel=bad)
    for good in (True, False, None, np.bool_(True)):
        mem.read(mem.addresses[:1], parallel=good)


def test_estimate_nbytes_checks_its_arguments():
    with pytest.raises(ValueError, match="n_locations must be in \\[0, inf\\], got -5"):
        fastsdm.SDM.estimate_nbytes(64, -5)
    with pytest.raises(ValueError, match="n_value_bits must be in"):
        fastsdm.SDM.estimate_nbytes(64, 5, n_value_bits=-3)
    with pytest.raises(TypeError, match="n_bits"):
        fastsdm.SDM.estimate_nbytes("64", 5)
    assert fastsdm.SDM.estimate_nbytes(64, 5, counter_dtype="int8") == 5 * (8 + 64)


def test_a_memory_of_which_not_one_location_fits_says_so():
    with pytest.raises(MemoryError, match="not even one location fits: use shorter vectors"):
        fastsdm.SDM(64, 10, radius=4, n_value_bits=10**13)


def test_bit_helper_messages():
    with pytest.raises(ValueError, match="words must have 1 to 32 dimensions"):
        fastsdm.unpack_bits(np.uint64(1), 64)
    with pytest.raises(TypeError, match="words must be packed uint64 words .*, got .*float64"):
        fastsdm.clear_pad_bits(np.array([1.5]), 8)
    assert fastsdm.clear_pad_bits(np.array([2**40 + 3], np.int64), 8).tolist() == [3]
    assert fastsdm.clear_pad_bits(np.array([-1], np.int64), 8).tolist() == [255]  # bits as is
    for narrow in (np.int8, np.int32, np.uint8, np.uint32):  # an int8 -1 became 2**64 - 1
        with pytest.raises(TypeError, match="words must be packed uint64 words .* got .*"
                                            f"dtype {np.dtype(narrow)}"):
            fastsdm.clear_pad_bits(np.array([-1]).astype(narrow), 8)


def test_replaced_arrays_are_named_not_met_as_numba_errors(tmp_path):
    # counters and addresses are public attributes: a replacement with another
    # layout must get one clear error on every path (row and fused kernels alike).
    layout = r"must be a C-contiguous array of shape \(100, 130\) and dtype int16"
    for bad, got in ((lambda c: np.asfortranarray(c), "not C-contiguous"),
                     (lambda c: c.astype(np.int64), "dtype int64"),
                     (lambda c: c.astype(np.float32), "dtype float32"),
                     (lambda c: c[::2], r"shape \(50, 130\)"),
                     (lambda c: c.tolist(), "got list")):
        for call in ("write", "read_sums", "activate"):
            for n_queries in (1, 9):
                mem = fastsdm.SDM(130, 100, radius=55, seed=0)
                mem.counters = bad(mem.counters)
                with pytest.raises(TypeError, match=f"SDM.counters {layout} .*{got}.*"
                                                    r"change its values in place "
                                                    r"\(mem.counters\[\.\.\.\] = values\)"):
                    getattr(mem, call)(mem.addresses[:n_queries])
    # New addresses are checked as they are assigned (layout and pad bits).
    mem = fastsdm.SDM(130, 100, radius=55, seed=0)
    with pytest.raises(TypeError, match=r"SDM.addresses must be a C-contiguous array of shape "
                                        r"\(100, 3\) and dtype uint64 .*not C-contiguous"):
        mem.addresses = np.asfortranarray(mem.addresses)
    padded = mem.addresses.copy()
    padded[0, -1] |= np.uint64(1) << np.uint64(63)  # bit 191 of a 130-bit address
    with pytest.raises(ValueError, match="SDM.addresses has non-zero pad bits beyond bit 130"):
        mem.addresses = padded
    with pytest.raises(ValueError, match="read-only"):  # in place: through the setter only
        mem.addresses[0, -1] |= np.uint64(1) << np.uint64(63)
    new = mem.addresses.copy()
    new[0, 0] ^= np.uint64(1)
    mem.addresses = new
    new[1, 0] ^= np.uint64(1)  # the memory keeps its copy
    assert mem.addresses[1, 0] != new[1, 0] and mem.addresses[0, 0] == new[0, 0]
    # A read-only replacement is not blamed on mmap='r'.
    mem = fastsdm.SDM(130, 100, radius=55, seed=0)
    frozen = mem.counters.copy()
    frozen.flags.writeable = False
    mem.counters = frozen
    with pytest.raises(ValueError, match=r"read-only array \(assigned to the memory, not loaded "
                                         r"with mmap='r'\)"):
        mem.write(mem.addresses[:2])
    # A replacement with the memory's own layout is fine.
    mem = fastsdm.SDM(130, 100, radius=55, seed=0)
    mem.counters = np.ones_like(mem.counters)
    assert (mem.read_sums(mem.addresses[:9]) > 0).all()
    cont = ContinuousSDM(8, 10, radius=3, seed=0)
    cont.accumulators = cont.accumulators.astype(np.float64)
    with pytest.raises(TypeError, match=r"ContinuousSDM.accumulators must be a C-contiguous "
                                        r"array of shape \(10, 8\) and dtype float32"):
        cont.read(cont.addresses[:2])
    # save() too: it would write a memory that does not load, over a good one
    good = ContinuousSDM(8, 10, radius=3, seed=0).save(tmp_path / "c")
    with pytest.raises(TypeError, match=r"ContinuousSDM.accumulators must be .*float64"):
        cont.save(good, overwrite=True)
    assert ContinuousSDM.load(good).accumulators.dtype == np.float32
    mem = fastsdm.SDM(130, 100, radius=55, seed=0)
    good = mem.save(tmp_path / "m")
    replaced = fastsdm.SDM(130, 100, radius=55, seed=0)
    replaced.counters = mem.counters.astype(np.int64)
    with pytest.raises(TypeError, match="SDM.counters must be a C-contiguous array"):
        replaced.save(good, overwrite=True)
    with pytest.raises(TypeError, match="SDM.addresses must be a C-contiguous array"):
        replaced.addresses = mem.addresses[:, :2].copy()
    assert fastsdm.SDM.load(good).counters.dtype == np.int16
    # a hyperplane memory's design arrays too (a shorter one was read out of bounds)
    plane = fastsdm.SDM(130, 100, activation="hyperplane", selected=3, seed=0)
    good = plane.save(tmp_path / "h")
    x = plane.design.masks[:4].copy()
    for name, bad in (("masks", plane.design.masks[:50].copy()),
                      ("values", plane.design.values.astype(np.int64))):
        replaced = fastsdm.SDM(130, 100, activation="hyperplane", selected=3, seed=0)
        setattr(replaced.design, name, bad)
        for call in (lambda m: m.read(x), lambda m: m.write(x),
                     lambda m: m.save(good, overwrite=True)):
            with pytest.raises(TypeError, match=rf"SDM.design.{name} must be a C-contiguous "
                                                r"array of shape \(100, 3\) and dtype uint64 "
                                                rf".*; assign mem.design.{name} an array of "
                                                r"that layout$"):
                call(replaced)
    assert np.array_equal(fastsdm.SDM.load(good).design.masks, plane.design.masks)
    # replacing an array drops the activation keys built from the old one...
    mem = fastsdm.SDM(130, 100, activation="hyperplane", selected=3, seed=0)
    other = fastsdm.SDM(130, 100, activation="hyperplane", selected=3, seed=1)
    mem.activate(x)
    mem.design.masks, mem.design.values = other.design.masks, other.design.values
    for got, expected in zip(mem.activate(x), other.activate(x), strict=True):
        assert np.array_equal(got, expected)
    # ...and one whose bits break the layout is refused (its keys crashed the process)
    mem.design.masks = np.zeros_like(mem.design.masks)
    with pytest.raises(ValueError, match=r"SDM.design.masks has location 0 selecting 0 "
                                         r"coordinates, not the 3 .* no longer fit"):
        mem.activate(x)
    mem.design.masks = other.design.masks.copy()
    values = other.design.values.copy()
    word = int(other.design.masks[0, 0])
    values[0, 0] |= np.uint64(~word & (word + 1) & (2**64 - 1))  # a coordinate not selected
    mem.design.values = values
    with pytest.raises(ValueError, match="SDM.design.values has required values on "
                                         "coordinates the masks do not select"):
        mem.read(x)
    # ...and so is a whole Design made by hand
    from fastsdm._hyperplane import Design

    mem.design = Design(np.zeros_like(other.design.masks), np.zeros_like(other.design.values))
    with pytest.raises(ValueError, match="SDM.design.masks has location 0 selecting 0"):
        mem.write(x)



def test_parameters_changed_as_attributes_are_checked_at_the_next_call():
    # k_nearest beyond the locations activated one location hundreds of times
    # (a write added to it 997 times); radius -5 activated nothing.
    queries = fastsdm.random_addresses(3, 64, seed=1)
    for make, name, bad, match in [
        (lambda: fastsdm.SDM(64, 4, k_nearest=2, seed=0), "k_nearest", 1000,
         r"k_nearest must be in \[1, 4\], got 1000"),
        (lambda: fastsdm.SDM(64, 4, radius=3, seed=0), "radius", -5,
         r"radius must be in \[0, 64\]"),
        (lambda: fastsdm.SDM(64, 4, radius=3, seed=0), "ties", "aero", "ties must be one of"),
        (lambda: fastsdm.SDM(64, 4, radius=3, seed=0, counter_dtype="int8"), "kappa", 300,
         "kappa"),
        (lambda: ContinuousSDM(8, 4, k_nearest=2, seed=0), "k_nearest", 1000,
         r"k_nearest must be in \[1, 4\], got 1000"),
    ]:
        mem = make()
        good = getattr(mem, name)
        setattr(mem, name, bad)
        x = queries if isinstance(mem, fastsdm.SDM) else np.ones((3, 8))
        for call in (mem.activate, mem.write, mem.read):
            with pytest.raises(ValueError, match=match):
                call(x)
        setattr(mem, name, good)  # back: the refused calls changed nothing
        reference = make()
        for memory in (mem, reference):
            memory.write(x)
        assert np.array_equal(mem.read(x), reference.read(x))


def test_second_review_messages_name_the_argument_and_the_fix():
    from fastsdm import attention, experiments, hopfield, theory

    with pytest.raises(TypeError, match="progress must be True or False, got 'no'"):
        experiments.capacity(n_bits=64, n_locations=200, n_patterns=[5], noise=[0], n_cues=2,
                             progress="no")  # "no" is truthy: it showed the bar
    assert fastsdm.warmup("int8", parallel=False) > 0  # one dtype, not its characters
    with pytest.raises(ValueError, match=r"activation_probability must be a probability in "
                                         r"\(0, 1\], got 0; pass a value such as "
                                         r"activation_probability=0.001"):
        fastsdm.SDM(64, 10, activation_probability=0)
    # empty lists are float64 only by NumPy's default: say they are empty
    with pytest.raises(ValueError, match="bits must have at least one bit"):
        fastsdm.pack_bits([])
    with pytest.raises(ValueError, match="distances must have at least one pattern"):
        attention.sdm_weights(8, 2, [])
    with pytest.raises(ValueError, match=r"optimal radii for n=8, .* include .*'snr': 0.*a β "
                                         r"fit needs a radius of at least 2"):
        attention.learned_beta_summary(n=8)
    with pytest.raises(ValueError, match=r"must be an integer in \[2, 2\*\*53\] for a β fit "
                                         r"\(beyond, the cosines 1 - 2h/n are not distinct"):
        theory.fit_beta(2**60, 5)  # returned 0.0 with a RuntimeWarning
    with pytest.raises(ValueError, match=r"must be an integer in \[1, 2\*\*62\] \(int64"):
        theory.log_intersection(2**70, 5, 3)  # OverflowError
    with pytest.raises(MemoryError, match=r"random_addresses\(m=1180591620717411303424, "
                                          r"n_bits=8\) needs .* TiB, but only .* draw fewer"):
        fastsdm.random_addresses(2**70, 8)
    with pytest.raises(ValueError, match="seed must be None, a non-negative int.*got -1"):
        fastsdm.random_addresses(2, 8, seed=-1)
    rng = np.random.default_rng(3)
    assert np.array_equal(fastsdm.random_addresses(2, 8, seed=rng),
                          fastsdm.random_addresses(2, 8, seed=np.random.default_rng(3)))
    with pytest.raises(MemoryError, match=r"Hopfield\(1000000\) \(n_bits\*\*2 int32 weights\) "
                                          r"needs 3.64 TiB, but only"):
        hopfield.Hopfield(10**6)


def test_parameter_changes_that_the_arrays_no_longer_fit_are_refused():
    # Third review: changed parameters were checked alone, not against the
    # arrays built for the old ones, and a value equal to the old one
    # (24.0 == 24, "int16" == dtype('int16')) skipped the check.
    cont = ContinuousSDM(64, 500, radius=24, value_dim=8, seed=0)
    cont.dim = 128  # the kernels read past the (500, 64) addresses: heap corruption
    with pytest.raises(TypeError, match=r"ContinuousSDM.addresses must be .* shape \(500, 128\)"
                                        r".* got array of shape \(500, 64\)"):
        cont.activate(np.ones((3, 128)))
    cont.dim = 64
    cont.n_locations = 10  # saved a memory that did not load
    with pytest.raises(TypeError, match=r"shape \(10, 64\)"):
        cont.save("unused")
    queries = fastsdm.random_addresses(3, 40, seed=1)
    mem = fastsdm.SDM(64, 300, k_nearest=300, n_value_bits=8, seed=0)
    mem.n_bits = 40  # one word still: distances beyond n_bits read a weight table past its end
    with pytest.raises(ValueError, match="SDM.addresses has non-zero pad bits beyond bit 40"):
        mem.write(queries, np.zeros((3, 1), np.uint64), distance_weights=np.zeros(41, int))
    for name, value in (("selected", 6), ("required", "ones"), ("n_bits", 40)):
        hyper = fastsdm.SDM(64, 200, activation="hyperplane", selected=4, seed=0)
        hyper.activate(fastsdm.random_addresses(8, 64, seed=1))  # checked, keys built
        setattr(hyper, name, value)
        with pytest.raises(ValueError, match="SDM.design.(masks|values) .*no longer fit"):
            hyper.activate(fastsdm.random_addresses(8, hyper.n_bits, seed=1))
    x = fastsdm.random_addresses(3, 64, seed=1)
    for name, value, error, match in (("radius", 24.0, TypeError, "radius must be an integer"),
                                      ("k_nearest", 5.0, TypeError, "k_nearest must be an int"),
                                      ("activation", "hyperplane", ValueError,
                                       "activation='hyperplane' does not match")):
        mem = fastsdm.SDM(64, 100, radius=24, seed=0) if name != "k_nearest" else \
            fastsdm.SDM(64, 100, k_nearest=5, seed=0)
        mem.read(x)
        setattr(mem, name, value)
        with pytest.raises(error, match=match):
            mem.read(x)
    mem = fastsdm.SDM(64, 100, radius=24, seed=0)
    mem.counter_dtype = "int16"  # what the constructor accepts: taken, as the constructor would
    assert mem.read(x, z=2).shape == x.shape and mem.counter_dtype == np.dtype("int16")
