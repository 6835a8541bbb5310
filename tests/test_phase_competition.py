"""The layout-independent policy (agents/phase_competition.py) on the ``movement`` observation:
invariant to the order of movements, equivariant in the greens, blind to padding, one policy on
nets of different shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny import train_tiny

from agents.phase_competition import MovementShape, PhaseCompetition
from core.errors import ConfigError
from envs import TrafficSignalEnv
from envs.config import make_env_config
from envs.observations import MOVEMENT_FEATURES

ROOT = Path(__file__).resolve().parent.parent
#: the tiny training's overrides for a phase-competition run (the env pads to each net itself)
PHASE_COMPETITION = (
    "env.observation=movement",
    "ppo.policy=phase_competition",
    "env.critic_obs=false",
    "env.neighbour_obs=false",
    "env.max_lanes=null",
    "env.max_phases=null",
    "warm_start.steps=60",
)


def _observations(scenario, steps: int = 15, **padding) -> tuple[TrafficSignalEnv, dict, dict]:
    env = TrafficSignalEnv(scenario, observation="movement", delta_time=2, min_green=5, **padding)
    obs, infos = env.reset(seed=4)
    for _ in range(steps):  # some traffic first
        obs, _, _, _, infos = env.step({a: 0 for a in env.agents})
    return env, obs, infos


def _shape(env: TrafficSignalEnv) -> MovementShape:
    return MovementShape(env.dims.max_movements, env.dims.max_phases)


def _split(x: np.ndarray, shape: MovementShape) -> tuple[np.ndarray, ...]:
    m, p, f = shape.movements, shape.phases, MOVEMENT_FEATURES
    feats = x[: m * f].reshape(m, f)
    member = x[m * f : m * f + p * m].reshape(p, m)
    return feats, member, x[m * f + p * m :]


def _join(feats: np.ndarray, member: np.ndarray, rest: np.ndarray) -> np.ndarray:
    return np.concatenate([feats.ravel(), member.ravel(), rest]).astype(np.float32)


def _logits(net: PhaseCompetition, x: np.ndarray, shape: MovementShape) -> np.ndarray:
    with torch.no_grad():
        return net.logits(torch.as_tensor(x[None, :]), shape)[0].numpy()


@pytest.fixture(scope="module")
def net() -> PhaseCompetition:
    torch.manual_seed(0)
    return PhaseCompetition(MovementShape(movements=8, phases=4), hidden=32)


def test_the_order_of_movements_does_not_matter_and_greens_are_scored_alike(mixed_external, net) -> None:
    env, obs, _ = _observations(mixed_external)
    with env:
        shape = _shape(env)
        for agent in env.agents:
            x = obs[agent]
            feats, member, rest = _split(x, shape)
            assert feats[:, 0].any(), "the test needs traffic on the approaches"
            ref = _logits(net, x, shape)
            perm = np.random.default_rng(1).permutation(shape.movements)
            np.testing.assert_allclose(
                _logits(net, _join(feats[perm], member[:, perm], rest), shape), ref, atol=1e-6
            )
            n_greens = env.phase_sets[agent].n_greens
            swap = np.arange(shape.phases)
            swap[:n_greens] = swap[:n_greens][::-1]  # reverse the real greens
            p = shape.phases
            rest2 = rest.copy()
            rest2[:p], rest2[p : 2 * p] = rest[:p][swap], rest[p : 2 * p][swap]
            np.testing.assert_allclose(
                _logits(net, _join(feats, member[swap], rest2), shape), ref[swap], atol=1e-6
            )


def test_padding_changes_nothing(mixed_external, net) -> None:
    env, obs, _ = _observations(mixed_external)
    wide_env, wide_obs, _ = _observations(mixed_external, max_movements=50, max_phases=7, max_lanes=20)
    with env, wide_env:
        for agent in env.agents:
            n = env.phase_sets[agent].n_greens
            small = _logits(net, obs[agent], _shape(env))[:n]
            wide = _logits(net, wide_obs[agent], _shape(wide_env))[:n]
            np.testing.assert_allclose(wide, small, atol=1e-5)


def test_the_config_says_what_a_phase_competition_policy_needs() -> None:
    from agents.config import TrainConfig
    from core.config import validate

    with pytest.raises(ConfigError, match="needs env.observation 'movement'"):
        validate(TrainConfig, {"ppo": {"policy": "phase_competition"}}, "config")


def test_one_trained_policy_runs_on_nets_of_other_shapes(
    tmp_path, tmp_cache, core_scenario, mixed_external
) -> None:
    """Train on the one-signal net, then drive the 16-signal grid and a net of 4- and 2-green
    junctions with it in one process, each with its own padding."""
    run = train_tiny(
        tmp_path,
        *PHASE_COMPETITION,
        "ppo.net_arch=[32]",
        "warm_start.epochs=2",
        "warm_start.critic_epochs=1",
        timeout=600,
    )
    from agents.controller import PolicyController

    controller = PolicyController(run)
    trained_on, sizes = controller.model.observation_space.shape[0], []
    for scenario in (core_scenario, mixed_external):
        with TrafficSignalEnv(scenario, controller.env_config) as env:
            sizes.append(env.obs_size)
            obs, infos = env.reset(seed=1)
            controller.reset(env, 1)
            chosen = set()
            for _ in range(40):
                actions = controller.act(obs, infos)
                assert all(infos[a]["action_mask"][actions[a]] for a in actions)
                chosen |= set(actions.values())
                obs, _, _, _, infos = env.step(actions)
            assert len(chosen) > 1
    assert any(size != trained_on for size in sizes)  # a layout the policy was not trained on
    # exported (no neighbour context here), the file drives the mixed net as the PyTorch policy does
    from agents.export import export
    from agents.runtime import OnnxController

    onnx_controller = OnnxController(export(run))
    assert onnx_controller.policy.context_size == 0
    with TrafficSignalEnv(mixed_external, onnx_controller.env_config) as env:
        obs, infos = env.reset(seed=2)
        controller.reset(env, 2)
        onnx_controller.reset(env, 2)
        for _ in range(30):
            actions = onnx_controller.act(obs, infos)
            assert actions == controller.act(obs, infos)
            obs, _, _, _, infos = env.step(actions)


def test_the_asymmetric_critic_reads_the_ground_truth_and_the_actor_never_does(
    tmp_path, core_scenario
) -> None:
    """``env.sensing.critic_truth`` with the phase-competition policy (issue 15, CVLight): the
    observation is the sensed vector followed by the agent's ground truth; the logits read only the
    first, the value only the second; the MLP policy without ``critic_obs`` is refused; a run trains."""
    from agents.config import TrainConfig
    from agents.networks import movement_shape
    from core.config import validate

    env_settings = {
        "observation": "movement",
        "critic_obs": False,
        "neighbour_obs": False,
        "sensing": {"model": "connected", "penetration": 0.3, "critic_truth": True},
    }
    config = validate(TrainConfig, {"ppo": {"policy": "phase_competition"}, "env": env_settings}, "config")
    with pytest.raises(
        ConfigError, match=r"env\.sensing\.critic_truth with the MLP policy needs env\.critic_obs"
    ):
        validate(TrainConfig, {"env": {**env_settings, "observation": "approach"}}, "config")
    env = TrafficSignalEnv(core_scenario, config.env, delta_time=2, min_green=5)
    with env:
        obs, infos = env.reset(seed=4)
        for _ in range(40):
            obs, _, _, _, infos = env.step({a: 0 for a in env.agents})
        assert env.obs_size == 2 * env.actor_obs_size
        x = np.stack([obs[a] for a in env.agents])
        sensed, truth = x[:, : env.actor_obs_size], x[:, env.actor_obs_size :]
        assert not np.allclose(sensed, truth), "at 30% the sensed view must differ from the truth"
        shape = movement_shape(config, env.obs_size, env.dims.n_actions)
    assert shape.truth and shape.size == env.actor_obs_size
    torch.manual_seed(0)
    net = PhaseCompetition(shape, hidden=16)
    blind = np.concatenate([sensed, np.zeros_like(truth)], axis=1)  # the truth copy blanked
    with torch.no_grad():
        logits, values = net(torch.as_tensor(x))
        logits_blind, values_blind = net(torch.as_tensor(blind))
        values_truth = net.values(torch.as_tensor(np.concatenate([truth, truth], axis=1)))
    np.testing.assert_array_equal(logits.numpy(), logits_blind.numpy())
    assert not np.allclose(values.numpy(), values_blind.numpy())
    np.testing.assert_allclose(values.numpy(), values_truth.numpy(), atol=1e-6)  # only the copy counts
    run = train_tiny(
        tmp_path,
        *PHASE_COMPETITION,
        "ppo.net_arch=[16]",
        "env.sensing.model=connected",
        "env.sensing.penetration_range=[0.1,1.0]",
        "env.sensing.critic_truth=true",
        "warm_start.epochs=1",
        "warm_start.critic_epochs=1",
        timeout=600,
    )
    # evaluated as trained (the truth copy read, the actor blind to it) and on lane sensors
    from agents.controller import PolicyController

    controller = PolicyController(run)
    detectors = controller.env_config.model_copy(update={"sensing": {"model": "detectors"}})
    for env_config in (controller.env_config, make_env_config(detectors.model_dump())):
        with TrafficSignalEnv(core_scenario, env_config) as env:
            obs, infos = env.reset(seed=3)
            controller.reset(env, 3)
            for _ in range(5):
                actions = controller.act(obs, infos)
                assert all(infos[a]["action_mask"][actions[a]] for a in actions)
                obs, _, _, _, infos = env.step(actions)
    # exported, it needs no ground truth: the manifest's env reads only the sensed data
    from agents.export import export
    from agents.runtime import OnnxController

    onnx_controller = OnnxController(export(run))
    assert onnx_controller.env_config.sensing.critic_truth is False
    with TrafficSignalEnv(core_scenario, onnx_controller.env_config) as field:
        obs, infos = field.reset(seed=2)
        onnx_controller.reset(field, 2)
        for _ in range(5):
            obs, _, _, _, infos = field.step(onnx_controller.act(obs, infos))
        assert field.obs_size == field.actor_obs_size
