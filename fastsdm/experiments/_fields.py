"""Parameters shared by several experiments: their fields, command-line parsers and checks.

A field factory (``n_bits()``, ``radius()``, ...) returns a dataclass field
made with :func:`~fastsdm.experiments._registry.param`, so an experiment's
config lists its parameters in the order of its public signature and each
meaning is written once.  The checks raise the messages of
:mod:`fastsdm._validation`, spelled with the caller's
:class:`~fastsdm.experiments._registry.Names`.
"""

from __future__ import annotations

import argparse
import itertools
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import _machine
from .._params import COUNTER_DTYPES
from .._validation import check_choice, check_dtype, check_int, check_probability, n_words
from ._registry import Names, about, param

__all__ = [
    "DEFAULT_ACTIVATION_PROBABILITY",
    "MAX_VALUES",
    "activation_probability",
    "check_memory",
    "check_seed",
    "choice",
    "counter_dtype",
    "int_list",
    "integer",
    "iterations",
    "memory_nbytes",
    "n_bits",
    "n_cues",
    "n_locations",
    "n_patterns",
    "name_list",
    "noise",
    "parse_int",
    "parse_int_list",
    "parse_names",
    "parse_non_negative_int",
    "parse_positive_int",
    "parse_probability",
    "parse_real",
    "radius",
    "refuse_if_too_big",
    "repetitions",
    "seed",
    "with_activation",
]

#: Activation probability used when neither ``radius`` nor
#: ``activation_probability`` is given: Kanerva's canonical memory activates
#: about one location in a thousand.
DEFAULT_ACTIVATION_PROBABILITY = 0.001
#: The most values a list parameter (checkpoints, noise levels, distances, radii)
#: may hold; a ``start:stop:step`` range is counted before it is built.
MAX_VALUES = 100_000


# ---------------------------------------------------------------------------
# Command-line parsers: each refuses malformed text with a message naming it
# ---------------------------------------------------------------------------


def parse_int(text: str) -> int:
    try:
        return int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def parse_positive_int(text: str) -> int:
    value = parse_int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def parse_non_negative_int(text: str) -> int:
    value = parse_int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def parse_probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability, got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return value


