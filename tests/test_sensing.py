"""Sensing models (envs/sensing.py): connected vehicles at a penetration rate, on real SUMO."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import ConfigError
from envs import TrafficSignalEnv
from envs.config import SensingConfig, make_env_config
from envs.sensing import Readings, Sensing
from evaluation.config import make_eval_config

APPROACH = dict(observation="approach", approach_zone=25.0, delta_time=2.0, min_green=5.0)


def _first_allowed(env: TrafficSignalEnv) -> dict[str, int]:
    return {a: int(np.flatnonzero(env.action_mask(a))[-1]) for a in env.agents}


def test_zero_penetration_senses_nothing_and_runs(single_scenario) -> None:
    env = TrafficSignalEnv(single_scenario, APPROACH, sensing={"model": "connected", "penetration": 0.0})
    dims = env.dims
    traffic = dims.max_phases + dims.n_actions + 1  # the phase block comes first, then the lane features
    try:
        obs, _ = env.reset(seed=5)
        seen = 0.0
        for _ in range(60):
            obs, rewards, *_ = env.step(_first_allowed(env))
            b = env.batch_state
            for x in (b.in_count, b.in_halting, b.in_waiting, b.out_count, b.in_near, b.in_near_moving):
                assert not x.any()
            assert not obs[env.agents[0]][traffic:].any()
            seen += env.truth_state.in_count.sum()
        assert seen > 0  # there was traffic: the rewards' ground truth saw it
        assert np.isfinite(list(rewards.values())).all()
    finally:
        env.close()


def test_full_penetration_matches_the_detectors_on_the_same_step(core_scenario) -> None:
    sensing = {"model": "connected", "penetration": 1.0, "critic_truth": True}  # truth zones read too
    env = TrafficSignalEnv(
        core_scenario, APPROACH, neighbour_obs=True, critic_obs=True, lane_vars=("waiting",), sensing=sensing
    )
    try:
        env.reset(seed=2)
        checked = 0
        for _ in range(80):
            obs, *_ = env.step(_first_allowed(env))
            s, t = env.batch_state, env.truth_state
            assert s is not t
            np.testing.assert_array_equal(s.in_count, t.in_count)
            np.testing.assert_array_equal(s.in_halting, t.in_halting)
            np.testing.assert_array_equal(s.out_count, t.out_count)
            np.testing.assert_array_equal(s.in_near, t.in_near)
            np.testing.assert_array_equal(s.in_near_moving, t.in_near_moving)
            np.testing.assert_allclose(s.in_waiting, t.in_waiting, atol=1e-6)
            np.testing.assert_allclose(s.in_mean_speed, t.in_mean_speed, atol=1e-6)
            # the asymmetric critic's part: own sensed | own truth | neighbours' truth; equal at p=1
            a = env.agents[0]
            n = env.actor_obs_size
            np.testing.assert_array_equal(obs[a][:n], obs[a][n : 2 * n])
            checked += int(t.in_count.sum() > 0)
        assert checked > 40
    finally:
        env.close()


def test_low_penetration_sees_a_share_and_the_critic_keeps_the_truth(core_scenario) -> None:
    sensing = {"model": "connected", "penetration": 0.3, "estimator": "none", "critic_truth": True}
    env = TrafficSignalEnv(core_scenario, APPROACH, neighbour_obs=True, critic_obs=True, sensing=sensing)
    try:
        env.reset(seed=2)
        sensed = truth = 0.0
        for _ in range(100):
            env.step(_first_allowed(env))
            sensed += env.batch_state.in_count.sum()
            truth += env.truth_state.in_count.sum()
            assert (env.batch_state.in_count <= env.truth_state.in_count).all()
        assert 0.15 < sensed / truth < 0.45
    finally:
        env.close()


def _sensing(**kw: object) -> Sensing:
    return Sensing(
        SensingConfig(model="connected", **kw), [], {"a": 0, "b": 1}, {"a": 100.0, "b": 60.0}, 0.0, 2.0
    )


def test_equipped_sets_follow_the_seed_and_nest_across_penetrations() -> None:
    ids = [f"flow_{i}.{j}" for i in range(8) for j in range(250)]

    def equipped(seed: int, p: float = 0.3, salt: int = 0) -> set[str]:
        s = _sensing(penetration=p, seed=salt)
        s.reset(seed)
        return {v for v in ids if s.is_equipped(v)}

    a = equipped(7)
    assert a == equipped(7)  # same seeds, same vehicles (a hash, not a global RNG)
    assert a != equipped(8) and a != equipped(7, salt=1)
    assert 0.25 < len(a) / len(ids) < 0.35
    assert equipped(7, 0.1) <= a <= equipped(7, 0.6)  # nested: more penetration adds vehicles
    assert not equipped(7, 0.0) and equipped(7, 1.0) == set(ids)


def test_vehicle_types_can_be_equipped_first() -> None:
    s = _sensing(penetration=0.0, type_penetration={"bus": 1.0, "taxi": 0.5})
    s.reset(3)
    assert all(s.is_equipped(f"b{i}", "bus") for i in range(50))
    assert not any(s.is_equipped(f"c{i}", "car") for i in range(50))
    assert 10 < sum(s.is_equipped(f"t{i}", "taxi") for i in range(100)) < 90


def test_penetration_range_is_drawn_per_episode_from_its_seed() -> None:
    s = _sensing(penetration_range=(0.1, 1.0))
    draws = []
    for seed in (1, 2, 1):
        s.reset(seed)
        draws.append(s.penetration)
    assert draws[0] == draws[2] != draws[1]
    assert all(0.1 <= p <= 1.0 for p in draws)


def test_estimators_scale_and_queue_tail() -> None:
    # lane a (100 m): two equipped vehicles halted, the farther at 55 m; lane b: one moving
    r = Readings(
        np.array([0, 0, 1]),
        np.array([95.0, 55.0, 30.0]),
        np.array([0.0, 0.0, 8.0]),
        np.array([4.0, 2.0, 0.0]),
    )
    truth = np.zeros((2, 5))
    for est, halting_a in (("none", 2.0), ("scale", 4.0), ("queue_tail", 6.0)):  # ceil(45 m / 7.5 m) = 6
        s = _sensing(penetration=0.5, estimator=est)
        s.reset(1)
        lanes = s.estimate(r, truth).lanes
        assert lanes[0, 1] == pytest.approx(halting_a)
        assert lanes[1, 3] == pytest.approx(8.0) and lanes[1, 1] == 0.0
    s = _sensing(penetration=0.5, latency=4.0)  # two decisions old
    s.reset(1)
    assert s._lag == 2


@pytest.mark.parametrize(
    ("sensing", "field"),
    [
        ({"penetration": 1.5}, "env.sensing.penetration"),
        ({"penetration": -0.1}, "env.sensing.penetration"),
        ({"model": "v2x"}, "env.sensing.model"),
        ({"penetration_range": [0.5, 0.2]}, "env.sensing"),
        ({"drop_rate": 1.0}, "env.sensing.drop_rate"),
    ],
)
def test_bad_sensing_settings_are_refused_naming_the_field(sensing: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        make_env_config({"sensing": sensing})


def test_eval_penetrations_expand_into_one_entry_each() -> None:
    c = make_eval_config(
        controllers=["actuated", {"spec": "max_pressure", "label": "mp", "penetrations": [0.1, 0.5]}]
    )
    assert [e.label for e in c.controllers] == ["actuated", "mp_p10", "mp_p50"]
    assert [e.sensing.penetration for e in c.controllers[1:]] == [0.1, 0.5]
    assert {e.sweep for e in c.controllers[1:]} == {"mp"} and c.controllers[1].sensing.model == "connected"
    with pytest.raises(ConfigError, match="penetration"):
        make_eval_config(controllers=[{"spec": "max_pressure", "penetrations": [2.0]}])


def test_a_sensing_sweep_evaluates_and_reports(tmp_path, tmp_cache) -> None:
    from evaluation import run

    config = make_eval_config(
        scenarios=[{"name": "wuxi-single", "horizon": 240}],
        controllers=["max_pressure", {"spec": "max_pressure", "label": "mp", "penetrations": [0.0, 1.0]}],
        seeds=[1],
        workers=0,
        reference="max_pressure",
        out=str(tmp_path / "res"),
        cache_dir=str(tmp_cache),
    )
    out = run(config, progress=False, plots=True)
    delay = {}
    for label in ("max_pressure", "mp_p0", "mp_p100"):
        (record,) = (out / "episodes").glob(f"*/{label}/seed_1.json")
        delay[label] = json.loads(record.read_text())["metrics"]["delay"]
    assert delay["mp_p100"] == pytest.approx(delay["max_pressure"])  # 100% connected = the detectors
    assert delay["mp_p0"] != pytest.approx(delay["max_pressure"])  # blind: another trajectory
    table = (out / "sensing.md").read_text()
    assert "| `mp` |" in table and "p=100%" in table
    (ref_row,) = [line for line in table.splitlines() if "`max_pressure` (reference)" in line]
    cells = [c.strip() for c in ref_row.strip("|").split("|")]
    assert cells[1:3] == ["", ""]  # no value under a penetration: it has its own column
    assert float(cells[3].split(" ")[0]) == pytest.approx(delay["max_pressure"], abs=0.06)
    (plot,) = (out / "plots").glob("*_sensing.png")
    assert plot.stat().st_size > 1000
    with pytest.raises(ConfigError, match="SUMO-native"):
        run(make_eval_config(config, controllers=[{"spec": "actuated", "sensing": {"model": "connected"}}]))


def test_the_cost_bench_runs_a_tiny_episode(tmp_cache) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import sensing_cost
    from common import isolated

    wall, sim, n, sensing = isolated(sensing_cost.episode, "wuxi-single", 60.0, "connected p=100%")
    assert n == 30 and 0 < sim < wall and 0 < sensing < wall - sim


def test_connected_sensing_reads_the_same_over_traci_as_over_libsumo(corridor_scenario) -> None:
    """The vehicle reads (per-lane id lists, per-vehicle states and types) have a TraCI path too: the
    same seeds give the same connected observations and equipped counts on every step."""
    sensing = {"model": "connected", "penetration": 0.4, "estimator": "queue_tail"}
    traces = {}
    for backend in ("libsumo", "traci"):
        env = TrafficSignalEnv(corridor_scenario, APPROACH, backend=backend, sensing=sensing)
        try:
            obs, _ = env.reset(seed=7)
            trace = []
            for _ in range(40):
                obs, *_ = env.step(_first_allowed(env))
                trace.append(np.stack([obs[a] for a in env.possible_agents]))
            traces[backend] = np.stack(trace)
            assert env.connection is not None and env.connection.backend == backend
        finally:
            env.close()
    assert traces["libsumo"].any()
    np.testing.assert_allclose(traces["traci"], traces["libsumo"], atol=1e-6)
