"""Jaeckel's selected-coordinate design against the radius design, at equal activation.

Each size (``_common.SIZES``: n=256 with N=10^4 and 10^5; with
FASTSDM_BENCH_LARGE=1 the canonical n=1000, N=10^6) activates about one
location in a thousand both ways: the radius design with Kanerva's radius
(``radius_for``: p = 0.00106 at n = 256, 0.00107 at n = 1000) and the design
with ``k = hyperplane_k_for_probability(n, p)`` = 10 selected coordinates
(p = 2^-10 = 0.00098).  "method" is the activation rule and algorithm:

* ``radius`` -- ``fastsdm.search.radius_csr`` over the random addresses (what
  ``SDM`` calls to activate);
* ``scan`` -- the masked scan ``(x ^ values) & masks == 0`` over the packed
  design (``fastsdm._hyperplane.activation_csr``, what an SDM holding the
  design would call);
* ``index`` -- the same activation through the inverted index by
  (coordinate, value): ``N k / 2`` scattered bit clears per query.
* ``keys`` -- the same activation through the design's keys (what a hyperplane
  ``SDM`` uses for batches of 4 or more queries): ``k`` word ANDs per location
  and 64 queries (``fastsdm._hyperplane.keys_csr``).

``SDMRule`` times whole ``SDM`` writes and reads, the radius rule against the
hyperplane rule at the same ``activation_probability`` (0.001: radius 451,
``k`` = 10 at n = 1000), n = 1000 with N = 10^5 and, with
FASTSDM_BENCH_LARGE=1, the canonical N = 10^6 (int8 counters).

All four return the same kind of CSR lists, from validated input (checking a
design's pad bits costs a pass over it, as much as one activation; the public
wrappers do it, a memory does it once).  One query per call (the row-wise
kernels) and batches of 256 (the tiled kernels); serial or parallel by the
size rule.  ``Activate`` times these private kernels, not the public
``SDM.activate`` (its input checks and the memory around the kernels):
that is ``bench_memory.SDMActivate``, with both rules.
"""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

import fastsdm
from fastsdm._hyperplane import activation_csr, design_keys, hyperplane_index, random_design
from fastsdm.search import radius_csr
from fastsdm.theory import activation_probability, hyperplane_k_for_probability

from ._common import ACTIVATION_PROBABILITY, LARGE, SIZES, noisy_cues, queries, radius_for

METHODS = ["radius", "scan", "index", "keys"]

#: Whole-memory rows: label -> (n_bits, n_locations).
RULE_SIZES = {"n1000_N1e5": (1000, 100_000)}
if LARGE:
    RULE_SIZES["canonical"] = (1000, 1_000_000)


class Activate:
    params = [list(SIZES), [1, 256], METHODS]
    param_names = ["size", "queries", "method"]
    repeat = (1, 10, 20.0)

    def setup(self, size, n_queries, method):
        n_bits, n_locations = SIZES[size]
        self.n_bits = n_bits
        self.queries = np.atleast_2d(queries(n_queries, n_bits))
        if method == "radius":
            self.addresses = fastsdm.random_addresses(n_locations, n_bits, seed=0)
            self.radius = radius_for(n_bits)
            self.run = lambda: radius_csr(self.queries, self.addresses, self.radius)
        else:
            k = hyperplane_k_for_probability(n_bits, activation_probability(n_bits,
                                                                            radius_for(n_bits)))
            self.masks, self.values = random_design(n_locations, n_bits, k, seed=0)
            index = (hyperplane_index(self.masks, self.values, n_bits=n_bits)
                     if method == "index" else None)
            keys = design_keys(self.masks, self.values, n_bits, k) if method == "keys" else None
            self.run = lambda: activation_csr(self.queries, self.masks, self.values, index,
                                              keys=keys)
        self.run()  # JIT warm-up

    def time_activate(self, size, n_queries, method):
        self.run()


