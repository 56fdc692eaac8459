"""The layouts, and nothing else: no checks, no other fastsdm module.

The layout of a seeded memory's addresses: :data:`ADDRESS_BLOCK` locations per
child seed (every memory and design that draws its locations from a seed).

The packed-word layout: a vector of ``n`` bits is ``W = ceil(n / 64)``
little-endian ``uint64`` words whose bytes are ``np.packbits(bits)`` (bit 0
is the most significant bit of byte 0), zero-padded to ``8 W`` bytes.  These helpers assume valid
input; :mod:`fastsdm._validation` and :mod:`fastsdm.bits` check first.  Both
import this module, which imports neither (no import circle).
"""

from __future__ import annotations

import numpy as np

__all__ = ["ADDRESS_BLOCK", "n_words", "n_bytes", "pad_mask", "words_from_bits",
           "words_from_bytes", "bits_from_words", "bytes_from_words"]

#: Locations whose addresses come from one child seed: a shard of a memory can
#: regenerate any block of addresses without drawing the others.  Part of the
#: saved format of every seeded memory (SDM, ContinuousSDM, ShardedSDM, Jaeckel
#: designs): changing it changes the addresses a seed gives.
ADDRESS_BLOCK = 1 << 16


def n_words(n_bits: int) -> int:
    """Number of uint64 words that hold ``n_bits`` bits."""
    return (n_bits + 63) // 64


def n_bytes(n_bits: int) -> int:
    """Number of bytes ``np.packbits`` makes of ``n_bits`` bits."""
    return (n_bits + 7) // 8


def pad_mask(n_bits: int) -> np.ndarray:
    """Per-word masks of the valid bits of an ``n_bits`` vector, shape (W,)."""
    bits = np.zeros(64 * n_words(n_bits), dtype=np.uint8)
    bits[:n_bits] = 1
    return np.packbits(bits).view("<u8").astype(np.uint64)


def words_from_bytes(packed: np.ndarray) -> np.ndarray:
    """``np.packbits`` bytes (..., B) as words (..., ceil(B / 8)), zero-padded."""
    W = -(-packed.shape[-1] // 8)
    out = np.zeros(packed.shape[:-1] + (8 * W,), dtype=np.uint8)
    out[..., : packed.shape[-1]] = packed
    return out.view("<u8").astype(np.uint64, copy=False)


def words_from_bits(bits: np.ndarray) -> np.ndarray:
    """0/1 (or bool) values (..., n) as words (..., ceil(n / 64))."""
    return words_from_bytes(np.packbits(bits.astype(np.bool_, copy=False), axis=-1))


def bytes_from_words(words: np.ndarray, n_bits: int) -> np.ndarray:
    """Words (..., W) as the ``np.packbits`` bytes (..., ceil(n_bits / 8)) of their bits."""
    as_bytes = np.ascontiguousarray(words, dtype="<u8").view(np.uint8)
    return as_bytes[..., : n_bytes(n_bits)].copy()


def bits_from_words(words: np.ndarray, n_bits: int) -> np.ndarray:
    """Words (..., W) as ``n_bits`` 0/1 values (``uint8``) along the last axis."""
    as_bytes = np.ascontiguousarray(words, dtype="<u8").view(np.uint8)
    return np.unpackbits(as_bytes, axis=-1, count=n_bits)
