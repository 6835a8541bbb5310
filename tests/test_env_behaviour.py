"""What the environment does in SUMO: determinism, signal rules as SUMO shows them, metrics, the
agent subset, errors and process hygiene, and the speed of a 1-hour episode.

The signal rules are checked on SUMO's own record of the signal states (a ``SaveTLSStates`` timed
event writes the state of each signal at every simulation second), not on the controller's idea of
them, so a desynchronised controller fails these tests.
"""

from __future__ import annotations

import itertools
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pytest
from leaks import no_sumo_leak

from core.errors import ConfigError, InvalidActionError, ScenarioError, TSCError
from envs import TrafficSignalEnv

NET_KEYS = {"running", "arrived", "halting", "mean_speed", "teleports", "inserted", "backlog", "time"}


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(autouse=True)
def no_leak():
    with no_sumo_leak():
        yield


def with_tls_record(scenario, tls_ids, folder: Path):
    """The scenario plus a SUMO timed event recording each signal's state every second."""
    dest = folder / "tls-states.xml"
    events = "".join(
        f"<timedEvent type={quoteattr('SaveTLSStates')} source={quoteattr(t)} dest={quoteattr(str(dest))}/>"
        for t in tls_ids
    )
    add = folder / "tls-states.add.xml"
    add.write_text(f"<additional>{events}</additional>")
    return replace(scenario, additional_files=tuple(scenario.additional_files) + (add,)), dest


def read_tls_record(path: Path) -> dict[str, list[tuple[float, str, str]]]:
    """``{tls: [(time, programID, state), ...]}`` from a SaveTLSStates output."""
    out: dict[str, list[tuple[float, str, str]]] = {}
    for el in ET.parse(path).getroot().iter("tlsState"):
        out.setdefault(el.get("id"), []).append((float(el.get("time")), el.get("programID"), el.get("state")))
    return out


def runs(states: list[tuple[float, str, str]]) -> list[tuple[str, float, float]]:
    """Consecutive equal states as ``(state, start, seconds)``."""
    out = []
    for state, group in itertools.groupby(states, key=lambda s: s[2]):
        times = [t for t, _, _ in group]
        out.append((state, times[0], times[-1] - times[0] + 1.0))
    return out


def is_yellow_after(green: str, nxt: str) -> bool:
    """Every link losing its green shows yellow; no link gains a green."""
    losing = [i for i, c in enumerate(green) if c in "Gg" and nxt[i] not in "Gg"]
    gaining = [i for i, c in enumerate(nxt) if c in "Gg" and green[i] not in "Gg"]
    return bool(losing) and all(nxt[i] == "y" for i in losing) and not gaining


def rollout(env: TrafficSignalEnv, seed: int, policy, steps: int | None = None) -> list:
    """Run an episode; returns ``[(obs, rewards, truncations, infos), ...]``."""
    obs, infos = env.reset(seed=seed)
    trace = [(obs, {}, {}, infos)]
    rng = np.random.default_rng(seed)
    for _ in itertools.count() if steps is None else range(steps):
        if not env.agents:
            break
        actions = {a: policy(env, a, infos[a], rng) for a in env.agents}
        obs, rewards, terms, truncs, infos = env.step(actions)
        trace.append((obs, rewards, truncs, infos))
    return trace


def masked_random(env, agent, info, rng) -> int:
    return int(rng.choice(np.flatnonzero(info["action_mask"])))


def any_random(env, agent, info, rng) -> int:
    return int(rng.integers(env.action_space(agent).n))


