"""Where ContinuousSDM's activation time goes, in CPU time on one thread.

    python benchmarks/continuous_breakdown.py [--dim 256] [--locations 100000]

CPU time of one thread is far steadier than wall time on a shared machine, so
this is how the per-call and per-query costs of the scans are measured (the
wall-clock comparison with NumPy is ``compare.py --only-continuous``):

* making the memory's int8 copy of its addresses (once per memory), and the
  scan of that copy for batches of 1 to 32 queries (bytes of the copy per
  second for one query);
* the int8 scan that quantises each tile as it goes (batches of more than
  32 queries) for batches of 5 to 1,024 queries, fitted as
  ``fixed + batch * per_query``: the fixed part is quantising the address
  tiles (per address element), the per-query part the int8 products and the
  rechecks (per (query, location) pair, and as multiply-adds per second);
* the int8 scan's inner kernel alone (``vpdpbusd`` on a cache-resident tile:
  its ceiling) and the fraction of pairs inside the int8 error bound (those
  get a float32 dot product);
* the rows scan of the float32 addresses for one query (the path of CPUs
  without AVX-512 VNNI; bytes of addresses per second);
* NumPy's float32 GEMM on one thread for the same shapes (threadpoolctl limits
  BLAS to one thread when it is installed), the float32 floor per core.

Takes about 15 s.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def cpu_time(fn, repeats=5):
    """The smallest process CPU time of ``repeats`` calls (after a warm-up call)."""
    fn()
    best = np.inf
    for _ in range(repeats):
        c0 = time.process_time()
        fn()
        best = min(best, time.process_time() - c0)
    return best


def kernel_rate(dim, repeats=200):
    """Multiply-adds per second of the int8 block kernel on a 256-location tile in cache."""
    from fastsdm._jit import jit
    from fastsdm._kernels import continuous as k

    @jit
    def passes(T, X, init, lo, hi, masks, n4, n_queries, repeats):
        for _ in range(repeats):
            for q0 in range(0, n_queries, 4):
                for p0 in range(0, 16, 2):
                    k.int8_masks(T, p0 * n4 * 16, n4, X, q0 * n4, init, p0 * 16, lo, hi, q0,
                                 masks[0], masks[1])

    rng = np.random.default_rng(0)
    n4 = 4 * -(-dim // 16)
    T = rng.integers(-127, 128, 256 * n4 * 4, dtype=np.int8).view(np.int32)
    X = rng.integers(1, 256, 256 * n4 * 4).astype(np.uint8).view(np.int32)
    init = np.zeros(256, dtype=np.int32)
    bounds = np.full(256, 2**31 - 1, dtype=np.int32)
    masks = np.zeros((2, 4), dtype=np.uint32)
    t = cpu_time(lambda: passes(T, X, init, bounds, bounds, masks, n4, 256, repeats))
    return repeats * 256 * 256 * 4 * n4 / t


def band_fraction(mem, U):
    """Fraction of (query, location) pairs the int8 bound leaves to the float32 check."""
    from fastsdm import continuous
    from fastsdm._kernels import continuous as k

    A = mem.addresses.copy()
    copy = continuous._quantize(A, False)
    X, xinfo = continuous._int8_queries(U, copy.n4)
    counts = []
    for bound in (np.inf, -np.inf):  # only sure pairs pass / every "maybe" pair passes
        cap = U.shape[0] * A.shape[0]
        pair_q, pair_l = np.empty(cap, np.int32), np.empty(cap, np.int64)
        n_pairs = np.zeros(1, np.int64)
        k.scan(np.zeros(1, np.int64), True, A, A.reshape(-1), U, X, xinfo, mem.threshold,
               np.float32(bound), np.float32(bound), np.array([0]),
               np.array([-(-A.shape[0] // copy.tile)]), False, copy.words[None],
               copy.init[None], copy.stats[None], *continuous._int8_scratch(1, X.size // copy.n4),
               np.array([0, cap]), pair_q, pair_l, n_pairs)
        counts.append(n_pairs[0])
    return (counts[1] - counts[0]) / (U.shape[0] * A.shape[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--locations", type=int, default=100_000)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))  # _common.py, naive_continuous.py
    from _common import continuous_radius
    from naive_continuous import unit_rows

    from fastsdm import continuous
    from fastsdm.continuous import ContinuousSDM

    dim, N = args.dim, args.locations
    mem = ContinuousSDM(dim, N, radius=continuous_radius(dim), seed=0)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((1024, dim)).astype(np.float32)
    print(f"# ContinuousSDM activation, dim {dim}, N = {N:,}, one thread, CPU time; "
          f"int8 scan available: {continuous.INT8_SCAN}")
    print()
    print("| scan | queries | CPU time | per query | per (query, location) pair |")
    print("|---|---|---|---|---|")
    int8_scan = continuous.INT8_SCAN
    continuous.INT8_SCAN = False  # the float32 rows scan
    try:
        t1 = cpu_time(lambda: mem.activate(X[0], parallel=False))
    finally:
        continuous.INT8_SCAN = int8_scan
    print(f"| rows (float32) | 1 | {t1 * 1e3:.2f} ms | — | {t1 / N * 1e9:.2f} ns "
          f"({mem.addresses.nbytes / t1 / 1e9:.1f} GB/s of addresses) |")
    if not int8_scan:
        print("\nNo AVX-512 VNNI on this CPU: the int8 scan is not used.")
        return
    A = mem.addresses.copy()
    t_copy = cpu_time(lambda: continuous._quantize(A, False))
    copy_max = continuous.INT8_COPY_MAX_QUERIES
    for b in (1, 4, 16, 32):
        t = cpu_time(lambda b=b: mem.activate(X[:b], parallel=False))
        rate = (f" ({mem._int8.words.nbytes / t / 1e9:.1f} GB/s of the int8 copy)"
                if b == 1 else "")
        print(f"| int8 copy | {b} | {t * 1e3:.2f} ms | {t / b * 1e3:.3f} ms | "
              f"{t / b / N * 1e9:.2f} ns{rate} |")
    batches = np.array([5, 16, 64, 256, 1024])
    continuous.INT8_COPY_MAX_QUERIES = 0  # every batch quantises as it goes
    try:
        times = np.array([cpu_time(lambda b=b: mem.activate(X[:b], parallel=False))
                          for b in batches])
    finally:
        continuous.INT8_COPY_MAX_QUERIES = copy_max
    for b, t in zip(batches, times, strict=True):
        print(f"| int8, quantised as it goes | {b} | {t * 1e3:.2f} ms | {t / b * 1e3:.3f} ms | "
              f"{t / b / N * 1e9:.2f} ns |")
    per_query, fixed = np.polyfit(batches, times, 1)
    band = band_fraction(mem, unit_rows(X[:64]))
    pair = per_query / N
    print()
    print(f"Making the int8 copy of the addresses (once per memory): {t_copy * 1e3:.2f} ms "
          f"= {t_copy / (N * dim) * 1e9:.3f} ns per address element.")
    print(f"int8 scan quantising as it goes, least squares over the batches: fixed "
          f"{fixed * 1e3:.2f} ms per call = {fixed / (N * dim) * 1e9:.3f} ns per address "
          f"element (quantising the tiles); "
          f"{pair * 1e9:.3f} ns per pair = {dim / pair / 1e9:.0f} G multiply-adds/s "
          f"(the float32 product's equivalent: {2 * dim / pair / 1e9:.0f} GFLOP/s). "
          f"{100 * band:.2f} % of the pairs fall inside the int8 error bound. The int8 kernel "
          f"alone on a tile in cache: {kernel_rate(dim) / 1e9:.0f} G multiply-adds/s.")
    U = unit_rows(X)
    A = mem.addresses
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
        print("threadpoolctl is not installed: NumPy's GEMM below uses BLAS's default "
              "threads, not one.")

    def gemm():
        for start in range(0, N, 16_384):
            U @ A[start : start + 16_384].T

    if threadpool_limits is not None:
        with threadpool_limits(1, user_api="blas"):
            t = cpu_time(gemm)
    else:
        t = cpu_time(gemm)
    flops = 2 * 1024 * N * dim
    print(f"NumPy float32 GEMM, 1024 x {dim} by {dim} x {N:,} in blocks of 16,384 locations, "
          f"one thread: {t * 1e3:.1f} ms CPU = {flops / t / 1e9:.0f} GFLOP/s "
          f"({flops / 2 / t / 1e9:.0f} G multiply-adds/s).")


if __name__ == "__main__":
    main()
