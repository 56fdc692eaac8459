"""Shared sizes and helpers for the asv suites (no benchmarks here)."""

import importlib
import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

#: FASTSDM_BENCH_LARGE=1 adds the canonical sizes (n=1000, N=10^6: ~1.1 GiB per
#: memory at int8, seconds per call).  CI's --quick smoke pass leaves it unset.
LARGE = os.environ.get("FASTSDM_BENCH_LARGE", "").strip().lower() not in ("", "0", "false", "no")

#: Binary memories and search problems: label -> (n_bits, n_locations).
SIZES = {
    "small": (256, 10_000),
    "medium": (256, 100_000),
}
if LARGE:
    SIZES["canonical"] = (1000, 1_000_000)

#: Search problems add the 1024-bit x 10^6 scan of compare.py when LARGE.
SEARCH_SIZES = {"small": (256, 10_000), "medium": (256, 100_000)}
if LARGE:
    SEARCH_SIZES["large"] = (1024, 1_000_000)

#: Continuous memories: label -> (dim, n_locations).
CONTINUOUS_SIZES = {"small": (256, 10_000), "medium": (256, 100_000)}
if LARGE:
    CONTINUOUS_SIZES["large"] = (256, 1_000_000)

#: Fraction of locations activated per query in the binary memories: Kanerva's
#: canonical p = 0.001 (radius 451 at n = 1000, ~1000 of 10^6 locations).
ACTIVATION_PROBABILITY = 0.001


def radius_for(n_bits: int) -> int:
    """Kanerva's radius for n_bits: smallest d with P(Bin(n, 1/2) <= d) >= 0.001."""
    from fastsdm.theory import radius_for_probability

    return radius_for_probability(n_bits, ACTIVATION_PROBABILITY)


def queries(n_queries: int, n_bits: int, seed: int = 1):
    """Fixed-seed packed queries; one query is a 1-D vector (the single-call API)."""
    import fastsdm

    words = fastsdm.random_addresses(n_queries, n_bits, seed=seed)
    return words[0] if n_queries == 1 else words


def continuous_radius(dim: int) -> int:
    """Smallest integer Hamming-equivalent radius whose cap holds >= 0.001 of the sphere."""
    from fastsdm.theory import cap_fraction

    lo, hi = 0, dim
    while lo < hi:
        mid = (lo + hi) // 2
        if cap_fraction(dim, mid) >= ACTIVATION_PROBABILITY:
            hi = mid
        else:
            lo = mid + 1
    return lo


def import_or_skip(name: str):
    """Import module ``name``, or skip the benchmark if that module does not exist.

    Raises NotImplementedError (asv: skipped) only for ModuleNotFoundError
    naming ``name`` itself (an older fastsdm, an optional dependency not
    installed); any other error while importing it, a missing module it
    imports included, propagates (asv: failed).
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        raise NotImplementedError(f"{name} is not available: {exc}") from None


def noisy_cues(patterns, n_bits: int, count: int = 256):
    """``count`` cues: the patterns repeated to ``count`` rows, n_bits/10 bits of each flipped."""
    import numpy as np

    import fastsdm

    rows = np.resize(patterns, (count, patterns.shape[1]))
    return fastsdm.flip_bits(rows, n_bits, n_bits // 10, seed=3)
