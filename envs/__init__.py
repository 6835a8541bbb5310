"""Gymnasium and PettingZoo environments for traffic-signal control on SUMO.

* :class:`TrafficSignalEnv`: PettingZoo ``ParallelEnv``, one agent per signalised intersection.
* :class:`SingleIntersectionEnv`: Gymnasium ``Env`` for one intersection (an adapter over the
  former), registered as ``"WuxiTSC-Single-v0"``.
"""

from __future__ import annotations

import gymnasium

from envs.config import EnvConfig, make_env_config
from envs.observations import observation_names, register_observation
from envs.parallel_env import TrafficSignalEnv
from envs.rewards import register_reward, reward_names
from envs.single import SingleIntersectionEnv

__all__ = [
    "EnvConfig",
    "SingleIntersectionEnv",
    "TrafficSignalEnv",
    "make_env_config",
    "observation_names",
    "register_observation",
    "register_reward",
    "reward_names",
]

if "WuxiTSC-Single-v0" not in gymnasium.registry:
    gymnasium.register(
        id="WuxiTSC-Single-v0",
        entry_point="envs.single:SingleIntersectionEnv",
        kwargs={"scenario": "wuxi-single"},
        disable_env_checker=False,
    )
