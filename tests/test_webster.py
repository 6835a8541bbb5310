"""Webster on nets from outside the catalogue (issue #12): an 8-green grid gets a plan that follows
the measured flows, and a scenario whose signals cannot be timed is refused or reported by name."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import SHORT, write_mixed_external

import scenarios
from core.errors import ScenarioError
from evaluation.config import WebsterSettings
from evaluation.controllers.fixed import Webster
from evaluation.controllers.programs import SignalProgram, is_green, static_programs
from evaluation.controllers.webster import green_stages
from scenarios.scenario import Scenario
from scenarios.toolrun import run_binary

# Row 1 (A1-D1) carries 1600 veh/h each way, every other row and column 300; each signal has a
# 4-stage, 8-green program, so its Y sums four approaches.
_COLS = "ABCD"
GRID_FLOWS = {
    **{f"we{r}": (f"left{r}A{r}", f"D{r}right{r}", 1600 if r == 1 else 300) for r in range(4)},
    **{f"ew{r}": (f"right{r}D{r}", f"A{r}left{r}", 1600 if r == 1 else 300) for r in range(4)},
    **{f"sn{c}": (f"bottom{c}{x}0", f"{x}3top{c}", 300) for c, x in enumerate(_COLS)},
    **{f"ns{c}": (f"top{c}{x}3", f"{x}0bottom{c}", 300) for c, x in enumerate(_COLS)},
}
SETTINGS = WebsterSettings(min_cycle=20, min_green=5, interval=150)


def write_crossings_grid(folder: Path) -> tuple[Path, Path]:
    """A 4x4 netgenerate grid with left pockets, sidewalks and crossings, one stage per approach
    (``--tls.layout incoming``): each stage is a walk phase plus a 5-s crossing clearance, so every
    signal has 8 green phases. Returns the net and a route file of ``GRID_FLOWS``."""
    net = folder / "grid8.net.xml"
    run_binary(
        "netgenerate",
        [
            "--grid",
            "--grid.number",
            "4",
            "--grid.length",
            "300",
            "--grid.attach-length",
            "200",
            "--default.lanenumber",
            "2",
            "--turn-lanes",
            "1",
            "--tls.guess",
            "true",
            "--tls.layout",
            "incoming",
            "--sidewalks.guess",
            "true",
            "--crossings.guess",
            "true",
            "--no-turnarounds",
            "true",
            "--no-warnings",
            "true",
            "-o",
            net,
        ],
    )
    routes = folder / "grid8.rou.xml"
    routes.write_text(
        "<routes>\n"
        + "".join(
            f'  <flow id="{k}" from="{a}" to="{b}" begin="0" end="{SHORT:g}" vehsPerHour="{q}" '
            'departLane="best"/>\n'
            for k, (a, b, q) in GRID_FLOWS.items()
        )
        + "</routes>\n"
    )
    return net, routes


def _plan(path: Path) -> dict[str, list[float]]:
    return {
        tl.get("id"): [float(p.get("duration")) for p in tl.iter("phase")]
        for tl in ET.parse(path).getroot().iter("tlLogic")
    }


def _stage_green(prog: SignalProgram, durations: list[float], approach: str) -> float:
    """Total green of the stage(s) that give the lanes of edge ``approach`` priority green."""
    links = [i for i, lane in enumerate(prog.link_lanes) if lane.startswith(approach + "_")]
    return sum(
        sum(durations[k] for k in st.phases)
        for st in green_stages(prog)
        if any(prog.phases[st.main].state[i] == "G" for i in links)
    )


def test_webster_times_an_external_8_green_grid_from_its_flows(tmp_path: Path) -> None:
    net, routes = write_crossings_grid(tmp_path)
    scenario = scenarios.load(net, route_files=[routes], begin=0, end=SHORT)
    static = static_programs(scenario)
    assert len(static) == 16
    assert all(len(p.green_indices) == 8 for p in static.values()), "the net should have 8 greens"
    inputs = Webster(SETTINGS).sumo_inputs(scenario, tmp_path)
    plan = _plan(tmp_path / "webster.add.xml")
    assert set(plan) == set(static) == set(inputs.programs)  # every signal timed, none fell back
    for tls, prog in static.items():
        assert "fallback" not in inputs.info[tls]
        assert plan[tls] != [p.duration for p in prog.phases], f"{tls}: Webster copied the static plan"
        assert inputs.info[tls]["cycle"] == sum(plan[tls])
    # the cycle follows the load: row 1 carries 1600 veh/h each way, the rest 300
    busy, quiet = ["A1", "B1", "C1", "D1"], ["A3", "B3", "C3", "D3"]
    assert min(inputs.info[t]["Y"] for t in busy) > max(inputs.info[t]["Y"] for t in quiet)
    assert min(inputs.info[t]["cycle"] for t in busy) > max(inputs.info[t]["cycle"] for t in quiet)
    # ... and so do the splits: at B1 and C1 the east-west stages are longer than the north-south ones
    for tls, (w, e, s, n) in {
        "B1": ("A1B1", "C1B1", "B0B1", "B2B1"),
        "C1": ("B1C1", "D1C1", "C0C1", "C2C1"),
    }.items():
        prog = static[tls]
        greens = {a: _stage_green(prog, plan[tls], f"{a}.280.00") for a in (w, e, s, n)}
        assert min(greens[w], greens[e]) > max(greens[s], greens[n]), (tls, greens)


def _mixed(folder: Path, flows: str) -> Scenario:
    net, _ = write_mixed_external(folder)
    routes = folder / "only.rou.xml"
    routes.write_text(f"<routes>\n{flows}</routes>\n")
    return scenarios.load(net, route_files=[routes], begin=0, end=SHORT)


def test_webster_names_a_signal_without_flow_and_keeps_its_static_plan(tmp_path: Path) -> None:
    # traffic crosses C only; T (east) sees no vehicle
    scenario = _mixed(
        tmp_path,
        "".join(
            f'  <flow id="{k}" from="{a}" to="{b}" begin="0" end="{SHORT:g}" vehsPerHour="600"/>\n'
            for k, (a, b) in {"wn": ("wC", "Cn"), "ns": ("nC", "Cs"), "sw": ("sC", "Cw")}.items()
        ),
    )
    with pytest.warns(UserWarning, match=r"1 of 2 signals .* static plan: T: no vehicle"):
        inputs = Webster(SETTINGS).sumo_inputs(scenario, tmp_path)
    assert "no vehicle was measured" in inputs.info["T"]["fallback"]
    assert "fallback" not in inputs.info["C"] and inputs.info["C"]["Y"] > 0
    assert inputs.programs == {"C": "eval-webster"}


def test_webster_refuses_a_scenario_where_no_signal_can_be_timed(tmp_path: Path) -> None:
    # all demand departs after the horizon: the measurement sees no vehicle at any signal
    scenario = _mixed(
        tmp_path,
        f'  <flow id="late" from="wC" to="Te" begin="{SHORT + 100:g}" '
        f'end="{SHORT + 200:g}" vehsPerHour="600"/>\n',
    )
    with pytest.raises(
        ScenarioError,
        match=r"no signal of scenario .* could be timed.*C: no vehicle"
        r".*T: no vehicle.*longer horizon",
    ):
        Webster(SETTINGS).sumo_inputs(scenario, tmp_path)


def test_green_stages_join_a_walk_phase_and_its_clearance() -> None:
    from evaluation.controllers.programs import Phase

    prog = SignalProgram(
        "x",
        (Phase(5, "Gr"), Phase(3, "yr"), Phase(13, "rG"), Phase(5, "rG"), Phase(3, "ry"), Phase(20, "Gr")),
        ("a", "b"),
    )
    stages = green_stages(prog)
    assert [(st.phases, st.main) for st in stages] == [((2, 3), 2), ((5, 0), 5)]  # 5 -> 0 wraps
    assert all(is_green(prog.phases[k].state) for st in stages for k in st.phases)
