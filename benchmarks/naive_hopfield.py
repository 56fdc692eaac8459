"""Straightforward NumPy Hopfield networks: compare.py's baseline for fastsdm.hopfield.

The code a researcher writes from the textbook formulas, on bipolar
``float64`` arrays (NumPy's default float; +1 for bit 1, -1 for bit 0):

* ``hebbian(X)``: ``W = X.T @ X`` with a zero diagonal;
* ``synchronous(W, S, iterations)``: ``S ← sign(S @ W)`` for the whole batch,
  a zero field keeping the unit's state (``np.sign`` alone would set it to 0,
  which is not a state), until no query changes;
* ``asynchronous(W, S, rng, iterations)``: sweeps in which a Python loop
  visits the units in ``rng.permutation(n)`` order (one permutation per
  sweep, shared by the batch) and sets each to the sign of its field
  ``S @ W[:, i]``, a NumPy dot product per unit (vectorised over the batch);
* ``modern_read(X, S, beta)``: ``sign(X.T softmax(β X ξ))`` on bipolar states,
  a zero sum keeping the state;
* ``modern_update(X, Q, beta)``: Ramsauer et al.'s ``Xᵀ softmax(β X ξ)`` on
  real vectors, iterated until no coordinate moves by more than ``tol``.

The update orders and tie rules are fastsdm's (``Hopfield(ties="keep")``, a
sweep's order drawn from ``np.random.default_rng(seed)``), so compare.py can
assert identical results before timing.  Deliberately the obvious version.
"""

import numpy as np


def bipolar(bits):
    """0/1 rows to float64 ±1 rows."""
    return 2.0 * bits - 1.0


def hebbian(X):
    """Hebbian weights of bipolar rows: ``X.T @ X``, zero diagonal."""
    W = X.T @ X
    np.fill_diagonal(W, 0)
    return W


def _sign_keep(h, s):
    return np.where(h > 0, 1.0, np.where(h < 0, -1.0, s))


def synchronous(W, S, iterations=1):
    """Up to ``iterations`` synchronous updates of the batch ``S`` (q, n)."""
    for _ in range(iterations):
        new = _sign_keep(S @ W, S)
        if np.array_equal(new, S):
            break
        S = new
    return S


def asynchronous(W, S, rng, iterations=1):
    """Up to ``iterations`` asynchronous sweeps of the batch ``S`` (q, n)."""
    S = S.copy()
    for _ in range(iterations):
        changed = False
        for i in rng.permutation(W.shape[0]):
            h = S @ W[i]  # W is symmetric: its contiguous row i is column i
            new = _sign_keep(h, S[:, i])
            if not changed and not np.array_equal(new, S[:, i]):
                changed = True
            S[:, i] = new
        if not changed:
            break
    return S


def modern_read(X, S, beta, iterations=1):
    """Up to ``iterations`` updates ``sign(softmax(β S Xᵀ) X)`` of bipolar states."""
    for _ in range(iterations):
        scores = beta * (S @ X.T)
        scores -= scores.max(axis=1, keepdims=True)
        w = np.exp(scores)
        w /= w.sum(axis=1, keepdims=True)
        new = _sign_keep(w @ X, S)
        if np.array_equal(new, S):
            break
        S = new
    return S


def modern_update(X, Q, beta, iterations=1, tol=1e-12):
    """Up to ``iterations`` updates ``softmax(β Q Xᵀ) X`` of real vectors."""
    for _ in range(iterations):
        scores = Q @ X.T
        w = np.exp(beta * (scores - scores.max(axis=1, keepdims=True)))
        w /= w.sum(axis=1, keepdims=True)
        new = w @ X
        done = np.abs(new - Q).max() <= tol * max(1.0, np.abs(X).max())
        Q = new
        if done:
            break
    return Q
