"""Where ContinuousSDM's activation time goes, in CPU time on one thread.

    python benchmarks/continuous_breakdown.py [--dim 256] [--locations 100000]

CPU time of one thread is far steadier than wall time on a shared machine, so
this is how the per-call and per-query costs of the scans are measured (the
wall-clock comparison with NumPy is ``compare.py --only-continuous``):

* the int8 scan's cost for batches of 5 to 1,024 queries, fitted as
  ``fixed + batch * per_query``: the fixed part is quantising the address
  tiles (per address element), the per-query part the int8 products and the
  rechecks (per (query, location) pair, and as multiply-adds per second);
* the rows scan for one query (bytes of addresses per second);
* NumPy's float32 GEMM on one thread for the same shapes (threadpoolctl limits
  BLAS to one thread when it is installed), the float32 floor per core.

Takes about a minute.
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
    t1 = cpu_time(lambda: mem.activate(X[0], parallel=False))
    print(f"| rows | 1 | {t1 * 1e3:.2f} ms | — | {t1 / N * 1e9:.2f} ns "
          f"({mem.addresses.nbytes / t1 / 1e9:.1f} GB/s of addresses) |")
    if not continuous.INT8_SCAN:
        print("\nNo AVX-512 VNNI on this CPU: the int8 scan is not used.")
        return
    batches = np.array([5, 16, 64, 256, 1024])
    times = np.array([cpu_time(lambda b=b: mem.activate(X[:b], parallel=False))
                      for b in batches])
    for b, t in zip(batches, times, strict=True):
        print(f"| int8 | {b} | {t * 1e3:.2f} ms | {t / b * 1e3:.3f} ms | "
              f"{t / b / N * 1e9:.2f} ns |")
    per_query, fixed = np.polyfit(batches, times, 1)
    pair = per_query / N
    print()
    print(f"int8 scan, least squares over the batches: fixed {fixed * 1e3:.2f} ms per call = "
          f"{fixed / (N * dim) * 1e9:.3f} ns per address element (quantising the tiles); "
          f"{pair * 1e9:.3f} ns per pair = {dim / pair / 1e9:.0f} G multiply-adds/s "
          f"(the float32 product's equivalent: {2 * dim / pair / 1e9:.0f} GFLOP/s).")
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
