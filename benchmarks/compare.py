"""fastsdm side by side with the alternatives and with this machine's floors.

    python benchmarks/compare.py                       # full run
    python benchmarks/compare.py --quick               # fewer repeats and sizes
    python benchmarks/compare.py --baseline 80e5eec    # search, cost-per-word, SDM and
                                                       # ContinuousSDM rows paired against
                                                       # an earlier commit of this checkout
    python benchmarks/compare.py --json out.json       # also the raw figures
    python benchmarks/compare.py --only-hyperplane     # SDM: Jaeckel's rule / radius
    python benchmarks/compare.py --only-weighted --baseline main   # issue 16's options
                                                       # and the default paired
    python benchmarks/compare.py --only-hopfield      # Hopfield networks / NumPy

Workloads (every result is checked against fastsdm before it is timed):

* Hamming scan, radius search and k-NN over N = 10^6 addresses of 1024 bits,
  batches of 1, 4 and 256 queries (radius search also 1,024): fastsdm,
  faiss-cpu (``faiss.hammings``, ``IndexBinaryFlat.range_search`` /
  ``search``), NumPy 2 (``np.bitwise_count(q ^ A).sum(-1)``, chunked) and
  ``bitarray.util.count_xor`` (a Python loop per pair: timed on N = 10^4 and
  scaled).
* Cost per word against N: radius search, 256 queries, N = 10^4 .. 10^7
  (10^8 with ``--large-n``: 12.8 GB of addresses).
* Kanerva's canonical SDM (n = 1000, N = 10^6, int8 counters, radius 451):
  fastsdm against a straightforward NumPy SDM (``naive_sdm.py``) and, when it
  imports, torchhd's ``SparseDistributed``: writes and reads in batches of 256
  and 1,024 and one per call, beside the radius search over the memory's own
  addresses (the scan each of them contains), and where their time goes.
* ContinuousSDM (dims 64, 256 and 1024, 10^4 to 10^6 locations, 1 to 1,024
  queries): fastsdm against the obvious NumPy code (``naive_continuous.py``)
  and NumPy's float32 GEMM alone, calls alternated after idle gaps.

The floors (``floors.py``, explicit 512-bit code where the CPU has AVX-512
VPOPCNTDQ): one pass over the address matrix from DRAM and the xor + popcount
rate in registers, each at every thread count a row uses (1, 2 and numba's).
Every row is reported as a fraction of its floor (at the row's own thread
count; for the search section's fastsdm rows also timed alternately with the
floor kernel doing the same work) and as a ratio to the best alternative,
with the vector width it ran with; with ``--baseline`` the fastsdm rows of
the search, cost-per-word, SDM and ContinuousSDM sections are also timed
alternately against the earlier commit (paired ratios: steadier than medians on a shared
machine).  The fastsdm timed is the one of the checkout this script belongs
to, and the machine block names its commit.

Prints Markdown (machine, floors, tables, notes); timings are medians over
repeats, with the spread (min-max) and the median process CPU time (a sanity
check when the machine is shared: CPU time is far less sensitive to other
load).  A full run takes about 10 minutes on 2 cores (15 with --baseline).
"""

import os

# compare.py is an application: it chooses the OpenMP wait policy before numba
# (or faiss) starts an OpenMP runtime.  The default policy spin-waits, and with
# 2 cores the spinning pool makes each later parallel launch cost ~10 ms
# (measured); fastsdm itself never changes process-wide settings.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import argparse
import datetime
import json
import math
import platform
import shlex
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# Search problem (Kanerva's 0.001 activation probability at n = 1024).
N_LOCATIONS = 1_000_000
N_BITS = 1024
BATCH = 256
BIG_BATCH = 1024
FEW = 4
KNN_K = 10
SCALING_N = (10_000, 100_000, 1_000_000, 10_000_000)
# The SDM: Kanerva's canonical memory.
SDM_BITS = 1000
SDM_RADIUS = 451
#: SDM operations also run in batches of this size: per-call costs (the tile
#: transposition, the thread launch) spread over more operations.
SDM_BIG_BATCH = 1024


# -- timing --------------------------------------------------------------------


def check(ok, what):
    """Refuse to time anything whose result differs (``assert`` would vanish under -O)."""
    if not ok:
        raise RuntimeError(f"result check failed: {what}")



def measure(fn, repeats, warmup=1):
    """Run fn warmup + repeats times; return wall/CPU statistics in seconds."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"median": float(np.median(wall)), "min": min(wall), "max": max(wall),
            "cpu_median": float(np.median(cpu)), "runs": wall}


def paired_ratios(fast, slow, repeats):
    """Time ``fast`` and ``slow`` alternately; the ratios slow / fast of each pair.

    Both calls of a pair see the same state of a shared machine, so the ratio
    is steadier than a ratio of medians taken minutes apart.  The order
    within a pair alternates, so neither call always runs on a warmer cache.
    """
    fast()
    slow()
    ratios = []
    for i in range(repeats):
        first, second = (fast, slow) if i % 2 == 0 else (slow, fast)
        t0 = time.perf_counter()
        first()
        t1 = time.perf_counter()
        second()
        t2 = time.perf_counter()
        t_fast, t_slow = (t1 - t0, t2 - t1) if i % 2 == 0 else (t2 - t1, t1 - t0)
        ratios.append(t_slow / t_fast)
    return ratios


def ratio_stats(ratios):
    return {"median": float(np.median(ratios)), "min": float(min(ratios)),
            "max": float(max(ratios)), "pairs": len(ratios)}


def fmt_time(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def fmt_rate(per_second):
    if per_second >= 100:
        return f"{per_second:,.0f}"
    return f"{per_second:.3g}"


def fmt_ratio(stats):
    if not stats:
        return ""
    return f"{stats['median']:.3f} ({stats['min']:.2f}–{stats['max']:.2f})"


# -- machine -------------------------------------------------------------------


def cpu_info():
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    return model, flags


def machine_info():
    import numba
    from llvmlite import binding

    import fastsdm
    from fastsdm import _jit

    model, flags = cpu_info()
    features = _jit.target_features()
    info = {
        "cpu": model,
        "llvm_cpu_name": numba.config.CPU_NAME or binding.get_host_cpu_name(),
        "avx512f": "avx512f" in flags,
        "avx512_vpopcntdq": "avx512_vpopcntdq" in flags,
        "llvm prefer-256-bit": "+prefer-256-bit" in features.split(","),
        "fastsdm vector code": _jit.SIMD,
        "logical_cpus": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "fastsdm": f"{fastsdm.__version__} ({Path(fastsdm.__file__).parent})",
        "fastsdm commit": source_commit(Path(fastsdm.__file__).resolve().parents[1]),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        "platform": platform.platform(),
    }
    try:
        info["mem_total_gib"] = round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
                                      / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    for name in ("faiss", "bitarray", "torchhd"):
        try:
            module = __import__(name)
            info[name] = getattr(module, "__version__", "installed")
        except ImportError:
            info[name] = "not installed"
    faiss_level = faiss_simd_level()
    if faiss_level:
        import faiss

        info["faiss_omp_threads"] = faiss.omp_get_max_threads()
        info["faiss_simd_level"] = faiss_level
    info["numpy_simd"] = numpy_simd()
    try:
        with open("/proc/loadavg") as f:
            info["load average at start"] = " ".join(f.read().split()[:3])
    except OSError:
        pass
    return info


def source_commit(root: Path) -> str:
    """The git commit of the fastsdm being timed, and whether its code has changes."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--", "fastsdm", "benchmarks")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" + uncommitted changes in fastsdm/ or benchmarks/" if dirty else "")


def use_this_checkout():
    """Time the fastsdm of the checkout this script belongs to.

    ``python benchmarks/compare.py`` puts only ``benchmarks/`` on the path, so
    ``import fastsdm`` would find whatever is installed (an editable install
    of another working tree, say) while ``--baseline`` reads this checkout's
    git: the checkout's own package goes first.
    """
    root = HERE.parent
    if (root / "fastsdm" / "__init__.py").is_file() and str(root) not in sys.path[:1]:
        sys.path.insert(0, str(root))
    sys.path.insert(1, str(HERE))  # naive_*.py, floors.py, baseline.py, _common.py


def faiss_simd_level():
    try:
        import faiss
    except ImportError:
        return None
    config = getattr(faiss, "SIMDConfig", None)
    if config is not None and hasattr(config, "get_level_name"):
        return config.get_level_name()
    return faiss.get_compile_options().strip()


def numpy_simd():
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:
        return "unknown"
    usable = [t for t in __cpu_dispatch__ if __cpu_features__.get(t)]
    return f"dispatch up to {usable[-1]}" if usable else "baseline only"


# -- floors ---------------------------------------------------------------------------


def floor_problems(floors):
    """Why a set of floors cannot be the machine's limits (an empty list if none).

    More threads never stream or popcount slower on an idle machine; floors
    measured while other jobs ran can, and would then overstate every row's
    "% of floor".
    """
    problems = []
    counts = sorted(int(k.split("_")[1]) for k in floors if k.startswith("dram_"))
    for low, high in zip(counts, counts[1:], strict=False):
        for kind, unit in (("dram", "GB_per_s"), ("popcount", "Gpairs_per_s")):
            a, b = floors[f"{kind}_{low}"][unit], floors[f"{kind}_{high}"][unit]
            if b < 0.95 * a:
                problems.append(f"{kind} on {high} threads ({b:.1f}) below {low} ({a:.1f})")
    return problems


def best_floors(measure, attempts=3):
    """Floors measured until consistent (at most ``attempts`` times), the fastest of each.

    A floor is the fastest the machine was seen to go: each rate is the best
    of the attempts, and what is still inconsistent is returned beside them.
    """
    floors = measure()
    for _ in range(attempts - 1):
        if not floor_problems(floors):
            break
        again = measure()
        for key, value in again.items():
            unit = ("GB_per_s" if key.startswith("dram_") else "Gpairs_per_s"
                    if key.startswith("popcount_") else None)
            if unit and value[unit] > floors[key][unit]:
                floors[key] = value
    return floors, floor_problems(floors)


def row_floor(floors, n_queries, n_locations, n_words, threads, extra_bytes=0.0):
    """Lower bound on a scan: one DRAM pass (plus ``extra_bytes``) or every popcount.

    Uses the floors measured at ``threads`` threads (the nearest measured).
    """
    t = floor_threads(floors, threads)
    bandwidth = floors[f"dram_{t}"]["GB_per_s"] * 1e9
    rate = floors[f"popcount_{t}"]["Gpairs_per_s"] * 1e9
    t_dram = (n_locations * n_words * 8 + extra_bytes) / bandwidth
    t_pop = n_queries * n_locations * n_words / rate + extra_bytes / bandwidth
    kind = "DRAM" if t_dram >= t_pop else "popcount"
    return max(t_dram, t_pop), f"{kind}, {t} thread{'s' if t > 1 else ''}"


def floor_threads(floors, threads):
    """The measured thread count nearest to ``threads`` (not above it)."""
    measured = sorted(int(k.split("_")[1]) for k in floors if k.startswith("dram_"))
    return max(x for x in measured if x <= max(threads, measured[0]))


# -- widths ------------------------------------------------------------------------------


_WIDTHS = {}


def fastsdm_width(dispatcher):
    """The vector width of a fastsdm kernel's popcounts (compiles an uncached copy once)."""
    from floors import width

    key = id(dispatcher)
    if key not in _WIDTHS:
        try:
            _WIDTHS[key] = width(dispatcher)
        except Exception as exc:  # a report detail must not sink the run
            _WIDTHS[key] = f"unknown ({exc})"
    return _WIDTHS[key]


# -- parallel launch cost -------------------------------------------------------------

_LAUNCH_CHILD = """
import time
import numpy as np
import fastsdm
A = fastsdm.random_addresses(1000, 1024, seed=0)
q = A[:1]
out = {}
for parallel in (False, True):
    fastsdm.hamming_distances(q, A, parallel=parallel)  # compile / start the pool
    for gap in (0, 1):
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            fastsdm.hamming_distances(q, A, parallel=parallel)
            times.append(time.perf_counter() - t0)
            end = time.perf_counter() + gap * 1e-3  # the application's own work
            while time.perf_counter() < end:
                pass
        out[f"{'parallel' if parallel else 'serial'}_gap{gap}ms"] = float(np.median(times))
print(repr(out))
"""


