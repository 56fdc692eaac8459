"""CPU seconds that numba compilation costs a user, cold and warm (issue 14).

    python benchmarks/compile_budget.py              # first session + warmup()
    python benchmarks/compile_budget.py --kernels    # also: compile time per kernel
    python benchmarks/compile_budget.py --repeats 3  # medians of 3 fresh runs

Each measurement is a fresh Python process (whole-process CPU time:
``getrusage``, so interpreter start, imports and compilation are all in).
*Cold* points ``NUMBA_CACHE_DIR`` at a new empty directory, as after a fresh
install; *warm* runs the same again on the cache the cold run filled.

* ``first_session.py``: SDM of 10,000 locations (n = 256), 100 writes, a
  read, an iterated read, a radius search.  Budget: <= 8 s cold, <= 2 s warm.
* ``fastsdm.warmup()``: every binary kernel of a typical session, serial and
  parallel, int8/int16/int32 counters.  Budget: <= 40 s cold.

``--kernels`` repeats the cold runs under numba's event API
(``numba.core.event``, the ``numba:compile`` event) and prints the CPU
seconds of each compiled function, nested compilations subtracted.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

_WARMUP = """
import resource, time
t0 = time.perf_counter()
import fastsdm
fastsdm.warmup()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(f"cpu {ru.ru_utime + ru.ru_stime:.2f}s wall {time.perf_counter() - t0:.2f}s")
"""

_EVENTS = """
import runpy, sys, time
from collections import defaultdict
from numba.core import event

stack, exclusive, calls = [], defaultdict(float), defaultdict(int)


class Listener(event.Listener):
    def on_start(self, ev):
        f = ev.data["dispatcher"].py_func
        stack.append([f"{f.__module__}.{f.__qualname__}", time.process_time(), 0.0])

    def on_end(self, ev):
        name, t0, nested = stack.pop()
        spent = time.process_time() - t0
        exclusive[name] += spent - nested
        calls[name] += 1
        if stack:
            stack[-1][2] += spent


event.register("numba:compile", Listener())
exec(compile(sys.argv[1], "<session>", "exec"))
for name, seconds in sorted(exclusive.items(), key=lambda kv: -kv[1]):
    if seconds >= 0.05:
        print(f"KERNEL {seconds:.2f} {calls[name]} {name}")
print(f"KERNEL_TOTAL {sum(exclusive.values()):.2f}")
"""


def _env(cache_dir):
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(cache_dir)
    env["FASTSDM_QUIET_COMPILE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("FASTSDM_NUMBA_CACHE", None)
    return env


def _run(args, cache_dir):
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=_env(cache_dir), cwd=REPO, check=False)
    if proc.returncode:
        raise RuntimeError(f"{args} failed:\n{proc.stderr}")
    return proc.stdout


def _cpu(output):
    match = re.search(r"cpu ([0-9.]+)s wall ([0-9.]+)s", output)
    return float(match.group(1)), float(match.group(2))


def measure(name, args, repeats):
    """(cold cpu, cold wall), (warm cpu, warm wall): medians over fresh caches."""
    cold, warm = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="fastsdm-budget-") as cache:
            cold.append(_cpu(_run(args, cache)))
            warm.append(_cpu(_run(args, cache)))
    cold, warm = np.median(cold, axis=0), np.median(warm, axis=0)
    print(f"{name:<28} cold {cold[0]:6.2f} s CPU ({cold[1]:6.2f} s wall)   "
          f"warm {warm[0]:5.2f} s CPU ({warm[1]:5.2f} s wall)", flush=True)
    return {"cold_cpu": cold[0], "cold_wall": cold[1], "warm_cpu": warm[0], "warm_wall": warm[1]}


def kernels(name, code):
    with tempfile.TemporaryDirectory(prefix="fastsdm-budget-") as cache:
        out = _run(["-c", _EVENTS, code], cache)
    print(f"\n{name}: CPU seconds per compiled function (exclusive; >= 0.05 s)")
    for line in out.splitlines():
        if line.startswith("KERNEL "):
            _, seconds, count, fn = line.split(maxsplit=3)
            print(f"  {float(seconds):6.2f} s  x{count:>2}  {fn}")
        elif line.startswith("KERNEL_TOTAL"):
            print(f"  {float(line.split()[1]):6.2f} s  total")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="fresh cold/warm pairs")
    parser.add_argument("--kernels", action="store_true", help="compile time per kernel")
    parser.add_argument("--skip-warmup", action="store_true", help="first session only")
    args = parser.parse_args(argv)
    with open("/proc/loadavg") if Path("/proc/loadavg").exists() else open(os.devnull) as f:
        load = f.read().split()[:3]
    print(f"# {sys.executable}; load average {' '.join(load) or 'unknown'}")
    measure("first session", [str(HERE / "first_session.py")], args.repeats)
    if not args.skip_warmup:
        measure("fastsdm.warmup()", ["-c", _WARMUP], args.repeats)
    print("budgets: first session <= 8 s cold, <= 2 s warm; warmup() <= 40 s cold")
    if args.kernels:
        kernels("first session", (HERE / "first_session.py").read_text())
        if not args.skip_warmup:
            kernels("fastsdm.warmup()", "import fastsdm; fastsdm.warmup()")


if __name__ == "__main__":
    main()
