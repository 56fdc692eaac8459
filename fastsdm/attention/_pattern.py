"""Pattern-view reads: an SDM with infinitely many neurons, given its stored patterns.

Binary (:func:`sdm_pattern_read`, weights from ball intersections, distances
from the Hamming kernels) and continuous (:func:`continuous_pattern_read`,
weights from cap intersections), each with the softmax approximation as an
option and iteration to a fixed point.  Re-exported by :mod:`fastsdm.attention`.
"""

from __future__ import annotations

import numbers

import numpy as np
import numpy.typing as npt

from fastsdm._core import ReadInfo, iterate, moved_at_most, same_rows, threshold
from fastsdm._validation import (
    as_bits,
    check_beta,
    check_flag,
    check_int,
    check_radius,
    check_rows,
    check_width,
    real_array,
    unit_rows,
)
from fastsdm.bits import unpack_bits
from fastsdm.search import hamming_distances
from fastsdm.theory import fit_beta, fit_cap_beta, log_intersection

from ._softmax import (
    BETA_HINT,
    N_HINT,
    cap_weights,
    hamming_to_cosine,
    normalise_log_weights,
    softmax_rows,
)

__all__ = ["BLOCK_BYTES", "sdm_pattern_read", "continuous_pattern_read"]

#: Bytes of each (queries x patterns) or (patterns x bits) float64 temporary of a
#: pattern-view read: queries and patterns are processed in blocks of this size.
BLOCK_BYTES = 32 << 20

_EPS = np.finfo(np.float64).eps


def _log_weight_table(n: int, radius, beta) -> np.ndarray:
    """``log w(h)`` for ``h = 0..n``, up to a constant: log I(h) or β cos(h)."""
    if beta is None or (isinstance(beta, str) and beta == "fit"):
        if radius is None:
            raise ValueError("radius is required for SDM weights (beta=None) and for "
                             "beta='fit', got None; pass radius=<activation radius>, or give "
                             "a numeric beta for plain softmax weights")
        minimum = 0 if beta is None else 2  # a β fit needs the points h = 0, 1
        d = check_int(radius, "radius", minimum, n,
                      hint=f"choose a radius between {minimum} and n_bits"
                           + (" (fit_beta needs h = 0..d-1, at least two points)"
                              if minimum else ""))
        if beta is None:
            return log_intersection(n, d, np.arange(n + 1))
        beta = fit_beta(n, d)
    elif radius is not None:
        check_int(radius, "radius", 0, n, hint="choose a radius between 0 and n_bits")
    if isinstance(beta, str):
        raise ValueError(f"beta must be a number >= 0, 'fit' or None, got {beta!r}; "
                         "use beta='fit' for theory.fit_beta(n_bits, radius)")
    if isinstance(beta, numbers.Real) and not isinstance(beta, (bool, np.bool_)) and beta == 0:
        # β = 0 (what fit_beta gives near d = n, where the intersections are flat
        # to double precision): equal weights, the softmax's own β → 0 limit.  A
        # float, whatever zero was passed (Fraction(0) made an object array).
        beta = 0.0
    else:
        beta = check_beta(beta, hint=BETA_HINT)
    return beta * hamming_to_cosine(np.arange(n + 1), n)


