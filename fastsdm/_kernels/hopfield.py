"""Kernels of the classical Hopfield network (:mod:`fastsdm.hopfield`).

States are bipolar ``int8`` rows (+1 for bit 1, -1 for bit 0), weights a
symmetric ``int32`` matrix with a zero diagonal, local fields ``int64``.
The float work (synchronous updates, first local fields, unclipped Hebbian
sums) is NumPy/BLAS; only what is sequential by definition lives here:

* :func:`_sweep_impl`: one asynchronous sweep.  Units are visited in a given
  order; each takes the sign of its local field, and a unit that flips
  updates every field by ``±2 W[i, :]`` (``W`` is symmetric, so that is row
  ``i``: contiguous).  A sweep costs ``n`` sign tests plus ``n`` additions
  per flip instead of a full ``n x n`` product per unit.
* :func:`_clipped_hebbian_impl`: Hebbian learning with weights clipped to
  ``[-kappa, kappa]`` after every pattern.  Clipping makes the order matter,
  so each weight runs through the patterns in order; threads own disjoint
  rows.
"""

from numba import prange

from .._jit import twins

#: Tie policies of a sign update (a local field of exactly 0), by code.
TIE_KEEP = 0
TIE_ONE = 1
TIE_ZERO = 2


def _sweep_impl(states, fields, W, active, order, tie, changed):
    # For each query active[t]: visit the units in ``order``; set each to the
    # sign of its field (a zero field follows ``tie``); keep the fields exact.
    n = W.shape[0]
    for t in prange(active.shape[0]):
        q = active[t]
        s = states[q]
        h = fields[q]
        flipped = False
        for p in range(n):
            i = order[p]
            f = h[i]
            if f > 0:
                new = 1
            elif f < 0:
                new = -1
            elif tie == TIE_ONE:
                new = 1
            elif tie == TIE_ZERO:
                new = -1
            else:
                new = s[i]
            if new != s[i]:
                delta = 2 * new  # new - old, with old = -new
                row = W[i]
                for j in range(n):
                    h[j] += delta * row[j]
                s[i] = new
                flipped = True
        changed[t] = flipped


sweep_serial, sweep_parallel = twins(_sweep_impl)


def _clipped_hebbian_impl(W, X, kappa):
    # W[i, j] <- clip(W[i, j] + X[mu, i] X[mu, j], -kappa, kappa) for each
    # pattern mu in order; the diagonal stays 0.  X holds bipolar int8 rows.
    n = W.shape[0]
    m = X.shape[0]
    for i in prange(n):
        row = W[i]
        for mu in range(m):
            xi = X[mu, i]
            for j in range(n):
                v = row[j] + xi * X[mu, j]
                if v > kappa:
                    v = kappa
                elif v < -kappa:
                    v = -kappa
                row[j] = v
        row[i] = 0


clipped_hebbian_serial, clipped_hebbian_parallel = twins(_clipped_hebbian_impl)
