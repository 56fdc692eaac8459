"""Temperatures: the β learned by Transformers, and the effective β of raw dot products.

The shipped data set of β learned by Query-Key Normalization Transformers
(``fastsdm/data/qknorm_learned_betas.csv``), its place between the β of the
optimal SDM radii, and the β of a softmax over unnormalised query-key dot
products.  Re-exported by :mod:`fastsdm.attention`.
"""

from __future__ import annotations

import csv
import math
from importlib import resources
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from fastsdm._validation import (
    check_choice,
    check_n,
    check_positive,
    check_width,
    real_array,
    unit_rows,
)
from fastsdm.theory import fit_beta, optimal_radius

__all__ = [
    "EffectiveBeta",
    "LearnedBetaSummary",
    "load_learned_betas",
    "learned_beta_summary",
    "effective_beta",
]

_BETA_FILE = "qknorm_learned_betas.csv"
_BETA_HEADER = ["task", "module", "beta"]


class EffectiveBeta(NamedTuple):
    """Result of :func:`effective_beta`.

    Attributes
    ----------
    beta : float
        The effective β of all the queries together.
    per_query : ndarray of float64, shape (m,)
        One estimate per query.
    method : str
        ``"max"`` or ``"fit"``.
    scale : float
        The factor that multiplied the dot products (``1/sqrt(d)`` by default).
    """

    beta: float
    per_query: np.ndarray
    method: str
    scale: float


class LearnedBetaSummary(NamedTuple):
    """Result of :func:`learned_beta_summary`.

    Attributes
    ----------
    betas : ndarray of float64
        The learned β (all tasks and modules, file order).
    mean, min, max : float
        Their mean, minimum and maximum.
    radius_cd, radius_snr, radius_mem : int
        Optimal SDM radii for critical distance, signal-to-noise ratio and
        memory capacity (:func:`fastsdm.theory.optimal_radius`).
    beta_cd, beta_snr, beta_mem : float
        ``fit_beta(n, radius)`` for those radii (``β_CD < β_SNR < β_Mem``).
    fraction_between : float
        Fraction of the learned β in ``[β_CD, β_Mem]`` (inclusive).
    """

    betas: np.ndarray
    mean: float
    min: float
    max: float
    radius_cd: int
    radius_snr: int
    radius_mem: int
    beta_cd: float
    beta_snr: float
    beta_mem: float
    fraction_between: float


def _parse_betas(lines) -> np.ndarray:
    """Rows of the β table (comment lines start with '#') as a structured array."""
    rows = list(csv.reader(line for line in lines if not line.startswith("#")))
    if not rows or rows[0] != _BETA_HEADER:
        raise ValueError(f"the learned-beta table must start with the header "
                         f"{','.join(_BETA_HEADER)}, got {rows[0] if rows else 'no rows'}; "
                         "the installed data file is damaged, reinstall fastsdm")
    body = rows[1:]
    if any(len(row) != 3 for row in body):
        raise ValueError("every row of the learned-beta table must have 3 fields "
                         "(task, module, beta); the installed data file is damaged, "
                         "reinstall fastsdm")
    tasks = np.array([row[0] for row in body])
    modules = np.array([row[1] for row in body])
    table = np.empty(len(body), dtype=[("task", tasks.dtype), ("module", modules.dtype),
                                       ("beta", np.float64)])
    table["task"], table["module"] = tasks, modules
    table["beta"] = [float(row[2]) for row in body]
    return table


def load_learned_betas() -> np.ndarray:
    """The β learned by Query-Key Normalization Transformers.

    Returns
    -------
    ndarray, structured, fields ``task`` (str), ``module`` (str), ``beta`` (float64)
        One row per attention module of the published models (90 rows).

    Raises
    ------
    ValueError
        If the packaged data file is damaged.

    See Also
    --------
    learned_beta_summary : Compared with the optimal SDM β.

    Notes
    -----
    Henry et al. (2020) L2-normalise queries and keys and learn the softmax
    inverse temperature β of every attention module. The values are those
    published with the code of Bricken & Pehlevan (2021, MIT licence), for
    translation models on ar-en, en-he, gl-en and sk-en, plus an unlabelled
    first block (``task = "unnamed"``). The file ships as
    ``fastsdm/data/qknorm_learned_betas.csv`` and is read with
    :mod:`importlib.resources` and :mod:`csv`.

    Examples
    --------
    >>> from fastsdm.attention import load_learned_betas
    >>> betas = load_learned_betas()
    >>> betas.size, sorted(set(betas["task"].tolist()))
    (90, ['ar-en', 'en-he', 'gl-en', 'sk-en', 'unnamed'])
    >>> round(float(betas["beta"].mean()), 1)
    15.6
    """
    source = resources.files("fastsdm").joinpath("data", _BETA_FILE)
    with source.open("r", encoding="utf-8", newline="") as lines:
        return _parse_betas(lines)


