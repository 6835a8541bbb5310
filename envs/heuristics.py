"""Model-based phase pickers that act through :class:`envs.TrafficSignalEnv` (phase mode).

They live in ``envs`` because both the evaluation harness (as baselines) and the trainer (as a
teacher for behaviour-cloning warm starts) use them.

* ``max_pressure``: Varaiya (2013), "Max pressure control of a network of signalized
  intersections", Transportation Research Part C 36: at each decision, serve the phase whose green
  movements have the largest pressure (upstream minus downstream queue density, summed over the
  phase's movements: :meth:`envs.state.IntersectionState.phase_pressures`).
* ``greedy``: serve the phase with the most halting vehicles on its green approaches (a "longest
  queue first" baseline).

Both go through the same signal logic as the RL agents: the env inserts yellow/all-red, and its
action mask enforces min/max green; a controller only picks among allowed phases. Ties keep the
current phase (no switch without a reason).
"""

from __future__ import annotations

from typing import Any

import numpy as np

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

    def act(self, observations: dict[str, Any], infos: dict[str, dict]) -> dict[str, int]:
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


class MaxPressure(_PhasePicker):
    """Varaiya (2013) max-pressure control."""

    name = "max_pressure"

    def score(self, spec: IntersectionSpec, state: IntersectionState) -> np.ndarray:
        return state.phase_pressures(spec)


class GreedyQueue(_PhasePicker):
    """Longest-queue-first: the phase whose green approaches hold the most halting vehicles."""

    name = "greedy"

    def score(self, spec: IntersectionSpec, state: IntersectionState) -> np.ndarray:
        # A lane feeding several green links of one phase counts once per phase.
        out = np.zeros(spec.n_greens)
        for k in range(spec.n_greens):
            lanes = np.unique(spec.link_lanes[spec.green_links[k], 0])
            out[k] = state.in_halting[lanes].sum() if len(lanes) else 0.0
        return out


def max_pressure_actions(env: Any, infos: dict[str, dict]) -> dict[str, int]:
    """Max-pressure actions for every live agent of ``env`` (a convenience for teachers)."""
    picker = MaxPressure()
    picker.reset(env)
    return picker.act({a: None for a in env.agents}, infos)
