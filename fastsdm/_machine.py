"""The machine fastsdm runs on: versions, CPU features, numba's threads and cache, memory.

``fastsdm info`` prints :func:`info` (formatted by :func:`format_info`);
every experiment run by the command records :func:`environment` in its
``config.json``; the experiments and the memories refuse what does not fit
:func:`available_memory`, and quote sizes with :func:`format_bytes` (binary
units: KiB, MiB, GiB, TiB).  Imports nothing heavy at module level.
"""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path

__all__ = [
    "CPU_FLAGS",
    "available_memory",
    "cpu_model",
    "environment",
    "format_bytes",
    "format_info",
    "importlib_version",
    "info",
]


def available_memory() -> int | None:
    """Bytes of memory available for new allocations, or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n_bytes: int) -> str:
    """A size in binary units, the one way fastsdm quotes sizes: ``1.05 GiB``, ``25.9 MiB``.

    Examples
    --------
    >>> from fastsdm._machine import format_bytes
    >>> format_bytes(1_128_000_000), format_bytes(27_200_000), format_bytes(512)
    ('1.05 GiB', '25.9 MiB', '512 bytes')
    """
    for unit, power, digits in (("TiB", 40, 2), ("GiB", 30, 2), ("MiB", 20, 1), ("KiB", 10, 1)):
        if n_bytes >= 2**power:
            return f"{n_bytes / 2**power:.{digits}f} {unit}"
    return f"{n_bytes} bytes"


def check_allocation(what: str, n_bytes: int, fix: str) -> None:
    """Refuse an array of ``n_bytes`` that cannot fit in the available memory,
    saying what needs it and ``fix`` (instead of NumPy's bare MemoryError)."""
    available = available_memory()
    if available is not None and n_bytes > available:
        raise MemoryError(f"{what} needs {format_bytes(n_bytes)}, but only "
                          f"{format_bytes(available)} of memory is available; {fix}")


CPU_FLAGS = ("popcnt", "avx2", "avx512f", "avx512bw", "avx512_vpopcntdq")


def _cpuinfo() -> dict:
    info = {}
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "flags", "Features") and key not in info:
                    info[key] = value.strip()
                if "model name" in info and ("flags" in info or "Features" in info):
                    break
    return info


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else what :mod:`platform` knows)."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def _numba_cache() -> dict:
    """The numba cache as this process found it (call after any kernel ran).

    ``state`` says what the command itself saw: kernels it had to compile
    were not in the cache (it was cold for them, and holds them now), kernels
    it loaded were (warm).  Counting cache files alone cannot tell: this
    command runs a kernel before it looks, and would write the file it counts.
    """
    import numba

    from . import _jit

    status = {"enabled": bool(_jit.CACHE), "NUMBA_CACHE_DIR": numba.config.CACHE_DIR or None,
              "dirs": [], "index_files": 0, "bytes": 0, "writable": None,
              "compiled_now": 0, "loaded_now": 0, "state": None}
    if numba.config.DISABLE_JIT:
        status["enabled"] = False
        status["note"] = "NUMBA_DISABLE_JIT=1: kernels run as plain Python"
        return status
    report = _jit.cache_report()
    status.update(dirs=report["dirs"], index_files=report["index_files"], bytes=report["bytes"],
                  compiled_now=report["compiled"], loaded_now=report["loaded"])
    if status["dirs"]:
        status["writable"] = all(os.access(d, os.W_OK) for d in status["dirs"]
                                 if Path(d).exists())
    if report["compiled"]:
        status["state"] = (f"cold: this command compiled {report['compiled']} kernel(s) in "
                           f"{report['compile_seconds']:.1f} s of CPU; each kernel compiles on "
                           "its first use (a first small session ~5 s), then loads from the "
                           "cache")
    elif report["loaded"]:
        status["state"] = ("warm: this command's kernel loaded from the cache (others compile "
                           "on first use if they are not among the cached files)")
    else:
        status["state"] = ("no kernel ran in this command; " + (
            "the cache holds files from earlier runs" if report["index_files"]
            else "the cache is empty: the first run compiles (~5 s of CPU)"))
    return status


