"""Signal logic: which phases an agent may pick, and the yellow/all-red transitions between them.

Pure Python (no SUMO calls): a :class:`SignalController` turns an agent's action into commands
(``("set_phase", index)`` or ``("set_duration", seconds)``) for a program that
:func:`build_program` derives from the intersection's own static program, so tests can check the
rules without a simulator.

Two action modes (``SignalTiming.action_mode``):

* ``"phase"``: every ``delta_time`` seconds the agent picks the next green phase (acyclic). A change
  inserts the yellow (and all-red, where the net has one) transition automatically. Min-green and
  max-green are enforced through the action mask: during min-green only the current phase is
  allowed; after max-green the current phase is not. With ``max_red`` set, a phase whose lanes
  have held a halting vehicle for ``max_red`` seconds while it was red is *due*: once the current
  green has had its min-green, only due phases are allowed, and a due phase, once green, is held
  until its queue has cleared (or max-green), so no approach can be starved (a
  learned policy that never picks a phase would otherwise gridlock the network behind it; the
  env reports which red phases have halting vehicles through :meth:`SignalController.observe_calls`).
  A transition may span several decisions
  (``delta_time`` shorter than yellow + all-red): while it runs, the new green's min-green has not
  started, so the mask allows only that green and nothing can interrupt the yellow.
* ``"duration"``: the phase order of the static program is kept (a cycle, as signal engineers time
  it); when a green starts, the agent picks its duration from ``green_durations``. SUMO ends the
  green exactly after that time and runs the transition itself. While a green is running, the mask
  allows only the duration already committed (so no action is ever silently ignored).

An action that the mask forbids raises :class:`~core.errors.InvalidActionError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import InvalidActionError, ScenarioError

ActionMode = Literal["phase", "duration"]
Command = tuple[str, float]
_FOREVER = 1e6  # a green "held until the controller says otherwise"
_EPS = 1e-6


class SignalTiming(BaseModel):
    """Timing rules shared by all controlled intersections: the one place they are validated
    (:class:`envs.config.EnvConfig` inherits these fields and their checks).

    Attributes:
        delta_time: seconds between two decisions.
        yellow_time: yellow duration; ``None`` takes the longest yellow of the net's programs.
        min_green: a green lasts at least this long.
        max_green: a green lasts at most this long (phase mode).
        action_mode: ``"phase"`` or ``"duration"`` (see module docstring).
        green_durations: the durations an agent chooses from in duration mode.
        max_red: phase mode: a phase whose halting vehicles have waited this long at red is served
            next (after the current min-green); ``None`` disables the guard. Duration mode keeps the
            cycle, which serves every phase anyway.

    Raises:
        pydantic.ValidationError: a bad value (a ``ValueError`` naming the field); configs are
            validated by :func:`core.config.validate`, which raises ``ConfigError`` instead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    delta_time: float = Field(5.0, gt=0)
    yellow_time: float | None = Field(None, ge=0)
    min_green: float = Field(10.0, ge=0)
    max_green: float = Field(60.0, gt=0)
    action_mode: ActionMode = "phase"
    green_durations: tuple[float, ...] = (10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0)
    max_red: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check_timing(self) -> SignalTiming:
        if self.min_green > self.max_green:
            raise ValueError(f"min_green ({self.min_green}) must be <= max_green ({self.max_green})")
        if not self.green_durations or min(self.green_durations) <= 0:
            raise ValueError("green_durations must be a non-empty list of positive seconds")
        return self


def _is_green(state: str) -> bool:
    return any(c in "Gg" for c in state) and not any(c in "yYu" for c in state)


def _is_all_red(state: str) -> bool:
    return not any(c in "GgyYu" for c in state)


def yellow_between(current: str, nxt: str) -> str:
    """Transition state from green ``current`` to green ``nxt``: links losing their green turn yellow."""
    out = []
    for c, n in zip(current, nxt):
        if c in "Gg":
            out.append(c if n in "Gg" else "y")
        else:
            out.append(c if c == n else "r")
    return "".join(out)


