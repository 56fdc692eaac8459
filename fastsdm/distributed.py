"""A Sparse Distributed Memory sharded over a Dask cluster.

The hard locations of an SDM are independent of each other, so a memory
splits into contiguous blocks of locations (*shards*): a write is the same
batch applied by every shard to its own rows, and a read is the sum of every
shard's partial counter sums, thresholded once.  :class:`ShardedSDM` keeps
each shard in a Dask actor (an ordinary :class:`fastsdm.SDM` over its block of
locations, living on a worker) and gives the same results as a
single-process :class:`fastsdm.SDM` with the same seed, bit for bit.

Dask is an optional dependency: ``pip install "fastsdm[distributed]"``.
``import fastsdm`` never imports it, and this module imports it only when a
memory is built or loaded.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import re
import shutil
import socket
import time
import traceback
import uuid
from pathlib import Path

import numpy as np

from . import __version__, _persist
from . import memory as _memory
from ._core import Locations, read_bits, tie_words, write_inputs
from ._locking import RWLock, exclusive, shared
from ._params import MetadataError, SDMParams, check_tie_rng_state, seed_entropy
from ._validation import as_words, check_int, n_words
from .bits import pack_bits
from .memory import SDM, generate_addresses
from .search import knn_arrays, queries_per_chunk

__all__ = ["ShardedSDM", "ShardLostError"]

FORMAT_NAME = "fastsdm.ShardedSDM"
FORMAT_VERSION = 1
MANIFEST_FILE = "fastsdm-sharded.json"
#: Bytes of partial sums (or k-NN candidates) one shard returns per round: a
#: large batch is read in rounds so that no reply, and no sum on the client,
#: exceeds this.
ROUND_BYTES = 64 << 20
#: Seconds between checks of a shard's actor while waiting for its answer.
POLL_SECONDS = 0.5

_SHARD_DIR = re.compile(r"^\.?shard-\d{5}-[0-9a-f]{12}(\..*)?$")
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


# -- the shard: runs on a worker ------------------------------------------------


class _Failure:
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


class _Shard:
    """Locations ``start:stop`` of a memory, as a Dask actor's state.

    Built on its worker: a new shard generates its own addresses there from
    the memory's entropy (never shipped), a loaded one reads its directory.
    Every call goes through :meth:`call`, which returns ``(True, result)`` or
    ``(False, _Failure)``.
    """

    def __init__(self, index: int, start: int, stop: int, params: dict, path: str | None = None,
                 mmap=None, verify=None):
        self.index, self.start, self.stop = index, start, stop
        n_local = stop - start
        activation = ({"radius": params["radius"]} if params["k_nearest"] is None
                      else {"k_nearest": min(params["k_nearest"], n_local)})
        if path is None:
            addresses = generate_addresses(params["seed"], params["n_locations"],
                                           params["n_bits"], start, stop)
            self.sdm = SDM(params["n_bits"], n_data_bits=params["n_data_bits"],
                           counter_dtype=params["counter_dtype"], ties=params["ties"],
                           seed=params["seed"], addresses=addresses, **activation)
        else:
            self.sdm = SDM.load(path, mmap=mmap, verify=verify)
            want = {"n_bits": params["n_bits"], "n_data_bits": params["n_data_bits"],
                    "counter_dtype": np.dtype(params["counter_dtype"]), "ties": params["ties"],
                    "seed": params["seed"], "n_locations": n_local, **activation}
            got = {key: getattr(self.sdm, key) for key in want}
            if got != want:
                diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
                raise ValueError(f"{path} does not hold shard {index} of this memory "
                                 f"(saved value, expected value): {diff}; the checkpoint is "
                                 "corrupt or mixes directories of different memories")

    def call(self, name: str, *args):
        try:
            return True, getattr(self, "_" + name)(*args)
        except Exception as exc:
            return False, _Failure(exc)

    def _describe(self) -> dict:
        return {"index": self.index, "start": self.start, "stop": self.stop,
                "nbytes": int(self.sdm.nbytes), "pid": os.getpid(), "host": socket.gethostname()}

    # Writes.

    def _write(self, words, data_words, weight, parallel):
        self.sdm.write(words, data_words, weight=weight, parallel=parallel)

    def _write_csr(self, indptr, indices, data_words, weight, parallel):
        sdm = self.sdm
        if not sdm.counters.flags.writeable:
            raise ValueError("this shard's counters are read-only (loaded with mmap='r')")
        locations = Locations.of(sdm)
        locations.apply(indptr, indices, locations.deltas(data_words, weight), parallel)

    def _clear(self):
        self.sdm.clear()

    # Reads: partial sums only; the client draws the ties and thresholds.

    def _sums(self, words, parallel):
        sdm = self.sdm
        step = queries_per_chunk(sdm.n_locations)
        total, bound = None, 0
        for start in range(0, words.shape[0], step):
            chunk = slice(start, start + step)
            indptr, indices = Locations.of(sdm).activate(words[chunk], parallel)
            sums, chunk_bound = self._sums_csr(indptr, indices, parallel)
            if total is None:
                if sums.shape[0] == words.shape[0]:
                    return sums, chunk_bound
                total = np.empty((words.shape[0], sdm.n_data_bits), dtype=sums.dtype)
            if sums.dtype != total.dtype:
                total = total.astype(np.int64)
            total[chunk] = sums
            bound = max(bound, chunk_bound)
        return total, bound

    def _sums_csr(self, indptr, indices, parallel):
        """Counter sums of the activated rows, and a bound on their magnitude.

        The read kernel, as SDM._read_words runs it: the sums stay int32 when
        they cannot overflow it, which halves the bytes sent back.
        """
        locations = Locations.of(self.sdm)
        m = indptr.size - 1
        out = np.empty((m, n_words(locations.n_data_bits)), dtype=np.uint64)
        sums = locations.read_csr(indptr, indices, np.zeros_like(out), out, parallel)
        return sums, locations.sum_bound(indptr)

    def _activate(self, words, parallel):
        return Locations.of(self.sdm).activate(words, parallel)

    def _knn(self, words, parallel):
        k = self.sdm.k_nearest
        indices, distances = knn_arrays(words, self.sdm.addresses, k, parallel)
        indices += self.start
        return indices, distances

    # Inspection and persistence.

    def _addresses(self, lo, hi):
        return np.array(self.sdm.addresses[lo:hi])

    def _counters(self, lo, hi):
        return np.array(self.sdm.counters[lo:hi])

    def _save(self, path):
        self.sdm.save(path)

    def _flush(self):
        self.sdm.flush()


# -- checkpoint files: these run on a worker ------------------------------------


def _prepare_save(path: str, overwrite: bool) -> None:
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            raise FileExistsError(f"{target} exists and is not a directory; choose another path")
        if (target / MANIFEST_FILE).exists():
            if not overwrite:
                raise FileExistsError(f"{target} holds a saved ShardedSDM; pass overwrite=True "
                                      "to replace it")
        elif any(target.iterdir()):
            raise FileExistsError(f"{target} is a non-empty directory that is not a saved "
                                  "ShardedSDM; refusing to write into it")
    target.mkdir(parents=True, exist_ok=True)


def _commit_save(path: str, manifest: dict) -> None:
    """Publish a checkpoint: replace the manifest, then drop other shard directories.

    The manifest names the shard directories written by this save, so a save
    interrupted before this point leaves the previous checkpoint intact.
    """
    target = Path(path)
    _write_manifest(target, manifest)
    keep = {shard["dir"] for shard in manifest["shards"]}
    for entry in target.iterdir():
        if entry.name not in keep and _SHARD_DIR.match(entry.name):
            # Shard directories of earlier or interrupted saves, and what an
            # interrupted shard save left beside its directory.
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _write_manifest(target: Path, manifest: dict) -> None:
    """Replace the manifest atomically and durably (temporary file, fsync, rename, fsync)."""
    tmp = target / (MANIFEST_FILE + ".tmp")
    with open(tmp, "wb") as f:
        f.write(json.dumps(manifest, indent=1).encode())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target / MANIFEST_FILE)
    _persist._fsync_dir(target)


_MANIFEST_KEYS = (*SDMParams.KEYS, "tie_rng_state", "shards", "fastsdm_version")


def _read_manifest(path: str) -> dict:
    """The checkpoint's manifest, every field checked (the parameters as SDM.load checks them)."""
    target = Path(path)
    file = target / MANIFEST_FILE
    if not file.is_file():
        raise ValueError(f"{target} is not a saved ShardedSDM (no {MANIFEST_FILE} there, as seen "
                         "from the Dask workers); save one with ShardedSDM.save()")
    with open(file, "rb") as f:
        raw = f.read(_persist.MAX_META_BYTES + 1)
    try:
        if len(raw) > _persist.MAX_META_BYTES:
            raise ValueError(f"larger than {_persist.MAX_META_BYTES} bytes")
        manifest = json.loads(raw.decode("utf-8"), parse_constant=_persist._no_constants,
                              object_pairs_hook=_persist._no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{file} is not valid JSON ({exc}); the checkpoint is corrupt") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ValueError(f"{file} does not describe a {FORMAT_NAME} memory (format={found!r})")
    version = manifest.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ValueError(f"{target} has format version {version!r}; this "
                         f"fastsdm reads version {FORMAT_VERSION}: upgrade fastsdm")
    missing = set(_MANIFEST_KEYS) - {"fastsdm_version"} - manifest.keys()
    if missing:
        raise ValueError(f"{file} lacks {sorted(missing)}; the checkpoint is corrupt")
    unknown = manifest.keys() - set(_MANIFEST_KEYS) - {"format", "format_version"}
    if unknown:
        raise ValueError(f"{file} has unknown fields {sorted(unknown)}; the checkpoint is "
                         "corrupt, or was written by a newer fastsdm: upgrade fastsdm")
    try:
        params = SDMParams.from_metadata(manifest, min_locations=1)
        check_tie_rng_state(manifest["tie_rng_state"])
        if type(manifest.get("fastsdm_version", "")) is not str:
            raise MetadataError(f"fastsdm_version must be a string, got "
                                f"{manifest['fastsdm_version']!r}")
        shards = manifest["shards"]
        if not (type(shards) is list and shards and all(
                type(s) is dict and s.keys() == {"start", "stop", "dir"}
                and type(s["start"]) is int and type(s["stop"]) is int
                and type(s["dir"]) is str for s in shards)):
            raise MetadataError("shards must be a non-empty list of {'start': int, 'stop': int, "
                                f"'dir': str}}, got {shards!r}"[:300])
    except MetadataError as exc:
        raise ValueError(f"{file} holds invalid parameters ({exc}); the checkpoint is "
                         "corrupt") from None
    stops = [0] + [s["stop"] for s in shards]
    if ([s["start"] for s in shards] != stops[:-1] or stops[-1] != params.n_locations
            or any(s["stop"] <= s["start"] for s in shards)):
        raise ValueError(f"{file} lists shards that do not tile locations 0:"
                         f"{params.n_locations}; the checkpoint is corrupt")
    for shard in shards:
        if not _SHARD_DIR.match(shard["dir"]) or shard["dir"].startswith("."):
            raise ValueError(f"{file} names a shard directory {shard['dir']!r} that fastsdm "
                             "does not write; the checkpoint is corrupt")
    return manifest


def _update_manifest(path: str, updates: dict) -> None:
    target = Path(path)
    manifest = _read_manifest(path)
    manifest.update(updates)
    _write_manifest(target, manifest)


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
    n_data_bits, counter_dtype, ties, seed :
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

    def __init__(self, n_bits: int, n_locations: int, radius: int | None = None, *,
                 activation_probability: float | None = None, k_nearest: int | None = None,
                 n_data_bits: int | None = None, counter_dtype="int16", ties: str = "random",
                 seed=None, n_shards: int, client=None, timeout: float | None = None):
        self._lock = RWLock()
        SDMParams.create(
            n_bits, n_locations, radius, activation_probability=activation_probability,
            k_nearest=k_nearest, n_data_bits=n_data_bits, counter_dtype=counter_dtype, ties=ties,
            min_locations=1, locations_hint="a sharded memory holds at least one location"
        ).assign(self)
        n_shards = check_int(n_shards, "n_shards", 1, self.n_locations,
                             hint="every shard holds at least one location")
        seq, self.seed = seed_entropy(seed)
        self._tie_rng = np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(1,)))
        self.shard_bounds = np.array([i * self.n_locations // n_shards
                                      for i in range(n_shards + 1)], dtype=np.int64)
        self._path = None
        self._read_only = False
        self._start(client, None, timeout, [None] * n_shards, None, None)

    # -- cluster plumbing -------------------------------------------------------

    def _params(self) -> dict:
        return SDMParams.create(self.n_bits, self.n_locations, self.radius,
                                k_nearest=self.k_nearest, n_data_bits=self.n_data_bits,
                                counter_dtype=self.counter_dtype, ties=self.ties, seed=self.seed,
                                min_locations=1).to_metadata()

    def _start(self, client, owned, timeout, paths, mmap, verify):
        """Create the shard actors on ``client`` (or on a private cluster)."""
        self.timeout = timeout
        self._futures, self._actors, self._lost = [], [], None
        if client is None and owned is None:
            owned = _private_cluster()
        self._owned = owned
        self.client = client if owned is None else owned[0]
        try:
            self._create_shards(paths, mmap, verify)
        except BaseException:
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
        params = self._params()
        token = uuid.uuid4().hex[:12]
        for i in range(n_shards):
            start, stop = int(self.shard_bounds[i]), int(self.shard_bounds[i + 1])
            self._futures.append(self.client.submit(
                _Shard, i, start, stop, params, paths[i], mmap, verify, actor=True,
                key=f"fastsdm-shard-{i:05d}-{token}", workers=[self.workers[i]],
                allow_other_workers=False))
        self._await_shards()
        # Proxies bound to this client (even when it is not the default one):
        # a proxy bound to a worker object hangs once that worker is closed.
        actor = _distributed().Actor
        with self.client.as_current():
            self._actors = [actor(_Shard, worker, future.key)
                            for worker, future in zip(self.workers, self._futures, strict=True)]

    def _await_shards(self):
        """Wait for the shards to be built (generated or loaded) on their workers.

        No time limit (a large shard takes minutes to generate or verify), but
        a worker that leaves meanwhile is noticed: Dask would otherwise keep
        its pinned shard waiting for it forever.
        """
        for future in self._futures:
            while True:
                try:
                    future.result(timeout=POLL_SECONDS)  # raises a constructor's error
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
            available = _memory._available_memory()
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
        if self._lost is not None:
            raise ShardLostError(self._lost)
        if not self._actors:
            raise RuntimeError("this ShardedSDM is closed")

    def _lose(self, shard: int, exc: BaseException, what: str) -> ShardLostError:
        start, stop = int(self.shard_bounds[shard]), int(self.shard_bounds[shard + 1])
        self._lost = (f"shard {shard} (locations {start}:{stop}) on worker "
                      f"{self.workers[shard]} {what} ({type(exc).__name__}: {exc}); the memory "
                      "no longer answers. Recover from the last checkpoint with "
                      "fastsdm.distributed.ShardedSDM.load(last_checkpoint, client=client) and "
                      "replay the writes made since")
        return ShardLostError(self._lost)

    def _call(self, name: str, args: list, *, mutating: bool = False) -> list:
        """Call ``name`` on the shards with ``args[i]`` (None skips shard i).

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
                    pending.append((i, self._actors[i].call(name, *a)))
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
            if mutating:
                self._lost = (f"a {name} was interrupted and may have reached only some "
                              "shards; the memory no longer answers. Recover from the last "
                              "checkpoint with fastsdm.distributed.ShardedSDM.load("
                              "last_checkpoint, client=client)")
            raise
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
                    raise _NoAnswer(f"did not answer within {self.timeout} s") from exc

    def _each(self, *args) -> list:
        return [args] * len(self._actors)

    def _on_worker(self, func, *args):
        """Run a checkpoint helper on a worker (preferably shard 0's): the path is theirs."""
        return self.client.submit(func, *args, pure=False, workers=[self.workers[0]],
                                  allow_other_workers=True).result(timeout=self.timeout)

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
        data = "" if self.n_data_bits == self.n_bits else f", n_data_bits={self.n_data_bits}"
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
        info = self._call("describe", self._each())
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
        parts = self._call("knn", self._each(words, parallel))
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
                ptr, idx = self._merge_csr(self._call("activate", self._each(words[chunk],
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
    def write(self, addresses, data=None, *, weight: int = 1, parallel: bool | None = None):
        """Store data at addresses on every shard (a batch at once).

        Same effect as :meth:`fastsdm.SDM.write`, saturation included.  All
        input checks happen on the client, before any shard is touched.

        Parameters
        ----------
        addresses : ndarray, shape (W,) / (n_bits,) or (m, W) / (m, n_bits)
            Packed ``uint64`` words or 0/1 bits.
        data : ndarray, optional
            One row per address, ``n_data_bits`` wide, packed or 0/1; ``None``
            stores the addresses (autoassociative).
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
        self._check_usable()
        if self._read_only:
            raise ValueError("this memory's counters are read-only (loaded with mmap='r'); load "
                             "it with mmap=True to write to the files or mmap='c' to write in RAM")
        words, data_words, weight = write_inputs(self.n_bits, self.n_data_bits, addresses, data,
                                                 weight)
        if self.k_nearest is None:
            self._call("write", self._each(words, data_words, weight, parallel), mutating=True)
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
            self._call("write_csr", args, mutating=True)

    @exclusive
    def clear(self) -> None:
        """Set every counter of every shard to zero."""
        self._call("clear", self._each(), mutating=True)

    # -- read -------------------------------------------------------------------------

    def _tie_words(self, words):
        return tie_words(self.ties, self.n_data_bits, self._tie_rng, words)

    def _round_sums(self, words, parallel) -> np.ndarray:
        """Counter sums over all shards for one round of queries.

        Exact integer sums: accumulated in int32 when the shards' bounds say
        the total cannot overflow it, in int64 otherwise.
        """
        if self.k_nearest is None:
            parts = self._call("sums", self._each(words, parallel))
        else:
            csr = self._split(self._knn_top(words, parallel))
            parts = self._call("sums_csr", [None if part is None else (*part, parallel)
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

    def _read_words(self, words, parallel, want_sums=False):
        # One SDM._read_words call: tie words for the whole batch first, then
        # the sums, round by round, each thresholded as it arrives.
        self._check_usable()
        ties = self._tie_words(words)
        out = np.empty((words.shape[0], n_words(self.n_data_bits)), dtype=np.uint64)
        all_sums = []
        for chunk in self._rounds(words.shape[0]):
            sums = self._round_sums(words[chunk], parallel)
            out[chunk] = pack_bits(sums > 0)
            zero = sums == 0
            if self.ties != "zero" and zero.any():
                out[chunk] |= pack_bits(zero) & ties[chunk, : out.shape[1]]
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

        Draws (and discards) tie words as :meth:`fastsdm.SDM.read_sums` does,
        so the tie streams of the two memories stay in step.

        Returns
        -------
        ndarray of int64, shape (q, n_data_bits) or (n_data_bits,)
        """
        words, single, _ = as_words(queries, "queries", self.n_bits)
        _, sums = self._read_words(words, parallel, want_sums=True)
        return sums[0] if single else sums

    # -- inspection ---------------------------------------------------------------------

    def _gather(self, name: str, start: int, stop: int | None) -> np.ndarray:
        stop = self.n_locations if stop is None else stop
        start = check_int(start, "start", 0, self.n_locations)
        stop = check_int(stop, "stop", start, self.n_locations)
        args = []
        for s in range(self.n_shards):
            lo = max(start, int(self.shard_bounds[s]))
            hi = min(stop, int(self.shard_bounds[s + 1]))
            args.append((lo - int(self.shard_bounds[s]), hi - int(self.shard_bounds[s]))
                        if lo < hi else None)
        parts = [p for p in self._call(name, args) if p is not None]
        if parts:
            return np.concatenate(parts)
        width = self.n_words if name == "addresses" else self.n_data_bits
        dtype = np.uint64 if name == "addresses" else self.counter_dtype
        return np.empty((0, width), dtype=dtype)

    @shared
    def get_addresses(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Copy addresses ``start:stop`` (global indices) from the shards to the client.

        Equal to ``SDM(...).addresses[start:stop]`` for the same parameters.
        Mind the size: all of a large memory does not fit on one machine.
        """
        return self._gather("addresses", start, stop)

    @shared
    def get_counters(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Copy counters ``start:stop`` (global indices) from the shards to the client."""
        return self._gather("counters", start, stop)

    # -- persistence ------------------------------------------------------------------

    def _manifest(self, dirs) -> dict:
        with self._tie_rng.bit_generator.lock:
            state = self._tie_rng.bit_generator.state
        return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "fastsdm_version": __version__, **self._params(),
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
        leaves the previous checkpoint at ``path`` intact.

        Parameters
        ----------
        path : str or Path
            The directory (made absolute on the client).
        overwrite : bool
            Replace a checkpoint already at ``path``.

        Returns
        -------
        Path
        """
        self._check_usable()
        path = os.path.abspath(os.fspath(path))
        if overwrite and self._path is not None and Path(path) == Path(self._path):
            raise ValueError(f"this memory is memory-mapped from {path}; call flush() to bring "
                             "that checkpoint up to date, or save to another path")
        self._on_worker(_prepare_save, path, overwrite)
        token = uuid.uuid4().hex[:12]
        dirs = [f"shard-{i:05d}-{token}" for i in range(self.n_shards)]
        self._call("save", [(os.path.join(path, d),) for d in dirs])
        self._on_worker(_commit_save, path, self._manifest(dirs))
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
            Check each shard's checksums (default: unless memory-mapped).
        timeout : float, optional
            As for the constructor.

        Raises
        ------
        ValueError
            If ``path`` is not a complete, consistent checkpoint.
        """
        mode = {False: None, True: "r+"}.get(mmap, mmap) if isinstance(mmap, bool) else mmap
        if mode not in (None, "r+", "r", "c"):
            raise ValueError(f"mmap must be True, False, 'r+', 'r' or 'c', got {mmap!r}")
        path = os.path.abspath(os.fspath(path))
        _distributed()
        mem = cls.__new__(cls)
        mem._actors, mem._futures, mem._lost, mem._owned = [], [], None, None
        owned = _private_cluster() if client is None else None
        try:
            manifest = (client or owned[0]).submit(_read_manifest, path, pure=False).result(
                timeout=timeout)
        except BaseException:
            if owned is not None:
                _close_cluster(owned)
            raise
        params = SDMParams.from_metadata(manifest, min_locations=1)  # checked by _read_manifest
        params.assign(mem)
        mem.seed = params.seed
        mem._lock = RWLock()
        mem.shard_bounds = np.array([0] + [s["stop"] for s in manifest["shards"]],
                                    dtype=np.int64)
        mem._tie_rng = np.random.default_rng()
        mem._tie_rng.bit_generator.state = manifest["tie_rng_state"]
        mem._path = path if mode == "r+" else None
        mem._read_only = mode == "r"
        paths = [os.path.join(path, s["dir"]) for s in manifest["shards"]]
        mem._start(client, owned, timeout, paths, mode, verify)
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
        self._call("flush", self._each())
        self._on_worker(_update_manifest, self._path,
                        {"tie_rng_state": self._tie_rng.bit_generator.state})

    # -- lifetime -------------------------------------------------------------------

    @exclusive
    def close(self) -> None:
        """Release the shards (their memory on the workers) and a private cluster.

        A client given to the constructor stays open.  Closing twice is fine.
        """
        self._actors = []
        futures, self._futures = getattr(self, "_futures", []), []
        owned, self._owned = self._owned, None
        if owned is None:
            for future in futures:
                future.release()
        else:
            _close_cluster(owned)

    def __enter__(self) -> ShardedSDM:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
