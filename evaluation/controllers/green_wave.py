"""``green_wave``: the fixed-time plan a traffic engineer sets on an arterial.

1. Measure the flows under the static plan and time every signal by Webster (1958), as ``webster``
   does (:mod:`evaluation.controllers.fixed`).
2. Find the arterial chains: each signal keeps the axis (pair of opposite approaches) with the most
   measured flow; two signals are linked when each lies on the other's axis, following the road
   straight on through split edges and unsignalised junctions (:mod:`evaluation.controllers.roads`).
   A grid gives its busiest arterials, a corridor its spine.
3. Each chain runs one common cycle, the longest Webster cycle of its signals (the critical
   intersection sets the cycle; ``max_cycle_factor`` lets it search longer cycles for wider
   bands), and every signal's splits are Webster's at that cycle.
4. Offsets maximise the two-way progression band at the progression speed, both directions weighted
   by their measured arterial flows (MAXBAND, Little 1966; :mod:`evaluation.controllers.bands`).

Signals on no chain keep their own Webster plan; signals Webster cannot time keep their static plan
and are reported, as with ``webster``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.config import GreenWaveSettings, WebsterSettings
from evaluation.controllers import NativeInputs
from evaluation.controllers.bands import ChainProblem, optimise_offsets
from evaluation.controllers.fixed import Measurement, measure_lane_flows, report_fallbacks
from evaluation.controllers.programs import Phase, SignalProgram, TlLogic, write_additional
from evaluation.controllers.roads import RoadNet, read_road_net
from evaluation.controllers.webster import SignalPlan, plan_info, time_signal
from scenarios.scenario import Scenario

PROGRAM_ID = "eval-green-wave"


@dataclass(frozen=True)
class Road:
    """The straight-on road from one signal's approach to the next signal.

    Attributes:
        src: the signal left.
        src_edge: the approach edge at ``src`` whose through movement takes this road.
        dst: the signal reached.
        dst_edge: the approach edge it arrives on at ``dst``.
        distance: stop line to stop line (m).
    """

    src: str
    src_edge: str
    dst: str
    dst_edge: str
    distance: float


@dataclass(frozen=True)
class Chain:
    """Signals along one arterial, in forward order, and the roads between them.

    Attributes:
        members: the signals, first to last.
        forward: ``forward[i]`` is the road from ``members[i]`` to ``members[i + 1]`` (or ``None``).
        backward: ``backward[i]`` is the road from ``members[i + 1]`` to ``members[i]`` (or ``None``).
        forward_edges: per member, its approach edge in the forward direction.
        backward_edges: per member, its approach edge in the backward direction.
    """

    members: tuple[str, ...]
    forward: tuple[Road | None, ...]
    backward: tuple[Road | None, ...]
    forward_edges: tuple[str, ...]
    backward_edges: tuple[str, ...]


def approach_edges(prog: SignalProgram, roads: RoadNet) -> list[str]:
    """The edges a signal's vehicle links come from, in signal-index order."""
    edges = [roads.lane_edge[lane] for lane in prog.link_lanes if lane in roads.lane_edge]
    return list(dict.fromkeys(edges))


def find_roads(programs: dict[str, SignalProgram], roads: RoadNet) -> dict[tuple[str, str], Road]:
    """``{(signal, approach edge): Road}`` for every approach whose through movement reaches another
    of ``programs``' signals."""
    found = {}
    for tls, prog in programs.items():
        for edge in approach_edges(prog, roads):
            arrivals = [a for a in map(roads.next_signal, roads.through_links(edge, tls)) if a is not None]
            arrivals = [a for a in arrivals if a.tls in programs and a.tls != tls]
            if arrivals:
                a = min(arrivals, key=lambda r: r.distance)
                found[(tls, edge)] = Road(tls, edge, a.tls, roads.lane_edge[a.lane], a.distance)
    return found


