"""fastsdm: fast Sparse Distributed Memory and its link to attention."""

__version__ = "0.1.0"

from . import attention, hopfield, theory
from ._warmup import warmup
from .bits import (
    clear_pad_bits,
    flip_bits,
    from_bitarray,
    pack_bits,
    random_addresses,
    to_bitarray,
    unpack_bits,
)
from .continuous import ContinuousSDM
from .memory import SDM, ReadInfo
from .search import hamming_distances, knn_search, radius_search

__all__ = [
    "__version__",
    "pack_bits",
    "unpack_bits",
    "random_addresses",
    "flip_bits",
    "clear_pad_bits",
    "to_bitarray",
    "from_bitarray",
    "hamming_distances",
    "radius_search",
    "knn_search",
    "SDM",
    "ReadInfo",
    "ContinuousSDM",
    "theory",
    "attention",
    "hopfield",
    "warmup",
]
