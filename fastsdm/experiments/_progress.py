"""Progress bars whose ETA is not extrapolated from a step that compiled kernels.

The first row of an experiment usually compiles numba kernels (seconds on a
cold cache), and later rows reuse them: a rate measured on the first row says
"19 minutes" for a 45-second run.  :class:`Progress` listens to numba's
``"numba:compile"`` events (:mod:`numba.core.event`, fired only when a kernel
is compiled, not when it is loaded from the cache) while its bar is shown:

* while a kernel compiles, the bar says so instead of giving an ETA;
* a step during which anything compiled is left out of the rate; the ETA is
  the mean time of the steps that did not compile times the steps left, and
  until one such step has finished the bar says it is measuring.

Work that is not a row -- writing the patterns before a checkpoint's reads --
is timed apart (:meth:`Progress.work`): it is left out of the row it precedes
(writing 10,000 patterns once must not make every row look 14 s long), and
the work still to do is added at its own measured rate (per pattern).

:class:`StepClock` is the bookkeeping alone (no bar, an injectable clock), so
it can be tested without timing anything.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

from numba.core import event

from .. import _jit
from .._validation import check_flag

__all__ = ["COMPILE_EVENT", "Progress", "StepClock"]

#: The numba event kind that marks a kernel being compiled.
COMPILE_EVENT = "numba:compile"
#: Shown instead of an ETA while a kernel compiles.
COMPILING = "compiling kernels (cached for later runs)…"
#: Shown until a step without compiling has finished.
MEASURING = "ETA: measuring"
# {postfix} holds ", " + the status and the note.
_BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


def _interval(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class StepClock:
    """Step times, split into steps that compiled kernels and steps that did not.

    Parameters
    ----------
    total : int
        Steps in the whole run.
    clock : callable
        Seconds, monotonic (default :func:`time.perf_counter`).
    work : int
        Units of work between steps in the whole run (patterns to write).
    """

    def __init__(self, total: int, clock: Callable[[], float] = time.perf_counter,
                 work: int = 0):
        self.total = total
        self.clock = clock
        self.done = 0
        self.compiling = 0  # depth: compiling one kernel may compile the ones it calls
        self.clean_steps = 0
        self.clean_seconds = 0.0
        self.compiled_steps = 0
        self._compiled_in_step = False
        self._step_start = clock()
        self.work_total = work
        self.work_done = 0
        self.clean_work = 0           # units done in phases that compiled nothing
        self.clean_work_seconds = 0.0
        self._work_start: float | None = None
        self._compiled_in_work = False
        self._work_seconds_in_step = 0.0

    def compile_started(self) -> None:
        self.compiling += 1
        self._compiled_in_step = True
        self._compiled_in_work = True

    def work_started(self) -> None:
        """A phase of work (not a row) starts: its time is left out of the current step."""
        self._work_start = self.clock()
        self._compiled_in_work = self.compiling > 0

    def work_finished(self, units: int, warmup: bool = False) -> None:
        """The phase ended after ``units`` of work (counted at its rate if nothing
        compiled, and if it was not a ``warmup``)."""
        if self._work_start is None:
            return
        elapsed = self.clock() - self._work_start
        self._work_start = None
        self._work_seconds_in_step += elapsed
        self.work_done += units
        # units = 0: left out of the steps only
        if units and not self._compiled_in_work and not warmup:
            self.clean_work += units
            self.clean_work_seconds += elapsed

    def compile_finished(self) -> None:
        self.compiling = max(0, self.compiling - 1)

    def step_done(self, n: int = 1) -> None:
        """``n`` steps finished now (their time is counted only if nothing compiled)."""
        now = self.clock()
        if self._compiled_in_step:
            self.compiled_steps += n
        else:
            self.clean_steps += n
            self.clean_seconds += now - self._step_start - self._work_seconds_in_step
        self.done += n
        self._step_start = now
        self._work_seconds_in_step = 0.0
        self._compiled_in_step = self.compiling > 0

    def remaining(self) -> float | None:
        """Seconds left at the rates of the steps and the work that did not compile.

        None before a step without compiling has finished, and while work is
        left whose rate has not been measured yet.
        """
        if not self.clean_steps:
            return None
        left = self.clean_seconds / self.clean_steps * max(0, self.total - self.done)
        work_left = max(0, self.work_total - self.work_done)
        if work_left:
            if not self.clean_work:
                return None
            left += self.clean_work_seconds / self.clean_work * work_left
        return left

    def status(self) -> str:
        """``"compiling …"``, ``"ETA: measuring"``, ``"ETA 0:42"``, or ``""`` when done."""
        if self.compiling:
            return COMPILING
        if self.done >= self.total:
            return ""
        left = self.remaining()
        return MEASURING if left is None else f"ETA {_interval(left)}"


class _CompileListener(event.Listener):
    """Reports numba's compile starts and ends to a :class:`Progress`."""

    def __init__(self, progress: Progress):
        self.progress = progress

    def on_start(self, event) -> None:
        self.progress.compile_started()

    def on_end(self, event) -> None:
        self.progress.compile_finished()


