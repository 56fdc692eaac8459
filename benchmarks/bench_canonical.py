"""Kanerva's canonical memory at full size (only with FASTSDM_BENCH_LARGE=1).

n = 1000 bits, N = 10^6 locations, radius 451, int8 counters, 10,000 stored
random patterns: iterated reads recall the patterns exactly from cues with 100
and 150 flipped bits and diverge beyond the critical distance (~200 bits;
Kanerva reports 209).  Tracks the exact-recall fraction and the mean final
distance per cue distance, and times the iterated read and the 10,000 writes.
"""

import fastsdm

from ._common import LARGE

N_BITS, N_LOCATIONS, RADIUS, N_PATTERNS, N_CUES = 1000, 1_000_000, 451, 10_000, 64

if LARGE:

    class CanonicalRecall:
        params = [[100, 150, 200, 250]]
        param_names = ["flipped_bits"]
        repeat = (1, 3, 60.0)
        number = 1
        timeout = 600

        def setup(self, flipped_bits):
            self.mem = fastsdm.SDM(N_BITS, N_LOCATIONS, radius=RADIUS, counter_dtype="int8",
                                   seed=0)
            self.patterns = fastsdm.random_addresses(N_PATTERNS, N_BITS, seed=1)
            self.mem.write(self.patterns)
            self.targets = self.patterns[:N_CUES]
            self.cues = fastsdm.flip_bits(self.targets, N_BITS, flipped_bits, seed=2)
            self.result = self.mem.read(self.cues, iterations=30)  # also the JIT warm-up
            self.final = fastsdm.hamming_distances(self.result, self.targets).diagonal()

        def time_iterated_read(self, flipped_bits):
            self.mem.read(self.cues, iterations=30)

        def track_exact_recall(self, flipped_bits):
            return float((self.final == 0).mean())

        track_exact_recall.unit = "fraction"

        def track_mean_final_distance(self, flipped_bits):
            return float(self.final.mean())

        track_mean_final_distance.unit = "bits"

    class CanonicalWrite:
        """10,000 autoassociative writes into a fresh canonical memory."""

        repeat = (1, 3, 60.0)
        number = 1
        timeout = 600

        def setup(self):
            self.mem = fastsdm.SDM(N_BITS, N_LOCATIONS, radius=RADIUS, counter_dtype="int8",
                                   seed=0)
            self.patterns = fastsdm.random_addresses(N_PATTERNS, N_BITS, seed=1)
            self.mem.write(self.patterns[:256])  # JIT warm-up

        def time_write_10000(self):
            self.mem.write(self.patterns)

        def peakmem_write_10000(self):
            self.mem.write(self.patterns)