def launch_costs():
    """Median time of a tiny scan (1 query x 1000 addresses), serial and forced parallel,
    in fresh processes with each OMP_WAIT_POLICY (it must be set before the runtime starts)."""
    import ast
    import subprocess

    import fastsdm

    results = {}
    for policy in ("default (unset)", "active", "passive"):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(fastsdm.__file__).parents[1]), *filter(None, [env.get("PYTHONPATH")])])
        env["FASTSDM_QUIET_COMPILE"] = "1"
        env.pop("OMP_WAIT_POLICY", None)
        if policy != "default (unset)":
            env["OMP_WAIT_POLICY"] = policy
        proc = subprocess.run([sys.executable, "-c", _LAUNCH_CHILD], env=env, check=True,
                              capture_output=True, text=True)
        results[policy] = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    return results


# -- alternatives: search ------------------------------------------------------------


def numpy_distances(Q, A, chunk=16_384):
    """np.bitwise_count(q ^ A).sum(-1), chunked over locations (bounded temporaries)."""
    out = np.empty((Q.shape[0], A.shape[0]), dtype=np.int32)
    for i, q in enumerate(Q):
        for start in range(0, A.shape[0], chunk):
            block = A[start : start + chunk]
            out[i, start : start + block.shape[0]] = np.bitwise_count(block ^ q).sum(-1)
    return out


def numpy_radius(Q, A, radius):
    d = numpy_distances(Q, A)
    return [np.flatnonzero(row <= radius) for row in d]


def numpy_knn(Q, A, k):
    """k nearest, ties by lower index (fastsdm's rule)."""
    d = numpy_distances(Q, A)
    out_i = np.empty((Q.shape[0], k), dtype=np.int64)
    out_d = np.empty((Q.shape[0], k), dtype=np.int32)
    for i, row in enumerate(d):
        kth = np.partition(row, k - 1)[k - 1]
        cand = np.flatnonzero(row <= kth)
        order = np.lexsort((cand, row[cand]))[:k]
        out_i[i], out_d[i] = cand[order], row[cand[order]]
    return out_i, out_d


def bitarray_distances(q_bits, A_bits):
    from bitarray.util import count_xor

    return np.array([count_xor(q_bits, a) for a in A_bits], dtype=np.int32)


class Faiss:
    def __init__(self, A):
        import faiss

        self.faiss = faiss
        self.codes = np.ascontiguousarray(A).view(np.uint8)  # same bytes as the words
        self.nbytes = self.codes.shape[1]
        self.index = faiss.IndexBinaryFlat(8 * self.nbytes)
        self.index.add(self.codes)

    def distances(self, Q):
        q = np.ascontiguousarray(Q).view(np.uint8)
        out = np.empty((q.shape[0], self.codes.shape[0]), dtype=np.int32)
        sp = self.faiss.swig_ptr
        self.faiss.hammings(sp(q), sp(self.codes), q.shape[0], self.codes.shape[0],
                            self.nbytes, sp(out))
        return out

    def radius(self, Q, radius):
        # faiss's range search is strict (d < r): r + 1 is fastsdm's inclusive r.
        return self.index.range_search(np.ascontiguousarray(Q).view(np.uint8), radius + 1)

    def knn(self, Q, k):
        return self.index.search(np.ascontiguousarray(Q).view(np.uint8), k)


# -- checks --------------------------------------------------------------------------


def check_radius_faiss(indptr, indices, lims, D, I, dist):
    for i in range(indptr.size - 1):
        ours = indices[indptr[i] : indptr[i + 1]]
        seg = slice(lims[i], lims[i + 1])
        order = np.argsort(I[seg], kind="stable")
        theirs = I[seg][order]
        check(np.array_equal(ours, theirs), f"faiss range_search differs for query {i}")
        if dist is not None:
            check(np.array_equal(D[seg][order].astype(np.int64), dist[i, ours]),
                  f"faiss range_search distances differ for query {i}")


def check_knn_faiss(idx, dist, D, I, full):
    """Distances identical; indices identical up to the order of equal distances.

    Below the k-th distance the *sets* of indices at each distance must agree;
    at the k-th distance faiss may keep other (equally near) locations than
    fastsdm's lower-index rule: those must be at that distance.  Returns the
    number of queries whose index lists differ in any way.
    """
    check(np.array_equal(D.astype(np.int64), dist.astype(np.int64)), "faiss knn distances")
    differ = 0
    for i in range(idx.shape[0]):
        if not np.array_equal(idx[i], I[i]):
            differ += 1
        kth = dist[i, -1]
        below = dist[i] < kth
        check(set(idx[i][below]) == set(I[i][D[i] < kth]), f"faiss knn set, query {i}")
        check(np.all(full[i, I[i]] == D[i]), f"faiss knn index/distance mismatch, query {i}")
        check(len(set(I[i].tolist())) == I.shape[1], f"faiss knn duplicate, query {i}")
    return differ


# -- rows ------------------------------------------------------------------------------


class Recorder:
    """Collects rows; pairs each fastsdm row with the baseline commit when given."""

    def __init__(self, args, floors, base):
        self.args = args
        self.floors = floors
        self.base = base
        self.rows = []

    def paired(self, call, reps):
        """call(module) timed alternately for fastsdm and the baseline: old / new."""
        if self.base is None:
            return None
        import fastsdm

        return ratio_stats(paired_ratios(partial(call, fastsdm), partial(call, self.base), reps))

    def floor_paired(self, call, n_queries, A, threads, reps):
        """``call``'s fraction of its floor, each call timed beside the floor's own work.

        The floor kernel (``floors.floor_work``: the pass over ``A`` or the
        row's word pairs in registers, whichever bounds the row) and ``call``
        run alternately, so both see the machine at the same speed: a shared
        VM's two-thread speed drifts by up to 2x within minutes, which makes a
        row timed minutes after the floors look further from them than it is.
        """
        from floors import floor_work

        N, W = A.shape
        _, kind = row_floor(self.floors, n_queries, N, W, threads)
        work, _ = floor_work(kind.split(",")[0], A, floor_threads(self.floors, threads),
                             pairs=n_queries * N * W)
        return ratio_stats(paired_ratios(call, work, reps))


def fastsdm_threads(work, parallel):
    import numba

    from fastsdm import _jit

    return numba.get_num_threads() if _jit.use_parallel(work, parallel) else 1


# -- search section ---------------------------------------------------------------


