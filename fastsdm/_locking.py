"""One lock per memory object: shared for reads, exclusive for changes.

The kernels release the GIL, so Python threads really do run calls on one
memory at the same time.  A write is many independent row updates; two of
them interleaved lose updates, and a read in the middle of one sees half of
it.  So every public method of a memory takes its object's lock:

* *exclusive* (one thread, no readers): ``write``, ``clear``, ``flush``;
* *shared* (any number of readers, no writer): ``read``, ``read_sums``,
  ``activate``, ``save``.  Reads that draw random tie bits draw them from a
  NumPy generator, which serialises its own draws.

A writer announces itself before it waits for the readers inside to leave,
and readers that arrive after that queue behind it, so a stream of readers
cannot starve a writer.  Built from three ``threading.Lock`` objects and no
condition variable: an uncontended reader costs four lock operations, a
writer six (about half a microsecond, next to tens of microseconds for the
smallest read or write).
"""

from __future__ import annotations

import functools
import threading

__all__ = ["RWLock", "shared", "exclusive"]


class RWLock:
    """A readers-writer lock that lets no stream of readers starve a writer.

    Not reentrant: a thread holding it must not take it again.
    """

    __slots__ = ("_mutex", "_room", "_gate", "_writer", "_readers")

    def __init__(self):
        self._mutex = threading.Lock()  # guards _writer and _readers
        self._room = threading.Lock()   # held by the writer, or by the readers as a group
        self._gate = threading.Lock()   # held by the writer from announcing itself to leaving
        self._writer = False            # a writer is waiting for the room or in it
        self._readers = 0

    def acquire_shared(self) -> None:
        mutex = self._mutex
        mutex.acquire()
        while self._writer:  # queue behind the writer (it holds the gate)
            mutex.release()
            self._gate.acquire()
            self._gate.release()
            mutex.acquire()
        self._readers += 1
        if self._readers == 1:
            # Free: no writer holds the room while _writer is False.
            self._room.acquire()
        mutex.release()

    def release_shared(self) -> None:
        with self._mutex:
            self._readers -= 1
            if self._readers == 0:
                self._room.release()

    def acquire_exclusive(self) -> None:
        self._gate.acquire()
        with self._mutex:
            self._writer = True
        self._room.acquire()  # wait for the readers inside to leave

    def release_exclusive(self) -> None:
        self._room.release()
        with self._mutex:
            self._writer = False
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