@dataclass(frozen=True)
class PhaseSet:
    """The distinct green phases of a signal plus its transition times.

    The all-red clearance after a green is the one the net's own program runs after that green (an
    all-red clears the movements that just lost their green, so it belongs to the ending green):
    a program with one all-red per cycle, after its side-street green, keeps exactly that, and a
    change away from any other green runs the yellow only.

    Attributes:
        tls_id: the traffic light id.
        greens: green states in the order of the static program.
        green_durations: the static program's duration of each green (for fixed-time plans).
        yellow_time: yellow seconds.
        all_red_after: per green, the all-red seconds after its yellow (0: none in the net's program).
    """

    tls_id: str
    greens: tuple[str, ...]
    green_durations: tuple[float, ...]
    yellow_time: float
    all_red_after: tuple[float, ...]

    @classmethod
    def from_program(
        cls, tls_id: str, phases: list[tuple[float, str]], yellow_time: float | None = None
    ) -> PhaseSet:
        """Extract greens, yellow and all-red times from a static program's ``(duration, state)`` list.

        Raises:
            ScenarioError: the program has no green phase.
        """
        greens: list[str] = []
        durations: list[float] = []
        for duration, state in phases:
            if _is_green(state) and state not in greens:
                greens.append(state)
                durations.append(duration)
        if not greens:
            raise ScenarioError(
                f"Traffic light {tls_id!r}: its program has no green phase "
                "(no 'G'/'g' state). Fix the tlLogic in the net or additional file."
            )
        all_red = [0.0] * len(greens)
        n = len(phases)
        for p, (_, state) in enumerate(phases):  # the all-red between each green and the next one
            if not _is_green(state):
                continue
            seconds = 0.0
            for d, s in (phases[(p + k) % n] for k in range(1, n)):
                if _is_green(s):
                    break
                seconds += d if _is_all_red(s) else 0.0
            k = greens.index(state)
            all_red[k] = max(all_red[k], seconds)
        yellows = [d for d, s in phases if any(c in "yY" for c in s)]
        if yellow_time is None:
            yellow_time = max(yellows) if yellows else 3.0
        return cls(tls_id, tuple(greens), tuple(durations), float(yellow_time), tuple(all_red))

    @property
    def n_greens(self) -> int:
        """Number of distinct green phases."""
        return len(self.greens)

    @property
    def all_red_time(self) -> float:
        """The longest all-red of the program (0 when it has none)."""
        return max(self.all_red_after)

    @property
    def transition_time(self) -> float:
        """The longest transition: yellow plus the longest all-red."""
        return self.yellow_time + self.all_red_time

    def transition_seconds(self, i: int) -> float:
        """Seconds from the end of green ``i`` to the next green: yellow plus ``i``'s all-red."""
        return self.yellow_time + self.all_red_after[i]

    def transition(self, i: int, j: int) -> list[tuple[float, str]]:
        """The phases from green ``i`` to green ``j`` (yellow, then ``i``'s all-red if it has one)."""
        out = [(self.yellow_time, yellow_between(self.greens[i], self.greens[j]))]
        if self.all_red_after[i] > 0:
            out.append((self.all_red_after[i], "r" * len(self.greens[i])))
        return [(d, s) for d, s in out if d > 0]


