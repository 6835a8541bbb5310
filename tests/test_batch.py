"""The env's all-agents path (:mod:`envs.batch`) against the per-agent functions it replaced.

On every step of real SUMO episodes, each agent's observation, reward and guard input computed by
the batched path must equal what the per-agent functions (the observation's ``__call__``, the
reward function, the guard formula) give on an :class:`IntersectionState` built directly from the
lane matrix, as the env did before the batch existed.
"""

from __future__ import annotations

import numpy as np
import pytest

from envs import TrafficSignalEnv
from envs.heuristics import GreedyQueue, MaxPressure
from envs.observations import make_observation, neighbour_summary
from envs.rewards import make_reward
from envs.state import IntersectionState


def _reference_states(env: TrafficSignalEnv) -> dict[str, IntersectionState]:
    """Per-agent snapshots the way the env built them before the batch: slices of the lane matrix."""
    v, rows = env._lane_matrix, {lane: i for i, lane in enumerate(env._lane_ids)}
    batch = env.batch_state
    states = {}
    for k, agent in enumerate(env.possible_agents):
        spec = env.specs[agent]
        i = np.array([rows[x] for x in spec.in_lanes])
        o = np.array([rows[x] for x in spec.out_lanes])
        near = batch.in_near[k, : len(i)] if batch.in_near.shape[1] else np.zeros(len(i))
        states[agent] = IntersectionState(
            time=env._now,
            in_count=v[i, 0],
            in_halting=v[i, 1],
            in_occupancy=v[i, 2] / 100.0,
            in_mean_speed=v[i, 3],
            in_waiting=v[i, 4],
            out_count=v[o, 0],
            phase=int(batch.phase[k]),
            time_in_green=float(batch.time_in_green[k]),
            action_mask=batch.action_mask[k],
            in_near=near,
            in_near_moving=batch.in_near_moving[k, : len(i)] if batch.in_near_moving.shape[1] else near,
        )
    return states


def _reference_obs(env: TrafficSignalEnv, states: dict[str, IntersectionState]) -> dict[str, np.ndarray]:
    fn, dims = make_observation(env.config.observation), env.dims
    own = {}
    for agent in env.possible_agents:
        spec = env.specs[agent]
        vec = fn(spec, states[agent], dims)
        if env.config.neighbour_obs:
            block = np.zeros((dims.max_neighbours, 2), dtype=np.float32)
            for k, n in enumerate(spec.neighbours[: dims.max_neighbours]):
                block[k] = neighbour_summary(env.specs[n], states[n])
            vec = np.concatenate([vec, block.ravel()])
        own[agent] = vec.astype(np.float32)
    if not env.config.critic_obs:
        return own
    zeros = np.zeros(env.actor_obs_size, dtype=np.float32)
    out = {}
    for agent in env.possible_agents:
        nbrs = list(env.specs[agent].neighbours[: env.dims.max_neighbours])
        parts = [own[agent]] + [own[n] for n in nbrs] + [zeros] * (env.dims.max_neighbours - len(nbrs))
        out[agent] = np.concatenate(parts)
    return out


def _reference_calls(env: TrafficSignalEnv, states: dict[str, IntersectionState]) -> dict[str, np.ndarray]:
    """The guard's input, per agent, with the formula the env used before the batch."""
    out = {}
    for agent, state in states.items():
        lanes = env.specs[agent].green_lane_matrix
        own = lanes[state.phase]
        calls = (lanes & ~own & (state.in_halting > 0)).any(axis=1)
        calls[state.phase] = bool((own & (state.in_halting > 0)).any())
        out[agent] = calls
    return out


CASES = [
    ("core_scenario", "default", "delay"),
    ("core_scenario", "approach", "queue"),
    ("core_scenario", "pressure", "pressure"),
    ("mixed_external", "queue", "wait_change"),
    ("mixed_external", "approach", "delay"),
    ("mixed_external", "default", "pressure"),
    ("core_scenario", "movement", "queue"),
    ("mixed_external", "movement", "delay"),
]