def _bipolar_sums(weights: np.ndarray, values: np.ndarray, n_value_bits: int) -> np.ndarray:
    """``Σ_μ w_μ (2 v_μ − 1)`` with ``values`` unpacked in blocks of patterns."""
    step = max(1, BLOCK_BYTES // (8 * n_value_bits))
    sums = np.zeros((weights.shape[0], n_value_bits))
    for start in range(0, values.shape[0], step):
        bits = unpack_bits(values[start : start + step], n_value_bits).astype(np.float64)
        sums += weights[:, start : start + step] @ (2.0 * bits - 1.0)
    return sums


def _pattern_read_once(Q, keys, values, n_value_bits, table, keep_ties):
    """One pattern-view read of packed queries ``Q`` (2-D), in blocks of queries."""
    n_keys = keys.shape[0]
    out = np.empty((Q.shape[0], values.shape[1]), dtype=np.uint64)
    step = max(1, BLOCK_BYTES // (8 * n_keys))
    for start in range(0, Q.shape[0], step):
        block = Q[start : start + step]
        weights = normalise_log_weights(table[hamming_distances(block, keys)])
        sums = _bipolar_sums(weights, values, n_value_bits)
        # A vote counts as a tie when it is within the rounding error of a sum of
        # n_keys weights totalling 1 (or exactly 0 when no pattern has weight):
        # exactly balanced votes must not be decided by rounding noise.
        tol = 2.0 * n_keys * _EPS * weights.sum(axis=1, keepdims=True)
        out[start : start + step] = threshold(sums, block if keep_ties else None, tol)
    return out


def sdm_pattern_read(queries: np.ndarray, keys: np.ndarray, values: np.ndarray | None = None,
                     *, n_bits: int, radius: int | None = None, iterations: int = 1,
                     beta: float | str | None = None, return_info: bool = False,
                     n_value_bits: int | None = None) -> np.ndarray | tuple[np.ndarray, ReadInfo]:
    """Read an SDM with infinitely many neurons, given its stored patterns.

    Parameters
    ----------
    queries : ndarray, shape (W,) or (q, W)
        One query or a batch, in any bit-vector form fastsdm accepts: packed
        ``uint64`` words (:func:`fastsdm.pack_bits`, ``W = ceil(n_bits / 64)``),
        ``np.packbits`` ``uint8`` bytes, or 0/1 (or bool) rows of ``n_bits``.
        The result comes back in the same form.
    keys : ndarray, shape (N, W)
        The addresses at which the ``N >= 1`` patterns were written, in any
        of those forms.
    values : ndarray, shape (N, Wv), optional
        The data written at each key, in any of those forms. ``None``
        (default) is autoassociative: ``values = keys``.
    n_bits : int
        Bits per query and key.
    radius : int, optional
        Activation radius ``d`` in ``[0, n_bits]``. Required for SDM weights
        (``beta=None``) and for ``beta="fit"`` (then in ``[2, n_bits]``); only
        validated when ``beta`` is a number.
    iterations : int, default 1
        Maximum number of reads. With ``iterations > 1`` each result is read
        again, and each query stops as soon as a read returns its input (a
        fixed point), as in :meth:`fastsdm.SDM.read`. Needs values as wide as
        the keys.
    beta : float, "fit" or None, default None
        ``None``: weights ``∝ I(h_μ)`` (the SDM). A number (``>= 0``): the
        attention approximation, weights ``softmax(β cos_μ)`` with
        ``cos_μ = 1 − 2h_μ/n``; 0 gives equal weights.
        ``"fit"``: that with ``β = theory.fit_beta(n_bits, radius)`` (paper method),
        which is 0 for radii near ``n_bits``, where the intersections are flat
        to double precision.
    return_info : bool, default False
        Also return a :class:`fastsdm.ReadInfo` (steps taken, converged).
    n_value_bits : int, optional
        Bits per value (default ``n_bits``).

    Returns
    -------
    result : ndarray, shape (Wv,) or (q, Wv)
        The read, in the form of ``queries`` (packed words, ``np.packbits``
        bytes or 0/1 rows of ``n_value_bits``).
    info : fastsdm.ReadInfo
        Only with ``return_info=True``. ``converged`` is the fixed-point test
        (for ``iterations=1``: the read equals the query; always False when the
        values are not as wide as the keys).

    Raises
    ------
    TypeError
        If an array is not bit vectors (packed words, bytes or 0/1 rows), an
        integer argument is not an integer or ``beta`` has the wrong type.
    ValueError
        If widths, pad bits, row counts or dimensions are wrong, ``radius``
        is missing or out of range, ``beta`` is negative or not finite, or
        ``iterations > 1`` with values narrower or wider than the keys.

    See Also
    --------
    sdm_weights : The weights.
    softmax_attention : Attention on real vectors.
    fastsdm.SDM.read : A finite SDM with real hard locations.

    Notes
    -----
    For each query ``q`` with distances ``h_μ`` to the keys,

    .. math:: s = \\sum_\\mu w_\\mu (2 v_\\mu - 1), \\qquad
              \\hat v_j = [s_j > 0],

    with ``w_μ = I(h_μ)/Σ_ν I(h_ν)`` (:func:`sdm_weights`) or, with ``beta``,
    ``w_μ = softmax_μ(β cos_μ)``: the SDM read with infinitely many neurons
    and its attention approximation (Bricken & Pehlevan 2021, §3). Ties
    ``s_j = 0`` keep the query's bit in autoassociative reads (``values=None``)
    and read 0 otherwise; sums within the rounding error of zero (``2Nε``
    relative to the total weight) count as ties. When every key is farther than
    ``2d`` from the query, every ``I(h_μ) = 0`` and every bit is a tie: an
    autoassociative read returns the query itself (a fixed point), a
    heteroassociative read returns zeros.

    Queries are processed in blocks, and the values unpacked in blocks of
    patterns, so that no temporary exceeds :data:`BLOCK_BYTES` whatever the
    number of patterns; distances come from :func:`fastsdm.hamming_distances`.
    Bytes and 0/1 rows are packed into words first, and the result unpacked
    into the caller's form.

    Examples
    --------
    >>> import fastsdm
    >>> from fastsdm.attention import sdm_pattern_read
    >>> patterns = fastsdm.random_addresses(100, 64, seed=0)
    >>> cues = fastsdm.flip_bits(patterns[:5], 64, 8, seed=1)
    >>> out, info = sdm_pattern_read(cues, patterns, n_bits=64, radius=11, iterations=10,
    ...                              return_info=True)
    >>> fastsdm.hamming_distances(out, patterns[:5]).diagonal()
    array([0, 0, 0, 0, 0], dtype=int32)
    >>> bool(info.converged.all())
    True
    >>> out = sdm_pattern_read(cues, patterns, n_bits=64, radius=11, beta="fit")
    >>> fastsdm.hamming_distances(out, patterns[:5]).diagonal()
    array([0, 0, 0, 0, 0], dtype=int32)

    0/1 rows in, 0/1 rows out:

    >>> rows = fastsdm.unpack_bits(cues, 64)
    >>> out = sdm_pattern_read(rows, fastsdm.unpack_bits(patterns, 64), n_bits=64, radius=11)
    >>> out.shape, out.dtype, bool((fastsdm.pack_bits(out) == patterns[:5]).all())
    ((5, 64), dtype('uint8'), True)
    """
    n_bits = check_int(n_bits, "n_bits", 1, hint="pass the length of the binary vectors")
    return_info = check_flag(return_info, "return_info")
    keys = as_bits(keys, "keys", n_bits, ndim=(2,)).words
    qbits = as_bits(queries, "queries", n_bits)  # the result comes back in this form
    Q = qbits.words
    autoassociative = values is None
    if autoassociative:
        if n_value_bits is not None and n_value_bits != n_bits:
            raise ValueError(f"n_value_bits={n_value_bits!r} was given without values; an "
                             f"autoassociative read returns n_bits={n_bits} bits, so drop "
                             "n_value_bits or pass values")
        n_value_bits, values = n_bits, keys
    else:
        n_value_bits = n_bits if n_value_bits is None else check_int(
            n_value_bits, "n_value_bits", 1, hint="pass the length of the value vectors")
        values = as_bits(values, "values", n_value_bits, ndim=(2,)).words
        check_rows(values, keys.shape[0], "values")
    iterations = check_int(iterations, "iterations", 1,
                           hint="pass the maximum number of reads, e.g. iterations=10")
    if iterations > 1 and n_value_bits != n_bits:
        raise ValueError("iterated reads feed the result back as a query and need values as "
                         f"wide as the keys, got n_value_bits={n_value_bits} != "
                         f"n_bits={n_bits}; use iterations=1")
    table = _log_weight_table(n_bits, radius, beta)

    def read(words):
        return _pattern_read_once(words, keys, values, n_value_bits, table, autoassociative)

    current, info = iterate(read, Q, iterations,
                            fixed=same_rows if n_value_bits == n_bits else None)
    result = qbits.restore(current, n_value_bits)
    return (result, info) if return_info else result


def _cosine_weigher(n: int, radius, beta):
    """A function cosines (b, N) -> weights (b, N), for cap or softmax weights."""
    if beta is None or (isinstance(beta, str) and beta == "fit"):
        if radius is None:
            raise ValueError("radius is required for cap weights (beta=None) and for "
                             "beta='fit', got None; pass radius=<radius in bit units>, or "
                             "give a numeric beta for plain softmax weights")
        if n < 2:  # cap_weights' own message would name an n never passed
            raise ValueError(f"cap weights and beta='fit' need dim >= 2, got vectors of width "
                             f"{n}; pass dim=<dimension of the caps' sphere>, or a numeric beta")
        radius = check_radius(radius, n, real=True)
        if beta is None:
            return lambda cos: cap_weights(n, radius, cos)
        if round(radius) < 2:
            raise ValueError(f"radius must be >= 1.5 for beta='fit', got {radius!r}: the fit "
                             "theory.fit_cap_beta(dim, round(radius)) needs the points h = "
                             "0..round(radius)-1, at least two; pass radius >= 1.5, beta=None "
                             "for the cap weights themselves, or a numeric beta")
        beta = fit_cap_beta(n, round(radius))
        if beta == 0.0:
            # The caps are flat to double precision (a radius near the whole
            # sphere): equal weights, as the binary read gives for fit_beta's 0.
            return lambda cos: softmax_rows(cos, 0.0)
    elif radius is not None:
        check_radius(radius, n, real=True)
    if isinstance(beta, str):
        raise ValueError(f"beta must be a positive number, 'fit' or None, got {beta!r}; "
                         "use beta='fit' for theory.fit_cap_beta(n, round(radius))")
    beta = check_beta(beta, hint=BETA_HINT)
    return lambda cos: softmax_rows(cos, beta)


def continuous_pattern_read(queries: npt.ArrayLike, keys: npt.ArrayLike,
                            values: npt.ArrayLike | None = None, *, radius: float | None = None,
                            dim: int | None = None, beta: float | str | None = None,
                            iterations: int = 1, n: int | None = None) -> np.ndarray:
    """Read a continuous SDM with infinitely many neurons, given its stored patterns.

    Parameters
    ----------
    queries : array_like, shape (d,) or (m, d)
        Real query vectors; each is L2-normalised (zero, NaN or inf refused).
    keys : array_like, shape (N, d)
        Real key vectors; each is L2-normalised (zero, NaN or inf refused).
    values : array_like, shape (N, dv), optional
        Real values, used as given. ``None`` (default) is autoassociative:
        ``values`` are the normalised keys.
    radius : float, optional
        Radius in bit units, in ``[0, dim]``: a neuron at ``a`` is activated by
        ``x`` when ``cos(x, a) >= 1 − 2·radius/dim``, as in
        :class:`~fastsdm.continuous.ContinuousSDM`. Required for cap weights
        (``beta=None``) and ``beta="fit"`` (then ``>= 1.5``, so that
        ``round(radius) >= 2``); only validated when ``beta`` is a number.
    dim : int, optional
        Dimension used for the cap geometry, ``>= 2`` (default: the vectors'
        width ``d``); the ``dim`` of :class:`~fastsdm.continuous.ContinuousSDM`.
    beta : float, "fit" or None, default None
        ``None``: weights ``∝`` cap intersection. A number: ``softmax(β cos_μ)``.
        ``"fit"``: ``β = theory.fit_cap_beta(dim, round(radius))``, the β fitted to
        the cap intersections themselves (the authors' "CFit"; until fastsdm
        0.1.0 this was the binary ``fit_beta``, 15.85 instead of 21.54 at
        ``n = 64``, ``radius = 11``). The fit is 0 where the caps are flat to
        double precision (radius near ``dim``): equal weights.
    iterations : int, default 1
        Number of reads; ``> 1`` only for autoassociative reads. Iteration stops
        early once no query moves by more than ``1e-12``.
    n : int, optional
        The older spelling of ``dim`` (still accepted; pass one of the two).

    Returns
    -------
    ndarray of float64, shape (dv,) or (m, dv)
        ``Σ_μ w_μ v_μ``. Autoassociative reads are normalised to unit length
        (each read is a point on the sphere, the next query); a query that no
        key's cap meets (all weights 0) is returned unchanged.

    Raises
    ------
    TypeError
        If an array is not real-valued, an argument has the wrong type, or
        both ``dim`` and ``n`` are given.
    ValueError
        If a shape is wrong, widths or row counts differ, a vector is zero or
        not finite, ``radius``/``beta`` is missing or out of range, or
        ``iterations > 1`` with explicit values.

    See Also
    --------
    cap_weights : The weights.
    softmax_attention : With ``normalize=True``, the same read for a given β.
    sdm_pattern_read : The binary version.

    Notes
    -----
    .. math:: \\hat v = \\sum_\\mu w_\\mu v_\\mu, \\qquad
              w_\\mu = \\frac{A(\\cos_\\mu)}{\\sum_\\nu A(\\cos_\\nu)}
              \\;\\text{or}\\; \\operatorname{softmax}_\\mu(\\beta \\cos_\\mu),

    with ``A`` the area of two intersecting caps (:func:`cap_weights`;
    Bricken & Pehlevan 2021, App. A). The softmax form equals
    :func:`softmax_attention` with Query-Key Normalization (Henry et al. 2020).
    Cap weights cost one quadrature per query-key pair whose caps meet.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsdm.attention import continuous_pattern_read
    >>> rng = np.random.default_rng(0)
    >>> keys = rng.standard_normal((50, 64))
    >>> cue = keys[3] + 0.5 * rng.standard_normal(64)
    >>> out = continuous_pattern_read(cue, keys, radius=11, iterations=3)
    >>> int(np.argmax(keys @ out)), bool(np.linalg.norm(out).round(12) == 1)
    (3, True)
    >>> out = continuous_pattern_read(cue, keys, beta=30.0, iterations=5)
    >>> round(float(out @ keys[3] / np.linalg.norm(keys[3])), 3)
    1.0
    """
    fix = "drop it: continuous SDM vectors live on the unit sphere"
    keys = unit_rows(real_array(keys, "keys", (2,), "(N, d)",
                                allow_bool=False, nonempty=True, contiguous=False),
                     "keys", fix)
    Q = real_array(queries, "queries", (1, 2), "(d,) or (m, d)",
                   allow_bool=False, nonempty=True, contiguous=False)
    check_width(Q, "queries", keys, "keys")
    single = Q.ndim == 1
    Q = unit_rows(np.atleast_2d(Q), "queries", fix)
    dim_name = "dim"
    if n is not None:  # the older spelling
        if dim is not None:
            raise TypeError("continuous_pattern_read() got both dim= and n= (its older "
                            "spelling); pass only dim=")
        dim, dim_name = n, "n"
    dim = keys.shape[1] if dim is None else check_int(dim, dim_name, 2, hint=N_HINT.format(2))
    autoassociative = values is None
    if autoassociative:
        values = keys
    else:
        values = real_array(values, "values", (2,), "(N, dv)",
                            allow_bool=False, nonempty=True, contiguous=False)
        check_rows(values, keys.shape[0], "values")
    iterations = check_int(iterations, "iterations", 1,
                           hint="pass the number of reads, e.g. iterations=5")
    if iterations > 1 and not autoassociative:
        raise ValueError(f"iterations={iterations} needs an autoassociative read (values=None): "
                         "the read is fed back as a query; use iterations=1 with values")
    weigh = _cosine_weigher(dim, radius, beta)
    step = max(1, BLOCK_BYTES // (8 * keys.shape[0]))

    def read(current):
        out = np.empty((current.shape[0], values.shape[1]))
        for start in range(0, current.shape[0], step):
            block = current[start : start + step]
            # Rounding can push |cos| a hair past 1 for (nearly) parallel vectors.
            cos = np.clip(block @ keys.T, -1.0, 1.0)
            out[start : start + step] = weigh(cos) @ values
        if not autoassociative:
            return out
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.where(norms > 0.0, out / np.where(norms > 0.0, norms, 1.0), current)

    # The batch stops as a whole once no coordinate of any query moves.
    current, _ = iterate(read, Q, iterations, together=True,
                         fixed=moved_at_most(1e-12) if autoassociative else None)
    return current[0] if single else current
