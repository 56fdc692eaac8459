"""The one place for numba policy.

Every kernel in fastsdm is built here, with the same settings:

* ``cache=True`` (turn off with ``FASTSDM_NUMBA_CACHE=0``): the first call of a
  kernel compiles it (seconds); later processes load the machine code from
  numba's cache (milliseconds).
* ``nogil=True``: kernels release the GIL, so Python threads can overlap them.
* ``fastmath=False``: integer kernels gain nothing from it, and float kernels
  must keep IEEE semantics (NaN checks, reproducible sums).
* ``error_model="numpy"``: division follows NumPy and is not wrapped in
  Python exception checks inside hot loops.

Parallel kernels come as *twins*: the same Python function compiled once
serially and once with ``parallel=True`` (``prange`` becomes ``range`` in the
serial twin).  Both are built at import time, never inside a call, and the
public wrappers pick one by the amount of work (:func:`use_parallel`), because
waking a thread pool costs more than a small call is worth.

fastsdm never changes process-wide numba settings (threading layer, thread
count) at import: those belong to the application.
"""

from __future__ import annotations

import os
import types

import numba

__all__ = ["jit", "twins", "specialize", "use_parallel", "PARALLEL_MIN_WORK"]


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
#: runs serially: a parallel launch costs tens of microseconds with a passive
#: thread pool and milliseconds with a spinning OpenMP pool.
#: Override with ``FASTSDM_PARALLEL_MIN_WORK``.
PARALLEL_MIN_WORK = _env_int("FASTSDM_PARALLEL_MIN_WORK", 2_000_000)

_OPTIONS = dict(cache=CACHE, nogil=True, fastmath=False, error_model="numpy")


def jit(fn=None, **overrides):
    """Compile ``fn`` with fastsdm's numba policy (usable bare or with options)."""
    if fn is None:
        return lambda f: jit(f, **overrides)
    return numba.njit(**{**_OPTIONS, **overrides})(fn)


def _renamed_copy(fn, suffix: str, globals_=None):
    # numba's on-disk cache is keyed by the function's qualified name and
    # signature, not by the ``parallel`` flag: compiling one function twice
    # would make the twins overwrite each other's cache entries.  A copy with
    # its own qualified name gets its own cache file.
    clone = types.FunctionType(fn.__code__, fn.__globals__ if globals_ is None else globals_,
                               fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    clone.__qualname__ = fn.__qualname__ + suffix
    clone.__doc__ = fn.__doc__
    clone.__module__ = fn.__module__
    return clone


def twins(fn):
    """Return ``(serial, parallel)`` compilations of one ``prange`` function."""
    serial = jit(fn)
    parallel = jit(_renamed_copy(fn, "_parallel"), parallel=True)
    return serial, parallel


def specialize(fn, suffix: str, **constants):
    """A copy of ``fn`` (named ``fn`` + ``suffix``) whose globals ``constants`` are fixed.

    numba compiles global values as constants, so branches on them fold away
    in the copy: one source for several kernels that differ in, e.g., what
    they do with each result, without a run-time switch in the hot loop.
    The copy sees a snapshot of ``fn``'s module globals taken now: call this
    after everything ``fn`` uses is defined (at the end of the module).
    """
    return _renamed_copy(fn, suffix, {**fn.__globals__, **constants})


def use_parallel(work: int, parallel: bool | None = None) -> bool:
    """Decide whether a call of ``work`` elementary operations runs in parallel.

    ``parallel=True``/``False`` forces the choice; ``None`` decides by size and
    by ``numba.get_num_threads()``.
    """
    if parallel is not None:
        return bool(parallel)
    return work >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1
