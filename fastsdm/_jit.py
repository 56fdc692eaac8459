"""The one place for numba policy.

Every kernel in fastsdm is built here, with the same settings:

* ``cache=True`` (turn off with ``FASTSDM_NUMBA_CACHE=0``): the first call of a
  kernel compiles it (about a second of CPU); later processes load the machine
  code from numba's cache (milliseconds).  The same policy applies to the
  ``@overload``\\ s of the intrinsics (:func:`overload`).
* ``nogil=True``: kernels release the GIL, so Python threads can overlap them.
* ``fastmath=False``: integer kernels gain nothing from it, and float kernels
  must keep IEEE semantics (NaN checks, reproducible sums).
* ``error_model="numpy"``: division follows NumPy and is not wrapped in
  Python exception checks inside hot loops.

**Parallel work.**  The binary kernels claim *tasks* (chunks of locations,
blocks of queries) whose outputs are disjoint, and :func:`run_tasks` runs a
call either in the calling thread or on ``numba.get_num_threads()`` threads
at once (a small pool of Python threads; the kernels release the GIL), which
claim the tasks one by one from a shared counter (``_intrinsics.next_task``):
a thread that wakes late or is slowed by other load takes fewer tasks.  Each
kernel is compiled once: a ``parallel=True`` twin compiled by numba cost
2-2.5 times the serial kernel's compile time (its loop body is compiled a
second time as a gufunc), and that was half of a cold session's CPU time.
The wrappers choose serial or parallel by the amount of work
(:func:`use_parallel`), because waking threads costs more than a small call
is worth.  :func:`twins` (serial and ``parallel=True`` compilations of a
``prange`` function) remains for kernels whose loops need numba's scheduler.

**Variants** (what a scan does with each distance, which vector code it uses)
are built by parameter: a module-level factory such as
``hamming.make_scan_tiled(mode, simd)`` returns a closure whose parameters
numba compiles as constants, so the branches on them fold away.  Each factory
is called once per variant at import (building a dispatcher compiles
nothing), and each variant is cached under its own name (:func:`named`).
Closures capture constants only: numba's cache key includes a pickle of the
captured values, and a captured dispatcher pickles differently in every
process (the cache would never hit).

**Vector width** (:data:`SIMD`): on CPUs with AVX-512 VPOPCNTDQ the hot binary
kernels use explicit 512-bit vector code (``fastsdm._intrinsics``), whatever
vector width LLVM's tuning for the CPU prefers (256 bits on Intel server
cores); elsewhere they use portable loops that LLVM vectorises itself.  The
choice is made once, at import, from the CPU features numba compiles for
(``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES`` are honoured);
``FASTSDM_SIMD=generic`` forces the portable code and ``FASTSDM_SIMD=avx512``
the explicit one (correct on any CPU, fast only with VPOPCNTDQ).

**Read-only inputs** are passed to the kernels as writeable views of the same
memory (:func:`kernel_input`): the writeable flag is part of an array's numba
type, so the read-only views fastsdm shows (``SDM.addresses``) would compile
every kernel they reach a second time, apart from what :func:`fastsdm.warmup`
prepared.  The kernels never write their inputs.

**Compilation is announced**: the first time in a process that a fastsdm
kernel must be compiled (not loaded from the cache), one line on stderr says
what, about how long, and that it is cached afterwards
(``FASTSDM_QUIET_COMPILE=1`` silences it).  :func:`compile_stats` counts
compilations, so that callers can tell a call that compiled from one that ran.

fastsdm never changes process-wide numba settings (threading layer, thread
count) at import: those belong to the application.  It registers one listener
for numba's ``numba:compile`` event (numba's event API), which only observes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import types
from typing import NamedTuple

import numba
import numpy as np
from numba.core import event as _event

__all__ = ["jit", "twins", "overload", "named", "run_tasks", "parallel_parts", "use_parallel",
           "kernel_input", "compile_stats", "CompileStats", "PARALLEL_MIN_WORK", "SIMD", "CACHE"]


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off", "")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from None


#: Cache compiled kernels on disk (``FASTSDM_NUMBA_CACHE=0`` turns it off).
CACHE = _env_flag("FASTSDM_NUMBA_CACHE", True)

#: Below this many elementary operations (e.g. query-words x locations) a call
#: runs serially: waking threads costs tens of microseconds.
#: Override with ``FASTSDM_PARALLEL_MIN_WORK``.
PARALLEL_MIN_WORK = _env_int("FASTSDM_PARALLEL_MIN_WORK", 2_000_000)

_OPTIONS = dict(cache=CACHE, nogil=True, fastmath=False, error_model="numpy")

# -- vector width ----------------------------------------------------------------

#: The kernel variants: explicit 512-bit vector code, or portable loops.
SIMD_VARIANTS = ("avx512", "generic")
#: LLVM features the explicit variant needs: vpopcntq on zmm registers, and
#: byte/word vectors (vpaddsb, masked byte loads) for the counter rows.
SIMD_FEATURES = ("+avx512f", "+avx512bw", "+avx512vpopcntdq")


def target_features() -> str:
    """The LLVM CPU features numba compiles for (``NUMBA_CPU_FEATURES`` or the host's)."""
    features = numba.config.CPU_FEATURES
    if features is not None:
        return features
    from llvmlite import binding

    return binding.get_host_cpu_features().flatten()


def choose_simd(setting: str | None = None, features: str | None = None) -> str:
    """The kernel variant for a ``FASTSDM_SIMD`` setting and an LLVM feature string.

    ``"auto"`` (or ``None``) picks ``"avx512"`` when ``features`` (default:
    :func:`target_features`) has every entry of :data:`SIMD_FEATURES`, else
    ``"generic"``; ``"avx512"`` and ``"generic"`` force a variant.
    """
    value = "auto" if setting is None else setting.strip().lower()
    if value == "auto":
        have = set((target_features() if features is None else features).split(","))
        return "avx512" if all(f in have for f in SIMD_FEATURES) else "generic"
    if value in SIMD_VARIANTS:
        return value
    raise ValueError(f"environment variable FASTSDM_SIMD must be one of auto, "
                     f"{', '.join(SIMD_VARIANTS)}, got {setting!r}; unset it to let fastsdm "
                     "choose by CPU")


def _simd_chosen_by(setting: str | None) -> str:
    """What decides :func:`choose_simd` for ``setting`` (for ``fastsdm info``)."""
    if setting is not None and setting.strip().lower() != "auto":
        return f"FASTSDM_SIMD={setting}"
    if numba.config.CPU_FEATURES is not None:
        return "NUMBA_CPU_NAME/NUMBA_CPU_FEATURES"
    return "this CPU"


#: The variant every public function uses, chosen once at import, and what chose it
#: (recorded then: the environment may change later).
_SETTING = os.environ.get("FASTSDM_SIMD")
SIMD, SIMD_CHOSEN_BY = choose_simd(_SETTING), _simd_chosen_by(_SETTING)

# -- building kernels ------------------------------------------------------------

#: Every dispatcher built by :func:`jit` (for the cache report and the notice).
_KERNELS: list = []
_KERNEL_IDS: set = set()


def jit(fn=None, **overrides):
    """Compile ``fn`` with fastsdm's numba policy (usable bare or with options)."""
    if fn is None:
        return lambda f: jit(f, **overrides)
    dispatcher = numba.njit(**{**_OPTIONS, **overrides})(fn)
    _KERNELS.append(dispatcher)
    _KERNEL_IDS.add(id(dispatcher))
    return dispatcher


def overload(py_fn):
    """``numba.extending.overload`` under the same cache policy as :func:`jit`."""
    from numba.extending import overload as _overload

    return _overload(py_fn, jit_options={"cache": CACHE})


def named(fn, name: str):
    """``fn`` renamed to ``name`` (qualified name too): a variant's own cache files.

    numba names its cache files after the function's qualified name; the
    variants one factory builds would otherwise share an index file.
    """
    fn.__name__ = name
    fn.__qualname__ = name
    return fn


def _renamed_copy(fn, suffix: str):
    # numba's on-disk cache is keyed by the function's qualified name and
    # signature, not by the ``parallel`` flag: compiling one function twice
    # would make the twins overwrite each other's cache entries.  A copy with
    # its own qualified name gets its own cache file.
    clone = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix,
                               fn.__defaults__, fn.__closure__)
    clone.__qualname__ = fn.__qualname__ + suffix
    clone.__doc__ = fn.__doc__
    clone.__module__ = fn.__module__
    return clone


