"""A Sparse Distributed Memory sharded over a Dask cluster.

The hard locations of an SDM are independent of each other, so a memory
splits into contiguous blocks of locations (*shards*): a write is the same
batch applied by every shard to its own rows, and a read is the sum of every
shard's partial counter sums, thresholded once.  :class:`ShardedSDM` keeps
each shard in a Dask actor (an ordinary :class:`fastsdm.SDM` over its block of
locations, living on a worker) and gives the same results as a
single-process :class:`fastsdm.SDM` with the same seed, bit for bit.

Dask is an optional dependency: ``pip install "fastsdm[distributed]"``.
``import fastsdm`` never imports it, and this package imports it only when a
memory is built or loaded.

The package's private modules: ``_client`` (:class:`ShardedSDM`, what users
hold), ``_worker`` (the shard each Dask actor holds, driving the block
operations of ``fastsdm._core.Locations``) and ``_checkpoint`` (the
manifest and shard directories of a saved memory).
"""

from ._client import ShardedSDM, ShardLostError

__all__ = ["ShardedSDM", "ShardLostError"]

# Documented and pickled under their public path.
ShardedSDM.__module__ = __name__
ShardLostError.__module__ = __name__
