"""Overhead of fastsdm.distributed.ShardedSDM against a single-process SDM.

    python tools/distributed_overhead.py                 # N = 10^5, n = 1000
    python tools/distributed_overhead.py --n-locations 1000000 --repeat 3
    python tools/distributed_overhead.py --no-processes  # in-process clusters only

For each batch size (1, 100, 1,000, 10,000 queries by default) it times a read
and a write of the same batch on

* ``SDM``: the single-process memory (the reference);
* ``inproc/S``: ``ShardedSDM`` with S shards on ``LocalCluster(processes=False)``
  (one worker: its actor thread runs the shards one after the other, each
  using numba's threads);
* ``tcp/S``: S shards on S worker processes on 127.0.0.1
  (``LocalCluster(processes=True)``), each worker given
  ``NUMBA_NUM_THREADS = cores // S`` so that the workers do not oversubscribe
  the cores.

Every sharded memory's counter sums are checked against the single-process
memory's before anything is timed.  Prints a Markdown table of the best (and
median) times over the repeats, the memories interleaved within each repeat,
and the overhead ``best sharded / best single - 1``; then the same ratio for
the CPU seconds spent by the client and the workers, which a busy machine
disturbs less than wall time.  Needs ``dask[distributed]``.
"""

import os

# An application may choose the OpenMP wait policy (the library never does):
# numba's OpenMP pool spin-waits between parallel regions otherwise, which
# costs milliseconds per call on a small machine and starves Dask's threads.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fastsdm
from fastsdm.distributed import ShardedSDM


def _cpu_seconds():
    """CPU time of this process and its children (the worker processes)."""
    import psutil  # a dependency of distributed

    total = time.process_time()
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            total += times.user + times.system
    return total


def _timers(mem, batches, queries):
    """One timed call per (op, batch): a read, and a write undone by the next one."""
    sign = {b: 1 for b in batches}

    def write(b):
        # Weight +1, then -1 on the next call: the counters stay near zero.
        mem.write(queries[:b], weight=sign[b])
        sign[b] = -sign[b]

    timers = {}
    for b in batches:
        timers[("read", b)] = lambda b=b: mem.read(queries[:b])
        timers[("write", b)] = lambda b=b: write(b)
    return timers


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-locations", type=int, default=100_000)
    parser.add_argument("--n-bits", type=int, default=1000)
    parser.add_argument("--radius", type=int, default=451,
                        help="activation radius (451: p ~ 0.001 at n = 1000)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 100, 1000, 10_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-processes", action="store_true",
                        help="skip the multi-process (TCP on 127.0.0.1) clusters")
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    cores = os.cpu_count() or 1
    params = dict(n_bits=args.n_bits, n_locations=args.n_locations, radius=args.radius,
                  counter_dtype="int16", ties="random", seed=0)
    stored = fastsdm.random_addresses(2000, args.n_bits, seed=1)
    queries = fastsdm.flip_bits(fastsdm.random_addresses(max(args.batches), args.n_bits, seed=2),
                                args.n_bits, 50, seed=3)

    print(f"# ShardedSDM overhead: N = {args.n_locations:,}, n = {args.n_bits}, "
          f"radius {args.radius}, int16 counters, {cores} cores, median of {args.repeat}")
    t0 = time.perf_counter()
    fastsdm.warmup(("int16",))
    print(f"(numba warm-up {time.perf_counter() - t0:.1f} s)\n")

    single = fastsdm.SDM(**params)
    single.write(stored)
    memories = {"SDM": single}
    configs = [("inproc/1", False, 1), ("inproc/2", False, 2)]
    if not args.no_processes:
        configs += [("tcp/1", True, 1), ("tcp/2", True, 2)]
    with contextlib.ExitStack() as stack:
        for name, processes, n_shards in configs:
            kwargs = dict(processes=processes, n_workers=n_shards if processes else 1,
                          threads_per_worker=1, dashboard_address="127.0.0.1:0", memory_limit=0)
            if processes:
                kwargs.update(host="127.0.0.1",
                              env={"NUMBA_NUM_THREADS": str(max(1, cores // n_shards)),
                                   "OMP_WAIT_POLICY": "passive"})
            t0 = time.perf_counter()
            cluster = stack.enter_context(LocalCluster(**kwargs))
            client = stack.enter_context(Client(cluster, set_as_default=False,
                                                direct_to_workers=True))
            mem = stack.enter_context(ShardedSDM(**params, n_shards=n_shards, client=client))
            mem.write(stored)
            # Exact check before timing: the counter sums agree (reads with
            # random ties agree too, but only while the tie streams are in step).
            for b in args.batches:
                assert (mem.read_sums(queries[:b]) == single.read_sums(queries[:b])).all()
            memories[name] = mem
            print(f"({name}: cluster, shards and check in {time.perf_counter() - t0:.1f} s)")

        # Interleave the memories within each repeat, so that a change in the
        # machine's load hits them all alike.
        timers = {name: _timers(mem, args.batches, queries) for name, mem in memories.items()}
        samples = {name: {key: [] for key in t} for name, t in timers.items()}
        cpu = {name: {key: [] for key in t} for name, t in timers.items()}
        for _ in range(args.repeat + 1):  # the first round warms up
            for key in timers["SDM"]:
                for name in timers:
                    c0 = _cpu_seconds()
                    t0 = time.perf_counter()
                    timers[name][key]()
                    samples[name][key].append(time.perf_counter() - t0)
                    cpu[name][key].append(_cpu_seconds() - c0)
        # Best of the repeats: on a shared machine the fastest run is the one
        # least disturbed by other load (timeit's advice); medians are shown
        # for the spread.
        best = {name: {key: min(v[1:]) for key, v in s.items()} for name, s in samples.items()}
        median = {name: {key: statistics.median(v[1:]) for key, v in s.items()}
                  for name, s in samples.items()}
        best_cpu = {name: {key: min(v[1:]) for key, v in s.items()} for name, s in cpu.items()}

    print()
    names = list(best)
    header = ("| op | batch | " + " | ".join(f"{n} best (median) ms" for n in names) + " | "
              + " | ".join(f"{n} overhead" for n in names[1:]) + " |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for op in ("read", "write"):
        for b in args.batches:
            key = (op, b)
            times = " | ".join(f"{best[n][key] * 1e3:.1f} ({median[n][key] * 1e3:.0f})"
                               for n in names)
            over = " | ".join(f"{best[n][key] / best['SDM'][key] - 1:+.1%}" for n in names[1:])
            print(f"| {op} | {b:,} | {times} | {over} |")
    print("\nCPU seconds (client and workers, all threads), best sharded / best single - 1:\n")
    header = "| op | batch | " + " | ".join(names[1:]) + " |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for op in ("read", "write"):
        for b in args.batches:
            key = (op, b)
            over = " | ".join(f"{best_cpu[n][key] / best_cpu['SDM'][key] - 1:+.1%}"
                              for n in names[1:])
            print(f"| {op} | {b:,} | {over} |")
    big = args.batches[-1]
    rate = big / best["SDM"][("read", big)]
    cpu0 = time.process_time()
    single.read(queries[:big])
    cpu_rate = big * args.n_locations / (time.process_time() - cpu0)
    print(f"\nsingle-process read rate at N = {args.n_locations:,}, n = {args.n_bits}: "
          f"{rate:,.0f} queries/s on {cores} cores (wall), {cpu_rate:.3g} query-locations "
          "per CPU-second")


if __name__ == "__main__":
    main()
