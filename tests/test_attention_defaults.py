"""The default β of softmax_attention and softmax_weights: 1/sqrt(d) (torchhd's, Transformers')."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastsdm import theory
from fastsdm.attention import softmax_attention, softmax_weights

nojit = pytest.mark.nojit


def loop_weights(q, K, beta):
    """softmax_μ(β k_μ·q) with plain loops and math.exp."""
    scores = [sum(a * b for a, b in zip(q, k, strict=True)) for k in K]
    top = max(scores)
    e = [math.exp(beta * (s - top)) for s in scores]
    return [v / sum(e) for v in e]


@nojit
@pytest.mark.parametrize("shape", [(7, 3), (2, 16), (5, 5)])
def test_default_beta_is_one_over_sqrt_of_the_key_width(shape, rng):
    n_keys, d = shape
    K = rng.normal(size=(n_keys, d))
    V = rng.normal(size=(n_keys, 4))
    Q = rng.normal(size=(3, d))
    beta = 1.0 / math.sqrt(d)
    w = softmax_weights(Q, K)
    for q, row in zip(Q, w, strict=True):
        np.testing.assert_allclose(row, loop_weights(q, K, beta), rtol=1e-12)
    np.testing.assert_array_equal(w, softmax_weights(Q, K, beta))
    np.testing.assert_array_equal(w, softmax_weights(Q, K, None))
    np.testing.assert_allclose(softmax_weights(Q[0], K), w[0], rtol=1e-12)
    out = softmax_attention(Q, K, V)
    np.testing.assert_array_equal(out, softmax_attention(Q, K, V, beta))
    np.testing.assert_allclose(out, w @ V, rtol=1e-12)
    np.testing.assert_allclose(softmax_attention(Q[1], K, V), out[1], rtol=1e-12)


def test_default_beta_with_normalize_is_still_one_over_sqrt_d(rng):
    K = rng.normal(size=(6, 9))
    q = rng.normal(size=9)
    np.testing.assert_array_equal(softmax_weights(q, K, normalize=True),
                                  softmax_weights(q, K, 1 / 3, normalize=True))


def test_default_on_bipolar_vectors_is_beta_sqrt_n_on_cosines(rng):
    # The documented comparison: q·k = n cos for ±1 vectors, so the default
    # 1/sqrt(n) on dot products is sqrt(n) on cosines, below fit_beta(64, d)
    # for the optimal radii 5, 11 and 15.
    n = 64
    K = rng.choice([-1.0, 1.0], size=(30, n))
    q = rng.choice([-1.0, 1.0], size=n)
    np.testing.assert_allclose(softmax_weights(q, K),
                               softmax_weights(q, K, math.sqrt(n), normalize=True), rtol=1e-12)
    assert math.sqrt(n) < min(theory.fit_beta(n, d) for d in (5, 11, 15))


def test_torchhd_attention_tests():
    # torchhd/tests/test_memory.py TestAttention.test_shape: one 67-wide key,
    # one 123-wide value; attending with the key reads the value (sign).
    gen = np.random.default_rng(0)
    keys = gen.choice([-1.0, 1.0], size=(1, 67))
    values = gen.choice([-1.0, 1.0], size=(1, 123))
    read = np.sign(softmax_attention(keys[0], keys, values))
    assert read.shape == (123,) and (read == values[0]).all()
    # TestAttention.test_device: 5 keys of 35, 5 values of 74.
    keys = gen.choice([-1.0, 1.0], size=(5, 35))
    values = gen.choice([-1.0, 1.0], size=(5, 74))
    assert softmax_attention(keys, keys, values).shape == values.shape


def test_explicit_bad_beta_is_still_refused():
    K = np.eye(2)
    with pytest.raises(ValueError, match="beta must be a positive finite number"):
        softmax_weights([1.0, 0.0], K, 0.0)
    with pytest.raises(TypeError, match="beta must be a positive real number"):
        softmax_attention([1.0, 0.0], K, K, "1/sqrt(d)")
