"""Exhaustive Hamming search: full distances, radius search and k-NN.

One query (the row-wise scan: memory-bandwidth bound) and batches of 16 and
256 (the tiled, bit-sliced scan: popcount bound), serial and parallel twins
forced with ``parallel=``.
"""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

import fastsdm

from ._common import SEARCH_SIZES, queries, radius_for

K = 10


class _Search:
    params = [list(SEARCH_SIZES), [1, 16, 256], [False, True]]
    param_names = ["size", "queries", "parallel"]
    # Large sizes take up to ~1 s per call: bound the samples.
    repeat = (1, 10, 20.0)

    def setup(self, size, n_queries, parallel):
        n_bits, n_locations = SEARCH_SIZES[size]
        self.n_bits = n_bits
        self.addresses = fastsdm.random_addresses(n_locations, n_bits, seed=0)
        self.queries = queries(n_queries, n_bits)
        self.radius = radius_for(n_bits)
        self.warm_up(parallel)

    def warm_up(self, parallel):
        raise NotImplementedError


class HammingDistances(_Search):
    def warm_up(self, parallel):
        fastsdm.hamming_distances(self.queries, self.addresses[:64], parallel=parallel)
        self.out = fastsdm.hamming_distances(self.queries, self.addresses, parallel=parallel)

    def time_hamming_distances(self, size, n_queries, parallel):
        fastsdm.hamming_distances(self.queries, self.addresses, parallel=parallel)

    def time_hamming_distances_into_out(self, size, n_queries, parallel):
        # The same into one array reused across calls (out=): no allocation,
        # no page faults of new memory.
        fastsdm.hamming_distances(self.queries, self.addresses, parallel=parallel, out=self.out)


class RadiusSearch(_Search):
    def warm_up(self, parallel):
        fastsdm.radius_search(self.queries, self.addresses[:64], self.radius, parallel=parallel)

    def time_radius_search(self, size, n_queries, parallel):
        fastsdm.radius_search(self.queries, self.addresses, self.radius, parallel=parallel)


class KnnSearch(_Search):
    def warm_up(self, parallel):
        fastsdm.knn_search(self.queries, self.addresses[:64], K, parallel=parallel)

    def time_knn_search(self, size, n_queries, parallel):
        fastsdm.knn_search(self.queries, self.addresses, K, parallel=parallel)


class RadiusSearchLocationBlocks(_Search):
    """Radius search cut into ten blocks of locations, as when its masks exceed MASK_BUDGET.

    A real search cuts its locations only beyond ~10^6 of them for 256
    queries (``search.mask_blocks``); this times the same path (each block's
    lists into a staging array, then the parallel join) at the suite's sizes.
    """

    params = [list(SEARCH_SIZES), [256], [False, True]]

    def warm_up(self, parallel):
        from fastsdm import search

        self.search = search
        self.step = -(-self.addresses.shape[0] // 10 // 64) * 64
        search.radius_csr_by_location_blocks(self.queries, self.addresses[:128], self.radius, 64,
                                             parallel)

    def time_radius_search_location_blocks(self, size, n_queries, parallel):
        self.search.radius_csr_by_location_blocks(self.queries, self.addresses, self.radius,
                                                  self.step, parallel)


class SearchPeakMemory:
    """Peak RSS of a 256-query call (the process, data and numba included)."""

    params = [list(SEARCH_SIZES)]
    param_names = ["size"]

    def setup(self, size):
        n_bits, n_locations = SEARCH_SIZES[size]
        self.addresses = fastsdm.random_addresses(n_locations, n_bits, seed=0)
        self.queries = queries(256, n_bits)
        self.radius = radius_for(n_bits)
        small = self.addresses[:64]
        for parallel in (False, True):  # JIT warm-up; the timed call picks one by size
            fastsdm.hamming_distances(self.queries, small, parallel=parallel)
            fastsdm.radius_search(self.queries, small, self.radius, parallel=parallel)
            fastsdm.knn_search(self.queries, small, K, parallel=parallel)

    def peakmem_hamming_distances_256(self, size):
        fastsdm.hamming_distances(self.queries, self.addresses)

    def peakmem_radius_search_256(self, size):
        fastsdm.radius_search(self.queries, self.addresses, self.radius)

    def peakmem_knn_search_256(self, size):
        fastsdm.knn_search(self.queries, self.addresses, K)


class SearchCounts:
    """Locations within Kanerva's radius per query (p = 0.001), for reference."""

    params = [list(SEARCH_SIZES)]
    param_names = ["size"]
    unit = "locations"

    def setup(self, size):
        n_bits, n_locations = SEARCH_SIZES[size]
        addresses = fastsdm.random_addresses(n_locations, n_bits, seed=0)
        indptr, _ = fastsdm.radius_search(queries(16, n_bits), addresses, radius_for(n_bits))
        self.mean = float(np.diff(indptr).mean())

    def track_mean_within_radius(self, size):
        return self.mean
