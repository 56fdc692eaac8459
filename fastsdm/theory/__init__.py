"""Theory of Sparse Distributed Memory: exact counts, probabilities, radii and β.

Everything here is a closed form or a one-dimensional sum/integral from the
literature, implemented so that it stays exact (Python integers) or accurate
(log space, sums of positive terms only) for any dimension:

* ball sizes and ball intersections in ``{0,1}^n`` (Kanerva 1988),
* activation probabilities and the radius ↔ probability conversion,
* the exponential fit ``I(h) ≈ c1·exp(−c2·h)`` that links the SDM read to
  softmax attention with ``β = c2·n/2`` (Bricken & Pehlevan 2021),
* the optimal radii for signal-to-noise ratio (Kanerva 1993), memory capacity
  and critical distance,
* one read of a finite memory: the exact moments of the signal, the self-bias
  of autoassociative storage and the crosstalk over the binomial distribution
  of distances, and the bit-error, exact-recall and critical-distance
  predictions built on them (three models: autoassociative,
  heteroassociative, and Bricken & Pehlevan's),
* hyperspherical caps and their intersections for the continuous SDM
  (Lee & Kim 2014), and the β fitted to them,
* Jaeckel's (1989) selected-coordinate design, the alternative to Hamming
  balls: its shared locations ``C(n − h, k)``, activation probability
  ``2**-k`` and β (the ``hyperplane_*`` functions).

Every function takes the dimension ``n`` first, then the radius ``d`` (or the
design's ``k``) and the distance ``h`` or cosine ``cos``, then the sizes
``n_locations`` and ``n_patterns``; see the argument vocabulary in the
documentation's architecture page.

Where things are
----------------
``_hamming``
    balls and their intersections, exact and in log space; activation
    probabilities and the radius <-> probability conversion (exact binomial
    quantiles in ``_binomial``)
``_beta``
    the exponential fits (``fit_beta``, ``radius_for_beta``, ``fit_cap_beta``)
``_capacity``
    signal-to-noise ratio, capacity, optimal probabilities and radii
``_reads``
    the one-read models of a finite memory and the critical distance
``_caps``
    hyperspherical caps and their numba quadrature
``_hyperplane``
    Jaeckel's selected-coordinate design
``_logspace``
    log-factorials and log-sum-exp shared by the others

References
----------
.. [1] P. Kanerva, *Sparse Distributed Memory*, MIT Press, 1988.
.. [2] P. Kanerva, "Sparse distributed memory and related models", in
   *Associative Neural Memories*, M. H. Hassoun (ed.), Oxford University
   Press, 1993, pp. 50–76.
.. [3] T. Bricken and C. Pehlevan, "Attention approximates sparse distributed
   memory", NeurIPS 2021, arXiv:2111.05498.
.. [4] Y. Lee and W. C. Kim, "Concise formulas for the surface area of the
   intersection of two hyperspherical caps", KAIST technical report, 2014.
.. [5] L. A. Jaeckel, "An alternative design for a sparse distributed
   memory", RIACS Technical Report 89.28, NASA Ames Research Center, 1989.
"""

from ._beta import fit_beta, fit_cap_beta, radius_for_beta
from ._capacity import capacity, optimal_probability, optimal_radius, snr
from ._caps import (
    cap_fraction,
    cap_intersection,
    expected_cap_neurons,
    log_cap_fraction,
    log_cap_intersection,
)
from ._hamming import (
    activated_std,
    activation_probability,
    ball_size,
    expected_activated,
    expected_intersection,
    intersection,
    intersection_fraction,
    log_ball_size,
    log_intersection,
    radius_for_probability,
)
from ._hyperplane import (
    hyperplane_activation_probability,
    hyperplane_beta,
    hyperplane_expected_activated,
    hyperplane_expected_intersection,
    hyperplane_fit_beta,
    hyperplane_intersection,
    hyperplane_intersection_fraction,
    hyperplane_intersection_probability,
    hyperplane_k_for_probability,
    hyperplane_location_count,
)
from ._reads import (
    READ_MODELS,
    CriticalDistance,
    ReadStatistics,
    bit_error_probability,
    critical_distance,
    exact_recall_probability,
    read_statistics,
)

__all__ = [
    "READ_MODELS",
    "CriticalDistance",
    "ReadStatistics",
    "activated_std",
    "activation_probability",
    "ball_size",
    "bit_error_probability",
    "cap_fraction",
    "cap_intersection",
    "capacity",
    "critical_distance",
    "exact_recall_probability",
    "expected_activated",
    "expected_cap_neurons",
    "expected_intersection",
    "fit_beta",
    "fit_cap_beta",
    "hyperplane_activation_probability",
    "hyperplane_beta",
    "hyperplane_expected_activated",
    "hyperplane_expected_intersection",
    "hyperplane_fit_beta",
    "hyperplane_intersection",
    "hyperplane_intersection_fraction",
    "hyperplane_intersection_probability",
    "hyperplane_k_for_probability",
    "hyperplane_location_count",
    "intersection",
    "intersection_fraction",
    "log_ball_size",
    "log_cap_fraction",
    "log_cap_intersection",
    "log_intersection",
    "optimal_probability",
    "optimal_radius",
    "radius_for_beta",
    "radius_for_probability",
    "read_statistics",
    "snr",
]

# Pickles and reprs name the public path, whichever private module defines the class.
for _cls in (CriticalDistance, ReadStatistics):
    _cls.__module__ = __name__
del _cls
