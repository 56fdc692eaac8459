"""Softmax attention and its Sparse Distributed Memory approximation.

Bricken & Pehlevan (2021) show that the read of an SDM with infinitely many
hard locations (the *pattern view*),

.. math:: \\hat v = \\frac{\\sum_\\mu I(h_\\mu)\\, v_\\mu}{\\sum_\\mu I(h_\\mu)},

where ``I(h)`` is the number of points in the intersection of two Hamming
balls of radius ``d`` whose centres (query and key ``μ``) are ``h`` bits apart,
is close to softmax attention

.. math:: \\hat v = \\sum_\\mu \\operatorname{softmax}_\\mu(\\beta \\cos_\\mu)\\, v_\\mu,
          \\qquad \\cos_\\mu = 1 - 2 h_\\mu / n,

because ``I(h) ≈ c_1 e^{-c_2 h}`` and then ``β = c_2 n / 2``
(:func:`fastsdm.theory.fit_beta`). This module provides both sides of that
correspondence:

* softmax attention with optional Query-Key Normalization (Henry et al. 2020),
* Hamming distance ↔ cosine conversions,
* pattern-view SDM reads, binary (ball intersections) and continuous
  (hyperspherical cap intersections), with the softmax approximation as an
  option and iteration to a fixed point,
* a curve-level comparison of the SDM weights and the fitted softmax,
* the β learned by Query-Key Normalization Transformers, placed against the
  β of the optimal SDM radii, and the effective β of a softmax over raw
  query-key dot products (Bricken & Pehlevan's reading of GPT-2).

Where things are
----------------
``_softmax``
    softmax weights and attention, Hamming <-> cosine, the SDM and cap
    weights and their comparison with the softmax (NumPy only)
``_pattern``
    the pattern-view reads, binary (on the Hamming kernels; bit vectors in
    every form fastsdm accepts) and continuous
``_betas``
    the shipped learned-β data set, its summary, and ``effective_beta``

References
----------
.. [1] T. Bricken and C. Pehlevan, "Attention approximates sparse distributed
   memory", NeurIPS 2021, arXiv:2111.05498.
.. [2] A. Henry, P. R. Dachapally, S. Pawar and Y. Chen, "Query-Key
   Normalization for Transformers", Findings of EMNLP 2020, arXiv:2010.04245.
.. [3] P. Kanerva, *Sparse Distributed Memory*, MIT Press, 1988.
"""

from ._betas import (
    EffectiveBeta,
    LearnedBetaSummary,
    effective_beta,
    learned_beta_summary,
    load_learned_betas,
)
from ._pattern import (
    BLOCK_BYTES,  # noqa: F401 (documented constant, not in __all__ as before)
    continuous_pattern_read,
    sdm_pattern_read,
)
from ._softmax import (
    WeightComparison,
    cap_weights,
    compare_weights,
    cosine_to_hamming,
    hamming_to_cosine,
    sdm_weights,
    softmax_attention,
    softmax_weights,
)

__all__ = [
    "EffectiveBeta",
    "LearnedBetaSummary",
    "WeightComparison",
    "cap_weights",
    "compare_weights",
    "continuous_pattern_read",
    "cosine_to_hamming",
    "effective_beta",
    "hamming_to_cosine",
    "learned_beta_summary",
    "load_learned_betas",
    "sdm_pattern_read",
    "sdm_weights",
    "softmax_attention",
    "softmax_weights",
]

# Pickles and reprs name the public path, whichever private module defines the class.
for _cls in (EffectiveBeta, LearnedBetaSummary, WeightComparison):
    _cls.__module__ = __name__
del _cls
