"""Fixed-time plans as native controllers: the scenario's own static programs, and Webster plans.

Flows come from a measurement run of the static plan (SUMO ``laneData`` per lane and interval:
vehicles arriving on the lane = entered + departed + changed onto it - changed off it, which unlike
the discharge count is not capped by the static plan's capacity); the timing itself is
:mod:`evaluation.controllers.webster`.

A signal that cannot be timed (no measured flow on the lanes it serves, or no stage that limits the
cycle) keeps its static plan and is reported (``info[tls]["fallback"]`` and a warning); when no
signal of a scenario can be timed, :class:`~core.errors.ScenarioError` says which and why: a
baseline that silently runs the static plan is a wrong number in a results table.
"""

from __future__ import annotations

import dataclasses
import warnings
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import ScenarioError
from envs.connection import SumoConnection
from evaluation.config import WebsterSettings
from evaluation.controllers import NativeInputs
from evaluation.controllers.programs import (
    SignalProgram,
    TlLogic,
    read_programs,
    write_additional,
)
from evaluation.controllers.roads import read_road_net
from evaluation.controllers.webster import SignalPlan, plan_info, time_signal
from scenarios.scenario import Scenario

PROGRAM_ID = "eval-webster"


class FixedTime:
    """The scenario's static program, unchanged (SUMO runs it)."""

    native = True
    name = "fixed_time"

    def sumo_inputs(self, scenario: Scenario, workdir: Path) -> NativeInputs:
        return NativeInputs()


@dataclass(frozen=True)
class Interval:
    """One measurement interval: its length (s) and the vehicles arriving on each lane."""

    length: float
    counts: dict[str, float]


@dataclass(frozen=True)
class Measurement:
    """What a measurement run of the static plan saw.

    Attributes:
        programs: the static program of every signal.
        intervals: the ``laneData`` intervals, in time order.
        begin: start of the run (s).
        end: end of the run (s).
    """

    programs: dict[str, SignalProgram]
    intervals: tuple[Interval, ...]
    begin: float
    end: float

    def flow_ratios(self, settings: WebsterSettings) -> list[dict[str, float]]:
        """Candidate design flow ratios ``q / s`` per lane: one per interval (``peak``) or the mean
        over the run (``mean``); each signal is timed for the candidate that loads it most."""
        if settings.design == "mean" or not self.intervals:
            total = sum(iv.length for iv in self.intervals) or 1.0
            counts: dict[str, float] = defaultdict(float)
            for iv in self.intervals:
                for lane, n in iv.counts.items():
                    counts[lane] += n
            return [{lane: n * 3600.0 / total / settings.saturation_flow for lane, n in counts.items()}]
        return [
            {lane: n * 3600.0 / iv.length / settings.saturation_flow for lane, n in iv.counts.items()}
            for iv in self.intervals
        ]


def measure_lane_flows(scenario: Scenario, workdir: Path, settings: WebsterSettings) -> Measurement:
    """Run the static plan once over the scenario's horizon and count arrivals per lane.

    A signal's lanes can be short stubs split off its approach (where a turn pocket starts; 4 m on
    a netgenerate grid with crossings): a queue fills a stub at once, so the vehicles entering it
    are only those the static green discharges, and Webster would re-derive the static split
    (issue #12). So each stub's arrivals are scaled up to those of the busiest piece of its approach
    (:meth:`RoadNet.approach_edges`), keeping the stub's lane shares.
    """
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
    roads = read_road_net(Path(scenario.net_file))
    stubs = {
        roads.lane_edge[lane]
        for prog in programs.values()
        for lane in prog.link_lanes
        if lane in roads.lane_edge
    }
    approaches = {edge: roads.approach_edges(edge) for edge in stubs}
    intervals: list[Interval] = []
    for _, elem in ET.iterparse(out, events=("end",)):
        if elem.tag != "interval":
            continue
        length = float(elem.get("end", 0)) - float(elem.get("begin", 0))
        counts: dict[str, float] = {}
        edge_in: dict[str, float] = defaultdict(float)  # vehicles entering each edge
        edge_lanes: dict[str, list[str]] = defaultdict(list)
        for lane in elem.iter("lane"):
            lane_id = lane.get("id", "")
            n = sum(float(lane.get(k, 0)) for k in ("entered", "departed", "laneChangedTo"))
            counts[lane_id] = max(n - float(lane.get("laneChangedFrom", 0)), 0.0)
            edge = roads.lane_edge.get(lane_id, "")
            edge_in[edge] += float(lane.get("entered", 0)) + float(lane.get("departed", 0))
            edge_lanes[edge].append(lane_id)
        for edge, chain in approaches.items():
            demand = max(edge_in.get(e, 0.0) for e in chain)
            if demand > edge_in.get(edge, 0.0) > 0:
                for lane_id in edge_lanes[edge]:
                    counts[lane_id] *= demand / edge_in[edge]
        if length > 0:
            intervals.append(Interval(length, counts))
        elem.clear()
    return Measurement(programs, tuple(intervals), scenario.begin, scenario.end)


def report_fallbacks(
    controller: str, scenario: Scenario, measurement: Measurement, plans: dict[str, SignalPlan]
) -> None:
    """Refuse when no signal could be timed; warn, naming them, when only some could not.

    Raises:
        ScenarioError: every signal kept its static plan (the message names them and why).
    """
    failed = {tls: p.fallback for tls, p in plans.items() if p.fallback is not None}
    if not failed:
        return
    listed = "; ".join(f"{tls}: {why}" for tls, why in sorted(failed.items())[:8])
    more = f" (and {len(failed) - 8} more)" if len(failed) > 8 else ""
    if len(failed) == len(plans):
        raise ScenarioError(
            f"{controller}: no signal of scenario {scenario.name!r} could be timed, so the plan would "
            f"be the static one: {listed}{more}. The flows come from a run of the static plan over "
            f"{measurement.begin:g}-{measurement.end:g} s: give the scenario demand that crosses its "
            "signals within that horizon (a longer horizon or more demand), or evaluate fixed_time."
        )
    warnings.warn(
        f"{controller}: {len(failed)} of {len(plans)} signals of scenario {scenario.name!r} "
        f"keep their static plan: {listed}{more}",
        stacklevel=3,
    )


class Webster:
    """Webster-optimised fixed-time plans from the scenario's measured flows (see module docstring)."""

    native = True
    name = "webster"

    def __init__(self, settings: WebsterSettings) -> None:
        self.settings = settings

    def sumo_inputs(self, scenario: Scenario, workdir: Path) -> NativeInputs:
        """Measure, time every signal, refuse or warn about the ones that cannot be timed.

        Raises:
            ScenarioError: no signal of the scenario could be timed.
        """
        measurement = measure_lane_flows(scenario, workdir, self.settings)
        candidates = measurement.flow_ratios(self.settings)
        plans = {
            tls: time_signal(prog, candidates, self.settings) for tls, prog in measurement.programs.items()
        }
        report_fallbacks(self.name, scenario, measurement, plans)
        logics = [
            TlLogic(tls, PROGRAM_ID, plan.phases) for tls, plan in plans.items() if plan.fallback is None
        ]
        path = write_additional(workdir / "webster.add.xml", logics)
        return NativeInputs(
            additional_files=(str(path.resolve()),),
            programs={lg.tls_id: PROGRAM_ID for lg in logics},
            info={tls: plan_info(plan) for tls, plan in plans.items()},
        )


def register(add: Callable) -> None:
    """Register ``fixed_time`` and ``webster``."""
    add("fixed_time", lambda arg, settings: FixedTime())
    add("webster", lambda arg, settings: Webster(settings.webster))