def assert_same(a, b, path="") -> None:
    """Exact equality of nested dicts/lists/arrays/floats."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=path)
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


# ----------------------------------------------------------------------------- determinism
def test_same_seed_same_trajectory_libsumo_and_traci(core_scenario) -> None:
    traces, trips = [], []
    for backend in ("libsumo", "traci", "libsumo"):
        with TrafficSignalEnv(core_scenario, backend=backend) as env:
            traces.append(rollout(env, seed=7, policy=masked_random))
            trips.append(dict(env.last_trip_stats))
    assert traces[0][-1][3][next(iter(traces[0][-1][3]))]["arrived"] > 0
    assert len(traces[0]) > 10
    assert_same(traces[0], traces[1], "libsumo-vs-traci")
    assert_same(traces[0], traces[2], "libsumo-vs-libsumo")
    assert trips[0] == trips[1] == trips[2] and trips[0]["count"] > 0


def test_different_seeds_give_different_demand(core_scenario) -> None:
    with TrafficSignalEnv(core_scenario) as env:
        inserted = []
        for seed in (1, 2):
            trace = rollout(env, seed=seed, policy=lambda e, a, i, r: 0, steps=30)
            inserted.append([next(iter(infos.values()))["inserted"] for *_, infos in trace])
            assert env.sumo_seed == seed
    assert inserted[0] != inserted[1]


# ----------------------------------------------------------------------------- signal rules in SUMO
def _agent_and_record(scenario, tmp_path, **config):
    probe = TrafficSignalEnv(scenario, **config)
    agents = list(probe.possible_agents)
    probe.close()
    recorded, dest = with_tls_record(scenario, agents, tmp_path)
    return TrafficSignalEnv(recorded, **config), dest


@pytest.mark.parametrize(
    "mode,name", [("phase", "core"), ("duration", "core"), ("phase", "corridor"), ("duration", "corridor")]
)
def test_yellow_shown_and_min_green_respected_in_sumo(
    core_scenario, corridor_scenario, tmp_path, mode, name
) -> None:
    """Yellow after every green; an all-red only after the greens the net's program clears with one
    (the corridor's program has one per cycle, the core's none)."""
    scenario = core_scenario if name == "core" else corridor_scenario
    env, dest = _agent_and_record(
        scenario, tmp_path, action_mode=mode, min_green=10, max_green=40, delta_time=5
    )
    with env:
        rollout(env, seed=3, policy=masked_random)
        phase_sets = dict(env.phase_sets)
    record = read_tls_record(dest)
    assert set(record) == set(phase_sets)
    changes = straight = all_reds = 0  # straight: a yellow followed by a green (no all-red)
    for tls, states in record.items():
        ps = phase_sets[tls]
        assert {p for _, p, _ in states} == {"wuxi-tsc"}
        seq = runs(states)
        last_green = 0
        for k, (state, start, seconds) in enumerate(seq[:-1]):  # the last run is cut by the end
            if state in ps.greens:
                last_green = ps.greens.index(state)
                if k > 0:
                    assert seconds >= 10, f"{tls}: green {state} lasted {seconds} s from t={start}"
                changes += 1
                nxt = seq[k + 1][0]
                assert is_yellow_after(state, nxt), f"{tls}: {state} -> {nxt} at t={seq[k + 1][1]}"
            elif "y" in state:
                assert seconds == ps.yellow_time, f"{tls}: yellow {seconds} s at t={start}"
                straight += seq[k + 1][0] in ps.greens
            else:
                assert set(state) == {"r"} and seconds == ps.all_red_after[last_green], (tls, state, start)
                all_reds += 1
    assert changes > len(record)  # every signal changed at least once on average
    assert straight > 0 and (all_reds > 0) == (name == "corridor"), (straight, all_reds)


def test_max_green_forces_a_change_in_sumo(core_scenario, tmp_path) -> None:
    env, dest = _agent_and_record(core_scenario, tmp_path, min_green=10, max_green=30, delta_time=5)
    keep = lambda e, a, info, rng: e.intersection_state(a).phase  # noqa: E731 - always keep the green
    with env:
        trace = rollout(env, seed=4, policy=keep)
        phase_sets = dict(env.phase_sets)
    assert any(i["action_overridden"] for *_, infos in trace[1:] for i in infos.values())
    for tls, states in read_tls_record(dest).items():
        seq = [r for r in runs(states) if r[0] in phase_sets[tls].greens]
        assert len(seq) >= 3
        for _state, start, seconds in seq[1:-1]:
            assert 30 <= seconds < 30 + 5 + 1e-6, f"{tls}: green lasted {seconds} s from t={start}"


@pytest.mark.parametrize("max_red", [None, 40.0])
def test_max_red_stops_a_policy_from_starving_a_phase_in_sumo(core_scenario, tmp_path, max_red) -> None:
    """A policy that only ever asks for green 0 starves the others (max-green alternates it with
    green 1 only). With max_red, no green's halting vehicles wait at red much beyond max_red."""
    env, dest = _agent_and_record(
        core_scenario, tmp_path, min_green=5, max_green=20, delta_time=2, max_red=max_red
    )
    since: dict[tuple[str, int], float] = {}  # (tls, green) -> start of its current call
    longest = {}

    def starve(e, a, info, rng) -> int:  # measures the calls from SUMO's lane data as it goes
        spec, state = e.specs[a], e.intersection_state(a)
        lanes = spec.green_lane_matrix
        calls = (lanes & ~lanes[state.phase] & (state.in_halting > 0)).any(axis=1)
        for k, call in enumerate(calls):
            if call:
                start = since.setdefault((a, k), state.time)
                longest[a, k] = max(longest.get((a, k), 0.0), state.time - start)
            else:
                since.pop((a, k), None)
        return 0

    with env:
        rollout(env, seed=2, policy=starve)
        phase_sets = dict(env.phase_sets)
    record = read_tls_record(dest)
    big = [t for t, ps in phase_sets.items() if ps.n_greens >= 3]
    assert big, "the test scenario needs signals with 3+ greens"
    worst_all = 0.0
    for tls in big:
        greens = phase_sets[tls].greens
        shown = {g for state, _, _ in runs(record[tls]) for g in [state] if g in greens}
        worst = max(longest.get((tls, k), 0.0) for k in range(len(greens)))
        worst_all = max(worst_all, worst)
        # The guard's bound: max_red and one decision, then each other due green may run to max-green.
        bound = 40 + 2 + (len(greens) - 1) * (20 + phase_sets[tls].transition_time + 2)
        if max_red is None:
            assert shown == set(greens[:2]), f"{tls}: {len(shown)} greens shown without the guard"
        else:
            assert shown == set(greens) and worst <= bound, f"{tls}: a call lasted {worst} s"
    if max_red is None:
        assert worst_all > bound  # without the guard, some queue waited longer than the guard allows


