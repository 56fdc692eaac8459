"""The client side of a :class:`ShardedSDM`: the memory users hold.

The client validates every call (:mod:`fastsdm._validation`,
:mod:`fastsdm._params`, :func:`fastsdm._core.write_inputs`), owns the tie
generator, sends each shard (:class:`fastsdm.distributed._worker.Shard`, a
Dask actor) its operation, and adds the shards' partial sums and thresholds
them (:func:`fastsdm._core.threshold`); iterated reads run the core's one
loop (:func:`fastsdm._core.read_bits`).  Checkpoint files are written on a
worker by :mod:`fastsdm.distributed._checkpoint`.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import uuid
from pathlib import Path

import numpy as np

from .._core import read_bits, threshold, tie_words, write_inputs
from .._locking import RWLock, exclusive, shared
from .._machine import available_memory
from .._params import SDM_PARAMETERS, SDMParams, attribute_fingerprint
from .._persist import mmap_mode, read_only, verify_option
from .._validation import as_words, check_int, check_positive, n_words, renamed_keywords
from .._version import __version__
from ..memory import SDM
from ._checkpoint import (
    FORMAT_NAME,
    FORMAT_VERSION,
    abort_save,
    commit_save,
    manifest_identity,
    prepare_save,
    read_checkpoint,
    update_manifest,
)
from ._worker import Shard, raise_failure, returning_failure

__all__ = ["ShardedSDM", "ShardLostError", "ROUND_BYTES", "POLL_SECONDS"]

#: Bytes of partial sums (or k-NN candidates) one shard returns per round: a
#: large batch is read in rounds so that no reply, and no sum on the client,
#: exceeds this.
ROUND_BYTES = 64 << 20
#: Seconds between checks of a shard's actor while waiting for its answer.
POLL_SECONDS = 0.5
#: Loads of a checkpoint that a concurrent save replaced, tried before giving up.
_LOAD_ATTEMPTS = 3
#: How long :meth:`ShardedSDM.close` waits for the shards to drop their memory.
RELEASE_SECONDS = 10.0

_INSTALL_HINT = ('fastsdm.distributed needs Dask distributed: pip install "fastsdm[distributed]" '
                 '(or pip install "dask[distributed]>=2024.1")')


class _NoAnswer(Exception):
    """A shard that stopped answering (internal)."""


class ShardLostError(RuntimeError):
    """A shard's state is gone or can no longer be trusted.

    Raised when the Dask worker holding a shard dies, cannot be reached or
    does not answer within the memory's ``timeout``, and when a write failed
    on some shards only.  The memory then refuses every further call: restore
    it from its last checkpoint with
    ``ShardedSDM.load(last_checkpoint, client=client)`` and replay the writes
    made since.
    """


def _distributed():
    """Import Dask distributed, or say which extra installs it."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return distributed


def _check_timeout(timeout) -> float | None:
    # Checked up front: a bad value would otherwise first show as a shard
    # "lost" on the first call, and the memory would stay marked lost.
    if timeout is None:
        return None
    return check_positive(timeout, "timeout", "60.0", kind="number of seconds",
                          hint="or timeout=None to wait as long as the workers live")


def _check_client(client) -> None:
    """``client`` is None or an open ``distributed.Client``."""
    if client is None:
        return
    if not isinstance(client, _distributed().Client):
        raise TypeError(f"client must be a distributed.Client (e.g. Client(cluster) or "
                        f"Client('tcp://scheduler:8786')) or None for a private in-process "
                        f"cluster, got {type(client).__name__}")
    if client.status in ("closing", "closed"):
        raise ValueError("the Dask client given is closed; pass an open distributed.Client")


def _private_cluster():
    """An in-process cluster with one worker, and a client that is not the default."""
    distributed = _distributed()
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                       dashboard_address="127.0.0.1:0", memory_limit=0)
    try:
        client = distributed.Client(cluster, set_as_default=False, direct_to_workers=True)
        return client, cluster
    except BaseException:
        cluster.close()
        raise


def _close_cluster(owned) -> None:
    client, cluster = owned
    client.close()
    cluster.close()



# -- the client side ------------------------------------------------------------