@pytest.mark.parametrize(("fixture", "observation", "reward"), CASES)
def test_the_batched_step_equals_the_per_agent_functions(request, fixture, observation, reward) -> None:
    scenario = request.getfixturevalue(fixture)
    options = dict(
        observation=observation,
        reward=reward,
        neighbour_obs=True,
        critic_obs=True,
        max_red=20.0,
        neighbour_reward_weight=0.3,
        delta_time=2,
        min_green=5,
        max_lanes=16,
        max_phases=6,
    )
    rng = np.random.default_rng(7)
    reward_fn = make_reward(reward)
    with TrafficSignalEnv(scenario, **options) as env:
        obs, infos = env.reset(seed=3)
        prev = _reference_states(env)
        agents = list(env.possible_agents)
        assert len({len(env.specs[a].in_lanes) for a in agents}) > 1 or fixture == "core_scenario"
        checked, rewards = 0, {}
        for step in range(60):
            states = _reference_states(env)
            for agent in agents:  # the lazy per-agent view equals the direct slices
                got, ref = env.intersection_state(agent), states[agent]
                for field in (
                    "in_count",
                    "in_halting",
                    "in_occupancy",
                    "in_mean_speed",
                    "in_waiting",
                    "out_count",
                ):
                    np.testing.assert_array_equal(getattr(got, field), getattr(ref, field), err_msg=field)
                np.testing.assert_array_equal(got.in_near, ref.in_near)
            expected = _reference_obs(env, states)
            for agent in agents:
                np.testing.assert_array_equal(obs[agent], expected[agent], err_msg=f"{agent} step {step}")
            calls = env.batch_layout.guard_calls(env._lane_matrix[:, 1], env.batch_state.phase)
            for k, ref in enumerate(_reference_calls(env, states).values()):
                np.testing.assert_array_equal(calls[k, : len(ref)], ref)
                assert not calls[k, len(ref) :].any()
            if step:
                own = {a: reward_fn(env.specs[a], states[a], prev[a]) for a in agents}
                for agent in agents:
                    want = own[agent] + 0.3 * sum(own[n] for n in env.specs[agent].neighbours)
                    assert rewards[agent] == pytest.approx(want, rel=1e-12, abs=1e-12), (agent, step)
                checked += 1
            prev = states
            actions = {a: int(rng.choice(np.flatnonzero(infos[a]["action_mask"]))) for a in env.agents}
            obs, rewards, _, truncations, infos = env.step(actions)
            if not env.agents:
                break
        assert checked >= 50


@pytest.mark.parametrize("picker_cls", [MaxPressure, GreedyQueue])
@pytest.mark.parametrize("fixture", ["core_scenario", "mixed_external"])
def test_batched_phase_pickers_choose_what_the_per_agent_ones_choose(request, fixture, picker_cls) -> None:
    scenario = request.getfixturevalue(fixture)
    batched, per_agent = picker_cls(), picker_cls()
    per_agent.score_batch = None  # the per-agent path: score() on each IntersectionState
    with TrafficSignalEnv(scenario, delta_time=5, min_green=10, max_phases=6) as env:
        obs, infos = env.reset(seed=2)
        batched.reset(env), per_agent.reset(env)
        switches = 0
        for _ in range(50):
            actions = batched.act(obs, infos)
            assert actions == per_agent.act(obs, infos)
            switches += sum(actions[a] != env.batch_state.phase[env._agent_index[a]] for a in actions)
            obs, _, _, _, infos = env.step(actions)
        assert switches > 0  # the pickers did choose, not only keep


def test_only_the_lane_variables_asked_for_are_read(core_scenario) -> None:
    """Occupancy is read by nothing built in; the live view asks for it (``env.lane_vars``)."""
    for extra, expect in (((), False), (("occupancy",), True)):
        with TrafficSignalEnv(core_scenario, lane_vars=extra) as env:
            env.reset(seed=1)
            for _ in range(30):
                env.step({a: 0 for a in env.agents})
            occupancy = np.concatenate([env.intersection_state(a).in_occupancy for a in env.agents])
            counts = np.concatenate([env.intersection_state(a).in_count for a in env.agents])
            assert counts.sum() > 0
            assert bool(occupancy.any()) is expect
