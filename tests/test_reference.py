"""Every fast public function against its naive reference (tests/reference.py COMPARISONS)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.reference import COMPARISONS


def perturbed(value):
    """A copy of a result with its first element changed (recursing into tuples and lists).

    None when the result holds no element: such a comparison could not fail.
    """
    if isinstance(value, tuple | list):
        for i, item in enumerate(value):
            changed = perturbed(item)
            if changed is not None:
                return type(value)([*value[:i], changed, *value[i + 1:]])
        return None
    array = np.array(value, copy=True)
    if array.size == 0:
        return None
    flat = array.reshape(-1)
    if array.dtype == np.bool_:
        flat[0] = not flat[0]
    elif np.issubdtype(array.dtype, np.integer):
        flat[0] = flat[0] ^ 1
    else:
        flat[0] = flat[0] + 1e-3 * (abs(flat[0]) + 1)
    return array


@pytest.mark.parametrize("name", list(COMPARISONS))
@pytest.mark.parametrize("seed", [0, 1])
def test_fast_function_matches_its_naive_reference(name, seed):
    fast, naive, inputs, check = COMPARISONS[name]
    args = inputs(np.random.default_rng(seed))
    got, want = fast(*args), naive(*args)
    check(got, want)
    # The comparison can fail: a changed reference answer is caught.
    wrong = perturbed(want)
    assert wrong is not None, f"{name}: the reference answered nothing to compare"
    with pytest.raises(AssertionError):
        check(got, wrong)
