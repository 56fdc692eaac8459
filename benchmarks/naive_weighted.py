"""A straightforward NumPy SDM with the weighted operations: compare.py's baseline for them.

As ``naive_sdm.NaiveSDM`` (packed addresses in uint64 words, ``np.bitwise_count``
distances, one vector at a time), plus what issue 16 §2 adds to fastsdm:

* ``write(x, w, weight, distance_weights)``: the location at distance ``h``
  gets ``weight * distance_weights[h] * (+1 / -1)``, in int64, clipped to
  ``[-kappa, kappa]`` (or the dtype's range); zero products are skipped;
* ``read(x, z)``: ``sign(c) * |c| ** z`` summed over the activated rows in
  ascending order (``cumsum``: strictly sequential), thresholded at zero, a
  zero sum reading 0.

Deliberately the obvious version; it is also an independent check of
fastsdm's results in compare.py.
"""

import numpy as np

try:
    from naive_sdm import NaiveSDM  # compare.py puts benchmarks/ on sys.path
except ImportError:  # imported as benchmarks.naive_weighted (asv's discovery)
    from .naive_sdm import NaiveSDM


class NaiveWeightedSDM(NaiveSDM):
    def __init__(self, *args, kappa=None, **kwargs):
        super().__init__(*args, **kwargs)
        if kappa is not None:
            self._lo, self._hi = -kappa, kappa

    def write(self, x_bits, w_bits=None, weight=1, distance_weights=None):
        w = np.asarray(x_bits if w_bits is None else w_bits)
        sign = np.where(w.astype(bool), 1, -1).astype(np.int64)
        d = self.distances(x_bits)
        rows = np.flatnonzero(d <= self.radius)
        f = (np.full(rows.size, weight, np.int64) if distance_weights is None
             else weight * np.asarray(distance_weights, np.int64)[d[rows]])
        rows, f = rows[f != 0], f[f != 0]
        updated = self.counters[rows].astype(np.int64) + f[:, None] * sign[None, :]
        self.counters[rows] = np.clip(updated, self._lo, self._hi)

    def sums(self, x_bits, z):
        rows = self.activate(x_bits)  # ascending
        c = self.counters[rows].astype(np.float64)
        terms = np.sign(c) * np.abs(c) ** z
        return terms.cumsum(axis=0)[-1] if rows.size else np.zeros(c.shape[1])

    def read(self, x_bits, z=None):
        if z is None:
            return super().read(x_bits)
        return (self.sums(x_bits, z) > 0).astype(np.uint8)

    def write_many(self, xs_bits, ws_bits=None, **options):
        for i, x in enumerate(xs_bits):
            self.write(x, None if ws_bits is None else ws_bits[i], **options)

    def read_many(self, xs_bits, z=None):
        return np.stack([self.read(x, z) for x in xs_bits])