def parse_real(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def parse_int_list(minimum: int):
    """A parser for ``100,200,300`` or ``start:stop:step`` (stop included).

    A range is checked (its start and its number of values, at most
    :data:`MAX_VALUES`) before it is built.
    """

    def parse(text: str) -> list[int]:
        text = text.strip()
        kind = "positive" if minimum == 1 else f">= {minimum}"
        try:
            parts = [parse_int(p) for p in text.split(":" if ":" in text else ",")
                     if ":" in text or p.strip()]
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{exc} in the list {text!r}") from None
        if ":" in text:
            if len(parts) != 3 or parts[2] <= 0:
                raise argparse.ArgumentTypeError(f"a range is start:stop:step with step > 0, "
                                                 f"got {text!r}")
            start, stop, step = parts
            if start < minimum <= stop:
                raise argparse.ArgumentTypeError(f"values must be {kind}, got {start} in "
                                                 f"{text!r}")
            count = max(0, (stop - start) // step + 1)
            if count > MAX_VALUES:  # counted, not built: 1:10**12:1 is refused at once
                raise argparse.ArgumentTypeError(f"a list holds at most {MAX_VALUES:,} "
                                                 f"values, but {text!r} has {count:,}; use a "
                                                 "larger step")
            values = list(range(start, stop + 1, step))
        else:
            values = parts
        if not values:
            raise argparse.ArgumentTypeError(f"expected at least one integer, got {text!r}")
        if len(values) > MAX_VALUES:
            raise argparse.ArgumentTypeError(f"a list holds at most {MAX_VALUES:,} values, "
                                             f"got {len(values):,}")
        low = [v for v in values if v < minimum]
        if low:
            raise argparse.ArgumentTypeError(f"values must be {kind}, got {low[0]} in {text!r}")
        return values

    return parse


def parse_names(choices: Sequence[str]):
    """A parser for a comma-separated list of names from ``choices``."""

    def parse(text: str) -> list[str]:
        names = [p.strip() for p in text.split(",") if p.strip()]
        if not names:
            raise argparse.ArgumentTypeError(f"expected names from {', '.join(choices)}, got "
                                             f"{text!r}")
        for name in names:
            if name not in choices:
                raise argparse.ArgumentTypeError(f"unknown name {name!r} in {text!r}; choose "
                                                 f"from {', '.join(choices)}")
        return names

    return parse


# ---------------------------------------------------------------------------
# Checks (the library's): values in, normalised values out, or one clear error
# ---------------------------------------------------------------------------


def integer(low: int | None = None, high: int | None = None, hint: str = ""):
    """A field check: an integer in ``[low, high]``."""
    return lambda value, name: check_int(value, name, low, high, hint)


def choice(options: Sequence, hint: str = ""):
    """A field check: one of ``options``."""
    return lambda value, name: check_choice(value, name, tuple(options), hint)


def int_list(values, name: str, low: int, high: int | None = None, hint: str = "") -> list[int]:
    """``values`` (an int or a sequence of ints) as a sorted list of distinct ints.

    At most :data:`MAX_VALUES` values: a longer sequence (``range(10**9)``) is
    refused before it is read.
    """
    if isinstance(values, numbers.Integral) and not isinstance(values, bool):
        values = [values]
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be an integer or a sequence of integers, got "
                        f"{type(values).__name__} {values!r}" + (f"; {hint}" if hint else ""))
    values = list(itertools.islice(values, MAX_VALUES + 1))
    if len(values) > MAX_VALUES:
        raise ValueError(f"{name} holds more than {MAX_VALUES:,} values; give fewer (a "
                         "coarser grid)" + (f" ({hint})" if hint else ""))
    out = sorted({check_int(v, f"each of {name}", low, high, hint) for v in values})
    if not out:
        raise ValueError(f"{name} is empty; give at least one value" + (f" ({hint})" if hint
                                                                        else ""))
    return out


def name_list(values, name: str, choices: Sequence[str]) -> list[str]:
    """``values`` (a name or names from ``choices``) in the order of ``choices``, once each."""
    if isinstance(values, str):
        values = [values]
    try:
        chosen = list(values)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of names from {tuple(choices)}, got "
                        f"{type(values).__name__} {values!r}") from None
    if not chosen:
        raise ValueError(f"{name} is empty; give at least one of {', '.join(choices)}")
    for value in chosen:
        check_choice(value, f"each of {name}", tuple(choices))
    return [c for c in choices if c in chosen]


def check_seed(seed, name: str) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    return check_int(seed, name, 0, hint="pass a non-negative integer, or None for fresh "
                                         "entropy (recorded in the rows)")


def memory_nbytes(n_bits: int, n_locations: int, counter_dtype: str,
                  n_patterns: int = 0) -> int:
    """Bytes of an SDM (:meth:`fastsdm.SDM.estimate_nbytes`) and ``n_patterns`` packed words."""
    from ..memory import SDM

    return (SDM.estimate_nbytes(n_bits, n_locations, counter_dtype=counter_dtype)
            + n_patterns * 8 * n_words(n_bits))


