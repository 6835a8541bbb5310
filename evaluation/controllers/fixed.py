"""Fixed-time plans: the scenario's own static programs, and Webster-optimised ones.

Webster (1958), "Traffic signal settings", Road Research Technical Paper 39: for a junction with
total lost time ``L`` per cycle and critical flow ratios ``y_i = q_i / s`` of its stages,
``Y = sum(y_i)``, the delay-minimising cycle is ``C0 = (1.5 L + 5) / (1 - Y)`` and the effective
green ``C0 - L`` is split in proportion to ``y_i``.

A *stage* is a run of consecutive green phases with no yellow between them: the vehicles it serves
see one uninterrupted green. Nets with pedestrian crossings split every vehicle green into a walk
phase and a short clearance phase (crossings red, vehicles still green), so a four-stage junction
has eight green phases; timing each phase as a stage of its own gave every phase the minimum green
whatever the flows (issue #12). Webster sets the duration of each stage's longest phase; the other
phases of a stage (clearances) keep their static durations.

Flows come from a measurement run of the static plan (SUMO ``laneData`` per lane and interval:
vehicles arriving on the lane = entered + departed + changed onto it - changed off it, which unlike
the discharge count is not capped by the static plan's capacity). Each lane is a candidate critical
lane of the stages that give it priority green (``G``; ``g`` only if it never has ``G``); a lane
served by several stages shares its ratio among them, and a lane green in every stage (e.g. a free
right turn) never limits the cycle.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ScenarioError
from envs.connection import SumoConnection
from evaluation.config import WebsterSettings
from evaluation.controllers import NativeInputs
from evaluation.controllers.programs import (
    Phase,
    SignalProgram,
    TlLogic,
    is_green,
    read_programs,
    write_additional,
)
from evaluation.controllers.roads import read_road_net
from scenarios.scenario import Scenario

PROGRAM_ID = "eval-webster"
# The main phase of a stage keeps at least this long when the stage is shortened: it carries the
# pedestrian walk where a net has crossings (SUMO's default tls.crossing-min.time is 4 s).
MIN_MAIN_PHASE = 4.0


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


@dataclass(frozen=True)
class Stage:
    """Consecutive green phases (indices into the program, cycle order) with no yellow between.

    Attributes:
        phases: the stage's phases.
        main: the phase whose duration Webster sets (the longest in the static plan).
    """

    phases: tuple[int, ...]
    main: int


def green_stages(prog: SignalProgram) -> list[Stage]:
    """The stages of a program; a run of greens that wraps past the last phase is one stage."""
    n = len(prog.phases)
    green = [is_green(p.state) for p in prog.phases]
    if all(green):
        return [Stage(tuple(range(n)), max(range(n), key=lambda k: (prog.phases[k].duration, -k)))]
    start = next(k for k in range(n) if not green[k])  # walk the cycle from a non-green phase
    runs: list[list[int]] = []
    for step in range(1, n + 1):
        k = (start + step) % n
        if green[k]:
            if not green[(k - 1) % n] or not runs:
                runs.append([])
            runs[-1].append(k)
    runs.sort(key=lambda r: r[0])
    return [Stage(tuple(r), max(r, key=lambda k: (prog.phases[k].duration, -k))) for r in runs]


def stage_lanes(prog: SignalProgram, stages: Sequence[Stage]) -> dict[str, list[int]]:
    """Per incoming lane, the mains of the stages that serve it (``G``; ``g`` if it never has ``G``)."""
    served: dict[str, list[int]] = {}
    for lane in sorted({lane for lane in prog.link_lanes if lane and not lane.startswith(":")}):
        links = [i for i, x in enumerate(prog.link_lanes) if x == lane]
        major = [
            st.main for st in stages if any(prog.phases[k].state[i] == "G" for k in st.phases for i in links)
        ]
        minor = [
            st.main for st in stages if any(prog.phases[k].state[i] in "Gg" for k in st.phases for i in links)
        ]
        served[lane] = major or minor
    return served


def critical_ratios(prog: SignalProgram, flow_ratio: dict[str, float]) -> dict[int, float]:
    """Critical flow ratio ``y`` of each stage, keyed by the stage's main phase index. Lanes of
    walking areas (``:...``: a crossing's link) carry no vehicles and are ignored."""
    stages = green_stages(prog)
    y = {st.main: 0.0 for st in stages}
    for lane, mains in stage_lanes(prog, stages).items():
        if not mains or len(mains) == len(stages):
            continue
        share = flow_ratio.get(lane, 0.0) / len(mains)
        for k in mains:
            y[k] = max(y[k], share)
    return y


@dataclass(frozen=True)
class SignalPlan:
    """A signal's fixed-time plan and what was computed for it.

    Attributes:
        phases: the phases to run (the static ones when ``fallback`` is set).
        info: what was computed (``Y``, ``cycle``, ``lost``, ``c0``, per-stage ``y`` and green).
        fallback: why the signal could not be timed and keeps its static plan (``None``: timed).
    """

    phases: tuple[Phase, ...]
    info: dict[str, Any] = field(default_factory=dict)
    fallback: str | None = None

    @property
    def cycle(self) -> float:
        return sum(p.duration for p in self.phases)


def _split(effective: float, y: dict[int, float], mins: dict[int, float]) -> dict[int, float]:
    """Share ``effective`` green in proportion to ``y``, no stage below its minimum."""
    total_y = sum(y.values())
    greens = {k: effective * v / total_y for k, v in y.items()}
    fixed: set[int] = set()
    while True:  # fix short stages at their minimum, share the rest by the remaining ratios
        short = {k for k, g in greens.items() if g < mins[k] - 1e-9 and k not in fixed}
        if not short:
            return greens
        fixed |= short
        rest = effective - sum(mins[k] for k in fixed)
        free_y = sum(y[k] for k in y if k not in fixed)
        n_free = max(len(y) - len(fixed), 1)
        greens = {
            k: mins[k] if k in fixed else (rest * y[k] / free_y if free_y > 0 else rest / n_free) for k in y
        }


def webster_plan(
    prog: SignalProgram, y: dict[int, float], settings: WebsterSettings, cycle: float | None = None
) -> SignalPlan:
    """Webster cycle and green splits for one signal.

    Args:
        prog: the static program (its phase order, yellows and all-reds are kept).
        y: critical flow ratio per stage (keys: the stages' main phases, see :func:`critical_ratios`).
        settings: cycle and green limits.
        cycle: impose this cycle (a coordinated plan's common cycle) instead of Webster's own; it is
            still raised to what the minimum greens need.
    """
    stages = {st.main: st for st in green_stages(prog)}
    stage_of = {k: st for st in stages.values() for k in st.phases}
    lost = sum(p.duration for k, p in enumerate(prog.phases) if k not in stage_of)
    total_y = sum(y.values())
    if total_y <= 0:
        return SignalPlan(
            prog.phases,
            {"Y": 0.0, "cycle": prog.cycle, "lost": lost},
            "no stage limits the cycle (every critical flow ratio is 0)",
        )
    fixed = {m: sum(prog.phases[k].duration for k in st.phases if k != m) for m, st in stages.items()}
    mins = {m: max(settings.min_green, fixed[m] + MIN_MAIN_PHASE) for m in stages}
    # Y close to 1 is oversaturated: Webster's formula diverges; the longest cycle is the answer.
    c0 = (1.5 * lost + 5.0) / (1.0 - total_y) if total_y < 0.9 else settings.max_cycle
    target = cycle if cycle is not None else min(max(c0, settings.min_cycle), settings.max_cycle)
    effective = max(target - lost, sum(mins.values()))
    greens = _split(effective, {m: y.get(m, 0.0) for m in stages}, mins)
    rounded = {k: float(round(g)) for k, g in greens.items()}
    biggest = max(rounded, key=lambda k: (rounded[k], -k))
    rounded[biggest] += round(sum(greens.values())) - sum(rounded.values())  # keep the cycle
    phases = tuple(
        Phase(rounded[k] - fixed[k] if k in rounded else p.duration, p.state)
        for k, p in enumerate(prog.phases)
    )
    info = {
        "Y": round(total_y, 4),
        "cycle": sum(p.duration for p in phases),
        "lost": lost,
        "c0": round(c0, 1),
        "stages": [
            {"phases": list(stages[m].phases), "y": round(y.get(m, 0.0), 4), "green": rounded[m]}
            for m in sorted(stages)
        ],
    }
    return SignalPlan(phases, info)


def time_signal(
    prog: SignalProgram,
    candidates: list[dict[str, float]],
    settings: WebsterSettings,
    cycle: float | None = None,
) -> SignalPlan:
    """Webster plan of one signal for the candidate flow ratios that load it most, or its static
    plan with the reason it could not be timed (see :class:`SignalPlan`)."""
    stages = green_stages(prog) if prog.green_indices else []
    if len(stages) < 2:
        return SignalPlan(
            prog.phases,
            {"cycle": prog.cycle},
            f"it has {len(stages)} green stage(s): there is no split to set",
        )
    served = stage_lanes(prog, stages)
    limiting = sorted(lane for lane, mains in served.items() if mains and len(mains) < len(stages))
    if not limiting:
        return SignalPlan(
            prog.phases,
            {"cycle": prog.cycle},
            "every lane it serves is green in every stage, so no stage limits the cycle",
        )
    ys = [critical_ratios(prog, ratio) for ratio in candidates] or [{}]
    y = max(ys, key=lambda d: sum(d.values()))  # the design interval: the busiest one
    if sum(y.values()) <= 0:
        return SignalPlan(
            prog.phases,
            {"cycle": prog.cycle, "lanes": len(limiting)},
            f"no vehicle was measured on the {len(limiting)} lanes its stages serve (e.g. {limiting[0]})",
        )
    return webster_plan(prog, y, settings, cycle)


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


def plan_info(plan: SignalPlan) -> dict[str, Any]:
    """A plan's info, with its fallback reason when it keeps the static plan."""
    return {**plan.info, "fallback": plan.fallback} if plan.fallback else dict(plan.info)


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
