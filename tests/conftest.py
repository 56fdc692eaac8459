import os

# numba's OpenMP pool spin-waits between parallel regions unless told
# otherwise; on a 2-core machine that costs milliseconds per small parallel
# call.  The test session is an application, so it may choose (the library
# never sets process-wide options).  Must happen before numba starts threads.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(20211110)
