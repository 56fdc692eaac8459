"""Every fast public function against its naive reference (tests/reference.py COMPARISONS)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.reference import COMPARISONS


@pytest.mark.parametrize("name", list(COMPARISONS))
@pytest.mark.parametrize("seed", [0, 1])
def test_fast_function_matches_its_naive_reference(name, seed):
    fast, naive, inputs = COMPARISONS[name]
    args = inputs(np.random.default_rng(seed))
    np.testing.assert_equal(fast(*args), naive(*args))
