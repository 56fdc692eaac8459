"""fastsdm: fast Sparse Distributed Memory and its link to attention."""

__version__ = "0.1.0"