def info() -> dict:
    """Versions, CPU flags, numba's threads, threading layer and cache, available memory.

    Runs one tiny parallel kernel (if none ran yet) so numba reports the
    threading layer it chose.
    """
    import llvmlite
    import numba
    import numpy as np
    import tqdm

    from ._version import __version__

    versions = {"fastsdm": __version__, "python": platform.python_version(),
                "numpy": np.__version__, "numba": numba.__version__,
                "llvmlite": llvmlite.__version__, "tqdm": tqdm.__version__}
    for name, module in (("matplotlib", "matplotlib"), ("scikit-learn", "sklearn")):
        try:
            versions[name] = importlib_version(module)
        except ImportError:
            versions[name] = None
    cpu = _cpuinfo()
    flags = set((cpu.get("flags") or cpu.get("Features") or "").split())
    # Run one tiny parallel kernel so numba reports the threading layer it chose.
    try:
        layer = numba.threading_layer()
    except ValueError:
        from .search import hamming_distances

        words = np.arange(4, dtype=np.uint64).reshape(4, 1)  # any four 64-bit vectors
        hamming_distances(words, words, parallel=True)
        try:
            layer = numba.threading_layer()
        except ValueError:
            layer = None
    available = available_memory()
    return {
        "versions": versions,
        "platform": platform.platform(),
        "cpu": {"model": cpu_model(), "logical_cpus": os.cpu_count(),
                "flags": {f: (f in flags) if flags else None for f in CPU_FLAGS}},
        "kernels": kernel_variant(),
        "numba": {"threads": numba.get_num_threads(),
                  "NUMBA_NUM_THREADS": numba.config.NUMBA_NUM_THREADS,
                  "threading_layer": layer,
                  "requested_threading_layer": numba.config.THREADING_LAYER,
                  "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
                  "cache": _numba_cache()},
        "memory_available_bytes": available,
    }


def kernel_variant() -> dict:
    """The kernel variant in use (``fastsdm._jit.SIMD``) and what chose it."""
    from . import _jit

    return {"variant": _jit.SIMD, "chosen_by": _jit.SIMD_CHOSEN_BY}


def importlib_version(module: str) -> str:
    """Installed version of a module's distribution, importing nothing heavy."""
    import importlib.metadata
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ImportError(module)
    dist = {"sklearn": "scikit-learn"}.get(module, module)
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return getattr(__import__(module), "__version__", "unknown")


def format_info(info: dict) -> str:
    """:func:`info` as aligned ``key  value`` lines (what ``fastsdm info`` prints)."""
    v = info["versions"]
    optional = [f"{k} {v[k]}" if v[k] else f"{k} missing" for k in ("matplotlib", "scikit-learn")]
    cpu = info["cpu"]
    flags = cpu["flags"]
    flag_text = ("unknown (no /proc/cpuinfo)" if all(x is None for x in flags.values())
                 else ", ".join(f"{k} {'yes' if ok else 'no'}" for k, ok in flags.items()))
    nb = info["numba"]
    cache = nb["cache"]
    if cache.get("note"):
        cache_text = cache["note"]
    elif not cache["enabled"]:
        cache_text = "off (FASTSDM_NUMBA_CACHE=0): kernels compile in every process"
    else:
        where = cache["NUMBA_CACHE_DIR"] or "next to the sources (__pycache__)"
        dirs = ", ".join(cache["dirs"]) or "(none yet)"
        state = cache["state"]
        cache_text = (f"on, {where}; {cache['index_files']} kernels cached "
                      f"({cache['bytes'] / 2**20:.1f} MiB) in {dirs} [{state}"
                      + ("" if cache["writable"] in (None, True) else "; NOT writable") + "]")
    vpop = flags.get("avx512_vpopcntdq")
    popcount = ("AVX-512 vpopcntq (fastest scan)" if vpop
                else "scalar popcnt" if flags.get("popcnt") else "unknown")
    mem = info["memory_available_bytes"]
    rows = [
        ("fastsdm", v["fastsdm"]),
        ("python", f"{v['python']} ({info['platform']})"),
        ("core", f"numpy {v['numpy']}, numba {v['numba']}, llvmlite {v['llvmlite']}, "
                 f"tqdm {v['tqdm']}"),
        ("optional", ", ".join(optional)),
        ("cpu", f"{cpu['model']} ({cpu['logical_cpus']} logical CPUs)"),
        ("cpu flags", flag_text),
        ("popcount", popcount),
        ("kernels", {"avx512": "explicit 512-bit code", "generic": "portable code"}
         [info["kernels"]["variant"]] + f" ({info['kernels']['variant']}, chosen by "
         f"{info['kernels']['chosen_by']})"),
        ("numba threads", f"{nb['threads']} (NUMBA_NUM_THREADS={nb['NUMBA_NUM_THREADS']})"),
        ("threading layer", f"{nb['threading_layer']} (requested: "
                            f"{nb['requested_threading_layer']})"),
        ("OMP_WAIT_POLICY", nb["OMP_WAIT_POLICY"] or "unset"),
        ("numba cache", cache_text),
        ("memory", "unknown" if mem is None else f"{format_bytes(mem)} available"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {val}" for k, val in rows)


def environment() -> dict:
    """Threads, threading layer, kernel variant, ``OMP_WAIT_POLICY``, CPU and platform.

    A run's context.  ``threading_layer`` is None when the run used no
    parallel kernel (numba chooses its layer at the first one).
    """
    import numba

    from . import _jit

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel ran yet
        layer = None
    return {"numba_threads": numba.get_num_threads(), "threading_layer": layer,
            "kernels": _jit.SIMD,
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
            "cpu": cpu_model(), "platform": platform.platform()}
