"""How radius-search cost grows with N, n and the batch size; writes a figure.

    python benchmarks/scaling.py                 # full grid -> docs/_static/scaling.png
    python benchmarks/scaling.py --quick         # small grid, a minute or so
    python benchmarks/scaling.py --out fig.png --json scaling.json

For every (N, n, batch) it times ``fastsdm.radius_search`` (Kanerva's radius
for activation probability 0.001, the default serial/parallel choice) and
reports seconds per query and the xor+popcount rate in Gwords/s
(batch * N * ceil(n/64) / time): a single query streams the address matrix
(memory bound), batches reuse each cached tile across queries (popcount
bound), so the rate climbs with the batch size until it meets the popcount
ceiling.
"""

import os

# An application: choose the OpenMP wait policy before numba starts its
# runtime (the default spin-waiting pool makes each parallel launch cost
# milliseconds on a 2-core machine).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "docs" / "_static" / "scaling.png"

FULL = {"N": [10_000, 100_000, 1_000_000], "n": [256, 1024, 4096],
        "batch": [1, 4, 16, 64, 256]}
QUICK = {"N": [10_000, 100_000], "n": [256, 1024], "batch": [1, 16, 256]}


def median_time(fn, min_time, max_repeats):
    """Median wall time (and median process CPU time) over at least 3 calls."""
    fn()  # warm-up (compilation, page faults)
    times, cpu = [], []
    start = time.perf_counter()
    while len(times) < max_repeats and (len(times) < 3 or time.perf_counter() - start < min_time):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(times)), float(np.median(cpu)), times


def run_grid(grid, min_time, max_repeats):
    import fastsdm
    from fastsdm.theory import radius_for_probability

    records = []
    max_batch = max(grid["batch"])
    for n in grid["n"]:
        radius = radius_for_probability(n, 0.001)
        W = -(-n // 64)
        for N in grid["N"]:
            A = fastsdm.random_addresses(N, n, seed=0)
            Q = fastsdm.random_addresses(max_batch, n, seed=1)
            for b in grid["batch"]:
                call = partial(fastsdm.radius_search, Q[:b], A, radius)
                median, cpu, times = median_time(call, min_time, max_repeats)
                rec = {"N": N, "n": n, "words": W, "batch": b, "radius": radius,
                       "seconds": median, "cpu_seconds": cpu, "seconds_per_query": median / b,
                       "queries_per_s": b / median, "gwords_per_s": b * N * W / median / 1e9,
                       "runs": times}
                records.append(rec)
                print(f"N={N:>9,} n={n:>5} batch={b:>4}: {median * 1e3:9.3f} ms  "
                      f"{rec['queries_per_s']:>10,.0f} q/s  {rec['gwords_per_s']:6.2f} Gwords/s",
                      file=sys.stderr)
    return records


def plot(records, grid, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)
    n_ref = 1024 if 1024 in grid["n"] else max(grid["n"])
    N_ref = max(grid["N"])

    ax = axes[0]
    for b in grid["batch"]:
        pts = sorted((r["N"], r["seconds_per_query"]) for r in records
                     if r["n"] == n_ref and r["batch"] == b)
        ax.loglog(*zip(*pts, strict=True), "o-", label=f"batch {b}")
    ax.set_xlabel("locations N")
    ax.set_ylabel("seconds per query")
    ax.set_title(f"time per query vs N (n = {n_ref})")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[1]
    for b in grid["batch"]:
        pts = sorted((r["n"], r["seconds_per_query"]) for r in records
                     if r["N"] == N_ref and r["batch"] == b)
        ax.loglog(*zip(*pts, strict=True), "o-", label=f"batch {b}")
    ax.set_xlabel("bits n")
    ax.set_ylabel("seconds per query")
    ax.set_title(f"time per query vs n (N = {N_ref:,})")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[2]
    for N in grid["N"]:
        for n in grid["n"]:
            pts = sorted((r["batch"], r["gwords_per_s"]) for r in records
                         if r["N"] == N and r["n"] == n)
            ax.semilogx(*zip(*pts, strict=True), "o-", label=f"N={N:,}, n={n}")
    ax.set_xlabel("queries per call (batch)")
    ax.set_ylabel("xor+popcount rate, Gwords/s")
    ax.set_title("xor+popcount rate vs batch size")
    ax.legend(fontsize="small")
    ax.grid(True, which="both", alpha=0.3)

    import numba

    fig.suptitle(f"fastsdm.radius_search, {numba.get_num_threads()} threads, "
                 f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small grid")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="figure path (PNG)")
    parser.add_argument("--json", type=Path, help="also save the raw figures as JSON")
    args = parser.parse_args(argv)
    grid = QUICK if args.quick else FULL
    try:
        import fastsdm
    except ImportError:  # run from a source checkout without installing
        sys.path.insert(0, str(HERE.parent))
        import fastsdm
    fastsdm.warmup(("int16",))
    records = run_grid(grid, min_time=0.2 if args.quick else 1.0,
                       max_repeats=5 if args.quick else 20)
    plot(records, grid, args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"grid": grid, "records": records}, indent=1))


if __name__ == "__main__":
    main()
