"""A straightforward NumPy ContinuousSDM, as a user would write it: compare.py's baseline.

Addresses are float32 unit rows ``A`` (N, dim); a query or key ``x`` is
L2-normalised in float64 and rounded to float32 (fastsdm's rule); a location is
activated when the float32 similarity ``x @ A.T`` reaches the cosine
threshold; a write adds ``weight * value`` to the activated rows (one query
after the other, so a batch equals sequential writes); a read sums the
activated rows in float64, in ascending location order.

Deliberately the obvious version: one BLAS matrix product per chunk of queries
(at most ``SIMILARITY_BYTES`` of similarities at once, so that 1,024 queries
against 10^6 locations do not take 4 GB), ``np.nonzero`` of the thresholded
matrix, and NumPy fancy indexing per query.  No threads but BLAS's own.

``exact=True`` adds what the obvious code lacks: a float32 product can put a
cosine within BLAS's rounding error of the threshold on the wrong side, so
similarities within ``margin`` of the threshold are decided again by the
float64 cosine (fastsdm's rule; its sums run in another order, which only
matters for a cosine within ~1e-15 of the threshold).  compare.py checks
fastsdm against the exact variant and times the plain one.
"""

import numpy as np

#: Bytes of float32 similarities held at once.
SIMILARITY_BYTES = 256 << 20


def unit_rows(x) -> np.ndarray:
    """Rows L2-normalised in float64, rounded to float32."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class NaiveContinuousSDM:
    def __init__(self, addresses: np.ndarray, threshold: float, value_dim: int | None = None,
                 dtype=np.float32, *, exact: bool = False, margin: float = 0.0):
        self.addresses = np.ascontiguousarray(addresses, dtype=np.float32)
        self.threshold = float(threshold)
        dim = self.addresses.shape[1]
        self.dtype = np.dtype(dtype)
        self.accumulators = np.zeros((self.addresses.shape[0], value_dim or dim), self.dtype)
        self.exact = exact
        self.margin = margin

    def similarities(self, U: np.ndarray):
        """Yield ``(start, S)``: float32 ``U[start:stop] @ A.T`` for chunks of queries."""
        step = max(1, SIMILARITY_BYTES // (4 * max(1, self.addresses.shape[0])))
        for start in range(0, U.shape[0], step):
            yield start, U[start : start + step] @ self.addresses.T

    def _csr(self, U: np.ndarray, start: int, S: np.ndarray):
        mask = S >= np.float32(self.threshold)
        if self.exact:
            near_r, near_c = np.nonzero(np.abs(S - np.float32(self.threshold)) <= self.margin)
            x = U[start + near_r].astype(np.float64)
            a = self.addresses[near_c].astype(np.float64)
            cos = (x * a).sum(1) / np.sqrt((x * x).sum(1) * (a * a).sum(1))
            mask[near_r, near_c] = cos >= self.threshold
        rows, cols = np.nonzero(mask)  # row-major: ascending per query
        return np.searchsorted(rows, np.arange(S.shape[0] + 1)), cols

    def activate(self, x):
        """Activated locations of each query as a list of ascending index arrays."""
        U = unit_rows(x)
        out = []
        for start, S in self.similarities(U):
            indptr, cols = self._csr(U, start, S)
            out.extend(cols[indptr[i] : indptr[i + 1]] for i in range(S.shape[0]))
        return out

    def write(self, keys, values=None, weight: float = 1.0) -> None:
        U = unit_rows(keys)
        V = U if values is None else np.atleast_2d(np.asarray(values))
        # weight * value rounded once, as fastsdm does (a weight of 1: one cast)
        deltas = (V.astype(self.dtype) if weight == 1
                  else (V.astype(np.float64) * weight).astype(self.dtype))
        for start, S in self.similarities(U):
            indptr, cols = self._csr(U, start, S)
            for i in range(S.shape[0]):
                rows = cols[indptr[i] : indptr[i + 1]]
                self.accumulators[rows] += deltas[start + i]

    def read_sums(self, queries) -> np.ndarray:
        U = unit_rows(queries)
        out = np.empty((U.shape[0], self.accumulators.shape[1]), dtype=np.float64)
        for start, S in self.similarities(U):
            indptr, cols = self._csr(U, start, S)
            for i in range(S.shape[0]):
                rows = cols[indptr[i] : indptr[i + 1]]
                out[start + i] = self.accumulators[rows].sum(axis=0, dtype=np.float64)
        return out

    def read(self, queries) -> np.ndarray:
        """Unit vectors of the sums (a zero sum reads as zero), in the accumulators' dtype."""
        sums = self.read_sums(queries)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0).astype(self.dtype)
