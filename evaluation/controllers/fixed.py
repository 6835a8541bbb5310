"""Fixed-time plans: the scenario's own static programs, and Webster-optimised ones.

Webster (1958), "Traffic signal settings", Road Research Technical Paper 39: for a junction with
total lost time ``L`` per cycle and critical flow ratios ``y_i = q_i / s`` of its phases,
``Y = sum(y_i)``, the delay-minimising cycle is ``C0 = (1.5 L + 5) / (1 - Y)`` and the effective
green ``C0 - L`` is split in proportion to ``y_i``.

Flows come from a measurement run of the static plan (SUMO ``laneData`` per lane and interval:
vehicles arriving on the lane = entered + departed + changed onto it - changed off it, which unlike
the discharge count is not capped by the static plan's capacity). Each lane is a candidate critical
lane of the green phases that give it priority green (``G``; ``g`` only if it never has ``G``); a
lane served by several phases shares its ratio among them, and a lane green in every phase (e.g. a
free right turn) never limits the cycle.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from envs.connection import SumoConnection
from evaluation.config import WebsterSettings
from evaluation.controllers import NativeInputs
from evaluation.controllers.programs import (
    Phase,
    SignalProgram,
    TlLogic,
    read_programs,
    write_additional,
)
from scenarios.scenario import Scenario

PROGRAM_ID = "eval-webster"


class FixedTime:
    """The scenario's static program, unchanged (SUMO runs it)."""

    native = True
    name = "fixed_time"

    def sumo_inputs(self, scenario: Scenario, workdir: Path) -> NativeInputs:
        return NativeInputs()


def measure_lane_flows(
    scenario: Scenario, workdir: Path, settings: WebsterSettings
) -> tuple[dict[str, SignalProgram], list[tuple[float, dict[str, float]]]]:
    """Run the static plan once; return the static programs and per interval ``(length_s,
    {lane: arriving vehicles})``."""
    out = workdir / "lanes.xml"
    add = workdir / "measure.add.xml"
    add.write_text(
        f'<additional>\n    <laneData id="webster" file="{out.resolve()}" '
        f'period="{settings.interval:g}" excludeEmpty="true"/>\n</additional>\n'
    )
    measured = dataclasses.replace(scenario, additional_files=(*scenario.additional_files, add.resolve()))
    with SumoConnection(measured, seed=settings.measure_seed) as conn:
        programs = read_programs(conn)
        conn.simulation_step(scenario.end)
    intervals: list[tuple[float, dict[str, float]]] = []
    for _, elem in ET.iterparse(out, events=("end",)):
        if elem.tag != "interval":
            continue
        length = float(elem.get("end", 0)) - float(elem.get("begin", 0))
        counts = {}
        for lane in elem.iter("lane"):
            n = sum(float(lane.get(k, 0)) for k in ("entered", "departed", "laneChangedTo"))
            counts[lane.get("id", "")] = max(n - float(lane.get("laneChangedFrom", 0)), 0.0)
        if length > 0:
            intervals.append((length, counts))
        elem.clear()
    return programs, intervals


def critical_ratios(prog: SignalProgram, flow_ratio: dict[str, float]) -> dict[int, float]:
    """Critical flow ratio ``y`` of each green phase (indices into ``prog.phases``)."""
    greens = prog.green_indices
    served: dict[str, list[int]] = defaultdict(list)
    lanes = sorted({lane for lane in prog.link_lanes if lane})
    for lane in lanes:
        links = [i for i, x in enumerate(prog.link_lanes) if x == lane]
        major = [k for k in greens if any(prog.phases[k].state[i] == "G" for i in links)]
        minor = [k for k in greens if any(prog.phases[k].state[i] in "Gg" for i in links)]
        served[lane] = major or minor
    y = {k: 0.0 for k in greens}
    for lane, phases in served.items():
        if not phases or len(phases) == len(greens):
            continue
        share = flow_ratio.get(lane, 0.0) / len(phases)
        for k in phases:
            y[k] = max(y[k], share)
    return y