class Progress:
    """A tqdm bar on stderr (or nothing) with an honest ETA, closed whatever happens.

    Parameters
    ----------
    total : int
        Steps (rows) in the run.
    desc : str
        The bar's label.
    enabled : bool
        False: no bar, no listener; every method does nothing visible.
    clock : callable, optional
        For :class:`StepClock` (tests pass a fake clock).
    file : file-like, optional
        Where the bar goes (default ``sys.stderr``).
    work : int, optional
        Units of work done between rows in the whole run (:meth:`work`).
    """

    def __init__(self, total: int, desc: str, enabled: bool, *,
                 clock: Callable[[], float] = time.perf_counter, file=None, work: int = 0):
        self.clock = StepClock(total, clock, work)
        self.bar = None
        self.listening = False
        self._note = ""
        if check_flag(enabled, "progress"):  # "no" is truthy: it showed the bar
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="row", file=file or sys.stderr,
                            dynamic_ncols=True, mininterval=0.25, bar_format=_BAR,
                            postfix=self.status())
            self._listen()
            if file is None or file is sys.stderr:
                _jit.BAR_ON_LINE = True  # the compile note starts a line of its own

    def _listen(self) -> None:
        self._listener = _CompileListener(self)
        event.register(COMPILE_EVENT, self._listener)
        self.listening = True

    def compile_started(self) -> None:
        self.clock.compile_started()
        if self.clock.compiling == 1:
            self._show(refresh=True)

    def compile_finished(self) -> None:
        self.clock.compile_finished()

    def status(self) -> str:
        """What the bar shows after the counts: the ETA (or why there is none) and the note."""
        return "; ".join(part for part in (self.clock.status(), self._note) if part)

    def _show(self, refresh: bool) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(self.status(), refresh=refresh)

    def note(self, text: str) -> None:
        """What the run is doing now (shown after the ETA)."""
        self._note = text
        self._show(refresh=False)

    @contextlib.contextmanager
    def work(self, units: int, *, warmup: bool = False) -> Iterator[None]:
        """Time a phase that is not a row (writing ``units`` patterns) apart from the rows.

        ``units = 0``: a one-off preparation (making a memory, a checkpoint's
        theory), only left out of the row it precedes.  ``warmup``: the units
        count as done but their rate is not the run's (the first writes into a
        new memory also fault in its counter pages: a gigabyte took seconds,
        ~7x the rate of the writes after it, measured on the canonical memory).
        """
        self.clock.work_started()
        try:
            yield
        finally:
            self.clock.work_finished(units, warmup)
            self._show(refresh=False)

    def update(self, n: int = 1) -> None:
        """``n`` rows finished."""
        self.clock.step_done(n)
        if self.bar is not None:
            self._show(refresh=False)
            self.bar.update(n)

    def close(self) -> None:
        if self.listening:
            event.unregister(COMPILE_EVENT, self._listener)
            self.listening = False
        # Drop the listener (it refers back to this object) and the bar, so the
        # bar is freed now and not by the cyclic collector at some later moment:
        # a Ctrl-C arriving inside tqdm's __del__ then is printed and swallowed.
        self._listener = None
        bar, self.bar = self.bar, None
        if bar is not None:
            bar.close()
            _jit.BAR_ON_LINE = False
