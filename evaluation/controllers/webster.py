"""Webster (1958) signal timing, as arithmetic on a signal's program and measured flow ratios.

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

Each lane is a candidate critical lane of the stages that give it priority green (``G``; ``g`` only
if it never has ``G``); a lane served by several stages shares its ratio among them, and a lane
green in every stage (e.g. a free right turn) never limits the cycle. No SUMO here: the flows come
from :func:`evaluation.controllers.fixed.measure_lane_flows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evaluation.config import WebsterSettings
from evaluation.controllers.programs import Phase, SignalProgram, is_green

# The main phase of a stage keeps at least this long when the stage is shortened: it carries the
# pedestrian walk where a net has crossings (SUMO's default tls.crossing-min.time is 4 s).
MIN_MAIN_PHASE = 4.0


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


def plan_info(plan: SignalPlan) -> dict[str, Any]:
    """A plan's info, with its fallback reason when it keeps the static plan."""
    return {**plan.info, "fallback": plan.fallback} if plan.fallback else dict(plan.info)
