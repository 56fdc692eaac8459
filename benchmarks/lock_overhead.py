"""What the per-memory lock costs on the smallest calls, in paired timings.

Two measurements, both alternating the two variants so that each pair sees
the same state of a shared machine:

1. *In one process*: every locked public method against the same method
   without its lock (``type(mem).write.__wrapped__``), on the same memory.
   This is exactly the lock's cost.
2. *Before/after* (``--baseline DIR``, e.g. a ``git archive main`` unpacked in
   DIR): the same small calls timed by this script in child processes that
   import fastsdm from DIR and from this tree, alternately.  This includes
   every other change of the tree too.

Run from the repository root::

    python benchmarks/lock_overhead.py
    git archive main | tar -x -C /tmp/fastsdm-main
    python benchmarks/lock_overhead.py --baseline /tmp/fastsdm-main

Prints one row per call: median time per call, and the median and the
interquartile range of the per-pair ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402

CALLS_PER_BLOCK = 200
PAIRS = 31


def _cases():
    """``(name, locked call, unlocked call)`` on small memories (tens of microseconds)."""
    import fastsdm
    from fastsdm.continuous import ContinuousSDM

    sdm = fastsdm.SDM(256, 2000, radius=100, counter_dtype="int32", ties="zero", seed=0)
    one = fastsdm.random_addresses(1, 256, seed=1)
    eight = fastsdm.random_addresses(8, 256, seed=2)
    cont = ContinuousSDM(64, 2000, radius=24, seed=0)
    key = np.random.default_rng(0).standard_normal((1, 64))
    # The methods without their lock wrapper, looked up once.
    write, read, activate = (getattr(type(sdm), name) for name in ("write", "read", "activate"))
    write, read, activate = (getattr(f, "__wrapped__", f) for f in (write, read, activate))
    cwrite, cread = (getattr(ContinuousSDM, name) for name in ("write", "read"))
    cwrite, cread = (getattr(f, "__wrapped__", f) for f in (cwrite, cread))
    return [
        ("SDM.write, 1 query", lambda: sdm.write(one), lambda: write(sdm, one)),
        ("SDM.write, 8 queries", lambda: sdm.write(eight), lambda: write(sdm, eight)),
        ("SDM.read, 1 query", lambda: sdm.read(one), lambda: read(sdm, one)),
        ("SDM.read, 8 queries", lambda: sdm.read(eight), lambda: read(sdm, eight)),
        ("SDM.activate, 1 query", lambda: sdm.activate(one), lambda: activate(sdm, one)),
        ("ContinuousSDM.write, 1 key", lambda: cont.write(key), lambda: cwrite(cont, key)),
        ("ContinuousSDM.read, 1 query", lambda: cont.read(key), lambda: cread(cont, key)),
    ]


def _block(fn) -> float:
    t0 = time.perf_counter()
    for _ in range(CALLS_PER_BLOCK):
        fn()
    return (time.perf_counter() - t0) / CALLS_PER_BLOCK


def _row(name, base, new):
    ratios = np.array(new) / np.array(base)
    q1, med, q3 = np.percentile(ratios, [25, 50, 75])
    return (f"{name:30s} {np.median(base) * 1e6:8.2f} µs {np.median(new) * 1e6:8.2f} µs   "
            f"ratio {med:.3f} (IQR {q1:.3f}-{q3:.3f})")


def in_process() -> None:
    print(f"{'call':30s} {'unlocked':>11s} {'locked':>11s}   locked / unlocked per pair "
          f"({PAIRS} pairs of {CALLS_PER_BLOCK} calls)")
    for name, locked, unlocked in _cases():
        locked(), unlocked()
        base, new = [], []
        for i in range(PAIRS):
            order = (unlocked, locked) if i % 2 else (locked, unlocked)
            times = {fn: _block(fn) for fn in order}
            base.append(times[unlocked])
            new.append(times[locked])
        print(_row(name, base, new))


def child() -> None:
    """One block per call kind, timed with whatever fastsdm is importable (JSON out)."""
    out = {}
    for name, locked, _ in _cases():
        locked()
        out[name] = min(_block(locked) for _ in range(3))
    print(json.dumps(out))


def before_after(baseline: str) -> None:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.abspath(__file__)
    runs = {"before": [], "after": []}
    for i in range(PAIRS // 3):
        for label in (("before", "after") if i % 2 else ("after", "before")):
            env = {**os.environ, "PYTHONPATH": baseline if label == "before" else here}
            got = subprocess.run([sys.executable, script, "--child"], env=env, check=True,
                                 capture_output=True, text=True,
                                 cwd=baseline if label == "before" else here)
            runs[label].append(json.loads(got.stdout))
    print(f"{'call':30s} {'before':>11s} {'after':>11s}   after / before per pair "
          f"({len(runs['after'])} pairs of processes)")
    for name in runs["after"][0]:
        print(_row(name, [r[name] for r in runs["before"]], [r[name] for r in runs["after"]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", help="a fastsdm source tree to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # fastsdm comes from PYTHONPATH (the tree being measured)
        child()
        return
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), "unknown") if os.path.exists(
        "/proc/cpuinfo") else "unknown"
    print(f"CPU: {model}, {os.cpu_count()} logical cores")
    in_process()
    if args.baseline:
        print()
        before_after(args.baseline)


if __name__ == "__main__":
    main()