def learned_beta_summary(n: int = 64, n_locations: float = 2**64,
                         n_patterns: float = 1024) -> LearnedBetaSummary:
    """Place the learned Query-Key Normalization β against the optimal SDM β.

    Parameters
    ----------
    n : int, default 64
        Number of bits (the attention head dimension of the models).
    n_locations : float, default 2**64
        Number of SDM neurons ``r``.
    n_patterns : float, default 1024
        Number of stored patterns ``m`` (the context length).

    Returns
    -------
    LearnedBetaSummary
        The learned β with their mean, min and max; the radii and β of the
        critical-distance, SNR and memory optima; and the fraction of learned β
        between ``β_CD`` and ``β_Mem``.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If an argument is out of range, or an optimal radius is below 2 (no β fit).

    See Also
    --------
    load_learned_betas, fastsdm.theory.optimal_radius, fastsdm.theory.fit_beta

    Notes
    -----
    ``β_X = fit_beta(n, optimal_radius(n, r, m, X))`` for ``X`` in critical
    distance, SNR and memory. For the defaults (``n = 64``, ``r = 2^64``,
    ``m = 1024``) the radii are 15, 11 and 5 and ``β_CD ≈ 10.1``,
    ``β_SNR ≈ 15.9``, ``β_Mem ≈ 35.5``; the learned β (mean ≈ 15.6) all lie
    between the two extremes, Bricken & Pehlevan's (2021) observation that
    Transformers learn SDM-optimal temperatures.

    The critical-distance radius costs O(n²) (see
    :func:`fastsdm.theory.optimal_radius`): 2-3 s at ``n = 10**4``, hours at
    ``10**6``.

    Examples
    --------
    >>> from fastsdm.attention import learned_beta_summary
    >>> s = learned_beta_summary()
    >>> round(s.mean, 2), round(s.beta_cd, 1), round(s.beta_snr, 1), round(s.beta_mem, 1)
    (15.65, 10.1, 15.9, 35.5)
    >>> s.fraction_between
    1.0
    """
    # First: the memory criterion's own message for n = 1 named its p_whole.
    n = check_n(n, minimum=2, why=" (the head dimension: 64 in the paper)")
    radii = {c: optimal_radius(n, n_locations, n_patterns, c)
             for c in ("critical_distance", "snr", "memory")}
    small = {c: d for c, d in radii.items() if d < 2}
    if small:  # fit_beta's own message would name a radius the caller never passed
        raise ValueError(f"the optimal radii for n={n}, n_locations={n_locations}, "
                         f"n_patterns={n_patterns} include {small}: a β fit needs a radius of "
                         "at least 2; use longer vectors (n) or other memory sizes")
    beta = {c: fit_beta(n, d) for c, d in radii.items()}
    betas = load_learned_betas()["beta"].copy()
    low, high = sorted((beta["critical_distance"], beta["memory"]))
    return LearnedBetaSummary(
        betas=betas,
        mean=float(betas.mean()),
        min=float(betas.min()),
        max=float(betas.max()),
        radius_cd=radii["critical_distance"],
        radius_snr=radii["snr"],
        radius_mem=radii["memory"],
        beta_cd=beta["critical_distance"],
        beta_snr=beta["snr"],
        beta_mem=beta["memory"],
        fraction_between=float(np.mean((betas >= low) & (betas <= high))),
    )


# ---------------------------------------------------------------------------
# The effective β of a softmax over raw dot products
# ---------------------------------------------------------------------------

_EFFECTIVE_METHODS = ("max", "fit")


