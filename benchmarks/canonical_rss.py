"""Resident size of a session with Kanerva's canonical memory (Linux).

    python benchmarks/canonical_rss.py
    python benchmarks/canonical_rss.py --limit 1.3e9    # exit 1 if the peak is above

Creates the canonical memory (n = 1000 bits, N = 10^6 locations, radius 451,
int8 counters), writes 10,000 random patterns, then reads 1,000 of them back
from cues with 150 flipped bits, iterating up to 20 times.  Prints the
process's resident set (``VmRSS``) after each step and its peak (``VmHWM``)
beside the bytes of the memory's own arrays, so that what the memory needs can
be told apart from what the interpreter, NumPy and numba's compiler runtime
need in any process (the step "first write": numba loads LLVM and the kernels).
"""

import os

# An application: choose the OpenMP wait policy before numba starts its
# runtime (see docs/performance.md).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import argparse
import sys

N_BITS, N_LOCATIONS, RADIUS = 1000, 1_000_000, 451


def status_bytes(*keys):
    """Fields of /proc/self/status, in bytes."""
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in keys:
                values[key] = int(rest.split()[0]) * 1024  # reported in kB
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patterns", type=int, default=10_000)
    parser.add_argument("--cues", type=int, default=1_000)
    parser.add_argument("--flips", type=int, default=150)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--limit", type=float, default=None,
                        help="exit with status 1 when the peak exceeds this many bytes")
    args = parser.parse_args(argv)
    if not os.path.exists("/proc/self/status"):
        parser.error("this script reads /proc/self/status (Linux)")

    steps = []

    def step(label):
        steps.append((label, status_bytes("VmRSS")["VmRSS"]))

    import numba  # noqa: F401  (its import is part of every fastsdm process)
    import numpy as np

    import fastsdm

    step("python, numpy, numba, fastsdm imported")
    mem = fastsdm.SDM(N_BITS, N_LOCATIONS, radius=RADIUS, counter_dtype="int8", seed=0)
    step("memory created (addresses drawn, counters untouched)")
    patterns = fastsdm.random_addresses(args.patterns, N_BITS, seed=1)
    mem.write(patterns[:8])
    step("first write (numba runtime and kernels loaded)")
    mem.write(patterns[8:])
    step(f"{args.patterns:,} writes")
    targets = patterns[: args.cues]
    cues = fastsdm.flip_bits(targets, N_BITS, args.flips, seed=2)
    out = mem.read(cues, iterations=args.iterations)
    step(f"{args.cues:,} iterated reads")
    exact = float((out == targets).all(axis=1).mean())

    arrays = mem.addresses.nbytes + mem.counters.nbytes
    peak = status_bytes("VmHWM")["VmHWM"]
    print(f"fastsdm {fastsdm.__version__}, numba {numba.__version__}, numpy {np.__version__}, "
          f"Python {sys.version.split()[0]}")
    print(f"canonical memory: n = {N_BITS}, N = {N_LOCATIONS:,}, radius {RADIUS}, int8; "
          f"addresses + counters = {arrays:,} bytes")
    for label, rss in steps:
        print(f"  {label:<52} resident {rss / 1e9:6.3f} GB")
    print(f"peak resident set (VmHWM): {peak:,} bytes = {peak / 1e9:.4f} GB "
          f"({peak / 2**30:.3f} GiB); the memory's arrays: {arrays / peak:.1%} of it")
    print(f"exact recall from {args.flips} flipped bits: {exact:.3f}")
    if args.limit is not None and peak > args.limit:
        print(f"peak {peak:,} bytes is above the limit {args.limit:,.0f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
