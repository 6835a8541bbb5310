"""Demand: fringe-to-fringe flows with junction turning shares and Poisson arrivals.

Pipeline (all deterministic from the build seed):

1. A turn-ratio file gives every junction approach the scenario's left/through/right shares
   (renormalised over the movements that exist; U-turns are never generated).
2. SUMO's ``jtrrouter`` samples a few hundred vehicle routes per source edge from those ratios
   (``--seed`` = the build seed), each ending at a fringe sink edge.
3. The sampled routes of each source become one ``<routeDistribution>`` (probability = share of
   samples), and each source gets one ``<flow>`` per time slice with Poisson arrivals
   ``period="exp(rate)"`` whose rate follows the scenario's time profile.

Because arrivals and route choice are drawn by SUMO at run time, one built scenario yields a
different realised demand for every SUMO ``--seed`` (the environment passes one per episode).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scenarios.netinfo import NetInfo
from scenarios.toolrun import run_binary

# vType of all generated traffic: SUMO's passenger-car defaults (Krauss model), with lane choice
# and speed at insertion set so that the fringe roads do not become a bottleneck themselves.
_VTYPE = (
    '    <vType id="car" vClass="passenger" length="5.0" minGap="2.5" accel="2.6" decel="4.5" '
    'sigma="0.5" speedFactor="normc(1.0,0.1,0.2,2.0)"/>\n'
)


@dataclass(frozen=True)
class TurnShares:
    """Probabilities of turning left / going through / turning right at a junction approach."""

    left: float = 0.20
    through: float = 0.65
    right: float = 0.15

    def of(self, direction: str) -> float:
        """Share for a SUMO connection direction code (``s``, ``l``, ``L``, ``r``, ``R``; ``t`` = 0)."""
        if direction in ("l", "L"):
            return self.left
        if direction in ("r", "R"):
            return self.right
        if direction == "s":
            return self.through
        return 0.0  # "t" (turnaround) and invalid codes: never generated


@dataclass(frozen=True)
class Slice:
    """A time slice with a constant arrival rate factor (1.0 = the peak rate)."""

    begin: float
    end: float
    factor: float


def peak_profile(
    horizon: float = 3600.0,
    slice_s: float = 300.0,
    ramp: float = 900.0,
    peak: float = 1800.0,
    low: float = 0.55,
    tail: float = 0.65,
) -> list[Slice]:
    """A morning-peak profile: linear ramp-up, flat peak, linear decline, in constant slices.

    Args:
        horizon: profile length (s); the decline fills whatever follows ``ramp + peak``.
        slice_s: slice length (s); each slice uses the profile value at its midpoint.
        ramp: ramp-up duration (s), from ``low`` to 1.0.
        peak: peak duration (s) at factor 1.0.
        low: factor at time 0.
        tail: factor at ``horizon``.
    """
    slices: list[Slice] = []
    t = 0.0
    decline = max(horizon - ramp - peak, 1e-9)
    while t < horizon - 1e-9:
        end = min(t + slice_s, horizon)
        mid = (t + end) / 2
        if mid < ramp:
            f = low + (1.0 - low) * mid / ramp
        elif mid < ramp + peak:
            f = 1.0
        else:
            f = 1.0 - (1.0 - tail) * (mid - ramp - peak) / decline
        slices.append(Slice(t, end, round(f, 4)))
        t = end
    return slices


def write_turn_ratios(net: NetInfo, shares: TurnShares, path: Path, end: float) -> None:
    """Write a jtrrouter turn-ratio file (``<edgeRelations>``) from the net's connections."""
    lines = ["<edgeRelations>", f'  <interval begin="0" end="{end:.0f}">']
    for src in sorted(net.turns):
        succ = {dst: shares.of(d) for dst, d in net.turns[src].items() if not dst.startswith(":")}
        total = sum(succ.values())
        if total <= 0:
            continue
        for dst in sorted(succ):
            if succ[dst] > 0:
                lines.append(
                    f'    <edgeRelation from="{src}" to="{dst}" probability="{succ[dst] / total:.6f}"/>'
                )
    lines += ["  </interval>", "</edgeRelations>", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def sample_routes(
    net: NetInfo,
    shares: TurnShares,
    folder: Path,
    seed: int,
    samples: int = 400,
    max_signals: int | None = None,
) -> dict[str, Counter[tuple[str, ...]]]:
    """Sample ``samples`` routes per source edge with jtrrouter; return route counts per source.

    Args:
        net: the network.
        shares: turning shares at every junction approach.
        folder: scratch folder for jtrrouter's input and output.
        seed: jtrrouter's ``--seed``.
        samples: routes sampled per source.
        max_signals: drop sampled routes crossing more signals than this (on rings, turning-ratio
            routing otherwise produces vehicles circling the ring several times; trips in a city
            are not random walks).
    """
    turns = folder / "turns.xml"
    flows = folder / "sources.flows.xml"
    out = folder / "sampled.rou.xml"
    write_turn_ratios(net, shares, turns, end=3600)
    body = "".join(
        f'  <flow id="{src}" from="{src}" begin="0" end="3600" number="{samples}"/>\n' for src in net.sources
    )
    flows.write_text(f"<routes>\n{body}</routes>\n", encoding="utf-8")
    run_binary(
        "jtrrouter",
        [
            "-n",
            net.path,
            "-r",
            flows,
            "-t",
            turns,
            "-o",
            out,
            "--sink-edges",
            ",".join(net.sinks),
            "--seed",
            seed,
            "--begin",
            0,
            "--end",
            3600,
            "--no-step-log",
            "true",
            "--no-warnings",
            "true",
            "--ignore-errors",
            "true",
        ],
    )
    counts: dict[str, Counter[tuple[str, ...]]] = {src: Counter() for src in net.sources}
    for veh in ET.parse(out).getroot().iter("vehicle"):
        route = veh.find("route")
        if route is None:
            continue
        edges = tuple(route.get("edges", "").split())
        crossed = sum(1 for e in edges if e in net.into_signal)
        if max_signals is not None and crossed > max_signals:
            continue
        if edges and edges[0] in counts and edges[-1] in net.sinks:
            counts[edges[0]][edges] += 1
    for tmp in (turns, flows, out, out.with_suffix(".alt.xml")):
        tmp.unlink(missing_ok=True)
    return counts


def write_flows(
    path: Path,
    routes: Mapping[str, Mapping[tuple[str, ...], float]],
    rates: Mapping[str, float],
    slices: Sequence[Slice],
    scale: float = 1.0,
) -> float:
    """Write route distributions and Poisson flows; return the expected number of vehicles.

    Args:
        path: output ``.rou.xml``.
        routes: sampled route counts (or weights) per source edge (or origin district).
        rates: peak arrival rate per source edge (veh/h); sources missing here get no demand.
        slices: time slices with rate factors.
        scale: multiplies every rate (``demand_scale``).
    """
    out = ["<routes>\n", _VTYPE]
    for src in sorted(routes):
        counter = routes[src]
        total = sum(counter.values())
        if total == 0 or rates.get(src, 0.0) <= 0:
            continue
        out.append(f'    <routeDistribution id="rd_{src}">\n')
        ordered = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        for k, (edges, n) in enumerate(ordered):
            out.append(
                f'        <route id="r_{src}_{k}" edges="{" ".join(edges)}" probability="{n / total:.6f}"/>\n'
            )
        out.append("    </routeDistribution>\n")
    expected = 0.0
    flows: list[tuple[float, str, str]] = []
    for k, sl in enumerate(slices):
        for src in sorted(routes):
            veh_h = rates.get(src, 0.0) * sl.factor * scale
            if veh_h <= 0 or not routes[src]:
                continue
            expected += veh_h * (sl.end - sl.begin) / 3600.0
            flows.append(
                (
                    sl.begin,
                    f"{src}.{k}",
                    (
                        f'    <flow id="{src}.{k}" type="car" route="rd_{src}" begin="{sl.begin:.0f}" '
                        f'end="{sl.end:.0f}" period="exp({veh_h / 3600.0:.6f})" departLane="best" '
                        f'departSpeed="max"/>\n'
                    ),
                )
            )
    out += [line for _, _, line in sorted(flows)]
    out.append("</routes>\n")
    path.write_text("".join(out), encoding="utf-8")
    return expected
