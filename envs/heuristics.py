"""Model-based phase pickers that act through :class:`envs.TrafficSignalEnv` (phase mode).

They live in ``envs`` because both the evaluation harness (as baselines) and the trainer (as a
teacher for behaviour-cloning warm starts) use them.

* ``max_pressure``: Varaiya (2013), "Max pressure control of a network of signalized
  intersections", Transportation Research Part C 36: at each decision, serve the phase whose green
  movements have the largest pressure (upstream minus downstream queue density, summed over the
  phase's movements: :meth:`envs.state.IntersectionState.phase_pressures`).
* ``greedy``: serve the phase with the most halting vehicles on its green approaches (a "longest
  queue first" baseline).
* ``gap_out``: vehicle-actuated control in the style of SUMO's ``actuated`` programs, on the
  environment's approach zones (the ``approach`` observation) as stop-line detectors: hold the green
  while vehicles are still moving towards the stop line on the lanes it serves (no gap yet), then
  give way to the next green in cycle order that has a call (vehicles waiting or approaching).
* ``time_loss``: delay-based actuated control, SUMO's ``delay_based`` programs (Oertel & Wagner
  2011, "Delay-time actuated traffic signal control for an isolated intersection", TRB 90th Annual
  Meeting; SUMO's ``MSDelayBasedTrafficLightLogic``), on the environment's time-loss detectors
  (``detector_range``): hold the green while a vehicle on one of its lanes that has lost time since
  it entered the detector still has to reach the stop line, or while no vehicle waits on any red
  lane; then move to the next green in cycle order that has a call.

All go through the same signal logic as the RL agents: the env inserts yellow/all-red, and its
action mask enforces min/max green; a controller only picks among allowed phases. Ties keep the
current phase (no switch without a reason).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import ConfigError
from envs.batch import BatchLayout, BatchState, phase_pressures
from envs.state import IntersectionSpec, IntersectionState


class _PhasePicker:
    """Pick, per agent, the allowed phase with the highest score."""

    native = False
    name = "phase_picker"

    def __init__(self) -> None:
        self._env: Any = None

    def reset(self, env: Any, seed: int | None = None) -> None:
        self._env = env

    def score(self, spec: IntersectionSpec, state: IntersectionState) -> np.ndarray:
        raise NotImplementedError

    #: ``score_batch(layout, state) -> (A, max_phases)``: every agent's scores at once (optional;
    #: must equal :meth:`score` agent by agent). Pickers that have it decide for all agents with
    #: array operations, the way a city-sized network needs.
    score_batch: Any = None

    def act(self, observations: dict[str, Any], infos: dict[str, dict]) -> dict[str, int]:
        if self.score_batch is not None and hasattr(self._env, "batch_state"):
            return self._act_batch(observations)
        actions = {}
        for agent in observations:
            spec, state = self._env.specs[agent], self._env.intersection_state(agent)
            mask = np.asarray(infos[agent]["action_mask"], dtype=bool)
            scores = np.full(mask.shape, -np.inf)
            raw = self.score(spec, state)
            scores[: len(raw)] = raw
            scores[~mask] = -np.inf
            best = int(np.argmax(scores))
            current = int(state.phase)
            if mask[current] and scores[current] >= scores[best]:
                best = current
            actions[agent] = best
        return actions

    def _act_batch(self, observations: dict[str, Any]) -> dict[str, int]:
        """:meth:`act` for every agent at once: the same choice, tie rule included."""
        env = self._env
        layout, state = env.batch_layout, env.batch_state
        mask = state.action_mask
        scores = np.full(mask.shape, -np.inf)
        raw = self.score_batch(layout, state)
        real = np.arange(raw.shape[1])[None, :] < layout.n_greens[:, None]
        scores[:, : raw.shape[1]] = np.where(real, raw, -np.inf)
        scores[~mask] = -np.inf
        best = np.argmax(scores, axis=1)
        rows = np.arange(len(best))
        current = state.phase
        keep = mask[rows, current] & (scores[rows, current] >= scores[rows, best])
        chosen = np.where(keep, current, best).tolist()
        index = env._agent_index
        return {agent: chosen[index[agent]] for agent in observations}


class MaxPressure(_PhasePicker):
    """Varaiya (2013) max-pressure control."""

    name = "max_pressure"

    def score(self, spec: IntersectionSpec, state: IntersectionState) -> np.ndarray:
        return state.phase_pressures(spec)

    @staticmethod
    def score_batch(layout: BatchLayout, state: BatchState) -> np.ndarray:
        return phase_pressures(layout, state)


class GreedyQueue(_PhasePicker):
    """Longest-queue-first: the phase whose green approaches hold the most halting vehicles."""

    name = "greedy"

    def score(self, spec: IntersectionSpec, state: IntersectionState) -> np.ndarray:
        # A lane feeding several green links of one phase counts once per phase.
        return np.array([state.in_halting[lanes].sum() for lanes in green_lanes(spec)])

    @staticmethod
    def score_batch(layout: BatchLayout, state: BatchState) -> np.ndarray:
        return (layout.green_lanes * state.in_halting[:, None, :]).sum(axis=2)


class GapOut(_PhasePicker):
    """Gap-out actuated control on the approach zones (needs an env measuring them:
    ``observation="approach"``)."""

    name = "gap_out"

    def __init__(self, env_updates: dict[str, Any] | None = None) -> None:
        super().__init__()
        #: environment fields the evaluation harness sets for this controller (approach zones on)
        self.env_updates = {"observation": "approach", **(env_updates or {})}

    def reset(self, env: Any, seed: int | None = None) -> None:
        super().reset(env, seed)
        self._lanes: dict[str, list[np.ndarray]] = {}  # per agent: the lanes each green serves

    def act(self, observations: dict[str, Any], infos: dict[str, dict]) -> dict[str, int]:
        actions = {}
        for agent in observations:
            spec, state = self._env.specs[agent], self._env.intersection_state(agent)
            if state.in_near.size == 0:
                raise ConfigError("gap_out needs the approach zones: use env observation 'approach'.")
            if agent not in self._lanes:
                self._lanes[agent] = _phase_lanes(spec)
            mask = np.asarray(infos[agent]["action_mask"], dtype=bool)
            actions[agent] = self._pick(self._lanes[agent], state, mask)
        return actions

    @staticmethod
    def _pick(lanes: list[np.ndarray], state: IntersectionState, mask: np.ndarray) -> int:
        current, n = int(state.phase), len(lanes)
        if mask[current] and state.in_near_moving[lanes[current]].sum() > 0:
            return current  # no gap yet: extend
        others = [k for k in ((current + s) % n for s in range(1, n)) if mask[k]]  # in cycle order
        calling = [k for k in others if state.in_near[lanes[k]].sum() + state.in_halting[lanes[k]].sum() > 0]
        if calling:
            return calling[0]
        return current if mask[current] or not others else others[0]  # nobody else calls: keep


def green_lanes(spec: IntersectionSpec) -> list[np.ndarray]:
    """Per green, the incoming lanes (indices, sorted, each once) that have right of way in it."""
    return [np.unique(spec.link_lanes[spec.green_links[k], 0]) for k in range(spec.n_greens)]


def red_lanes(spec: IntersectionSpec) -> list[np.ndarray]:
    """Per green, the incoming lanes (indices, sorted, each once) with a link that is red in it
    (a lane shared by a green and a red link is in both :func:`green_lanes` and here)."""
    return [np.unique(spec.link_lanes[~spec.green_links[k], 0]) for k in range(spec.n_greens)]


def _phase_lanes(spec: IntersectionSpec) -> list[np.ndarray]:
    """Per green, the incoming lanes it serves that some other green does not (lanes green in every
    phase, such as free right turns, call for no phase)."""
    lanes = green_lanes(spec)
    always = set.intersection(*(set(g.tolist()) for g in lanes)) if lanes else set()
    return [np.array([i for i in g.tolist() if i not in always], dtype=int) for g in lanes]


class TimeLoss(_PhasePicker):
    """Delay-based actuated control in the style of SUMO's ``delay_based`` programs (needs an env
    measuring the time-loss detectors: ``detector_range`` set).

    SUMO's rule (``MSDelayBasedTrafficLightLogic::proposeProlongation`` and ``trySwitch``), after
    the min green: prolong the green while a *delayed* vehicle (more than the env's
    ``min_time_loss`` seconds lost since it entered the detector: a queue discharging, a platoon
    braking) on a lane with a green link has still to reach the stop line, or while the detectors of
    all lanes with a red link are empty (nobody to give way to); otherwise switch to the next green
    in cycle order that has a vehicle on its detectors (SUMO does not skip phases: ``skip=False``;
    skipping measured better through this env, whose transitions cost more than the net's own:
    wuxi-corridor 37.1 vs 38.4 s/veh, wuxi-core 93.2 vs 95.3, lower on every seed).

    SUMO prolongs by the delayed vehicle's travel time to the stop line and checks again then; here
    the check comes every ``delta_time`` (measured: the same delay on wuxi-corridor). Unlike SUMO
    it does not drop a vehicle that cannot reach the stop line before max green; the env ends the
    green at max green instead.

    Args:
        skip: switch to the next green in cycle order with a vehicle on its detectors (a call)
            instead of simply the next green (SUMO's rule); a green nobody waits for costs a
            transition and a min green.
        env_updates: environment fields the evaluation harness sets for this controller.
    """

    name = "time_loss"

    def __init__(self, skip: bool = True, env_updates: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.skip = bool(skip)
        #: environment fields the evaluation harness sets for this controller (detectors on)
        self.env_updates = {"detector_range": 100.0, **(env_updates or {})}

    def reset(self, env: Any, seed: int | None = None) -> None:
        super().reset(env, seed)
        # per agent: per green, the lanes with a green link, the lanes with a red link, the calling lanes
        self._lanes: dict[str, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = {}

    def act(self, observations: dict[str, Any], infos: dict[str, dict]) -> dict[str, int]:
        actions = {}
        for agent in observations:
            spec, state = self._env.specs[agent], self._env.intersection_state(agent)
            if state.in_detected.size == 0:
                raise ConfigError(
                    "time_loss needs the time-loss detectors: set env detector_range (e.g. 100)."
                )
            if agent not in self._lanes:
                self._lanes[agent] = (green_lanes(spec), red_lanes(spec), _phase_lanes(spec))
            mask = np.asarray(infos[agent]["action_mask"], dtype=bool)
            actions[agent] = self._pick(*self._lanes[agent], state, mask)
        return actions

    def _pick(
        self,
        green: list[np.ndarray],
        red: list[np.ndarray],
        calls: list[np.ndarray],
        state: IntersectionState,
        mask: np.ndarray,
    ) -> int:
        current, n = int(state.phase), len(green)
        if mask[current] and (
            state.in_delayed_eta[green[current]].max(initial=0.0) > 0
            or state.in_detected[red[current]].sum() == 0
        ):
            return current  # prolong (also: min green, when only the current green is allowed)
        others = [k for k in ((current + s) % n for s in range(1, n)) if mask[k]]  # in cycle order
        if self.skip:
            calling = [k for k in others if state.in_detected[calls[k]].sum() > 0]
            if calling:
                return calling[0]
        return others[0] if others else current


TEACHERS = {"max_pressure": MaxPressure, "gap_out": GapOut, "time_loss": TimeLoss}


def heuristic_actions(env: Any, infos: dict[str, dict], name: str = "max_pressure") -> dict[str, int]:
    """The actions of heuristic ``name`` (:data:`TEACHERS`) for every live agent of ``env``."""
    picker = TEACHERS[name]()
    picker.reset(env)
    return picker.act({a: None for a in env.agents}, infos)
