"""Figures for the records of :mod:`fastsdm.experiments` (needs matplotlib).

Install with ``pip install fastsdm[plot]``. The figures are built with
:class:`matplotlib.figure.Figure` directly, not :mod:`matplotlib.pyplot`: no
GUI backend is touched, no global figure state is kept, and PNGs are rendered
by Agg. Each function takes the rows (a :class:`~fastsdm.experiments.Records`
or any list of row dicts, e.g. read back from JSON), averages repetitions, and
returns the figure; with ``path`` it also saves it. When the records were
interrupted (Ctrl-C, ``records.interrupted``), the figure says so across its
top.

* :func:`plot_capacity` -- bit error rate and exact recall against the number
  of stored patterns, one colour per cue noise, with the theory curves.
* :func:`plot_critical_distance` -- distance after iterated reads against cue
  distance (one panel per number of stored patterns), with the diagonal and
  the one-step models, and exact recall with its 50 % crossing.
* :func:`plot_attention` -- SDM weights against softmax (log scale), and recall
  of both reads against cue noise.
* :func:`plot_family_capacity` -- the associative-memory family: exact recall
  and bit errors of each model against stored patterns, with the theoretical
  capacities.

Each function draws with its experiment's record in the registry of
:mod:`fastsdm.experiments`; :func:`plot` picks the record by the rows'
``"experiment"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .experiments._figures import DPI, figure  # noqa: F401 (DPI: the PNGs' resolution)
from .experiments._registry import REGISTRY

__all__ = ["plot", "plot_attention", "plot_capacity", "plot_critical_distance",
           "plot_family_capacity"]



def plot_capacity(records: Sequence[Mapping], path=None):
    """Bit errors and exact recall against stored patterns, per cue noise.

    Three panels over the number of stored patterns ``m`` (log scale): the
    bit error rate of one read (log scale; zero rates are not drawn) and the
    exact-recall rate of one read, each with the prediction of the one-read
    model that matches the storage (dashed; named in the legend, see
    :func:`fastsdm.experiments.capacity`) and, for the bit errors, the paper
    model (dotted); and the exact-recall rate after iterated reads. One colour
    per noise level. The noise-0 curve of the iterated panel is dotted and
    labelled for what it is: its cue *is* the stored pattern, so it measures
    whether stored patterns stay fixed points (it stays near 1.0 far beyond
    capacity), not recall from a noisy cue.

    Parameters
    ----------
    records : sequence of dict
        Rows of :func:`fastsdm.experiments.capacity`.
    path : str or Path, optional
        Save the figure there (PNG, or any format matplotlib knows by suffix).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If there are no capacity rows.
    ImportError
        Without matplotlib.
    """
    return figure("capacity", records, path)


def plot_critical_distance(records: Sequence[Mapping], path=None):
    """Final distance after iterated reads against cue distance, and exact recall.

    One panel per number of stored patterns ``m``: the mean distance to the
    target after iterated reads (solid), after one read (dotted, open
    markers), the autoassociative one-read model of
    :func:`fastsdm.theory.critical_distance` (dashed), the paper's model
    (dash-dot) and the diagonal, with the simulated critical distance (the
    last grid distance where the mean final distance is below the cue's) as a
    dotted vertical line and the model's in the title. The last panel: the
    fraction of cues that converged to the target exactly, one colour per
    ``m``, with the point where it crosses 50 % (interpolated between grid
    points) marked by a diamond and a dotted vertical line. The legend sits
    below the panels, outside them.

    Parameters
    ----------
    records : sequence of dict
        Rows of :func:`fastsdm.experiments.critical_distance`.
    path : str or Path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If there are no critical-distance rows.
    ImportError
        Without matplotlib.
    """
    return figure("critical_distance", records, path)


def plot_attention(records: Sequence[Mapping], path=None):
    """SDM read weights against fitted softmax, and recall of both reads.

    Left: the normalised SDM weight curve ``I(h)/Σ I`` (solid) and
    ``softmax(β cos)`` with the fitted β (dashed) against the Hamming
    distance ``h``, log scale, one colour per radius
    (:func:`fastsdm.attention.compare_weights`). Right: exact recall of the
    SDM pattern-view read (solid) and of softmax attention (dashed) against cue
    noise.

    Parameters
    ----------
    records : sequence of dict
        Rows of :func:`fastsdm.experiments.attention_comparison`.
    path : str or Path, optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If there are no attention rows.
    ImportError
        Without matplotlib.
    """
    return figure("attention", records, path)


def plot_family_capacity(records: Sequence[Mapping], path=None):
    """Exact recall and bit error rate of each model against stored patterns.

    One column per cue noise; top row exact recall, bottom row bit error
    rate (log scale; zero rates not drawn), against the number of stored
    patterns (log scale).  Solid lines: iterated reads; dotted: one read.
    Vertical dashed lines in a model's colour mark its theoretical capacity
    where one exists (:func:`fastsdm.experiments.family_capacity`, Notes): the
    SDM's :func:`fastsdm.theory.capacity` and classical Hopfield's
    ``0.138 n``, with its exact-recall capacity ``n / (2 ln n)`` dash-dotted.

    Parameters
    ----------
    records : sequence of dict
        Rows of :func:`fastsdm.experiments.family_capacity` (plain dicts read
        back from JSON work).
    path : str or Path, optional
        Save the figure there.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If there are no rows of this experiment.
    ImportError
        Without matplotlib.
    """
    return figure("family_capacity", records, path)


def plot(records: Sequence[Mapping], path):
    """The figure of an experiment's rows (by their ``"experiment"`` key), saved to ``path``.

    Parameters
    ----------
    records : sequence of dict
        Rows of any experiment of :mod:`fastsdm.experiments`.
    path : str or Path
        Where to save the figure.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If there are no rows or their experiment is unknown.
    ImportError
        Without matplotlib.
    """
    if not records:
        raise ValueError("no rows to plot; the experiment produced none")
    name = records[0].get("experiment")
    if name not in REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; expected one of {sorted(REGISTRY)}")
    return figure(name, records, path)
