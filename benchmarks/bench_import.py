"""Import time and first-call (compile or cache-load) time, each in a fresh process.

``timeraw_*`` benchmarks run their code in a new Python process (asv times the
statement; the setup string runs first, untimed).  The *cold* variants point
NUMBA_CACHE_DIR at a new empty directory, so the first call compiles its
kernels, as in a fresh install; the *warm* variants use numba's ordinary
cache (NUMBA_CACHE_DIR if set, else ``__pycache__`` beside fastsdm's
modules), which ``setup_cache`` fills first (quickly when the rest of the
suite or the tests already did), so the first call only loads machine code,
as in every later session.
"""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import importlib.util
import subprocess
import sys

from ._common import LARGE

#: Untimed preamble of every first-call benchmark: numba's cache directory,
#: the data, ``import numba`` and then {resolve}, the line that imports the
#: fastsdm modules the call needs (``import fastsdm`` itself is lazy and loads
#: neither NumPy nor numba: numba's import, ~0.2-0.3 s, is timed by
#: ``timeraw_import_numba``, not here).  {choose_cache} becomes the line(s)
#: that pick numba's cache directory; {sys_path} mirrors asv's
#: ASV_PYTHONPATH (``_SYS_PATH``).  No backslashes or triple quotes (asv
#: pastes this into a triple-quoted string).
_PREAMBLE = """
import os
os.environ["OMP_WAIT_POLICY"] = "passive"
os.environ["FASTSDM_NUMBA_CACHE"] = "1"
{choose_cache}
{sys_path}
import numpy as np
import fastsdm
A = fastsdm.random_addresses(2000, 256, seed=0)
Q = fastsdm.random_addresses(16, 256, seed=1)
import numba
{resolve}
"""

_COLD_DIR = """
import atexit, shutil, tempfile
_cold = tempfile.mkdtemp(prefix="fastsdm-asv-cold-")
atexit.register(shutil.rmtree, _cold, True)
"""

#: The first call, per workload (small, serial sizes: the cost is compilation),
#: as (resolve, call): ``resolve`` runs in the untimed preamble and imports the
#: fastsdm modules ``call`` needs (attribute access on the lazy package, so it
#: also works for commits before the lazy imports); ``call`` is timed.  A cold
#: call compiles for seconds: the smoke run keeps four (warmup_all covers every
#: binary kernel); FASTSDM_BENCH_LARGE=1 adds the other scans.
_FIRST_CALLS = {
    "radius_search": ("fastsdm.radius_search", "fastsdm.radius_search(Q, A, 103)"),
    "sdm_write_read": (
        "fastsdm.SDM",
        "mem = fastsdm.SDM(256, 2000, radius=103, seed=0); mem.write(Q); mem.read(Q)",
    ),
    "continuous_write_read": (
        "from fastsdm.continuous import ContinuousSDM",
        "cm = ContinuousSDM(64, 2000, radius=20, seed=0); "
        "X = np.random.default_rng(0).standard_normal((16, 64)); cm.write(X); cm.read(X)",
    ),
    # Every binary kernel, serial and parallel, three counter widths (warmup()
    # imports the search and memory modules itself: the preamble does it first).
    "warmup_all": ("fastsdm.warmup; fastsdm.SDM; fastsdm.radius_search", "fastsdm.warmup()"),
}
if LARGE:
    _FIRST_CALLS["hamming_distances"] = ("fastsdm.hamming_distances",
                                         "fastsdm.hamming_distances(Q, A)")
    _FIRST_CALLS["knn_search"] = ("fastsdm.knn_search", "fastsdm.knn_search(Q, A, 10)")


def _has_continuous():
    """Whether this fastsdm has a ``continuous`` module (older commits do not).

    Only the module's absence counts: it is not imported here, and an error
    raised while importing it fails the benchmark (in the timed process)
    instead of skipping it.
    """
    return importlib.util.find_spec("fastsdm.continuous") is not None


#: Puts ASV_PYTHONPATH first on the child's sys.path, as asv does for the
#: benchmark process (e.g. a checkout, with ``-E existing:same``) but not for
#: the processes ``timeraw_*`` starts: without it they would import the
#: installed fastsdm, not the one the rest of the suite times.  A no-op when
#: ASV_PYTHONPATH is unset.
_SYS_PATH = ('import os, sys; sys.path[:0] = '
             '[p for p in os.environ.get("ASV_PYTHONPATH", "").split(os.pathsep) if p]')


def timeraw_import_fastsdm():
    """`import fastsdm` alone: lazy, it loads neither NumPy nor numba (a few ms).

    The first use of a public name imports NumPy, numba (``timeraw_import_numba``)
    and the module that defines it.
    """
    return "import fastsdm", _SYS_PATH


timeraw_import_fastsdm.repeat = (3, 10, 20.0)


def timeraw_import_numba():
    """`import numba` alone: what the first use of any kernel adds to a session."""
    return "import numba", _SYS_PATH


timeraw_import_numba.repeat = (3, 10, 20.0)


class FirstCall:
    """The first call of a workload in a fresh process, cold or warm numba cache.

    Times the call alone: numba, NumPy and the fastsdm modules the call needs
    are imported in the untimed preamble, so a warm figure is dispatch, cache
    loads, numba's lazily imported internals and the work itself, and a cold
    one adds compilation.
    """

    params = [list(_FIRST_CALLS), ["cold", "warm"]]
    param_names = ["call", "numba_cache"]
    number = 1
    repeat = (1, 3, 120.0)
    warmup_time = 0
    timeout = 900

    def setup_cache(self):
        # Make sure numba's ordinary cache holds every first call (a separate
        # process; seconds if the cache is already warm, ~40 s if cold).
        calls = [c for name, c in _FIRST_CALLS.items()
                 if name != "continuous_write_read" or _has_continuous()]
        code = _PREAMBLE.format(choose_cache="", sys_path=_SYS_PATH,
                                resolve="\n".join(r for r, _ in calls))
        code += "\n".join(c for _, c in calls) + "\n"
        subprocess.run([sys.executable, "-c", code], check=True)
        return os.environ.get("NUMBA_CACHE_DIR", "")

    def setup(self, cache_dir, call, numba_cache):
        if call == "continuous_write_read" and not _has_continuous():
            raise NotImplementedError("fastsdm.continuous is not in this fastsdm")

    def timeraw_first_call(self, cache_dir, call, numba_cache):
        if numba_cache == "cold":
            where = _COLD_DIR + 'os.environ["NUMBA_CACHE_DIR"] = _cold'
        elif cache_dir:
            where = f'os.environ["NUMBA_CACHE_DIR"] = {cache_dir!r}'
        else:
            where = 'os.environ.pop("NUMBA_CACHE_DIR", None)'
        resolve, stmt = _FIRST_CALLS[call]
        return stmt, _PREAMBLE.format(choose_cache=where, sys_path=_SYS_PATH, resolve=resolve)
