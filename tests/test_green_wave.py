"""``green_wave``: the band optimiser on synthetic chains (no SUMO), the chain it finds on the
corridor, and a platoon released at the first signal that meets green at every following one."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from envs.connection import SumoConnection
from evaluation.config import GreenWaveSettings, WebsterSettings
from evaluation.controllers import NativeInputs, make_controller
from evaluation.controllers.bands import ChainProblem, band_widths, optimise_offsets
from evaluation.controllers.green_wave import GreenWave
from scenarios.scenario import Scenario

C = 100


def _window(start: int, length: int, cycle: int = C) -> np.ndarray:
    green = np.zeros(cycle, bool)
    green[(start + np.arange(length)) % cycle] = True
    return green


def test_half_cycle_travel_gives_full_bands_both_ways() -> None:
    greens = [_window(0, 40)] * 5
    problem = ChainProblem(C, greens, greens, [C / 2] * 4, [C / 2] * 4, 1.0, 1.0)
    bands = optimise_offsets(problem)
    assert (bands.forward, bands.backward) == (40, 40)
    assert band_widths(problem, bands.offsets) == (40, 40)


@pytest.mark.parametrize("weights", [(1.0, 0.0), (0.0, 1.0)])
def test_one_direction_of_demand_gets_the_full_band(weights: tuple[float, float]) -> None:
    # 30-s links: no offsets give both directions a band; the loaded one must get all of its green
    forward = [_window(s, g) for s, g in [(0, 40), (10, 35), (55, 45), (20, 38)]]
    backward = [_window(s, g) for s, g in [(50, 30), (60, 33), (5, 30), (70, 25)]]
    problem = ChainProblem(C, forward, backward, [30, 42, 27], [31, 40, 29], *weights)
    bands = optimise_offsets(problem)
    loaded = bands.forward if weights[0] else bands.backward
    assert loaded == (35 if weights[0] else 25)  # the shortest green of that direction


def test_offsets_are_as_good_as_a_brute_force_search() -> None:
    forward = [_window(0, 40), _window(20, 30), _window(70, 45)]
    backward = [_window(45, 35), _window(60, 30), _window(10, 30)]
    problem = ChainProblem(C, forward, backward, [37, 58], [39, 55], 2.0, 1.0)
    bands = optimise_offsets(problem)
    best = max(
        2 * f + b
        for f, b in (band_widths(problem, (0, t1, t2)) for t1, t2 in itertools.product(range(C), repeat=2))
    )
    assert 2 * bands.forward + bands.backward == best


EAST = [
    "J0_J1",
    "J0_J1.L",
    "J1_J2",
    "J1_J2.L",
    "J2_J3",
    "J2_J3.L",
    "J3_J4",
    "J3_J4.L",
    "J4_J5",
    "J4_J5.L",
    "J5_J6",
    "J5_J6.L",
    "J6_E",
]
SPEED = 12.5


def _eastbound_demand(folder: Path, corridor: Scenario) -> Scenario:
    """The corridor with eastbound arterial demand only (plus light side streets): the green wave
    must then give the eastbound direction the full band."""
    sides = "".join(
        f'  <flow id="s{i}" from="N{i}_J{i}" to="J{i}_S{i}" begin="0" end="600" vehsPerHour="150"/>\n'
        for i in range(7)
    )
    routes = folder / "east.rou.xml"
    routes.write_text(
        '<routes>\n  <flow id="east" from="W_J0" to="J6_E" begin="0" end="600" '
        f'vehsPerHour="900" departLane="best"/>\n{sides}</routes>\n'
    )
    return Scenario("corridor-east", corridor.net_file, (routes,), end=600.0, sumo_args=corridor.sumo_args)


def _platoon_stops(folder: Path, corridor: Scenario, inputs: NativeInputs, depart: float) -> dict:
    """Release 5 vehicles at the first signal (on its exit edge, driving at the progression speed)
    from ``depart`` on, 2 s apart; run the plan as the harness does; return each one's stop count."""
    routes = folder / "platoon.rou.xml"
    vtype = (
        f'<vType id="platoon" sigma="0" speedFactor="{SPEED / 13.89:.4f}" speedDev="0" '
        'lcStrategic="0" lcSpeedGain="0" lcKeepRight="0"/>'
    )
    vehicles = "".join(
        f'  <vehicle id="p{k}" type="platoon" route="east" depart="{depart + 2 * k:g}" '
        f'departLane="1" departSpeed="{SPEED}"/>\n'
        for k in range(5)
    )
    routes.write_text(
        f'<routes>\n  {vtype}\n  <route id="east" edges="{" ".join(EAST)}"/>\n{vehicles}</routes>\n'
    )
    trips = folder / f"trips-{depart:g}-{len(inputs.programs)}.xml"
    scenario = inputs.apply(Scenario("platoon", corridor.net_file, (routes,), end=depart + 1200))
    with SumoConnection(scenario, seed=1, extra_args=["--tripinfo-output", str(trips)]) as conn:
        for tls, program in inputs.programs.items():
            conn.set_program(tls, program)
        conn.simulation_step(scenario.end)
    rows = {t.get("id"): int(t.get("waitingCount")) for t in ET.parse(trips).getroot().iter("tripinfo")}
    assert len(rows) == 5, f"the platoon did not finish: {rows}"
    return rows


def test_a_platoon_meets_green_at_every_signal_of_the_corridor(
    corridor_scenario: Scenario, tmp_path: Path
) -> None:
    scenario = _eastbound_demand(tmp_path, corridor_scenario)
    controller = GreenWave(WebsterSettings(interval=300), GreenWaveSettings(progression_speed=SPEED))
    inputs = controller.sumo_inputs(scenario, tmp_path)
    (chain,) = inputs.info["chains"]
    assert chain["members"] == [f"J{i}" for i in range(7)]
    assert chain["flow_backward"] == 0 and chain["band_forward"] > 10
    plan = ET.parse(tmp_path / "green_wave.add.xml").getroot()
    j0 = plan.find("tlLogic[@id='J0']")
    assert j0 is not None and float(j0.get("offset")) == 0.0  # the arterial green is phase 0
    cycle = chain["cycle"]
    # released when J0's arterial green starts (second cycle: the platoon needs a free road)
    stops = _platoon_stops(tmp_path, corridor_scenario, inputs, depart=cycle + 1.0)
    assert all(n == 0 for n in stops.values()), f"the platoon stopped under the green wave: {stops}"
    # the same platoon under the static plan (no offsets) meets a red somewhere
    static = _platoon_stops(tmp_path, corridor_scenario, NativeInputs(), depart=120 + 1.0)
    assert any(n > 0 for n in static.values()), f"the static plan gave a green wave already: {static}"


def test_green_wave_is_registered() -> None:
    assert make_controller("green_wave").name == "green_wave"