def test_short_decisions_never_cut_a_yellow_in_sumo(core_scenario, tmp_path) -> None:
    """delta_time 1 s < yellow: the transition spans several decisions and still runs in full."""
    env, dest = _agent_and_record(core_scenario, tmp_path, min_green=5, max_green=30, delta_time=1)
    with env:
        rollout(env, seed=6, policy=any_random)
        phase_sets = dict(env.phase_sets)
    changes = 0
    for tls, states in read_tls_record(dest).items():
        seq = runs(states)
        for k, (state, start, seconds) in enumerate(seq[1:-1], start=1):
            if "y" in state:
                changes += 1
                assert seconds == phase_sets[tls].yellow_time, f"{tls}: yellow {seconds} s at t={start}"
                assert is_yellow_after(seq[k - 1][0], state)
            elif state in phase_sets[tls].greens:
                assert seconds >= 5, f"{tls}: green {state} lasted {seconds} s from t={start}"
    assert changes > 10


def test_approach_counts_match_sumo_vehicle_positions(core_scenario) -> None:
    """The approach zone counts (one context subscription per junction) equal a count made vehicle by
    vehicle through SUMO's own lane and vehicle queries, on every incoming lane at every decision."""
    env = TrafficSignalEnv(core_scenario, observation="approach", approach_zone=40.0)
    checked = 0
    with env:
        env.reset(seed=2)
        api = env.connection._api
        rng = np.random.default_rng(2)
        while env.agents:
            env.step({a: masked_random(env, a, {"action_mask": env.action_mask(a)}, rng) for a in env.agents})
            for agent in env.agents:
                spec, st = env.specs[agent], env.intersection_state(agent)
                for k, lane in enumerate(spec.in_lanes):
                    pos = [
                        (api.vehicle.getLanePosition(v), api.vehicle.getSpeed(v))
                        for v in api.lane.getLastStepVehicleIDs(lane)
                    ]
                    near = [speed for p, speed in pos if p >= spec.in_length[k] - 40.0]
                    assert st.in_near[k] == len(near), (agent, lane)
                    assert st.in_near_moving[k] == sum(speed >= 0.1 for speed in near), (agent, lane)
                    checked += len(near)
    assert checked > 100


