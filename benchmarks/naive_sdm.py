"""A straightforward NumPy SDM, as a user would write it: compare.py's baseline.

Addresses are ``np.packbits`` bytes padded with zero bytes to whole 64-bit
words and viewed as uint64 (N, ceil(n/64)), the layout of compare.py's NumPy
search rows (on bytes the same code runs ~1.8x slower); a distance is
``np.bitwise_count(addresses ^ x).sum(axis=1)``; a location is activated when
its distance is ``<= radius``; a write adds +1/-1 to the activated rows'
counters, widened to int16 and clipped back to the counter dtype's range
(saturating, like fastsdm); a read sums the activated rows and thresholds at
zero, a zero sum reading as 0 (fastsdm's ``ties="zero"``).

Deliberately the obvious version: one query at a time, whole-matrix
temporaries, no tiling, no threads.  It is also an independent check of
fastsdm's results in compare.py.
"""

import numpy as np


def _words(packed: np.ndarray) -> np.ndarray:
    """(rows, bytes) packbits bytes -> (rows, words) uint64, zero bytes padding each row."""
    rows, n_bytes = packed.shape
    padded = np.zeros((rows, -(-n_bytes // 8) * 8), dtype=np.uint8)
    padded[:, :n_bytes] = packed
    return padded.view(np.uint64)


class NaiveSDM:
    def __init__(self, address_bits: np.ndarray | None = None, radius: int = 0, *,
                 address_bytes: np.ndarray | None = None, n_bits: int | None = None,
                 counter_dtype="int8"):
        if address_bytes is None:
            address_bits = np.asarray(address_bits, dtype=bool)
            n_bits = address_bits.shape[1]
            address_bytes = np.packbits(address_bits, axis=1)
        self.addresses = _words(np.asarray(address_bytes, dtype=np.uint8))
        self.n_bits = n_bits
        self.radius = radius
        self.counters = np.zeros((self.addresses.shape[0], n_bits), dtype=counter_dtype)
        info = np.iinfo(self.counters.dtype)
        self._lo, self._hi = info.min, info.max

    def distances(self, x_bits: np.ndarray) -> np.ndarray:
        x = _words(np.packbits(np.asarray(x_bits, dtype=bool))[None])[0]
        return np.bitwise_count(self.addresses ^ x).sum(axis=1)

    def activate(self, x_bits: np.ndarray) -> np.ndarray:
        return np.flatnonzero(self.distances(x_bits) <= self.radius)

    def write(self, x_bits: np.ndarray, w_bits: np.ndarray | None = None) -> None:
        """Write one vector (autoassociative when w_bits is None)."""
        w = np.asarray(x_bits if w_bits is None else w_bits)
        delta = np.where(w.astype(bool), 1, -1).astype(np.int16)
        rows = self.activate(x_bits)
        updated = self.counters[rows].astype(np.int16) + delta
        self.counters[rows] = np.clip(updated, self._lo, self._hi)

    def read(self, x_bits: np.ndarray) -> np.ndarray:
        """Read one vector: 0/1 uint8 bits, a zero sum reading 0."""
        rows = self.activate(x_bits)
        sums = self.counters[rows].sum(axis=0, dtype=np.int64)
        return (sums > 0).astype(np.uint8)

    def write_many(self, xs_bits, ws_bits=None) -> None:
        for i, x in enumerate(xs_bits):
            self.write(x, None if ws_bits is None else ws_bits[i])

    def read_many(self, xs_bits) -> np.ndarray:
        return np.stack([self.read(x) for x in xs_bits])
