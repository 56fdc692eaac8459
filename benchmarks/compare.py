"""fastsdm side by side with the alternatives, in one process, on the same data.

    python benchmarks/compare.py            # full: more repeats, larger subsets
    python benchmarks/compare.py --quick    # < 5 min on 2 cores
    python benchmarks/compare.py --json out.json

Workloads (every result is checked against fastsdm before it is timed):

* Hamming scan, radius search and k-NN over N = 10^6 addresses of 1024 bits,
  batches of 1 and 256 queries: fastsdm, faiss-cpu (``faiss.hammings``,
  ``IndexBinaryFlat.range_search`` / ``search``), NumPy 2
  (``np.bitwise_count(q ^ A).sum(-1)``, chunked) and ``bitarray.util.count_xor``
  (a Python loop per pair: timed on N = 10^4 and scaled).
* Kanerva's canonical SDM (n = 1000, N = 10^6, int8 counters, radius 451):
  fastsdm against a straightforward NumPy SDM (``naive_sdm.py``) and, when it
  imports, torchhd's ``SparseDistributed``: writes and reads in batches of 256
  and 1,024 and one per call, with identical counters and reads asserted.
* This machine's limits: the time to stream the address matrix once (memory
  bandwidth) and an L1-resident xor + popcount + add loop on all threads (the
  popcount ceiling); every scan is also reported as a fraction of its bound.

Prints Markdown (machine, tables, notes); timings are medians over repeats,
with the spread (min-max) and the median process CPU time (a sanity check
when the machine is shared: CPU time is far less sensitive to other load).
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
KNN_K = 10
# The SDM: Kanerva's canonical memory.
SDM_BITS = 1000
SDM_RADIUS = 451
#: SDM operations also run in batches of this size: per-call costs (the tile
#: transposition, the thread launch) spread over more operations.
SDM_BIG_BATCH = 1024


# -- timing --------------------------------------------------------------------


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
    is steadier than a ratio of medians taken minutes apart.
    """
    fast()
    slow()
    ratios = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fast()
        t1 = time.perf_counter()
        slow()
        ratios.append((time.perf_counter() - t1) / (t1 - t0))
    return ratios


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

    import fastsdm

    model, flags = cpu_info()
    info = {
        "cpu": model,
        "avx512f": "avx512f" in flags,
        "avx512_vpopcntdq": "avx512_vpopcntdq" in flags,
        "logical_cpus": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "fastsdm": f"{fastsdm.__version__} ({Path(fastsdm.__file__).parent})",
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
    try:
        import faiss

        info["faiss_omp_threads"] = faiss.omp_get_max_threads()
        # Which SIMD paths faiss was built with (its wheels dispatch at run time).
        info["faiss_compile_options"] = faiss.get_compile_options().strip()
    except ImportError:
        pass
    return info


def threading_layer():
    """numba's threading layer, after one (tiny) parallel call."""
    import numba

    import fastsdm

    a = fastsdm.random_addresses(64, 64, seed=0)
    fastsdm.hamming_distances(a[:1], a, parallel=True)
    try:
        return numba.threading_layer()
    except ValueError:
        return "unknown"


# -- machine limits ----------------------------------------------------------------


def build_limit_kernels():
    import numba

    from fastsdm._intrinsics import popcount  # the same ctpop as the library's kernels

    # The loops live in plain @njit helpers over whole (sliced) arrays: with
    # `range(lo, hi)` indices numba must handle negative indices and the loop
    # runs ~5x slower (measured).
    @numba.njit(cache=False)
    def chunk_sum(chunk):
        s = np.uint64(0)
        for i in range(chunk.size):
            s += chunk[i]
        return s

    @numba.njit(parallel=True, cache=False)
    def parallel_sum(a, n_chunks):
        flat = a.reshape(-1)
        step = (flat.size + n_chunks - 1) // n_chunks
        partial = np.zeros(n_chunks, np.uint64)
        for c in numba.prange(n_chunks):
            partial[c] = chunk_sum(flat[c * step : (c + 1) * step])
        return partial.sum()

    @numba.njit(cache=False)
    def popcount_block(buf, reps):
        # Four queries per loaded word, in registers (the tiled scan's blocking):
        # per word pair one xor, one popcount, one add.  4 * reps * buf.size pairs.
        s0 = s1 = s2 = s3 = 0
        for r in range(reps):
            k0 = np.uint64(r) * np.uint64(0xD1B54A32D192ED03)
            k1 = k0 ^ np.uint64(0x5555555555555555)
            k2 = k0 ^ np.uint64(0x3333333333333333)
            k3 = k0 ^ np.uint64(0x0F0F0F0F0F0F0F0F)
            for i in range(buf.size):
                w = buf[i]
                s0 += popcount(w ^ k0)
                s1 += popcount(w ^ k1)
                s2 += popcount(w ^ k2)
                s3 += popcount(w ^ k3)
        return s0 + s1 + s2 + s3

    @numba.njit(parallel=True, cache=False)
    def popcount_loop(n_threads, n_words, reps):
        # Each thread: xor + popcount + add over its own L1-resident buffer.
        out = np.zeros(n_threads, np.int64)
        for t in numba.prange(n_threads):
            buf = (np.arange(n_words) + t).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
            out[t] = popcount_block(buf, reps)
        return out

    return parallel_sum, popcount_loop


def machine_limits(A, repeats):
    import numba

    parallel_sum, popcount_loop = build_limit_kernels()
    threads = numba.get_num_threads()
    nbytes = A.nbytes
    limits = {}
    t = measure(lambda: A.sum(), repeats)
    limits["bandwidth_numpy_1thread"] = {"time": t, "GB_per_s": nbytes / t["median"] / 1e9}
    t = measure(lambda: parallel_sum(A, 4 * threads), repeats)
    limits["bandwidth_numba_parallel"] = {"time": t, "GB_per_s": nbytes / t["median"] / 1e9,
                                          "threads": threads}
    n_words, reps = 2048, 25_000  # 16 KiB per thread: L1-resident
    for label, n_threads in (("popcount_1thread", 1), ("popcount_all_threads", threads)):
        t = measure(lambda n=n_threads: popcount_loop(n, n_words, reps), repeats)
        words = n_threads * 4 * n_words * reps  # (query word, address word) pairs
        limits[label] = {"time": t, "Gwords_per_s": words / t["median"] / 1e9,
                         "Gwords_per_cpu_s": words / t["cpu_median"] / 1e9,
                         "threads": n_threads}
    # The bounds: the best bandwidth seen, and one thread's popcount rate per CPU
    # second times the thread count (CPU time is not inflated by other load on a
    # shared machine, so this is the ceiling even when the wall figures are not).
    limits["bound_bandwidth_GB_per_s"] = max(limits["bandwidth_numpy_1thread"]["GB_per_s"],
                                             limits["bandwidth_numba_parallel"]["GB_per_s"])
    limits["bound_popcount_Gwords_per_s"] = (
        threads * limits["popcount_1thread"]["Gwords_per_cpu_s"])
    return limits


def scan_bound(limits, n_queries, n_locations, n_words):
    """Lower bound on a scan's time: stream the matrix once, popcount every word pair."""
    bw = limits["bound_bandwidth_GB_per_s"] * 1e9
    pc = limits["bound_popcount_Gwords_per_s"] * 1e9
    t_bw = n_locations * n_words * 8 / bw
    t_pc = n_queries * n_locations * n_words / pc
    return (t_bw, "bandwidth") if t_bw >= t_pc else (t_pc, "popcount")


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

    results = {}
    for policy in ("default (unset)", "active", "passive"):
        env = dict(os.environ)
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
        assert np.array_equal(ours, theirs), f"faiss range_search differs for query {i}"
        assert np.array_equal(D[seg][order].astype(np.int64), dist[i, ours]), \
            f"faiss range_search distances differ for query {i}"


def check_knn_faiss(idx, dist, D, I, full):
    """Distances identical; indices identical up to the order of equal distances.

    Below the k-th distance the *sets* of indices at each distance must agree;
    at the k-th distance faiss may keep other (equally near) locations than
    fastsdm's lower-index rule: those must be at that distance.  Returns the
    number of queries whose index lists differ in any way.
    """
    assert np.array_equal(D.astype(np.int64), dist.astype(np.int64)), "faiss knn distances"
    differ = 0
    for i in range(idx.shape[0]):
        if not np.array_equal(idx[i], I[i]):
            differ += 1
        kth = dist[i, -1]
        below = dist[i] < kth
        assert set(idx[i][below]) == set(I[i][D[i] < kth]), f"faiss knn set, query {i}"
        assert np.all(full[i, I[i]] == D[i]), f"faiss knn index/distance mismatch, query {i}"
        assert len(set(I[i].tolist())) == I.shape[1], f"faiss knn duplicate, query {i}"
    return differ


# -- search section ---------------------------------------------------------------


def search_section(args, A, Q, limits, rows, notes):
    import fastsdm
    from fastsdm.theory import radius_for_probability

    from_faiss = None
    try:
        from_faiss = Faiss(A)
    except ImportError:
        notes.append("faiss-cpu is not installed: its rows are skipped.")
    W = A.shape[1]
    radius = radius_for_probability(N_BITS, 0.001)
    reps_fast = args.repeats
    reps_slow = max(2, args.repeats // 2)
    n_np = args.numpy_queries
    ba_n = 10_000
    A_bits_small = fastsdm.to_bitarray(A[:ba_n], N_BITS)
    N = A.shape[0]
    notes.append(f"Search: N = {N:,} addresses of {N_BITS} bits ({A.nbytes / 2**20:.0f} MiB), "
                 f"radius {radius} (activation probability 0.001), k = {KNN_K}.")
    notes.append(f"NumPy rows for a batch of {BATCH} are timed on its first {n_np} queries "
                 f"and scaled ×{BATCH // n_np} (marked †); NumPy runs on one thread.")
    notes.append(f"bitarray.util.count_xor is a Python loop per (query, address) pair: timed on "
                 f"N = {ba_n:,} and scaled ×{N // ba_n} (marked ‡).")

    def add(workload, nq, impl, t, scale=1.0, mark=""):
        bound, kind = scan_bound(limits, nq, N, W)
        med = t["median"] * scale
        rows.append({"section": "search", "workload": workload, "queries": nq,
                     "impl": impl + mark, "median": med, "min": t["min"] * scale,
                     "max": t["max"] * scale, "cpu": t["cpu_median"] * scale,
                     "per_s": nq / med, "bound": bound, "bound_kind": kind,
                     "extrapolated": scale != 1.0})

    for nq in (1, BATCH):
        reps = reps_fast if nq == 1 else reps_slow
        search_batch(Q[:nq], A, radius, reps, n_np, A_bits_small, from_faiss, add, notes)


def search_batch(Qb, A, radius, reps, n_np, A_bits_small, from_faiss, add, notes):
    """One batch size: check every implementation against fastsdm, then time it."""
    import fastsdm

    nq, N = Qb.shape[0], A.shape[0]
    ba_n = len(A_bits_small)
    sub = Qb[: min(nq, n_np)]
    scale_np = nq / sub.shape[0]
    mark_np = "†" if scale_np != 1 else ""

    # -- full distances
    ref = fastsdm.hamming_distances(Qb, A)
    assert np.array_equal(numpy_distances(sub, A), ref[: sub.shape[0]]), "numpy distances"
    if from_faiss:
        assert np.array_equal(from_faiss.distances(Qb), ref), "faiss distances"
    q_bits = fastsdm.to_bitarray(Qb[0], N_BITS)
    assert np.array_equal(bitarray_distances(q_bits, A_bits_small), ref[0, :ba_n]), \
        "bitarray distances"
    add("scan (all distances)", nq, "fastsdm",
        measure(lambda: fastsdm.hamming_distances(Qb, A), reps))
    add("scan (all distances)", nq, "fastsdm, serial",
        measure(lambda: fastsdm.hamming_distances(Qb, A, parallel=False), reps))
    if from_faiss:
        add("scan (all distances)", nq, "faiss.hammings",
            measure(lambda: from_faiss.distances(Qb), reps))
    add("scan (all distances)", nq, "NumPy bitwise_count",
        measure(lambda: numpy_distances(sub, A), reps), scale_np, mark_np)
    if nq == 1:
        add("scan (all distances)", nq, "bitarray count_xor",
            measure(lambda: bitarray_distances(q_bits, A_bits_small), reps, warmup=0),
            N / ba_n, "‡")

    # -- radius search
    indptr, indices = fastsdm.radius_search(Qb, A, radius)
    for i, found in enumerate(numpy_radius(sub, A, radius)):
        assert np.array_equal(found, indices[indptr[i] : indptr[i + 1]]), "numpy radius"
    if from_faiss:
        check_radius_faiss(indptr, indices, *from_faiss.radius(Qb, radius), ref)
    add("radius search", nq, "fastsdm",
        measure(lambda: fastsdm.radius_search(Qb, A, radius), reps))
    add("radius search", nq, "fastsdm, serial",
        measure(lambda: fastsdm.radius_search(Qb, A, radius, parallel=False), reps))
    if from_faiss:
        add("radius search", nq, "faiss range_search",
            measure(lambda: from_faiss.radius(Qb, radius), reps))
        ratios = paired_ratios(lambda: fastsdm.radius_search(Qb, A, radius),
                               lambda: from_faiss.radius(Qb, radius), reps)
        notes.append(f"Radius search, {nq} quer{'y' if nq == 1 else 'ies'}, fastsdm and faiss "
                     f"range_search timed in alternation ({len(ratios)} pairs): faiss / fastsdm "
                     f"= {np.median(ratios):.2f}× (median; {min(ratios):.2f}–"
                     f"{max(ratios):.2f}×).")
    add("radius search", nq, "NumPy bitwise_count",
        measure(lambda: numpy_radius(sub, A, radius), reps), scale_np, mark_np)

    # -- k nearest
    idx, dist = fastsdm.knn_search(Qb, A, KNN_K)
    np_i, np_d = numpy_knn(sub, A, KNN_K)
    assert np.array_equal(np_i, idx[: sub.shape[0]]), "numpy knn indices"
    assert np.array_equal(np_d, dist[: sub.shape[0]]), "numpy knn distances"
    if from_faiss:
        D, I = from_faiss.knn(Qb, KNN_K)
        differ = check_knn_faiss(idx, dist, D, I, ref)
        notes.append(f"k-NN, {nq} quer{'y' if nq == 1 else 'ies'}: faiss returned identical "
                     f"distances; {differ} of {nq} index lists differ from fastsdm's, and only "
                     "in the order of equally distant locations or in which of them fill the "
                     "last places (fastsdm: lower index first; checked).")
    add(f"k-NN (k={KNN_K})", nq, "fastsdm",
        measure(lambda: fastsdm.knn_search(Qb, A, KNN_K), reps))
    add(f"k-NN (k={KNN_K})", nq, "fastsdm, serial",
        measure(lambda: fastsdm.knn_search(Qb, A, KNN_K, parallel=False), reps))
    if from_faiss:
        add(f"k-NN (k={KNN_K})", nq, "faiss IndexBinaryFlat.search",
            measure(lambda: from_faiss.knn(Qb, KNN_K), reps))
    add(f"k-NN (k={KNN_K})", nq, "NumPy bitwise_count",
        measure(lambda: numpy_knn(sub, A, KNN_K), reps), scale_np, mark_np)


# -- SDM section ---------------------------------------------------------------------


def sdm_section(args, rows, notes):
    from naive_sdm import NaiveSDM

    import fastsdm

    n, N = SDM_BITS, N_LOCATIONS
    mem = fastsdm.SDM(n, N, radius=SDM_RADIUS, counter_dtype="int8", ties="zero", seed=0)
    address_bytes = mem.addresses.view(np.uint8)[:, : -(-n // 8)]
    # The words' bytes are np.packbits of the bits (fastsdm's layout contract).
    sample = fastsdm.unpack_bits(mem.addresses[:1000], n)
    assert np.array_equal(np.packbits(sample, axis=1), address_bytes[:1000]), "layout"
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
    assert np.array_equal(mem.counters, naive.counters), "SDM counters differ"
    ours = fastsdm.unpack_bits(mem.read(cues[:m]), n)
    assert np.array_equal(ours, naive.read_many(cue_bits[:m])), "SDM reads differ"
    ours_one = np.stack([fastsdm.unpack_bits(mem.read(c), n) for c in cues[:m]])
    assert np.array_equal(ours_one, ours), "one-per-call reads differ from batched"
    activated = np.diff(mem.activate(cues[:m])[0]).mean()
    notes.append(f"SDM: {activated:.0f} locations activated per operation on average; "
                 f"counters and reads identical after {m} writes and {m} reads.")

    # Batched fastsdm calls take ~0.15-0.6 s: as many repeats as the search
    # rows, so that their medians are as steady; the slow serial rows fewer.
    reps, reps_slow = args.repeats, max(2, args.repeats // 2)
    one = min(16, BATCH)

    def add(op, impl, t, ops):
        rows.append({"section": "sdm", "workload": op, "impl": impl, "ops": ops,
                     "median": t["median"] / ops, "min": t["min"] / ops, "max": t["max"] / ops,
                     "cpu": t["cpu_median"] / ops, "per_s": ops / t["median"]})

    add(f"write, batch of {BATCH}", "fastsdm",
        measure(lambda: mem.write(patterns), reps), BATCH)
    add(f"write, batch of {BATCH}", "fastsdm, serial",
        measure(lambda: mem.write(patterns, parallel=False), reps_slow), BATCH)
    add(f"read, batch of {BATCH}", "fastsdm", measure(lambda: mem.read(cues), reps), BATCH)
    add(f"read, batch of {BATCH}", "fastsdm, serial",
        measure(lambda: mem.read(cues, parallel=False), reps_slow), BATCH)
    big = fastsdm.random_addresses(SDM_BIG_BATCH, n, seed=3)
    big_cues = fastsdm.flip_bits(big, n, n // 10, seed=4)
    add(f"write, batch of {SDM_BIG_BATCH}", "fastsdm",
        measure(lambda: mem.write(big), reps), SDM_BIG_BATCH)
    add(f"read, batch of {SDM_BIG_BATCH}", "fastsdm",
        measure(lambda: mem.read(big_cues), reps), SDM_BIG_BATCH)

    def write_each():
        for x in patterns[:one]:
            mem.write(x)

    def read_each():
        for x in cues[:one]:
            mem.read(x)

    add("write, one per call", "fastsdm", measure(write_each, reps), one)
    add("read, one per call", "fastsdm", measure(read_each, reps), one)
    t_w = measure(partial(naive.write_many, pattern_bits[:m]), reps_slow, warmup=0)
    t_r = measure(partial(naive.read_many, cue_bits[:m]), reps_slow, warmup=0)
    for op in (f"write, batch of {BATCH}", "write, one per call"):
        add(op, "NumPy SDM (naive_sdm.py)", t_w, m)
    for op in (f"read, batch of {BATCH}", "read, one per call"):
        add(op, "NumPy SDM (naive_sdm.py)", t_r, m)
    del naive
    torchhd_rows(args, mem, patterns, cues, rows, notes, add, m)


def torchhd_rows(args, mem, patterns, cues, rows, notes, add, m):
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
        with torch.no_grad():
            add(f"write, batch of {BATCH}", "torchhd SparseDistributed",
                measure(lambda: sdm.write(Pb.clone(), Pb.clone()), reps), BATCH)
            add(f"read, batch of {BATCH}", "torchhd SparseDistributed",
                measure(lambda: sdm.read(Cb.clone()), reps), BATCH)
    except Exception as exc:  # an unverified optional path must not sink the run
        notes.append(f"torchhd comparison failed and was skipped: {exc!r}")


# -- ContinuousSDM section ---------------------------------------------------------------

#: (dim, n_locations, batch sizes) of the ContinuousSDM rows; memories of
#: ~1 GiB of addresses at most (the NumPy baseline needs its own accumulators).
CONTINUOUS_POINTS = [(256, 1_000_000, (1, 16, 256, 1024)), (64, 1_000_000, (1, 256)),
                     (1024, 250_000, (1, 256)), (256, 10_000, (1, 256))]
CONTINUOUS_POINTS_QUICK = [(256, 200_000, (1, 256)), (64, 100_000, (256,)),
                           (1024, 50_000, (256,)), (256, 10_000, (1, 256))]


#: Idle seconds before each timed call of the ContinuousSDM rows: OpenBLAS's
#: worker threads spin for 50-100 ms after a call (measured), taking a core
#: from whatever runs next; back to back, fastsdm's single-query calls after a
#: NumPy call ran 1.3-1.5x slower than after an idle pause.
CONTINUOUS_GAP = 0.15


def _alternating_times(repeats, *fns, gap=CONTINUOUS_GAP):
    """Call ``fns`` in turn, ``repeats`` rounds after a warm-up round, each after ``gap``
    idle seconds; the wall times per round."""
    for fn in fns:
        fn()
    times = np.zeros((len(fns), repeats))
    for r in range(repeats):
        for k, fn in enumerate(fns):
            time.sleep(gap)
            t0 = time.perf_counter()
            fn()
            times[k, r] = time.perf_counter() - t0
    return times


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


def continuous_section(args, rows, notes):
    """ContinuousSDM against the obvious NumPy code (naive_continuous.py) and NumPy's GEMM."""
    from fastsdm import continuous

    points = CONTINUOUS_POINTS_QUICK if args.quick else CONTINUOUS_POINTS
    notes.append(f"ContinuousSDM: radius with activation probability ≥ 0.001 for each dim, "
                 f"float32 accumulators, value_dim = dim; threshold scan "
                 f"{'int8 (AVX-512 VNNI)' if continuous.INT8_SCAN else 'BLAS'} for batches of "
                 f"≥ {continuous.ROWS_MAX_QUERIES} queries, rows below. NumPy's BLAS: "
                 f"{blas_info()} (its default).")
    for dim, N, batches in points:
        continuous_point(args, dim, N, batches, rows, notes)


def continuous_point(args, dim, N, batches, rows, notes):
    """One memory: every batch size, checked, then timed."""
    from _common import continuous_radius
    from naive_continuous import NaiveContinuousSDM

    from fastsdm.continuous import ContinuousSDM

    mem = ContinuousSDM(dim, N, radius=continuous_radius(dim), seed=0)
    margin = (dim + 4) * 2.0**-23  # ContinuousSDM's bound on a float32 dot's error
    exact = NaiveContinuousSDM(mem.addresses, mem.threshold, exact=True, margin=margin)
    plain = NaiveContinuousSDM(mem.addresses, mem.threshold)
    plain.accumulators = exact.accumulators  # one array: the exact code only checks
    rng = np.random.default_rng(1)
    for batch in batches:
        X = rng.standard_normal((batch, dim)).astype(np.float32)
        continuous_checks(mem, exact, plain, X, rng, notes)
        continuous_batch(args, mem, plain, X, rows)


def continuous_batch(args, mem, plain, X, rows):
    """Paired timings of activate, write and read: fastsdm / NumPy code / NumPy's GEMM."""
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
    for op, fast, slow in (("activate", lambda: mem.activate(x), lambda: plain.activate(X)),
                           ("write", lambda: mem.write(x), lambda: plain.write(X)),
                           ("read", lambda: mem.read(x), lambda: plain.read(X))):
        t0 = time.perf_counter()
        fast()
        slow()
        if t_gemm is None:
            gemm()
        reps = int(np.clip(budget / (time.perf_counter() - t0), 3, args.repeats))
        if t_gemm is None:  # activation: fastsdm, NumPy code and GEMM in turn
            tf, ts, t_gemm = _alternating_times(reps, fast, slow, gemm)
            floor = t_gemm / tf
        else:  # the GEMM's times from the activation rows
            tf, ts = _alternating_times(reps, fast, slow)
            floor = np.median(t_gemm) / tf
        rows.append({**point, "op": op, "reps": reps, "fastsdm": tf.tolist(),
                     "numpy": ts.tolist(), "gemm": t_gemm.tolist(), "ratio": (ts / tf).tolist(),
                     "floor": floor.tolist()})
        print(f"#   dim {dim}, N {N:,}, batch {batch}, {op}: NumPy / fastsdm "
              f"{np.median(ts / tf):.2f}x, GEMM / fastsdm {np.median(floor):.2f}",
              file=sys.stderr)


def continuous_checks(mem, exact, plain, X, rng, notes):
    """fastsdm's activation, writes and read sums equal the exact NumPy code's."""
    dim, N, batch = mem.dim, mem.n_locations, X.shape[0]
    x = X[0] if batch == 1 else X
    indptr, indices = mem.activate(x)
    want = exact.activate(X)
    for q, w in enumerate(want):
        assert np.array_equal(indices[indptr[q] : indptr[q + 1]], w), "activation"
    # The plain code decides by float32 similarities: any pair it decides
    # otherwise must have its exact cosine within float32 rounding of the
    # threshold.
    differ = 0
    for q, (p, w) in enumerate(zip(plain.activate(X), want, strict=True)):
        wrong = np.setxor1d(p, w)
        u = X[q].astype(np.float64)
        a = mem.addresses[wrong].astype(np.float64)
        cos = a @ u / np.sqrt((a * a).sum(1) * (u @ u))
        assert np.all(np.abs(cos - mem.threshold) <= exact.margin), "plain NumPy activation"
        differ += wrong.size
    mem.clear()
    exact.accumulators[...] = 0
    keys = X + 0.1 * rng.standard_normal(X.shape).astype(np.float32)
    mem.write(keys[0] if batch == 1 else keys)
    exact.write(keys)
    assert np.array_equal(mem.accumulators, exact.accumulators), "accumulators"
    sums = mem.read_sums(x)
    assert np.array_equal(np.atleast_2d(sums), exact.read_sums(X)), "read sums"
    np.testing.assert_allclose(np.atleast_2d(mem.read(x)), exact.read(X), rtol=1e-6, atol=1e-7)
    activated = indptr[-1] / batch
    notes.append(f"ContinuousSDM dim {dim}, N = {N:,}, batch {batch}: {activated:.0f} "
                 f"locations per query; activation, accumulators and read sums identical to "
                 f"the exact NumPy code; the plain (timed) NumPy code's activation differs in "
                 f"{differ} (query, location) pairs, all within float32 rounding of the "
                 "threshold.")
    plain.accumulators[...] = mem.accumulators  # the timed code starts from the same state


def continuous_report(rows):
    """Markdown lines of the ContinuousSDM table."""
    rows = [r for r in rows if r["section"] == "continuous"]
    if not rows:
        return []
    out = ["## ContinuousSDM: fastsdm, the obvious NumPy code and NumPy's GEMM", "",
           "| dim | N | batch | operation | fastsdm | NumPy code | NumPy / fastsdm (paired) "
           "| NumPy GEMM alone | GEMM / fastsdm (paired) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tf, ts, tg = (np.median(r[k]) for k in ("fastsdm", "numpy", "gemm"))
        ratio, floor = np.array(r["ratio"]), np.array(r["floor"])
        out.append(f"| {r['dim']} | {r['N']:,} | {r['batch']} | {r['op']} | {fmt_time(tf)} = "
                   f"{r['flops'] / tf / 1e9:.0f} | {fmt_time(ts)} | {np.median(ratio):.2f}× "
                   f"({ratio.min():.2f}–{ratio.max():.2f}) | {fmt_time(tg)} = "
                   f"{r['flops'] / tg / 1e9:.0f} | {np.median(floor):.2f} "
                   f"({floor.min():.2f}–{floor.max():.2f}) |")
    out += ["", "Times are medians; *= n* is the rate in GFLOP/s of the float32 matrix product "
            "of the same shapes (2 · batch · N · dim floating-point operations) that the time "
            "amounts to. *NumPy code*: `benchmarks/naive_continuous.py` (BLAS similarities in "
            "chunks of ≤ 256 MiB, threshold, `np.nonzero`, fancy-indexed sums); *NumPy GEMM "
            "alone*: its similarity products only (`A @ u` for one query), the floor of any "
            "float32 implementation, timed in turn with the activation rows; *GEMM / "
            "fastsdm* = the fraction of that floor each operation reaches (above 1: fastsdm's "
            "whole operation takes less time than NumPy's float32 matrix product alone; the "
            "int8 scan does most of its arithmetic in int8). Medians over rounds of "
            "alternating calls (spread min–max), each call after "
            f"{CONTINUOUS_GAP:g} s idle (OpenBLAS's threads spin for 50–100 ms after a "
            "call); write and read rows are divided by the GEMM's median.", ""]
    return out


def continuous_main(args):
    """``--only-continuous``: the machine block and the ContinuousSDM rows alone."""
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    t_start = time.perf_counter()
    info = machine_info()
    info["blas"] = blas_info()
    with open("/proc/loadavg") if os.path.exists("/proc/loadavg") else open(os.devnull) as f:
        info["loadavg_before"] = f.read().strip()
    rows, notes = [], []
    continuous_section(args, rows, notes)
    elapsed = time.perf_counter() - t_start
    out = ["# fastsdm compare.py --only-continuous", "", f"Command: `{command}`  ",
           f"Started: {started}; wall time {elapsed:.0f} s", "", "## Machine", "", "| | |",
           "|---|---|"]
    out += [f"| {key} | {value} |" for key, value in info.items()]
    out += ["", *continuous_report(rows), "## Notes", "", *(f"- {n}" for n in notes)]
    print("\n".join(out))
    if args.json:
        Path(args.json).write_text(json.dumps({"command": command, "started": started,
                                               "elapsed_s": elapsed, "machine": info,
                                               "rows": rows, "notes": notes}, indent=1,
                                              default=str))


# -- report --------------------------------------------------------------------------


def print_report(info, limits, launch, rows, notes, argv, started, elapsed):
    out = []
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
    out.append("## Machine limits")
    out.append("")
    out.append("| measurement | median | spread (min–max) | rate |")
    out.append("|---|---|---|---|")
    N, W = N_LOCATIONS, -(-N_BITS // 64)
    for key, lim in limits.items():
        if not isinstance(lim, dict):
            continue
        t = lim["time"]
        if "GB_per_s" in lim:
            what = ("read the address matrix once, NumPy A.sum() (1 thread)"
                    if key.endswith("1thread") else
                    f"read the address matrix once, numba prange sum ({lim['threads']} threads)")
            rate = f"{lim['GB_per_s']:.1f} GB/s"
        else:
            what = (f"L1-resident xor+popcount+add, 4 queries per loaded word "
                    f"({lim['threads']} thread{'s' if lim['threads'] > 1 else ''})")
            qps = lim["Gwords_per_s"] * 1e9 / (N * W)
            rate = (f"{lim['Gwords_per_s']:.1f} G word pairs/s = {qps:,.0f} queries/s "
                    f"over {N:,} × {W} words ({lim['Gwords_per_cpu_s']:.1f} per CPU-second)")
        out.append(f"| {what} | {fmt_time(t['median'])} | {fmt_time(t['min'])}–"
                   f"{fmt_time(t['max'])} | {rate} |")
    pc = limits["bound_popcount_Gwords_per_s"]
    out.append("")
    out.append(f"Bounds used below: bandwidth {limits['bound_bandwidth_GB_per_s']:.1f} GB/s "
               f"(the best of the two), popcount {pc:.1f} G word pairs/s = one thread's rate "
               f"per CPU-second × {info['numba_threads']} threads = "
               f"{pc * 1e9 / (N * W):,.0f} queries/s over {N:,} × {W} words.")
    out.append("")

    out.append("## Parallel launch cost")
    out.append("")
    out.append("Median time of one tiny call (`hamming_distances`, 1 query × 1,000 addresses "
               "of 1024 bits), 200 calls in a fresh process per policy; *gap* = busy Python "
               "work between calls (the application's own work).")
    out.append("")
    out.append("| OMP_WAIT_POLICY | serial, gap 0 | serial, gap 1 ms | parallel, gap 0 "
               "| parallel, gap 1 ms |")
    out.append("|---|---|---|---|---|")
    for policy, r in launch.items():
        out.append(f"| {policy} | {fmt_time(r['serial_gap0ms'])} | {fmt_time(r['serial_gap1ms'])} "
                   f"| {fmt_time(r['parallel_gap0ms'])} | {fmt_time(r['parallel_gap1ms'])} |")
    out.append("")

    search = [r for r in rows if r["section"] == "search"]
    if search:
        out.append(f"## Search: N = {N:,} × {N_BITS} bits")
        out.append("")
        out.append("| workload | queries | implementation | median | spread (min–max) | CPU "
                   "| queries/s | fastsdm speed-up | % of machine limit |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for r in search:
            fast = next(x for x in search if x["workload"] == r["workload"]
                        and x["queries"] == r["queries"] and x["impl"] == "fastsdm")
            ratio = r["median"] / fast["median"]
            pct = 100 * r["bound"] / r["median"]
            out.append(f"| {r['workload']} | {r['queries']} | {r['impl']} | "
                       f"{fmt_time(r['median'])} | {fmt_time(r['min'])}–{fmt_time(r['max'])} | "
                       f"{fmt_time(r['cpu'])} | {fmt_rate(r['per_s'])} | "
                       f"{'—' if r is fast else f'{ratio:.3g}×'} | "
                       f"{pct:.0f}% ({r['bound_kind']}) |")
        out.append("")
    sdm = [r for r in rows if r["section"] == "sdm"]
    if sdm:
        out.append(f"## SDM: n = {SDM_BITS}, N = {N_LOCATIONS:,}, int8, radius {SDM_RADIUS}")
        out.append("")
        out.append("| operation | implementation | ops timed | median per op | spread (min–max) "
                   "| CPU per op | ops/s | fastsdm speed-up |")
        out.append("|---|---|---|---|---|---|---|---|")
        for r in sdm:
            fast = next(x for x in sdm if x["workload"] == r["workload"]
                        and x["impl"] == "fastsdm")
            ratio = r["median"] / fast["median"]
            out.append(f"| {r['workload']} | {r['impl']} | {r['ops']} | {fmt_time(r['median'])} "
                       f"| {fmt_time(r['min'])}–{fmt_time(r['max'])} | {fmt_time(r['cpu'])} | "
                       f"{fmt_rate(r['per_s'])} | {'—' if r is fast else f'{ratio:.3g}×'} |")
        out.append("")
    out.extend(continuous_report(rows))
    out.append("## Notes")
    out.append("")
    out.extend(f"- {note}" for note in notes)
    out.append("- Medians over repeats after one warm-up call; *CPU* is the median process "
               "CPU time (all threads), *fastsdm speed-up* = time of the row / time of "
               "fastsdm (default serial/parallel choice) on the same workload.")
    out.append("- *% of machine limit* = lower bound / measured time, the bound being the "
               "larger of streaming the address matrix once and doing every xor+popcount at "
               "the popcount ceiling (see the bounds under Machine limits).")
    print("\n".join(out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats and smaller subsets (< 5 min on 2 cores)")
    parser.add_argument("--json", metavar="PATH", help="also save the raw figures as JSON")
    parser.add_argument("--skip-sdm", action="store_true", help="only the search workloads")
    parser.add_argument("--skip-search", action="store_true", help="only the SDM workloads")
    parser.add_argument("--skip-continuous", action="store_true",
                        help="without the ContinuousSDM workloads")
    parser.add_argument("--only-continuous", action="store_true",
                        help="only the ContinuousSDM workloads (~10 min; --quick ~1 min)")
    args = parser.parse_args(argv)
    args.repeats = 5 if args.quick else 11
    args.numpy_queries = 4 if args.quick else 32
    args.naive_ops = 4 if args.quick else 16
    if args.only_continuous:
        sys.path.insert(0, str(HERE))  # naive_continuous.py, _common.py
        return continuous_main(args)

    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    t_start = time.perf_counter()
    sys.path.insert(0, str(HERE))  # naive_sdm.py
    try:
        import fastsdm
    except ImportError:  # run from a source checkout without installing
        sys.path.insert(0, str(HERE.parent))
        import fastsdm

    print(f"# running: {command}", file=sys.stderr)
    notes = []
    t0 = time.perf_counter()
    fastsdm.warmup(("int8",))
    notes.append(f"fastsdm.warmup(('int8',)) took {time.perf_counter() - t0:.1f} s before "
                 "timing (compiling, or loading numba's cache).")
    info = machine_info()
    info["numba_threading_layer"] = threading_layer()

    A = fastsdm.random_addresses(N_LOCATIONS, N_BITS, seed=0)
    Q = fastsdm.random_addresses(BATCH, N_BITS, seed=1)
    print("# machine limits", file=sys.stderr)
    limits = machine_limits(A, args.repeats)
    print("# parallel launch cost", file=sys.stderr)
    launch = launch_costs()
    rows = []
    if not args.skip_search:
        print("# search", file=sys.stderr)
        search_section(args, A, Q, limits, rows, notes)
    del A
    if not args.skip_sdm:
        print("# SDM", file=sys.stderr)
        sdm_section(args, rows, notes)
    if not args.skip_continuous:
        print("# ContinuousSDM", file=sys.stderr)
        continuous_section(args, rows, notes)
    elapsed = time.perf_counter() - t_start
    print_report(info, limits, launch, rows, notes, command, started, elapsed)
    if args.json:
        payload = {"command": command, "started": started, "elapsed_s": elapsed,
                   "machine": info, "limits": limits, "launch_cost_s": launch, "rows": rows,
                   "notes": notes}
        Path(args.json).write_text(json.dumps(payload, indent=1, default=str))


if __name__ == "__main__":
    main()
