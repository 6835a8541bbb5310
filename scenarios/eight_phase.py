"""Eight-phase programmes for 4-arm junctions with left-turn pockets (FRAP's phase set).

netconvert's layouts give a 4-arm junction 2 greens (lefts yield) or 4 (protected lefts, or each
approach alone). FRAP (Zheng et al. 2019) and MPLight (Chen et al. 2020) control the full set of
eight conflict-free pairs of the eight through/left movements: for each pair of opposite approaches
``a``/``b``, *a alone* (through + left), *both throughs*, *b alone* and *both lefts*. Right turns
ride with their approach's through (they are never green against a conflicting stream).

:func:`eight_phase_net` writes those programmes as a ``tllogic`` file and recompiles the net with
netconvert, so SUMO computes the junction logic for them as for any other programme.
"""

from __future__ import annotations

import math
from pathlib import Path

from scenarios.netinfo import parse_xml
from scenarios.networks import SignalPlan
from scenarios.toolrun import run_binary, strip_generated_header

# Green seconds of (a alone, both throughs, b alone, both lefts), scaled to fill the cycle.
_WEIGHTS = (8.0, 25.0, 8.0, 10.0)


def eight_phase_net(net_path: Path, plan: SignalPlan) -> list[str]:
    """Give every 4-arm signal of ``net_path`` whose approaches all have a left turn the eight
    phases (in place); return the ids of the signals rewritten (sorted).

    The cycle is ``plan.cycle`` (greens in the proportions of ``_WEIGHTS``, a ``plan.yellow``
    yellow wherever a movement loses its green); the programme type is ``plan.tls_type``.
    """
    root = parse_xml(net_path, "Network file")
    xy = {j.get("id"): (float(j.get("x", 0)), float(j.get("y", 0))) for j in root.iter("junction")}
    ends = {e.get("id"): (e.get("from"), e.get("to")) for e in root.iter("edge")}
    links: dict[str, dict[int, tuple[str, bool]]] = {}
    for con in root.iter("connection"):
        tl = con.get("tl")
        if tl:
            left = con.get("dir") in ("l", "L")
            links.setdefault(tl, {})[int(con.get("linkIndex", "0"))] = (con.get("from", ""), left)
    logics = []
    for tls in sorted(links):
        by_link = links[tls]
        approaches = sorted({edge for edge, _ in by_link.values()}, key=lambda e: _angle(e, ends, xy))
        with_left = {edge for edge, left in by_link.values() if left}
        if len(approaches) != 4 or with_left != set(approaches):
            continue
        logics.append(_logic(tls, by_link, approaches, plan))
    if not logics:
        return []
    tll = net_path.with_name("eight.tll.xml")
    tll.write_text("<tlLogics>\n" + "".join(x for _, x in logics) + "</tlLogics>\n", encoding="utf-8")
    out = net_path.with_name("eight.net.xml")
    run_binary("netconvert", ["--sumo-net-file", net_path, "--tllogic-files", tll, "-o", out])
    out.replace(net_path)
    tll.unlink()
    strip_generated_header(net_path)
    return [tls for tls, _ in logics]


def _angle(edge: str, ends: dict, xy: dict) -> float:
    """Direction from the junction towards where ``edge`` comes from (radians)."""
    start, end = ends[edge]
    (x0, y0), (x1, y1) = xy[end], xy[start]
    return math.atan2(y1 - y0, x1 - x0)


def _logic(
    tls: str, by_link: dict[int, tuple[str, bool]], approaches: list[str], plan: SignalPlan
) -> tuple[str, str]:
    n = max(by_link) + 1
    greens: list[set[tuple[str, bool]]] = []
    for a, b in ((approaches[0], approaches[2]), (approaches[1], approaches[3])):
        greens += [
            {(a, False), (a, True)},
            {(a, False), (b, False)},
            {(b, False), (b, True)},
            {(a, True), (b, True)},
        ]
    budget = plan.cycle - len(greens) * plan.yellow
    durations = [max(5, round(budget * w / (2 * sum(_WEIGHTS)))) for w in _WEIGHTS * 2]
    states = [[by_link.get(k) in g for k in range(n)] for g in greens]
    phases = []
    for i, (state, seconds) in enumerate(zip(states, durations)):
        nxt = states[(i + 1) % len(states)]
        phases.append(_phase(seconds, "".join("G" if on else "r" for on in state)))
        if any(on and not later for on, later in zip(state, nxt)):
            yellow = "".join(
                "y" if on and not later else ("G" if on else "r") for on, later in zip(state, nxt)
            )
            phases.append(_phase(plan.yellow, yellow))
    head = f'  <tlLogic id="{tls}" type="{plan.tls_type}" programID="0" offset="0">\n'
    return tls, head + "".join(phases) + "  </tlLogic>\n"


def _phase(seconds: float, state: str) -> str:
    return f'    <phase duration="{seconds}" state="{state}"/>\n'