def rule_memory(n_bits, n_locations, rule, n_patterns=0):
    """An SDM with the radius or the hyperplane rule at p = 0.001, and its patterns."""
    kwargs = {} if rule == "radius" else {"activation": "hyperplane"}
    mem = fastsdm.SDM(n_bits, n_locations, activation_probability=ACTIVATION_PROBABILITY,
                      counter_dtype="int8" if n_locations >= 10**6 else "int16", seed=0,
                      **kwargs)
    patterns = fastsdm.random_addresses(max(n_patterns, 1), n_bits, seed=1)
    if n_patterns:
        mem.write(patterns)
    return mem, patterns


class SDMRule:
    """SDM write and read: the radius rule against the hyperplane rule, same p."""

    params = [list(RULE_SIZES), [1, 256], ["radius", "hyperplane"]]
    param_names = ["size", "batch", "rule"]
    repeat = (1, 10, 20.0)

    def setup(self, size, batch, rule):
        n_bits, n_locations = RULE_SIZES[size]
        self.mem, patterns = rule_memory(n_bits, n_locations, rule, n_locations // 1000)
        cues = noisy_cues(patterns, n_bits)
        self.x = cues[0] if batch == 1 else cues
        self.mem.write(self.x)  # JIT warm-up (and the design's keys), same kernels as timed
        self.mem.read(self.x)

    def time_write(self, size, batch, rule):
        self.mem.write(self.x)

    def time_read(self, size, batch, rule):
        self.mem.read(self.x)


class BuildDesign:
    """Drawing a random design and building its inverted index."""

    params = [list(SIZES)]
    param_names = ["size"]
    repeat = (1, 5, 20.0)

    def setup(self, size):
        n_bits, n_locations = SIZES[size]
        self.n_bits, self.n_locations = n_bits, n_locations
        self.k = hyperplane_k_for_probability(n_bits, activation_probability(
            n_bits, radius_for(n_bits)))
        self.masks, self.values = random_design(n_locations, n_bits, self.k, seed=0)
        hyperplane_index(self.masks[:64], self.values[:64], n_bits=n_bits)  # JIT warm-up

    def time_random_design(self, size):
        random_design(self.n_locations, self.n_bits, self.k, seed=1)

    def time_build_index(self, size):
        hyperplane_index(self.masks, self.values, n_bits=self.n_bits)


def main(argv=None):
    """Paired, alternating timings of the activations (not part of asv).

    ``python -m benchmarks.bench_hyperplane [n_bits n_locations repeats]``
    (default 1000 1000000 7: the canonical memory).  Each pair times the
    radius activation and then one of the others on the same queries, so both
    see the same state of a shared machine; prints the median ratio and its
    interquartile range per batch size.
    """
    import sys
    from functools import partial

    from .compare import cpu_info, paired_ratios

    args = sys.argv[1:] if argv is None else argv
    n_bits, n_locations, repeats = (int(a) for a in (args + ["1000", "1000000", "7"][len(args):]))
    radius = radius_for(n_bits)
    k = hyperplane_k_for_probability(n_bits, activation_probability(n_bits, radius))
    addresses = fastsdm.random_addresses(n_locations, n_bits, seed=0)
    masks, values = random_design(n_locations, n_bits, k, seed=0)
    index = hyperplane_index(masks, values, n_bits=n_bits)
    keys = design_keys(masks, values, n_bits, k)
    print(f"{cpu_info()[0]}; n = {n_bits}, N = {n_locations:,}: radius {radius} "
          f"(p = {activation_probability(n_bits, radius):.6f}) against k = {k} "
          f"(p = {2.0**-k:.6f}); time ratio to the radius activation, median (IQR) of "
          f"{repeats} alternating pairs")
    for n_queries in (1, 256):
        Q = np.atleast_2d(queries(n_queries, n_bits))
        for name, idx, kk in (("scan", None, None), ("index", index, None),
                              ("keys", None, keys)):
            ratios = paired_ratios(partial(radius_csr, Q, addresses, radius),
                                   partial(activation_csr, Q, masks, values, idx, keys=kk),
                                   repeats)
            q1, med, q3 = np.percentile(ratios, [25, 50, 75])
            print(f"  {n_queries:4d} queries  {name:5s}: {med:.2f} ({q1:.2f}-{q3:.2f})")


if __name__ == "__main__":
    main()
