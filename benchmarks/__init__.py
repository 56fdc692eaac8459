"""asv benchmarks for fastsdm (see ``asv.conf.json`` and ``docs/performance.md``).

The benchmark modules are applications, not library code, so they choose the
OpenMP wait policy: numba's OpenMP threading layer spin-waits by default, and
on a 2-core machine a spinning pool makes every later parallel launch cost
milliseconds (the spinning threads compete with the caller).  "passive" must
be set before numba's OpenMP runtime starts, i.e. before the first parallel
call; each module also sets it before importing numba or fastsdm, because asv
may import a module on its own.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
