"""Gymnasium ``Env`` for one intersection: an adapter over :class:`~envs.TrafficSignalEnv`."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from core.errors import ConfigError
from envs.config import EnvConfig
from envs.parallel_env import TrafficSignalEnv
from scenarios.scenario import Scenario


class SingleIntersectionEnv(gymnasium.Env):
    """One signalised intersection as a Gymnasium environment.

    Spaces, rewards, info and episode end are those of :class:`~envs.TrafficSignalEnv` for the one
    controlled agent (other signals in the scenario keep their static programs). The action mask is
    in ``info["action_mask"]`` and from :meth:`action_masks` (the name sb3-contrib's MaskablePPO uses).

    Args:
        scenario: a Scenario, a catalogue name or a path.
        tls_id: the traffic light to control; default: the only (or first) one in the scenario.
        config: an EnvConfig or a dict of its fields.
        render_mode: ``"human"`` runs sumo-gui.
        **overrides: EnvConfig fields.
    """

    metadata = {"render_modes": ["human"]}

    def __init__(
        self,
        scenario: Scenario | str,
        tls_id: str | None = None,
        config: EnvConfig | dict[str, Any] | None = None,
        *,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        if tls_id is not None:
            overrides["agents"] = (tls_id,)
        self._env = TrafficSignalEnv(scenario, config, render_mode=render_mode, **overrides)
        if tls_id is None:
            if len(self._env.possible_agents) > 1:
                self._env.close()
                self._env = TrafficSignalEnv(
                    scenario,
                    config,
                    render_mode=render_mode,
                    **{**overrides, "agents": (self._env.possible_agents[0],)},
                )
        self.agent = self._env.possible_agents[0]
        if len(self._env.possible_agents) != 1:  # pragma: no cover - guarded above
            raise ConfigError("SingleIntersectionEnv needs exactly one controlled traffic light.")
        self.render_mode = render_mode
        self.observation_space = self._env.observation_space(self.agent)
        self.action_space = self._env.action_space(self.agent)
        self._mask = np.ones(self.action_space.n, dtype=bool)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(0, 2**31 - 1))
        obs, infos = self._env.reset(seed=seed, options=options)
        self._mask = infos[self.agent]["action_mask"]
        return obs[self.agent], infos[self.agent]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, rew, term, trunc, infos = self._env.step({self.agent: action})
        self._mask = infos[self.agent]["action_mask"]
        return obs[self.agent], rew[self.agent], term[self.agent], trunc[self.agent], infos[self.agent]

    def action_masks(self) -> np.ndarray:
        """Actions allowed at the next step."""
        return self._mask.copy()

    def close(self) -> None:
        self._env.close()
