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

:class:`StepClock` is the bookkeeping alone (no bar, an injectable clock), so
it can be tested without timing anything.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from numba.core import event

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
    """

    def __init__(self, total: int, clock: Callable[[], float] = time.perf_counter):
        self.total = total
        self.clock = clock
        self.done = 0
        self.compiling = 0  # depth: compiling one kernel may compile the ones it calls
        self.clean_steps = 0
        self.clean_seconds = 0.0
        self.compiled_steps = 0
        self._compiled_in_step = False
        self._step_start = clock()

    def compile_started(self) -> None:
        self.compiling += 1
        self._compiled_in_step = True

    def compile_finished(self) -> None:
        self.compiling = max(0, self.compiling - 1)

    def step_done(self, n: int = 1) -> None:
        """``n`` steps finished now (their time is counted only if nothing compiled)."""
        now = self.clock()
        if self._compiled_in_step:
            self.compiled_steps += n
        else:
            self.clean_steps += n
            self.clean_seconds += now - self._step_start
        self.done += n
        self._step_start = now
        self._compiled_in_step = self.compiling > 0

    def remaining(self) -> float | None:
        """Seconds left at the rate of the steps that did not compile; None before one."""
        if not self.clean_steps:
            return None
        return self.clean_seconds / self.clean_steps * max(0, self.total - self.done)

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
    """

    def __init__(self, total: int, desc: str, enabled: bool, *,
                 clock: Callable[[], float] = time.perf_counter, file=None):
        self.clock = StepClock(total, clock)
        self.bar = None
        self.listening = False
        self._note = ""
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="row", file=file or sys.stderr,
                            dynamic_ncols=True, mininterval=0.25, bar_format=_BAR,
                            postfix=self.status())
            self._listen()

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
        if self.bar is not None:
            self.bar.close()
