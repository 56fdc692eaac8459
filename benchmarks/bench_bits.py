"""Packing, unpacking, random addresses, bit flips and bitarray interop."""

import os

# Applications choose the OpenMP wait policy (see benchmarks/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np

import fastsdm

from ._common import LARGE

ROWS = [1_000, 100_000] + ([1_000_000] if LARGE else [])


class PackBits:
    """pack_bits / unpack_bits on (m, n) 0/1 rows."""

    params = [ROWS, [256, 1000]]
    param_names = ["rows", "n_bits"]

    def setup(self, rows, n_bits):
        rng = np.random.default_rng(0)
        self.bits = rng.integers(0, 2, size=(rows, n_bits), dtype=np.uint8)
        self.bools = self.bits.astype(bool)
        self.words = fastsdm.pack_bits(self.bits)

    def time_pack_bits_uint8(self, rows, n_bits):
        fastsdm.pack_bits(self.bits)

    def time_pack_bits_bool(self, rows, n_bits):
        fastsdm.pack_bits(self.bools)

    def time_unpack_bits(self, rows, n_bits):
        fastsdm.unpack_bits(self.words, n_bits)


class RandomBits:
    """random_addresses and flip_bits (the noisy-cue generator).

    (flip_bits costs O(rows * n_bits): ~35 s for 10^6 x 1000 bits, so the
    large row count is left out here.)
    """

    params = [[1_000, 100_000], [256, 1000]]
    param_names = ["rows", "n_bits"]

    def setup(self, rows, n_bits):
        self.words = fastsdm.random_addresses(rows, n_bits, seed=0)
        self.k = n_bits // 10
        fastsdm.flip_bits(self.words[:2], n_bits, self.k, seed=1)  # JIT warm-up, if any

    def time_random_addresses(self, rows, n_bits):
        fastsdm.random_addresses(rows, n_bits, seed=0)

    def time_flip_bits_10_percent(self, rows, n_bits):
        fastsdm.flip_bits(self.words, n_bits, self.k, seed=1)


class BitarrayInterop:
    """to_bitarray / from_bitarray (a Python object per row: small sizes only)."""

    params = [[100, 10_000], [1000]]
    param_names = ["rows", "n_bits"]

    def setup(self, rows, n_bits):
        self.words = fastsdm.random_addresses(rows, n_bits, seed=0)
        self.bitarrays = fastsdm.to_bitarray(self.words, n_bits)

    def time_to_bitarray(self, rows, n_bits):
        fastsdm.to_bitarray(self.words, n_bits)

    def time_from_bitarray(self, rows, n_bits):
        fastsdm.from_bitarray(self.bitarrays)
