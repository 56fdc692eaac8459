"""A newcomer's first small session: an SDM of 10,000 locations, 100 writes,
a read, an iterated read and a radius search (issue 14's measurement).

    python benchmarks/first_session.py   # prints its own CPU and wall seconds

benchmarks/compile_budget.py runs it in fresh processes on an empty and on a
filled numba cache.
"""

import resource
import time

t0 = time.perf_counter()

import fastsdm  # noqa: E402

mem = fastsdm.SDM(n_bits=256, n_locations=10_000, radius=103, seed=0)
p = fastsdm.random_addresses(100, 256, seed=1)
mem.write(p)
r = mem.read(p[:10])
r2 = mem.read(fastsdm.flip_bits(p[:10], 256, 10, seed=2), iterations=5)
fastsdm.radius_search(p[:10], mem.addresses, 103)
ru = resource.getrusage(resource.RUSAGE_SELF)
print(f"cpu {ru.ru_utime + ru.ru_stime:.2f}s wall {time.perf_counter() - t0:.2f}s")