def check_memory(c, names: Names, n_patterns: int = 0,
                 others: Sequence[tuple[str, int, str]] = ()) -> dict:
    """The memory fields of a config ``c``, checked and resolved (no allocation).

    ``n_patterns`` packed words are counted with the memory, and so is every
    ``(what, nbytes, hint)`` of ``others`` (other state of the run, e.g. a
    Hopfield network's weights).  A run that does not fit the available RAM is
    refused with a hint that can help: int8 counters only when they would make
    it fit, the hint of the largest of ``others`` when it alone does not.

    The size is checked first, from the integers alone: nothing here costs
    more than ``O(sqrt(n_bits))`` before a refusal.  The activation
    probability (an exact big-integer sum, ``O(n_bits^2)``) is *not* computed:
    the returned ``activation_probability`` and ``expected_activated`` are
    None until :func:`with_activation` fills them, which a ``resolve`` calls
    after its last check.
    """
    from .. import theory

    with about("n_bits"):
        n = check_int(c.n_bits, names("n_bits"), 1, hint="the address length, e.g. 256")
    with about("n_locations"):
        N = check_int(c.n_locations, names("n_locations"), 1,
                      hint="the number of hard locations, e.g. 50_000")
    with about("counter_dtype"):
        dtype = check_dtype(c.counter_dtype, names("counter_dtype"), COUNTER_DTYPES).name
    radius, requested = c.radius, None
    if radius is not None and c.activation_probability is not None:
        with about("radius", "activation_probability"):
            raise ValueError(f"{names('radius')} and {names('activation_probability')} are "
                             f"alternatives: give one, not both (got "
                             f"{names.value('radius', radius)} and "
                             f"{names.value('activation_probability', c.activation_probability)})")
    others = tuple(others)
    extra = sum(nbytes for _, nbytes, _ in others)
    need = memory_nbytes(n, N, dtype, n_patterns) + extra
    available = _machine.available_memory()
    if available is not None and need > available:
        message, parameters = _memory_message(names, n, N, dtype, n_patterns, others, need,
                                              available)
        with about(*parameters):
            raise MemoryError(message)
    if radius is None:
        with about("activation_probability"):
            requested = check_probability(
                DEFAULT_ACTIVATION_PROBABILITY if c.activation_probability is None
                else c.activation_probability, names("activation_probability"),
                example="0.001 (Kanerva's canonical memory)")
        radius = theory.radius_for_probability(n, requested)
    with about("radius"):
        radius = check_int(radius, names("radius"), 0, n,
                           hint="the activation radius is a Hamming distance in [0, n_bits]")
    return {"n_bits": n, "n_locations": N, "radius": radius, "activation_probability": None,
            "requested_activation_probability": requested, "expected_activated": None,
            "counter_dtype": dtype, "estimated_nbytes": need}


def with_activation(memory: dict) -> dict:
    """``memory`` (from :func:`check_memory`) with its activation probability filled in.

    :func:`fastsdm.theory.activation_probability` is exact and costs
    ``O(n_bits^2)`` bit operations (about a second at ``n_bits = 10^5``): call
    this after every check that can refuse the configuration.
    """
    from .. import theory

    p = theory.activation_probability(memory["n_bits"], memory["radius"])
    return {**memory, "activation_probability": p,
            "expected_activated": p * memory["n_locations"]}


def refuse_if_too_big(need: int, what: str, detail: str, hint: str,
                      parameters: Sequence[str]) -> None:
    """Refuse a run whose estimated ``need`` bytes exceed the available RAM (MemoryError).

    The message has the form of :func:`check_memory`'s: ``{what} need 29.8 GiB
    ({detail}) but only 22.7 GiB is available; {hint}``.
    """
    available = _machine.available_memory()
    if available is not None and need > available:
        size = _machine.format_bytes
        with about(*parameters):
            raise MemoryError(f"{what} need {size(need)} ({detail}) but only {size(available)} "
                              f"is available; {hint}")


