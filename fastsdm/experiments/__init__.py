"""Capacity, critical-distance, attention and family experiments, as tidy records.

Each experiment returns a :class:`Records`: a list of dicts, one row per
parameter combination and repetition, each row carrying the full
configuration, the seeds that reproduce it and the versions of fastsdm, NumPy,
numba and Python. Rows go straight into :func:`to_csv`, :func:`to_json`,
:func:`summary_table`, ``pandas.DataFrame(records)`` or the figures of
:mod:`fastsdm.plots`.

* :func:`capacity` -- bit errors and exact recall as a memory fills up
  (patterns written incrementally into one memory), next to Kanerva's (1993)
  signal-to-noise prediction.
* :func:`critical_distance` -- Kanerva's (1988) convergence experiment: final
  distance after iterated reads against cue distance, the critical distance it
  implies, and the one-step model of :func:`fastsdm.theory.critical_distance`.
* :func:`attention_comparison` -- the SDM read with infinitely many neurons
  (pattern view) against softmax attention with the fitted β (Bricken &
  Pehlevan 2021): weight curves, their distances, and recall.
* :func:`family_capacity` -- the associative-memory family side by side (SDM,
  its pattern view, softmax attention, classical and modern Hopfield
  networks) on the same patterns and cues, with each model's theoretical
  capacity.

Long runs show a tqdm progress bar on stderr (``progress=False`` hides it);
its ETA leaves out the steps during which numba compiled kernels. Ctrl-C
(``KeyboardInterrupt``) stops an experiment cleanly: it returns the rows
finished so far with ``records.interrupted = True`` and warns with
:class:`ExperimentInterrupted`.

Each experiment is one record of a registry (its config dataclass, runner,
presets, summary columns, figure and command-line flags); :func:`configure`,
:func:`run`, the tables below, :mod:`fastsdm.plots` and the ``fastsdm``
command are all generated from it (docs: *Architecture*).

References
----------
.. [1] P. Kanerva, *Sparse Distributed Memory*, MIT Press, 1988.
.. [2] P. Kanerva, "Sparse distributed memory and related models", in
   *Associative Neural Memories*, M. H. Hassoun (ed.), Oxford University
   Press, 1993, pp. 50-76.
.. [3] T. Bricken and C. Pehlevan, "Attention approximates sparse distributed
   memory", NeurIPS 2021, arXiv:2111.05498.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._validation import check_choice

# Registered in this order (the command's subcommands and the tables follow it).
from ._capacity import capacity  # isort: skip
from ._critical_distance import critical_distance  # isort: skip
from ._attention import DATASETS as DATASETS  # isort: skip (the attention datasets)
from ._attention import attention_comparison  # isort: skip
from ._family import MODELS as FAMILY_MODELS  # isort: skip
from ._family import family_capacity  # isort: skip
from ._common import STORAGE, ExperimentInterrupted, Records, versions
from ._fields import DEFAULT_ACTIVATION_PROBABILITY
from ._io import summary_table, to_csv, to_json
from ._registry import REGISTRY

__all__ = [
    "DEFAULT_ACTIVATION_PROBABILITY",
    "EXPERIMENTS",
    "FAMILY_MODELS",
    "PRESETS",
    "STORAGE",
    "SUMMARY_COLUMNS",
    "ExperimentInterrupted",
    "Records",
    "attention_comparison",
    "capacity",
    "configure",
    "critical_distance",
    "family_capacity",
    "run",
    "summary_table",
    "to_csv",
    "to_json",
    "versions",
]

#: The experiments by name: the public function of each.
EXPERIMENTS = {name: record.function for name, record in REGISTRY.items()}

#: Named parameter sets per experiment. ``small`` runs in seconds (the default
#: of the command line); ``kanerva`` is the canonical memory (n = 1000,
#: N = 10**6, d = 451, int8 counters: 1.05 GiB) and takes minutes.
PRESETS = {name: record.presets for name, record in REGISTRY.items()}

#: Columns of :func:`summary_table` per experiment: parameters, then metrics.
SUMMARY_COLUMNS = {name: record.summary for name, record in REGISTRY.items()}


def configure(experiment: str, **kwargs) -> dict:
    """Validate an experiment's arguments and return its full configuration.

    Cheap (no memory is allocated), so an application can refuse bad arguments
    before any long work; :func:`run` then executes the configuration.

    Parameters
    ----------
    experiment : {"capacity", "critical_distance", "attention", "family_capacity"}
    **kwargs
        Arguments of the experiment's function (except ``progress``); missing
        ones take the function's defaults.

    Returns
    -------
    dict
        JSON-serialisable: every parameter, resolved (e.g. the radius from an
        activation probability), with ``"experiment"`` naming the runner.

    Raises
    ------
    TypeError, ValueError, MemoryError, ImportError
        As the experiment would. Each carries ``exc.parameters``, the tuple of
        the argument names it is about (e.g. ``("radius",)``).

    Examples
    --------
    >>> from fastsdm.experiments import configure
    >>> config = configure("capacity", n_bits=1000, n_locations=1000)
    >>> config["radius"], round(config["activation_probability"], 6)
    (451, 0.001072)
    >>> try:
    ...     configure("capacity", n_bits=64, radius=65)
    ... except ValueError as exc:
    ...     print(exc.parameters, str(exc).split(";")[0])
    ('radius',) radius must be in [0, 64], got 65
    """
    experiment = check_choice(experiment, "experiment", tuple(REGISTRY))
    if "progress" in kwargs:
        raise TypeError("configure() takes no progress argument; pass it to run()")
    return REGISTRY[experiment].configure(kwargs)


def run(config: Mapping, progress: bool = True) -> Records:
    """Run a configuration made by :func:`configure`.

    Parameters
    ----------
    config : dict
        As returned by :func:`configure` (or read back from a run's
        ``config.json``).  Every parameter is checked again: an edited
        value that :func:`configure` would not have made is refused.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    Records

    Examples
    --------
    >>> from fastsdm.experiments import configure, run
    >>> config = configure("attention", radii=[11], n_patterns=32, noise=[0], n_cues=4)
    >>> run(config, progress=False)[0]["sdm_exact_recall"]
    1.0
    """
    name = config.get("experiment") if isinstance(config, Mapping) else None
    if name not in REGISTRY:
        raise ValueError(f"config must be a configuration made by configure(), with an "
                         f"'experiment' key naming one of {', '.join(REGISTRY)}; got "
                         f"{type(config).__name__} with experiment={name!r}")
    return REGISTRY[name].run(REGISTRY[name].check_config(config), progress)
