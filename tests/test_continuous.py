"""Tests for fastsdm.ContinuousSDM against a naive NumPy reference."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from fastsdm import continuous, theory
from fastsdm._validation import unit_vectors
from fastsdm.continuous import ContinuousSDM
from fastsdm.memory import SDM, ReadInfo

kernel = pytest.mark.kernel
nojit = pytest.mark.nojit

DIM, N, Q = 24, 300, 17


# ---------------------------------------------------------------------------
# Naive reference: full cosine matrix, Python loops
# ---------------------------------------------------------------------------


def unit32(x) -> np.ndarray:
    """Rows L2-normalised in float64, rounded to float32 (the documented rule)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def ref_cosines(U: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Cosines of float32 unit rows, in float64.

    The sums run left to right (cumsum), the order of the definition, so that
    a cosine exactly at a threshold is decided as the library decides it.
    """
    U64, A64 = U.astype(np.float64), A.astype(np.float64)
    xa = np.cumsum(U64[:, None, :] * A64[None, :, :], axis=2)[..., -1]
    xx = np.cumsum(U64 * U64, axis=1)[:, -1]
    aa = np.cumsum(A64 * A64, axis=1)[:, -1]
    return np.clip(xa / np.sqrt(xx[:, None] * aa[None, :]), -1.0, 1.0)


def ref_activate(mem: ContinuousSDM, U: np.ndarray) -> list[np.ndarray]:
    cos = ref_cosines(U, mem.addresses)
    if mem.k_nearest is None:
        return [np.flatnonzero(row >= mem.threshold) for row in cos]
    out = []
    for row in cos:
        order = np.lexsort((np.arange(row.size), -row))  # largest cosine, then lower index
        out.append(np.sort(order[: mem.k_nearest]))
    return out


def ref_write(mem, acc, U, values, weight=1.0):
    for u, v in zip(U, values, strict=True):
        delta = (np.asarray(v, dtype=np.float64) * weight).astype(mem.dtype)  # one rounding
        for i in ref_activate(mem, u[None])[0]:
            acc[i] += delta


def ref_sums(mem, U):
    out = np.zeros((U.shape[0], mem.value_dim))
    for q, active in enumerate(ref_activate(mem, U)):
        for i in active:  # ascending, in float64
            out[q] += mem.accumulators[i].astype(np.float64)
    return out


def csr_lists(indptr, indices):
    assert indptr.dtype == np.int64 and indices.dtype == np.int64
    return [indices[indptr[i] : indptr[i + 1]] for i in range(indptr.size - 1)]


def rule_kwargs(rule):
    return {"radius": {"radius": 10}, "threshold": {"threshold": 0.3},
            "k": {"k_nearest": 7}}[rule]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def small_blocks(monkeypatch):
    """Several location blocks and query chunks per call, to cover the merges."""
    monkeypatch.setattr(continuous, "SIMILARITY_BUDGET", 4 * 64 * 5)  # 64 locations
    monkeypatch.setattr(continuous, "QUERY_CHUNK", 5)


# ---------------------------------------------------------------------------
# Activation
# ---------------------------------------------------------------------------


@kernel
@nojit
@pytest.mark.parametrize("rule", ["radius", "threshold", "k"])
@pytest.mark.parametrize("blocks", [False, True])
@pytest.mark.parametrize("parallel", [False, True])
def test_activate_matches_reference(rule, blocks, parallel, rng, monkeypatch):
    if blocks:
        monkeypatch.setattr(continuous, "SIMILARITY_BUDGET", 4 * 64 * 5)
        monkeypatch.setattr(continuous, "QUERY_CHUNK", 5)
    mem = ContinuousSDM(DIM, N, seed=1, **rule_kwargs(rule))
    x = rng.standard_normal((Q, DIM))
    got = csr_lists(*mem.activate(x, parallel=parallel))
    want = ref_activate(mem, unit32(x))
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    assert sum(w.size for w in want) > Q  # not trivially empty


@kernel
@nojit
def test_radius_is_the_cosine_threshold():
    mem = ContinuousSDM(DIM, N, radius=9, seed=0)
    assert mem.threshold == 1 - 2 * 9 / DIM
    assert ContinuousSDM(DIM, N, radius=DIM / 2, seed=0).threshold == 0.0
    assert ContinuousSDM(DIM, N, radius=2.5, seed=0).radius == 2.5


@nojit
def test_a_new_radius_or_threshold_keeps_the_other_in_step(rng, tmp_path):
    # They were plain attributes: a new radius left the old threshold, which
    # activation uses, while save() recorded the radius: two memories.
    x = rng.standard_normal((Q, DIM))
    mem = ContinuousSDM(DIM, N, radius=9, seed=0)
    mem.radius = 12
    assert mem.threshold == 1 - 2 * 12 / DIM
    want = ContinuousSDM(DIM, N, radius=12, seed=0)
    back = ContinuousSDM.load(mem.save(tmp_path / "m"))
    for other in (want, back, pickle.loads(pickle.dumps(mem))):
        assert repr(other) == repr(mem) and other.threshold == mem.threshold
        assert all(np.array_equal(g, w) for g, w in zip(csr_lists(*other.activate(x)),
                                                        csr_lists(*mem.activate(x)), strict=True))
    mem.threshold = 0.5
    assert mem.radius is None and repr(mem).endswith("threshold=0.5, dtype='float32', seed=0)")
    mem.threshold = 0.5  # the same: nothing changes
    with pytest.raises(ValueError, match="radius must be a finite number in"):
        mem.radius = DIM + 1
    with pytest.raises(ValueError, match="threshold must be a finite number in"):
        mem.threshold = 1.5
    assert mem.threshold == 0.5
    with pytest.raises(ValueError, match="activates by its threshold, which cannot be None"):
        mem.threshold = None
    mem.radius = None  # a threshold memory already: nothing changes
    assert mem.threshold == 0.5 and mem.radius is None
    nearest = ContinuousSDM(DIM, N, k_nearest=3, seed=0)
    for name in ("radius", "threshold"):
        with pytest.raises(ValueError, match=f"k_nearest locations and has no {name}"):
            setattr(nearest, name, 0.5)
    # Pickles of earlier versions keep both under their public names.
    state = mem.__getstate__()
    assert state["threshold"] == 0.5 and state["radius"] is None
    old = ContinuousSDM.__new__(ContinuousSDM)
    old.__setstate__(state)
    assert old.threshold == 0.5 and old.radius is None


@kernel
@nojit
def test_radius_zero_finds_the_address_itself_and_radius_dim_everything(small_blocks):
    mem = ContinuousSDM(DIM, N, radius=0, seed=3)
    indptr, indices = mem.activate(mem.addresses[10:20])
    assert np.array_equal(indptr, np.arange(11)) and np.array_equal(indices, np.arange(10, 20))
    everything = ContinuousSDM(DIM, N, radius=DIM, seed=3)
    indptr, indices = everything.activate(-everything.addresses[:3])  # antipodes too
    assert np.array_equal(indices, np.tile(np.arange(N), 3))


@kernel
def test_every_address_activates_itself_at_radius_zero():
    # Re-normalising a float32 unit vector in float64 and rounding back moved
    # some rows by one ulp, so the query was no longer the address and its
    # cosine was < 1: 14 of these 2000 addresses did not activate themselves.
    mem = ContinuousSDM(3, 2000, radius=0, seed=0)
    for queries in (mem.addresses, mem.addresses.astype(np.float64)):
        indptr, indices = mem.activate(queries)
        assert np.array_equal(indptr, np.arange(2001)) and np.array_equal(indices,
                                                                          np.arange(2000))
    assert mem.activate(mem.addresses[247])[1].tolist() == [247]
    assert mem.activate(mem.addresses[[247] * 8])[1].tolist() == [247] * 8
    # Given addresses that are already unit vectors are stored bit for bit.
    again = ContinuousSDM(3, radius=0, addresses=mem.addresses)
    assert np.array_equal(again.addresses.view(np.uint32), mem.addresses.view(np.uint32))


@nojit
def test_unit_vectors_keep_rows_that_are_already_unit(rng):
    x = unit32(rng.standard_normal((4000, 3)))
    moved = (unit32(x) != x).any(axis=1)
    assert moved.any()  # the rows the rule is for (the oracle renormalises them)
    assert np.array_equal(unit_vectors(x, "x"), x)
    assert np.array_equal(unit_vectors(x.astype(np.float64), "x"), x)
    # Seeded addresses are generated as before: normalised, nothing kept.
    gauss = np.array([[1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
    assert np.array_equal(unit_vectors(gauss, "g", keep_unit=False), unit32(gauss))
    # Only rows within float32 rounding of unit length are kept; others are
    # normalised (and float64 values that are not float32 are rounded).
    off = np.array([[1.0, 2.0**-11], [1.0, 2.0**-12], [0.6 + 1e-12, 0.8]])
    sq = (off * off).sum(axis=1) - 1
    assert sq[0] > 2.0**-23 and abs(sq[1]) <= 2.0**-23
    u = unit_vectors(off, "x")
    assert np.array_equal(u[0], unit32(off[0])[0]) and not np.array_equal(u[0], off[0])
    assert np.array_equal(u[1], off[1].astype(np.float32))
    assert np.array_equal(u[2], unit32(off[2])[0])


@kernel
@nojit
def test_cosine_exactly_at_the_threshold_is_active(rng):
    # Thresholds equal to a cosine (and one float above) exercise the exact
    # decision inside the BLAS error margin.
    addresses = rng.standard_normal((N, DIM))
    probe = ContinuousSDM(DIM, threshold=0.0, addresses=addresses)
    x = unit32(rng.standard_normal(DIM))
    cos = ref_cosines(x, probe.addresses)[0]
    for i in (int(np.argmax(cos)), int(np.argsort(cos)[N // 2]), int(np.argmin(cos))):
        at = ContinuousSDM(DIM, threshold=float(cos[i]), addresses=addresses)
        assert i in at.activate(x)[1]
        above = ContinuousSDM(DIM, threshold=float(np.nextafter(cos[i], 2.0)), addresses=addresses)
        assert i not in above.activate(x)[1]


def test_blas_error_is_within_the_margin(rng):
    dim = 256
    mem = ContinuousSDM(dim, 2000, radius=100, seed=0)
    U = unit32(rng.standard_normal((64, dim)) * rng.uniform(0.01, 100, (64, 1)))
    U64, A64 = U.astype(np.float64), mem.addresses.astype(np.float64)
    exact = (U64 @ A64.T) / np.outer(np.linalg.norm(U64, axis=1), np.linalg.norm(A64, axis=1))
    assert np.abs(U @ mem.addresses.T - exact).max() < mem._margin / 4


@kernel
@nojit
@pytest.mark.parametrize("block", [2, 3, 1024])
def test_k_nearest_ties_go_to_the_lower_index(block, monkeypatch):
    monkeypatch.setattr(continuous, "SIMILARITY_BUDGET", 4 * block)  # one query at a time
    e = np.eye(3)
    addresses = np.array([e[1], e[0], e[2], e[0], e[1], e[0], -e[0]])
    cases = {1: [1], 2: [1, 3], 3: [1, 3, 5], 5: [0, 1, 2, 3, 5], 6: [0, 1, 2, 3, 4, 5]}
    for k, want in cases.items():
        mem = ContinuousSDM(3, k_nearest=k, addresses=addresses)
        assert mem.activate(e[0])[1].tolist() == want
    mem = ContinuousSDM(3, k_nearest=7, addresses=addresses)
    assert mem.activate(e[0])[1].tolist() == list(range(7))


@kernel
def test_k_nearest_with_many_ties_matches_reference(rng):
    # Addresses repeat, so many cosines tie exactly; the heap must keep the lowest indices.
    base = rng.standard_normal((20, DIM))
    addresses = base[rng.integers(0, 20, 400)]
    x = np.vstack([base[:5], rng.standard_normal((5, DIM))])
    for k in (1, 10, 37, 400):
        mem = ContinuousSDM(DIM, k_nearest=k, addresses=addresses)
        for parallel in (False, True):
            got = csr_lists(*mem.activate(x, parallel=parallel))
            want = ref_activate(mem, unit32(x))
            assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_expected_activations_match_cap_fraction(rng):
    # Monte Carlo: activations per query of a random memory ~ Binomial(N, p).
    dim, n, nq = 64, 20_000, 200
    for radius in (20, 26):
        mem = ContinuousSDM(dim, n, radius=radius, seed=7)
        indptr, _ = mem.activate(rng.standard_normal((nq, dim)))
        p = theory.cap_fraction(dim, radius)
        mean, sd = n * p, math.sqrt(n * p * (1 - p) / nq)
        assert abs(indptr[-1] / nq - mean) < 5 * sd, (radius, indptr[-1] / nq, mean)


# ---------------------------------------------------------------------------
# Write and read
# ---------------------------------------------------------------------------


@kernel
@nojit
@pytest.mark.parametrize("rule", ["radius", "threshold", "k"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_write_and_read_match_reference(rule, dtype, rng, small_blocks):
    mem = ContinuousSDM(DIM, N, value_dim=5, dtype=dtype, seed=2, **rule_kwargs(rule))
    keys = rng.standard_normal((Q, DIM))
    values = rng.standard_normal((Q, 5))
    mem.write(keys, values, weight=0.75)
    acc = np.zeros_like(mem.accumulators)
    ref_write(mem, acc, unit32(keys), values, 0.75)
    assert np.array_equal(mem.accumulators, acc)

    queries = rng.standard_normal((Q, DIM))
    sums = ref_sums(mem, unit32(queries))
    raw = mem.read(queries, normalize=False)
    assert raw.dtype == dtype and np.array_equal(raw, sums.astype(dtype))
    unit = mem.read(queries)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    want = np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)
    np.testing.assert_allclose(unit, want, rtol=1e-6, atol=1e-7)


@kernel
@nojit
@pytest.mark.parametrize("parallel", [False, True])
def test_batch_write_is_bit_identical_to_sequential_writes(parallel, rng, small_blocks):
    keys = rng.standard_normal((40, DIM))
    keys[20:] = keys[:20] + 0.01 * rng.standard_normal((20, DIM))  # rows hit again and again
    values = rng.standard_normal((40, DIM)) * rng.uniform(1e-3, 1e3, (40, 1))
    batch = ContinuousSDM(DIM, N, radius=10, seed=4)
    one_by_one = ContinuousSDM(DIM, N, radius=10, seed=4)
    batch.write(keys, values, weight=-1.3, parallel=parallel)
    for k, v in zip(keys, values, strict=True):
        one_by_one.write(k, v, weight=-1.3)
    assert np.array_equal(batch.accumulators, one_by_one.accumulators)
    assert np.abs(batch.accumulators).max() > 0


@kernel
def test_serial_and_parallel_results_are_identical(rng):
    x = rng.standard_normal((300, 64))
    for kwargs in ({"radius": 26}, {"k_nearest": 50}):
        mems = [ContinuousSDM(64, 5000, seed=5, **kwargs) for _ in range(2)]
        for mem, parallel in zip(mems, (False, True), strict=True):
            mem.write(x, parallel=parallel)
        a, b = mems
        assert np.array_equal(a.accumulators, b.accumulators)
        for got, want in zip(a.activate(x, parallel=False), b.activate(x, parallel=True),
                             strict=True):
            assert np.array_equal(got, want)
        assert np.array_equal(a.read(x, parallel=False, normalize=False),
                              b.read(x, parallel=True, normalize=False))


@kernel
@nojit
def test_autoassociative_write_stores_the_unit_key():
    mem = ContinuousSDM(3, threshold=0.9, addresses=np.eye(3))
    mem.write([0.0, 3.0, 4.0])  # cosine 0.8 to e2 and 0.6 to e1: nothing activated
    assert not mem.accumulators.any()
    mem.write([0.0, 0.0, 5.0], weight=2)
    mem.write([[0.0, 0.0, -1.0]])  # the antipode of location 2 activates nothing
    assert mem.accumulators.tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 2]]


@kernel
@nojit
def test_read_of_nothing_is_a_zero_vector():
    mem = ContinuousSDM(3, threshold=0.9, addresses=np.eye(3))
    mem.write([1.0, 0.0, 0.0])
    out, info = mem.read([[0.0, 1.0, 0.0], [2.0, 0.0, 0.0]], iterations=4, return_info=True)
    assert out.tolist() == [[0, 0, 0], [1, 0, 0]]
    assert info.steps.tolist() == [1, 1] and info.converged.tolist() == [False, True]


@kernel
def test_iterative_reads_recall_patterns_from_noisy_cues(rng):
    dim = 128
    mem = ContinuousSDM(dim, 20_000, radius=50, seed=6)  # ~126 locations per vector
    patterns = unit32(rng.standard_normal((30, dim)))
    mem.write(patterns)
    cues = patterns + 1.0 * unit32(rng.standard_normal((30, dim)))  # cosine ~0.7
    once = mem.read(cues)
    out, info = mem.read(cues, iterations=20, return_info=True)
    assert isinstance(info, ReadInfo)
    cos_once = (once * patterns).sum(axis=1)
    cos = (out * patterns).sum(axis=1)
    assert (cos > 0.99).all() and (cos >= cos_once - 1e-6).all()
    assert info.converged.all() and (info.steps >= 2).all() and (info.steps < 20).all()
    again = mem.read(out)  # a fixed point: reading the result again does not move it
    assert ((again * out).sum(axis=1) >= 1 - 2e-6).all()
    capped, info1 = mem.read(cues, iterations=1, return_info=True)
    assert np.array_equal(capped, once) and (info1.steps == 1).all()


@kernel
@nojit
def test_iterations_and_normalize_false():
    mem = ContinuousSDM(3, threshold=0.5, addresses=np.eye(3))
    mem.write([1.0, 0.0, 0.0], weight=3)
    out, info = mem.read([1.0, 0.5, 0.0], iterations=5, normalize=False, return_info=True)
    assert out.tolist() == [3, 0, 0]  # the raw sum of the last read
    assert info.steps.tolist() == [2] and info.converged.tolist() == [True]


@kernel
@nojit
def test_sums_beyond_float32_overflow_only_when_raw():
    mem = ContinuousSDM(2, threshold=0.5, addresses=[[1.0, 0.0], [1.0, 0.1]])
    mem.write([1.0, 0.0], [3e38, 1.0])
    assert mem.read([1.0, 0.0], normalize=False).tolist() == [np.inf, 2.0]
    assert mem.read([1.0, 0.0]).tolist() == [1.0, np.float32(2 / 6e38)]


@kernel
@nojit
def test_heteroassociative_reads_do_not_converge():
    mem = ContinuousSDM(3, threshold=0.5, value_dim=2, addresses=np.eye(3))
    mem.write([1.0, 0.0, 0.0], [1.0, 1.0])
    out, info = mem.read([1.0, 0.0, 0.0], return_info=True)
    assert out.shape == (2,) and info.steps.tolist() == [1] and info.converged.tolist() == [False]


# ---------------------------------------------------------------------------
# Input forms, seeds, bookkeeping
# ---------------------------------------------------------------------------


@kernel
@nojit
def test_input_forms_are_equivalent(rng):
    mem = ContinuousSDM(DIM, N, radius=10, seed=8)
    x = rng.standard_normal((6, DIM))
    want = mem.read(x)
    fortran = np.asfortranarray(x)
    readonly = x.copy()
    readonly.flags.writeable = False
    strided = np.repeat(x, 2, axis=0)[::2]
    for form in (fortran, readonly, strided, x * 4.0, x * 2.0**-1000, x.astype(np.longdouble)):
        assert np.array_equal(mem.read(form), want)
    assert np.array_equal(mem.read(x[3]), want[3])
    assert np.array_equal(mem.read(x.astype(np.float16)), mem.read(x.astype(np.float16) * 2))
    assert mem.read(x[0].astype(np.float32)).shape == (DIM,)


@nojit
def test_normalisation_is_float64_then_float32(rng):
    x = rng.standard_normal((50, DIM)) * 1e200
    u = unit_vectors(x, "x")
    assert u.dtype == np.float32 and u.flags.c_contiguous
    assert np.abs(np.linalg.norm(u.astype(np.float64), axis=1) - 1).max() < 2**-22
    np.testing.assert_array_equal(u, unit32(x / 1e200))


@nojit
def test_seeds_and_addresses():
    a = ContinuousSDM(DIM, N, radius=10, seed=42)
    assert np.array_equal(a.addresses, ContinuousSDM(DIM, N, radius=10, seed=42).addresses)
    assert not np.array_equal(a.addresses, ContinuousSDM(DIM, N, radius=10, seed=43).addresses)
    assert a.addresses.dtype == np.float32 and a.addresses.shape == (N, DIM)
    assert np.abs(np.linalg.norm(a.addresses.astype(np.float64), axis=1) - 1).max() < 2**-22
    fresh = ContinuousSDM(DIM, N, radius=10)
    again = ContinuousSDM(DIM, N, radius=10, seed=fresh.seed)
    assert np.array_equal(fresh.addresses, again.addresses)
    seq = ContinuousSDM(DIM, N, radius=10, seed=np.random.SeedSequence(42))
    assert seq.seed == 42 and np.array_equal(seq.addresses, a.addresses)
    # Any range of a large memory is generated alone and agrees with the whole.
    block = continuous.ADDRESS_BLOCK
    whole = continuous.generate_addresses(9, block + 10, 4)
    assert np.array_equal(continuous.generate_addresses(9, block + 10, 4, block - 3, block + 5),
                          whole[block - 3 : block + 5])


def test_addresses_are_read_only_and_the_memorys_own(rng):
    # Activation keeps an int8 copy of the addresses: they are not changed in
    # place, an array given to the constructor is copied (the caller keeps a
    # writeable array of their own), and an assignment replaces them.
    given = unit32(rng.standard_normal((N, DIM)))
    mem = ContinuousSDM(DIM, radius=10, addresses=given)
    assert np.array_equal(mem.addresses, given) and not np.shares_memory(mem.addresses, given)
    with pytest.raises(ValueError, match="read-only"):
        mem.addresses[0] = given[1]
    given[0] = given[1]  # the caller's array: no effect on the memory
    assert not np.array_equal(mem.addresses[0], given[0])
    new = unit32(rng.standard_normal((N, DIM)))
    mem.addresses = new
    assert np.array_equal(mem.addresses, new) and not np.shares_memory(mem.addresses, new)
    assert not mem.addresses.flags.writeable and new.flags.writeable
    x = rng.standard_normal((5, DIM))
    want = ref_activate(mem, unit32(x))
    assert all(np.array_equal(g, w) for g, w in zip(csr_lists(*mem.activate(x)), want,
                                                    strict=True))
    for bad, got in ((new.astype(np.float64), "float64"), (new[:-1], r"\(299, 24\)"),
                     (np.asfortranarray(new), "not C-contiguous"), (new.tolist(), "list")):
        with pytest.raises(TypeError, match=r"ContinuousSDM.addresses must be a C-contiguous "
                                            rf"array of shape \(300, 24\).*{got}.*assign an "
                                            r"array of that layout \(it is copied\)"):
            mem.addresses = bad
    assert np.array_equal(mem.addresses, new)


def test_a_memory_mapped_for_writing_refuses_new_addresses(rng, tmp_path):
    # flush() writes the accumulators only: new addresses would not reach the
    # directory, which would then pair the old addresses with accumulators
    # written through the new ones.
    path = ContinuousSDM(DIM, N, radius=10, seed=4).save(tmp_path / "m")
    mapped = ContinuousSDM.load(path, mmap=True)
    old = mapped.addresses.copy()
    with pytest.raises(ValueError, match="loaded with mmap=True.*flush\\(\\) writes only the "
                                         "accumulators.*load it without mmap"):
        mapped.addresses = unit32(rng.standard_normal((N, DIM)))
    assert np.array_equal(mapped.addresses, old)
    mapped.write(rng.standard_normal(DIM))
    mapped.flush()
    again = ContinuousSDM.load(path)
    assert np.array_equal(again.addresses, old)
    assert np.array_equal(again.accumulators, mapped.accumulators)
    for mode in ("r", "c"):  # in RAM only: nothing to flush, save() writes them
        other = ContinuousSDM.load(path, mmap=mode)
        other.addresses = unit32(rng.standard_normal((N, DIM)))
        del other
    in_ram = ContinuousSDM.load(path)
    new = unit32(rng.standard_normal((N, DIM)))
    in_ram.addresses = new
    in_ram.save(tmp_path / "n")
    assert np.array_equal(ContinuousSDM.load(tmp_path / "n").addresses, new)


def test_copies_and_pickles_keep_read_only_addresses(rng):
    import copy
    import pickle

    mem = ContinuousSDM(DIM, N, radius=10, seed=4)
    x = rng.standard_normal((Q, DIM))
    want = csr_lists(*mem.activate(x))  # with the int8 copy made, where the CPU has VNNI
    for other in (pickle.loads(pickle.dumps(mem)), copy.deepcopy(mem), copy.copy(mem)):
        assert np.array_equal(other.addresses, mem.addresses)
        assert not other.addresses.flags.writeable
        for got, expect in ((other.activate(x), want), (other.activate(x[0]), want[:1])):
            assert all(np.array_equal(g, w) for g, w in zip(csr_lists(*got), expect,
                                                            strict=True))
    # A pickle of an earlier fastsdm kept the addresses under their public name.
    state = mem.__getstate__()
    state["addresses"] = state.pop("_addresses")
    old = ContinuousSDM.__new__(ContinuousSDM)
    old.__setstate__(state)
    assert np.array_equal(old.addresses, mem.addresses) and not old.addresses.flags.writeable
    assert all(np.array_equal(g, w) for g, w in zip(csr_lists(*old.activate(x)), want,
                                                    strict=True))


def test_addresses_are_uniform_on_the_sphere():
    # Each coordinate of a uniform unit vector has mean 0 and variance 1/dim.
    mem = ContinuousSDM(16, 40_000, radius=4, seed=1)
    a = mem.addresses.astype(np.float64)
    assert np.abs(a.mean(axis=0)).max() < 5 / math.sqrt(16 * 40_000)
    np.testing.assert_allclose(a.var(axis=0), 1 / 16, rtol=0.05)


@nojit
def test_bookkeeping():
    mem = ContinuousSDM(8, 100, threshold=0.25, value_dim=3, dtype="float64", seed=1)
    assert repr(mem) == ("ContinuousSDM(dim=8, n_locations=100, threshold=0.25, value_dim=3, "
                         "dtype='float64', seed=1)")
    assert repr(ContinuousSDM(8, 10, radius=2, seed=1)).startswith(
        "ContinuousSDM(dim=8, n_locations=10, radius=2, dtype='float32'")
    assert "k_nearest=3" in repr(ContinuousSDM(8, 10, k_nearest=3, seed=1))
    assert mem.nbytes == 100 * (8 * 4 + 3 * 8) == ContinuousSDM.estimate_nbytes(8, 100, 3,
                                                                                  "float64")
    assert mem.accumulators.shape == (100, 3) and mem.accumulators.dtype == np.float64


@kernel
@nojit
def test_a_memory_without_locations():
    mem = ContinuousSDM(4, 0, radius=2, seed=0)
    indptr, indices = mem.activate(np.ones((3, 4)))
    assert indptr.tolist() == [0, 0, 0, 0] and indices.size == 0
    mem.write(np.ones(4))
    assert mem.read(np.ones(4)).tolist() == [0, 0, 0, 0]


# ---------------------------------------------------------------------------
# Persistence
# ---------------------------------------------------------------------------


@kernel
@nojit
@pytest.mark.parametrize("kwargs", [{"radius": 10}, {"radius": 10.5}, {"threshold": -0.1},
                                    {"k_nearest": 4, "value_dim": 3, "dtype": np.float64}])
def test_save_load_round_trip(kwargs, rng, tmp_path):
    mem = ContinuousSDM(DIM, N, seed=3, **kwargs)
    keys = rng.standard_normal((10, DIM))
    mem.write(keys, rng.standard_normal((10, mem.value_dim)))
    back = ContinuousSDM.load(mem.save(tmp_path / "m"))
    for name in ("addresses", "accumulators"):
        a, b = getattr(mem, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert repr(back) == repr(mem) and back.threshold == mem.threshold
    assert np.array_equal(back.read(keys), mem.read(keys))
    meta = json.loads((tmp_path / "m" / "fastsdm.json").read_text())
    assert meta["format"] == "fastsdm.ContinuousSDM" and meta["format_version"] == 1


@kernel
@nojit
def test_load_mmap_modes(rng, tmp_path):
    mem = ContinuousSDM(DIM, N, radius=10, seed=3)
    path = mem.save(tmp_path / "m")
    key = rng.standard_normal(DIM)
    live = ContinuousSDM.load(path, mmap=True)
    live.write(key)
    with pytest.raises(ValueError, match="fails its checksum"):  # the file changed
        ContinuousSDM.load(path)
    assert np.array_equal(ContinuousSDM.load(path, verify=False).accumulators,
                          live.accumulators)
    copy = ContinuousSDM.load(path, mmap="c")
    copy.write(key)
    frozen = ContinuousSDM.load(path, mmap="r")
    assert not np.array_equal(copy.accumulators, frozen.accumulators)
    assert np.array_equal(frozen.read(key), live.read(key))
    with pytest.raises(ValueError,
                       match="read-only .* mmap=True to write to its files or mmap='c'"):
        frozen.write(key)
    with pytest.raises(ValueError, match="mmap must be True, False"):
        ContinuousSDM.load(path, mmap="w")
    with pytest.raises(TypeError, match="verify must be True, False or None"):
        ContinuousSDM.load(path, verify="yes")


def test_save_refuses_to_clobber(tmp_path):
    mem = ContinuousSDM(4, 10, radius=2, seed=0)
    path = mem.save(tmp_path / "m")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        mem.save(path)
    mem.write(np.ones(4))
    ContinuousSDM.load(mem.save(path, overwrite=True))
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="not a saved fastsdm memory"):
        mem.save(other, overwrite=True)


def _edit_meta(path, **changes):
    meta_file = path / "fastsdm.json"
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), **changes}))


def test_corrupt_or_foreign_files_are_refused(tmp_path):
    mem = ContinuousSDM(DIM, N, radius=10, seed=3)
    mem.write(np.ones(DIM))

    def fresh(name):
        return mem.save(tmp_path / name)

    with pytest.raises(ValueError, match="not a saved fastsdm memory"):
        ContinuousSDM.load(tmp_path / "nothing")
    path = fresh("flip")  # one flipped byte in the accumulators
    raw = bytearray((path / "accumulators.npy").read_bytes())
    raw[-5] ^= 0x40
    (path / "accumulators.npy").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="fails its checksum"):
        ContinuousSDM.load(path)
    path = fresh("truncated")
    data = (path / "addresses.npy").read_bytes()
    (path / "addresses.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        ContinuousSDM.load(path)
    path = fresh("missing")
    (path / "accumulators.npy").unlink()
    with pytest.raises(ValueError, match="accumulators.npy is missing"):
        ContinuousSDM.load(path)
    path = fresh("swapped")  # a valid .npy of the wrong shape
    np.save(path / "addresses.npy", np.zeros((N, DIM + 1), dtype=np.float32))
    with pytest.raises(ValueError, match="holds an array of shape"):
        ContinuousSDM.load(path)
    path = fresh("pickle")  # an object array would need pickle: refused, never unpickled
    np.save(path / "addresses.npy", np.array([{}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        ContinuousSDM.load(path)
    path = fresh("json")
    (path / "fastsdm.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        ContinuousSDM.load(path)
    sdm = SDM(64, 10, radius=20, seed=0).save(tmp_path / "binary")
    with pytest.raises(ValueError, match="does not describe a fastsdm.ContinuousSDM.*SDM.load"):
        ContinuousSDM.load(sdm)
    path = fresh("version")
    _edit_meta(path, format_version=99)
    with pytest.raises(ValueError, match="format version 99.*upgrade fastsdm"):
        ContinuousSDM.load(path)
    path = fresh("lacks")
    meta = json.loads((path / "fastsdm.json").read_text())
    del meta["seed"]
    (path / "fastsdm.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="lacks \\['seed'\\]"):
        ContinuousSDM.load(path)
    for bad in ({"radius": -1}, {"dim": "24"}, {"threshold": 0.5}, {"dtype": "int8"},
                {"arrays": []}):
        path = fresh(f"params{len(list(tmp_path.iterdir()))}")
        _edit_meta(path, **bad)
        with pytest.raises(ValueError, match="invalid parameters"):
            ContinuousSDM.load(path)
    path = fresh("shape")
    _edit_meta(path, n_locations=N + 1)
    with pytest.raises(ValueError, match="inconsistent with its parameters"):
        ContinuousSDM.load(path)


# ---------------------------------------------------------------------------
# Errors: every raise, with its message
# ---------------------------------------------------------------------------


def test_constructor_errors():
    with pytest.raises(TypeError, match="dim must be an integer"):
        ContinuousSDM(2.5, 10, radius=1)
    with pytest.raises(ValueError, match="dim must be in \\[1, inf\\]"):
        ContinuousSDM(0, 10, radius=0)
    with pytest.raises(TypeError, match="needs n_locations"):
        ContinuousSDM(4, radius=1)
    with pytest.raises(ValueError, match="n_locations must be in"):
        ContinuousSDM(4, -1, radius=1)
    with pytest.raises(ValueError, match="n_locations=3 does not match the 2 addresses"):
        ContinuousSDM(2, 3, radius=1, addresses=np.eye(2))
    # n_locations is checked even when it matches the addresses' count by value.
    with pytest.raises(TypeError, match="n_locations must be an integer"):
        ContinuousSDM(2, 2.0, radius=1, addresses=np.eye(2))
    with pytest.raises(TypeError, match="n_locations must be an integer"):
        ContinuousSDM(2, True, radius=1, addresses=np.eye(2)[:1])
    with pytest.raises(ValueError, match="one of radius, threshold and k_nearest, got none"):
        ContinuousSDM(4, 10)
    with pytest.raises(ValueError, match="got \\['radius', 'threshold'\\]"):
        ContinuousSDM(4, 10, radius=1, threshold=0.5)
    with pytest.raises(ValueError, match="radius must be a finite number in \\[0, 4\\].*threshold"):
        ContinuousSDM(4, 10, radius=4.5)
    with pytest.raises(ValueError, match="radius must be a finite number"):
        ContinuousSDM(4, 10, radius=float("nan"))
    with pytest.raises(TypeError, match="radius must be a real number, got bool"):
        ContinuousSDM(4, 10, radius=True)
    with pytest.raises(TypeError, match="threshold must be a real number, got str"):
        ContinuousSDM(4, 10, threshold="0.5")
    with pytest.raises(ValueError, match="threshold must be a finite number in \\[-1, 1\\]"):
        ContinuousSDM(4, 10, threshold=1.5)
    with pytest.raises(ValueError, match="k_nearest must be in \\[1, 10\\].*cannot exceed"):
        ContinuousSDM(4, 10, k_nearest=11)
    with pytest.raises(ValueError, match="needs at least one location"):
        ContinuousSDM(4, 0, k_nearest=1)
    with pytest.raises(ValueError, match="value_dim must be in"):
        ContinuousSDM(4, 10, radius=1, value_dim=0)
    with pytest.raises(ValueError, match="dtype must be one of float32, float64"):
        ContinuousSDM(4, 10, radius=1, dtype=np.float16)
    with pytest.raises(ValueError, match="dtype must be one of"):
        ContinuousSDM(4, 10, radius=1, dtype="no such dtype")
    with pytest.raises(ValueError, match="addresses has zero vectors in rows \\[1\\]"):
        ContinuousSDM(2, radius=1, addresses=[[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="addresses must be one vector of length 3"):
        ContinuousSDM(3, radius=1, addresses=np.eye(2))


def test_memory_estimate_refuses_what_does_not_fit(monkeypatch):
    monkeypatch.setattr(continuous, "_available_memory", lambda: 10_000)
    with pytest.raises(MemoryError, match="needs 768000 bytes .* at float64.* use fewer "
                                          "locations: about 19 fit with counter_dtype='float32'"):
        ContinuousSDM(64, 1000, radius=10, dtype=np.float64)
    with pytest.raises(MemoryError, match="needs 512000 bytes.*use fewer locations: about 19 "
                                          "fit, or save and load it with mmap=True"):
        ContinuousSDM(64, 1000, radius=10)
    monkeypatch.setattr(continuous, "_available_memory", lambda: 600_000)
    with pytest.raises(MemoryError, match=r"use counter_dtype='float32' \(it fits\)"):
        ContinuousSDM(64, 1000, radius=10, dtype=np.float64)


@nojit
def test_vector_input_errors():
    mem = ContinuousSDM(4, 20, radius=2, value_dim=2, seed=0)
    with pytest.raises(TypeError, match="queries must be real vectors of a numeric dtype.*<U1"
                                        ".*np.asarray"):
        mem.read(np.array(["a", "b", "c", "d"]))
    with pytest.raises(TypeError, match="queries must be real vectors, got .*complex128.*np.real"):
        mem.activate(np.ones(4, dtype=complex))
    with pytest.raises(ValueError, match="length 4 \\(dim\\).*got array of shape \\(2, 3\\)"):
        mem.read(np.ones((2, 3)))
    with pytest.raises(ValueError, match="got array of shape \\(1, 1, 4\\)"):
        mem.read(np.ones((1, 1, 4)))
    with pytest.raises(ValueError, match="queries is empty"):
        mem.read(np.ones((0, 4)))
    bad = np.ones((12, 4))
    bad[[2, 7], 1] = np.nan
    bad[11, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite values in rows \\[2, 7, 11\\] \\(3 of"):
        mem.activate(bad)
    zeros = np.zeros((12, 4))
    with pytest.raises(ValueError, match="zero vectors in rows \\[0, 1, .*, 9, \\.\\.\\.\\] "
                                         "\\(12 of 12\\)"):
        mem.write(zeros, np.ones((12, 2)))
    with pytest.raises(ValueError, match="values are required.*heteroassociative"):
        mem.write(np.ones(4))
    with pytest.raises(ValueError, match="same number of rows, got 2 and 3"):
        mem.write(np.ones((2, 4)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="values must be one vector of length 2 \\(value_dim\\)"):
        mem.write(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="values has NaN or infinite values.*rows \\[1\\]"):
        mem.write(np.ones((2, 4)), [[1.0, 1.0], [np.nan, 1.0]])
    with pytest.raises(ValueError, match="beyond the float32 range\\) in rows \\[0\\]"):
        mem.write(np.ones(4), [1e300, 1.0])
    with pytest.raises(TypeError, match="weight must be a real number"):
        mem.write(np.ones(4), np.ones(2), weight="2")
    with pytest.raises(ValueError, match="weight must be a finite number"):
        mem.write(np.ones(4), np.ones(2), weight=math.inf)
    with pytest.raises(ValueError, match="weight \\* values overflows float32 in rows \\[0\\]"):
        mem.write(np.ones(4), [3e38, 1.0], weight=10)
    with pytest.raises(ValueError, match="weight \\* values overflows float32 in rows \\[0\\]"):
        mem.write(np.ones(4), [1e-5, 1.0], weight=1e39)  # the product 1e34 fits; 1.0 * 1e39 not
    with pytest.raises(ValueError, match="iterations must be in \\[1, inf\\]"):
        mem.read(np.ones(4), iterations=0)
    with pytest.raises(ValueError, match="iterated reads .* autoassociative.*2 != 4"):
        mem.read(np.ones(4), iterations=2)


def test_continuous_memory_speaks_the_sdm_vocabulary():
    # counter_dtype=/counters/counter_dtype as SDM spells them (dtype=/
    # accumulators still work), write(addresses=, data=) as SDM's older write.
    a = ContinuousSDM(8, 50, radius=3, value_dim=3, counter_dtype="float64", seed=0)
    b = ContinuousSDM(8, 50, radius=3, value_dim=3, dtype=np.float64, seed=0)
    assert a.counter_dtype == a.dtype == b.dtype == np.float64
    keys = np.eye(8)[:2]
    values = np.arange(6.0).reshape(2, 3)
    a.write(keys, values)
    b.write(addresses=keys, data=values)
    assert a.counters is a.accumulators
    assert np.array_equal(a.counters, b.accumulators)
    assert ContinuousSDM.estimate_nbytes(8, 50, 3, counter_dtype="float64") == (
        ContinuousSDM.estimate_nbytes(8, 50, 3, dtype="float64"))
    with pytest.raises(TypeError, match="got both keys= and addresses="):
        a.write(keys=keys, addresses=keys, values=values)


@pytest.mark.parametrize("parallel", [False, True])
def test_accumulators_saturate_and_reads_stay_finite(parallel):
    # Two writes of 3e38 overflowed a float32 accumulator to inf; a read then
    # returned NaN (and erasing could not bring the memory back).
    from fastsdm.continuous import ContinuousSDM

    mem = ContinuousSDM(3, threshold=0.5, value_dim=2, addresses=np.eye(3))
    top = np.finfo(np.float32).max
    for _ in range(2):
        mem.write([1.0, 0, 0], [3e38, 1.0], parallel=parallel)
    assert mem.accumulators[0].tolist() == [top, 2.0]
    assert np.array_equal(mem.read([1.0, 0, 0]), np.array([1.0, 2.0 / top], np.float32))
    mem.write([1.0, 0, 0], [3e38, 1.0], weight=-1, parallel=parallel)  # erasing works again
    assert np.isfinite(mem.accumulators).all() and mem.accumulators[0, 0] < top
    # float64 accumulators: each saturates at float64's max, and a read whose
    # float64 sum overflows points along its infinite coordinates.
    big = ContinuousSDM(2, threshold=0.0, value_dim=2, counter_dtype="float64",
                        addresses=np.array([[1.0, 0.0], [0.8, 0.6]]))
    for _ in range(2):
        big.write([0.9, 0.3], [1e308, 1.0], parallel=parallel)
    assert big.accumulators[:, 0].tolist() == [np.finfo(np.float64).max] * 2
    assert big.read_sums([0.9, 0.3])[0] == np.inf
    assert np.array_equal(big.read([0.9, 0.3]), [1.0, 0.0])


def test_a_write_weight_multiplies_before_it_is_rounded():
    # The weight was rounded to float32 first: 1e-46 became 0 (nothing
    # written, though 1e-46 * 1e10 = 1e-36 fits) and 1e39 became inf (refused,
    # though 1e39 * 1e-5 = 1e34 fits).  The product is rounded once.
    mem = ContinuousSDM(3, 50, radius=1.0, value_dim=1, seed=0)
    key = mem.addresses[0]
    rows = mem.activate(key)[1]
    mem.write(key, [1e10], weight=1e-46)
    np.testing.assert_array_equal(mem.accumulators[rows, 0], np.float32(1e-36))
    mem.clear()
    mem.write(key, [1e-5], weight=1e39)
    np.testing.assert_array_equal(mem.accumulators[rows, 0], np.float32(1e34))
    # The values too were rounded to float32 before the product: 1e-46 and
    # 1e39 as values were lost or refused, and random products one ulp off.
    for value, weight in ((1e-46, 1e10), (1e39, 1e-5)):
        mem.clear()
        mem.write(key, [value], weight=weight)
        np.testing.assert_array_equal(mem.accumulators[rows, 0], np.float32(value * weight))
    values = np.random.default_rng(0).standard_normal((200, 1))
    keys = np.repeat(key[None], 200, axis=0)
    for i in range(200):  # one at a time: each accumulator holds one product
        mem.clear()
        mem.write(keys[i], values[i], weight=3.7)
        assert mem.accumulators[rows[0], 0] == np.float32(values[i, 0] * 3.7), i
    # Keys as values (autoassociative), weighted: rounded once as well.
    auto = ContinuousSDM(3, 50, radius=1.0, seed=0)
    x = np.array([0.1, 0.7, -0.3])
    auto.write(x, weight=3.7)
    unit = unit_vectors(x[None], "x")[0].astype(np.float64)  # the key the memory uses
    got = auto.accumulators[auto.activate(x)[1][0]]
    np.testing.assert_array_equal(got, (unit * 3.7).astype(np.float32))
