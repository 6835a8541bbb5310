"""The city's expressway skeleton: a ring and radials, grade-separated, with ramps to the ground.

Each expressway is a pair of one-way 3-lane carriageways that cross the ground network without a
shared junction. Interchanges are single-point diamonds: where an expressway passes over an
arterial, each carriageway diverges to an off-ramp and merges from an on-ramp, and the four ramps
meet the arterial at one signalised ramp terminal (``T{k}``). Ring and radials meet at
unsignalised merge/diverge junctions. Every expressway node id starts with ``x``.
"""

from __future__ import annotations

import math

from core.errors import ScenarioError
from scenarios.city_spec import CityLayout, CitySpec, ExpresswaySpec, LineIndex, Node, Road


def add_expressways(
    spec: CitySpec, xs: list[float], ys: list[float], out: CityLayout, vert: LineIndex, horiz: LineIndex
) -> None:
    """Ring and radials as pairs of one-way carriageways, with single-point diamond interchanges."""
    e = spec.expressway
    radius = e.ring_share * min(xs[-1], ys[-1])
    core_reach = max(math.hypot(x, y) for n in out.nodes.values() if n.id[0] in "CK" for x, y in [(n.x, n.y)])
    if radius < core_reach + 2 * e.ramp_gap:
        raise ScenarioError(
            f"ExpresswaySpec.ring_share={e.ring_share}: the ring ({radius:.0f} m) would cut the old core "
            f"(which reaches {core_reach:.0f} m from the centre); raise ring_share."
        )
    flat = math.cos(math.radians(e.min_crossing_deg))
    radial_angles = [
        math.radians(e.first_radial_deg + 360.0 * k / e.radials) % (2 * math.pi) for k in range(e.radials)
    ]
    # Ring: crossings with the ground lines, then a greedy choice of interchanges around it.
    found: list[tuple[float, str, int, float]] = []  # (angle, "v"/"h", line, position on the line)
    for i, x in enumerate(xs):
        if abs(x) < radius:
            for sgn in (1.0, -1.0):
                y = sgn * math.sqrt(radius * radius - x * x)
                th = math.atan2(y, x) % (2 * math.pi)
                if abs(math.cos(th)) <= flat:
                    found.append((th, "v", i, y))
    for j, y in enumerate(ys):
        if abs(y) < radius:
            for sgn in (1.0, -1.0):
                x = sgn * math.sqrt(radius * radius - y * y)
                th = math.atan2(y, x) % (2 * math.pi)
                if abs(math.sin(th)) <= flat:
                    found.append((th, "h", j, x))
    found.sort()
    chosen: list[tuple[float, str, int, float]] = []
    keep_off = (2 * e.ramp_gap + 200.0) / radius
    for cand in found:
        th, kind, line, p = cand
        lines = vert if kind == "v" else horiz
        if not lines.clear(line, p):
            continue
        if any(_arc(th, ra) < keep_off for ra in radial_angles):
            continue
        if chosen and (
            _arc(th, chosen[-1][0]) * radius < e.interchange_spacing
            or _arc(th, chosen[0][0]) * radius < e.interchange_spacing
        ):
            continue
        chosen.append(cand)
    g = e.ramp_gap / radius
    ring_a: list[tuple[float, str]] = []  # counter-clockwise carriageway, outer
    ring_b: list[tuple[float, str]] = []  # clockwise carriageway, inner
    for k, th in enumerate(radial_angles):
        ring_a.append((th, f"xAr{k}"))
        ring_b.append((th, f"xBr{k}"))
    for q, (th, kind, line, p) in enumerate(chosen):
        term = _terminal(out, vert if kind == "v" else horiz, kind, line, p)
        ring_a += [(th - g, f"xAd{q}"), (th + g, f"xAm{q}")]
        ring_b += [(th + g, f"xBd{q}"), (th - g, f"xBm{q}")]
        _ramps(out, e, f"xAd{q}", f"xBm{q}", f"xBd{q}", f"xAm{q}", term)
    _ring(out, e, ring_a, radius + e.offset, ccw=True)
    _ring(out, e, ring_b, radius - e.offset, ccw=False)
    total = 2 * math.pi * radius
    # Radials: from the ring out beyond the city's edge.
    reach_x, reach_y = xs[-1] + spec.attach, ys[-1] + spec.attach
    for k, th in enumerate(radial_angles):
        c, s = math.cos(th), math.sin(th)
        r_ground = min(
            xs[-1] / abs(c) if abs(c) > 1e-9 else math.inf, ys[-1] / abs(s) if abs(s) > 1e-9 else math.inf
        )
        r_end = min(
            reach_x / abs(c) if abs(c) > 1e-9 else math.inf, reach_y / abs(s) if abs(s) > 1e-9 else math.inf
        )
        cands: list[tuple[float, str, int, float]] = []
        for i, x in enumerate(xs):
            r = x / c if abs(c) > 1e-9 else -1.0
            if radius + 2 * e.ramp_gap < r < r_ground - e.ramp_gap and abs(s) <= flat:
                cands.append((r, "v", i, r * s))
        for j, y in enumerate(ys):
            r = y / s if abs(s) > 1e-9 else -1.0
            if radius + 2 * e.ramp_gap < r < r_ground - e.ramp_gap and abs(c) <= flat:
                cands.append((r, "h", j, r * c))
        cands.sort()
        last = radius
        outbound = [(radius + e.ramp_gap, f"xOs{k}")]
        inbound = [(radius + e.ramp_gap, f"xIe{k}")]
        for r, kind, line, p in cands:
            lines = vert if kind == "v" else horiz
            if r - last < e.interchange_spacing or not lines.clear(line, p):
                continue
            last = r
            q = f"{k}_{len(outbound)}"
            term = _terminal(out, lines, kind, line, p)
            outbound += [(r - e.ramp_gap, f"xOd{q}"), (r + e.ramp_gap, f"xOm{q}")]
            inbound += [(r + e.ramp_gap, f"xId{q}"), (r - e.ramp_gap, f"xIm{q}")]
            _ramps(out, e, f"xOd{q}", f"xIm{q}", f"xId{q}", f"xOm{q}", term)
        outbound.append((r_end, f"xOe{k}"))
        inbound.append((r_end, f"xIs{k}"))
        right_out = (s * e.offset, -c * e.offset)
        _straight(out, e, sorted(outbound), c, s, right_out, dead_end=f"xOe{k}")
        left = (-right_out[0], -right_out[1])
        _straight(out, e, sorted(inbound, reverse=True), c, s, left, dead_end=f"xIs{k}")
        for ring in ("A", "B"):
            out.roads.append(
                Road(f"x{ring}r{k}", f"xOs{k}", 2, e.speed_kmh, "expressway", 8 if ring == "A" else 7)
            )
            out.roads.append(Road(f"xIe{k}", f"x{ring}r{k}", 2, e.speed_kmh, "expressway", 8))
        total += r_end - radius
    out.expressway_km = total / 1000.0
    out.interchanges = sum(1 for k in out.nodes if k.startswith("T"))


