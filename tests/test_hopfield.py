"""Tests for fastsdm.hopfield against plain-loop references and known properties."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import fastsdm
from fastsdm import hopfield
from fastsdm.attention import sdm_pattern_read, softmax_attention, softmax_weights
from fastsdm.hopfield import (
    Hopfield,
    ModernHopfield,
    classical_capacity,
    from_bipolar,
    modern_retrieve,
    to_bipolar,
)
from tests.reference import (
    bipolar,
    hebbian_weights,
    hopfield_async_sweep,
    hopfield_energy,
    hopfield_field,
    hopfield_read,
    modern_hopfield_step,
)

nojit = pytest.mark.nojit
kernel = pytest.mark.kernel


def bits(rng, m, n):
    return rng.integers(0, 2, size=(m, n), dtype=np.uint8)


# ---------------------------------------------------------------------------
# Classical Hopfield: weights
# ---------------------------------------------------------------------------


@nojit
@kernel
@pytest.mark.parametrize("n", [1, 7, 64, 65])
@pytest.mark.parametrize("kappa", [None, 1, 2])
def test_hebbian_weights_match_loops(n, kappa, rng):
    patterns = bits(rng, 9, n)
    net = Hopfield(n, kappa=kappa)
    net.write(patterns)
    assert net.weights.dtype == np.int32
    assert (net.weights == hebbian_weights(patterns, kappa)).all()
    assert (net.weights == net.weights.T).all() and not net.weights.diagonal().any()
    assert net.n_patterns == 9


@kernel
@pytest.mark.parametrize("kappa", [None, 2])
def test_batched_write_equals_sequential_writes(kappa, rng, monkeypatch):
    patterns = bits(rng, 40, 70)
    one_by_one = Hopfield(70, kappa=kappa)
    for p in patterns:
        one_by_one.write(p)
    # Tiny blocks: the batch is cut into several chunks (and kernels calls).
    monkeypatch.setattr(hopfield, "BLOCK_BYTES", 4 * 70 * 3)
    batched = Hopfield(70, kappa=kappa)
    batched.write(fastsdm.pack_bits(patterns))
    assert (batched.weights == one_by_one.weights).all()


def test_clipping_is_per_pattern_not_per_batch():
    # x three times, then z whose product on units (0, 2) has the other sign:
    # clipped after each pattern W_02 goes 1, 1, 1, 0; clipping the batch's
    # sum (3 - 1 = 2) would give 1.
    x = [1, 0, 1, 1]
    z = [0, 0, 1, 1]
    net = Hopfield(4, kappa=1)
    net.write(np.array([x, x, x, z], dtype=np.uint8))
    assert net.weights[0, 2] == 0 and net.weights[2, 3] == 1
    assert (net.weights == hebbian_weights([x, x, x, z], kappa=1)).all()


@pytest.mark.parametrize("parallel", [False, True])
def test_clipped_serial_and_parallel_agree(parallel, rng):
    patterns = bits(rng, 30, 50)
    net = Hopfield(50, kappa=3)
    net.write(patterns, parallel=parallel)
    assert (net.weights == hebbian_weights(patterns, 3)).all()


def test_weight_overflow_is_refused(rng):
    net = Hopfield(8)
    net.n_patterns = np.iinfo(np.int32).max
    with pytest.raises(OverflowError, match="overflow the int32 weights"):
        net.write(bits(rng, 1, 8))
    clipped = Hopfield(8, kappa=5)
    clipped.n_patterns = np.iinfo(np.int32).max
    clipped.write(bits(rng, 1, 8))  # bounded by kappa: fine


def test_clear(rng):
    net = Hopfield(16)
    net.write(bits(rng, 3, 16))
    net.clear()
    assert net.n_patterns == 0 and not net.weights.any()


# ---------------------------------------------------------------------------
# Classical Hopfield: fields, energy, reads against the references
# ---------------------------------------------------------------------------


@nojit
def test_fields_and_energy_match_loops(rng):
    patterns = bits(rng, 5, 33)
    states = bits(rng, 4, 33)
    net = Hopfield(33)
    net.write(patterns)
    W = hebbian_weights(patterns)
    fields = net.fields(states)
    assert fields.dtype == np.int64
    for q, s in enumerate(states):
        b = bipolar(s)
        assert list(fields[q]) == [hopfield_field(W, b, i) for i in range(33)]
    energy = net.energy(fastsdm.pack_bits(states))
    assert energy.dtype == np.int64
    assert list(energy) == [hopfield_energy(W, bipolar(s)) for s in states]
    assert net.energy(states[0]) == energy[0]
    assert (net.fields(states[1]) == fields[1]).all()


def test_fields_are_exact_in_every_precision(rng, monkeypatch):
    # Force each branch of the exact-product choice with the weight bound.
    patterns = bits(rng, 7, 40)
    states = bits(rng, 3, 40)
    net = Hopfield(40)
    net.write(patterns)
    W = hebbian_weights(patterns)
    want = np.array([[hopfield_field(W, bipolar(s), i) for i in range(40)] for s in states])
    for bound in (7, 2**30, 2**60):
        monkeypatch.setattr(net, "_weight_bound", lambda b=bound: b)
        net._float_weights.clear()
        assert (net.fields(states) == want).all()


@pytest.mark.parametrize("tie", ["keep", "one", "zero"])
@pytest.mark.parametrize("iterations", [1, 6])
def test_synchronous_read_matches_reference(tie, iterations, rng):
    # An even number of patterns and an odd n make zero fields common.
    n = 31
    patterns = bits(rng, 6, n)
    queries = bits(rng, 12, n)
    net = Hopfield(n, update="synchronous", ties=tie)
    net.write(patterns)
    out, info = net.read(queries, iterations=iterations, return_info=True)
    want, steps, converged = hopfield_read(hebbian_weights(patterns), queries, iterations,
                                           update="synchronous", tie=tie)
    assert out.dtype == np.uint8
    assert (out == want).all()
    assert (info.steps == steps).all() and (info.converged == converged).all()


@pytest.mark.parametrize("n", [31, 64, 130])
@pytest.mark.parametrize("tie", ["keep", "one", "zero"])
def test_synchronous_read_of_packed_words_in_every_precision(n, tie, rng, monkeypatch):
    # Packed words, one vector or a batch, one step without info (the short
    # path of read_bits), with each exact product dtype forced by the bound.
    patterns = bits(rng, 6, n)
    queries = bits(rng, 5, n)
    net = Hopfield(n, update="synchronous", ties=tie)
    net.write(patterns)
    want, _, _ = hopfield_read(hebbian_weights(patterns), queries, 1, update="synchronous",
                               tie=tie)
    words = fastsdm.pack_bits(queries)
    for bound in (6, 2**30, 2**60):  # float32, float64, int64 products
        monkeypatch.setattr(net, "_weight_bound", lambda b=bound: b)
        net._float_weights.clear()
        out = net.read(words)
        assert out.dtype == np.uint64 and out.shape == words.shape
        assert (fastsdm.unpack_bits(out, n) == want).all()
        one = net.read(words[2])
        assert one.shape == words[2].shape and (one == out[2]).all()


def test_synchronous_read_sees_every_write(rng):
    # The float weights are a cache of the int32 weights: a write or clear drops it.
    net = Hopfield(40, update="synchronous")
    a, b, q = bits(rng, 3, 40), bits(rng, 3, 40), bits(rng, 4, 40)
    net.write(a)
    net.read(q)
    net.write(b)
    want, _, _ = hopfield_read(hebbian_weights(np.vstack([a, b])), q, 1, update="synchronous")
    assert (net.read(q) == want).all()
    net.clear()
    assert (net.read(q) == q).all()  # no weights, zero fields, "keep"


@kernel
@pytest.mark.parametrize("tie", ["keep", "one", "zero"])
@pytest.mark.parametrize("iterations", [1, 8])
@pytest.mark.parametrize("parallel", [False, True])
def test_asynchronous_read_matches_reference(tie, iterations, parallel, rng):
    n = 31
    patterns = bits(rng, 6, n)
    queries = bits(rng, 10, n)
    net = Hopfield(n, ties=tie, seed=123)
    net.write(patterns)
    out, info = net.read(queries, iterations=iterations, return_info=True, parallel=parallel)
    want, steps, converged = hopfield_read(hebbian_weights(patterns), queries, iterations,
                                           update="asynchronous", tie=tie,
                                           rng=np.random.default_rng(123))
    assert (out == want).all()
    assert (info.steps == steps).all() and (info.converged == converged).all()


@nojit
def test_asynchronous_read_matches_reference_small(rng):
    # The same check on a size that also runs with NUMBA_DISABLE_JIT=1.
    patterns = bits(rng, 3, 9)
    queries = bits(rng, 4, 9)
    net = Hopfield(9, seed=5)
    net.write(patterns)
    out, info = net.read(queries, iterations=4, return_info=True, parallel=False)
    want, steps, converged = hopfield_read(hebbian_weights(patterns), queries, 4,
                                           update="asynchronous", rng=np.random.default_rng(5))
    assert (out == want).all() and (info.steps == steps).all()
    assert (info.converged == converged).all()


def test_asynchronous_result_does_not_depend_on_blocks_or_batch(rng, monkeypatch):
    n = 40
    patterns = bits(rng, 5, n)
    queries = fastsdm.pack_bits(bits(rng, 9, n))
    whole = Hopfield(n, seed=7)
    whole.write(patterns)
    expected, info = whole.read(queries, iterations=6, return_info=True)
    monkeypatch.setattr(hopfield, "BLOCK_BYTES", 9 * n * 2)  # two queries per block
    chunked = Hopfield(n, seed=7)
    chunked.write(patterns)
    got, info2 = chunked.read(queries, iterations=6, return_info=True)
    assert (got == expected).all() and (info2.steps == info.steps).all()
    # Reading one query alone from the same generator state gives its row.
    alone = Hopfield(n, seed=7)
    alone.write(patterns)
    assert (alone.read(queries[3], iterations=6) == expected[3]).all()


def test_seed_reproduces_and_differs(rng):
    n = 64
    patterns = bits(rng, 8, n)
    queries = fastsdm.flip_bits(fastsdm.pack_bits(patterns), n, 20, seed=1)
    results = []
    for seed in (11, 11, 12):
        net = Hopfield(n, seed=seed)
        net.write(patterns)
        results.append(np.vstack([net.read(queries), net.read(queries, iterations=3)]))
    assert (results[0] == results[1]).all()
    assert not (results[0] == results[2]).all()
    net = Hopfield(n, seed=None)
    assert isinstance(net.seed, int)
    assert Hopfield(n, seed=np.random.SeedSequence(11)).seed == 11


def test_a_recorded_seed_rebuilds_the_network_even_from_spawned_seeds(rng):
    # Children of one spawn() share their entropy: recording only it gave
    # siblings the same seed, from which neither network could be rebuilt.
    n = 64
    patterns = bits(rng, 5, n)
    cues = fastsdm.flip_bits(fastsdm.pack_bits(patterns), n, 20, seed=2)
    children = np.random.SeedSequence(0).spawn(2)
    nets = [Hopfield(n, seed=child) for child in children]
    assert nets[0].seed != nets[1].seed
    for net in nets:
        rebuilt = Hopfield(n, seed=net.seed)
        net.write(patterns)
        rebuilt.write(patterns)
        assert (net.read(cues, iterations=3) == rebuilt.read(cues, iterations=3)).all()


@pytest.mark.parametrize("seed, error, match", [
    (-1, ValueError, "seed must be non-negative, got -1"),
    (1.5, TypeError, "seed must be None, a non-negative int, a non-empty list of them or a "
                     "numpy SeedSequence, got 1.5"),
    (True, TypeError, "seed must be None, a non-negative int"),
    (np.random.default_rng(0), TypeError, r"for a Generator, pass e.g. seed=int\(rng"),
])
def test_bad_seeds_are_refused_naming_seed(seed, error, match):
    with pytest.raises(error, match=match):
        Hopfield(8, seed=seed)


def test_asynchronous_energy_never_increases(rng):
    n = 25
    patterns = bits(rng, 6, n)
    W = hebbian_weights(patterns)
    order_rng = np.random.default_rng(3)
    for q in bits(rng, 6, n):
        s = bipolar(q)
        energies = [hopfield_energy(W, s)]
        for _ in range(5):
            s = hopfield_async_sweep(W, s, order_rng.permutation(n), energies=energies)
        assert all(b <= a for a, b in zip(energies, energies[1:], strict=False))
    # The fast sweeps: one read is one sweep; energy per sweep never increases.
    net = Hopfield(128, seed=0)
    net.write(fastsdm.random_addresses(20, 128, seed=1))
    states = fastsdm.random_addresses(30, 128, seed=2)
    energy = net.energy(states)
    decreased = False
    for _ in range(6):
        states = net.read(states)
        new = net.energy(states)
        assert (new <= energy).all()
        decreased |= bool((new < energy).any())
        energy = new
    assert decreased


def test_asynchronous_reads_converge_synchronous_may_cycle():
    # x = (+1, -1) gives W_01 = -1; from (+1, +1) synchronous updates
    # alternate between (-1, -1) and (+1, +1) forever.
    net = Hopfield(2, seed=0)
    net.write([1, 0])
    start = np.array([1, 1], dtype=np.uint8)
    out, info = net.read(start, iterations=5, update="synchronous", return_info=True)
    assert list(out) == [0, 0] and info.steps[0] == 5 and not info.converged[0]  # odd step
    out, info = net.read(start, iterations=5, return_info=True)
    assert info.converged[0] and info.steps[0] <= 2
    assert int(net.energy(out)) == -1  # a stored state or its complement


@pytest.mark.parametrize("update", ["asynchronous", "synchronous"])
def test_stored_patterns_are_fixed_points_at_low_load(update):
    n = 256
    patterns = fastsdm.random_addresses(8, n, seed=4)  # 0.03 n
    net = Hopfield(n, update=update, seed=0)
    net.write(patterns)
    out, info = net.read(patterns, return_info=True)
    assert (out == patterns).all() and info.converged.all()
    cues = fastsdm.flip_bits(patterns, n, 30, seed=5)
    out = net.read(cues, iterations=10)
    assert (out == patterns).all()


def test_retrieval_collapses_far_above_capacity():
    n = 128
    net = Hopfield(n, seed=0)
    patterns = fastsdm.random_addresses(64, n, seed=1)  # 0.5 n >> 0.138 n
    net.write(patterns)
    out = net.read(patterns, iterations=20)
    assert (out == patterns).all(axis=1).mean() < 0.1


@nojit
@pytest.mark.parametrize("dtype", [np.uint8, np.bool_, np.int64])
def test_bits_in_bits_out_words_in_words_out(dtype, rng):
    n = 70
    patterns = bits(rng, 3, n)
    for update in ("asynchronous", "synchronous"):
        net = Hopfield(n, update=update, seed=1)
        net.write(patterns.astype(dtype))
        out = net.read(patterns.astype(dtype))
        assert out.dtype == dtype and out.shape == (3, n)
        words = net.read(fastsdm.pack_bits(patterns))
        assert words.dtype == np.uint64 and words.shape == (3, 2)
        one = net.read(patterns[0].astype(dtype))
        assert one.shape == (n,) and one.dtype == dtype


def test_empty_network_returns_the_query_with_keep_ties(rng):
    q = bits(rng, 2, 20)
    assert (Hopfield(20).read(q) == q).all()
    assert Hopfield(20, ties="one").read(q).all()
    assert not Hopfield(20, ties="zero", update="synchronous").read(q).any()


def test_repr():
    assert repr(Hopfield(8, kappa=3, seed=1)) == (
        "Hopfield(n_bits=8, update='asynchronous', ties='keep', kappa=3, seed=1, n_patterns=0)")


def test_bad_arguments(rng):
    with pytest.raises(TypeError, match="n_bits must be an integer"):
        Hopfield(8.0)
    with pytest.raises(ValueError, match=r"n_bits must be in \[1, inf\]"):
        Hopfield(0)
    with pytest.raises(ValueError, match="update must be one of"):
        Hopfield(8, update="parallel")
    with pytest.raises(ValueError, match="ties must be one of"):
        Hopfield(8, ties="random")
    with pytest.raises(ValueError, match=r"kappa must be in \[1, "):
        Hopfield(8, kappa=0)
    net = Hopfield(8)
    with pytest.raises(ValueError, match="update must be one of"):
        net.read(bits(rng, 1, 8), update="sync")
    with pytest.raises(ValueError, match=r"iterations must be in \[1, inf\]"):
        net.read(bits(rng, 1, 8), iterations=0)
    with pytest.raises(ValueError, match=r"iterations must be in \[1, inf\]"):
        net.read(bits(rng, 1, 8), iterations=0, update="synchronous")
    with pytest.raises(ValueError, match="patterns as 0/1 bits must have 8 columns"):
        net.write(bits(rng, 1, 9))
    with pytest.raises(TypeError, match="queries must be packed uint64 words or 0/1 bits"):
        net.read(np.zeros((1, 8)))
    with pytest.raises(ValueError, match="bits must be 0 or 1"):
        net.energy(np.full((1, 8), 2))


# ---------------------------------------------------------------------------
# torchhd's Hopfield tests (torchhd/tests/test_memory.py), as behaviour
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("update", ["asynchronous", "synchronous"])
def test_torchhd_hopfield_one_item_reads_itself(update):
    # TestHopfieldFn.test_shape / TestHopfieldClass.test_shape: one 67-bit item
    # written and read back (1-D in, 1-D out) is the item.
    item = fastsdm.random_addresses(1, 67, seed=0)
    net = Hopfield(67, update=update, seed=0)
    net.write(item[0])
    read = net.read(item[0])
    assert read.shape == item[0].shape and (read == item[0]).all()
    read = net.read(item)
    assert read.shape == item.shape and (read == item).all()


def test_torchhd_hopfield_kappa_shapes():
    # TestHopfieldFn.test_device / TestHopfieldClass.test_device: 10 items of
    # 67 bits with kappa=4; the read has the items' shape and stays within ±4.
    items = fastsdm.random_addresses(10, 67, seed=1)
    net = Hopfield(67, kappa=4, seed=0)
    net.write(items)
    assert np.abs(net.weights).max() <= 4
    assert net.read(items).shape == items.shape
    bits_in = fastsdm.unpack_bits(items, 67)
    assert net.read(bits_in).shape == (10, 67)


def test_torchhd_hopfield_docstring_example():
    # Hopfield(512) holding 6 random items reads each back exactly (cosine 1).
    items = fastsdm.random_addresses(6, 512, seed=2)
    net = Hopfield(512, seed=0)
    net.write(items)
    assert (fastsdm.hamming_distances(net.read(items), items).diagonal() == 0).all()


def test_torchhd_modern_hopfield_one_item_and_shapes():
    # TestModernHopfield.test_shape / test_device.
    item = fastsdm.random_addresses(1, 67, seed=3)
    net = ModernHopfield(67, beta=1.0)
    net.write(item)
    read = net.read(item[0])
    assert read.shape == (2,) and (read == item[0]).all()
    items = fastsdm.random_addresses(10, 67, seed=4)
    net = ModernHopfield(67, beta=1.0)
    net.write(items)
    assert net.read(items).shape == items.shape


# ---------------------------------------------------------------------------
# Modern Hopfield on binary vectors
# ---------------------------------------------------------------------------


@nojit
@pytest.mark.parametrize("tie", ["keep", "one", "zero"])
@pytest.mark.parametrize("beta", [0.01, 0.3, 5.0])
def test_modern_step_matches_loops(tie, beta, rng):
    n = 20
    patterns = bits(rng, 7, n)
    queries = bits(rng, 5, n)
    net = ModernHopfield(n, beta, ties=tie)
    net.write(patterns)
    out = net.read(queries)
    weights = net.weights(queries)
    for q, query in enumerate(queries):
        want, w = modern_hopfield_step(patterns, query, beta, tie)
        assert list(out[q]) == want
        np.testing.assert_allclose(weights[q], w, rtol=1e-12, atol=1e-300)


def test_modern_ties_are_decided_by_the_policy():
    # Two patterns equidistant from the query disagree on two bits: exact ties.
    patterns = np.array([[1, 1, 0, 0], [1, 0, 1, 0]], dtype=np.uint8)
    query = np.array([1, 0, 0, 0], dtype=np.uint8)
    for tie, want in (("keep", [1, 0, 0, 0]), ("one", [1, 1, 1, 0]), ("zero", [1, 0, 0, 0])):
        net = ModernHopfield(4, 3.0, ties=tie)
        net.write(patterns)
        assert list(net.read(query)) == want
    q2 = np.array([1, 1, 1, 0], dtype=np.uint8)
    net = ModernHopfield(4, 3.0)
    net.write(patterns)
    assert list(net.read(q2)) == [1, 1, 1, 0]


@pytest.mark.parametrize("beta", [0.02, 0.1, 1.0])
def test_modern_step_is_sign_of_softmax_attention(beta, rng):
    n = 96
    patterns = fastsdm.random_addresses(40, n, seed=1)
    queries = fastsdm.flip_bits(patterns[:10], n, 30, seed=2)
    net = ModernHopfield(n, beta)
    net.write(patterns)
    X = 2.0 * fastsdm.unpack_bits(patterns, n) - 1.0
    Q = 2.0 * fastsdm.unpack_bits(queries, n) - 1.0
    att = softmax_attention(Q, X, X, beta)
    assert np.abs(att).min() > 1e-9  # no tie anywhere: the signs are decided
    assert (fastsdm.unpack_bits(net.read(queries), n) == (att > 0)).all()
    np.testing.assert_allclose(net.weights(queries), softmax_weights(Q, X, beta), rtol=1e-10)
    # ... and the SDM pattern-view read with beta on cosines = beta * n.
    pattern_view = sdm_pattern_read(queries, patterns, n_bits=n, beta=beta * n)
    assert (net.read(queries) == pattern_view).all()


def test_modern_iterated_read_matches_loops(rng):
    n = 24
    patterns = bits(rng, 6, n)
    queries = bits(rng, 8, n)
    net = ModernHopfield(n, 0.08)
    net.write(patterns)
    out, info = net.read(queries, iterations=6, return_info=True)
    for q, query in enumerate(queries):
        s, steps, done = list(query), 0, False
        while steps < 6 and not done:
            new, _ = modern_hopfield_step(patterns, s, 0.08)
            done = new == s
            s = new
            steps += 1
        assert list(out[q]) == s and info.steps[q] == steps and info.converged[q] == done


def test_modern_large_beta_retrieves_the_nearest_pattern():
    n = 128
    patterns = fastsdm.random_addresses(300, n, seed=7)
    queries = fastsdm.random_addresses(200, n, seed=8)  # far from everything
    d = fastsdm.hamming_distances(queries, patterns)
    nearest = d.argmin(axis=1)
    unique = (d == d.min(axis=1, keepdims=True)).sum(axis=1) == 1
    assert unique.sum() > 100
    net = ModernHopfield(n, beta=50.0)
    net.write(patterns)
    out = net.read(queries[unique])
    assert (out == patterns[nearest[unique]]).all()


@pytest.mark.parametrize("beta", [1e308, np.finfo(np.float64).max])
def test_modern_huge_finite_beta_is_the_argmax_limit(beta):
    # β > DBL_MAX / 2: −2β overflowed to −inf, and −inf · 0 made the best
    # weights NaN (the read then came out all zeros).  The limit β → ∞ is a
    # uniform weight over the nearest patterns (oracle: np.bitwise_count).
    n = 70
    patterns = fastsdm.random_addresses(9, n, seed=3)
    patterns[4] = patterns[1]  # a tie at the minimum for queries near pattern 1
    queries = np.concatenate([fastsdm.flip_bits(patterns[[0, 1, 6]], n, 3, seed=4),
                              patterns[[2]]])
    d = np.bitwise_count(queries[:, None, :] ^ patterns[None, :, :]).sum(axis=-1)
    best = d == d.min(axis=1, keepdims=True)
    expected = best / best.sum(axis=1, keepdims=True)
    net = ModernHopfield(n, beta=beta)
    net.write(patterns)
    assert (net.weights(queries) == expected).all()
    assert (net.read(queries) == patterns[d.argmin(axis=1)]).all()
    # The report's case.
    small = ModernHopfield(4, beta=beta)
    small.write([[1, 1, 1, 1], [0, 0, 0, 0]])
    assert small.weights([1, 1, 1, 0]).tolist() == [1.0, 0.0]
    assert small.read([1, 1, 1, 0]).tolist() == [1, 1, 1, 1]


def test_modern_blocks_do_not_change_the_result(monkeypatch):
    n = 100
    patterns = fastsdm.random_addresses(50, n, seed=1)
    queries = fastsdm.flip_bits(patterns[:9], n, 35, seed=2)
    net = ModernHopfield(n, 0.05)
    net.write(patterns)
    whole = net.read(queries)
    monkeypatch.setattr(hopfield, "BLOCK_BYTES", 8 * 100 * 7)  # several query and pattern blocks
    assert (net.read(queries) == whole).all()


def test_modern_reads_follow_writes_clears_and_pickles(rng):
    # Reads keep the patterns as ±1 rows: every write and clear must drop them,
    # and a pickle must not carry them.
    import pickle

    n = 30
    a, b, q = bits(rng, 4, n), bits(rng, 5, n), bits(rng, 6, n)
    net = ModernHopfield(n, 0.2)
    net.write(a)
    fresh = ModernHopfield(n, 0.2)
    fresh.write(a)
    assert (net.read(q) == fresh.read(q)).all()
    net.write(b)
    for i, query in enumerate(q):
        want, _ = modern_hopfield_step(np.vstack([a, b]), query, 0.2)
        assert list(net.read(q)[i]) == want
    assert net._signed is not None and net._signed.shape == (9, n)
    copy = pickle.loads(pickle.dumps(net))
    assert "_signed" in copy.__dict__ and copy._signed is None
    assert (copy.read(q) == net.read(q)).all()
    net.clear()
    net.write(b)
    assert net._signed is None or net._signed.shape == (5, n)
    for i, query in enumerate(q):
        want, _ = modern_hopfield_step(b, query, 0.2)
        assert list(net.read(q)[i]) == want


def test_modern_pickles_without_the_cache_attribute_still_load(rng):
    import pickle

    net = ModernHopfield(12, 0.5)
    net.write(bits(rng, 3, 12))
    state = net.__getstate__()
    del state["_signed"]  # as pickled before the cache existed
    old = ModernHopfield.__new__(ModernHopfield)
    old.__setstate__(state)
    q = bits(rng, 2, 12)
    assert (old.read(q) == net.read(q)).all()
    assert (pickle.loads(pickle.dumps(old)).read(q) == net.read(q)).all()


def test_modern_write_appends_and_clear(rng):
    net = ModernHopfield(10, 1.0)
    a, b = bits(rng, 2, 10), bits(rng, 3, 10)
    net.write(a)
    net.write(b[0])
    net.write(fastsdm.pack_bits(b[1:]))
    assert net.n_patterns == 5
    assert (net.patterns == fastsdm.pack_bits(np.vstack([a, b]))).all()
    net.clear()
    assert net.n_patterns == 0
    assert repr(net) == "ModernHopfield(n_bits=10, beta=1.0, ties='keep', n_patterns=0)"


def test_modern_bad_arguments(rng):
    with pytest.raises(TypeError, match="beta must be a positive real number"):
        ModernHopfield(8, "1")
    with pytest.raises(ValueError, match="beta must be a positive finite number"):
        ModernHopfield(8, 0.0)
    with pytest.raises(ValueError, match="ties must be one of"):
        ModernHopfield(8, 1.0, ties="random")
    net = ModernHopfield(8, 1.0)
    with pytest.raises(ValueError, match="stores no patterns"):
        net.read(bits(rng, 1, 8))
    with pytest.raises(ValueError, match="stores no patterns"):
        net.weights(bits(rng, 1, 8))
    net.write(bits(rng, 2, 8))
    with pytest.raises(ValueError, match="queries as 0/1 bits must have 8 columns"):
        net.read(bits(rng, 1, 7))


# ---------------------------------------------------------------------------
# Continuous retrieval
# ---------------------------------------------------------------------------


@nojit
@pytest.mark.parametrize("beta", [0.1, 1.0, 30.0])
def test_modern_retrieve_one_step_is_softmax_attention(beta, rng):
    X = rng.normal(size=(12, 5))
    Q = rng.normal(size=(4, 5))
    np.testing.assert_allclose(modern_retrieve(Q, X, beta), softmax_attention(Q, X, X, beta),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(modern_retrieve(Q[0], X, beta),
                               softmax_attention(Q[0], X, X, beta), rtol=1e-12, atol=1e-12)


def test_modern_retrieve_iterates_to_a_fixed_point(rng):
    X = rng.normal(size=(6, 32))
    Q = X + 0.3 * rng.normal(size=X.shape)
    out, info = modern_retrieve(Q, X, beta=4.0, iterations=50, return_info=True)
    assert info.converged.all() and (info.steps <= 50).all()
    np.testing.assert_allclose(out, X, atol=1e-9)
    # A fixed point: one more update moves nothing beyond the tolerance.
    again, info2 = modern_retrieve(out, X, beta=4.0, return_info=True)
    assert info2.converged.all()
    np.testing.assert_allclose(again, out, atol=1e-12)
    # tol = 0 demands bit equality; one update of a mixture is not a fixed point.
    _, info3 = modern_retrieve(Q, X, beta=0.01, iterations=1, tol=0.0, return_info=True)
    assert not info3.converged.any() and (info3.steps == 1).all()


def test_modern_retrieve_bad_arguments():
    X = np.eye(3)
    with pytest.raises(TypeError, match="patterns must be a real-valued array"):
        modern_retrieve([1, 0, 0], X.astype(complex), 1.0)
    with pytest.raises(ValueError, match=r"patterns must be a non-empty array of shape \(m, d\)"):
        modern_retrieve([1, 0, 0], X[0], 1.0)
    with pytest.raises(ValueError, match="contains NaN"):
        modern_retrieve([np.nan, 0, 0], X, 1.0)
    with pytest.raises(ValueError, match="same width"):
        modern_retrieve([1, 0], X, 1.0)
    with pytest.raises(ValueError, match="tol must be a finite number"):
        modern_retrieve([1, 0, 0], X, 1.0, tol=-1.0)
    with pytest.raises(ValueError, match="beta must be a positive finite number"):
        modern_retrieve([1, 0, 0], X, math.inf)
    with pytest.raises(ValueError, match=r"iterations must be in \[1, inf\]"):
        modern_retrieve([1, 0, 0], X, 1.0, iterations=0)


@pytest.mark.parametrize("iterations", [1, 3])
def test_modern_retrieve_refuses_overflowing_dot_products(iterations):
    # They gave silent NaN (inf − inf in the softmax), as softmax_attention refuses them.
    X = [[1e200, 1e200], [1.0, 0.0]]
    with pytest.raises(ValueError, match=r"dot products X·ξ .* overflowed float64; rescale"):
        modern_retrieve([1e200, 1e200], X, beta=1.0, iterations=iterations)
    with pytest.raises(ValueError, match="overflowed float64"):
        modern_retrieve([[1.0, 0.0], [-1e200, 1e200]], X, beta=1.0, iterations=iterations,
                        return_info=True)


# ---------------------------------------------------------------------------
# Capacities
# ---------------------------------------------------------------------------


@nojit
def test_classical_capacity_values():
    assert classical_capacity(1000) == pytest.approx(138.0)
    assert classical_capacity(256, "fixed_point") == pytest.approx(256 / (2 * math.log(256)))
    assert classical_capacity(256, "all_fixed_points") == pytest.approx(
        256 / (4 * math.log(256)))
    assert hopfield.AMIT_CAPACITY_RATIO == 0.138
    with pytest.raises(ValueError, match="criterion must be one of"):
        classical_capacity(100, "snr")
    with pytest.raises(ValueError, match=r"n must be in \[2, 9007199254740992\]"):
        classical_capacity(1)
    with pytest.raises(ValueError, match=r"n must be in \[2, 9007199254740992\]"):
        classical_capacity(10**400)  # OverflowError in the formula


def test_fixed_point_capacity_is_where_stored_patterns_stop_being_fixed():
    # McEliece et al.: below n / (2 ln n) a stored pattern is a fixed point
    # with high probability; well above it most are not.
    n = 256
    m_low = int(classical_capacity(n, "all_fixed_points"))  # 11
    m_high = int(3 * classical_capacity(n, "retrieval"))  # 105
    for m, check in ((m_low, lambda f: f > 0.9), (m_high, lambda f: f < 0.1)):
        patterns = fastsdm.random_addresses(m, n, seed=m)
        net = Hopfield(n, update="synchronous")
        net.write(patterns)
        fixed = (net.read(patterns) == patterns).all(axis=1).mean()
        assert check(fixed), (m, fixed)


# ---------------------------------------------------------------------------
# Bipolar conversions
# ---------------------------------------------------------------------------


@nojit
def test_bipolar_round_trip(rng):
    b = bits(rng, 5, 70)
    x = to_bipolar(b, 70)
    assert x.dtype == np.int8 and x.tolist() == [bipolar(row) for row in b]
    assert (to_bipolar(fastsdm.pack_bits(b), 70) == x).all()
    assert (from_bipolar(x) == fastsdm.pack_bits(b)).all()
    assert (from_bipolar(x.astype(float)) == fastsdm.pack_bits(b)).all()
    assert (to_bipolar(b[0], 70) == x[0]).all()
    # A network reads bipolar states through them.
    net = Hopfield(70, seed=0)
    net.write(from_bipolar(x))
    assert (to_bipolar(net.read(from_bipolar(x)), 70) == x).all()


def test_bipolar_errors():
    with pytest.raises(ValueError, match="x must hold only -1 and \\+1"):
        from_bipolar([1, 0, -1])
    with pytest.raises(TypeError, match="x must be numeric"):
        from_bipolar(["a"])
    with pytest.raises(ValueError, match="bits must be 0 or 1"):
        to_bipolar([1, -1], 2)


def test_settings_changed_after_construction_are_checked_at_the_next_call():
    # They were never checked again: kappa -3 or 0 gave garbage or zero weights,
    # update and ties 'bogus' ran another rule, beta NaN or -1 read wrong
    # patterns, and a narrower n_bits was read against the wider patterns.
    X = np.array([[1, 0, 1, 1], [1, 1, 0, 0], [0, 1, 1, 0]], np.uint8)
    for name, value, match in (("kappa", -3, r"kappa must be in \[1, "),
                               ("kappa", 0, r"kappa must be in \[1, "),
                               ("update", "bogus", "update must be one of"),
                               ("ties", "bogus", "ties must be one of"),
                               ("n_bits", 5, r"Hopfield.n_bits is fixed by its 4 x 4 weights")):
        net = Hopfield(4, seed=0)
        setattr(net, name, value)
        for method in ("write", "read", "fields", "energy"):
            with pytest.raises(ValueError, match=match):
                getattr(net, method)(X)
    net = Hopfield(4, seed=0)
    net.kappa = np.int64(2)  # a value the constructor takes: taken
    net.write(X)
    reference = Hopfield(4, kappa=2, seed=0)
    reference.write(X)
    np.testing.assert_array_equal(net.weights, reference.weights)
    for name, value, match in (("beta", float("nan"), "beta must be"),
                               ("beta", -1.0, "beta must be"),
                               ("ties", "bogus", "ties must be one of"),
                               ("n_bits", 3, "ModernHopfield.n_bits is fixed at 4")):
        modern = ModernHopfield(4, 1.0)
        modern.write(X)
        setattr(modern, name, value)
        with pytest.raises(ValueError, match=match):
            modern.read(X)


def test_the_exact_products_bound_follows_the_weights_through_kappa_changes():
    # Fields are computed in float32 when (n - 1) * bound < 2**24.  The bound
    # was min(n_patterns, kappa) with today's kappa, so a kappa assigned after
    # the writes (which clips nothing already written) understated it: with
    # weights of 2**24 + 1, fields and reads came out wrong.
    net = Hopfield(16, seed=0)
    patterns = fastsdm.random_addresses(40, 16, seed=1)
    steps = [(None, 10), (3, 0), (None, 5), (2, 4), (50, 6), (None, 0), (1, 1), (7, 14)]
    for kappa, m in steps:
        net.kappa = kappa
        if m:
            net.write(patterns[:m])
        assert net._weight_bound() >= np.abs(net.weights).max(), (kappa, m)
        copy_ = pickle.loads(pickle.dumps(net))
        assert copy_._weight_bound() == net._weight_bound()
    net.kappa = 1  # after writes with kappa 7: the weights still reach 7
    assert np.abs(net.weights).max() == 7 and net._weight_bound() >= 7
    net.clear()
    assert net._weight_bound() == 0
