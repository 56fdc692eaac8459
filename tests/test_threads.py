"""One memory shared by threads: no update is lost, and copies stay possible.

The kernels release the GIL, so two Python threads writing to one memory
really run at once.  Every memory object has a readers-writer lock
(fastsdm._locking): writes, ``clear`` and ``flush`` are exclusive, reads,
``activate`` and ``save`` shared.
"""

from __future__ import annotations

import copy
import pickle
import threading
import time

import numpy as np
import pytest

import fastsdm
from fastsdm._locking import RWLock
from fastsdm.continuous import ContinuousSDM
from fastsdm.hopfield import Hopfield, ModernHopfield


def _race(workers) -> None:
    """Run the callables in threads released together; re-raise their errors."""
    barrier = threading.Barrier(len(workers))
    errors = []

    def run(work):
        barrier.wait()
        try:
            work()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _batches(words, sizes):
    start = 0
    for size in sizes:
        yield words[start : start + size]
        start += size


@pytest.mark.parametrize("activation", [{"radius": 118}, {"k_nearest": 600}])
def test_two_writer_threads_equal_sequential_writes(activation):
    # Order-independent data: int32 counters never saturate here, so any
    # serialisation of the batches gives the same counters.  Without the
    # lock the two threads' read-modify-write of shared rows lose updates.
    params = dict(n_bits=256, n_locations=3000, counter_dtype="int32", seed=0, **activation)
    shared, sequential = fastsdm.SDM(**params), fastsdm.SDM(**params)
    parts = [fastsdm.random_addresses(1200, 256, seed=s) for s in (1, 2)]
    sizes = [1, 8, 3, 16, 2] * 40  # single queries and fused batches

    def writer(part):
        def work():
            for batch in _batches(part, sizes):
                shared.write(batch, parallel=False)
        return work

    _race([writer(parts[0]), writer(parts[1])])
    for part in parts:
        for batch in _batches(part, sizes):
            sequential.write(batch, parallel=False)
    assert np.array_equal(shared.counters, sequential.counters)


def test_two_writer_threads_on_a_continuous_memory():
    # Values are small integers, so float32 sums are exact in any order; wide
    # values make each update long enough for the threads to overlap.
    shared = ContinuousSDM(32, 1000, radius=15, value_dim=2048, seed=0)
    sequential = ContinuousSDM(32, 1000, radius=15, value_dim=2048, seed=0)
    rng = np.random.default_rng(3)
    parts = [(rng.standard_normal((160, 32)),
              rng.integers(-2, 3, (160, 2048)).astype(np.float32)) for _ in range(2)]

    def writer(keys, values):
        def work():
            for start in range(0, 160, 2):
                shared.write(keys[start : start + 2], values[start : start + 2], parallel=False)
        return work

    _race([writer(*parts[0]), writer(*parts[1])])
    for keys, values in parts:
        for start in range(0, 160, 2):
            sequential.write(keys[start : start + 2], values[start : start + 2], parallel=False)
    assert np.array_equal(shared.accumulators, sequential.accumulators)


def test_readers_during_writes_see_whole_writes():
    # Every write adds the same pattern with weight 1 to an all-activating
    # memory (radius = n): a read between writes returns the pattern's bits,
    # and the sums a reader sees are always a whole number of writes.
    mem = fastsdm.SDM(64, 50, radius=64, counter_dtype="int32", ties="zero", seed=0)
    x = fastsdm.random_addresses(1, 64, seed=1)
    signs = np.where(fastsdm.unpack_bits(x, 64)[0] == 1, 1, -1)
    seen = []

    def writer():
        for _ in range(1000):
            mem.write(x, parallel=False)

    def reader():
        for _ in range(1000):
            seen.append(mem.read_sums(x[0], parallel=False))

    _race([writer, reader])
    for sums in seen:
        writes, rest = divmod(int(sums[0]) * int(signs[0]), 50)
        assert rest == 0 and np.array_equal(sums, signs * writes * 50)
    assert np.array_equal(mem.read_sums(x[0]), signs * 1000 * 50)