def find_chains(
    programs: dict[str, SignalProgram], roads: RoadNet, edge_flow: dict[str, float]
) -> list[Chain]:
    """Arterial chains (see the module docstring); ``edge_flow`` is veh/h per approach edge."""
    by_src = find_roads(programs, roads)
    arriving = {(r.dst, r.dst_edge): r for r in by_src.values()}
    axis: dict[str, frozenset[str]] = {}
    for tls, prog in programs.items():
        flows: dict[frozenset[str], float] = defaultdict(float)
        for edge in approach_edges(prog, roads):
            prev, nxt = arriving.get((tls, edge)), by_src.get((tls, edge))
            key = frozenset(r.src if r is prev else r.dst for r in (prev, nxt) if r is not None)
            if key:
                flows[key] += edge_flow.get(edge, 0.0)
        if flows:
            axis[tls] = max(flows, key=lambda k: (flows[k], sorted(k)))
    linked: dict[str, set[str]] = defaultdict(set)
    for t, members in axis.items():
        for u in members:
            if t in axis.get(u, ()):
                linked[t].add(u)
    chains, seen = [], set()
    for start in sorted(programs):
        if start in seen or start not in linked or len(linked[start]) != 1:
            continue
        path = [start]
        while True:
            ahead = [u for u in linked[path[-1]] if u not in path]
            if not ahead:
                break
            path.append(ahead[0])
        seen.update(path)
        chains.append(_chain(path, by_src))
    # rings (every member has two links) are cut at their first member in id order
    for start in sorted(set(linked) - seen):
        if start in seen:
            continue
        path = [start]
        while True:
            ahead = sorted(u for u in linked[path[-1]] if u not in path)
            if not ahead:
                break
            path.append(ahead[0])
        seen.update(path)
        chains.append(_chain(path, by_src))
    return chains


def _chain(path: list[str], by_src: dict[tuple[str, str], Road]) -> Chain:
    def road(a: str, b: str) -> Road | None:
        return next((r for (s, _), r in by_src.items() if s == a and r.dst == b), None)

    n = len(path)
    fwd = tuple(road(path[i], path[i + 1]) for i in range(n - 1))
    bwd = tuple(road(path[i + 1], path[i]) for i in range(n - 1))
    f_edges = [fwd[0].src_edge if fwd[0] else ""] + [r.dst_edge if r else "" for r in fwd]
    b_edges = [r.dst_edge if r else "" for r in bwd] + [bwd[-1].src_edge if bwd[-1] else ""]
    return Chain(tuple(path), fwd, bwd, tuple(f_edges), tuple(b_edges))


def through_green(
    prog: SignalProgram, phases: tuple[Phase, ...], edge: str, roads: RoadNet, cycle: int
) -> np.ndarray:
    """Per second of the cycle (from the start of phase 0): does a through link from ``edge`` have
    green. Yellow is not counted: a band must not rely on it."""
    links = [x.index for x in roads.through_links(edge, prog.tls_id)]
    green = np.zeros(cycle, bool)
    t = 0
    for p in phases:
        d = round(p.duration)
        if any(p.state[i] in "Gg" for i in links if 0 <= i < len(p.state)):
            green[t : t + d] = True
        t += d
    return green


def _edge_flows(measurement: Measurement, roads: RoadNet) -> dict[str, float]:
    """Mean arrivals per edge over the measurement run (veh/h)."""
    total = sum(iv.length for iv in measurement.intervals) or 1.0
    flows: dict[str, float] = defaultdict(float)
    for iv in measurement.intervals:
        for lane, n in iv.counts.items():
            flows[roads.lane_edge.get(lane, "")] += n * 3600.0 / total
    return flows