def webster_plan(
    prog: SignalProgram, y: dict[int, float], settings: WebsterSettings
) -> tuple[list[Phase], dict[str, float]]:
    """Webster cycle and green splits for one signal; returns the phases and what was computed."""
    lost = sum(p.duration for k, p in enumerate(prog.phases) if k not in y)
    total_y = sum(y.values())
    if total_y <= 0:
        return list(prog.phases), {"Y": 0.0, "cycle": prog.cycle, "lost": lost}
    # Y close to 1 is oversaturated: Webster's formula diverges; the longest cycle is the answer.
    c0 = (1.5 * lost + 5.0) / (1.0 - total_y) if total_y < 0.9 else settings.max_cycle
    cycle = min(max(c0, settings.min_cycle), settings.max_cycle)
    effective = max(cycle - lost, settings.min_green * len(y))
    greens = {k: effective * v / total_y for k, v in y.items()}
    # Respect min green: fix short phases at min_green, share the rest by the remaining ratios.
    fixed: set[int] = set()
    while True:
        short = {k for k, g in greens.items() if g < settings.min_green and k not in fixed}
        if not short:
            break
        fixed |= short
        rest = effective - settings.min_green * len(fixed)
        free_y = sum(y[k] for k in y if k not in fixed)
        greens = {
            k: settings.min_green
            if k in fixed
            else (rest * y[k] / free_y if free_y > 0 else rest / max(len(y) - len(fixed), 1))
            for k in y
        }
    rounded = {k: float(round(g)) for k, g in greens.items()}
    biggest = max(rounded, key=lambda k: (rounded[k], -k))
    rounded[biggest] += round(sum(greens.values())) - sum(rounded.values())  # keep the cycle
    phases = [Phase(rounded[k] if k in rounded else p.duration, p.state) for k, p in enumerate(prog.phases)]
    return phases, {
        "Y": round(total_y, 4),
        "cycle": sum(p.duration for p in phases),
        "lost": lost,
        "c0": round(c0, 1),
    }


class Webster:
    """Webster-optimised fixed-time plans from the scenario's measured flows (see module docstring)."""

    native = True
    name = "webster"

    def __init__(self, settings: WebsterSettings) -> None:
        self.settings = settings

    def sumo_inputs(self, scenario: Scenario, workdir: Path) -> NativeInputs:
        s = self.settings
        programs, intervals = measure_lane_flows(scenario, workdir, s)
        logics, info = [], {}
        for tls, prog in programs.items():
            if not prog.green_indices:
                continue
            candidates = []
            if s.design == "mean" or not intervals:
                total = sum(length for length, _ in intervals) or 1.0
                counts: dict[str, float] = defaultdict(float)
                for _, c in intervals:
                    for lane, n in c.items():
                        counts[lane] += n
                candidates.append(
                    {lane: n * 3600.0 / total / s.saturation_flow for lane, n in counts.items()}
                )
            else:
                for length, c in intervals:
                    candidates.append(
                        {lane: n * 3600.0 / length / s.saturation_flow for lane, n in c.items()}
                    )
            ys = [critical_ratios(prog, ratio) for ratio in candidates]
            y = max(ys, key=lambda d: sum(d.values()))  # the design interval: the busiest one
            phases, info[tls] = webster_plan(prog, y, s)
            logics.append(TlLogic(tls, PROGRAM_ID, phases))
        path = write_additional(workdir / "webster.add.xml", logics)
        return NativeInputs(
            additional_files=(str(path.resolve()),),
            programs={lg.tls_id: PROGRAM_ID for lg in logics},
            info=info,
        )


def register(add: Callable) -> None:
    """Register ``fixed_time`` and ``webster``."""
    add("fixed_time", lambda arg, settings: FixedTime())
    add("webster", lambda arg, settings: Webster(settings.webster))