def test_the_lock_lets_readers_share_and_writers_wait():
    lock = RWLock()
    lock.acquire_shared()
    inside = threading.Event()

    def second_reader():
        lock.acquire_shared()
        inside.set()
        lock.release_shared()

    t = threading.Thread(target=second_reader)
    t.start()
    assert inside.wait(5), "a second reader must not wait for the first"
    t.join()
    # A writer waits for the reader; a reader arriving after the writer
    # queues behind it (no writer starvation).
    order = []

    def writer():
        lock.acquire_exclusive()
        order.append("writer")
        lock.release_exclusive()

    def late_reader():
        lock.acquire_shared()
        order.append("late reader")
        lock.release_shared()

    w = threading.Thread(target=writer)
    w.start()
    deadline = time.monotonic() + 5
    while not lock._writer and time.monotonic() < deadline:
        time.sleep(0.001)
    r = threading.Thread(target=late_reader)
    r.start()
    time.sleep(0.05)
    assert order == []  # both wait: the writer for the reader, the reader for the writer
    lock.release_shared()
    w.join(5)
    r.join(5)
    assert order == ["writer", "late reader"]


def test_the_lock_never_lets_a_writer_in_with_anyone_else():
    lock = RWLock()
    state = {"readers": 0, "writers": 0}
    guard = threading.Lock()
    violations = []

    def enter(kind):
        with guard:
            state[kind] += 1
            if state["writers"] > 1 or (state["writers"] and state["readers"]):
                violations.append(dict(state))

    def leave(kind):
        with guard:
            state[kind] -= 1

    def worker(seed):
        def work():
            rng = np.random.default_rng(seed)
            for write in rng.random(3000) < 0.3:
                if write:
                    lock.acquire_exclusive()
                    enter("writers")
                    leave("writers")
                    lock.release_exclusive()
                else:
                    lock.acquire_shared()
                    enter("readers")
                    leave("readers")
                    lock.release_shared()
        return work

    _race([worker(seed) for seed in range(4)])
    assert violations == [] and state == {"readers": 0, "writers": 0}
    assert not lock._writer and lock._readers == 0


def test_a_failing_call_releases_the_lock():
    mem = fastsdm.SDM(64, 10, radius=20, seed=0)
    for _ in range(3):
        with pytest.raises(TypeError):
            mem.write(np.zeros((1, 64)))  # float input is refused inside the lock
        with pytest.raises(TypeError):
            mem.read(np.zeros((1, 64)))
    mem.write(mem.addresses[:1])
    mem.read(mem.addresses[:1])


@pytest.mark.parametrize("make", [lambda: fastsdm.SDM(64, 40, radius=20, seed=0),
                                  lambda: ContinuousSDM(8, 40, radius=3, seed=0)])
def test_memories_stay_picklable_and_copyable(make, tmp_path):
    mem = make()
    key = mem.addresses[:2]
    mem.write(key)
    state = "counters" if isinstance(mem, fastsdm.SDM) else "accumulators"
    for clone in (pickle.loads(pickle.dumps(mem)), copy.deepcopy(mem), copy.copy(mem)):
        assert clone._lock is not mem._lock
        assert np.array_equal(getattr(clone, state), getattr(mem, state))
        assert np.array_equal(clone.read(key), mem.read(key))
        clone.write(key)
    # Each copy is a memory of its own: reading or changing it leaves the
    # original as it was (ties drawn, addresses, a hyperplane design).
    if isinstance(mem, fastsdm.SDM):
        originals = [mem, fastsdm.SDM(64, 40, activation="hyperplane", selected=3, seed=0)]
        for original in originals:
            twin = copy.deepcopy(original)
            clone = copy.copy(original)
            assert clone._tie_rng is not original._tie_rng
            tied = np.zeros((3, 64), np.uint8)  # nothing written there: every bit a tie
            clone.read(tied)
            assert np.array_equal(original.read(tied), twin.read(tied))
            if original.design is None:
                assert not np.shares_memory(clone.addresses, original.addresses)
                clone.addresses = np.roll(clone.addresses, 1, axis=0)
                assert np.array_equal(original.addresses, twin.addresses)
            else:
                assert clone.design is not original.design
                clone.design.masks = np.roll(clone.design.masks, 1, axis=0)
                assert np.array_equal(original.design.masks, twin.design.masks)
    # A copy of a memory-mapped memory lives in RAM and is not tied to the files.
    mapped = type(mem).load(mem.save(tmp_path / "m"), mmap=True)
    clone = pickle.loads(pickle.dumps(mapped))
    assert not isinstance(getattr(clone, state), np.memmap)
    with pytest.raises(ValueError, match="flush\\(\\) is for memories loaded with mmap=True"):
        clone.flush()
    clone.write(key)
    assert not np.array_equal(getattr(clone, state), getattr(mapped, state))


