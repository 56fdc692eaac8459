"""Compile (or load from numba's cache) the kernels a typical session uses."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["warmup"]


def warmup(counter_dtypes=("int8", "int16", "int32"), *, parallel: bool = True) -> float:
    """Compile fastsdm's binary kernels now instead of on first use.

    numba compiles each kernel the first time it is called with a new type
    signature (about a second of CPU each) and caches the machine code on
    disk, so later processes only load it (milliseconds).  Call this once at
    start-up, e.g. before timing anything, to move that cost out of the first
    real call.  On an empty cache it takes about 15 s of CPU for the three
    counter dtypes (``python benchmarks/compile_budget.py``; 2-core AMD EPYC
    Zen 4), under a second once cached.  Writes with a weight beyond the
    counter dtype's range use a kernel of their own, compiled on first use.

    Parameters
    ----------
    counter_dtypes : str or sequence of {"int8", "int16", "int32"}
        The counter widths whose write and read kernels to prepare.
    parallel : bool
        Also prepare the parallel twins.

    Returns
    -------
    float
        Seconds spent.

    Examples
    --------
    >>> import fastsdm
    >>> seconds = fastsdm.warmup(("int16",))
    """
    from .memory import SDM
    from .search import (
        hamming_distances,
        knn_search,
        radius_csr_by_location_blocks,
        radius_search,
    )

    if isinstance(counter_dtypes, str):  # one dtype: not its characters
        counter_dtypes = (counter_dtypes,)
    start = time.perf_counter()
    modes = (False, True) if parallel else (False,)
    addresses = np.zeros((64, 1), dtype=np.uint64)
    for queries in (addresses[:1], addresses[:8]):  # row-wise and tiled scans
        for par in modes:
            hamming_distances(queries, addresses, parallel=par)
            radius_search(queries, addresses, 1, parallel=par)
            knn_search(queries, addresses, 2, parallel=par)
    # What a radius search does when its masks exceed MASK_BUDGET (beyond
    # about 10^6 locations for 256 queries): blocks of locations, joined.
    radius_csr_by_location_blocks(addresses[:8], addresses, 1, 32, False)
    for dtype in counter_dtypes:
        mem = SDM(64, 64, radius=32, counter_dtype=dtype, seed=0)
        for par in modes:
            for batch in (mem.addresses[:2], mem.addresses[:8]):  # lists / fused scan
                mem.write(batch, parallel=par)
                mem.read(batch, parallel=par)
    return time.perf_counter() - start