def _arc(a: float, b: float) -> float:
    d = abs(a - b) % (2 * math.pi)
    return min(d, 2 * math.pi - d)


def _terminal(out: CityLayout, lines: LineIndex, kind: str, line: int, p: float) -> str:
    node = f"T{sum(1 for k in out.nodes if k.startswith('T'))}"
    x, y = (out.nodes[lines.ids[line][0]].x, p) if kind == "v" else (p, out.nodes[lines.ids[line][0]].y)
    out.nodes[node] = Node(node, round(x, 1), round(y, 1), "traffic_light")
    lines.add(line, p, node)
    return node


def _ramps(
    out: CityLayout, e: ExpresswaySpec, off_a: str, on_b: str, off_b: str, on_a: str, term: str
) -> None:
    """Four ramps of a single-point diamond: each carriageway's off-ramp into and on-ramp out of
    ``term``; the ramps of one side (``off_a`` in, ``on_b`` out) form one arm of the terminal."""
    for u, v in ((off_a, term), (term, on_b), (off_b, term), (term, on_a)):
        out.roads.append(Road(u, v, e.ramp_lanes, e.ramp_speed_kmh, "ramp", 3))


def _ring(out: CityLayout, e: ExpresswaySpec, events: list[tuple[float, str]], r: float, ccw: bool) -> None:
    two_pi = 2 * math.pi
    ev = sorted(((a % two_pi, n) for a, n in events), reverse=not ccw)
    for a, node in ev:
        out.nodes[node] = Node(node, round(r * math.cos(a), 1), round(r * math.sin(a), 1), "priority")
    step = math.radians(3.0)
    for (a, u), (b, v) in zip(ev, ev[1:] + ev[:1]):
        span = (b - a) % two_pi if ccw else (a - b) % two_pi
        m = int(span / step)
        sign = 1.0 if ccw else -1.0
        shape = tuple(
            (
                round(r * math.cos(a + sign * span * t / (m + 1)), 1),
                round(r * math.sin(a + sign * span * t / (m + 1)), 1),
            )
            for t in range(1, m + 1)
        )
        out.roads.append(Road(u, v, e.lanes, e.speed_kmh, "expressway", 10, shape))


def _straight(
    out: CityLayout,
    e: ExpresswaySpec,
    events: list[tuple[float, str]],
    c: float,
    s: float,
    offset: tuple[float, float],
    dead_end: str,
) -> None:
    for r, node in events:
        kind = "dead_end" if node == dead_end else "priority"
        out.nodes[node] = Node(node, round(r * c + offset[0], 1), round(r * s + offset[1], 1), kind)
    for (_, u), (_, v) in zip(events, events[1:]):
        out.roads.append(Road(u, v, e.lanes, e.speed_kmh, "expressway", 10))
