"""Baseline controllers: each runs on a tiny real-SUMO scenario, native programs are really active,
Webster's arithmetic, max-pressure's choice, and the registry's errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from nets import netgenerate_grid

from core.errors import ConfigError, ExportError
from envs.connection import SumoConnection
from envs.heuristics import GapOut, MaxPressure, TimeLoss
from evaluation.config import ControllerEntry, EvalConfig, WebsterSettings
from evaluation.controllers import EnvController, NativeController, controller_names, make_controller
from evaluation.controllers.programs import Phase, SignalProgram, static_programs
from evaluation.controllers.webster import critical_ratios, webster_plan
from evaluation.harness import run_episode
from scenarios.scenario import Scenario

ROUTES = """<routes>
  <vType id="car" sigma="0.5" length="5" minGap="2.5" maxSpeed="13.89"/>
  <flow id="we" type="car" from="left0A0" to="B0right0" begin="0" end="{end}" vehsPerHour="1500" departLane="best"/>
  <flow id="sn" type="car" from="bottom0A0" to="A1top0" begin="0" end="{end}" vehsPerHour="400" departLane="best"/>
  <flow id="ew" type="car" from="right1B1" to="A1left1" begin="0" end="{end}" vehsPerHour="600" departLane="best"/>
</routes>
"""


def make_grid(folder: Path, end: float = 300.0) -> Scenario:
    """A 2x2 signalised grid (2 lanes, 2 green phases per signal) with uneven demand."""
    net = netgenerate_grid(folder)
    routes = folder / "grid.rou.xml"
    routes.write_text(ROUTES.format(end=end))
    return Scenario("tiny-grid", net, (routes,), end=end)


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Scenario:
    return make_grid(tmp_path_factory.mktemp("grid"))


CONFIG = EvalConfig(workers=0, series_period=30, controller_settings={"webster": {"interval": 150}})


@pytest.mark.parametrize(
    "spec",
    ["fixed_time", "webster", "actuated", "delay_based", "max_pressure", "greedy", "gap_out", "time_loss"],
)
def test_each_controller_runs_an_episode(grid: Scenario, spec: str) -> None:
    record = run_episode(grid, ControllerEntry.model_validate(spec), 1, CONFIG)
    m = record["metrics"]
    assert m["vehicles"] > 100 and m["throughput"] > 50
    assert 0 <= m["delay"] <= m["travel_time"]
    assert m["co2"] > 0 and m["fuel"] > 0
    assert record["series"]["time"][:2] == [0.0, 30.0]
    controller = make_controller(spec)
    kind = NativeController if controller.native else EnvController
    assert isinstance(controller, kind)


def _tls_states(grid: Scenario, spec: str, tmp_path: Path) -> tuple[dict, list[tuple[float, str, str]]]:
    """Run the controller's native inputs with SUMO's SaveTLSStates output for signal A0."""
    controller = make_controller(spec, CONFIG.controller_settings)
    inputs = controller.sumo_inputs(grid, tmp_path)
    out = tmp_path / "tls.xml"
    spy = tmp_path / "spy.add.xml"
    spy.write_text(f'<additional><timedEvent type="SaveTLSStates" source="A0" dest="{out}"/></additional>')
    scenario = inputs.apply(grid)
    scenario = replace(scenario, additional_files=(*scenario.additional_files, spy))
    with SumoConnection(scenario, seed=1) as conn:
        conn.simulation_step(grid.end)
    rows = [
        (float(e.get("time")), e.get("programID"), e.get("state"))
        for e in ET.parse(out).getroot().iter("tlsState")
    ]
    return inputs.info, rows


def _green_runs(rows: list[tuple[float, str, str]]) -> list[tuple[str, int]]:
    runs: list[tuple[str, int]] = []
    for _, _, state in rows:
        if runs and runs[-1][0] == state:
            runs[-1] = (state, runs[-1][1] + 1)
        else:
            runs.append((state, 1))
    return [(s, n) for s, n in runs[1:-1] if "G" in s and "y" not in s]  # complete greens only


@pytest.mark.parametrize("spec", ["actuated", "delay_based"])
def test_sumo_runs_the_actuated_program(grid: Scenario, spec: str, tmp_path: Path) -> None:
    _, rows = _tls_states(grid, spec, tmp_path)
    assert {p for _, p, _ in rows} == {f"eval-{spec}"}
    greens = _green_runs(rows)
    durations = {n for _, n in greens}
    assert len(durations) > 1, f"{spec}: every green lasted the same {durations}: not actuated"
    s = CONFIG.controller_settings.actuated
    assert all(s.min_green <= n <= s.max_green + 1 for n in durations)


def test_sumo_runs_the_webster_plan(grid: Scenario, tmp_path: Path) -> None:
    info, rows = _tls_states(grid, "webster", tmp_path)
    assert {p for _, p, _ in rows} == {"eval-webster"}
    w = CONFIG.controller_settings.webster
    assert w.min_cycle <= info["A0"]["cycle"] <= w.max_cycle
    greens = Counter(n for _, n in _green_runs(rows))
    plan = ET.parse(tmp_path / "webster.add.xml").getroot().find("tlLogic[@id='A0']")
    planned = {
        p.get("state"): float(p.get("duration")) for p in plan.iter("phase") if "y" not in p.get("state")
    }
    assert set(greens) <= {int(d) for d in planned.values()}
    # A0 carries 1500 veh/h west-east against 400 south-north: the west-east green is longer
    lanes = static_programs(grid)["A0"].link_lanes
    we = next(i for i, lane in enumerate(lanes) if lane.startswith("left0A0"))
    we_green = max(d for st, d in planned.items() if st[we] == "G")
    other = max(d for st, d in planned.items() if st[we] != "G")
    assert we_green > other


def test_webster_formula_by_hand() -> None:
    prog = SignalProgram(
        "x", (Phase(30, "GGrr"), Phase(3, "yyrr"), Phase(30, "rrGG"), Phase(3, "rryy")), ("a", "a", "b", "b")
    )
    s = WebsterSettings(min_cycle=30, max_cycle=150, min_green=5)
    y = critical_ratios(prog, {"a": 0.45, "b": 0.15})
    assert y == {0: 0.45, 2: 0.15}
    plan = webster_plan(prog, y, s)
    phases, info = plan.phases, plan.info
    c0 = (1.5 * 6 + 5) / (1 - 0.6)  # Webster 1958: L = 6 s lost, Y = 0.6 -> 35 s
    assert info["c0"] == pytest.approx(c0, abs=0.1)
    assert [p.duration for p in phases] == [round(29 * 0.75), 3, round(29 * 0.25), 3]
    # min green is respected; an oversaturated junction gets the longest cycle
    plan = webster_plan(prog, {0: 0.9, 2: 0.02}, s.model_copy(update={"min_green": 10}))
    phases, info = plan.phases, plan.info
    assert info["cycle"] == 150 and phases[2].duration == 10 and phases[0].duration == 150 - 6 - 10


def test_critical_ratios_share_and_skip_lanes() -> None:
    # lane c is green in both phases (a free right turn): it never limits; lane d is major in phase 2
    prog = SignalProgram(
        "x", (Phase(30, "GgGr"), Phase(3, "yyyr"), Phase(30, "rGGG"), Phase(3, "ryyy")), ("a", "b", "c", "d")
    )
    y = critical_ratios(prog, {"a": 0.2, "b": 0.3, "c": 0.9, "d": 0.1})
    assert y == {0: 0.2, 2: 0.3}  # b is major (G) only in phase 2


def test_max_pressure_picks_the_allowed_phase_with_most_pressure() -> None:
    spec = SimpleNamespace(
        green_links=np.array([[1, 0], [0, 1]], bool), link_lanes=np.array([[0, 0], [1, 1]]), n_greens=2
    )
    state = SimpleNamespace(phase=0, phase_pressures=lambda s: np.array([0.1, 0.5]))
    env = SimpleNamespace(specs={"j": spec}, intersection_state=lambda a: state)
    mp = MaxPressure()
    mp.reset(env, 0)
    assert mp.act({"j": None}, {"j": {"action_mask": np.array([True, True, False])}}) == {"j": 1}
    # during min green only the current phase is allowed
    assert mp.act({"j": None}, {"j": {"action_mask": np.array([True, False, False])}}) == {"j": 0}
    # ties keep the current phase
    state.phase_pressures = lambda s: np.array([0.5, 0.5])
    assert mp.act({"j": None}, {"j": {"action_mask": np.array([True, True, False])}}) == {"j": 0}


def test_gap_out_extends_until_a_gap_then_serves_the_next_call_in_cycle_order() -> None:
    # three greens over four lanes; lane 3 (a free right turn) is green in every phase
    spec = SimpleNamespace(
        n_greens=3,
        link_lanes=np.array([[0, 0], [1, 0], [2, 0], [3, 0]]),
        green_links=np.array([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1]], bool),
    )
    state = SimpleNamespace(phase=0, in_near=np.zeros(4), in_near_moving=np.zeros(4), in_halting=np.zeros(4))
    env = SimpleNamespace(specs={"j": spec}, intersection_state=lambda a: state)
    go = GapOut()
    go.reset(env, 0)
    free = {"j": {"action_mask": np.array([True, True, True, False])}}
    state.in_near_moving[0] = state.in_near[0] = 1  # a vehicle still moving towards the line: extend
    state.in_halting[1] = 3
    assert go.act({"j": None}, free) == {"j": 0}
    state.in_near_moving[0] = 0  # gap: phase 1 has a call
    assert go.act({"j": None}, free) == {"j": 1}
    state.in_halting[1], state.in_near[2] = 0, 2  # only phase 2 calls: phase 1 is skipped
    assert go.act({"j": None}, free) == {"j": 2}
    state.in_near[2] = 0
    state.in_near_moving[3] = state.in_near[3] = 5  # the free right turn extends nothing, calls nothing
    assert go.act({"j": None}, free) == {"j": 0}
    # max green reached (current masked) and no call: the next green in cycle order
    assert go.act({"j": None}, {"j": {"action_mask": np.array([False, True, True, False])}}) == {"j": 1}
    # an env without approach zones is a clear error
    state.in_near = np.zeros(0)
    with pytest.raises(ConfigError, match="approach"):
        go.act({"j": None}, free)


def test_time_loss_prolongs_for_delayed_vehicles_or_empty_reds_then_takes_the_next_green() -> None:
    # three greens over four lanes; lane 3 (a free right turn) is green in every phase
    spec = SimpleNamespace(
        n_greens=3,
        link_lanes=np.array([[0, 0], [1, 0], [2, 0], [3, 0]]),
        green_links=np.array([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1]], bool),
    )
    state = SimpleNamespace(phase=0, in_detected=np.zeros(4), in_delayed_eta=np.zeros(4))
    env = SimpleNamespace(specs={"j": spec}, intersection_state=lambda a: state)
    tl = TimeLoss(skip=False)  # SUMO's rule
    tl.reset(env, 0)
    free = {"j": {"action_mask": np.array([True, True, True, False])}}
    assert tl.act({"j": None}, free) == {"j": 0}  # nobody on a red lane: hold
    state.in_detected[2] = 1  # a vehicle waits for green 2
    state.in_detected[0], state.in_delayed_eta[0] = 3, 4.0  # a delayed vehicle 4 s from the line
    assert tl.act({"j": None}, free) == {"j": 0}
    state.in_delayed_eta[0] = 0.0  # the rest arrive without delay: next green, even with no call
    assert tl.act({"j": None}, free) == {"j": 1}
    state.in_delayed_eta[3] = 2.0  # the always-green right turn is a green lane of every phase
    assert tl.act({"j": None}, free) == {"j": 0}
    state.in_delayed_eta[3] = 0.0
    # min green: only the current green is allowed; max green: it is not
    assert tl.act({"j": None}, {"j": {"action_mask": np.array([True, False, False, False])}}) == {"j": 0}
    state.in_detected[:] = 0
    assert tl.act({"j": None}, {"j": {"action_mask": np.array([False, True, True, False])}}) == {"j": 1}
    skipping = TimeLoss()  # the default: skip greens without a call
    skipping.reset(env, 0)
    state.in_detected[2] = 1  # only green 2 has a call: green 1 is skipped
    assert skipping.act({"j": None}, free) == {"j": 2}
    # an env without the detectors is a clear error
    state.in_detected = np.zeros(0)
    with pytest.raises(ConfigError, match="detector_range"):
        tl.act({"j": None}, free)


def test_unknown_controller_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="max_pressre.*known controllers:.*max_pressure"):
        make_controller("max_pressre")
    with pytest.raises(ConfigError, match="give the policy path"):
        make_controller("ppo:")
    assert {
        "fixed_time",
        "webster",
        "actuated",
        "delay_based",
        "max_pressure",
        "ppo:PATH",
        "onnx:PATH",
    } <= set(controller_names())


def test_onnx_prefix_loads_the_runtime_lazily(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="not found"):
        make_controller(f"onnx:{tmp_path / 'missing'}")
