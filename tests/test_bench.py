"""The bench scripts import and run a tiny configuration (without sumo-rl, which CI does not install)."""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from scenarios.scenario import Scenario

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import compare_sumo_rl  # noqa: E402
import eval_throughput  # noqa: E402
import train_throughput  # noqa: E402


def test_draws_are_keyed_by_traffic_light_id() -> None:
    a = compare_sumo_rl.draws(["b", "a", "c"], 10, seed=3)
    b = compare_sumo_rl.draws(["c", "a", "b"], 10, seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in "abc")
    assert not np.array_equal(a["a"], a["b"])


def test_env_sides_run_a_tiny_episode(single_scenario: Scenario) -> None:
    timing = compare_sumo_rl.Timing()
    side = common.isolated(compare_sumo_rl.ours_single, single_scenario, timing, 1)
    assert side.steps == 60 and side.agents == 1 and side.sims == 1
    assert side.sim_step_s and 1.0 <= side.overhead < 10 and side.rss_mb[0] > 50
    workers = common.isolated(compare_sumo_rl.ours_workers, single_scenario, timing, 1)
    assert workers.sims == 2 and workers.steps == 59 and len(workers.rss_mb) == 2  # last step untimed


def test_eval_measure_tiny(tmp_cache: Path) -> None:
    wall, rss, episodes = common.isolated(eval_throughput.measure, "wuxi-single", ["fixed_time"], 1, 120.0, 1)
    assert episodes == 1 and wall > 0 and rss > 50


class _FakeSumoRL:
    """sumo-rl's multi-agent ``SumoEnvironment`` surface, as the VecEnv adapter uses it."""

    ts_ids = ["t1", "t2"]

    def __init__(self) -> None:
        self.t = 0

    def observation_spaces(self, ts: str) -> gymnasium.spaces.Box:
        return gymnasium.spaces.Box(0, 1, shape=(3 if ts == "t1" else 2,))

    def action_spaces(self, ts: str) -> gymnasium.spaces.Discrete:
        return gymnasium.spaces.Discrete(2)

    def reset(self) -> dict:
        self.t = 0
        return {"t1": np.full(3, 0.5, np.float32), "t2": np.full(2, 0.25, np.float32)}

    def step(self, actions: dict) -> tuple:
        assert set(actions) == set(self.ts_ids)
        self.t += 1
        obs = {"t1": np.full(3, self.t / 10, np.float32), "t2": np.full(2, self.t / 20, np.float32)}
        return obs, {"t1": -1.0, "t2": -2.0}, {"__all__": self.t >= 3}, {}

    def close(self) -> None:
        pass


def test_sumo_rl_vec_env_adapter_pads_and_bootstraps() -> None:
    venv = train_throughput.SumoRLVecEnv(_FakeSumoRL())
    assert venv.num_envs == 2 and venv.observation_space.shape == (3,)
    obs = venv.reset()
    assert obs.shape == (2, 3) and obs[1, 2] == 0.0  # padded
    for _ in range(2):
        obs, rew, dones, infos = venv.step(np.array([0, 1]))
        assert not dones.any() and list(rew) == [-1.0, -2.0]
    obs, rew, dones, infos = venv.step(np.array([1, 0]))
    assert dones.all() and infos[0]["TimeLimit.truncated"]
    assert infos[0]["terminal_observation"][0] == pytest.approx(0.3)
    assert obs[0, 0] == pytest.approx(0.5)  # already reset


def test_rate_and_time_split() -> None:
    assert train_throughput.rate([(0.0, 10.0), (100.0, 12.0), (300.0, 14.0)]) == 75.0
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    sum(range(1000))
    prof.disable()
    split = common.time_split(pstats.Stats(prof))
    assert split["simulationStep"] == 0.0 and split["Python"] == pytest.approx(split["total"])