def twins(fn):
    """Return ``(serial, parallel)`` compilations of one ``prange`` function."""
    serial = jit(fn)
    parallel = jit(_renamed_copy(fn, "_parallel"), parallel=True)
    return serial, parallel


def use_parallel(work: int, parallel: bool | None = None) -> bool:
    """Decide whether a call of ``work`` elementary operations runs in parallel.

    ``parallel=True``/``False`` forces the choice; ``None`` decides by size and
    by ``numba.get_num_threads()``.
    """
    if parallel is not None:
        if not isinstance(parallel, (bool, np.bool_)):
            raise TypeError(f"parallel must be True, False or None (decide by size), got "
                            f"{parallel!r}"[:200])
        return bool(parallel)
    return work >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1


# -- running tasks on threads ------------------------------------------------------


class _Worker:
    """A thread that runs one job at a time, handed over and back by two locks.

    Two plain locks (futex semaphores) wake it and report back: about 10 µs
    less per parallel call than a ``concurrent.futures`` pool (measured:
    14 µs against 23 µs for a 2-thread call of an empty kernel; numba's OpenMP
    pool took 10 µs).  Jobs are counted (``submitted``, ``released`` by the
    worker, ``collected`` by the caller), so that a wait cut short by Ctrl-C
    knows whether it had already taken the ``finished`` lock.
    """

    def __init__(self, index: int):
        self.start = threading.Lock()
        self.start.acquire()
        self.finished = threading.Lock()
        self.finished.acquire()
        self.job = None
        self.error = None
        self.submitted = self.released = self.collected = 0
        threading.Thread(target=self._loop, name=f"fastsdm-{index}", daemon=True).start()

    def _loop(self):
        while True:
            self.start.acquire()
            kernel, args = self.job
            self.job = None
            try:
                kernel(*args)
            except BaseException as exc:  # handed to the caller
                self.error = exc
            finally:
                self.finished.release()
                self.released += 1  # after the release: see wait()

    def submit(self, kernel, args):
        if self.collected != self.submitted:
            self.wait()  # an earlier caller was interrupted out of its wait: its job ends first
        self.job = (kernel, args)
        self.error = None
        self.submitted += 1
        self.start.release()

    def wait(self):
        # Wait even if the caller is interrupted (Ctrl-C): a task still
        # running would go on writing into arrays the caller owns.  The
        # interrupt may also be raised just *after* an acquire succeeded (the
        # signal arrived in another thread, and Python raises it when the
        # call returns): once the worker has released this job, the lock is
        # held only if this thread took it, and taking it again would block
        # forever.
        interrupted = None
        while True:
            try:
                while self.collected != self.submitted:
                    if self.released == self.submitted and self.finished.locked():
                        self.collected = self.submitted  # taken by the interrupted acquire
                    elif self.finished.acquire(timeout=-1 if interrupted is None else 0.01):
                        self.collected = self.submitted
                break
            except BaseException as exc:  # KeyboardInterrupt while waiting
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted
        if self.error is not None:
            error, self.error = self.error, None
            raise error


