"""``fastsdm.distributed.ShardedSDM``: writes and reads through a small Dask cluster.

The small memory of bench_memory (n = 256, N = 10^4, p = 0.001, N/1000
patterns written) split into two shards on an in-process cluster
(``LocalCluster(processes=False)``, one worker thread), created in ``setup``
and closed in ``teardown``; batches of 1 and 256.  Against
``bench_memory.SDMWrite`` / ``SDMRead`` of the same size this shows the
per-call cost of the actors and the client-side merge, not a speed-up (one
machine, one worker).  Skipped (NotImplementedError) when Dask distributed
is not installed or this fastsdm has no ``fastsdm.distributed``.
"""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

import fastsdm

from ._common import ACTIVATION_PROBABILITY, SIZES, import_or_skip, noisy_cues

N_SHARDS = 2


class ShardedWriteRead:
    params = [["small"], [1, 256]]
    param_names = ["size", "batch"]
    repeat = (1, 10, 20.0)

    def setup(self, size, batch):
        distributed = import_or_skip("distributed")
        ShardedSDM = import_or_skip("fastsdm.distributed").ShardedSDM
        n_bits, n_locations = SIZES[size]
        self.cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1,
                                                processes=False, dashboard_address=None,
                                                memory_limit=0)
        try:  # a failed setup closes what it started (asv skips teardown then)
            self.client = distributed.Client(self.cluster, set_as_default=False)
            kwargs = {"activation_probability": ACTIVATION_PROBABILITY, "seed": 0}
            self.mem = ShardedSDM(n_bits, n_locations, n_shards=N_SHARDS, client=self.client,
                                  **kwargs)
            patterns = fastsdm.random_addresses(n_locations // 1000, n_bits, seed=1)
            self.mem.write(patterns)
            cues = noisy_cues(patterns, n_bits)
            # The sharded memory must hold what one SDM holds (checked in setup, untimed).
            single = fastsdm.SDM(n_bits, n_locations, **kwargs)
            single.write(patterns)
            if not np.array_equal(self.mem.read_sums(cues), single.read_sums(cues)):
                raise RuntimeError("ShardedSDM's counter sums differ from SDM's")
            self.x = cues[0] if batch == 1 else cues
            self.mem.write(self.x)  # JIT warm-up on the worker, same kernels as timed
            self.mem.read(self.x)
        except BaseException:
            self.teardown(size, batch)
            raise

    def teardown(self, size, batch):
        for name in ("mem", "client", "cluster"):
            part = self.__dict__.pop(name, None)
            if part is not None:
                part.close()

    def time_write(self, size, batch):
        self.mem.write(self.x)

    def time_read(self, size, batch):
        self.mem.read(self.x)