def test_a_new_episode_does_not_see_the_previous_simulations_vehicles(core_scenario) -> None:
    """libsumo hands out the previous simulation's context-subscription results until the new one
    has stepped: the first observation of an episode must not show the last one's approach queues."""
    with TrafficSignalEnv(
        core_scenario, observation="approach", approach_zone=40.0, backend="libsumo"
    ) as env:
        env.reset(seed=2)
        while env.connection.time() < 200:
            env.step({a: int(env.action_mask(a).argmax()) for a in env.agents})
        assert sum(env.intersection_state(a).in_near.sum() for a in env.agents) > 0
        env.reset(seed=3)  # nothing has been inserted before the first step
        assert sum(env.intersection_state(a).in_near.sum() for a in env.agents) == 0


def test_time_loss_detectors_match_sumo_vehicle_queries(core_scenario) -> None:
    """The time-loss detectors (``detector_range``) count the vehicles SUMO's own lane and vehicle
    queries place within the range, and call a lane delayed exactly when one of them has lost more
    than ``min_time_loss`` since the first decision that saw it there; the policy's observation is
    unchanged by them."""
    env = TrafficSignalEnv(core_scenario, detector_range=60.0, min_time_loss=1.0, delta_time=2.0)
    plain = TrafficSignalEnv(core_scenario, delta_time=2.0)
    checked = delayed = 0
    entry: dict[str, tuple[str, float]] = {}
    try:
        obs, _ = env.reset(seed=2)
        assert obs["A0"].shape == plain.observation_space("A0").shape
        api = env.connection._api
        rng = np.random.default_rng(2)
        while env.agents:
            env.step({a: masked_random(env, a, {"action_mask": env.action_mask(a)}, rng) for a in env.agents})
            seen: dict[str, tuple[str, float]] = {}
            for agent in env.agents:
                spec, st = env.specs[agent], env.intersection_state(agent)
                for k, lane in enumerate(spec.in_lanes):
                    inside = [
                        v
                        for v in api.lane.getLastStepVehicleIDs(lane)
                        if api.vehicle.getLanePosition(v) >= spec.in_length[k] - 60.0
                    ]
                    late = []
                    for v in inside:
                        loss = api.vehicle.getTimeLoss(v)
                        before = entry.get(v)
                        seen[v] = before if before is not None and before[0] == lane else (lane, loss)
                        if loss - seen[v][1] > 1.0:
                            late.append(
                                (spec.in_length[k] - api.vehicle.getLanePosition(v)) / spec.in_max_speed[k]
                            )
                    assert st.in_detected[k] == len(inside), (agent, lane)
                    assert st.in_delayed_eta[k] == pytest.approx(max(late, default=0.0)), (agent, lane)
                    checked += len(inside)
                    delayed += bool(late)
            entry = seen
    finally:
        env.close()
        plain.close()
    assert checked > 100 and delayed > 10


def test_masked_actions_are_never_applied(core_scenario, tmp_path) -> None:
    env, dest = _agent_and_record(core_scenario, tmp_path, min_green=10, max_green=30, delta_time=5)
    with env:
        trace = rollout(env, seed=5, policy=any_random)
        phase_sets = dict(env.phase_sets)
    record = {tls: {t: s for t, _, s in states} for tls, states in read_tls_record(dest).items()}
    overridden = 0
    for (_, _, _, before), (_, _, _, after) in zip(trace, trace[1:]):
        for agent, info in after.items():
            applied = info["applied_action"]
            assert before[agent]["action_mask"][applied], f"{agent}: masked action {applied} applied"
            overridden += info["action_overridden"]
            # At the end of the step SUMO shows the applied green (the transition is shorter).
            t_end = info["time"] - 1.0
            assert record[agent][t_end] == phase_sets[agent].greens[applied], (agent, t_end)
    assert overridden > 0


def test_strict_masked_action_raises(core_scenario) -> None:
    with TrafficSignalEnv(core_scenario, strict_actions=True) as env:
        _, infos = env.reset(seed=0)
        agent = env.agents[0]
        masked = int(np.flatnonzero(~infos[agent]["action_mask"])[0])
        actions = {a: masked_random(env, a, infos[a], np.random.default_rng(0)) for a in env.agents}
        actions[agent] = masked
        with pytest.raises(InvalidActionError, match=repr(agent)):
            env.step(actions)