_workers: list = []
_workers_pid = None
#: Held by the call using the workers: a concurrent call runs serially.
_workers_busy = threading.Lock()


def _after_fork_in_child():
    # A forked child has none of the parent's threads (and maybe a held lock).
    global _workers, _workers_pid, _workers_busy
    _workers, _workers_pid, _workers_busy = [], None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def run_tasks(kernel, n_tasks: int, args: tuple, parallel: bool) -> None:
    """Run ``kernel(tasks, worker, *args)`` until its ``n_tasks`` tasks are done.

    ``tasks`` is ``[next, n_tasks]`` (int64): the kernel claims task after
    task with ``_intrinsics.next_task(tasks)``, an atomic increment.
    Serially: one call, which runs every task in order.  In parallel:
    ``min(n_tasks, numba.get_num_threads())`` calls at once, the first by the
    calling thread and the others by fastsdm's worker threads (the kernels
    release the GIL), each with its own ``worker`` index (0, 1, ...) for
    per-thread scratch; they share ``tasks``, so a thread that starts late
    (woken from sleep) or runs slowly (a busy machine) simply takes fewer
    tasks.  While another call uses the workers, a call runs serially.  The
    tasks of a kernel write disjoint outputs, so the result does not depend on
    which thread ran which task.
    """
    global _workers_pid
    tasks = np.array([0, n_tasks], dtype=np.int64)
    parts = min(n_tasks, numba.get_num_threads()) if parallel else 1
    if parts <= 1 or not _workers_busy.acquire(blocking=False):
        kernel(tasks, 0, *args)
        return
    try:
        if _workers_pid != os.getpid():
            _workers.clear()
            _workers_pid = os.getpid()
        while len(_workers) < parts - 1:
            _workers.append(_Worker(len(_workers) + 1))
        helpers = _workers[: parts - 1]
        for worker, helper in enumerate(helpers, start=1):
            helper.submit(kernel, (tasks, worker, *args))
        try:
            kernel(tasks, 0, *args)
        finally:
            errors = []
            for helper in helpers:
                try:
                    helper.wait()
                except BaseException as exc:
                    errors.append(exc)
            if errors:
                raise errors[0]
    finally:
        _workers_busy.release()