def _memory_message(names: Names, n: int, N: int, dtype: str, n_patterns: int,
                    others: Sequence[tuple[str, int, str]], need: int,
                    available: int) -> tuple[str, tuple[str, ...]]:
    """The refusal, and the parameters its hint is about (``exc.parameters``)."""
    size = _machine.format_bytes
    extra = sum(nbytes for _, nbytes, _ in others)
    what = "the memory and patterns"
    detail = ""
    if others:
        parts = ["the memory", "patterns", *(label for label, _, _ in others)]
        what = ", ".join(parts[:-1]) + " and " + parts[-1]
        detail = "; " + ", ".join(f"{label} {size(nbytes)}" for label, nbytes, _ in others)
    patterns = memory_nbytes(n, 0, "int8", n_patterns)
    fewer_patterns = "store fewer patterns: their words alone do not fit"
    smallest_memory = memory_nbytes(n, N, "int8")
    if patterns > available and smallest_memory > available:
        # Neither part fits alone: fewer patterns would not be enough.
        hint = (f"neither the patterns' words ({size(patterns)}) nor the memory "
                f"({size(smallest_memory)} with int8 counters) fit: use shorter vectors "
                f"({names('n_bits')}), or fewer patterns and locations")
        parameters = ("n_bits", "n_patterns", "n_locations")
    elif patterns > available:
        hint, parameters = fewer_patterns, ("n_patterns", "n_bits")
    elif others and memory_nbytes(n, 1, "int8", n_patterns) + extra > available:
        hint = max(others, key=lambda o: o[1])[2]  # the largest of the rest cannot stay
        parameters = ("n_bits", "n_patterns")
    elif dtype != "int8" and memory_nbytes(n, N, "int8", n_patterns) + extra <= available:
        hint = f"use {names.value('counter_dtype', 'int8')} (it fits)"
        parameters = ("counter_dtype", "n_locations")
    else:
        per_location = memory_nbytes(n, 1, "int8")
        fit = (available - extra - patterns) // per_location
        hint, parameters = ((f"use fewer locations: about {fit:,} fit with int8 counters",
                             ("n_locations", "counter_dtype")) if fit > 0 else
                            (fewer_patterns, ("n_patterns", "n_bits")))
    return (f"{what} need {size(need)} ({names.value('n_bits', n)}, "
            f"{names.value('n_locations', N)}, {dtype} counters{detail}) but only "
            f"{size(available)} is available; {hint}"), parameters


# ---------------------------------------------------------------------------
# Field factories: the shared parameters, written once
# ---------------------------------------------------------------------------


def n_bits(default: int = 256, help: str = "address (and pattern) length in bits",
           **details: Any):
    details.setdefault("resets", ("radius", "activation_probability"))
    details.setdefault("group", "memory")
    return param(default, help, flag="--n-bits", parse=parse_positive_int, metavar="n",
                 **details)


def n_locations(default: int = 50_000):
    return param(default, "number of hard locations", flag="--locations",
                 parse=parse_positive_int, metavar="N", group="memory")


def radius():
    return param(None, "activation radius in bits (replaces --activation-probability)",
                 flag="--radius", parse=parse_non_negative_int, metavar="d", group="memory",
                 resets=("activation_probability",))


def activation_probability():
    return param(None, "choose the radius activating this fraction of the locations",
                 flag="--activation-probability", parse=parse_probability, metavar="p",
                 group="memory", resets=("radius",))


def counter_dtype():
    return param("int16", "counter width (counters saturate; int8 halves int16's counter memory)",
                 flag="--counter-dtype", choices=COUNTER_DTYPES, group="memory")


def n_patterns(default: Sequence[int], help: str):
    return param(tuple(default), help, flag="--patterns", parse=parse_int_list(1),
                 metavar="LIST")


def noise(default: Sequence[int], help: str = "cue noise levels in flipped bits, e.g. 0,16,32"):
    return param(tuple(default), help, flag="--noise", parse=parse_int_list(0), metavar="LIST")


def n_cues(default: int, help: str):
    help += ("; distinct stored patterns, so at most the number stored (all of them where "
             "fewer are stored; the command says so)")
    return param(default, help, flag="--cues", parse=parse_positive_int, metavar="C",
                 check=integer(1, hint="the number of cues read per point"))


def iterations(default: int | None, help: str, check: bool = True):
    return param(default, help, flag="--iterations", parse=parse_positive_int, metavar="I",
                 check=integer(1, hint="the maximum number of reads per cue (1 = a single "
                                       "read)") if check else None)


def repetitions():
    return param(1, "independent repetitions per point", flag="--repetitions",
                 parse=parse_positive_int, metavar="K", group="run",
                 check=integer(1, hint="independent memories and patterns per point"))


def seed():
    return param(0, "base seed; per-repetition seeds are recorded", flag="--seed",
                 parse=parse_non_negative_int, metavar="S", group="run", check=check_seed)
