"""Low-carbon control (issue 18): the ``co2`` and ``stops`` reward terms, weighted rewards, the term
vector in ``info``, and model selection by a weighted score. Real SUMO on ``wuxi-single``/``wuxi-core``
with a 300 s horizon; the arithmetic on hand-made snapshots."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agents.config import TrainConfig
from core.config import validate
from core.errors import ConfigError
from envs import TrafficSignalEnv, make_env_config
from envs.connection import SumoConnection
from envs.rewards import TERM_SCALES, WeightedReward, make_reward
from envs.state import IntersectionSpec, IntersectionState
from evaluation.objectives import selection_weights, weighted_score
from tests.tiny import train_tiny

SPEC = IntersectionSpec(
    tls_id="J",
    in_lanes=("a_0", "b_0"),
    out_lanes=("c_0",),
    in_length=np.array([75.0, 75.0]),
    in_max_speed=np.array([10.0, 10.0]),
    out_length=np.array([75.0]),
    link_lanes=np.array([[0, 0], [1, 0]]),
    green_links=np.array([[True, False], [False, True]]),
)


def _state(
    time: float, halting: list[float], co2: list[float], speed: list[float] | None = None
) -> IntersectionState:
    count = np.array([max(h, 1.0) for h in halting])
    return IntersectionState(
        time=time,
        in_count=count,
        in_halting=np.array(halting),
        in_occupancy=np.zeros(2),
        in_mean_speed=np.array(speed or [0.0, 0.0]),
        in_waiting=np.zeros(2),
        out_count=np.zeros(1),
        phase=0,
        time_in_green=0.0,
        in_co2=np.array(co2),
    )


def test_co2_and_stops_terms_by_hand() -> None:
    prev = _state(100.0, [2.0, 3.0], [0.0, 0.0])
    now = _state(104.0, [4.0, 1.0], [3000.0, 1500.0])
    assert make_reward("co2")(SPEC, now, prev) == pytest.approx(-4.5)  # 4,500 mg/s = 4.5 g/s
    assert make_reward("co2")(SPEC, prev, prev) == 0.0  # nobody emits: zero, not a default
    # lane a: 2 -> 4 halting (+2 stops), lane b shrinks (adds nothing); over 4 s
    assert make_reward("stops")(SPEC, now, prev) == pytest.approx(-0.5)
    # weights are shares: {delay: 1, stops: 1} == {delay: 3, stops: 3}, each term over its scale
    delay = make_reward("delay")(SPEC, now, prev)
    expected = 0.5 * delay / TERM_SCALES["delay"] + 0.5 * -0.5 / TERM_SCALES["stops"]
    for weights in ({"delay": 1.0, "stops": 1.0}, {"delay": 3.0, "stops": 3.0}):
        assert WeightedReward(weights)(SPEC, now, prev) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("reward", "message"),
    [
        ({"delay": 1.0, "co2x": 0.2}, "env.reward.co2x: unknown term; known: co2, delay,"),
        ({"delay": 0.0, "co2": 0.0}, "env.reward: the weights"),
        ({}, "env.reward: the weights"),
        ({"delay": 1.0, "co2": -0.2}, "env.reward.co2: weight -0.2 must be a finite number >= 0"),
        ({"delay": "a lot"}, "env.reward.delay: weight 'a lot'"),
    ],
)
def test_bad_weights_or_unknown_terms_name_the_field(reward, message) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(")):
        make_env_config(reward=reward)


def test_training_config_names_the_nested_field() -> None:
    with pytest.raises(ConfigError, match=r"train\.env\.reward\.co2x: unknown term"):
        validate(TrainConfig, {"env": {"reward": {"delay": 1, "co2x": 1}}}, "train")
    config = validate(TrainConfig, {"env": {"reward": {"delay": 1, "co2": 0.25}}}, "train")
    assert config.env.reward_label() == "delay=0.80+co2=0.20"
    with pytest.raises(ConfigError, match=r"eval\.selection\.pressure: no evaluation metric"):
        selection_weights({"delay": 1.0, "pressure": 1.0}, "delay")


def test_co2_term_is_zero_on_an_empty_junction_and_grows_with_idling_vehicles(single_scenario) -> None:
    """Green 0 held: the red approaches fill with idling vehicles. The CO2 read is SUMO's own
    per-vehicle emissions summed (checked vehicle by vehicle); it is 0 before any vehicle enters,
    and on a lane where every vehicle idles it is the same rate per vehicle, so it grows with them."""
    with TrafficSignalEnv(single_scenario, reward={"delay": 1.0, "co2": 1.0}, delta_time=5) as env:
        env.reset(seed=1)
        (agent,) = env.agents
        assert env.batch_state.in_co2.shape == env.batch_state.in_count.shape
        assert env.batch_state.in_co2.sum() == 0.0  # empty network: no emissions
        api = env.connection._api
        junction_co2, idling = [], []
        while env.agents:
            _, rewards, _, _, infos = env.step({agent: 0})
            state = env.intersection_state(agent)
            for k, lane in enumerate(env.specs[agent].in_lanes):
                vehicles = api.lane.getLastStepVehicleIDs(lane)
                assert state.in_co2[k] == pytest.approx(sum(api.vehicle.getCO2Emission(v) for v in vehicles))
                if vehicles and all(api.vehicle.getSpeed(v) == 0.0 for v in vehicles):
                    idling.append((len(vehicles), state.in_co2[k]))
            if env.agents:
                junction_co2.append(-infos[agent]["reward_terms"][1] * TERM_SCALES["co2"])
    rates = np.array([c / n for n, c in idling])
    assert len(idling) > 20 and rates.min() > 0
    assert rates.max() == pytest.approx(rates.min(), rel=1e-3)  # one idle rate per vehicle
    counts = np.array([n for n, _ in idling])
    assert counts.max() >= 5 * counts.min()  # queues of very different lengths were seen
    assert junction_co2[0] == 0.0 and max(junction_co2) > 0


def test_term_vector_in_info_matches_the_scalar_reward(core_scenario, monkeypatch) -> None:
    """With a weighted reward, ``reward == reward_terms @ reward_shares`` for every agent and step,
    neighbour mixing included; with the default reward there is no vector and no CO2 read."""
    config = dict(reward={"delay": 1.0, "co2": 0.3, "stops": 0.2}, neighbour_reward_weight=0.5)
    rng = np.random.default_rng(0)
    with TrafficSignalEnv(core_scenario, config) as env:
        assert env.reward_term_names == ("delay", "co2", "stops")
        np.testing.assert_allclose(env.reward_shares, [1 / 1.5, 0.3 / 1.5, 0.2 / 1.5])
        _, infos = env.reset(seed=3)
        assert "reward_terms" not in infos[env.agents[0]]
        seen = np.zeros(3)
        while env.agents:
            actions = {a: int(rng.choice(np.flatnonzero(infos[a]["action_mask"]))) for a in env.agents}
            _, rewards, _, _, infos = env.step(actions)
            for agent, reward in rewards.items():
                terms = infos[agent]["reward_terms"]
                assert reward == pytest.approx(float(terms @ env.reward_shares), abs=1e-9)
                seen += terms != 0
    assert (seen > 0).all()  # every term was non-zero somewhere

    def forbidden(self):
        raise AssertionError("the default reward must not read CO2")

    monkeypatch.setattr(SumoConnection, "lane_co2", forbidden)
    with TrafficSignalEnv(core_scenario, reward="delay") as env:
        _, infos = env.reset(seed=3)
        _, _, _, _, infos = env.step({a: 0 for a in env.agents})
        assert "reward_terms" not in infos[env.agents[0]] and env.reward_term_names == ()


def test_weighted_score_by_hand() -> None:
    ref = {"delay": 100.0, "co2_per_vehicle": 400.0, "stops": 2.0}
    policy = {"delay": 102.0, "co2_per_vehicle": 360.0, "stops": 1.5}
    shares = selection_weights(None, {"delay": 3.0, "co2": 1.0})
    assert shares == {"delay": 0.75, "co2": 0.25}
    assert weighted_score(policy, shares, ref) == pytest.approx(0.75 * 1.02 + 0.25 * 0.9)
    assert weighted_score(ref, shares, ref) == pytest.approx(1.0)
    assert selection_weights(None, "delay") is None  # delay alone chooses, as before
    assert selection_weights({"stops": 1.0}, "delay") == {"stops": 1.0}


def test_weighted_training_chooses_its_model_by_the_weighted_score(tmp_path) -> None:
    """A tiny run with a weighted reward: validation scores the policy by delay, CO2 and stops
    against the baseline, and best.json records that score (what chose best_model.zip)."""
    run = train_tiny(
        tmp_path,
        "env.reward={delay: 1.0, co2: 0.5, stops: 0.5}",
        "eval.seeds=[11]",
        "eval.test_seeds=[]",
        "eval.baselines=[fixed_time]",
        "eval.workers=1",
        "warm_start.steps=0",
        evaluate=True,
    )
    best = json.loads((run / "best.json").read_text())
    assert (run / "best_model.zip").is_file()
    metrics = {}
    for label in ("policy", "fixed_time"):
        (path,) = (run / "eval" / "episodes").glob(f"*/{label}/seed_11.json")
        metrics[label] = json.loads(path.read_text())["metrics"]
    shares = {"delay": 0.5, "co2": 0.25, "stops": 0.25}
    assert best["score"] == pytest.approx(weighted_score(metrics["policy"], shares, metrics["fixed_time"]))
    assert 0 < best["score"] < 10 and best["delay"] == pytest.approx(metrics["policy"]["delay"])


def test_tradeoff_frontier_and_table_by_hand() -> None:
    from evaluation.report import _frontier, tradeoff_markdown

    points = {"fast": (100.0, 400.0), "green": (102.0, 380.0), "worse": (105.0, 390.0)}
    assert _frontier(points) == {"fast", "green"}  # "worse" has more delay and more CO2 than "green"
    rows = [
        {"scenario": "s", "controller": c, "metric": m, "mean": v, "ci95": 1.0, "n": 5, "diff_pct": -1.0}
        for c, (d, e) in points.items()
        for m, v in (("delay", d), ("co2_per_vehicle", e), ("stops", 2.0))
    ]
    table = tradeoff_markdown(rows, "fast", list(points))
    assert "| `green` | 102.0 ± 1.0 | 380.0 ± 1.0 | 2.00 ± 1.00 | -1.0% | -1.0% | -1.0% | yes |" in table
    assert "| `worse` | 105.0 ± 1.0 | 390.0 ± 1.0 | 2.00 ± 1.00 | -1.0% | -1.0% | -1.0% |  |" in table


def test_co2_reads_the_same_over_traci_and_libsumo(single_scenario) -> None:
    """The TraCI fallback (one getter call per lane, no empty-edge skipping) reads what libsumo reads."""
    readings = {}
    for backend in ("libsumo", "traci"):
        with TrafficSignalEnv(single_scenario, reward="co2", delta_time=5, backend=backend) as env:
            env.reset(seed=2)
            rows = []
            for _ in range(30):
                env.step({a: 0 for a in env.agents})
                rows.append(env.batch_state.in_co2.copy())
            readings[backend] = np.array(rows)
    assert readings["libsumo"].sum() > 0
    np.testing.assert_allclose(readings["traci"], readings["libsumo"], rtol=1e-9)