# ----------------------------------------------------------------------------- info and subsets
def test_reset_does_not_advance_the_simulation(single_scenario) -> None:
    """The first decision is at the scenario's begin time (parallel_env.reset says "fills the
    subscriptions without advancing time"; SUMO's simulationStep(t <= now) runs one step when
    t == 0, and subscriptions are filled at subscribe time anyway)."""
    with TrafficSignalEnv(single_scenario) as env:
        _, infos = env.reset(seed=0)
        assert next(iter(infos.values()))["time"] == single_scenario.begin
        _, _, _, _, infos = env.step({a: 0 for a in env.agents})
        assert next(iter(infos.values()))["time"] == single_scenario.begin + env.config.delta_time


def test_info_carries_network_metrics(core_scenario) -> None:
    with TrafficSignalEnv(core_scenario) as env:
        trace = rollout(env, seed=0, policy=masked_random, steps=30)
    last = next(iter(trace[-1][3].values()))
    assert NET_KEYS <= set(last)
    assert last["running"] > 0 and last["arrived"] > 0 and last["halting"] >= 0
    assert 0 < last["mean_speed"] < 20 and last["teleports"] >= 0
    times = [next(iter(infos.values()))["time"] for *_, infos in trace]
    assert np.all(np.diff(times) == 5.0)


def test_agent_subset_others_keep_their_static_program(core_scenario, tmp_path) -> None:
    probe = TrafficSignalEnv(core_scenario)
    everyone = list(probe.possible_agents)
    probe.close()
    chosen = tuple(everyone[:2])
    recorded, dest = with_tls_record(core_scenario, everyone, tmp_path)
    with TrafficSignalEnv(recorded, agents=chosen) as env:
        assert env.possible_agents == list(chosen)
        obs, _ = env.reset(seed=0)
        assert set(obs) == set(chosen)
        rollout(env, seed=0, policy=masked_random, steps=20)
    record = read_tls_record(dest)
    assert set(record) == set(everyone)
    for tls, states in record.items():
        programs = {p for _, p, _ in states}
        if tls in chosen:
            assert programs == {"wuxi-tsc"}, tls
        else:  # its own static program, cycling through its phases
            assert len(programs) == 1 and "wuxi-tsc" not in programs, (tls, programs)
            assert len(runs(states)) >= 2, tls


def test_unknown_agent_in_subset_is_a_config_error(core_scenario) -> None:
    with pytest.raises(ConfigError, match="no-such-signal"):
        TrafficSignalEnv(core_scenario, agents=("no-such-signal",))


# ----------------------------------------------------------------------------- bad input
def test_invalid_actions_and_keys_and_step_after_end(single_scenario) -> None:
    with TrafficSignalEnv(single_scenario) as env:
        with pytest.raises(TSCError, match="reset"):
            env.step({})
        _, infos = env.reset(seed=0)
        agent = env.agents[0]
        with pytest.raises(InvalidActionError, match="action space"):
            env.step({agent: env.action_space(agent).n})
        with pytest.raises(InvalidActionError, match="unknown"):
            env.step({agent: 0, "ghost": 0})
        with pytest.raises(InvalidActionError, match="missing"):
            env.step({})
        rollout(env, seed=0, policy=masked_random)
        assert env.agents == []
        with pytest.raises(TSCError, match="finished"):
            env.step({agent: 0})


@pytest.mark.parametrize("field", ["observation", "reward"])
def test_unknown_observation_or_reward_name(single_scenario, field) -> None:
    with pytest.raises(ConfigError, match=f"{field}='nope'"):
        TrafficSignalEnv(single_scenario, **{field: "nope"})


def test_net_without_traffic_lights_is_a_scenario_error(single_scenario, tmp_path) -> None:
    import subprocess

    from scenarios.sumo_install import binary

    net = tmp_path / "plain.net.xml"
    subprocess.run(
        [
            str(binary("netgenerate")),
            "--grid",
            "--grid.number",
            "2",
            "-o",
            str(net),
            "--tls.guess",
            "false",
            "--no-warnings",
        ],
        check=True,
        capture_output=True,
    )
    with pytest.raises(ScenarioError, match="plain.net.xml.*no traffic lights"):
        TrafficSignalEnv(replace(single_scenario, name="plain", net_file=net, route_files=()))