def test_a_design_replaced_during_its_check_is_checked_itself(monkeypatch):
    # Design arrays are replaced outside the memory's lock.  A replacement
    # that landed while an activation checked the previous array was marked
    # checked, and the keys kernel (k keys per row) then wrote past its
    # array for rows selecting more: heap corruption.  Now the replacement
    # waits for the check, and the next activation checks it.
    from fastsdm import _hyperplane

    mem = fastsdm.SDM(256, 2000, activation="hyperplane", selected=4, seed=0)
    good = mem.design.masks.copy()
    bad = np.full_like(good, np.uint64(2**64 - 1))  # every row selects 256 coordinates
    mem.design.masks = good.copy()  # replaced: the next activation checks it
    replacer = threading.Thread(target=setattr, args=(mem.design, "masks", bad))
    real = _hyperplane.design_problem

    def racing(masks, values, n_bits, k, required=None):
        replacer.start()
        replacer.join(0.3)  # lands here if nothing holds it back
        return real(masks, values, n_bits, k, required)

    queries = fastsdm.random_addresses(5, 256, seed=1)
    want = fastsdm.SDM(256, 2000, activation="hyperplane", selected=4, seed=0).activate(queries)
    monkeypatch.setattr(_hyperplane, "design_problem", racing)
    got = mem.activate(queries)  # with the arrays it checked, whenever the other lands
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
    monkeypatch.undo()
    replacer.join()
    with pytest.raises(ValueError, match="SDM.design.masks has location 0 selecting 256 "):
        mem.activate(queries)


def test_two_threads_writing_and_reading_a_hopfield_network_give_the_serial_result():
    # Hebbian sums are order-independent, so any serialisation of the
    # batches gives the same weights.  Without the lock the two writers'
    # in-place adds (BLAS and NumPy release the GIL) lose updates, and a
    # reader can cache float weights of a half-written state after a writer
    # cleared the cache, so later reads use stale weights.
    net, serial = Hopfield(128, update="synchronous"), Hopfield(128, update="synchronous")
    parts = [fastsdm.random_addresses(600, 128, seed=s) for s in (1, 2)]
    cue = fastsdm.random_addresses(4, 128, seed=3)

    def writer(part):
        def work():
            for batch in _batches(part, [1, 5, 2, 12] * 30):
                net.write(batch)
                net.read(cue)
        return work

    _race([writer(parts[0]), writer(parts[1])])
    for part in parts:
        serial.write(part)
    assert net.n_patterns == serial.n_patterns == 1200
    assert np.array_equal(net.weights, serial.weights)
    assert np.array_equal(net.read(cue, iterations=3), serial.read(cue, iterations=3))
    assert np.array_equal(net.energy(cue), serial.energy(cue))


def test_two_threads_writing_a_modern_hopfield_network_lose_no_pattern():
    # write appends to the pattern array (read, concatenate, assign): without
    # the lock two writers both read the old array and one batch is lost.
    net, serial = ModernHopfield(64, beta=0.1), ModernHopfield(64, beta=0.1)
    parts = [fastsdm.random_addresses(400, 64, seed=s) for s in (1, 2)]
    cue = parts[0][:3]

    def writer(part):
        def work():
            for batch in _batches(part, [1, 3, 4] * 50):
                net.write(batch)
                net.read(cue)
        return work

    _race([writer(parts[0]), writer(parts[1])])
    serial.write(np.concatenate(parts))
    assert net.n_patterns == serial.n_patterns == 800
    order = np.lexsort(net.patterns.T[::-1])
    assert np.array_equal(net.patterns[order], serial.patterns[np.lexsort(serial.patterns.T[::-1])])


