"""One lock per memory object: shared for reads, exclusive for changes.

The kernels release the GIL, so Python threads really do run calls on one
memory at the same time.  A write is many independent row updates; two of
them interleaved lose updates, and a read in the middle of one sees half of
it.  So every public method of a memory takes its object's lock:

* *exclusive* (one thread, no readers): ``write``, ``clear``, ``flush``, and
  assigning a parameter (:func:`serialised_parameters`);
* *shared* (any number of readers, no writer): ``read``, ``read_sums``,
  ``activate``, ``save``.  Reads that draw random tie bits draw them from a
  NumPy generator, which serialises its own draws.

A writer announces itself before it waits for the readers inside to leave,
and readers that arrive after that queue behind it, so a stream of readers
cannot starve a writer.  Built from three ``threading.Lock`` objects and no
condition variable: an uncontended reader or writer costs four to six lock
operations, 0.45 µs per call with the method wrapper (a wrapper around one
plain ``threading.Lock``, which would serialise reads too, costs 0.35 µs),
next to 13-100 µs for the smallest calls (``benchmarks/lock_overhead.py``).
"""

from __future__ import annotations

import functools
import threading

__all__ = ["RWLock", "shared", "exclusive", "serialised_parameters", "set_checked"]


class RWLock:
    """A readers-writer lock that lets no stream of readers starve a writer.

    Not reentrant: a thread holding it must not take it again.  Readers only
    count themselves under a mutex; a writer closes the gate (new readers
    wait on it), announces itself, and waits for the readers inside to leave:
    the last one to leave wakes it through ``_drained``, a lock that is held
    except while it does so.
    """

    __slots__ = ("_mutex", "_gate", "_drained", "_writer", "_readers")

    def __init__(self):
        self._mutex = threading.Lock()    # guards _writer and _readers
        self._gate = threading.Lock()     # held by the writer, from announcing itself to leaving
        self._drained = threading.Lock()  # released once by the last reader a writer waits for
        self._drained.acquire()
        self._writer = False
        self._readers = 0

    def acquire_shared(self) -> None:
        mutex = self._mutex
        mutex.acquire()
        while self._writer:  # queue behind the writer
            mutex.release()
            # A with: a Ctrl-C raised as the acquire returns still releases the gate.
            with self._gate:
                pass
            mutex.acquire()
        self._readers += 1
        mutex.release()

    def release_shared(self) -> None:
        mutex = self._mutex
        mutex.acquire()
        self._readers -= 1
        if not self._readers and self._writer:
            self._drained.release()  # the writer was waiting for this reader
        mutex.release()

    def acquire_exclusive(self) -> None:
        self._gate.acquire()
        mutex = self._mutex
        mutex.acquire()
        self._writer = True
        wait = self._readers > 0
        mutex.release()
        if wait:
            try:
                self._drained.acquire()
            except BaseException:  # KeyboardInterrupt while waiting: leave as it was
                self._withdraw()
                raise

    def _withdraw(self) -> None:
        # A writer that gave up waiting for the readers.  If the last of them
        # already left, it released _drained for this writer: take it back so
        # that it is held again, as it must be while no writer waits.
        mutex = self._mutex
        mutex.acquire()
        self._writer = False
        if not self._readers:
            self._drained.acquire(blocking=False)
        mutex.release()
        self._gate.release()

    def release_exclusive(self) -> None:
        mutex = self._mutex
        mutex.acquire()
        self._writer = False
        mutex.release()
        self._gate.release()


def shared(method):
    """Run ``method`` holding its object's ``_lock`` shared (readers)."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        lock = self._lock
        lock.acquire_shared()
        try:
            return method(self, *args, **kwargs)
        finally:
            lock.release_shared()

    return locked


def exclusive(method):
    """Run ``method`` holding its object's ``_lock`` exclusively (a writer)."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        lock = self._lock
        lock.acquire_exclusive()
        try:
            return method(self, *args, **kwargs)
        finally:
            lock.release_exclusive()

    return locked


# -- parameters -------------------------------------------------------------------
#
# A memory's parameters are public attributes (``mem.radius = 20``), and every
# call re-checks them when one changed, writing their checked values back
# (``"int16"`` becomes ``dtype('int16')``).  An assignment that took no lock
# could land in the middle of a call, and a call re-checking under the shared
# lock could write an older value back over it: the assignment was lost.


def _assign_exclusively(obj, assign) -> None:
    lock = obj.__dict__.get("_lock")
    if lock is None:  # still being built: nobody else can see it
        assign()
        return
    lock.acquire_exclusive()
    try:
        assign()
    finally:
        lock.release_exclusive()


class _Parameter:
    # No __get__: reads come straight from the instance dictionary, at no cost.
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __set__(self, obj, value) -> None:
        _assign_exclusively(obj, lambda: obj.__dict__.__setitem__(self.name, value))


def serialised_parameters(*names: str):
    """Class decorator: assigning one of ``names`` takes the object's lock exclusively.

    An assignment then waits for the calls running on the object, as a write
    does, and no call's re-check can undo it.  A property keeps its getter
    and its setter runs under the lock.  Code that already holds the lock
    sets checked values with :func:`set_checked`.
    """

    def decorate(cls):
        for name in names:
            current = getattr(cls, name, None)
            if isinstance(current, property):
                setter = current.fset

                def locked(obj, value, setter=setter):
                    _assign_exclusively(obj, lambda: setter(obj, value))

                setattr(cls, name, current.setter(locked))
            else:
                setattr(cls, name, _Parameter(name))
        return cls

    return decorate


def set_checked(obj, **values) -> None:
    """Set parameters from a call that holds the object's lock (no second acquire)."""
    obj.__dict__.update(values)