class ShardedSDM:
    """A Sparse Distributed Memory whose locations are sharded over Dask workers.

    Holds the same memory as :class:`fastsdm.SDM` with the same parameters
    and seed (the same addresses, counters and reads, ties included), split
    into ``n_shards`` contiguous blocks of locations.  Each block lives in a
    Dask actor on a worker, where its addresses are generated (never
    shipped).  A write sends the batch to every shard; a read gathers every
    shard's partial counter sums (``int64``), adds them and thresholds once
    on the client, which also owns the tie generator.

    Parameters
    ----------
    n_bits : int
        Address length ``n``.
    n_locations : int
        Number of hard locations ``N``.
    radius, activation_probability, k_nearest :
        The activation rule, exactly one of them, as for :class:`fastsdm.SDM`.
        ``k_nearest`` costs two rounds per batch (see Notes).
    n_value_bits, counter_dtype, ties, seed :
        As for :class:`fastsdm.SDM`.
    n_shards : int
        Number of shards, in ``[1, n_locations]``: shard ``i`` holds locations
        ``i * N // n_shards`` to ``(i + 1) * N // n_shards``.  Shards are spread
        evenly over the client's workers (sorted by address; shard ``i`` on
        worker ``i * n_workers // n_shards``) and pinned there.
    client : distributed.Client, optional
        The cluster to use (not closed by :meth:`close`).  ``None`` starts a
        private in-process cluster (``LocalCluster(processes=False)``, one
        worker), closed by :meth:`close`.
    timeout : float, optional
        Seconds to wait for a shard's answer to a call; ``None`` waits as
        long as the worker is alive.  A shard that does not answer in time is
        treated as lost (:class:`ShardLostError`).  Building or loading the
        shards has no time limit (only a worker leaving stops it).

    Attributes
    ----------
    shard_bounds : ndarray of int64, shape (n_shards + 1,)
        Shard ``i`` holds locations ``shard_bounds[i]:shard_bounds[i + 1]``.
    workers : list of str
        The address of the worker holding each shard.
    client : distributed.Client
    seed : int
        The entropy of the addresses and the tie stream.

    Raises
    ------
    ImportError
        If Dask distributed is not installed.
    MemoryError
        If the shards placed on a worker exceed its memory limit, or a shard
        does not fit in its worker's available RAM.

    See Also
    --------
    fastsdm.SDM : the single-process memory.

    Notes
    -----
    *Identity with SDM.*  Addresses come from
    ``fastsdm.memory.generate_addresses``, which draws block ``b`` of
    ``ADDRESS_BLOCK`` locations from ``SeedSequence(seed, spawn_key=(0, b))``,
    so a shard regenerates exactly its range.  Counters saturate per row, so
    each shard applying a batch in order equals the whole memory doing it.
    Reads draw tie words from ``default_rng(SeedSequence(seed, spawn_key=(1,)))``
    with SDM's call sequence: once per batch for ``read`` and ``read_sums``,
    once per iteration (for the queries still moving) for iterated reads.

    *k-nearest activation* is not decomposable in one round: each shard
    returns its ``k`` nearest candidates with their distances, the client
    keeps the global ``k`` nearest (ties to the lower index, as SDM), then
    sends each shard its share of the activated locations.

    *Failures.*  A lost worker loses its shard's counters.  Every call then
    raises :class:`ShardLostError`; recover with
    ``ShardedSDM.load(last_checkpoint, client=client)``.  The memory never
    answers from a partial set of shards.

    *Threads.*  A Dask worker runs its actors' calls on one thread, and the
    numba kernels inside use all the cores numba is given: place one worker
    per machine (or set ``NUMBA_NUM_THREADS`` to the cores of each worker).

    Examples
    --------
    >>> import fastsdm
    >>> from fastsdm.distributed import ShardedSDM
    >>> with ShardedSDM(256, 20_000, radius=112, seed=0, n_shards=2) as mem:  # doctest: +SKIP
    ...     patterns = fastsdm.random_addresses(50, 256, seed=1)
    ...     mem.write(patterns)
    ...     recalled = mem.read(fastsdm.flip_bits(patterns, 256, 20, seed=2), iterations=10)
    ...     single = fastsdm.SDM(256, 20_000, radius=112, seed=0)
    ...     single.write(patterns)
    ...     same = single.read(fastsdm.flip_bits(patterns, 256, 20, seed=2), iterations=10)
    ...     bool((recalled == same).all())
    True
    """

    @renamed_keywords(n_data_bits="n_value_bits")
    def __init__(self, n_bits: int, n_locations: int, radius: int | None = None, *,
                 activation_probability: float | None = None, k_nearest: int | None = None,
                 n_value_bits: int | None = None, counter_dtype="int16", ties: str = "random",
                 seed=None, n_shards: int, client=None, timeout: float | None = None):
        timeout = _check_timeout(timeout)
        params = SDMParams.create(
            n_bits, n_locations, radius, activation_probability=activation_probability,
            k_nearest=k_nearest, n_data_bits=n_value_bits, counter_dtype=counter_dtype,
            ties=ties, seed=seed, min_locations=1,
            locations_hint="a sharded memory holds at least one location")
        n_shards = check_int(n_shards, "n_shards", 1, params.n_locations,
                             hint="every shard holds at least one location")
        bounds = np.array([i * params.n_locations // n_shards for i in range(n_shards + 1)],
                          dtype=np.int64)
        tie_rng = np.random.default_rng(np.random.SeedSequence(params.seed, spawn_key=(1,)))
        self._build(params, bounds, tie_rng, None, False)
        self._start(client, None, timeout, [None] * n_shards, None, None)

    def _build(self, params: SDMParams, shard_bounds, tie_rng, path, read_only) -> None:
        """Set the client's state: the one place the constructor and :meth:`load` do it.

        ``path`` is the checkpoint :meth:`flush` updates (``load(mmap=True)``).
        """
        params.assign(self)
        self.seed = params.seed
        # The shards are built with these parameters and keep them: a change
        # made here would be ignored by them (checked by _check_usable).
        self._built_params = attribute_fingerprint(self, SDM_PARAMETERS)
        self.shard_bounds = shard_bounds
        self._tie_rng = tie_rng
        self._lock = RWLock()
        self._path = path
        self._read_only = read_only
        self._actors, self._futures, self._lost, self._owned = [], [], None, None

    # -- cluster plumbing -------------------------------------------------------

    def _params(self) -> SDMParams:
        return SDMParams.of(self, min_locations=1)

    @property
    def n_value_bits(self) -> int:
        """Width of the stored values (the same number as ``n_data_bits``)."""
        return self.n_data_bits

    def _start(self, client, owned, timeout, paths, mmap, verify, keep_cluster=False):
        """Create the shard actors on ``client`` (or on a private cluster).

        A failure closes the private cluster too, unless ``keep_cluster`` (the
        caller then closes it, or tries again on it).
        """
        self.timeout = timeout
        self._futures, self._actors, self._lost = [], [], None
        _check_client(client)
        if client is None and owned is None:
            owned = _private_cluster()
        self._owned = owned
        self.client = client if owned is None else owned[0]
        try:
            self._create_shards(paths, mmap, verify)
        except BaseException:
            if keep_cluster:
                self._owned = None
            self.close()
            raise

    def _create_shards(self, paths, mmap, verify):
        addresses = sorted(self.client.nthreads())
        if not addresses:
            raise RuntimeError("the Dask cluster has no workers; start some, or call "
                               "client.wait_for_workers(n) before building the memory")
        n_shards = self.shard_bounds.size - 1
        self.workers = [addresses[i * len(addresses) // n_shards] for i in range(n_shards)]
        self._check_worker_memory()
        params = self._params().to_metadata()
        token = uuid.uuid4().hex[:12]
        for i in range(n_shards):
            start, stop = int(self.shard_bounds[i]), int(self.shard_bounds[i + 1])
            self._futures.append(self.client.submit(
                Shard, i, start, stop, params, paths[i], mmap, verify, actor=True,
                key=f"fastsdm-shard-{i:05d}-{token}", workers=[self.workers[i]],
                allow_other_workers=False))
        self._await_shards()
        # Proxies bound to this client (even when it is not the default one):
        # a proxy bound to a worker object hangs once that worker is closed.
        actor = _distributed().Actor
        with self.client.as_current():
            self._actors = [actor(Shard, worker, future.key)
                            for worker, future in zip(self.workers, self._futures, strict=True)]
        self._call(Shard.describe, self._each())  # raises a shard's error in building itself

    def _await_shards(self):
        """Wait for the shards to be built (generated or loaded) on their workers.

        No time limit (a large shard takes minutes to generate or verify), but
        a worker that leaves meanwhile is noticed: Dask would otherwise keep
        its pinned shard waiting for it forever.
        """
        for future in self._futures:
            while True:
                try:
                    # Dask's errors only: a shard's own comes back through describe()
                    future.result(timeout=POLL_SECONDS)
                    break
                except TimeoutError:
                    alive = set(self.client.nthreads())
                    for i, other in enumerate(self._futures):
                        if other.status != "finished" and self.workers[i] not in alive:
                            raise ShardLostError(
                                f"worker {self.workers[i]} left while it was building shard "
                                f"{i}; build or load the memory again") from None

    def _check_worker_memory(self):
        if self._owned is not None:
            # The private cluster keeps every shard in this process.
            available = available_memory()
            if available is not None and self.nbytes > available:
                raise MemoryError(
                    f"this memory needs {self.nbytes} bytes ({self.nbytes / 2**30:.2f} GiB) and "
                    f"the private in-process cluster holds all of it, but only "
                    f"{available / 2**30:.2f} GiB is available; pass client= a cluster whose "
                    "workers can hold the shards, or use counter_dtype='int8'")
            return
        try:
            info = self.client.scheduler_info(n_workers=-1)
        except TypeError:  # distributed < 2025 has no n_workers and lists all workers
            info = self.client.scheduler_info()
        import dask

        fraction = dask.config.get("distributed.worker.memory.terminate", 0.95) or 1.0
        need = {}
        for i, worker in enumerate(self.workers):
            need[worker] = need.get(worker, 0) + SDM.estimate_nbytes(
                self.n_bits, int(self.shard_bounds[i + 1] - self.shard_bounds[i]),
                self.n_data_bits, self.counter_dtype)
        for worker, nbytes in need.items():
            limit = (info.get("workers", {}).get(worker) or {}).get("memory_limit") or 0
            if limit and nbytes > fraction * limit:
                raise MemoryError(
                    f"the shards placed on worker {worker} need {nbytes} bytes "
                    f"({nbytes / 2**30:.2f} GiB) but its memory_limit is {limit} bytes, and Dask "
                    f"stops a worker at {fraction:.0%} of it; use more workers or shards, "
                    "counter_dtype='int8', or workers with a larger memory_limit")

    def _check_usable(self):
        if attribute_fingerprint(self, SDM_PARAMETERS) != self._built_params:
            changed = [name for name, was, now in zip(
                SDM_PARAMETERS, self._built_params, attribute_fingerprint(self, SDM_PARAMETERS),
                strict=True) if was != now]
            raise ValueError(f"this ShardedSDM's {', '.join(changed)} changed since its shards "
                             "were built with them, and the shards would ignore the change; "
                             "set it back, or save() and build a new memory with the new "
                             "parameters")
        if self._lost is not None:
            raise ShardLostError(self._lost)
        if not self._actors:
            raise RuntimeError("this ShardedSDM is closed")
        if self.client.status in ("closing", "closed"):
            raise RuntimeError(
                "the Dask client of this memory was closed, which released its shards on the "
                "workers; open a new distributed.Client and load the last checkpoint: "
                "ShardedSDM.load(last_checkpoint, client=new_client)")

    def _lose(self, shard: int, exc: BaseException, what: str) -> ShardLostError:
        start, stop = int(self.shard_bounds[shard]), int(self.shard_bounds[shard + 1])
        self._lost = (f"shard {shard} (locations {start}:{stop}) on worker "
                      f"{self.workers[shard]} {what} ({type(exc).__name__}: {exc}); the memory "
                      "no longer answers. Recover from the last checkpoint with "
                      "fastsdm.distributed.ShardedSDM.load(last_checkpoint, client=client) and "
                      "replay the writes made since")
        return ShardLostError(self._lost)

    def _call(self, operation, args: list, *, mutating: bool = False) -> list:
        """Call ``operation`` (a :class:`Shard` method) on the shards with ``args[i]``
        (None skips shard i).

        Returns the results in shard order (None for skipped shards).  Dask's
        errors mean a shard is lost; the shard code's own errors are raised
        as they are, with the shard's traceback attached.  A mutating call
        that fails anywhere leaves the memory unusable (the shards may
        disagree).
        """
        self._check_usable()
        for i, future in enumerate(self._futures):
            if future.status != "finished":
                raise self._lose(i, RuntimeError(f"its actor's status is {future.status!r}"),
                                 "is lost")
        pending, results = [], [None] * len(args)
        lost = failure = None
        try:
            for i, a in enumerate(args):
                if a is None:
                    continue
                try:
                    pending.append((i, self._actors[i].call(operation, *a)))
                except Exception as exc:  # the proxy raises when its worker is known lost
                    lost = lost or (i, exc, "is lost")
                    break
            for i, future in pending:
                try:
                    ok, value = self._wait(i, future)
                except _NoAnswer as exc:
                    lost = lost or (i, exc.__cause__ or exc, exc.args[0])
                    continue
                except (Exception, asyncio.CancelledError) as exc:
                    lost = lost or (i, exc, "is lost")
                    continue
                if ok:
                    results[i] = value
                else:
                    failure = failure or (i, value)
        except BaseException:
            name = operation.__name__
            if mutating:
                self._lost = (f"a {name} was interrupted and may have reached only some "
                              "shards; the memory no longer answers. Recover from the last "
                              "checkpoint with fastsdm.distributed.ShardedSDM.load("
                              "last_checkpoint, client=client)")
            raise
        name = operation.__name__
        if lost is not None:
            raise self._lose(*lost) from lost[1]
        if failure is not None:
            i, fail = failure
            fail.exc.add_note(f"raised on shard {i} (worker {self.workers[i]}):\n{fail.text}")
            if mutating:
                raise self._lose(i, fail.exc, f"failed during {name}") from fail.exc
            raise fail.exc
        return results

    def _wait(self, i: int, future):
        """The answer of shard ``i``, watching its actor while waiting.

        Dask does not always resolve a call to a worker that went away (the
        call's future can stay pending), so the wait is cut into short slices
        and the actor's status checked between them.
        """
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            wait = POLL_SECONDS
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                return future.result(timeout=wait)
            except TimeoutError as exc:
                status = self._futures[i].status
                if status != "finished":
                    raise _NoAnswer(f"is lost (its actor's status is {status!r})") from exc
                if deadline is not None and time.monotonic() >= deadline:
                    # Not Dask's own text: it names the last poll's slice of the wait.
                    raise _NoAnswer(f"did not answer within {self.timeout} s") from TimeoutError(
                        "the limit set by timeout= when the memory was made or loaded; pass a "
                        "larger one, or None to wait without a limit")

    def _each(self, *args) -> list:
        return [args] * len(self._actors)

    def _on_worker(self, func, *args):
        """Run a checkpoint helper on a worker (preferably shard 0's): the path is theirs."""
        return raise_failure(self.client.submit(
            returning_failure, func, *args, pure=False, workers=[self.workers[0]],
            allow_other_workers=True).result(timeout=self.timeout))

    # -- properties ---------------------------------------------------------------

    @property
    def n_shards(self) -> int:
        """Number of shards."""
        return self.shard_bounds.size - 1

    @property
    def n_words(self) -> int:
        """Words per address, ``ceil(n_bits / 64)``."""
        return n_words(self.n_bits)

    @property
    def nbytes(self) -> int:
        """Bytes of addresses plus counters over all shards."""
        return SDM.estimate_nbytes(self.n_bits, self.n_locations, self.n_data_bits,
                                   self.counter_dtype)

    def __repr__(self) -> str:
        act = (f"radius={self.radius}" if self.k_nearest is None
               else f"k_nearest={self.k_nearest}")
        data = "" if self.n_data_bits == self.n_bits else f", n_value_bits={self.n_data_bits}"
        state = ("lost" if self._lost is not None else "closed" if not self._actors
                 else f"{len(set(self.workers))} workers")
        return (f"ShardedSDM(n_bits={self.n_bits}, n_locations={self.n_locations}, {act}{data}, "
                f"counter_dtype='{self.counter_dtype}', ties='{self.ties}', seed={self.seed}, "
                f"n_shards={self.n_shards}; {state})")

    def __reduce__(self):
        raise TypeError("a ShardedSDM holds live Dask actors and cannot be pickled; save() it "
                        "and load() it where it is needed")

    @shared
    def shard_info(self) -> list[dict]:
        """Where each shard lives: index, start, stop, worker, host, pid, nbytes."""
        info = self._call(Shard.describe, self._each())
        for entry, worker in zip(info, self.workers, strict=True):
            entry["worker"] = worker
        return info

    # -- activation -------------------------------------------------------------------

    def _rounds(self, n_queries: int):
        per_query = 8 * self.n_data_bits
        if self.k_nearest is not None:
            per_query = max(per_query, 12 * self.k_nearest * self.n_shards)
        step = max(1, ROUND_BYTES // per_query)
        return [slice(s, s + step) for s in range(0, n_queries, step)]

    def _knn_top(self, words, parallel) -> np.ndarray:
        """Global k nearest of each query, ascending indices (two-phase, first phase)."""
        parts = self._call(Shard.knn, self._each(words, parallel))
        N, k = self.n_locations, self.k_nearest
        keys = np.concatenate([dist.astype(np.int64) * N + idx for idx, dist in parts], axis=1)
        if keys.shape[1] > k:
            keys = np.partition(keys, k - 1, axis=1)[:, :k]
        top = keys % N
        top.sort(axis=1)
        return top

    def _split(self, top: np.ndarray) -> list:
        """Per-shard CSR (local indices) of the globally activated locations."""
        out = []
        for s in range(self.n_shards):
            lo, hi = self.shard_bounds[s], self.shard_bounds[s + 1]
            mask = (top >= lo) & (top < hi)
            indptr = np.zeros(top.shape[0] + 1, dtype=np.int64)
            np.cumsum(mask.sum(axis=1), out=indptr[1:])
            out.append((indptr, top[mask] - lo) if indptr[-1] else None)
        return out

    def _merge_csr(self, parts) -> tuple[np.ndarray, np.ndarray]:
        counts = np.stack([np.diff(indptr) for indptr, _ in parts])
        indptr = np.zeros(counts.shape[1] + 1, dtype=np.int64)
        np.cumsum(counts.sum(axis=0), out=indptr[1:])
        before = np.cumsum(counts, axis=0) - counts
        indices = np.empty(indptr[-1], dtype=np.int64)
        for s, (local_indptr, local) in enumerate(parts):
            dest = np.repeat(indptr[:-1] + before[s] - local_indptr[:-1], counts[s])
            dest += np.arange(local.size)
            indices[dest] = local + self.shard_bounds[s]
        return indptr, indices

    @shared
    def activate(self, queries, *, parallel: bool | None = None):
        """Locations activated by each query, as CSR with global indices.

        Same result as :meth:`fastsdm.SDM.activate`.

        Parameters
        ----------
        queries : ndarray, shape (W,) / (n_bits,) or (q, W) / (q, n_bits)
            Packed ``uint64`` words or 0/1 bits.
        parallel : bool, optional
            Force the shards' parallel or serial kernels.

        Returns
        -------
        indptr : ndarray of int64, shape (q + 1,)
        indices : ndarray of int64
            Activated locations of query ``i``, ascending:
            ``indices[indptr[i]:indptr[i + 1]]``.
        """
        words, _, _ = as_words(queries, "queries", self.n_bits)
        self._check_usable()
        indptrs, indices = [np.zeros(1, dtype=np.int64)], []
        for chunk in self._rounds(words.shape[0]):
            if self.k_nearest is None:
                ptr, idx = self._merge_csr(self._call(Shard.activate, self._each(words[chunk],
                                                                             parallel)))
            else:
                top = self._knn_top(words[chunk], parallel)
                ptr = np.arange(0, top.size + 1, self.k_nearest, dtype=np.int64)
                idx = top.ravel()
            indptrs.append(ptr[1:] + indptrs[-1][-1])
            indices.append(idx)
        return np.concatenate(indptrs), np.concatenate(indices)

    # -- write ----------------------------------------------------------------------

    @exclusive
    @renamed_keywords(addresses="keys", data="values")
    def write(self, keys, values=None, *, weight: int = 1, parallel: bool | None = None):
        """Store values at keys on every shard (a batch at once).

        Same effect as :meth:`fastsdm.SDM.write`, saturation included.  All
        input checks happen on the client, before any shard is touched.

        Parameters
        ----------
        keys : ndarray, shape (W,) / (n_bits,) or (m, W) / (m, n_bits)
            Packed ``uint64`` words, ``np.packbits`` bytes or 0/1 bits.
            ``addresses=`` is its older spelling, still accepted.
        values : ndarray, optional
            One row per key, ``n_value_bits`` wide, in the same forms; ``None``
            stores the keys (autoassociative).  ``data=`` is its older
            spelling, still accepted.
        weight : int
            Added where the data bit is 1, subtracted where it is 0.
        parallel : bool, optional
            Force the shards' parallel or serial kernels.

        Raises
        ------
        ShardLostError
            If a shard is lost or fails during the write: the memory is then
            unusable and must be restored from a checkpoint.
        """
        self._check_writable()
        words, data_words, weight = write_inputs(self.n_bits, self.n_data_bits, keys, values,
                                                 weight)
        if self.k_nearest is None:
            self._call(Shard.write, self._each(words, data_words, weight, parallel), mutating=True)
            return
        data_words = words if data_words is None else data_words
        for chunk in self._rounds(words.shape[0]):
            try:
                csr = self._split(self._knn_top(words[chunk], parallel))
            except BaseException:
                # Earlier rounds are stored: a partial batch.
                if chunk.start and self._lost is None:
                    self._lost = ("a k-nearest write failed after storing part of its batch; "
                                  "recover from the last checkpoint with fastsdm.distributed."
                                  "ShardedSDM.load(last_checkpoint, client=client)")
                raise
            args = [None if part is None else (*part, data_words[chunk], weight, parallel)
                    for part in csr]
            self._call(Shard.write_csr, args, mutating=True)

    def _check_writable(self) -> None:
        self._check_usable()
        if self._read_only:
            raise read_only("counters")

    @exclusive
    def clear(self) -> None:
        """Set every counter of every shard to zero."""
        self._check_writable()
        self._call(Shard.clear, self._each(), mutating=True)

    # -- read -------------------------------------------------------------------------

    def _tie_words(self, words):
        return tie_words(self.ties, self.n_data_bits, self._tie_rng, words)

    def _round_sums(self, words, parallel) -> np.ndarray:
        """Counter sums over all shards for one round of queries.

        Exact integer sums: accumulated in int32 when the shards' bounds say
        the total cannot overflow it, in int64 otherwise.
        """
        if self.k_nearest is None:
            parts = self._call(Shard.sums, self._each(words, parallel))
        else:
            csr = self._split(self._knn_top(words, parallel))
            parts = self._call(Shard.sums_csr, [None if part is None else (*part, parallel)
                                            for part in csr])
        parts = [p for p in parts if p is not None]
        narrow = (all(sums.dtype == np.int32 for sums, _ in parts)
                  and sum(bound for _, bound in parts) < 2**31)
        dtype = np.int32 if narrow else np.int64
        if len(parts) == 1:
            return parts[0][0]
        total = np.add(parts[0][0], parts[1][0], dtype=dtype)
        for sums, _ in parts[2:]:
            total += sums
        return total

    def _read_words(self, words, parallel, want_sums=False, draw_ties=True):
        # As one read of SDM's: tie words for the whole batch first, then
        # the sums, round by round, each thresholded as it arrives.
        self._check_usable()
        ties = (self._tie_words(words) if draw_ties
                else np.zeros((words.shape[0], n_words(self.n_data_bits)), dtype=np.uint64))
        out = np.empty((words.shape[0], n_words(self.n_data_bits)), dtype=np.uint64)
        all_sums = []
        for chunk in self._rounds(words.shape[0]):
            sums = self._round_sums(words[chunk], parallel)
            out[chunk] = threshold(sums, ties[chunk])
            if want_sums:
                all_sums.append(sums.astype(np.int64, copy=False))
        return (out, np.concatenate(all_sums)) if want_sums else out

    @shared
    def read(self, queries, *, iterations: int = 1, return_info: bool = False,
             parallel: bool | None = None):
        """Read the memory at the queries, once or iterating to a fixed point.

        Same result as :meth:`fastsdm.SDM.read` on the same memory, and the
        same draws from the tie stream.

        Parameters
        ----------
        queries : ndarray, shape (W,) / (n_bits,) or (q, W) / (q, n_bits)
            Packed ``uint64`` words or 0/1 bits.
        iterations : int
            Maximum number of reads (autoassociative memories only above 1);
            each query stops at a fixed point.
        return_info : bool
            Also return a :class:`fastsdm.ReadInfo`.
        parallel : bool, optional
            Force the shards' parallel or serial kernels.

        Returns
        -------
        result : ndarray
            In the representation of ``queries``.
        info : ReadInfo
            Only with ``return_info=True``.
        """
        return read_bits(lambda words: self._read_words(words, parallel), queries,
                         n_bits=self.n_bits, n_data_bits=self.n_data_bits,
                         iterations=iterations, return_info=return_info)

    @shared
    def read_sums(self, queries, *, parallel: bool | None = None) -> np.ndarray:
        """The counter sums a read thresholds (``int64``), added over the shards.

        Draws no tie words, as :meth:`fastsdm.SDM.read_sums`: the tie streams
        of the two memories stay in step.

        Returns
        -------
        ndarray of int64, shape (q, n_data_bits) or (n_data_bits,)
        """
        words, single, _ = as_words(queries, "queries", self.n_bits)
        _, sums = self._read_words(words, parallel, want_sums=True, draw_ties=False)
        return sums[0] if single else sums

    # -- inspection ---------------------------------------------------------------------

    def _gather(self, operation, start: int, stop: int | None) -> np.ndarray:
        stop = self.n_locations if stop is None else stop
        start = check_int(start, "start", 0, self.n_locations)
        stop = check_int(stop, "stop", start, self.n_locations)
        args = []
        for s in range(self.n_shards):
            lo = max(start, int(self.shard_bounds[s]))
            hi = min(stop, int(self.shard_bounds[s + 1]))
            args.append((lo - int(self.shard_bounds[s]), hi - int(self.shard_bounds[s]))
                        if lo < hi else None)
        parts = [p for p in self._call(operation, args) if p is not None]
        if parts:
            return np.concatenate(parts)
        addresses = operation is Shard.addresses
        width = self.n_words if addresses else self.n_data_bits
        dtype = np.uint64 if addresses else self.counter_dtype
        return np.empty((0, width), dtype=dtype)

    @shared
    def get_addresses(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Copy addresses ``start:stop`` (global indices) from the shards to the client.

        Equal to ``SDM(...).addresses[start:stop]`` for the same parameters.
        Mind the size: all of a large memory does not fit on one machine.
        """
        return self._gather(Shard.addresses, start, stop)

    @shared
    def get_counters(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Copy counters ``start:stop`` (global indices) from the shards to the client."""
        return self._gather(Shard.counters, start, stop)

    # -- persistence ------------------------------------------------------------------

    def _manifest(self, dirs) -> dict:
        with self._tie_rng.bit_generator.lock:
            state = self._tie_rng.bit_generator.state
        return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "fastsdm_version": __version__, **self._params().to_metadata(),
                "tie_rng_state": state,
                "shards": [{"start": int(self.shard_bounds[i]),
                            "stop": int(self.shard_bounds[i + 1]), "dir": d}
                           for i, d in enumerate(dirs)]}

    @exclusive
    def save(self, path, *, overwrite: bool = False) -> Path:
        """Checkpoint the memory: one directory per shard plus a manifest.

        Each shard saves itself with :meth:`fastsdm.SDM.save` **on its
        worker**, so ``path`` must name the same directory on every worker
        (shared storage: NFS, Lustre, a cloud file system mount); the client
        does not need to see it.  The manifest ``fastsdm-sharded.json``
        records the parameters, the shard ranges and directories and the
        tie-generator state.  It is replaced last: a save interrupted midway
        leaves the previous checkpoint at ``path`` intact.  A running save
        holds the file ``.fastsdm-saving`` in ``path``: a second save of the
        same checkpoint meanwhile is refused, so that neither removes the
        other's shards.  A save that fails removes what it wrote and the
        file; one whose client is killed leaves the file, and the error of
        the next save says to remove it.

        Parameters
        ----------
        path : str or Path
            The directory (made absolute on the client).
        overwrite : bool
            Replace a checkpoint already at ``path``.

        Returns
        -------
        Path

        Raises
        ------
        FileExistsError
            If ``path`` holds a checkpoint and ``overwrite`` is false, is not
            a checkpoint directory, or another save of it is running.
        """
        self._check_usable()
        path = os.path.abspath(os.fspath(path))
        token = uuid.uuid4().hex[:12]
        # Takes the save lock; refuses the checkpoint this memory is mapped from,
        # compared on the worker, where links and other spellings resolve.
        self._on_worker(prepare_save, path, overwrite, token, self._path)
        dirs = [f"shard-{i:05d}-{token}" for i in range(self.n_shards)]
        try:
            self._call(Shard.save, [(os.path.join(path, d),) for d in dirs])
            self._on_worker(commit_save, path, self._manifest(dirs), token)
        except BaseException:
            try:  # leave the previous checkpoint as it was, and unlocked
                self._on_worker(abort_save, path, dirs, token)
            except Exception:  # noqa: BLE001 (the save's own error matters more)
                pass
            raise
        return Path(path)

    @classmethod
    def load(cls, path, client=None, *, mmap: bool | str = False, verify: bool | None = None,
             timeout: float | None = None) -> ShardedSDM:
        """Restore a memory saved by :meth:`save`, each shard on a worker.

        Parameters
        ----------
        path : str or Path
            The checkpoint directory, as the workers see it.
        client : distributed.Client, optional
            The cluster to restore onto (any number of workers); ``None``
            starts a private in-process one.
        mmap : bool or {"r+", "r", "c"}
            Memory-map each shard's counters (see :meth:`fastsdm.SDM.load`):
            ``True``/``"r+"`` writes go to the checkpoint's files (call
            :meth:`flush` to make it complete again), ``"c"`` copy-on-write,
            ``"r"`` read-only.
        verify : bool, optional
            Check each shard's checksums (default: as :meth:`fastsdm.SDM.load`,
            every array but the counters mapped with ``"r"`` or ``"c"``).
        timeout : float, optional
            As for the constructor.

        Raises
        ------
        ValueError
            If ``path`` is not a complete, consistent checkpoint.
        """
        mode, verify = mmap_mode(mmap), verify_option(verify)
        timeout = _check_timeout(timeout)
        path = os.path.abspath(os.fspath(path))
        _check_client(client)
        owned = _private_cluster() if client is None else None
        cluster = client or owned[0]

        def on_worker(fn):
            return raise_failure(cluster.submit(returning_failure, fn, path,
                                                pure=False).result(timeout=timeout))

        try:
            for attempt in range(_LOAD_ATTEMPTS):
                # A save committed meanwhile removes the shard directories of the
                # manifest read here: the load then fails, and is tried again
                # when the manifest it read is no longer the one at the path.
                before = on_worker(manifest_identity)
                try:
                    return cls._load_once(on_worker(read_checkpoint), client, owned, path, mode,
                                          verify, timeout)
                except ValueError as exc:
                    if on_worker(manifest_identity) == before:
                        raise  # the checkpoint itself is damaged
                    if attempt + 1 == _LOAD_ATTEMPTS:
                        raise ValueError(
                            f"{path} was replaced by another save during each of "
                            f"{_LOAD_ATTEMPTS} attempts to load it; load it again once the "
                            "saves pause") from exc
        except BaseException:
            if owned is not None:
                _close_cluster(owned)
            raise

    @classmethod
    def _load_once(cls, manifest, client, owned, path, mode, verify, timeout) -> ShardedSDM:
        """The memory a checked manifest describes, its shards loaded on the cluster."""
        params = SDMParams.from_metadata(manifest, min_locations=1)  # checked by read_manifest
        bounds = np.array([0] + [s["stop"] for s in manifest["shards"]], dtype=np.int64)
        tie_rng = np.random.default_rng()
        tie_rng.bit_generator.state = manifest["tie_rng_state"]
        mem = cls.__new__(cls)  # checked parameters: the constructor's checks are skipped
        mem._build(params, bounds, tie_rng, path if mode == "r+" else None, mode == "r")
        paths = [os.path.join(path, s["dir"]) for s in manifest["shards"]]
        mem._start(client, owned, timeout, paths, mode, verify, keep_cluster=True)
        return mem

    @exclusive
    def flush(self) -> None:
        """Bring a memory-mapped checkpoint up to date (memories loaded with ``mmap=True``).

        Flushes every shard's counters and checksum, then records the tie
        generator's state in the manifest.
        """
        if self._path is None:
            raise ValueError("flush() is for memories loaded with mmap=True; use save(path) "
                             "for others")
        self._call(Shard.flush, self._each())
        self._on_worker(update_manifest, self._path,
                        {"tie_rng_state": self._tie_rng.bit_generator.state})

    # -- lifetime -------------------------------------------------------------------

    @exclusive
    def close(self) -> None:
        """Release the shards (their memory on the workers) and a private cluster.

        A client given to the constructor stays open, and each shard on it is
        asked to drop its memory at once (one that does not answer within
        ``RELEASE_SECONDS``, 10 s, is left for Dask to free); a private
        cluster is closed with its shards.  Closing twice is fine.
        """
        actors, self._actors = getattr(self, "_actors", []), []
        futures, self._futures = getattr(self, "_futures", []), []
        owned, self._owned = self._owned, None
        if owned is None:
            self._release_shards(actors)
            del actors
            for future in futures:
                future.release()
            # Every call through an actor proxy leaves it in a reference cycle (Dask's
            # call closure refers to itself): without a collection the proxies, and
            # with them the shards' keys, stay held until the collector happens to run.
            gc.collect()
        else:
            _close_cluster(owned)

    def _release_shards(self, actors) -> None:
        """Drop each shard's memory on its worker now, not when Dask frees the actor
        later: a shard memory-mapped for writing then also releases its
        checkpoint, so a load right after :meth:`close` finds it free.  A shard
        that does not answer within :data:`RELEASE_SECONDS` is left to Dask."""
        if not actors or self.client.status != "running":
            return
        calls = []
        for actor in actors:
            try:
                calls.append(actor.call(Shard.release))
            except Exception:  # noqa: BLE001 (a lost worker keeps nothing)
                pass
        deadline = time.monotonic() + RELEASE_SECONDS
        for call in calls:
            try:
                call.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 (closing goes on: Dask frees it later)
                pass

    def __enter__(self) -> ShardedSDM:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