class GreenWave:
    """Coordinated fixed-time plans along arterial chains (see the module docstring)."""

    native = True
    name = "green_wave"

    def __init__(self, webster: WebsterSettings, settings: GreenWaveSettings) -> None:
        self.webster = webster
        self.settings = settings

    def sumo_inputs(self, scenario: Scenario, workdir: Path) -> NativeInputs:
        """Measure, time, chain and offset the signals.

        Raises:
            ScenarioError: no signal of the scenario could be timed.
        """
        w = self.webster
        measurement = measure_lane_flows(scenario, workdir, w)
        candidates = measurement.flow_ratios(w)
        programs = measurement.programs
        plans = {tls: time_signal(prog, candidates, w) for tls, prog in programs.items()}
        report_fallbacks(self.name, scenario, measurement, plans)
        roads = read_road_net(Path(scenario.net_file))
        timed = {tls: programs[tls] for tls, plan in plans.items() if plan.fallback is None}
        flows = _edge_flows(measurement, roads)
        offsets: dict[str, int] = {}
        chains_info: list[dict[str, Any]] = []
        for chain in find_chains(timed, roads, flows):
            chain_plans, bands, info = self._coordinate(chain, programs, plans, candidates, roads, flows)
            plans.update(chain_plans)
            offsets.update(zip(chain.members, bands))
            chains_info.append(info)
        logics = [
            TlLogic(tls, PROGRAM_ID, plan.phases, offset=offsets.get(tls, 0))
            for tls, plan in plans.items()
            if plan.fallback is None
        ]
        path = write_additional(workdir / "green_wave.add.xml", logics)
        info: dict[str, Any] = {
            tls: {**plan_info(plan), "offset": offsets.get(tls, 0)} for tls, plan in plans.items()
        }
        info["chains"] = chains_info
        return NativeInputs(
            additional_files=(str(path.resolve()),),
            programs={lg.tls_id: PROGRAM_ID for lg in logics},
            info=info,
        )

    def _coordinate(
        self,
        chain: Chain,
        programs: dict[str, SignalProgram],
        plans: dict[str, SignalPlan],
        candidates: list[dict[str, float]],
        roads: RoadNet,
        flows: dict[str, float],
    ) -> tuple[dict[str, SignalPlan], tuple[int, ...], dict]:
        """Common cycle, Webster splits at it, and band-maximising offsets for one chain.

        The cycle is searched, as in MAXBAND, between the critical intersection's Webster cycle and
        ``max_cycle_factor`` times it (Webster 1958: delay stays within a few per cent of the
        minimum for cycles up to 1.5 times the optimum), for the largest flow-weighted band per
        second of cycle.
        """
        speed = self.settings.progression_speed
        w_f = float(np.mean([flows.get(e, 0.0) for e in chain.forward_edges if e] or [0.0]))
        w_b = float(np.mean([flows.get(e, 0.0) for e in chain.backward_edges if e] or [0.0]))
        w_f, w_b = (w_f if any(chain.forward) else 0.0), (w_b if any(chain.backward) else 0.0)

        def travel(ahead: tuple[Road | None, ...], other: tuple[Road | None, ...]) -> list[float]:
            return [(r or o).distance / speed if (r or o) else 0.0 for r, o in zip(ahead, other)]

        critical = round(max(plans[t].cycle for t in chain.members))
        longest = min(critical * self.settings.max_cycle_factor, self.webster.max_cycle)
        best: tuple[float, int] | None = None
        results = {}
        for cycle in range(critical, max(int(longest), critical) + 1):
            timed = {
                t: time_signal(programs[t], candidates, self.webster, cycle=cycle) for t in chain.members
            }
            if any(round(p.cycle) != cycle for p in timed.values()):
                continue  # some member's minimum greens need a longer cycle
            problem = ChainProblem(
                cycle=cycle,
                forward_green=[
                    through_green(programs[t], timed[t].phases, e, roads, cycle)
                    for t, e in zip(chain.members, chain.forward_edges)
                ],
                backward_green=[
                    through_green(programs[t], timed[t].phases, e, roads, cycle)
                    for t, e in zip(chain.members, chain.backward_edges)
                ],
                forward_travel=travel(chain.forward, chain.backward),
                backward_travel=travel(chain.backward, chain.forward),
                forward_weight=w_f,
                backward_weight=w_b,
            )
            bands = optimise_offsets(problem)
            value = (w_f * bands.forward + w_b * bands.backward) / cycle
            results[cycle] = (timed, bands, problem)
            if best is None or value > best[0] + 1e-9:
                best = (value, cycle)
        assert best is not None, f"no common cycle fits chain {chain.members}"
        timed, bands, problem = results[best[1]]
        info = {
            "members": list(chain.members),
            "cycle": best[1],
            "critical_cycle": critical,
            "offsets": list(bands.offsets),
            "band_forward": bands.forward,
            "band_backward": bands.backward,
            "flow_forward": round(w_f, 1),
            "flow_backward": round(w_b, 1),
            "travel_forward": [round(x, 1) for x in problem.forward_travel],
            "travel_backward": [round(x, 1) for x in problem.backward_travel],
            "speed": speed,
        }
        return timed, bands.offsets, info


def register(add: Callable) -> None:
    """Register ``green_wave``."""
    add("green_wave", lambda arg, settings: GreenWave(settings.webster, settings.green_wave))