def effective_beta(queries: npt.ArrayLike, keys: npt.ArrayLike, *, scale: float | None = None,
                   method: str = "max") -> EffectiveBeta:
    """The β of ``softmax(scale · K q)`` read as a softmax over cosine similarities.

    Attention without Query-Key Normalization (GPT-2) scores key ``j`` by
    ``s_j = scale · q·k_j = (scale ‖q‖ ‖k_j‖) · cos(q, k_j)``. Bricken &
    Pehlevan (2021, §3) ask which β the same softmax has when written as
    ``softmax(β cos)`` over L2-normalised vectors, to compare it with the β of
    the optimal SDM radii. This function answers for arrays you bring (one
    attention head: its queries and the keys they attend over); it downloads
    nothing.

    Parameters
    ----------
    queries : array_like, shape (d,) or (m, d)
        Query vectors, as they enter the dot product (real, finite).
    keys : array_like, shape (N, d)
        Key vectors (real, finite). For causal attention pass, for each query,
        the keys it may see (e.g. the last token's query against all keys, as
        the paper does).
    scale : float, optional
        The factor multiplying ``q·k`` inside the softmax; default
        ``1/sqrt(d)``, that of scaled dot-product attention (GPT-2's head
        dimension 64 gives 1/8). Pass the learned gain for a QK-normalised model.
    method : {"max", "fit"}, default "max"
        ``"max"``, the paper's: ``per_query = max_j s_j`` and ``beta`` its
        maximum over queries. ``"fit"``: ``per_query`` is the least-squares
        slope of ``s_j`` on ``cos(q, k_j)`` with an intercept, and ``beta`` the
        slope pooled over all queries (each with its own intercept).

    Returns
    -------
    EffectiveBeta
        ``beta``, ``per_query``, ``method`` and ``scale``.  ``beta`` can be zero
        or negative: with ``"max"`` when every score of every query is
        negative (every key points away from its query), with ``"fit"`` when
        the scores fall as the cosine grows (norms that shrink faster).  No
        ``softmax(β cos)`` with ``β > 0`` describes such scores, and the
        softmax functions refuse such a β.

    Raises
    ------
    TypeError
        If an array is not real-valued or ``scale`` is not a real number.
    ValueError
        If a shape is wrong, the widths differ, an array holds NaN or infinities,
        ``scale`` is not positive, ``method`` is unknown, the dot products
        overflow, or (``"fit"``) a vector is zero or no query sees two keys at
        different cosines.

    See Also
    --------
    learned_beta_summary : The β learned by QK-normalised Transformers.
    fastsdm.theory.fit_beta : The β of an SDM radius.
    softmax_weights : ``softmax_weights(q, K, eff.beta, normalize=True)``.

    Notes
    -----
    **"max"** (Bricken & Pehlevan 2021, §3 and their GPT-2 analysis). Since
    ``cos <= 1``, scores ``s_j = β_j cos_j`` can only be written with one β
    if ``β >= max_j s_j``; taking ``β = max_j s_j`` assumes the best-matching
    key is nearly parallel to the query, and the paper reports, per head, the
    maximum over its inputs. It is a lower bound on the β the scores need, and
    an estimate of it when some key aligns with the query.

    **"fit"**. A softmax ignores a constant added to all the scores of one
    query, so ``softmax(s) = softmax(β cos)`` exactly when
    ``s_j = β cos_j + c`` for all ``j``. The least-squares β of
    ``s_j ≈ β cos_j + c_q`` minimises the squared error of the log-weights
    (up to their per-query constants). When every query and every key has the
    same norm it is exact, ``β = scale ‖q‖ ‖k‖``, and the two softmaxes are
    identical; with varying norms it is the best single β in that sense.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsdm.attention import effective_beta
    >>> rng = np.random.default_rng(0)
    >>> directions = rng.standard_normal((20, 64))
    >>> directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    >>> keys = 12.0 * directions                       # ‖k‖ = 12
    >>> queries = 10.0 * directions[:5]                # ‖q‖ = 10, parallel to keys 0..4
    >>> round(effective_beta(queries, keys).beta, 6)   # (1/8)·10·12, the paper's max
    15.0
    >>> round(effective_beta(queries, keys, method="fit").beta, 6)
    15.0
    """
    K = real_array(keys, "keys", (2,), "(N, d)",
                   allow_bool=False, nonempty=True, contiguous=False)
    Q = real_array(queries, "queries", (1, 2), "(d,) or (m, d)",
                   allow_bool=False, nonempty=True, contiguous=False)
    check_width(Q, "queries", K, "keys")
    Q = np.atleast_2d(Q)
    method = check_choice(method, "method", _EFFECTIVE_METHODS)
    if scale is None:
        scale = 1.0 / math.sqrt(K.shape[1])
    else:
        scale = check_positive(scale, "scale", "0.125", kind="real number",
                               hint="the factor that multiplies q·k inside the softmax, "
                                    "e.g. 1/np.sqrt(64) for GPT-2")
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, with a fix
        scores = scale * (Q @ K.T)
    if not np.isfinite(scores).all():
        raise ValueError("the scores scale·q·k overflowed float64; rescale the queries and "
                         "keys (the estimate scales with their norms)")
    if method == "max":
        per_query = scores.max(axis=1)
        return EffectiveBeta(float(per_query.max()), per_query, method, float(scale))
    fix = "drop it: its cosine with the keys is undefined (or use method='max')"
    cos = np.clip(unit_rows(Q, "queries", fix) @ unit_rows(K, "keys", fix).T, -1.0, 1.0)
    cos_c = cos - cos.mean(axis=1, keepdims=True)
    scores_c = scores - scores.mean(axis=1, keepdims=True)
    spread = np.einsum("ij,ij->i", cos_c, cos_c)
    covariance = np.einsum("ij,ij->i", cos_c, scores_c)
    # Cosines of unit rows are exact to about d rounding errors: a query
    # resolves a slope when its keys' cosines differ by well more than that
    # (a fixed 1e-6 called cosines 5e-11 apart "the same").
    rounding = 256 * K.shape[1] * np.finfo(np.float64).eps
    resolved = np.abs(cos_c).max(axis=1) > rounding
    if not resolved.any():
        raise ValueError(f"method='fit' needs, for some query, two keys at different cosines, "
                         f"got {K.shape[0]} key(s) all at the same cosine from every query "
                         f"(to within {rounding:.1g}, rounding); pass more keys or use "
                         "method='max'")
    per_query = np.full(Q.shape[0], np.nan)
    per_query[resolved] = covariance[resolved] / spread[resolved]
    beta = float(covariance[resolved].sum() / spread[resolved].sum())
    return EffectiveBeta(beta, per_query, method, float(scale))
