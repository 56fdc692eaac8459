"""A shard of a :class:`fastsdm.distributed.ShardedSDM`: the state of one Dask actor.

A shard is locations ``start:stop`` of the memory: an ordinary
:class:`fastsdm.SDM` over them (built or loaded on its worker: its addresses
are never shipped) whose arrays the block operations of the core
(:class:`fastsdm._core.Locations`) drive.  The client calls a shard with
``call(operation, *args)``, ``operation`` one of this class's methods (the
function itself, never a name); :meth:`Shard.call` returns ``(True, result)`` or
``(False, Failure)``, so that the shard's own errors stay apart from Dask's.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import socket
import traceback

import numpy as np

from .._core import Locations
from .._params import SDMParams
from ..memory import SDM, generate_addresses

__all__ = ["Failure", "Shard"]


class Failure:
    """An exception raised by shard code, returned instead of raised.

    Returning it keeps the shard's own errors (bad path, full disk, memory)
    apart from Dask's errors (a lost worker), which are raised by the actor
    machinery itself.
    """

    def __init__(self, exc: BaseException):
        self.text = traceback.format_exc()
        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        self.exc = exc


def returning_failure(func, *args):
    """``func(*args)`` on a worker, its error returned as a :class:`Failure`.

    For the checkpoint helpers (``client.submit``): raised, a user's error
    (a path that holds no checkpoint) would also be logged by the worker as
    a Dask "Compute Failed" with its traceback.  :func:`raise_failure`
    raises it on the client.
    """
    try:
        return func(*args)
    except Exception as exc:
        return Failure(exc)


def raise_failure(result):
    """``result``, or its exception raised if it is a :class:`Failure`."""
    if isinstance(result, Failure):
        raise result.exc
    return result


class Shard:
    """Locations ``start:stop`` of a memory, as a Dask actor's state.

    ``params`` is the whole memory's :class:`fastsdm._params.SDMParams`
    metadata (``to_metadata()``); the shard's own parameters are
    ``params.shard(start, stop)``.  A new shard generates its addresses from
    the memory's entropy, a loaded one reads ``path`` and checks that it
    holds exactly this shard.
    """

    def __init__(self, index: int, start: int, stop: int, params: dict, path: str | None = None,
                 mmap=None, verify=None):
        self.index, self.start, self.stop = index, start, stop
        self.sdm, self.failure = None, None
        try:
            self._build(params, path, mmap, verify)
        except Exception as exc:
            # Kept for call() to return: raised here, the worker would log the
            # user's error (a corrupt checkpoint) as a Dask "Compute Failed".
            self.sdm, self.failure = None, Failure(exc)

    def _build(self, params, path, mmap, verify):
        index, start, stop = self.index, self.start, self.stop
        whole = SDMParams.from_metadata(params, min_locations=1)
        expected = whole.shard(start, stop)
        if path is None:
            addresses = generate_addresses(whole.seed, whole.n_locations, whole.n_bits, start,
                                           stop)
            self.sdm = SDM(addresses=addresses, **expected.arguments())
        else:
            self.sdm = SDM.load(path, mmap=mmap, verify=verify)
            found = SDMParams.of(self.sdm)
            if found != expected:
                diff = {f.name: (getattr(found, f.name), getattr(expected, f.name))
                        for f in dataclasses.fields(SDMParams)
                        if getattr(found, f.name) != getattr(expected, f.name)}
                raise ValueError(f"{path} does not hold shard {index} of this memory "
                                 f"(saved value, expected value): {diff}; the checkpoint is "
                                 "corrupt or mixes directories of different memories")

    def call(self, operation, *args):
        """``(True, operation(self, *args))``, or ``(False, Failure)`` if it raised
        (or if the shard could not be built)."""
        if self.failure is not None:
            return False, self.failure
        try:
            return True, operation(self, *args)
        except Exception as exc:
            return False, Failure(exc)

    @property
    def locations(self) -> Locations:
        return Locations.of(self.sdm)

    def describe(self) -> dict:
        return {"index": self.index, "start": self.start, "stop": self.stop,
                "nbytes": int(self.sdm.nbytes), "pid": os.getpid(), "host": socket.gethostname()}

    # Writes.

    def write(self, words, data_words, weight, parallel):
        self.sdm.write(words, data_words, weight=weight, parallel=parallel)

    def write_csr(self, indptr, indices, data_words, weight, parallel):
        if not self.sdm.counters.flags.writeable:
            raise ValueError("this shard's counters are read-only (loaded with mmap='r')")
        locations = self.locations
        locations.apply(indptr, indices, locations.deltas(data_words, weight), parallel)

    def clear(self):
        self.sdm.clear()

    # Reads: partial sums only; the client draws the ties and thresholds.

    def sums(self, words, parallel):
        return self.locations.partial_sums(words, parallel)

    def sums_csr(self, indptr, indices, parallel):
        return self.locations.sums_csr(indptr, indices, parallel)

    def activate(self, words, parallel):
        return self.locations.activate(words, parallel)

    def knn(self, words, parallel):
        indices, distances = self.locations.nearest(words, self.sdm.k_nearest, parallel)
        indices += self.start
        return indices, distances

    # Inspection and persistence.

    def addresses(self, lo, hi):
        return np.array(self.sdm.addresses[lo:hi])

    def counters(self, lo, hi):
        return np.array(self.sdm.counters[lo:hi])

    def save(self, path):
        self.sdm.save(path)

    def flush(self):
        self.sdm.flush()

    def release(self):
        # Drop the memory now (ShardedSDM.close): its arrays, and the write guard
        # of a checkpoint mapped with mmap=True, go with the last reference.
        self.sdm = None
