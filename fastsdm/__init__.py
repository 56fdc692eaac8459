"""fastsdm: fast Sparse Distributed Memory and its link to attention.

Kanerva's Sparse Distributed Memory (SDM) simulated on a CPU, fast, and the
theory that links its read rule to softmax attention (Bricken & Pehlevan,
NeurIPS 2021).

What is where
-------------
Bit vectors (packed ``uint64`` words, the ``np.packbits`` byte layout)
    ``pack_bits``, ``unpack_bits``, ``random_addresses``, ``flip_bits``,
    ``clear_pad_bits``, ``to_bitarray``, ``from_bitarray``
Exhaustive Hamming search
    ``hamming_distances``, ``radius_search`` (CSR), ``knn_search``
Memories
    ``SDM`` (binary, Kanerva), ``ContinuousSDM`` (unit vectors, cosine
    threshold), ``ReadInfo`` (what an iterated read did);
    ``fastsdm.distributed.ShardedSDM`` (one memory over Dask workers)
``fastsdm.hopfield``
    classical (Hebbian) and modern (softmax) Hopfield networks, the other
    members of the associative-memory family, with the same read interface
``fastsdm.theory``
    exact ball and cap intersections, activation probabilities, beta fits,
    signal-to-noise, capacity, critical distance, optimal radii
``fastsdm.attention``
    softmax attention, SDM-vs-softmax weights, pattern-view reads, the
    learned QK-norm betas
``fastsdm.experiments`` and ``fastsdm.plots``
    capacity, critical-distance, attention and associative-memory-family
    experiments as tidy records, tables and figures (also the ``fastsdm``
    command: ``fastsdm --help``)
``fastsdm.gallery``
    the paper's computational figures and tables, regenerated (``fastsdm paper``)
``warmup()``
    compile the kernels now rather than at their first call

Every name and module above is imported on first use, so ``import fastsdm``
itself is instant and loads neither numba nor matplotlib, Dask or
scikit-learn.  The guide, the theory and the API reference are in ``docs/``
(a Sphinx site).

Examples
--------
>>> import fastsdm
>>> mem = fastsdm.SDM(n_bits=256, n_locations=20_000, radius=112, seed=0)
>>> patterns = fastsdm.random_addresses(20, 256, seed=1)
>>> mem.write(patterns)
>>> recalled = mem.read(fastsdm.flip_bits(patterns, 256, 20, seed=2), iterations=10)
>>> bool((recalled == patterns).all())
True
"""

import importlib

from ._version import __version__

# Not typing.TYPE_CHECKING: importing typing and importlib.util took 11 of the
# 14 ms of ``import fastsdm`` (the ``fastsdm`` command's Ctrl-C cannot be
# caught before then).  Type checkers read this idiom as typing's constant.
TYPE_CHECKING = False

#: Public names of the top-level namespace and the module that defines each.
_NAMES = {
    "pack_bits": "bits",
    "unpack_bits": "bits",
    "random_addresses": "bits",
    "flip_bits": "bits",
    "clear_pad_bits": "bits",
    "to_bitarray": "bits",
    "from_bitarray": "bits",
    "hamming_distances": "search",
    "radius_search": "search",
    "knn_search": "search",
    "SDM": "memory",
    "ReadInfo": "memory",
    "ContinuousSDM": "continuous",
    "warmup": "_warmup",
}

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

if TYPE_CHECKING:  # what static tools see; at run time the names load on first access
    from . import attention, hopfield, theory
    from . import distributed as distributed
    from . import experiments as experiments
    from . import gallery as gallery
    from . import plots as plots
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


def _is_submodule(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"{__name__}.{name}") is not None


def __getattr__(name: str):
    """Import a public name or a submodule (``fastsdm.experiments``) on first access."""
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    elif not name.startswith("__") and _is_submodule(name):
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups do not come here
    return value


#: Modules reached as attributes (``fastsdm.experiments``), imported on first access.
_MODULES = ("theory", "attention", "hopfield", "experiments", "plots", "distributed", "gallery",
            "cli", "bits", "search", "memory", "continuous")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_MODULES))