def kernel_input(array: np.ndarray) -> np.ndarray:
    """``array``, or a writeable view of it when it is a read-only view of writeable memory.

    numba compiles a kernel once per argument type, and an array's type
    includes its writeable flag: a batch sliced from ``SDM.addresses`` (a
    read-only view) would compile the fused kernels again, one to three
    seconds of CPU each (``compile_budget.py --kernels``), and miss what
    :func:`fastsdm.warmup` prepared.  Only kernel *inputs* go through here,
    and the kernels never write them.  Memory that cannot be written (a
    read-only ``np.memmap``, bytes) is passed as it is and gets its own
    compilation.
    """
    if array.flags.writeable:
        return array
    view = array.view()
    try:
        view.flags.writeable = True
    except ValueError:  # no writeable owner below it
        return array
    return view


def even_cuts(n: int, parts: int) -> np.ndarray:
    """``parts + 1`` int64 bounds from 0 to ``n``: ``parts`` ranges of nearly equal size.

    Integer arithmetic, not ``np.linspace``, whose microseconds a call are
    most of a small single-query operation's bookkeeping.
    """
    return np.array([n * k // parts for k in range(parts + 1)], dtype=np.int64)


def parallel_parts(n_tasks: int, parallel: bool) -> int:
    """How many ``worker`` indices :func:`run_tasks` uses: size per-thread scratch by it."""
    return min(n_tasks, numba.get_num_threads()) if parallel else 1


# -- compilation: count it, say it once -------------------------------------------------


class CompileStats(NamedTuple):
    """fastsdm kernel compilations in this process (cache loads excluded)."""

    count: int
    seconds: float


#: Print the one-line compile notice (``FASTSDM_QUIET_COMPILE=1`` silences it).
QUIET_COMPILE = _env_flag("FASTSDM_QUIET_COMPILE", False)


class _CompileWatch(_event.Listener):
    """Counts the outermost compilations of fastsdm kernels; announces the first."""

    def __init__(self):
        self.count = 0
        self.seconds = 0.0
        self.announced = False
        self._depth = 0
        self._start = 0.0

    @staticmethod
    def _ours(ev) -> bool:
        data = ev.data or {}
        return id(data.get("dispatcher")) in _KERNEL_IDS

    # numba compiles under one global lock: events never interleave.
    def on_start(self, ev):
        if not self._ours(ev):
            return
        self._depth += 1
        if self._depth > 1:
            return
        self._start = time.process_time()
        if not self.announced and not QUIET_COMPILE:
            _announce(ev.data["dispatcher"])
        self.announced = True

    def on_end(self, ev):
        if not self._ours(ev):
            return
        self._depth -= 1
        if self._depth == 0:
            self.count += 1
            self.seconds += time.process_time() - self._start


#: True while a progress bar (fastsdm.experiments) holds the current line of
#: stderr unfinished: the compile note then starts on a line of its own.
BAR_ON_LINE = False


def _announce(dispatcher):
    name = dispatcher.py_func.__name__
    if CACHE:
        where = numba.config.CACHE_DIR or "__pycache__ beside fastsdm's sources"
        later = f"each is cached ({where}) and loads in milliseconds afterwards"
    else:
        later = "the cache is off (FASTSDM_NUMBA_CACHE=0), so every process compiles again"
    sys.stderr.write(
        ("\n" if BAR_ON_LINE else "") +
        f"fastsdm: compiling kernel {name} for this CPU: a kernel's first use takes about a "
        f"second of CPU (a first session compiles a few); {later}. Set "
        "FASTSDM_QUIET_COMPILE=1 to hide this note.\n")
    sys.stderr.flush()


_WATCH = _CompileWatch()
_event.register("numba:compile", _WATCH)


def compile_stats() -> CompileStats:
    """How many fastsdm kernels this process compiled, and the CPU seconds spent.

    Cheap (two attribute reads): compare the values before and after a call
    to learn whether it compiled, e.g. so that a progress estimate does not
    extrapolate from a compiling step.
    """
    return CompileStats(_WATCH.count, _WATCH.seconds)


def cache_report() -> dict:
    """Where fastsdm's kernels are cached and what this process did with the cache.

    ``dirs``: the kernels' cache directories; ``index_files``/``bytes``: what
    is in them now; ``compiled``/``compile_seconds``: kernels this process
    compiled (the cache did not have them); ``loaded``: kernel signatures
    this process loaded from the cache.
    """
    dirs = set()
    loaded = 0
    for dispatcher in _KERNELS:
        stats = dispatcher.stats
        if stats.cache_path:
            dirs.add(stats.cache_path)
        loaded += sum(stats.cache_hits.values())
    index_files = n_bytes = 0
    for d in sorted(dirs):
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith((".nbi", ".nbc")):
                index_files += entry.name.endswith(".nbi")
                n_bytes += entry.stat().st_size
    compiled = compile_stats()
    return {"dirs": sorted(dirs), "index_files": index_files, "bytes": n_bytes,
            "compiled": compiled.count, "compile_seconds": compiled.seconds, "loaded": loaded}
