"""Jaeckel's selected-coordinate design as an activation rule of SDM (issue 16 §3)."""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

import fastsdm
from fastsdm import _hyperplane
from fastsdm import theory as ht
from fastsdm._hyperplane import KEYS_MIN_QUERIES, design_from_coordinates
from tests.reference import NaiveHyperplaneSDM, selected_coordinates, unpack

DATA = Path(__file__).resolve().parent / "data"


def _naive_for(mem):
    return NaiveHyperplaneSDM(selected_coordinates(*mem.design, mem.n_bits), mem.n_data_bits,
                              dtype=mem.counter_dtype)


def _check_against_naive(mem, naive, rng, n_queries):
    n = mem.n_bits
    queries = rng.integers(0, 2, size=(n_queries, n), dtype=np.uint8)
    np.testing.assert_array_equal(mem.read_sums(queries), [naive.sums(x) for x in queries])
    zeros = np.zeros(mem.n_data_bits)
    np.testing.assert_array_equal(mem.read(queries), [naive.read(x, zeros) for x in queries])
    indptr, indices = mem.activate(queries)
    for i, x in enumerate(queries):
        np.testing.assert_array_equal(indices[indptr[i] : indptr[i + 1]], naive.active(x))


# ---------------------------------------------------------------------------
# Exact against the naive memory
# ---------------------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.parametrize("n, N, k", [(1, 9, 0), (1, 9, 1), (63, 120, 3), (65, 120, 2),
                                     (65, 40, 65), (1000, 24, 1), (1000, 12, 1000)])
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32"])
def test_sdm_matches_naive_reference(n, N, k, dtype):
    rng = np.random.default_rng(n * 1000 + k)
    mem = fastsdm.SDM(n, N, selected=k, counter_dtype=dtype, ties="zero", seed=k)
    naive = _naive_for(mem)
    assert all(len(pairs) == k for pairs in naive.design)
    m = 9
    keys = rng.integers(0, 2, size=(m, n), dtype=np.uint8)
    if k == n:
        keys[: m // 2] = unpack(mem.design.values[:1], n)  # k = n activates one exact match
    keys[m // 2 :] = keys[0]  # repeated writes saturate int8 at weight 40
    data = rng.integers(0, 2, size=(m, n), dtype=np.uint8)
    mem.write(keys, data, weight=40)  # a batch: the transposed keys
    mem.write(keys[0], data[0], weight=-3)  # one row: the keys query by query
    for x, d in zip(keys, data, strict=True):
        naive.write(x, d, weight=40)
    naive.write(keys[0], data[0], weight=-3)
    np.testing.assert_array_equal(mem.counters, naive.c)
    assert mem.counters.any() or k == n
    for n_queries in (1, KEYS_MIN_QUERIES + 3):
        _check_against_naive(mem, naive, rng, n_queries)
    # The written addresses themselves: reads where locations are activated.
    np.testing.assert_array_equal(mem.read_sums(keys), [naive.sums(x) for x in keys])


@pytest.mark.kernel
def test_heteroassociative_and_iterated_reads():
    rng = np.random.default_rng(3)
    mem = fastsdm.SDM(40, 300, n_data_bits=70, selected=3, counter_dtype="int8", seed=1,
                      ties="one")
    naive = _naive_for(mem)
    keys = rng.integers(0, 2, size=(20, 40), dtype=np.uint8)
    data = rng.integers(0, 2, size=(20, 70), dtype=np.uint8)
    mem.write(fastsdm.pack_bits(keys), fastsdm.pack_bits(data))
    for x, d in zip(keys, data, strict=True):
        naive.write(x, d)
    np.testing.assert_array_equal(mem.counters, naive.c)
    ones = np.ones(70)
    np.testing.assert_array_equal(mem.read(keys), [naive.read(x, ones) for x in keys])
    with pytest.raises(ValueError, match="autoassociative"):
        mem.read(keys, iterations=3)
    # Autoassociative: iterated reads recall stored patterns from noisy cues.
    auto = fastsdm.SDM(256, 20_000, selected=6, seed=0)
    patterns = fastsdm.random_addresses(20, 256, seed=1)
    auto.write(patterns)
    recalled, info = auto.read(fastsdm.flip_bits(patterns, 256, 12, seed=2), iterations=10,
                               return_info=True)
    assert (recalled == patterns).all() and info.converged.all()


@pytest.mark.kernel
def test_activation_paths_agree_across_query_words_and_chunks(monkeypatch):
    n, N, k = 130, 3000, 4
    mem = fastsdm.SDM(n, N, selected=k, seed=4)
    naive_lists = _naive_for(mem)
    Q = fastsdm.random_addresses(150, n, seed=5)  # three words of queries
    expect = [naive_lists.active(x) for x in unpack(Q, n)]
    for parallel in (False, True):
        indptr, indices = mem.activate(Q, parallel=parallel)
        got = [indices[indptr[i] : indptr[i + 1]] for i in range(Q.shape[0])]
        for a, b in zip(got, expect, strict=True):
            np.testing.assert_array_equal(a, b)
    # One query at a time (the byte-table path) gives the same lists.
    for i in range(0, 150, 37):
        np.testing.assert_array_equal(mem.activate(Q[i])[1], expect[i])
    # Query chunks: 64 queries per chunk, three chunks, the CSR stitched together.
    monkeypatch.setattr(_hyperplane, "queries_per_chunk", lambda n_locations: 64)
    indptr, indices = mem.activate(Q)
    for i in range(Q.shape[0]):
        np.testing.assert_array_equal(indices[indptr[i] : indptr[i + 1]], expect[i])


@pytest.mark.kernel
def test_serial_and_parallel_writes_and_reads_are_identical():
    kwargs = dict(n_bits=128, n_locations=3000, selected=3, counter_dtype="int8", seed=5,
                  ties="zero")
    a, b = fastsdm.SDM(**kwargs), fastsdm.SDM(**kwargs)
    keys = fastsdm.random_addresses(300, 128, seed=6)
    keys[150:] = keys[:150]
    a.write(keys, weight=50, parallel=False)
    b.write(keys, weight=50, parallel=True)
    np.testing.assert_array_equal(a.counters, b.counters)
    assert (a.counters == 127).any()
    np.testing.assert_array_equal(a.read(keys[:100], parallel=False),
                                  b.read(keys[:100], parallel=True))


@pytest.mark.nojit
def test_design_from_seed_by_blocks_and_activation_probability():
    mem = fastsdm.SDM(100, 50, activation="hyperplane", activation_probability=0.001, seed=9)
    assert (mem.activation, mem.selected, mem.required) == ("hyperplane", 10, "random")
    assert mem.radius is None and mem.k_nearest is None and mem.addresses is None
    masks, values = _hyperplane.random_design(50, 100, 10, seed=9)
    np.testing.assert_array_equal(mem.design.masks, masks)
    np.testing.assert_array_equal(mem.design.values, values)
    ones = fastsdm.SDM(100, 50, selected=7, required="ones", seed=9)
    np.testing.assert_array_equal(ones.design.values, ones.design.masks)
    # k = round(-log2 p), ties to the smaller k: 2**-10.5 is the midpoint of 10 and 11.
    for p, k in ((1.0, 0), (0.5, 1), (2**-10.49, 10), (2**-10.51, 11), (1e-300, 100)):
        assert fastsdm.SDM(100, 1, activation="hyperplane", activation_probability=p).selected == k
    radius = fastsdm.SDM(100, 5, activation="radius", radius=40, seed=0)
    assert (radius.activation, radius.design, radius.selected) == ("radius", None, None)
    assert fastsdm.SDM(100, 5, k_nearest=2).activation == "k_nearest"
    assert "selected=10" in repr(mem) and "required='random'" in repr(mem)


@pytest.mark.nojit
def test_explicit_design():
    coords = [[0, 3], [1, 2], [3, 4]]
    masks, values = design_from_coordinates(coords, [[1, 0], [0, 0], [1, 1]], 5)
    # A required 1 on coordinate 1 of location 0, which it does not select.
    extra = values | fastsdm.pack_bits([[0, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    mem = fastsdm.SDM(5, design=(masks, extra), ties="zero")
    assert (mem.n_locations, mem.selected, mem.required) == (3, 2, "given")
    np.testing.assert_array_equal(mem.design.values, values)
    # Location 0 wants x0 = 1, x3 = 0; location 1 x1 = x2 = 0; location 2 x3 = x4 = 1.
    indptr, indices = mem.activate([[1, 0, 0, 0, 0], [0, 0, 0, 1, 1], [1, 1, 1, 1, 1]])
    assert indptr.tolist() == [0, 2, 4, 5] and indices.tolist() == [0, 1, 1, 2, 2]
    mem.write([1, 0, 0, 0, 0], [1, 1, 0, 0, 1])
    assert mem.counters.tolist() == [[1, 1, -1, -1, 1]] * 2 + [[0] * 5]
    # Values outside the masks are ignored (cleared).
    full = fastsdm.pack_bits(np.ones((3, 5), np.uint8))
    mem2 = fastsdm.SDM(5, design=(masks, full), selected=2, n_locations=3)
    np.testing.assert_array_equal(mem2.design.values, masks)


@pytest.mark.nojit
def test_bad_arguments():
    masks, values = design_from_coordinates([[0, 3], [1, 2]], [[1, 0], [0, 0]], 5)
    cases = [
        (dict(activation="hamming", radius=3), ValueError, "activation must be one of"),
        (dict(radius=3, selected=2), ValueError, "not radius= or k_nearest="),
        (dict(activation="radius", radius=3, selected=2), ValueError,
         "selected= belongs to the hyperplane"),
        (dict(radius=3, required="ones"), ValueError, "required= belongs to the hyperplane"),
        (dict(activation="k_nearest", radius=3), ValueError, "does not match radius="),
        (dict(activation="hyperplane", radius=3), ValueError, "not radius= or k_nearest="),
        (dict(activation="hyperplane"), ValueError, "exactly one of selected=.*neither"),
        (dict(selected=2, activation_probability=0.1), ValueError, "got both"),
        # named as the caller spelled it (was "p must be a probability")
        (dict(activation="hyperplane", activation_probability=0), ValueError,
         r"^activation_probability must be a probability in \(0, 1\], got 0"),
        (dict(activation="hyperplane", activation_probability="x"), TypeError,
         r"^activation_probability must be a probability"),
        (dict(selected=9), ValueError, r"selected must be in \[0, 5\]"),
        (dict(selected=2.0), TypeError, "selected must be an integer"),
        (dict(selected=2, required="zeros"), ValueError, "required must be one of"),
        (dict(selected=2, addresses=np.zeros((4, 1), np.uint64)), ValueError,
         "addresses= belongs to the radius"),
        (dict(design=(masks, values), activation="radius"), ValueError,
         "design= is the hyperplane rule"),
        (dict(design=(masks, values), required="ones"), ValueError, "carries its own values"),
        (dict(design=masks), TypeError, r"design must be a pair \(masks, values\)"),
        (dict(design=(masks, values[:1])), ValueError, "must have the same shape"),
        (dict(design=(masks, values), n_locations=3), ValueError, "does not match the 2"),
        (dict(design=(masks, values), selected=3), ValueError, "select 2 coordinates"),
        (dict(design=(masks | np.array([[0], [1 << 7]], np.uint64), values)), ValueError,
         "location 0 selects 2, location 1 selects 3"),
        (dict(design=(masks.astype(np.int64), values)), TypeError,
         "design masks must be packed uint64"),
    ]
    for kwargs, error, match in cases:
        n_locations = kwargs.pop("n_locations", None if "design" in kwargs else 4)
        with pytest.raises(error, match=match):
            fastsdm.SDM(5, n_locations, **kwargs)


# ---------------------------------------------------------------------------
# Persistence
# ---------------------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.parametrize("explicit", [False, True])
def test_save_load_round_trip(tmp_path, explicit):
    if explicit:
        masks, values = _hyperplane.random_design(500, 70, 3, seed=1)
        mem = fastsdm.SDM(70, design=(masks, values), counter_dtype="int8", seed=3)
    else:
        mem = fastsdm.SDM(70, 500, selected=3, required="ones", counter_dtype="int8", seed=3)
    keys = fastsdm.random_addresses(30, 70, seed=4)
    mem.write(keys)
    path = mem.save(tmp_path / "m")
    assert sorted(p.name for p in path.iterdir()) == ["counters.npy", "fastsdm.json",
                                                      "masks.npy", "values.npy"]
    meta = json.loads((path / "fastsdm.json").read_text())
    assert meta["hyperplane"] == {"selected": 3, "required": "given" if explicit else "ones"}
    snapshot = copy.deepcopy(mem)  # the tie generator's state when saved
    for mmap in (False, "r", True):
        mem = copy.deepcopy(snapshot)
        back = fastsdm.SDM.load(path, mmap=mmap)
        assert repr(back) == repr(mem)
        np.testing.assert_array_equal(back.design.masks, mem.design.masks)
        np.testing.assert_array_equal(back.design.values, mem.design.values)
        np.testing.assert_array_equal(back.counters, mem.counters)
        np.testing.assert_array_equal(back.read(keys), mem.read(keys))
        del back
    mapped = fastsdm.SDM.load(path, mmap=True)
    # Design arrays are read-only (the keys are built from them once); a map
    # for writing also refuses new ones, which flush() would not save (its
    # copies are in RAM and take them).
    for name in ("masks", "values"):
        for memory in (mem, mapped):
            with pytest.raises(ValueError, match="read-only"):
                getattr(memory.design, name)[0] = 0
        with pytest.raises(ValueError, match=f"mmap=True.*new design.{name} would be lost"):
            setattr(mapped.design, name, getattr(mem.design, name).copy())
    for copied in (copy.deepcopy(mapped), fastsdm.SDM.load(path, mmap="c", verify=False)):
        copied.design.masks = copied.design.masks.copy()
        values = copied.design.values.copy()
        values[0] = 0
        copied.design.values = values
    mapped.write(keys[:5])
    mapped.flush()
    back = fastsdm.SDM.load(path)
    np.testing.assert_array_equal(back.counters, mapped.counters)
    np.testing.assert_array_equal(back.design.masks, mem.design.masks)
    np.testing.assert_array_equal(back.design.values, mem.design.values)
    clone = copy.deepcopy(mem)
    np.testing.assert_array_equal(clone.read_sums(keys), mem.read_sums(keys))


def _tamper(path, name, change):
    """Rewrite ``name``.npy through ``change`` and record its new checksum, re-sealing
    the description as fastsdm would (a tamperer who knows the format): the
    design's own checks must still catch it."""
    from fastsdm._persist import crc32, encode_description

    array = np.load(path / f"{name}.npy")
    array = change(array.copy())
    np.save(path / f"{name}.npy", array)
    meta = json.loads((path / "fastsdm.json").read_text())
    meta["arrays"][name]["crc32"] = crc32(array)
    (path / "fastsdm.json").write_bytes(encode_description(meta))


def _edit_meta(path, change):
    meta = json.loads((path / "fastsdm.json").read_text())
    change(meta)
    (path / "fastsdm.json").write_text(json.dumps(meta))


@pytest.mark.nojit
def test_tampered_files_are_refused(tmp_path):
    mem = fastsdm.SDM(70, 40, selected=3, required="ones", seed=3)
    saved = mem.save(tmp_path / "saved")

    def fresh():
        target = tmp_path / "copy"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(saved, target)
        return target

    def flip_one(array, row=5, bit=3):
        array[row, 0] ^= np.uint64(1 << bit)
        return array

    cases = [
        (lambda p: _tamper(p, "masks", flip_one), r"masks.npy has location 5 selecting"),
        (lambda p: _tamper(p, "values", lambda a: _unselected(a, _masks(p))),
         "values.npy has required values on coordinates the masks do not select"),
        (lambda p: _tamper(p, "values", lambda a: a & (a - np.uint64(1))),
         "values.npy has a required value 0, but the design requires ones"),
        (lambda p: _tamper(p, "masks", _pad),
         "masks.npy has non-zero pad bits beyond bit 70"),
        (lambda p: _tamper(p, "values", _pad), "values.npy has non-zero pad bits"),
        (lambda p: _edit_meta(p, lambda m: m.update(hyperplane={"selected": 3})),
         r"hyperplane must be \{'selected': int, 'required': str\}"),
        (lambda p: _edit_meta(p, lambda m: m.update(hyperplane={"selected": True,
                                                                "required": "ones"})),
         "hyperplane must be"),
        (lambda p: _edit_meta(p, lambda m: m["hyperplane"].update(selected=71)),
         r"selected must be in \[0, 70\]"),
        (lambda p: _edit_meta(p, lambda m: m["hyperplane"].update(required="some")),
         "required must be one of"),
        (lambda p: _edit_meta(p, lambda m: m.update(radius=20)),
         "exactly one of radius and k_nearest must be set, or neither with a hyperplane"),
        (lambda p: _edit_meta(p, lambda m: m.pop("hyperplane")),
         "exactly one of radius and k_nearest must be set, or neither with a hyperplane"),
        # Valid in itself and consistent with the arrays' shapes: the
        # description's own checksum catches it (before: masks.npy was blamed).
        (lambda p: _edit_meta(p, lambda m: m["hyperplane"].update(selected=4)),
         "fastsdm.json fails its checksum"),
        (lambda p: _edit_meta(p, lambda m: m.update(radius=20, hyperplane=None)),
         r"arrays must describe \['addresses', 'counters'\]"),
    ]
    for change, match in cases:
        target = fresh()
        change(target)
        for verify in (True, False):
            with pytest.raises(ValueError, match=match):
                fastsdm.SDM.load(target, verify=verify)
    # Without a recomputed checksum, the checksum catches a change first.
    target = fresh()
    masks = np.load(target / "masks.npy")
    np.save(target / "masks.npy", flip_one(masks))
    with pytest.raises(ValueError, match="masks.npy fails its checksum"):
        fastsdm.SDM.load(target)


def _masks(path):
    return np.load(path / "masks.npy")


def _unselected(values, masks):
    free = ~masks[0, 0]  # word 0 of location 0 has 64 coordinates, at most 3 selected
    values[0, 0] |= free & (~free + np.uint64(1))
    return values


def _pad(array):
    array[0, -1] |= np.uint64(1)  # bit 70 + of the second word: beyond n_bits = 70
    return array


@pytest.mark.kernel
@pytest.mark.parametrize("name, reads", [
    ("sdm_main_radius", [[6525724820532133838, 128], [7057315586449392326, 0],
                         [1475824499400517109, 0], [13713021343790361565, 0]]),
    ("sdm_main_knn", [[5171308515694506157, 0], [9288318205722654957, 128],
                      [13899863471909450293, 128], [9576381454899509292, 128]]),
])
def test_memories_saved_before_the_hyperplane_rule_load_unchanged(tmp_path, name, reads):
    # tests/data/NAME was written by fastsdm at commit 89166dc (before this rule): an
    # SDM(65, 40, seed=7, counter_dtype="int8", radius=24 or k_nearest=5) after six
    # writes and one read; ``reads`` is what that memory read next, ties included.
    path = shutil.copytree(DATA / name, tmp_path / name)
    mem = fastsdm.SDM.load(path)
    assert mem.activation == name.rsplit("_", 1)[1].replace("knn", "k_nearest")
    assert mem.design is None and mem.selected is None
    np.testing.assert_array_equal(mem.read(fastsdm.random_addresses(4, 65, seed=3)),
                                  np.array(reads, dtype=np.uint64))
    # Saved again: the same description, byte for byte, but for the tie state.
    # (The new save adds the description's own checksum, which older files lack.)
    before = json.loads((path / "fastsdm.json").read_text())
    mem2 = fastsdm.SDM.load(path)
    after = json.loads((mem2.save(tmp_path / "again") / "fastsdm.json").read_text())
    assert "description_crc32" not in before and after.pop("description_crc32")
    assert after == before
    for array in ("addresses", "counters"):
        assert (path / f"{array}.npy").read_bytes() == (
            tmp_path / "again" / f"{array}.npy").read_bytes()


@pytest.mark.nojit
def test_sharded_memory_refuses_the_rule():
    from fastsdm.distributed import ShardedSDM

    with pytest.raises(TypeError, match="selected"):
        ShardedSDM(64, 100, selected=3, n_shards=1)
    with pytest.raises(TypeError, match="activation"):
        ShardedSDM(64, 100, activation="hyperplane", activation_probability=0.01, n_shards=1)


# ---------------------------------------------------------------------------
# The simulated memory against the theory
# ---------------------------------------------------------------------------


@pytest.mark.kernel
@pytest.mark.parametrize("h", [0, 8, 24])
def test_activated_and_shared_locations_match_theory(h):
    """Means over independent designs (seeds): each count is Binomial(N, p) exactly.

    A random design's locations are independent, and a fixed address activates
    each with probability 2**-k (and a pair h bits apart with
    ``hyperplane_intersection_probability``), so over T designs the mean count
    has standard deviation sqrt(N p (1 - p) / T); the test allows 5 of them.
    """
    n, N, k, T = 64, 20_000, 4, 24
    rng = np.random.default_rng(h)
    single, both = [], []
    for trial in range(T):
        mem = fastsdm.SDM(n, N, selected=k, seed=[h, trial])
        x = fastsdm.random_addresses(1, n, rng)
        y = fastsdm.flip_bits(x, n, h, seed=rng)
        batch = np.concatenate([x, y, x, y])  # a batch: the keys path
        indptr, indices = mem.activate(batch)
        a, b = indices[indptr[0] : indptr[1]], indices[indptr[1] : indptr[2]]
        np.testing.assert_array_equal(mem.activate(x)[1], a)  # one query: same list
        single.append(a.size)
        both.append(np.intersect1d(a, b).size)
    for counts, p, expected in (
            (single, ht.hyperplane_activation_probability(n, k),
             ht.hyperplane_expected_activated(n, k, N)),
            (both, ht.hyperplane_intersection_probability(n, k, h),
             ht.hyperplane_expected_intersection(n, k, h, N))):
        assert expected == pytest.approx(N * p)
        sigma = math.sqrt(N * p * (1 - p) / T)
        assert abs(np.mean(counts) - expected) < 5 * sigma, (np.mean(counts), expected, sigma)
    # The test can fail: the radius design's shared-location mean is far outside it.
    if h == 24:
        radius_p = ht.expected_intersection(n, ht.radius_for_probability(n, 2.0**-k), h, N)
        assert abs(radius_p - expected) > 5 * sigma


@pytest.mark.slow
def test_designs_wider_than_int32_keys_activate_by_the_masked_scan():
    # A design's keys 2 c + b are int32: for a coordinate c >= 2**30 they
    # wrapped to a negative index and the keys path activated the wrong
    # locations, silently.  Such widths now activate through the masked scan.
    n = (1 << 30) + 64  # _hyperplane.MAX_KEYS_BITS + 64
    words = -(-n // 64)

    def with_bit(c):
        row = np.zeros((1, words), np.uint64)
        row[0, c >> 6] = np.uint64(1) << np.uint64(8 * ((c & 63) >> 3) + 7 - (c & 7))
        return row

    masks = with_bit(n - 1)   # one location that requires bit n - 1 to be 1
    design = _hyperplane.Design(masks, masks.copy())
    queries = np.concatenate([with_bit(n - 1), with_bit(127), with_bit(n - 1), with_bit(0)])
    checked = design.checked(n, 1, 1)
    for one in range(2):  # one query: keys looked up in a byte table
        indptr, indices = _hyperplane.sdm_activate(checked, queries[one : one + 1])
        assert indptr.tolist() == [0, 1 - one] and indices.tolist() == [0] * (1 - one)
    indptr, indices = _hyperplane.sdm_activate(checked, queries)  # 4: transposed keys
    assert indptr.tolist() == [0, 1, 1, 2, 2] and indices.tolist() == [0, 0]
    assert design.keys(n, 1) is None
    with pytest.raises(ValueError, match="do not fit int32"):
        _hyperplane.design_keys(masks, masks, n, 1)


@pytest.mark.kernel
@pytest.mark.nojit
def test_the_keys_kernel_never_writes_past_a_row_of_keys():
    # A design's rows must select k coordinates; one that selects more (an
    # array changed after its check) wrote past its row of k keys, into the
    # heap.  The kernel stops at k and names the row.
    masks, values = _hyperplane.random_design(50, 256, 3, seed=0)
    for row, edit in ((49, ~np.uint64(0)), (7, np.uint64(0))):  # too many, too few
        bad = masks.copy()
        bad[row, 0] = edit
        with pytest.raises(ValueError, match=f"masks select \\d+ coordinates at location "
                                             f"{row}, not 3"):
            _hyperplane.design_keys(bad, values & bad, 256, 3)
    # The memory's own arrays cannot be edited in place; a copy can be assigned.
    mem = fastsdm.SDM(256, 50, activation="hyperplane", selected=3, seed=0)
    with pytest.raises(ValueError, match="read-only"):
        mem.design.masks[-1] = ~np.uint64(0)
    edited = mem.design.masks.copy()
    edited[-1] = ~np.uint64(0)
    mem.design.masks = edited
    edited[-1] = mem.design.values[-1]  # the memory keeps its copy
    with pytest.raises(ValueError, match="SDM.design.masks has location 49 selecting 256 "):
        mem.activate(fastsdm.random_addresses(8, 256, seed=1))


def test_a_whole_design_is_assigned_as_a_checked_design_of_the_memory_s_own():
    queries = fastsdm.random_addresses(8, 256, seed=1)
    mem = fastsdm.SDM(256, 50, activation="hyperplane", selected=3, seed=0)
    other = fastsdm.SDM(256, 50, activation="hyperplane", selected=3, seed=1)
    mem.design = other.design
    assert mem.design is not other.design  # a lock and keys of its own
    assert all(np.array_equal(a, b) for a, b in zip(mem.activate(queries),
                                                    other.activate(queries), strict=True))
    wider = fastsdm.SDM(256, 50, activation="hyperplane", selected=5, seed=1)
    mem.design = wider.design  # five coordinates a location, not three: checked, refused
    with pytest.raises(ValueError, match="SDM.design.masks has location 0 selecting 5 "):
        mem.activate(queries)
    with pytest.raises(TypeError, match="SDM.design must be a Design .* got tuple"):
        mem.design = (other.design.masks, other.design.values)
    with pytest.raises(ValueError, match="activates by radius, not through a hyperplane"):
        fastsdm.SDM(256, 50, radius=100, seed=0).design = other.design


def test_save_writes_the_design_it_checked(tmp_path, monkeypatch):
    # save() checked the design, then read its arrays again: another thread's
    # replacement in between was saved unchecked (a memory that did not load).
    mem = fastsdm.SDM(64, 64, activation="hyperplane", selected=3, seed=0)
    good = mem.design.masks.copy()
    real = fastsdm.SDM._locations

    def checked_then_replaced(self):
        locations = real(self)
        self.design.masks = good | np.uint64(0xFFFF)  # lands right after the check
        return locations

    monkeypatch.setattr(fastsdm.SDM, "_locations", checked_then_replaced)
    path = mem.save(tmp_path / "m")
    monkeypatch.undo()
    np.testing.assert_array_equal(fastsdm.SDM.load(path).design.masks, good)
