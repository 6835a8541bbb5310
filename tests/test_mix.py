"""Training across a mix of networks (agents/mix.py): one vectorised env over nets of other shapes,
deterministic draws, errors naming the entry, and fine-tuning from another run (init_from)."""

from __future__ import annotations

import numpy as np
import pytest

from agents.config import TrainConfig
from agents.mix import build_mix
from agents.vec_env import MultiAgentVecEnv
from core.config import validate
from core.errors import ConfigError
from tests.tiny import train_tiny

MOVEMENT = {
    "observation": "movement",
    "critic_obs": False,
    "neighbour_obs": False,
    "delta_time": 5,
    "min_green": 5,
}


def _config(tmp_cache, entries: list[dict], **extra) -> TrainConfig:
    return validate(
        TrainConfig,
        {
            "scenario": "wuxi-single",
            "scenarios": entries,
            "env": MOVEMENT,
            "ppo": {"policy": "phase_competition"},
        }
        | extra,
        "config",
    )


def _sumocfg(scenario, folder) -> str:
    """A ``.sumocfg`` for a scenario made of files (a mix entry names a file or a catalogue name)."""
    path = folder / f"{scenario.name}.sumocfg"
    path.write_text(
        f'<configuration><input><net-file value="{scenario.net_file}"/>'
        f'<route-files value="{",".join(map(str, scenario.route_files))}"/></input>'
        f'<time><begin value="0"/><end value="{scenario.end}"/></time></configuration>\n'
    )
    return str(path)


def test_one_vectorised_env_runs_nets_of_other_shapes(tmp_cache, mixed_external, tmp_path) -> None:
    """Episodes switch nets; the inert entries of the smaller net are zero, masked to action 0 and
    rewarded 0; the padding fits both nets."""
    config = _config(
        tmp_cache,
        [
            {"scenario": "wuxi-single", "horizon": 30},
            {"scenario": _sumocfg(mixed_external, tmp_path), "horizon": 30, "weight": 2},
        ],
    )
    mix = build_mix(config)
    sizes = sorted(m.n_agents for m in mix.members)
    assert mix.slots == sizes[-1] > sizes[0] == 1
    venv = MultiAgentVecEnv(mix, config.env, n_envs=1, in_process=True, seed_base=7)
    try:
        obs = venv.reset()
        seen: set[str] = set()
        for _ in range(60):  # 6 decisions an episode: about 10 episodes
            masks = venv.action_masks()
            actions = np.array([np.flatnonzero(m)[0] for m in masks])
            obs, rewards, dones, _ = venv.step(actions)
            if dones[0]:
                seen.add(venv.episode_stats[-1]["scenario"])
            n_real = len(venv._local.agents)
            inert = slice(n_real, venv.num_envs)
            assert not obs[inert].any() and not rewards[inert].any()
            assert venv.action_masks()[inert, 0].all() and not venv.action_masks()[inert, 1:].any()
        assert len(seen) == 2  # both nets were drawn
    finally:
        venv.close()


def test_draws_are_deterministic_and_follow_the_weights(tmp_cache) -> None:
    config = _config(
        tmp_cache,
        [
            {"scenario": "wuxi-single", "horizon": 30},
            {"scenario": "wuxi-corridor", "horizon": 30, "weight": 3},
        ],
    )
    mix = build_mix(config)
    draws = [mix.pick(100, worker, episode) for worker in range(2) for episode in range(200)]
    assert draws == [mix.pick(100, worker, episode) for worker in range(2) for episode in range(200)]
    assert draws != [mix.pick(101, worker, episode) for worker in range(2) for episode in range(200)]
    share = np.mean(draws)  # member 1 (the corridor) has 3/4 of the weight
    assert 0.65 < share < 0.85


def test_a_bad_entry_is_named(tmp_cache, tmp_path) -> None:
    config = _config(tmp_cache, [{"scenario": "wuxi-single"}, {"scenario": "wuxi-nowhere"}])
    with pytest.raises(ConfigError, match=r"scenarios\[1\] \('wuxi-nowhere'\).*Catalogue scenarios"):
        build_mix(config)
    with pytest.raises(ConfigError, match=r"scenarios\.0\.weight"):
        _config(tmp_cache, [{"scenario": "wuxi-single", "weight": 0}])
    with pytest.raises(ConfigError, match=r"scenarios\.0\.scenrio"):
        _config(tmp_cache, [{"scenrio": "wuxi-single"}])


def test_init_from_starts_from_the_other_runs_weights(tmp_path, tmp_cache) -> None:
    """Fine-tuning: the new run's policy starts as the source's (then trains); a source whose
    policy does not fit is refused with a message naming init_from."""
    import torch as th

    from agents.networks import load_model
    from agents.warm_start import _CRITIC_PREFIXES

    movement = [f"env.{k}={v}".lower() for k, v in MOVEMENT.items()] + [
        "ppo.policy=phase_competition",
        "ppo.net_arch=[16]",
        "env.max_lanes=null",
        "env.max_phases=null",
        "warm_start.steps=0",
    ]
    for name in "abc":
        (tmp_path / name).mkdir()
    source = train_tiny(tmp_path / "a", *movement)
    tuned = train_tiny(
        tmp_path / "b", *movement, f"init_from={source}", "total_timesteps=60", "warm_start.steps=30"
    )
    config = validate(
        TrainConfig, __import__("yaml").safe_load((tuned / "config.yaml").read_text()), "config"
    )
    before = load_model(source / "final_model.zip", config).policy.state_dict()
    after = load_model(tuned / "final_model.zip", config).policy.state_dict()
    actor = [k for k in before if not k.startswith(_CRITIC_PREFIXES)]
    assert any(not th.equal(before[k], after[k]) for k in actor)  # it trained from there ...
    assert max(float((before[k] - after[k]).abs().max()) for k in actor) < 0.05  # ... by small steps
    with pytest.raises(AssertionError, match="init_from"):
        train_tiny(tmp_path / "c", f"init_from={source}")  # an mlp run cannot take its weights


def test_several_validation_scenarios_score_relative_to_the_reference() -> None:
    """One congested net must not decide the model: each scenario counts by its delay ratio."""
    from evaluation.training import combined_scores

    one = {"a": {"gap_out": 40.0, "policy": 30.0}}
    assert combined_scores(one, "gap_out") == {"gap_out": 40.0, "policy": 30.0}
    two = {"a": {"gap_out": 40.0, "policy": 30.0}, "b": {"gap_out": 400.0, "policy": 600.0}}
    assert combined_scores(two, "gap_out") == {"gap_out": 1.0, "policy": (0.75 + 1.5) / 2}
