"""The experiment registry: one :class:`Experiment` record per experiment.

An experiment is one module of this package and one :func:`register` call.
The module holds

* a frozen, keyword-only config dataclass whose fields are made with
  :func:`param`: each field carries its default, its help text, its
  command-line flag and parser, and (optionally) a check of its own value
  built from :mod:`fastsdm._validation`; the dataclass's ``resolve(names)``
  method does the checks that involve several fields and returns the
  validated, JSON-serialisable configuration;
* a runner ``run(config, progress) -> Records``;
* ``draw(rows) -> matplotlib.figure.Figure`` (matplotlib is imported there,
  never at import time) and, optionally, ``findings(records) -> list[str]``,
  one-line results printed under the summary table;
* the public function (a thin wrapper whose signature mirrors the dataclass;
  ``tests/test_experiments.py`` checks that they agree).

Everything else is generated from the record: :func:`fastsdm.experiments.configure`
and :func:`~fastsdm.experiments.run`, the tables of
:mod:`fastsdm.experiments` (``EXPERIMENTS``, ``PRESETS``,
``SUMMARY_COLUMNS``), the figures of :mod:`fastsdm.plots` and the
subcommand, flags, help text and preset listing of the ``fastsdm`` command.

Messages name parameters through :class:`Names`: as Python arguments
(``radius must be in [0, 64], got 65``) or, for the command line, as flags
(``--radius must be in [0, 64], got 65``), so the command never rewrites a
library message.  Every error raised while validating also carries the names
of the parameters it is about, as the tuple ``exc.parameters``.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = [
    "GROUPS",
    "PYTHON",
    "Experiment",
    "Names",
    "Param",
    "REGISTRY",
    "about",
    "param",
    "register",
]

#: Argument groups of a subcommand's help, in order: title of each.
GROUPS = {
    "memory": "memory (override the preset)",
    "experiment": "experiment (override the preset)",
    "run": "run and output",
}


class Names:
    """How messages spell parameters: as Python arguments, or as command-line flags.

    ``names("n_locations")`` is ``"n_locations"`` for Python and
    ``"--locations"`` for the command line; ``names.value("storage",
    "autoassociative")`` is ``"storage='autoassociative'"`` or
    ``"--storage autoassociative"``.
    """

    def __init__(self, flags: Mapping[str, str] | None = None):
        self.flags = dict(flags or {})

    @property
    def cli(self) -> bool:
        return bool(self.flags)

    def __call__(self, name: str) -> str:
        return self.flags.get(name, name)

    def value(self, name: str, value: Any) -> str:
        if not self.cli:
            return f"{name}={value!r}"
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        return f"{self(name)} {value}"


#: Messages in Python's spelling (the library's functions).
PYTHON = Names()


@contextmanager
def about(*parameters: str) -> Iterator[None]:
    """Tag a TypeError/ValueError/MemoryError/ImportError raised inside with ``parameters``.

    The tag (``exc.parameters``, a tuple of argument names) is set once: the
    innermost ``about`` names the parameters.
    """
    try:
        yield
    except (TypeError, ValueError, MemoryError, ImportError) as exc:
        if not getattr(exc, "parameters", ()):
            exc.parameters = parameters
        raise


@dataclasses.dataclass(frozen=True)
class Param:
    """What a config field means beyond its type and default.

    Attributes
    ----------
    help : str
        One line for ``--help``.
    flag : str or None
        The command-line flag (``--locations``); None keeps the parameter
        off the command line.
    parse : callable or None
        ``argparse`` type: command-line text to the value.
    metavar : str or None
    choices : tuple or None
        Allowed values (the command line lists them).
    group : {"memory", "experiment", "run"}
        The help section.
    check : callable or None
        ``check(value, name) -> value`` for checks that need this field
        only; ``name`` is the spelling for messages.
    resets : tuple of str
        Preset entries that give way when this flag is given (``--n-bits``
        resets a preset's radius, chosen for another length).
    """

    help: str
    flag: str | None = None
    parse: Callable[[str], Any] | None = None
    metavar: str | None = None
    choices: tuple | None = None
    group: str = "experiment"
    check: Callable[[Any, str], Any] | None = None
    resets: tuple[str, ...] = ()


def param(default: Any, help: str, **details: Any) -> Any:
    """A config dataclass field: its default and its :class:`Param` details."""
    return dataclasses.field(default=default, metadata={"param": Param(help, **details)})


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One experiment: everything the library and the command line need to know.

    Attributes
    ----------
    name : str
        The rows' ``"experiment"`` value and the key of every table.
    config : type
        The config dataclass (fields made with :func:`param`, a ``resolve``
        method).
    run : callable
        ``run(config: dict, progress: bool) -> Records``.
    function : callable
        The public function (keyword arguments of ``config`` plus
        ``progress``).
    draw : callable
        ``draw(rows) -> Figure``: the figure of this experiment's rows.
    presets : dict of str to dict
        Named parameter sets; ``"small"`` (the command line's default) first.
    summary : tuple of (tuple of str, tuple of str)
        The parameter columns and the metric columns of the summary table.
    command : str
        The subcommand of the ``fastsdm`` command.
    title : str
        One line: what the subcommand does.
    description : str
        A paragraph for ``fastsdm COMMAND --help``.
    notes : tuple of str
        Lines under the presets in ``--help`` (how unset values are chosen).
    findings : callable, optional
        ``findings(records) -> list[str]``: one-line results for the summary.
    preface : callable, optional
        ``preface(config) -> str``: a paragraph above the summary table (e.g.
        which theory model the columns hold).
    """

    name: str
    config: type
    run: Callable
    function: Callable
    draw: Callable
    presets: Mapping[str, Mapping[str, Any]]
    summary: tuple[tuple[str, ...], tuple[str, ...]]
    command: str
    title: str
    description: str
    notes: tuple[str, ...] = ()
    findings: Callable | None = None
    preface: Callable | None = None

    def params(self) -> dict[str, Param]:
        """The config's fields, in order, and their :class:`Param`."""
        return {f.name: f.metadata["param"] for f in dataclasses.fields(self.config)}

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in dataclasses.fields(self.config)}

    def flags(self) -> Names:
        """The command line's spelling of this experiment's parameters."""
        return Names({name: p.flag for name, p in self.params().items() if p.flag})

    def configure(self, arguments: Mapping[str, Any], names: Names = PYTHON) -> dict:
        """Validate ``arguments`` (missing ones take their defaults); the configuration dict."""
        params = self.params()
        unknown = [k for k in arguments if k not in params]
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(params), n=1)
            raise TypeError(f"{self.name}: got an unexpected keyword argument {unknown[0]!r}"
                            + (f"; did you mean {close[0]!r}?" if close else
                               f"; its arguments are {', '.join(params)}"))
        checked = dict(arguments)
        for name, p in params.items():
            if p.check is not None:
                with about(name):
                    checked[name] = p.check(checked.get(name, self.defaults()[name]),
                                            names(name))
        return self.config(**checked).resolve(names)

    def check_config(self, config: Mapping[str, Any]) -> dict:
        """``config`` made again by :meth:`configure` from its own parameters, or raise.

        A config read back from a run's ``config.json`` may have been edited:
        unless :meth:`configure` makes exactly the same configuration from its
        parameters (a tuple where a sorted list belongs, ``n_cues=0``, an
        ``expected_activated`` that does not follow from the sizes, ...), the
        run would fail deep inside or label its rows wrongly.
        """
        params = self.params()
        missing = [name for name in params if name not in config]
        if missing:
            raise ValueError(f"{self.name} config lacks {', '.join(missing)}: make it with "
                             f"configure({self.name!r}, ...)")
        arguments = {name: config[name] for name in params}
        # configure() records what it derived beside what it was given (the
        # radius and its activation probability; a step and its grid of
        # distances): give it back one of each pair, the one it was given.
        if "requested_activation_probability" in config and "activation_probability" in params:
            requested = config["requested_activation_probability"]
            arguments["activation_probability"] = requested
            if requested is not None:
                arguments["radius"] = None
        if config.get("step") is not None and "distances" in params:
            arguments["distances"] = None
        again = self.configure(arguments)
        for key in dict.fromkeys([*config, *again]):
            if key not in again or key not in config or not _same(again[key], config[key]):
                with about(key):
                    raise ValueError(f"{self.name} config has {key}={config.get(key)!r}, "
                                     f"which configure() makes {again.get(key)!r} from the "
                                     f"config's parameters; pass the arguments to "
                                     f"configure({self.name!r}, ...) again")
        return again

    def arguments(self, preset: str, given: Mapping[str, Any]) -> dict:
        """A preset's arguments overridden by ``given`` (preset entries it resets go)."""
        arguments = dict(self.presets[preset])
        params = self.params()
        for name in given:
            for other in params[name].resets:
                arguments.pop(other, None)
        arguments.update(given)
        return arguments

    def execute(self, arguments: Mapping[str, Any]):
        """The public function's body: validate, then run (``progress`` is in ``arguments``)."""
        arguments = dict(arguments)
        progress = arguments.pop("progress")
        return self.run(self.configure(arguments), progress)


def _same(a, b) -> bool:
    # Equal as configure() makes them and as config.json gives them back (a
    # tuple read back as a list, an int float): same JSON, same types of numbers.
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b and (a is None) == (b is None)


#: The experiments by name, in the order they were registered.
REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add a record to :data:`REGISTRY` (a name or subcommand may be registered once)."""
    for other in REGISTRY.values():
        if experiment.name == other.name or experiment.command == other.command:
            raise ValueError(f"experiment {experiment.name!r} (command {experiment.command!r}) "
                             f"is registered already")
    for field in dataclasses.fields(experiment.config):
        if "param" not in field.metadata:
            raise TypeError(f"{experiment.config.__name__}.{field.name} was not made with "
                            "param(): it has no help text or flag")
    REGISTRY[experiment.name] = experiment
    return experiment