@pytest.mark.parametrize("make", [lambda: Hopfield(16, update="synchronous"),
                                  lambda: ModernHopfield(16, beta=0.5)])
def test_hopfield_networks_stay_picklable_and_copyable(make):
    net = make()
    x = fastsdm.random_addresses(3, 16, seed=0)
    net.write(x)
    for clone in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert clone._lock is not net._lock
        assert np.array_equal(clone.read(x), net.read(x))
        clone.write(x)  # the clone's lock works


def test_an_interrupted_writer_leaves_the_lock_usable():
    # Ctrl-C while write() waits for a reader must not leave the memory
    # locked for good (KeyboardInterrupt raised inside the lock's wait).
    import signal

    mem = fastsdm.SDM(64, 40, radius=20, seed=0)
    inside, leave = threading.Event(), threading.Event()

    def reader():
        mem._lock.acquire_shared()
        inside.set()
        leave.wait()
        mem._lock.release_shared()

    thread = threading.Thread(target=reader)
    thread.start()
    inside.wait()
    # A real SIGINT to the main thread: it interrupts the blocked wait.
    timer = threading.Timer(0.2, signal.pthread_kill,
                            (threading.main_thread().ident, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        mem.write(mem.addresses[:1])  # waits for the reader until interrupted
    timer.join()
    leave.set()
    thread.join()
    done = threading.Event()

    def use():
        mem.write(mem.addresses[:1])
        mem.read(mem.addresses[:1])
        done.set()

    worker = threading.Thread(target=use, daemon=True)
    worker.start()
    worker.join(20)
    assert done.is_set(), "the memory stayed locked after an interrupted write"
    assert np.count_nonzero(mem.counters) > 0


def test_an_interrupted_writer_whose_reader_left_leaves_the_lock_usable():
    # The same, when the reader leaves (and releases the writer) before the
    # interrupted writer withdraws: the lock must still pair up afterwards.
    lock = RWLock()
    lock.acquire_shared()
    lock._gate.acquire()          # what acquire_exclusive does before waiting
    with lock._mutex:
        lock._writer = True
    lock.release_shared()         # the last reader wakes the writer ...
    lock._withdraw()              # ... which gives up instead
    for _ in range(2):
        lock.acquire_exclusive()
        lock.release_exclusive()
        lock.acquire_shared()
        lock.acquire_shared()
        lock.release_shared()
        lock.release_shared()
    assert lock._drained.locked() and not lock._gate.locked() and not lock._writer


def _copies_hold_whole_writes(clone, write, state, obj, copies):
    # Every write adds the same thing: between writes the state is k times that
    # of one write, the same k everywhere; a torn copy mixes two.
    once = state(obj).astype(np.float64)
    touched = once != 0
    assert touched.sum() > 10
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            write()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(copies):
            k = np.unique(state(clone(obj))[touched] / once[touched])
            assert k.size == 1, f"a copy holds part of a write: {k[:5]}"
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize("clone", [lambda m: pickle.loads(pickle.dumps(m)), copy.deepcopy])
def test_copies_taken_during_writes_hold_whole_writes(clone):
    # (Without the lock in __getstate__ most copies here are torn.  ContinuousSDM's
    # __getstate__ takes the same lock, but its writes apply their sums in
    # too short a burst for a test to catch a copy inside one.)
    mem = fastsdm.SDM(64, 20_000, radius=24, counter_dtype="int32", seed=0)
    key = np.repeat(mem.addresses[:1], 32, axis=0)  # one write adds it 32 times
    mem.write(key)
    _copies_hold_whole_writes(clone, lambda: mem.write(key), lambda m: m.counters, mem, 20)


@pytest.mark.parametrize("clone", [lambda m: pickle.loads(pickle.dumps(m)), copy.deepcopy])
def test_hopfield_copies_taken_during_writes_hold_whole_writes(clone):
    # The same for Hopfield, whose writes change the weights in place.  (Without
    # the lock in __getstate__, 12-17 of 60 copies were torn.)
    from fastsdm.hopfield import Hopfield

    net = Hopfield(512, kappa=10**6, seed=0)
    pattern = np.repeat(fastsdm.random_addresses(1, 512, seed=1), 64, axis=0)
    net.write(pattern)
    _copies_hold_whole_writes(clone, lambda: net.write(pattern), lambda n: n.weights, net, 40)


def test_two_threads_searching_over_location_blocks_get_the_serial_result(monkeypatch):
    # Each call of the location-block path owns its staging array and mask
    # buffer; the worker threads serve one call at a time (the other runs
    # serially).  A small MASK_BUDGET cuts 3,000 locations into 12 blocks;
    # the expected lists come from one block, before the patch.
    from fastsdm import search

    Q = fastsdm.random_addresses(40, 256, seed=1)
    A = fastsdm.random_addresses(3000, 256, seed=2)
    A[2000:2040] = fastsdm.flip_bits(Q, 256, 20, seed=3)  # a near copy of each query
    expected = fastsdm.radius_search(Q, A, 110, parallel=False)
    monkeypatch.setattr(search, "MASK_BUDGET", 40 * 32)
    assert search.mask_blocks(40, 3000, 4)[1] < 3000
    results = {}

    def work(name):
        results[name] = [fastsdm.radius_search(Q, A, 110, parallel=True) for _ in range(20)]

    _race([lambda: work("a"), lambda: work("b")])
    for runs in results.values():
        for indptr, indices in runs:
            np.testing.assert_array_equal(indptr, expected[0])
            np.testing.assert_array_equal(indices, expected[1])


@pytest.mark.parametrize("make, value, call", [
    (lambda: fastsdm.SDM(64, 200, radius=20, seed=0), 25,
     lambda mem: mem.read_sums(fastsdm.random_addresses(2, 64, seed=1))),
    (lambda: ContinuousSDM(8, 200, radius=3, seed=0), 2,
     lambda mem: mem.read_sums(np.ones((2, 8)))),
])
def test_a_parameter_assigned_during_a_call_waits_for_it_and_is_not_undone(make, value, call):
    # A call re-checks the parameters when one changed and writes their checked
    # values back, under the shared lock: an assignment made meanwhile (which
    # took no lock) was overwritten with the value the call had read.
    mem = make()
    mem.radius = np.int64(mem.radius)  # changed: the next call re-checks and writes back
    inside, go = threading.Event(), threading.Event()
    read_parameters = mem._params

    def paused():
        params = read_parameters()
        inside.set()
        go.wait(10)
        return params

    mem._params = paused
    reader = threading.Thread(target=call, args=(mem,))
    reader.start()
    assert inside.wait(10)
    setter = threading.Thread(target=setattr, args=(mem, "radius", value))
    setter.start()
    setter.join(0.2)
    assert setter.is_alive()  # the assignment waits for the call, as a write does
    go.set()
    reader.join(10)
    setter.join(10)
    assert not reader.is_alive() and not setter.is_alive()
    assert mem.radius == value and type(mem.radius) is int
    mem._params = read_parameters
    call(mem)
    assert mem.radius == value


def test_hopfield_settings_assigned_during_a_call_wait_for_it():
    net = Hopfield(32, seed=0)
    net.write(fastsdm.random_addresses(3, 32, seed=1))
    net._lock.acquire_shared()  # a call in progress
    setter = threading.Thread(target=setattr, args=(net, "ties", "one"))
    setter.start()
    setter.join(0.2)
    assert setter.is_alive()
    net._lock.release_shared()
    setter.join(10)
    assert not setter.is_alive() and net.ties == "one"
    modern = ModernHopfield(32, beta=1.0)
    modern._lock.acquire_shared()
    setter = threading.Thread(target=setattr, args=(modern, "beta", 2.0))
    setter.start()
    setter.join(0.2)
    assert setter.is_alive()
    modern._lock.release_shared()
    setter.join(10)
    assert modern.beta == 2.0
