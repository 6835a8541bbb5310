"""The standard API checkers, run on our environments (Gymnasium ``check_env``, PettingZoo
``parallel_api_test`` / ``parallel_seed_test``), in both action modes."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test

from envs import SingleIntersectionEnv, TrafficSignalEnv

MODES = ["phase", "duration"]
INFO_KEYS = {
    "action_mask",
    "applied_action",
    "action_overridden",
    "queue",
    "time",
    "running",
    "arrived",
    "inserted",
    "backlog",
    "teleports",
    "halting",
    "mean_speed",
    "jammed",
}


@pytest.mark.parametrize("mode", MODES)
def test_gymnasium_check_env_single_intersection(single_scenario, mode) -> None:
    with SingleIntersectionEnv(single_scenario, action_mode=mode) as env:
        check_env(env, skip_render_check=True)


def test_gymnasium_make_registered_env(single_scenario) -> None:
    assert "WuxiTSC-Single-v0" in gymnasium.registry
    with gymnasium.make("WuxiTSC-Single-v0", scenario=single_scenario) as env:
        obs, info = env.reset(seed=3)
        assert env.observation_space.contains(obs)
        assert INFO_KEYS <= set(info)
        obs, reward, terminated, truncated, info = env.step(int(np.flatnonzero(info["action_mask"])[0]))
        assert env.observation_space.contains(obs) and isinstance(reward, float)
        assert terminated is False and truncated is False
        assert env.unwrapped.action_masks().dtype == bool


@pytest.mark.parametrize("mode", MODES)
def test_pettingzoo_parallel_api_core(core_scenario, mode) -> None:
    with TrafficSignalEnv(core_scenario, action_mode=mode) as env:
        assert len(env.possible_agents) >= 4
        parallel_api_test(env, num_cycles=15)


@pytest.mark.parametrize("mode", MODES)
def test_pettingzoo_parallel_api_mixed_external(mixed_external, mode) -> None:
    with TrafficSignalEnv(mixed_external, action_mode=mode) as env:
        greens = {p.n_greens for p in env.phase_sets.values()}
        lanes = {len(s.in_lanes) for s in env.specs.values()}
        assert len(greens) > 1 and len(lanes) > 1, "fixture must mix phase and lane counts"
        parallel_api_test(env, num_cycles=15)


@pytest.mark.parametrize("fixture", ["core_scenario", "mixed_external"])
def test_pettingzoo_parallel_seed(request, fixture) -> None:
    scenario = request.getfixturevalue(fixture)
    # The two envs run side by side: the first gets libsumo, the second TraCI (backend="auto").
    parallel_seed_test(lambda: TrafficSignalEnv(scenario), num_cycles=10)


def test_spaces_are_the_same_object_and_padded_actions_are_masked(mixed_external) -> None:
    with TrafficSignalEnv(mixed_external) as env:
        for agent in env.possible_agents:
            assert env.observation_space(agent) is env.observation_space(agent)
            assert env.action_space(agent) is env.action_space(agent)
        n = env.action_space(env.possible_agents[0]).n
        assert n == max(p.n_greens for p in env.phase_sets.values())
        obs, infos = env.reset(seed=0)
        for agent in env.agents:
            mask = infos[agent]["action_mask"]
            assert mask.shape == (n,) and mask.dtype == bool
            assert not mask[env.phase_sets[agent].n_greens :].any()  # padding is never allowed
            assert INFO_KEYS <= set(infos[agent])
            assert obs[agent].shape == env.observation_space(agent).shape


def test_duration_mode_action_space_is_the_duration_choices(core_scenario) -> None:
    with TrafficSignalEnv(core_scenario, action_mode="duration", green_durations=(10, 20, 30)) as env:
        assert all(env.action_space(a).n == 3 for a in env.possible_agents)