def search_section(args, A, Q, rec, notes):
    import fastsdm
    from fastsdm.theory import radius_for_probability

    from_faiss = None
    try:
        from_faiss = Faiss(A)
    except ImportError:
        notes.append("faiss-cpu is not installed: its rows are skipped.")
    W = A.shape[1]
    radius = radius_for_probability(N_BITS, 0.001)
    n_np = args.numpy_queries
    ba_n = 10_000
    A_bits_small = fastsdm.to_bitarray(A[:ba_n], N_BITS)
    N = A.shape[0]
    notes.append(f"Search: N = {N:,} addresses of {N_BITS} bits ({A.nbytes / 2**20:.0f} MiB), "
                 f"radius {radius} (activation probability 0.001), k = {KNN_K}.")
    notes.append(f"NumPy rows for batches larger than {n_np} are timed on the first {n_np} "
                 "queries and scaled (marked †); NumPy runs on one thread.")
    notes.append(f"bitarray.util.count_xor is a Python loop per (query, address) pair: timed on "
                 f"N = {ba_n:,} and scaled ×{N // ba_n} (marked ‡).")
    faiss_threads = from_faiss.faiss.omp_get_max_threads() if from_faiss else 1
    if from_faiss:
        notes.append(f"faiss's range_search and search run on its {faiss_threads} OpenMP "
                     "threads; faiss.hammings has no parallel loop and runs on one (its rows "
                     "say so, and are judged against the one-thread floor).")
    faiss_width = f"faiss {faiss_simd_level()}" if from_faiss else ""
    np_width = f"NumPy ({numpy_simd()})"

    def add(workload, nq, impl, t, threads, width, scale=1.0, mark="", paired=None):
        floor, kind = row_floor(rec.floors, nq, N, W, threads)
        med = t["median"] * scale
        rec.rows.append({"section": "search", "workload": workload, "queries": nq,
                         "impl": impl + mark, "median": med, "min": t["min"] * scale,
                         "max": t["max"] * scale, "cpu": t["cpu_median"] * scale,
                         "per_s": nq / med, "threads": threads, "width": width,
                         "floor": floor, "floor_kind": kind, "extrapolated": scale != 1.0,
                         "baseline": paired})

    batches = [1, FEW, BATCH] + ([] if args.quick else [BIG_BATCH])
    Qbig = fastsdm.random_addresses(BIG_BATCH, N_BITS, seed=11) if BIG_BATCH in batches else None
    for nq in batches:
        Qb = Q[:nq] if nq <= Q.shape[0] else Qbig
        reps = args.repeats if nq <= FEW else max(3, args.repeats // 2)
        search_batch(args, Qb, A, radius, reps, n_np, A_bits_small, from_faiss, add, rec,
                     notes, faiss_threads, faiss_width, np_width, radius_only=nq == BIG_BATCH)


def search_batch(args, Qb, A, radius, reps, n_np, A_bits_small, from_faiss, add, rec, notes,
                 faiss_threads, faiss_width, np_width, radius_only=False):
    """One batch size: check every implementation against fastsdm, then time it."""
    import fastsdm
    from fastsdm import search
    from fastsdm._kernels import hamming as h

    nq, N, W = Qb.shape[0], A.shape[0], A.shape[1]
    ba_n = len(A_bits_small)
    sub = Qb[: min(nq, n_np)]
    scale_np = nq / sub.shape[0]
    mark_np = "†" if scale_np != 1 else ""
    tiled = nq >= search.TILED_MIN_QUERIES
    work = nq * N * W
    threads_default = fastsdm_threads(work, None)

    def width(mode):
        return fastsdm_width(h.scan_tiled(mode) if tiled else h.scan_rows())

    def fastsdm_rows(workload, call, mode):
        add(workload, nq, "fastsdm", measure(partial(call, fastsdm, None), reps),
            threads_default, "", paired=rec.paired(lambda m: call(m, None), reps))
        rec.rows[-1]["floor_paired"] = rec.floor_paired(partial(call, fastsdm, None), nq, A,
                                                        threads_default, reps)
        add(workload, nq, "fastsdm, serial", measure(partial(call, fastsdm, False), reps), 1,
            "", paired=rec.paired(lambda m: call(m, False), reps))
        w = width(mode)
        rec.rows[-1]["width"] = rec.rows[-2]["width"] = w

    ref = None
    if not radius_only:
        # -- full distances
        ref = fastsdm.hamming_distances(Qb, A)
        check(np.array_equal(numpy_distances(sub, A), ref[: sub.shape[0]]), "numpy distances")
        if from_faiss:
            check(np.array_equal(from_faiss.distances(Qb), ref), "faiss distances")
        q_bits = fastsdm.to_bitarray(Qb[0], N_BITS)
        check(np.array_equal(bitarray_distances(q_bits, A_bits_small), ref[0, :ba_n]),
              "bitarray distances")
        fastsdm_rows("scan (all distances)",
                     lambda m, p: m.hamming_distances(Qb, A, parallel=p), h.MODE_DISTANCES)
        if from_faiss:
            # faiss.hammings has no OpenMP loop (CPU time = wall time on 2
            # threads): it runs, and is judged against the floor, on one.
            add("scan (all distances)", nq, "faiss.hammings",
                measure(lambda: from_faiss.distances(Qb), reps), 1, faiss_width)
        add("scan (all distances)", nq, "NumPy bitwise_count",
            measure(lambda: numpy_distances(sub, A), reps), 1, np_width, scale_np, mark_np)
        if nq == 1:
            add("scan (all distances)", nq, "bitarray count_xor",
                measure(lambda: bitarray_distances(q_bits, A_bits_small), reps, warmup=0), 1,
                "scalar (bitarray C code)", N / ba_n, "‡")

    # -- radius search
    indptr, indices = fastsdm.radius_search(Qb, A, radius)
    if not radius_only:
        for i, found in enumerate(numpy_radius(sub, A, radius)):
            check(np.array_equal(found, indices[indptr[i] : indptr[i + 1]]), "numpy radius")
    if from_faiss:
        check_radius_faiss(indptr, indices, *from_faiss.radius(Qb, radius), ref)
    fastsdm_rows("radius search", lambda m, p: m.radius_search(Qb, A, radius, parallel=p),
                 h.MODE_RADIUS)
    if from_faiss:
        add("radius search", nq, "faiss range_search",
            measure(lambda: from_faiss.radius(Qb, radius), reps), faiss_threads, faiss_width)
        ratios = paired_ratios(lambda: fastsdm.radius_search(Qb, A, radius),
                               lambda: from_faiss.radius(Qb, radius), reps)
        notes.append(f"Radius search, {nq} quer{'y' if nq == 1 else 'ies'}, fastsdm and faiss "
                     f"range_search timed in alternation ({len(ratios)} pairs): faiss / fastsdm "
                     f"= {np.median(ratios):.2f}× (median; {min(ratios):.2f}–"
                     f"{max(ratios):.2f}×).")
    if radius_only:
        return
    add("radius search", nq, "NumPy bitwise_count",
        measure(lambda: numpy_radius(sub, A, radius), reps), 1, np_width, scale_np, mark_np)

    # -- k nearest
    idx, dist = fastsdm.knn_search(Qb, A, KNN_K)
    np_i, np_d = numpy_knn(sub, A, KNN_K)
    check(np.array_equal(np_i, idx[: sub.shape[0]]), "numpy knn indices")
    check(np.array_equal(np_d, dist[: sub.shape[0]]), "numpy knn distances")
    if from_faiss:
        D, I = from_faiss.knn(Qb, KNN_K)
        differ = check_knn_faiss(idx, dist, D, I, ref)
        notes.append(f"k-NN, {nq} quer{'y' if nq == 1 else 'ies'}: faiss returned identical "
                     f"distances; {differ} of {nq} index lists differ from fastsdm's, and only "
                     "in the order of equally distant locations or in which of them fill the "
                     "last places (fastsdm: lower index first; checked).")
    fastsdm_rows(f"k-NN (k={KNN_K})", lambda m, p: m.knn_search(Qb, A, KNN_K, parallel=p),
                 h.MODE_KNN)
    if from_faiss:
        add(f"k-NN (k={KNN_K})", nq, "faiss IndexBinaryFlat.search",
            measure(lambda: from_faiss.knn(Qb, KNN_K), reps), faiss_threads, faiss_width)
    add(f"k-NN (k={KNN_K})", nq, "NumPy bitwise_count",
        measure(lambda: numpy_knn(sub, A, KNN_K), reps), 1, np_width, scale_np, mark_np)


# -- cost per word against N ----------------------------------------------------------------


def scaling_section(args, rec, notes):
    """Radius search, BATCH queries, n = 1024: nanoseconds per word as N grows."""
    import fastsdm
    from fastsdm.theory import radius_for_probability

    sizes = [n for n in SCALING_N if not (args.quick and n > 1_000_000)]
    if args.large_n:
        sizes.append(100_000_000)
    radius = radius_for_probability(N_BITS, 0.001)
    Q = fastsdm.random_addresses(BATCH, N_BITS, seed=1)
    for N in sizes:
        A = fastsdm.random_addresses(N, N_BITS, seed=0)
        words = BATCH * N * A.shape[1]
        reps = max(3, min(args.repeats, int(4e10 / words)))

        def call(m, A=A):
            return m.radius_search(Q, A, radius)

        t = measure(partial(call, fastsdm), reps)
        # The baseline is paired up to 10^7 only: before location blocking it
        # re-streamed 10^8 addresses once per 8 queries (minutes per call).
        rec.rows.append({"section": "scaling", "N": N, "median": t["median"], "min": t["min"],
                         "max": t["max"], "cpu": t["cpu_median"],
                         "ns_per_word": t["median"] / words * 1e9,
                         "cpu_ns_per_word": t["cpu_median"] / words * 1e9,
                         "baseline": rec.paired(call, reps) if N <= 10_000_000 else None})
        print(f"#   N = {N:,}: {t['median'] / words * 1e9:.4f} ns per word", file=sys.stderr)
        del A
    notes.append(f"Cost per word: radius search of {BATCH} queries of {N_BITS} bits, time / "
                 f"({BATCH} · N · {-(-N_BITS // 64)} words); the CPU column (all threads) is "
                 "steadier when other jobs share the machine.")


# -- SDM section ---------------------------------------------------------------------


def sdm_section(args, rec, notes):
    from naive_sdm import NaiveSDM

    import fastsdm
    from fastsdm._kernels import counters as c
    from fastsdm._kernels import hamming as h

    n, N = SDM_BITS, N_LOCATIONS
    mem = fastsdm.SDM(n, N, radius=SDM_RADIUS, counter_dtype="int8", ties="zero", seed=0)
    address_bytes = mem.addresses.view(np.uint8)[:, : -(-n // 8)]
    # The words' bytes are np.packbits of the bits (fastsdm's layout contract).
    sample = fastsdm.unpack_bits(mem.addresses[:1000], n)
    check(np.array_equal(np.packbits(sample, axis=1), address_bytes[:1000]), "layout")
    naive = NaiveSDM(address_bytes=address_bytes, n_bits=n, radius=SDM_RADIUS,
                     counter_dtype="int8")
    patterns = fastsdm.random_addresses(BATCH, n, seed=1)
    cues = fastsdm.flip_bits(patterns, n, n // 10, seed=2)
    pattern_bits = fastsdm.unpack_bits(patterns, n)
    cue_bits = fastsdm.unpack_bits(cues, n)
    m = args.naive_ops
    nbytes = fastsdm.SDM.estimate_nbytes(n, N, counter_dtype="int8")
    notes.append(f"SDM: n = {n}, N = {N:,}, radius {SDM_RADIUS}, int8 counters "
                 f"({nbytes / 2**30:.2f} GiB per memory), ties read as 0; writes are "
                 "autoassociative, reads use cues with 10% of the bits flipped. The NumPy "
                 f"SDM has no batch path (it loops over vectors); it is timed on {m} "
                 "operations and reported per operation.")

    # Identical results from a clean state: m writes then m reads, both memories.
    mem.write(patterns[:m])
    naive.write_many(pattern_bits[:m])
    check(np.array_equal(mem.counters, naive.counters), "SDM counters differ")
    ours = fastsdm.unpack_bits(mem.read(cues[:m]), n)
    check(np.array_equal(ours, naive.read_many(cue_bits[:m])), "SDM reads differ")
    ours_one = np.stack([fastsdm.unpack_bits(mem.read(c), n) for c in cues[:m]])
    check(np.array_equal(ours_one, ours), "one-per-call reads differ from batched")
    activated = float(np.diff(mem.activate(cues[:m])[0]).mean())
    notes.append(f"SDM: {activated:.0f} locations activated per operation on average; "
                 f"counters and reads identical after {m} writes and {m} reads.")
    memories = {"fastsdm": mem}
    if rec.base is not None:
        old = rec.base.SDM(n, radius=SDM_RADIUS, counter_dtype="int8", ties="zero",
                           addresses=mem.addresses)
        share_arrays(old, mem, "counters")
        check(np.array_equal(old.read(cues[:m]), mem.read(cues[:m])), "baseline SDM reads")
        memories["baseline"] = old

    # Batched fastsdm calls take ~0.15-0.6 s: as many repeats as the search
    # rows, so that their medians are as steady; the slow serial rows fewer.
    reps, reps_slow = args.repeats, max(2, args.repeats // 2)
    one = min(16, BATCH)
    W = mem.addresses.shape[1]
    big = fastsdm.random_addresses(SDM_BIG_BATCH, n, seed=3)
    big_cues = fastsdm.flip_bits(big, n, n // 10, seed=4)
    inputs = {BATCH: (patterns, cues), SDM_BIG_BATCH: (big, big_cues)}

    def add(op, impl, t, ops, threads, width, kind, paired=None, scan=None):
        # kind: "write" / "read" / "scan": the counter traffic in the floor.
        # One operation per call streams the addresses once per call.
        traffic = {"write": 2, "read": 1, "scan": 0}[kind] * activated * n
        calls = ops if "one per call" in op else 1
        floor, fkind = row_floor(rec.floors, ops // calls, N, W, threads,
                                 extra_bytes=traffic * ops // calls)
        floor *= calls
        rec.rows.append({"section": "sdm", "workload": op, "impl": impl, "ops": ops,
                         "median": t["median"] / ops, "min": t["min"] / ops,
                         "max": t["max"] / ops, "cpu": t["cpu_median"] / ops,
                         "per_s": ops / t["median"], "threads": threads, "width": width,
                         "floor": floor / ops,
                         "floor_kind": fkind + (" + counter rows" if traffic else ""),
                         "baseline": paired, "scan": scan})

    def pair(call):
        if "baseline" not in memories:
            return None
        return ratio_stats(paired_ratios(partial(call, memories["fastsdm"]),
                                         partial(call, memories["baseline"]), reps))

    def vs_scan(op, scan):
        # The operation against the scan it contains, timed in alternation:
        # scan time / operation time per pair (the operation's throughput as a
        # fraction of the scan's).
        return ratio_stats(paired_ratios(op, scan, reps))

    threads_big = fastsdm_threads(BATCH * N * W, None)
    for b in (BATCH, SDM_BIG_BATCH):
        P, C = inputs[b]

        def scan(m=fastsdm, C=C):
            return m.radius_search(C, mem.addresses, SDM_RADIUS)

        add(f"radius search over the memory's addresses, batch of {b}", "fastsdm",
            measure(scan, reps), b, threads_big, fastsdm_width(h.scan_tiled(h.MODE_RADIUS)),
            "scan", rec.paired(scan, reps))
        add(f"write, batch of {b}", "fastsdm", measure(lambda P=P: mem.write(P), reps), b,
            threads_big, fastsdm_width(c.scan_update(True)), "write",
            pair(lambda x, P=P: x.write(P)), scan=vs_scan(lambda P=P: mem.write(P), scan))
        add(f"read, batch of {b}", "fastsdm", measure(lambda C=C: mem.read(C), reps), b,
            threads_big, fastsdm_width(c.scan_update(False)), "read",
            pair(lambda x, C=C: x.read(C)), scan=vs_scan(lambda C=C: mem.read(C), scan))
        if b == BATCH:
            add(f"write, batch of {b}", "fastsdm, serial",
                measure(lambda P=P: mem.write(P, parallel=False), reps_slow), b, 1,
                rec.rows[-2]["width"], "write", pair(lambda x, P=P: x.write(P, parallel=False)))
            add(f"read, batch of {b}", "fastsdm, serial",
                measure(lambda C=C: mem.read(C, parallel=False), reps_slow), b, 1,
                rec.rows[-2]["width"], "read", pair(lambda x, C=C: x.read(C, parallel=False)))

    def write_each(x):
        for p in patterns[:one]:
            x.write(p)

    def read_each(x):
        for q in cues[:one]:
            x.read(q)

    def scan_each(m=fastsdm):
        for q in cues[:one]:
            m.radius_search(q, mem.addresses, SDM_RADIUS)

    threads_one = fastsdm_threads(N * W, None)
    width_one = fastsdm_width(h.scan_rows())
    add("radius search over the memory's addresses, one per call", "fastsdm",
        measure(scan_each, reps), one, threads_one, width_one, "scan",
        rec.paired(scan_each, reps))
    # One per call: the operation's time as a multiple of the scan's (paired).
    add("write, one per call", "fastsdm", measure(partial(write_each, mem), reps), one,
        threads_one, width_one, "write", pair(write_each),
        scan=vs_scan(scan_each, partial(write_each, mem)))
    add("read, one per call", "fastsdm", measure(partial(read_each, mem), reps), one,
        threads_one, width_one, "read", pair(read_each),
        scan=vs_scan(scan_each, partial(read_each, mem)))
    t_w = measure(partial(naive.write_many, pattern_bits[:m]), reps_slow, warmup=0)
    t_r = measure(partial(naive.read_many, cue_bits[:m]), reps_slow, warmup=0)
    for op in (f"write, batch of {BATCH}", "write, one per call"):
        add(op, "NumPy SDM (naive_sdm.py)", t_w, m, 1, f"NumPy ({numpy_simd()})", "write")
    for op in (f"read, batch of {BATCH}", "read, one per call"):
        add(op, "NumPy SDM (naive_sdm.py)", t_r, m, 1, f"NumPy ({numpy_simd()})", "read")
    del naive
    sdm_breakdown(args, mem, patterns, cues, one, rec, notes)
    torchhd_rows(args, mem, patterns, cues, rec, notes, add, m)


def alternating(calls, repeats):
    """Median wall time of each call, the calls timed in turn (rotating the order)."""
    names = list(calls)
    for name in names:
        calls[name]()
    times = {name: [] for name in names}
    for i in range(repeats):
        for name in names[i % len(names):] + names[: i % len(names)]:
            t0 = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(t)) for name, t in times.items()}


def sdm_breakdown(args, mem, patterns, cues, one, rec, notes):
    """Where the canonical SDM's time goes: the scan, the counter rows, the rest.

    Batches: the same fused kernels with nothing activated (radius -1: tile
    transposition, distances and the activation test, no counter row) against
    the real radius.  One operation per call: the activation (row-wise scan
    and index list, ``mem.activate``) against the whole operation.  Each pair
    is timed in alternation.
    """
    import fastsdm.memory

    reps = args.repeats
    real = fastsdm.memory.Locations

    class NothingActivated(real):
        # The memory's locations with radius -1, which no public call accepts.
        @classmethod
        def of(cls, memory):
            locations = real.of(memory)
            locations.radius = -1
            return locations

    def without_rows(call):
        def run():
            fastsdm.memory.Locations = NothingActivated
            try:
                call()
            finally:
                fastsdm.memory.Locations = real
        return run

    def each(op, xs):
        def run():
            for x in xs:
                op(x)
        return run

    # The same counter rows without the scan: the activation-list kernels
    # (prefetching rows ahead, both threads) on the batch's own activations.
    from fastsdm._core import Locations
    from fastsdm._validation import as_words

    where = Locations.of(mem)
    words = {"write": as_words(patterns, "keys", mem.n_bits)[0],
             "read": as_words(cues, "cues", mem.n_bits)[0]}
    lists = {op: where.activate(w, None) for op, w in words.items()}
    deltas = where.deltas(words["write"], 1)
    ties = np.zeros((BATCH, words["read"].shape[1]), np.uint64)
    out = np.empty_like(ties)
    rows_alone = {"write": lambda: where.apply(*lists["write"], deltas, None),
                  "read": lambda: where.read_csr(*lists["read"], ties, out, None)}

    breakdown = []
    for op, call, ops in ((f"write, batch of {BATCH}", lambda: mem.write(patterns), BATCH),
                          (f"read, batch of {BATCH}", lambda: mem.read(cues), BATCH)):
        kind = op.split(",")[0]
        t = alternating({"total": call, "scan": without_rows(call),
                         "rows alone": rows_alone[kind]}, reps)
        breakdown.append({"operation": op, "ops": ops, "total": t["total"], "scan": t["scan"],
                          "counters": t["total"] - t["scan"], "rows_alone": t["rows alone"],
                          "part": "fused kernel with radius -1 (no rows) vs the real radius; "
                                  "rows alone: the same activations through the "
                                  "activation-list kernels, no scan"})
    for op, call in (("write, one per call", each(mem.write, patterns[:one])),
                     ("read, one per call", each(mem.read, cues[:one]))):
        t = alternating({"total": call, "scan": each(mem.activate, cues[:one])}, reps)
        breakdown.append({"operation": op, "ops": one, "total": t["total"], "scan": t["scan"],
                          "counters": t["total"] - t["scan"],
                          "part": "activation (row scan + index list) vs the whole operation"})
    rec.breakdown = breakdown


def torchhd_rows(args, mem, patterns, cues, rec, notes, add, m):
    try:
        import torch
        import torchhd
    except ImportError:
        notes.append("torchhd is not installed: its SparseDistributed was skipped.")
        return
    n, N = mem.n_bits, mem.n_locations
    need = 2 * N * n * 4  # float32 addresses and contents
    from fastsdm.memory import _available_memory

    available = _available_memory()
    if available is not None and need > 0.6 * available:
        notes.append(f"torchhd skipped: its float32 memory needs {need / 2**30:.1f} GiB.")
        return
    try:
        import fastsdm

        # Same addresses as bipolar vectors: dot = n - 2 h, so dot >= n - 2 r <=> h <= r.
        sdm = torchhd.memory.SparseDistributed(N, n, n, kappa=127)

        def bip(words):  # packed words -> float32 bipolar MAP vectors
            t = torch.from_numpy(fastsdm.unpack_bits(words, n).astype(np.float32) * 2 - 1)
            return t.as_subclass(torchhd.MAPTensor) if hasattr(torchhd, "MAPTensor") else t

        with torch.no_grad():
            sdm.addresses.data = sdm.addresses.data.new_tensor(bip(mem.addresses))
            sdm.content.data.zero_()
        sdm.threshold = n - 2 * mem.radius
        ref = fastsdm.SDM(n, N, radius=mem.radius, counter_dtype="int8", ties="zero",
                          addresses=mem.addresses)
        P, C = bip(patterns[:m]), bip(cues[:m])
        ref.write(patterns[:m])
        with torch.no_grad():
            sdm.write(P.clone(), P.clone())
            same_counters = np.array_equal(sdm.content.data.numpy().astype(np.int8),
                                           ref.counters)
            read = (sdm.read(C.clone()).numpy() > 0).astype(np.uint8)
        same_reads = np.array_equal(read, fastsdm.unpack_bits(ref.read(cues[:m]), n))
        notes.append(f"torchhd {torchhd.__version__} SparseDistributed (float32 bipolar "
                     "addresses and contents, kappa=127, same addresses and radius): counters "
                     f"identical: {same_counters}; reads identical: {same_reads} (after {m} "
                     "writes; this path is untested in fastsdm's environment).")
        del ref
        Pb, Cb = bip(patterns), bip(cues)
        reps = max(2, args.repeats // 2)
        threads = torch.get_num_threads()
        with torch.no_grad():
            add(f"write, batch of {BATCH}", "torchhd SparseDistributed",
                measure(lambda: sdm.write(Pb.clone(), Pb.clone()), reps), BATCH, threads,
                "PyTorch (float32)", "write")
            add(f"read, batch of {BATCH}", "torchhd SparseDistributed",
                measure(lambda: sdm.read(Cb.clone()), reps), BATCH, threads,
                "PyTorch (float32)", "read")
    except Exception as exc:  # an unverified optional path must not sink the run
        notes.append(f"torchhd comparison failed and was skipped: {exc!r}")


# -- ContinuousSDM section ---------------------------------------------------------------

#: (dim, n_locations, batch sizes) of the ContinuousSDM rows; memories of
#: ~1 GiB of addresses at most (the NumPy baseline needs its own accumulators).
CONTINUOUS_POINTS = [(256, 1_000_000, (1, 16, 256, 1024)), (64, 1_000_000, (1, 256)),
                     (1024, 250_000, (1, 256)), (256, 10_000, (1, 256))]
CONTINUOUS_POINTS_QUICK = [(256, 200_000, (1, 256)), (64, 100_000, (256,)),
                           (1024, 50_000, (256,)), (256, 10_000, (1, 256))]


#: Idle seconds before each turn of the ContinuousSDM rows: OpenBLAS's worker
#: threads spin for 50-100 ms after a call (measured), taking a core from
#: whatever runs next; back to back, fastsdm's single-query calls after a
#: NumPy call ran 1.3-1.5x slower than after an idle pause.
CONTINUOUS_GAP = 0.15

#: Functions faster than this (seconds) run as a stream in each turn. After
#: the idle gap the first call pays for caches that other work on the host
#: emptied meanwhile: measured on the 2-vCPU KVM guest, one query over
#: 10^4 x 256 floats took 0.66 ms as the first call, 0.2 ms as the second and
#: 85 µs from the fifth on, and the NumPy code 0.61 ms, 0.24 ms, 110 µs: a
#: lone call times the VM's wake-up, the same ~0.6 ms for both.
CONTINUOUS_STREAM = 0.02


def _alternating_times(repeats, *fns, gap=CONTINUOUS_GAP, stream=CONTINUOUS_STREAM):
    """Call ``fns`` in turn, ``repeats`` rounds after a warm-up round, each turn after
    ``gap`` idle seconds; the wall time per call, per round, and the calls per turn.

    A function faster than ``stream`` seconds (``t``: its fastest of a few
    warm-up calls) makes ``k = ceil(stream / t)`` calls untimed and then ``k``
    timed ones in each turn: its time is a call's in a stream of calls, not the
    first call's after an idle gap (see CONTINUOUS_STREAM).  Slower ones make
    one timed call.
    """
    calls = []
    for fn in fns:
        t = math.inf
        for i in range(4):
            t0 = time.perf_counter()
            fn()
            t = min(t, time.perf_counter() - t0)
            if i and t >= stream:
                break
        calls.append(1 if t >= stream else math.ceil(stream / max(t, 1e-6)))
    times = np.zeros((len(fns), repeats))
    for r in range(repeats):
        for k, fn in enumerate(fns):
            time.sleep(gap)
            for _ in range(calls[k] if calls[k] > 1 else 0):
                fn()
            t0 = time.perf_counter()
            for _ in range(calls[k]):
                fn()
            times[k, r] = (time.perf_counter() - t0) / calls[k]
    return times, calls


def blas_info():
    """NumPy's BLAS library, its kernels and thread count (threadpoolctl when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    libs = [p for p in threadpool_info() if p.get("user_api") == "blas"
            and "numpy" in str(p.get("filepath", ""))]
    return "; ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')} "
                     f"kernels), {p.get('num_threads')} threads" for p in libs) or "unknown"


def continuous_section(args, rows, notes, base=None):
    """ContinuousSDM against the obvious NumPy code (naive_continuous.py), NumPy's GEMM
    and, with ``base``, fastsdm at the baseline commit."""
    from fastsdm import continuous

    points = CONTINUOUS_POINTS_QUICK if args.quick else CONTINUOUS_POINTS
    notes.append("ContinuousSDM: radius with activation probability ≥ 0.001 for each dim, "
                 "float32 accumulators, value_dim = dim; threshold scan "
                 + (f"int8 (AVX-512 VNNI): batches of up to "
                    f"{continuous.INT8_COPY_MAX_QUERIES} queries over the memory's int8 copy of "
                    f"its addresses (made before timing), larger ones quantising each tile as "
                    f"they go" if continuous.INT8_SCAN else
                    f"BLAS for batches of ≥ {continuous.ROWS_MAX_QUERIES} queries, rows below")
                 + f". NumPy's BLAS: {blas_info()} (its default).")
    for dim, N, batches in points:
        continuous_point(args, dim, N, batches, rows, notes, base)


def continuous_point(args, dim, N, batches, rows, notes, base=None):
    """One memory: every batch size, checked, then timed."""
    from _common import continuous_radius
    from naive_continuous import NaiveContinuousSDM

    from fastsdm.continuous import ContinuousSDM

    mem = ContinuousSDM(dim, N, radius=continuous_radius(dim), seed=0)
    margin = (dim + 4) * 2.0**-23  # ContinuousSDM's bound on a float32 dot's error
    exact = NaiveContinuousSDM(mem.addresses, mem.threshold, exact=True, margin=margin)
    plain = NaiveContinuousSDM(mem.addresses, mem.threshold)
    plain.accumulators = exact.accumulators  # one array: the exact code only checks
    old = None if base is None else base.continuous.ContinuousSDM(
        dim, N, radius=continuous_radius(dim), seed=0)
    if old is not None:
        share_arrays(old, mem, "accumulators")  # one level for both versions' timed writes
    rng = np.random.default_rng(1)
    for batch in batches:
        X = rng.standard_normal((batch, dim)).astype(np.float32)
        continuous_checks(mem, exact, plain, X, rng, notes)
        if old is not None:
            x = X[0] if batch == 1 else X
            new_csr, old_csr = mem.activate(x), old.activate(x)
            check(all(np.array_equal(a, b) for a, b in zip(new_csr, old_csr, strict=True)),
                  "baseline ContinuousSDM activation")
            check(np.array_equal(old.read_sums(x), mem.read_sums(x)), "baseline read sums")
        continuous_batch(args, mem, plain, X, rows, old)


def share_arrays(old, mem, state):
    """Make the baseline memory ``old`` work on ``mem``'s own arrays: its ``state``
    (``counters`` or ``accumulators``) and its addresses.

    Paired against a baseline memory with arrays of its own, unchanged code
    once came out at 0.76 (0.71-1.18), presumably because two gigabyte-sized
    arrays do not get equally good pages (docs/performance.md, seventh
    session).  On one set of arrays the pairs compare code alone.  A baseline
    without the private ``_addresses`` keeps its own copy of the addresses.
    """
    setattr(old, state, getattr(mem, state))
    if hasattr(old, "_addresses") and hasattr(mem, "_addresses"):
        old._addresses = mem._addresses


def continuous_batch(args, mem, plain, X, rows, old=None):
    """Paired timings of activate, write and read: fastsdm / NumPy code / NumPy's GEMM
    (/ fastsdm at the baseline commit)."""
    from naive_continuous import unit_rows

    batch, (N, dim) = X.shape[0], mem.addresses.shape
    x = X[0] if batch == 1 else X  # one vector: the single-call API
    U, A = unit_rows(X), mem.addresses
    budget = 4.0 if args.quick else 15.0  # seconds of paired timing per row, roughly

    def gemm():
        if batch == 1:
            return A @ U[0]
        return [S for _, S in plain.similarities(U)]

    point = {"section": "continuous", "dim": dim, "N": N, "batch": batch,
             "flops": 2 * batch * N * dim}
    t_gemm = None
    for op in ("activate", "write", "read"):
        fns = [partial(getattr(mem, op), x), partial(getattr(plain, op), X)]
        if t_gemm is None:  # activation: fastsdm, NumPy code and GEMM in turn
            fns.append(gemm)
        if old is not None:
            fns.append(partial(getattr(old, op), x))
        t0 = time.perf_counter()
        for fn in fns:
            fn()
        reps = int(np.clip(budget / (time.perf_counter() - t0), 3, args.repeats))
        times, calls = _alternating_times(reps, *fns)
        tf, ts = times[0], times[1]
        if t_gemm is None:
            t_gemm = times[2]
            floor = t_gemm / tf
        else:  # the GEMM's times from the activation rows
            floor = np.median(t_gemm) / tf
        row = {**point, "op": op, "reps": reps, "calls": calls, "fastsdm": tf.tolist(),
               "numpy": ts.tolist(), "gemm": t_gemm.tolist(), "ratio": (ts / tf).tolist(),
               "floor": floor.tolist()}
        paired = ""
        if old is not None:
            row["baseline"] = times[-1].tolist()
            row["old_over_new"] = (times[-1] / tf).tolist()
            paired = f", baseline / fastsdm {np.median(times[-1] / tf):.2f}"
        rows.append(row)
        print(f"#   dim {dim}, N {N:,}, batch {batch}, {op}: NumPy / fastsdm "
              f"{np.median(ts / tf):.2f}x, GEMM / fastsdm {np.median(floor):.2f}{paired}",
              file=sys.stderr)


def continuous_checks(mem, exact, plain, X, rng, notes):
    """fastsdm's activation, writes and read sums equal the exact NumPy code's."""
    dim, N, batch = mem.dim, mem.n_locations, X.shape[0]
    x = X[0] if batch == 1 else X
    indptr, indices = mem.activate(x)
    want = exact.activate(X)
    for q, w in enumerate(want):
        check(np.array_equal(indices[indptr[q] : indptr[q + 1]], w), "activation")
    # The plain code decides by float32 similarities: any pair it decides
    # otherwise must have its exact cosine within float32 rounding of the
    # threshold.
    differ = 0
    for q, (p, w) in enumerate(zip(plain.activate(X), want, strict=True)):
        wrong = np.setxor1d(p, w)
        u = X[q].astype(np.float64)
        a = mem.addresses[wrong].astype(np.float64)
        cos = a @ u / np.sqrt((a * a).sum(1) * (u @ u))
        check(np.all(np.abs(cos - mem.threshold) <= exact.margin), "plain NumPy activation")
        differ += wrong.size
    mem.clear()
    exact.accumulators[...] = 0
    keys = X + 0.1 * rng.standard_normal(X.shape).astype(np.float32)
    mem.write(keys[0] if batch == 1 else keys)
    exact.write(keys)
    check(np.array_equal(mem.accumulators, exact.accumulators), "accumulators")
    sums = mem.read_sums(x)
    check(np.array_equal(np.atleast_2d(sums), exact.read_sums(X)), "read sums")
    np.testing.assert_allclose(np.atleast_2d(mem.read(x)), exact.read(X), rtol=1e-6, atol=1e-7)
    activated = indptr[-1] / batch
    notes.append(f"ContinuousSDM dim {dim}, N = {N:,}, batch {batch}: {activated:.0f} "
                 f"locations per query; activation, accumulators and read sums identical to "
                 f"the exact NumPy code; the plain (timed) NumPy code's activation differs in "
                 f"{differ} (query, location) pairs, all within float32 rounding of the "
                 "threshold.")
    plain.accumulators[...] = mem.accumulators  # the timed code starts from the same state


def continuous_report(rows, base_commit=None):
    """Markdown lines of the ContinuousSDM table."""
    rows = [r for r in rows if r["section"] == "continuous"]
    if not rows:
        return []
    vs = any("old_over_new" in r for r in rows)
    out = ["## ContinuousSDM: fastsdm, the obvious NumPy code and NumPy's GEMM", "",
           "| dim | N | batch | operation | fastsdm | NumPy code | NumPy / fastsdm (paired) "
           "| NumPy GEMM alone | GEMM / fastsdm (paired) |"
           + (f" baseline {base_commit} / fastsdm (paired) |" if vs else ""),
           "|---|---|---|---|---|---|---|---|---|" + ("---|" if vs else "")]
    for r in rows:
        tf, ts, tg = (np.median(r[k]) for k in ("fastsdm", "numpy", "gemm"))
        ratio, floor = np.array(r["ratio"]), np.array(r["floor"])
        stream = " ‡" if max(r.get("calls", [1])) > 1 else ""
        out.append(f"| {r['dim']} | {r['N']:,} | {r['batch']}{stream} | {r['op']} | "
                   f"{fmt_time(tf)} = "
                   f"{r['flops'] / tf / 1e9:.0f} | {fmt_time(ts)} | {np.median(ratio):.2f}× "
                   f"({ratio.min():.2f}–{ratio.max():.2f}) | {fmt_time(tg)} = "
                   f"{r['flops'] / tg / 1e9:.0f} | {np.median(floor):.2f} "
                   f"({floor.min():.2f}–{floor.max():.2f}) |"
                   + (f" {fmt_ratio(ratio_stats(r['old_over_new']))} |" if vs else ""))
    out += ["", "Times are medians; *= n* is the rate in GFLOP/s of the float32 matrix product "
            "of the same shapes (2 · batch · N · dim floating-point operations) that the time "
            "amounts to. *NumPy code*: `benchmarks/naive_continuous.py` (BLAS similarities in "
            "chunks of ≤ 256 MiB, threshold, `np.nonzero`, fancy-indexed sums); *NumPy GEMM "
            "alone*: its similarity products only (`A @ u` for one query), the floor of any "
            "float32 implementation, timed in turn with the activation rows; *GEMM / "
            "fastsdm* = the fraction of that floor each operation reaches (above 1: fastsdm's "
            "whole operation takes less time than NumPy's float32 matrix product alone; the "
            "int8 scan does most of its arithmetic in int8). Medians over rounds of "
            "alternating turns (spread min–max), each turn after "
            f"{CONTINUOUS_GAP:g} s idle (OpenBLAS's threads spin for 50–100 ms after a "
            "call); write and read rows are divided by the GEMM's median. A function "
            f"faster than {CONTINUOUS_STREAM * 1e3:g} ms (rows marked ‡) makes k untimed and "
            f"then k timed calls per turn, k = ⌈{CONTINUOUS_STREAM * 1e3:g} ms / its time⌉: "
            "its time is a call's in a stream, not the first call's after the idle gap, "
            "which pays about 0.6 ms for caches emptied meanwhile on this VM, whatever the "
            "code.", ""]
    return out


def section_main(args, title, run, report, extra_info=None):
    """One ``--only-*`` section: the machine block, then ``run(rows, notes)``'s rows as
    ``report(rows)`` and the notes, printed as Markdown (and with ``--json`` saved).

    ``title`` is the section's option; ``extra_info`` adds lines to the machine block.
    """
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    t_start = time.perf_counter()
    import fastsdm

    info = {**machine_info(), **(extra_info or {})}
    rows, notes = [], []
    run(rows, notes)
    elapsed = time.perf_counter() - t_start
    out = [f"# fastsdm compare.py {title}", "", f"Command: `{command}`  ",
           f"Started: {started}; wall time {elapsed:.0f} s; fastsdm {fastsdm.__version__}", "",
           "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {key} | {value} |" for key, value in info.items()]
    out += ["", *report(rows)]
    if notes:
        out += ["## Notes", "", *(f"- {n}" for n in notes)]
    print("\n".join(out))
    if args.json:
        Path(args.json).write_text(json.dumps({"command": command, "started": started,
                                               "elapsed_s": elapsed, "machine": info,
                                               "rows": rows, "notes": notes}, indent=1,
                                              default=str))


def continuous_main(args):
    """``--only-continuous``: the machine block and the ContinuousSDM rows alone."""
    base = None
    if args.baseline:
        import baseline

        base = baseline.load(args.baseline)
    base_commit = base.BASELINE_COMMIT if base is not None else None
    section_main(args, "--only-continuous", partial(continuous_section, args, base=base),
                 partial(continuous_report, base_commit=base_commit), {"blas": blas_info()})


# -- weighted operations (issue 16 §2) --------------------------------------------------

#: A tenth of the canonical memory: n = 1000, N = 10^5, int8, radius 451 (~100
#: locations per operation); cheap enough for a quick section.
WEIGHTED_N = 100_000
WEIGHTED_KAPPA = 20
WEIGHTED_Z = (0.5, 2.0)


def weighted_section(args, base, rows, notes):
    """Weighted writes and z reads against the NumPy reference; the default pairs."""
    from naive_weighted import NaiveWeightedSDM

    import fastsdm

    n, N, r = SDM_BITS, WEIGHTED_N, SDM_RADIUS
    table = np.arange(r + 1, 0, -1) // 50 + 1  # 10 at distance 0 down to 1 at the radius

    def memories(kappa=None):
        mem = fastsdm.SDM(n, N, radius=r, counter_dtype="int8", ties="zero", kappa=kappa,
                          seed=0)
        naive = NaiveWeightedSDM(address_bytes=mem.addresses.view(np.uint8)[:, : -(-n // 8)],
                                 n_bits=n, radius=r, counter_dtype="int8", kappa=kappa)
        return mem, naive

    patterns = fastsdm.random_addresses(BATCH, n, seed=1)
    cues = fastsdm.flip_bits(patterns, n, n // 10, seed=2)
    pattern_bits, cue_bits = fastsdm.unpack_bits(patterns, n), fastsdm.unpack_bits(cues, n)
    m = args.naive_ops
    plain, _ = memories()
    weighted, naive_w = memories()
    clipped, naive_k = memories(WEIGHTED_KAPPA)
    # Identical results from a clean state before anything is timed.
    weighted.write(patterns[:m], distance_weights=table)
    naive_w.write_many(pattern_bits[:m], distance_weights=table)
    check(np.array_equal(weighted.counters, naive_w.counters), "weighted counters differ")
    for _ in range(3):
        clipped.write(patterns[:m], weight=9)
        naive_k.write_many(pattern_bits[:m], weight=9)
    check(np.array_equal(clipped.counters, naive_k.counters), "kappa counters differ")
    for z in WEIGHTED_Z:
        ours = fastsdm.unpack_bits(weighted.read(cues[:m], z=z), n)
        check(np.array_equal(ours, naive_w.read_many(cue_bits[:m], z)), "z reads differ")
        sums = weighted.read_sums(cues[:m], z=z)
        expected = np.stack([naive_w.sums(x, z) for x in cue_bits[:m]])
        check(np.allclose(sums, expected, rtol=1e-12, atol=0), "z sums differ")
    plain.write(patterns)
    activated = float(np.diff(plain.activate(cues[:m])[0]).mean())
    notes.append(f"Weighted: n = {n}, N = {N:,}, radius {r} ({activated:.0f} locations per "
                 f"operation), int8 counters, ties read as 0. distance_weights: "
                 f"{table[0]} at distance 0 falling to 1 at the radius; kappa = "
                 f"{WEIGHTED_KAPPA}; z reads of a memory holding the weighted writes. "
                 f"The NumPy code (benchmarks/naive_weighted.py) loops over vectors and is "
                 f"timed on {m} operations; its results equal fastsdm's (counters and reads "
                 "exactly; float sums to 1e-12: NumPy's array power may differ from the C "
                 "library's pow in the last bit).")

    def row(workload, batch, fast, slow_one, plain_call):
        x = patterns[:batch] if batch > 1 else patterns[0]
        q = cues[:batch] if batch > 1 else cues[0]
        t_fast = measure(partial(fast, x, q), args.repeats)["median"] / batch
        t_naive = measure(partial(slow_one, m), max(1, args.repeats // 3))["median"] / m
        over_plain = ratio_stats(paired_ratios(partial(fast, x, q), partial(plain_call, x, q),
                                               args.repeats))
        rows.append({"workload": workload, "batch": batch, "fastsdm_per_op": t_fast,
                     "numpy_per_op": t_naive, "speedup": t_naive / t_fast,
                     "plain_over_option": over_plain})
        print(f"# {workload} batch {batch}: {fmt_time(t_fast)} per op", file=sys.stderr)

    def plain_write(x, q):
        plain.write(x)

    def plain_read(x, q):
        plain.read(q)

    for batch in (BATCH, 1):
        row("write, distance_weights", batch,
            lambda x, q: weighted.write(x, distance_weights=table),
            lambda k: naive_w.write_many(pattern_bits[:k], distance_weights=table),
            plain_write)
        row(f"write, kappa={WEIGHTED_KAPPA}", batch, lambda x, q: clipped.write(x),
            lambda k: naive_k.write_many(pattern_bits[:k]), plain_write)
        for z in WEIGHTED_Z:
            row(f"read, z={z:g}", batch, partial(lambda x, q, z: weighted.read(q, z=z), z=z),
                partial(lambda k, z: naive_w.read_many(cue_bits[:k], z), z=z), plain_read)
    if base is None:
        return
    # The default operations, paired against the baseline commit: old / new.
    old = base.SDM(n, N, radius=r, counter_dtype="int8", ties="zero", seed=0)
    new = fastsdm.SDM(n, N, radius=r, counter_dtype="int8", ties="zero", seed=0)
    for batch in (BATCH, 1):
        x = patterns[:batch] if batch > 1 else patterns[0]
        q = cues[:batch] if batch > 1 else cues[0]
        for op in ("write", "read"):
            def call(mem, op=op, x=x, q=q):
                return mem.write(x) if op == "write" else mem.read(q)

            # Calls of one vector take a few hundred microseconds: many pairs, so
            # that the median is not one preemption on a shared machine.
            pairs = (4 if batch > 1 else 40) * args.repeats
            stats = ratio_stats(paired_ratios(partial(call, new), partial(call, old), pairs))
            rows.append({"workload": f"default {op} (baseline / this)", "batch": batch,
                         "baseline_over_this": stats})
            print(f"# default {op} batch {batch}: baseline/this {fmt_ratio(stats)}",
                  file=sys.stderr)


def weighted_report(rows, base_commit):
    out = ["## Weighted SDM operations (issue 16 §2)", "",
           "| workload | batch | fastsdm per op | NumPy per op | fastsdm speed-up | "
           "plain / option (paired) |", "|---|---|---|---|---|---|"]
    for r in rows:
        if "speedup" in r:
            out.append(f"| {r['workload']} | {r['batch']} | {fmt_time(r['fastsdm_per_op'])} | "
                       f"{fmt_time(r['numpy_per_op'])} | {r['speedup']:.0f}x | "
                       f"{fmt_ratio(r['plain_over_option'])} |")
    paired = [r for r in rows if "baseline_over_this" in r]
    if paired:
        out += ["", f"Default operations against fastsdm at {base_commit} (paired, "
                "alternating calls; above 1: this version is faster):", "",
                "| operation | batch | baseline / this |", "|---|---|---|"]
        out += [f"| {r['workload'].split(' (')[0]} | {r['batch']} | "
                f"{fmt_ratio(r['baseline_over_this'])} |" for r in paired]
    out += ["", "*plain / option*: the plain operation's time over the option's, paired on "
            "memories of the same shape (below 1: the option costs that much more).", ""]
    return out


def weighted_main(args):
    """``--only-weighted``: the machine block and the weighted-operation rows alone."""
    base = None
    if args.baseline:
        import baseline

        base = baseline.load(args.baseline)
    base_commit = base.BASELINE_COMMIT if base is not None else None
    section_main(args, "--only-weighted", partial(weighted_section, args, base),
                 partial(weighted_report, base_commit=base_commit))


# -- Jaeckel's hyperplane rule against the radius rule --------------------------------


def hyperplane_section(args, rows):
    """SDM activate / write / read, radius rule against the hyperplane rule, paired.

    n = 1000 at activation probability 0.001 (radius 451; k = 10 selected
    coordinates, p = 2**-10), N = 10^5 and (without --quick) Kanerva's
    canonical N = 10^6 with int8 counters.  Each pair times the radius memory
    and the hyperplane memory in turn (alternating which goes first) on the
    same inputs; the ratio is hyperplane / radius (below 1: the hyperplane
    rule is faster).
    """
    import fastsdm

    sizes = [100_000] + ([] if args.quick else [1_000_000])
    n_bits, p = 1000, 0.001
    for N in sizes:
        dtype = "int8" if N >= 10**6 else "int16"
        mems = {rule: fastsdm.SDM(n_bits, N, activation_probability=p, counter_dtype=dtype,
                                  seed=0, **({} if rule == "radius"
                                             else {"activation": "hyperplane"}))
                for rule in ("radius", "hyperplane")}
        patterns = fastsdm.random_addresses(N // 1000, n_bits, seed=1)
        for mem in mems.values():
            mem.write(patterns)
        from _common import noisy_cues

        cues = noisy_cues(patterns, n_bits)  # 100 of 1000 bits flipped
        # The activation lists agree with the theory's mean count (a sanity check).
        counts = {rule: float(np.diff(mem.activate(cues)[0]).mean())
                  for rule, mem in mems.items()}
        for batch in (1, 256):
            x = cues[0] if batch == 1 else cues
            for op in ("activate", "write", "read"):
                calls = {rule: getattr(mem, op) for rule, mem in mems.items()}
                times = {"radius": [], "hyperplane": []}
                ratios = []
                for call in calls.values():
                    call(x)  # warm-up: kernels compiled or loaded, the design's keys built
                for i in range(args.repeats):
                    order = ("radius", "hyperplane") if i % 2 == 0 else ("hyperplane", "radius")
                    pair = {}
                    for rule in order:
                        t0 = time.perf_counter()
                        calls[rule](x)
                        pair[rule] = time.perf_counter() - t0
                        times[rule].append(pair[rule])
                    ratios.append(pair["hyperplane"] / pair["radius"])
                q1, med, q3 = np.percentile(ratios, [25, 50, 75])
                rows.append({"N": N, "batch": batch, "op": op,
                             "radius_s": float(np.median(times["radius"])),
                             "hyperplane_s": float(np.median(times["hyperplane"])),
                             "ratio": float(med), "ratio_q1": float(q1), "ratio_q3": float(q3),
                             "pairs": len(ratios), "activated": counts,
                             "radius": mems["radius"].radius,
                             "selected": mems["hyperplane"].selected})
                print(f"# N={N} batch={batch} {op}: ratio {med:.2f}", file=sys.stderr)
        del mems


def hyperplane_report(rows):
    """Markdown for the hyperplane rows."""
    first = rows[0]
    out = ["## SDM: Jaeckel's hyperplane rule against the radius rule", "",
           f"n = 1000, activation probability 0.001: radius {first['radius']} against "
           f"k = {first['selected']} selected coordinates (p = 2^-{first['selected']}).  "
           f"Median wall times of {first['pairs']} alternating pairs; ratio = hyperplane / "
           "radius per pair, median (IQR).", "",
           "| N | batch | operation | radius | hyperplane | hyperplane / radius |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['N']:,} | {r['batch']} | {r['op']} | {fmt_time(r['radius_s'])} | "
                   f"{fmt_time(r['hyperplane_s'])} | {r['ratio']:.2f} "
                   f"({r['ratio_q1']:.2f}-{r['ratio_q3']:.2f}) |")
    out += ["", "Mean locations activated per cue: " + "; ".join(
        f"N = {r['N']:,}: radius {r['activated']['radius']:.0f}, hyperplane "
        f"{r['activated']['hyperplane']:.0f}" for r in rows if r["op"] == "activate"
        and r["batch"] == 1)]
    return [*out, ""]


def hyperplane_main(args):
    """``--only-hyperplane``: the machine block and the hyperplane rows alone."""
    section_main(args, "--only-hyperplane", lambda rows, notes: hyperplane_section(args, rows),
                 hyperplane_report)


# -- the associative-memory family: Hopfield networks against NumPy ------------------

#: Classical and binary modern Hopfield sizes: n bits, m = n / 10 patterns
#: (below the classical 0.138 n capacity); the modern network also at the asv
#: benchmark's m = 10,000 (n = 256), where its softmax has work to do.
HOPFIELD_SIZES = (256, 1024)
HOPFIELD_BATCHES = (1, 256)
HOPFIELD_BETA = 0.1
HOPFIELD_ITERATIONS = 10
#: Pairs per row (--quick: HOPFIELD_PAIRS_QUICK).  Many: on a shared 2-core
#: machine a call on 2 threads (BLAS's or numba's) waits for any preempted
#: thread, so single pairs of millisecond calls vary by 10x.
HOPFIELD_PAIRS = 21
HOPFIELD_PAIRS_QUICK = 7


def paired_times(fast, slow, repeats, gap=0.0):
    """Time ``fast`` and ``slow`` alternately (order alternating, ``gap`` idle seconds
    before each call); the wall times of each and the ratios slow / fast per pair."""
    fast()
    slow()
    t_fast, t_slow = [], []
    for i in range(repeats):
        pair = (fast, slow) if i % 2 == 0 else (slow, fast)
        times = []
        for fn in pair:
            time.sleep(gap)
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        a, b = times if i % 2 == 0 else times[::-1]
        t_fast.append(a)
        t_slow.append(b)
    return t_fast, t_slow, [s / f for f, s in zip(t_fast, t_slow, strict=True)]


def hopfield_section(args, rows, notes):
    """Classical and modern Hopfield networks of fastsdm against the NumPy textbook code.

    Every row's results are asserted equal to the NumPy code's before it is
    timed (bits for the binary networks, floats to 1e-12 / 1e-9 for
    ``modern_retrieve``), then both are timed in alternating pairs.
    """
    import naive_hopfield as nh

    import fastsdm
    from fastsdm.hopfield import Hopfield, ModernHopfield, modern_retrieve

    reps = HOPFIELD_PAIRS_QUICK if args.quick else HOPFIELD_PAIRS
    k = HOPFIELD_ITERATIONS

    def row(model, op, n, m, batch, fast, slow, repeats=reps):
        t_fast, t_slow, ratios = paired_times(fast, slow, repeats)
        q1, q3 = np.percentile(ratios, [25, 75])
        rows.append({"model": model, "op": op, "n": n, "m": m, "batch": batch,
                     "fastsdm_s": float(np.median(t_fast)), "numpy_s": float(np.median(t_slow)),
                     "fastsdm_min_s": min(t_fast), "numpy_min_s": min(t_slow),
                     "ratio": {**ratio_stats(ratios), "q1": float(q1), "q3": float(q3)},
                     "ratio_of_minima": min(t_slow) / min(t_fast)})
        print(f"# {model} {op} n={n} m={m} batch={batch}: NumPy/fastsdm "
              f"{fmt_ratio(rows[-1]['ratio'])}", file=sys.stderr)

    def same_bits(words, S, what):
        ours = fastsdm.unpack_bits(np.atleast_2d(words), S.shape[1])
        check(np.array_equal(ours, (S > 0).astype(np.uint8)), f"{what}: bits differ")

    # -- classical ---------------------------------------------------------------
    for n in HOPFIELD_SIZES:
        m = n // 10
        patterns = fastsdm.random_addresses(m, n, seed=0)
        targets = patterns[np.arange(max(HOPFIELD_BATCHES)) % m]
        cues = fastsdm.flip_bits(targets, n, n // 8, seed=2)
        X = nh.bipolar(fastsdm.unpack_bits(patterns, n))
        net = Hopfield(n, seed=0)
        net.write(patterns)
        W = nh.hebbian(X)
        check(np.array_equal(net.weights, W.astype(np.int32)), "Hebbian weights differ")
        row("Hopfield", "write (Hebbian)", n, m, m,
            partial(lambda n, x: Hopfield(n).write(x), n, patterns), partial(nh.hebbian, X))
        for batch in HOPFIELD_BATCHES:
            q = cues[0] if batch == 1 else cues[:batch]
            S = nh.bipolar(fastsdm.unpack_bits(cues[:batch], n))
            for its in (1, k):
                same_bits(net.read(q, update="synchronous", iterations=its),
                          nh.synchronous(W, S, its), f"synchronous x{its}")
                # The update order: a fresh network and generator of the same seed.
                fresh = Hopfield(n, seed=5)
                fresh.write(patterns)
                same_bits(fresh.read(q, iterations=its),
                          nh.asynchronous(W, S, np.random.default_rng(5), its),
                          f"asynchronous x{its}")
            for its in (1, k):
                label = "1 step" if its == 1 else f"<= {its} steps"
                row("Hopfield", f"read, synchronous, {label}", n, m, batch,
                    partial(net.read, q, update="synchronous", iterations=its),
                    partial(nh.synchronous, W, S, its))
            rng = np.random.default_rng(1)
            for its in (1, k):
                label = "1 sweep" if its == 1 else f"<= {its} sweeps"
                row("Hopfield", f"read, asynchronous, {label}", n, m, batch,
                    partial(net.read, q, iterations=its),
                    partial(nh.asynchronous, W, S, rng, its))
    # -- modern, binary --------------------------------------------------------------
    min_sum = np.inf
    for n, m in [(n, n // 10) for n in HOPFIELD_SIZES] + [(256, 10_000)]:
        patterns = fastsdm.random_addresses(m, n, seed=0)
        targets = patterns[np.arange(max(HOPFIELD_BATCHES)) % m]
        cues = fastsdm.flip_bits(targets, n, n // 8, seed=2)
        X = nh.bipolar(fastsdm.unpack_bits(patterns, n))
        net = ModernHopfield(n, beta=HOPFIELD_BETA)
        net.write(patterns)
        for batch in HOPFIELD_BATCHES:
            q = cues[0] if batch == 1 else cues[:batch]
            S = nh.bipolar(fastsdm.unpack_bits(cues[:batch], n))
            same_bits(net.read(q), nh.modern_read(X, S, HOPFIELD_BETA), "modern read")
            scores = HOPFIELD_BETA * (S @ X.T)
            w = np.exp(scores - scores.max(axis=1, keepdims=True))
            min_sum = min(min_sum, float(np.abs((w / w.sum(axis=1, keepdims=True)) @ X).min()))
            row("ModernHopfield", "read, 1 update", n, m, batch, partial(net.read, q),
                partial(nh.modern_read, X, S, HOPFIELD_BETA))
    # -- modern_retrieve, real vectors -----------------------------------------------
    for d in HOPFIELD_SIZES:
        m = d // 10
        rng = np.random.default_rng(3)
        X = rng.standard_normal((m, d))
        Q = X[np.arange(max(HOPFIELD_BATCHES)) % m] + rng.standard_normal(
            (max(HOPFIELD_BATCHES), d))
        beta = 1 / np.sqrt(d)
        for batch in HOPFIELD_BATCHES:
            q = Q[0] if batch == 1 else Q[:batch]
            for its, atol in ((1, 1e-12), (k, 1e-9)):
                ours = np.atleast_2d(modern_retrieve(q, X, beta, iterations=its))
                check(np.allclose(ours, nh.modern_update(X, Q[:batch], beta, its), rtol=0,
                                  atol=atol), f"modern_retrieve x{its} differs")
            for its in (1, k):
                label = "1 update" if its == 1 else f"<= {its} updates"
                row("modern_retrieve", label, d, m, batch,
                    partial(modern_retrieve, q, X, beta, iterations=its),
                    partial(nh.modern_update, X, Q[:batch], beta, its))
    threads = fastsdm_threads(1 << 40, None)
    notes += [
        "Inputs: m = n / 10 random patterns (and m = 10,000 at n = 256 for the modern "
        "network), cues = the patterns with n / 8 bits flipped; batch 1 is one vector "
        "(a 1-D array), batch 256 a matrix. fastsdm takes packed words; the NumPy code "
        "(benchmarks/naive_hopfield.py) holds float64 ±1 rows: neither side's conversion "
        "is timed.",
        "Every fastsdm result was asserted equal to the NumPy code's before timing: "
        "weights exactly; synchronous and asynchronous reads bit for bit (the same tie "
        "rule, and for asynchronous reads the same update orders: fastsdm's generator "
        "and NumPy's default_rng of one seed, one permutation per sweep); modern "
        f"reads bit for bit (β = {HOPFIELD_BETA} on the bipolar dot products; the "
        "smallest |Xᵀ softmax| of any bit in these checks was "
        f"{min_sum:.6f}, far above the rounding of either side's sums); modern_retrieve "
        "(Gaussian patterns, β = 1/√d) to 1e-12 after one update and 1e-9 after "
        f"{k} (fastsdm stops each query at its own fixed point, the NumPy loop stops "
        "the batch when every query has stopped, so a converged query may move by up "
        "to the tolerance more there).",
        f"Timing: {reps} pairs per row, back to back, the first call of each pair "
        "alternating (an idle pause before each call, as in the ContinuousSDM rows, made "
        "calls of 1 vector 2-4x slower on both sides here: caches and clocks cool down); "
        f"fastsdm with {threads} numba threads, NumPy with its BLAS ({blas_info()}).",
    ]


def hopfield_report(rows):
    out = ["## The associative-memory family: Hopfield networks against NumPy", "",
           "| model | operation | n | m | batch | fastsdm median (min) | NumPy median (min) | "
           "NumPy / fastsdm, paired: median (IQR) | ratio of the minima |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        st = r["ratio"]
        out.append(f"| {r['model']} | {r['op']} | {r['n']} | {r['m']:,} | {r['batch']} | "
                   f"{fmt_time(r['fastsdm_s'])} ({fmt_time(r['fastsdm_min_s'])}) | "
                   f"{fmt_time(r['numpy_s'])} ({fmt_time(r['numpy_min_s'])}) | "
                   f"{st['median']:.2f} ({st['q1']:.2f}–{st['q3']:.2f}) | "
                   f"{r['ratio_of_minima']:.2f} |")
    out += ["", "Times: wall time of one call, median (minimum) over the pairs.  Ratios: "
            "NumPy / fastsdm (above 1, fastsdm is faster): per pair, the median and "
            "interquartile range; and the ratio of the two minima, the least disturbed "
            "calls of each side (on a shared machine the steadier estimate of the cost).",
            ""]
    return out


def hopfield_main(args):
    """``--only-hopfield``: the machine block and the Hopfield rows alone."""
    section_main(args, "--only-hopfield", partial(hopfield_section, args), hopfield_report)


# -- report --------------------------------------------------------------------------


def best_alternative(rows, row):
    """(time, name) of the fastest row of another implementation on the same workload."""
    family = "fastsdm" if row["impl"].startswith("fastsdm") else row["impl"]
    same = [x for x in rows if x.get("workload") == row["workload"]
            and x.get("queries") == row.get("queries")]
    others = [x for x in same if ("fastsdm" if x["impl"].startswith("fastsdm") else x["impl"])
              != family]
    if not others:
        return None
    best = min(others, key=lambda x: x["median"])
    return best["median"], best["impl"]


def print_floors(out, floors, A_shape):
    N, W = A_shape
    out.append("## Floors (benchmarks/floors.py)")
    out.append("")
    out.append(f"Vector code: fastsdm `{floors['simd']}`; DRAM floor kernel "
               f"{floors['width_dram']}, xor+popcount floor kernel {floors['width_popcount']}.")
    out.append("")
    out.append("| floor | threads | median | spread (min–max) | rate (fastest repeat) |")
    out.append("|---|---|---|---|---|")
    for key, value in floors.items():
        if key.startswith("dram_"):
            out.append(f"| DRAM read of the address matrix ({N:,} × {W} words) | "
                       f"{value['threads']} | {fmt_time(value['seconds'])} | "
                       f"{fmt_time(value['min'])}–{fmt_time(value['max'])} | "
                       f"{value['GB_per_s']:.1f} GB/s |")
        elif key.startswith("popcount_"):
            qps = value["Gpairs_per_s"] * 1e9 / (N * W)
            out.append(f"| xor + popcount + add in registers | {value['threads']} | "
                       f"{fmt_time(value['seconds'])} | {fmt_time(value['min'])}–"
                       f"{fmt_time(value['max'])} | {value['Gpairs_per_s']:.1f} G word pairs/s "
                       f"= {qps:,.0f} queries/s over {N:,} × {W} words |")
    out.append("")


def print_report(info, floors, launch, rec, notes, argv, started, elapsed, base_commit):
    out = []
    rows = rec.rows
    vs = f"old/new vs {base_commit} (paired)" if base_commit else None
    out.append("# fastsdm compare.py")
    out.append("")
    out.append(f"Command: `{argv}`  ")
    out.append(f"Started: {started}; wall time {elapsed:.0f} s")
    out.append("")
    out.append("## Machine")
    out.append("")
    out.append("| | |")
    out.append("|---|---|")
    for key, value in info.items():
        out.append(f"| {key} | {value} |")
    out.append("")
    print_floors(out, floors, (N_LOCATIONS, -(-N_BITS // 64)))

    out.append("## Parallel launch cost")
    out.append("")
    out.append("Median time of one tiny call (`hamming_distances`, 1 query × 1,000 addresses "
               "of 1024 bits), 200 calls in a fresh process per policy; *gap* = busy Python "
               "work between calls (the application's own work).  fastsdm runs parallel "
               "tasks on its own threads, so the OpenMP policy no longer matters to it.")
    out.append("")
    out.append("| OMP_WAIT_POLICY | serial, gap 0 | serial, gap 1 ms | parallel, gap 0 "
               "| parallel, gap 1 ms |")
    out.append("|---|---|---|---|---|")
    for policy, r in launch.items():
        out.append(f"| {policy} | {fmt_time(r['serial_gap0ms'])} | {fmt_time(r['serial_gap1ms'])} "
                   f"| {fmt_time(r['parallel_gap0ms'])} | {fmt_time(r['parallel_gap1ms'])} |")
    out.append("")

    above = []  # rows timed faster than their floor

    def ratio_cells(r):
        alt = best_alternative(rows, r)
        if r["impl"].startswith("fastsdm"):
            best = f"{alt[0] / r['median']:.3g}× ({alt[1]})" if alt else "—"
        else:
            fast = next((x for x in rows if x.get("workload") == r["workload"]
                         and x.get("queries") == r.get("queries") and x["impl"] == "fastsdm"),
                        None)
            best = f"{fast['median'] / r['median']:.3g}× (fastsdm)" if fast else "—"
        pct = 100 * r["floor"] / r["median"]
        if pct > 100:
            above.append(r)
        cell = f"{pct:.0f}%{' ⚠' if pct > 100 else ''} ({r['floor_kind']})"
        paired = r.get("floor_paired")
        if paired:
            cell += (f"; paired {100 * paired['median']:.0f}% "
                     f"({100 * paired['min']:.0f}–{100 * paired['max']:.0f})")
        return best, cell

    search = [r for r in rows if r["section"] == "search"]
    if search:
        out.append(f"## Search: N = {N_LOCATIONS:,} × {N_BITS} bits")
        out.append("")
        head = ("| workload | queries | implementation | threads | vector width | median "
                "| spread (min–max) | CPU | queries/s | × best alternative | % of floor |")
        out.append(head + (f" {vs} |" if vs else ""))
        out.append("|---" * (11 + bool(vs)) + "|")
        for r in search:
            best, pct = ratio_cells(r)
            line = (f"| {r['workload']} | {r['queries']} | {r['impl']} | {r['threads']} | "
                    f"{r['width']} | {fmt_time(r['median'])} | {fmt_time(r['min'])}–"
                    f"{fmt_time(r['max'])} | {fmt_time(r['cpu'])} | {fmt_rate(r['per_s'])} | "
                    f"{best} | {pct} |")
            out.append(line + (f" {fmt_ratio(r['baseline'])} |" if vs else ""))
        out.append("")
    scaling = [r for r in rows if r["section"] == "scaling"]
    if scaling:
        out.append(f"## Cost per word against N (radius search, {BATCH} queries, {N_BITS} bits)")
        out.append("")
        out.append("| N | median | spread (min–max) | CPU | ns per word | CPU ns per word |"
                   + (f" {vs} |" if vs else ""))
        out.append("|---" * (6 + bool(vs)) + "|")
        for r in scaling:
            out.append(f"| {r['N']:,} | {fmt_time(r['median'])} | {fmt_time(r['min'])}–"
                       f"{fmt_time(r['max'])} | {fmt_time(r['cpu'])} | {r['ns_per_word']:.4f} | "
                       f"{r['cpu_ns_per_word']:.4f} |"
                       + (f" {fmt_ratio(r['baseline'])} |" if vs else ""))
        out.append("")
    sdm = [r for r in rows if r["section"] == "sdm"]
    if sdm:
        out.append(f"## SDM: n = {SDM_BITS}, N = {N_LOCATIONS:,}, int8, radius {SDM_RADIUS}")
        out.append("")
        out.append("| operation | implementation | ops timed | threads | vector width | median "
                   "per op | spread (min–max) | CPU per op | ops/s | × best alternative | "
                   "÷ its scan (paired) | % of floor |" + (f" {vs} |" if vs else ""))
        out.append("|---" * (12 + bool(vs)) + "|")
        for r in sdm:
            best, pct = ratio_cells(r)
            scan = r.get("scan")
            if scan is None:
                vs_scan = "—"
            elif "one per call" in r["workload"]:
                vs_scan = f"{fmt_ratio(scan)}× the scan's time"
            else:
                vs_scan = f"{fmt_ratio(scan)}× the scan's ops/s"
            out.append(f"| {r['workload']} | {r['impl']} | {r['ops']} | {r['threads']} | "
                       f"{r['width']} | {fmt_time(r['median'])} | {fmt_time(r['min'])}–"
                       f"{fmt_time(r['max'])} | {fmt_time(r['cpu'])} | {fmt_rate(r['per_s'])} | "
                       f"{best} | {vs_scan} | {pct} |"
                       + (f" {fmt_ratio(r['baseline'])} |" if vs else ""))
        out.append("")
    breakdown = getattr(rec, "breakdown", None)
    if breakdown:
        out.append("### Where the canonical SDM's time goes (per operation)")
        out.append("")
        out.append("| operation | total | scan / activation | counter rows and the rest | "
                   "the same rows alone | share of the scan | how |")
        out.append("|---|---|---|---|---|---|---|")
        for b in breakdown:
            ops = b["ops"]
            alone = fmt_time(b["rows_alone"] / ops) if "rows_alone" in b else "—"
            out.append(f"| {b['operation']} | {fmt_time(b['total'] / ops)} | "
                       f"{fmt_time(b['scan'] / ops)} | {fmt_time(b['counters'] / ops)} | "
                       f"{alone} | {100 * b['scan'] / b['total']:.0f}% | {b['part']} |")
        out.append("")
    out.extend(continuous_report(rows, base_commit))
    out.append("## Notes")
    out.append("")
    out.extend(f"- {note}" for note in notes)
    out.append("- Medians over repeats after one warm-up call; *CPU* is the median process "
               "CPU time (all threads); *threads* the threads the row ran on.")
    out.append("- *× best alternative*: for a fastsdm row, the fastest other implementation's "
               "time / this row's time; for another implementation, fastsdm's (default "
               "serial/parallel choice) time / this row's time.")
    out.append("- *% of floor* = floor / measured time, the floor being the larger of one DRAM "
               "pass over the addresses and every word pair at the register xor+popcount "
               "rate, both measured at the row's thread count, each at the rate of its "
               "fastest repeat (SDM rows add the activated counter rows, read once and, for "
               "writes, written once, at DRAM bandwidth).  *paired* (the search section's "
               "fastsdm rows): the floor kernel doing this row's work (the pass or the word "
               "pairs, whichever bounds it) timed alternately with the row, floor time / row "
               "time per pair, median (min–max): this VM's two-thread speed drifts within "
               "minutes, and the pairs see the same machine.")
    if above:
        out.append(f"- ⚠ {len(above)} row(s) ran faster than their floor.  Either other jobs "
                   "slowed the floors' measurement, or the row reused data that a previous "
                   "call left in the last-level cache (the DRAM floor is one pass with no "
                   "reuse; calls repeated on the same addresses can keep part of them "
                   "cached): for those rows *% of floor* is not a bound.")
    if base_commit:
        out.append(f"- *{vs}*: the same call with fastsdm at {base_commit}, timed alternately "
                   "in this process; > 1 means this commit is faster (median, min–max).")
    print("\n".join(out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and sizes (about 5 min on 2 cores)")
    parser.add_argument("--json", metavar="PATH", help="also save the raw figures as JSON")
    parser.add_argument("--skip-sdm", action="store_true", help="no SDM workloads")
    parser.add_argument("--skip-search", action="store_true", help="no search workloads")
    parser.add_argument("--skip-scaling", action="store_true", help="no cost-per-word rows")
    parser.add_argument("--skip-continuous", action="store_true",
                        help="without the ContinuousSDM workloads")
    parser.add_argument("--only-continuous", action="store_true",
                        help="only the ContinuousSDM workloads (~10 min; --quick ~1 min)")
    parser.add_argument("--only-weighted", action="store_true",
                        help="only the weighted SDM operations of issue 16 (distance weights, "
                        "kappa, z reads) against NumPy, and with --baseline the default "
                        "write/read paired against that commit (~2 min; --quick ~1 min)")
    parser.add_argument("--only-hyperplane", action="store_true",
                        help="only the SDM rows of the hyperplane rule against the radius rule "
                             "(~3 min; --quick: N = 10^5 only)")
    parser.add_argument("--only-hopfield", action="store_true",
                        help="only the classical and modern Hopfield networks against NumPy "
                             "(~3 min; --quick ~1 min)")
    parser.add_argument("--large-n", action="store_true",
                        help="cost per word up to N = 10^8 (12.8 GB of addresses)")
    parser.add_argument("--baseline", metavar="REV",
                        help="time the fastsdm rows of the search, cost-per-word, SDM and "
                             "ContinuousSDM sections (and --only-weighted's default "
                             "write/read) alternately with fastsdm at this git revision of "
                             "the checkout")
    args = parser.parse_args(argv)
    if args.baseline and (args.only_hyperplane or args.only_hopfield):
        parser.error("--baseline pairs the search, cost-per-word, SDM and ContinuousSDM rows "
                     "and --only-weighted's default write/read; --only-hyperplane and "
                     "--only-hopfield have no paired rows: drop --baseline, or run the full "
                     "comparison with it")
    use_this_checkout()
    args.repeats = 5 if args.quick else 11
    args.numpy_queries = 4 if args.quick else 32
    args.naive_ops = 4 if args.quick else 16
    if args.only_continuous:
        return continuous_main(args)
    if args.only_weighted:
        return weighted_main(args)
    if args.only_hyperplane:
        return hyperplane_main(args)
    if args.only_hopfield:
        return hopfield_main(args)

    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    t_start = time.perf_counter()
    from floors import measure_floors

    import fastsdm

    print(f"# running: {command}", file=sys.stderr)
    notes = []
    t0 = time.perf_counter()
    fastsdm.warmup(("int8",))
    notes.append(f"fastsdm.warmup(('int8',)) took {time.perf_counter() - t0:.1f} s before "
                 "timing (compiling, or loading numba's cache).")
    base = None
    if args.baseline:
        import baseline

        base = baseline.load(args.baseline)
        t0 = time.perf_counter()
        base.warmup(("int8",))
        notes.append(f"Baseline: fastsdm at {base.BASELINE_COMMIT}, imported beside this one "
                     f"(warmup {time.perf_counter() - t0:.1f} s).")
    info = machine_info()

    A = fastsdm.random_addresses(N_LOCATIONS, N_BITS, seed=0)
    Q = fastsdm.random_addresses(BATCH, N_BITS, seed=1)
    print("# floors", file=sys.stderr)
    import numba

    # The floors at every thread count a row runs with (1, 2 and numba's).
    counts = tuple(sorted({1, min(2, numba.get_num_threads()), numba.get_num_threads()}))
    floors, problems = best_floors(partial(measure_floors, A, args.repeats, counts))
    if problems:
        notes.append("**The floors are not consistent** (" + "; ".join(problems) + ") after "
                     "three measurements: other jobs were running, and every *% of floor* "
                     "below is overstated. Re-run on an idle machine.")
    print("# parallel launch cost", file=sys.stderr)
    launch = launch_costs()
    rec = Recorder(args, floors, base)
    if not args.skip_search:
        print("# search", file=sys.stderr)
        search_section(args, A, Q, rec, notes)
    del A
    if not args.skip_scaling:
        print("# cost per word against N", file=sys.stderr)
        scaling_section(args, rec, notes)
    if not args.skip_sdm:
        print("# SDM", file=sys.stderr)
        sdm_section(args, rec, notes)
    if not args.skip_continuous:
        print("# ContinuousSDM", file=sys.stderr)
        continuous_section(args, rec.rows, notes, base)
    elapsed = time.perf_counter() - t_start
    base_commit = base.BASELINE_COMMIT if base is not None else None
    print_report(info, floors, launch, rec, notes, command, started, elapsed, base_commit)
    if args.json:
        payload = {"command": command, "started": started, "elapsed_s": elapsed,
                   "machine": info, "floors": floors, "launch_cost_s": launch,
                   "rows": rec.rows,
                   "breakdown": getattr(rec, "breakdown", None), "notes": notes}
        Path(args.json).write_text(json.dumps(payload, indent=1, default=str))


if __name__ == "__main__":
    main()
