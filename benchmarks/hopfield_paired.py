"""The Hopfield rows of ``compare.py --only-hopfield``, this tree against an earlier commit.

    python -m benchmarks.hopfield_paired --baseline main       # from the repository root

Imports the fastsdm of ``--baseline`` beside this tree's (``baseline.py``),
asserts that both give the same results on every workload (bits, weights, or
floats exactly), then times the same call of both alternately: each sample is
a loop of calls lasting about a millisecond (one call of one vector is tens of
microseconds), the order within a pair alternating.  Prints one Markdown row
per workload: per-call medians and the paired ratio old / new (median and
interquartile range; above 1, this tree is faster).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SIZES = (256, 1024)
BATCHES = (1, 256)
BETA = 0.1
ITERATIONS = 10


def _loops(call, target=1e-3):
    """Calls per sample so that a sample lasts about ``target`` seconds."""
    call()
    t0 = time.perf_counter()
    call()
    one = max(time.perf_counter() - t0, 1e-7)
    return max(1, int(target / one))


def paired(new, old, pairs):
    """Per-call times of ``new`` and ``old`` (alternating samples) and ratios old / new."""
    loops = _loops(new)
    _loops(old)
    t_new, t_old = [], []
    for i in range(pairs):
        order = (new, old) if i % 2 == 0 else (old, new)
        times = []
        for fn in order:
            t0 = time.perf_counter()
            for _ in range(loops):
                fn()
            times.append((time.perf_counter() - t0) / loops)
        a, b = times if i % 2 == 0 else times[::-1]
        t_new.append(a)
        t_old.append(b)
    return np.array(t_new), np.array(t_old)


def workloads(mod):
    """(label, n, m, batch, call) of the compare.py Hopfield rows, built with module ``mod``."""
    from fastsdm import flip_bits, random_addresses

    H, MH, retrieve = mod.hopfield.Hopfield, mod.hopfield.ModernHopfield, \
        mod.hopfield.modern_retrieve
    out = []
    for n in SIZES:
        m = n // 10
        patterns = random_addresses(m, n, seed=0)
        cues = flip_bits(patterns[np.arange(max(BATCHES)) % m], n, n // 8, seed=2)
        net = H(n, seed=0)
        net.write(patterns)
        out.append(("Hopfield write (Hebbian)", n, m, m,
                    lambda n=n, p=patterns: H(n).write(p)))
        for batch in BATCHES:
            q = cues[0] if batch == 1 else cues[:batch]
            for its in (1, ITERATIONS):
                out.append((f"Hopfield read, synchronous, {its} step(s) max", n, m, batch,
                            lambda net=net, q=q, its=its: net.read(q, update="synchronous",
                                                                   iterations=its)))
            for its in (1, ITERATIONS):
                out.append((f"Hopfield read, asynchronous, {its} sweep(s) max", n, m, batch,
                            lambda net=net, q=q, its=its: net.read(q, iterations=its)))
    for n, m in [(n, n // 10) for n in SIZES] + [(256, 10_000)]:
        patterns = random_addresses(m, n, seed=0)
        cues = flip_bits(patterns[np.arange(max(BATCHES)) % m], n, n // 8, seed=2)
        net = MH(n, beta=BETA)
        net.write(patterns)
        for batch in BATCHES:
            q = cues[0] if batch == 1 else cues[:batch]
            out.append(("ModernHopfield read, 1 update", n, m, batch,
                        lambda net=net, q=q: net.read(q)))
    for d in SIZES:
        m = d // 10
        rng = np.random.default_rng(3)
        X = rng.standard_normal((m, d))
        Q = X[np.arange(max(BATCHES)) % m] + rng.standard_normal((max(BATCHES), d))
        for batch in BATCHES:
            q = Q[0] if batch == 1 else Q[:batch]
            for its in (1, ITERATIONS):
                out.append((f"modern_retrieve, {its} update(s) max", d, m, batch,
                            lambda q=q, X=X, d=d, its=its: retrieve(q, X, 1 / np.sqrt(d),
                                                                    iterations=its)))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="main", metavar="REV")
    parser.add_argument("--pairs", type=int, default=21)
    parser.add_argument("--only", default="", help="only workloads whose label contains this")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    import baseline

    import fastsdm
    import fastsdm.hopfield

    old = baseline.load(args.baseline)
    import fastsdm_baseline.hopfield  # noqa: F401  (the submodule, for workloads())

    print(f"fastsdm {fastsdm.__file__} vs {args.baseline} ({old.BASELINE_COMMIT}); "
          f"load {' '.join(open('/proc/loadavg').read().split()[:3])}", file=sys.stderr)
    new_rows, old_rows = workloads(fastsdm), workloads(old)
    print("| workload | n | m | batch | before (per call) | after (per call) | "
          "before / after, paired: median (IQR) |")
    print("|---|---|---|---|---|---|---|")
    for (label, n, m, batch, new), (_, _, _, _, prev) in zip(new_rows, old_rows, strict=True):
        if args.only not in label:
            continue
        if "asynchronous" not in label:  # asynchronous reads draw from each network's rng
            a, b = new(), prev()
            assert (a is None and b is None) or np.array_equal(a, b), f"{label}: results differ"
        t_new, t_old = paired(new, prev, args.pairs)
        r = t_old / t_new
        q1, med, q3 = np.percentile(r, [25, 50, 75])
        print(f"| {label} | {n} | {m:,} | {batch} | {np.median(t_old) * 1e6:.1f} µs | "
              f"{np.median(t_new) * 1e6:.1f} µs | {med:.2f} ({q1:.2f}–{q3:.2f}) |", flush=True)
    print(f"load at the end {' '.join(open('/proc/loadavg').read().split()[:3])}; "
          f"{os.cpu_count()} CPUs", file=sys.stderr)


if __name__ == "__main__":
    main()