@pytest.mark.parametrize("which", ["net", "route"])
@pytest.mark.parametrize("problem", ["missing", "malformed"])
def test_missing_or_malformed_input_names_the_file(single_scenario, tmp_path, which, problem) -> None:
    bad = tmp_path / f"bad.{which}.xml"
    if problem == "malformed":
        bad.write_text("this is not xml")
    field = {"net": {"net_file": bad}, "route": {"route_files": (bad,)}}[which]
    with pytest.raises(TSCError, match=f"bad.{which}.xml"):
        TrafficSignalEnv(replace(single_scenario, **field))


# ----------------------------------------------------------------------------- speed
@pytest.fixture(scope="module")
def core_hour_scenario(tmp_cache):
    """wuxi-core with a 1-hour horizon (the catalogue's own demand, morning peak included)."""
    import scenarios

    return scenarios.build("wuxi-core", seed=0, horizon=3600, cache_dir=tmp_cache)


def test_one_hour_core_episode_with_random_actions_costs_little_beyond_sumo(core_hour_scenario) -> None:
    """Acceptance (issue 2): a 1-hour wuxi-core episode with random actions runs to the end, and the
    env adds at most 25% to the time SUMO spends stepping (the overhead-ratio target). The bound is a
    ratio measured in the same episode, not seconds: SUMO alone takes 17 s on one machine and 78 s on
    another (CI's), so an absolute bound tests the hardware. libsumo runs SUMO in this process, so the
    process CPU time counts SUMO's work too; under load the wall time inside simulationStep only grows,
    which can hide overhead but never invent it. bench/env_throughput.py measures the figures."""
    with TrafficSignalEnv(core_hour_scenario, backend="libsumo") as env:
        t0, c0 = time.perf_counter(), time.process_time()
        trace = rollout(env, seed=0, policy=masked_random)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        sim = env.connection.sim_step_seconds if env.connection else float("nan")
        agents = len(env.possible_agents)
    steps = len(trace) - 1
    print(
        f"\n1-hour {core_hour_scenario.name}: {steps} steps x {agents} agents: wall {wall:.1f} s, "
        f"CPU {cpu:.1f} s ({steps / cpu:.0f} steps/CPU-s), {sim:.1f} s wall inside simulationStep"
    )
    assert next(iter(trace[-1][3].values()))["time"] >= core_hour_scenario.end - 1e-6
    assert cpu <= 1.25 * sim, f"the env's own work is {cpu / sim - 1:.0%} on top of SUMO's stepping"


# ----------------------------------------------------------------------------- neighbours
def test_neighbours_follow_the_roads_of_the_grid(core_scenario, corridor_scenario) -> None:
    """Neighbours are found through split edges (turn pockets): the 4x4 grid's 4-neighbourhood and
    the corridor's chain."""
    core = TrafficSignalEnv(core_scenario)
    corridor = TrafficSignalEnv(corridor_scenario)
    try:
        rows, cols = "ABCD", "0123"
        for t, spec in core.specs.items():
            r, c = rows.index(t[0]), cols.index(t[1])
            grid = {
                rows[r + dr] + cols[c + dc]
                for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                if 0 <= r + dr < 4 and 0 <= c + dc < 4
            }
            assert set(spec.neighbours) == grid, t
        chain = sorted(corridor.specs)
        for k, t in enumerate(chain):
            assert list(corridor.specs[t].neighbours) == chain[max(k - 1, 0) : k] + chain[k + 1 : k + 2], t
    finally:
        core.close()
        corridor.close()


def test_neighbour_reward_and_observation_use_the_neighbours(core_scenario) -> None:
    envs = [
        TrafficSignalEnv(core_scenario, neighbour_reward_weight=w, neighbour_obs=True) for w in (0.0, 0.5)
    ]
    try:
        steps = []
        for env in envs:
            obs, infos = env.reset(seed=5)
            for _ in range(20):
                obs, rewards, *_ = env.step({a: 0 for a in env.agents})
            steps.append((obs, rewards))
        (obs, own), (_, mixed) = steps
        spec = envs[0].specs
        for a in own:
            assert mixed[a] == pytest.approx(own[a] + 0.5 * sum(own[n] for n in spec[a].neighbours))
        block = envs[0].actor_obs_size - envs[0]._observation.size(envs[0].dims)
        assert any(obs[a][-block:].any() for a in obs)  # the neighbours' features are not all zero
    finally:
        for env in envs:
            env.close()