class SignalController:
    """Applies one agent's actions to one signal under :class:`SignalTiming` rules.

    The controller mirrors the program it installs in SUMO, so it knows at any time which green is
    shown and since when, without querying SUMO.
    """

    def __init__(self, phases: PhaseSet, timing: SignalTiming, n_actions: int) -> None:
        self.phases = phases
        self.timing = timing
        self.n_actions = n_actions
        self.current = 0
        self.green_start = 0.0
        self._committed: int | None = None  # duration mode: index of the running green's duration
        self._green_end = _FOREVER
        # max_red: since when each red phase has had halting vehicles (NaN: no call)
        self._call_since = np.full(phases.n_greens, np.nan)
        self._clearing = False  # max_red: the current green was due; hold it until its queue clears
        self._program, self._index = self._build_program()

    # -------------------------------------------------------------- program
    def _build_program(self) -> tuple[list[tuple[float, str]], dict]:
        ph, n = self.phases, self.phases.n_greens
        program: list[tuple[float, str]] = []
        index: dict = {}
        if self.timing.action_mode == "phase":
            for i, g in enumerate(ph.greens):  # 0..n-1: each green, held
                index[i] = len(program)
                program.append((_FOREVER, g))
            for i in range(n):  # blocks i->j: transition, then green j held
                for j in range(n):
                    if i != j:
                        index[(i, j)] = len(program)
                        program += ph.transition(i, j) + [(_FOREVER, ph.greens[j])]
        else:  # the static cycle, each green held until its duration is committed
            for i, g in enumerate(ph.greens):
                index[i] = len(program)
                program += [(_FOREVER, g)] + ph.transition(i, (i + 1) % n)
        return program, index

    @property
    def program(self) -> list[tuple[float, str]]:
        """The ``(duration, state)`` program to install in SUMO for this controller."""
        return list(self._program)

    # -------------------------------------------------------------- state
    def reset(self, now: float) -> list[Command]:
        """Start in the first green at time ``now``; returns the commands to apply."""
        self.current, self.green_start = 0, now
        self._committed, self._green_end = None, _FOREVER
        self._call_since[:] = np.nan
        self._clearing = False
        return [("set_phase", float(self._index[0]))]

    def observe_calls(self, now: float, calls: np.ndarray) -> None:
        """Record the halting vehicles at decision time ``now`` (``max_red`` guard; otherwise a no-op).

        ``calls`` has one bool per green: for a red green, whether its lanes that the current green
        does not serve hold halting vehicles; for the current green, whether its own lanes still do.
        A red green becomes due once its call has lasted ``max_red`` seconds; a green that was served
        because it was due is held (up to max-green) until its own queue has cleared, so a starved
        approach is emptied rather than given one min-green slice.
        """
        if self.timing.max_red is None or self.timing.action_mode != "phase":
            return
        waiting = np.asarray(calls, dtype=bool).copy()
        if not waiting[self.current] and now + _EPS >= self.green_start:
            self._clearing = False
        waiting[self.current] = False
        self._call_since[~waiting] = np.nan
        self._call_since[waiting & np.isnan(self._call_since)] = now

    def due(self, now: float) -> np.ndarray:
        """Boolean per green: its halting vehicles have waited at least ``max_red`` seconds."""
        if self.timing.max_red is None:
            return np.zeros(self.phases.n_greens, dtype=bool)
        with np.errstate(invalid="ignore"):
            return now - self._call_since + _EPS >= self.timing.max_red

    def _advance(self, now: float) -> None:
        """Duration mode: follow SUMO through committed greens that ended before ``now``."""
        n = self.phases.n_greens
        while self._committed is not None and now + _EPS >= self._green_end + (
            tt := self.phases.transition_seconds(self.current)
        ):
            self.current = (self.current + 1) % n
            self.green_start = self._green_end + tt
            self._committed, self._green_end = None, _FOREVER

    def time_in_green(self, now: float) -> float:
        """Seconds since the current green started (negative while its transition runs)."""
        self._advance(now)
        return now - self.green_start

    def mask(self, now: float) -> np.ndarray:
        """Boolean mask over the ``n_actions`` actions allowed at time ``now``."""
        self._advance(now)
        m = np.zeros(self.n_actions, dtype=bool)
        t, n = self.timing, self.phases.n_greens
        elapsed = now - self.green_start
        if t.action_mode == "phase":
            due = self.due(now)
            if n == 1 or elapsed + _EPS < t.min_green:
                m[self.current] = True
            elif self._clearing and elapsed + _EPS < t.max_green:  # a due green empties its queue
                m[self.current] = True
            elif due.any():  # starvation guard: serve a phase that has waited max_red
                m[:n] = due
            elif elapsed + _EPS >= t.max_green:
                m[:n] = True
                m[self.current] = False
            else:
                m[:n] = True
            return m
        if self._committed is not None:
            m[self._committed] = True
            return m
        for k, d in enumerate(t.green_durations):
            m[k] = t.min_green - _EPS <= d <= t.max_green + _EPS and d + _EPS >= elapsed
        if not m.any():  # every duration is outside [min, max]: end the green as soon as possible
            m[int(np.argmax(t.green_durations))] = True
        return m

    def apply(
        self, action: int, now: float, *, strict: bool = False, allowed: np.ndarray | None = None
    ) -> tuple[list[Command], int]:
        """Apply ``action`` at decision time ``now``; ``allowed`` is :meth:`mask` at ``now`` when
        the caller already holds it (the env's snapshot does: nothing changes in between).

        An action inside the action space but masked out now is replaced by the closest allowed one
        (phase mode: keep the green during min-green, the next green in cycle order after
        max-green; duration mode: the nearest allowed duration) and reported back, unless ``strict``.

        Returns:
            The SUMO commands to issue, and the action actually applied.

        Raises:
            InvalidActionError: the action is outside the action space, or masked out and ``strict``.
        """
        if allowed is None:
            allowed = self.mask(now)
        try:
            a = int(action)
        except (TypeError, ValueError):
            a = -1
        if not 0 <= a < self.n_actions or (strict and not allowed[a]):
            raise InvalidActionError(
                f"Intersection {self.phases.tls_id!r}: action {action!r} is not allowed at t={now:g} s "
                f"(action space: 0..{self.n_actions - 1}; allowed now: "
                f"{np.flatnonzero(allowed).tolist()}). Use the action mask in info['action_mask']."
            )
        if not allowed[a]:
            a = self._closest_allowed(a, allowed)
        if self.timing.action_mode == "phase":
            if a == self.current:
                return [], a
            block = self._index[(self.current, a)]
            self._clearing = bool(self.due(now)[a])
            self.current, self.green_start = a, now + self.phases.transition_seconds(self.current)
            self._call_since[a] = np.nan
            return [("set_phase", float(block))], a
        if self._committed is not None:
            return [], a
        d = self.timing.green_durations[a]
        self._committed, self._green_end = a, self.green_start + d
        # Select the green explicitly: at the very second its transition ends SUMO has not switched
        # yet, and setPhaseDuration alone would stretch the all-red/yellow instead.
        return [
            ("set_phase", float(self._index[self.current])),
            ("set_duration", max(self._green_end - now, 0.0)),
        ], a

    def _closest_allowed(self, a: int, allowed: np.ndarray) -> int:
        choices = np.flatnonzero(allowed)
        if self.timing.action_mode == "phase":
            if allowed[self.current]:
                return self.current
            n = self.phases.n_greens
            return next(int(k) for k in ((self.current + s) % n for s in range(1, n + 1)) if allowed[k])
        d = self.timing.green_durations
        return int(min(choices, key=lambda k: (abs(d[k] - d[a]) if a < len(d) else 0, k)))
