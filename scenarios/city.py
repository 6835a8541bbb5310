"""A whole Wuxi-like city as plain SUMO node/edge XML, compiled by ``netconvert``.

The layout follows the structure facts of ``WUXI.md`` (parameters and the layout's data types in
:mod:`scenarios.city_spec`, the expressways in :mod:`scenarios.city_expressway`):

* **Supergrid districts**: straight 6-lane (3+3) signalised arterials in both directions whose
  spacing is drawn from 500 m - 1.5 km (the superblocks of about 1 km^2 between the big roads).
* **Secondary streets**: 2+2-lane streets through a superblock, joining the arterials at signalised
  T-junctions (crossing at the block centre where a block has one each way). They are added one by
  one, in an order drawn from the layout seed, until the city has exactly ``target_signals``
  signals: the number of signals is a parameter, not an accident of the geometry.
* **The old core** (inside the Jiefang Ring Road): the arterials stop at a ring road around the
  central superblocks; inside it, an irregular lattice of narrower curved streets (jittered
  junctions, bent edges, a share of links removed), with one straight spine (Zhongshan Road)
  continuing the middle north-south arterial.
* **The expressway skeleton**: one ring and ``radials`` radials ("one ring, five radials"), each a
  pair of one-way 3-lane carriageways at 80 km/h that cross the ground network grade-separated
  (no shared junction, so no signal). Interchanges are single-point diamonds: at an arterial the
  expressway passes over, each carriageway diverges to an off-ramp and merges from an on-ramp, and
  the four ramps meet the arterial at one signalised ramp terminal. Ring and radials meet at
  unsignalised merge/diverge junctions.

Node ids say what a node is: ``A{i}_{j}`` arterial crossing, ``S...`` secondary-street junction,
``C{c}_{r}`` core street junction, ``K...`` core boundary junction, ``T{k}`` ramp terminal,
``x...`` expressway (never signalised), ``F...`` fringe (dead end). Edge ids are ``{from}-{to}``;
a left pocket is the split-off last part ``{from}-{to}.L``.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import quoteattr

from core.errors import ScenarioError
from scenarios.city_expressway import add_expressways
from scenarios.city_spec import (
    CityLayout,
    CitySpec,
    CoreSpec,
    District,
    ExpresswaySpec,
    LineIndex,
    Node,
    Road,
    two_way,
)
from scenarios.networks import KMH, SignalPlan
from scenarios.toolrun import run_binary, strip_generated_header

__all__ = [
    "CityLayout",
    "CitySpec",
    "CoreSpec",
    "District",
    "ExpresswaySpec",
    "Node",
    "Road",
    "compile_net",
    "generate",
]


def generate(spec: CitySpec) -> CityLayout:
    """Lay out the city (deterministic from ``spec.layout_seed``).

    Raises:
        ScenarioError: the spec cannot reach ``target_signals`` (too few or too many arterials).
    """
    rng = random.Random(spec.layout_seed)
    n = spec.arterial_lines
    if n < spec.core.cells + 3:
        raise ScenarioError(f"CitySpec.arterial_lines={n}: need at least core.cells + 3 arterials.")
    xs = _positions(rng, n, spec.spacing_min, spec.spacing_max)
    ys = _positions(rng, n, spec.spacing_min, spec.spacing_max)
    out = CityLayout(extent=(xs[-1] - xs[0], ys[-1] - ys[0]))
    vert = LineIndex(n, spec.min_gap)  # vertical arterial i: its nodes by y
    horiz = LineIndex(n, spec.min_gap)  # horizontal arterial j: its nodes by x
    lo = n // 2 - spec.core.cells // 2
    core = (lo, lo + spec.core.cells)  # boundary line indices of the core (its ring road)

    def inside(i: int, j: int) -> bool:
        return core[0] < i < core[1] and core[0] < j < core[1]

    def add_node(node: Node) -> None:
        out.nodes[node.id] = node

    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            if not inside(i, j):
                add_node(Node(f"A{i}_{j}", x, y, "traffic_light"))
                vert.add(i, y, f"A{i}_{j}")
                horiz.add(j, x, f"A{i}_{j}")
    _add_core(spec, rng, xs, ys, core, out, vert, horiz)
    add_expressways(spec, xs, ys, out, vert, horiz)
    _add_secondaries(spec, rng, xs, ys, core, out, vert, horiz)
    # Arterials: consecutive nodes along each line, fringe roads at both ends; no arterial
    # inside the core (its streets replace them).
    for i, x in enumerate(xs):
        _line_roads(
            spec,
            out,
            vert.ids[i],
            f"Fs{i}",
            f"Fn{i}",
            (x, ys[0] - spec.attach),
            (x, ys[-1] + spec.attach),
            skip=(f"A{i}_{core[0]}", f"A{i}_{core[1]}") if core[0] < i < core[1] else None,
        )
    for j, y in enumerate(ys):
        _line_roads(
            spec,
            out,
            horiz.ids[j],
            f"Fw{j}",
            f"Fe{j}",
            (xs[0] - spec.attach, y),
            (xs[-1] + spec.attach, y),
            skip=(f"A{core[0]}_{j}", f"A{core[1]}_{j}") if core[0] < j < core[1] else None,
        )
    if out.n_signals != spec.target_signals:
        raise ScenarioError(
            f"CitySpec(target_signals={spec.target_signals}, arterial_lines={n}): the layout has "
            f"{out.n_signals} signals; change arterial_lines (more lines give more signals)."
        )
    out.districts = _districts(spec, xs, ys, core, out)
    return out


def _positions(rng: random.Random, n: int, lo: float, hi: float) -> list[float]:
    gaps = [round(rng.uniform(lo, hi), 1) for _ in range(n - 1)]
    pos = [0.0]
    for g in gaps:
        pos.append(pos[-1] + g)
    mid = pos[-1] / 2
    return [round(p - mid, 1) for p in pos]


def _line_roads(
    spec: CitySpec,
    out: CityLayout,
    ids: list[str],
    first: str,
    last: str,
    first_xy: tuple[float, float],
    last_xy: tuple[float, float],
    skip: tuple[str, str] | None,
) -> None:
    out.nodes[first] = Node(first, *first_xy, "dead_end")
    out.nodes[last] = Node(last, *last_xy, "dead_end")
    chain = [first, *ids, last]
    for a, b in zip(chain, chain[1:]):
        if skip is not None and {a, b} == set(skip):
            continue
        kind = "fringe" if a.startswith("F") or b.startswith("F") else "arterial"
        two_way(out, a, b, spec.lanes, spec.speed_kmh, kind)


def _add_core(
    spec: CitySpec,
    rng: random.Random,
    xs: list[float],
    ys: list[float],
    core: tuple[int, int],
    out: CityLayout,
    vert: LineIndex,
    horiz: LineIndex,
) -> None:
    """The old core: a jittered lattice of curved streets inside the boundary arterials."""
    c = spec.core
    x0, x1, y0, y1 = xs[core[0]], xs[core[1]], ys[core[0]], ys[core[1]]
    cols = _core_lines(x0, x1, c.streets, xs[core[0] + 1 : core[1]])
    rows = _core_lines(y0, y1, c.streets, ys[core[0] + 1 : core[1]])
    spine = min(range(len(cols)), key=lambda k: abs(cols[k] - xs[(core[0] + core[1]) // 2]))
    dx, dy = (x1 - x0) / (c.streets + 1), (y1 - y0) / (c.streets + 1)
    for ci, cx in enumerate(cols):
        for ri, ry in enumerate(rows):
            jx = 0.0 if ci == spine else rng.uniform(-c.jitter, c.jitter) * dx
            jy = rng.uniform(-c.jitter, c.jitter) * dy
            out.nodes[f"C{ci}_{ri}"] = Node(
                f"C{ci}_{ri}", round(cx + jx, 1), round(ry + jy, 1), "traffic_light"
            )
    links: list[tuple[str, str]] = []
    for ci in range(len(cols)):
        for ri in range(len(rows)):
            if ci + 1 < len(cols):
                links.append((f"C{ci}_{ri}", f"C{ci + 1}_{ri}"))
            if ri + 1 < len(rows):
                links.append((f"C{ci}_{ri}", f"C{ci}_{ri + 1}"))
    # Boundary junctions on the ring road (an existing arterial crossing where a core street
    # continues an arterial, else a new T-junction).
    edge_nodes: list[tuple[str, str]] = []
    for ci, cx in enumerate(cols):
        for ri, line, y in ((0, core[0], y0), (len(rows) - 1, core[1], y1)):
            edge_nodes.append((f"C{ci}_{ri}", _boundary(out, horiz, line, cx, (cx, y), xs)))
    for ri, ry in enumerate(rows):
        for ci, line, x in ((0, core[0], x0), (len(cols) - 1, core[1], x1)):
            edge_nodes.append((f"C{ci}_{ri}", _boundary(out, vert, line, ry, (x, ry), ys)))
    degree = {k: 0 for k in out.nodes if k.startswith("C")}
    for a, b in links + edge_nodes:
        for k in (a, b):
            if k in degree:
                degree[k] += 1
    kept = set(links)
    on_spine = {f"C{spine}_{ri}" for ri in range(len(rows))}
    candidates = [lk for lk in links if not (lk[0] in on_spine and lk[1] in on_spine)]
    rng.shuffle(candidates)
    for a, b in candidates[: int(round(c.drop_share * len(links)))]:
        if degree[a] > 3 and degree[b] > 3 and _connected(kept - {(a, b)}, degree):
            kept.discard((a, b))
            degree[a] -= 1
            degree[b] -= 1
    for a, b in [lk for lk in links if lk in kept] + edge_nodes:
        na, nb = out.nodes[a], out.nodes[b]
        # The spine column is not jittered: its streets (and its two links to the ring road)
        # are the straight ones at the spine's x.
        if na.x == nb.x == cols[spine]:
            two_way(out, a, b, c.spine_lanes, spec.speed_kmh, "core")
            continue
        bulge = rng.uniform(-c.bend, c.bend)
        mx, my = (na.x + nb.x) / 2, (na.y + nb.y) / 2
        length = math.hypot(nb.x - na.x, nb.y - na.y)
        px, py = -(nb.y - na.y) / length, (nb.x - na.x) / length
        shape = ((round(mx + px * bulge * length, 1), round(my + py * bulge * length, 1)),)
        two_way(out, a, b, c.lanes, c.speed_kmh, "core", shape)


def _core_lines(lo: float, hi: float, k: int, arterials: Iterable[float]) -> list[float]:
    """``k`` evenly spaced street positions in (lo, hi), each arterial snapped to its nearest one."""
    pos = [lo + (hi - lo) * (m + 1) / (k + 1) for m in range(k)]
    for a in arterials:
        m = min(range(k), key=lambda q: abs(pos[q] - a))
        pos[m] = a
    return [round(p, 1) for p in pos]


def _boundary(
    out: CityLayout, lines: LineIndex, line: int, p: float, xy: tuple[float, float], grid: list[float]
) -> str:
    for q, node in zip(lines.pos[line], lines.ids[line]):
        if abs(q - p) < 1e-6:
            return node
    node = f"K{len([k for k in out.nodes if k.startswith('K')])}"
    out.nodes[node] = Node(node, round(xy[0], 1), round(xy[1], 1), "traffic_light")
    lines.add(line, p, node)
    return node


def _connected(links: set[tuple[str, str]], nodes: dict[str, int]) -> bool:
    adj: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in links:
        adj[a].append(b)
        adj[b].append(a)
    start = next(iter(adj))
    seen, todo = {start}, [start]
    while todo:
        for m in adj[todo.pop()]:
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return len(seen) == len(adj)


def _add_secondaries(
    spec: CitySpec,
    rng: random.Random,
    xs: list[float],
    ys: list[float],
    core: tuple[int, int],
    out: CityLayout,
    vert: LineIndex,
    horiz: LineIndex,
) -> None:
    """Secondary streets through superblocks, added in a seeded order until the target is met."""
    n = len(xs)
    cells = [
        (i, j)
        for i in range(n - 1)
        for j in range(n - 1)
        if not (core[0] <= i < core[1] and core[0] <= j < core[1])
    ]
    rng.shuffle(cells)
    first = [(cell, rng.choice("NE")) for cell in cells]
    second = [(cell, "E" if o == "N" else "N") for cell, o in first]
    need = spec.target_signals - out.n_signals
    if need < 0:
        raise ScenarioError(
            f"CitySpec(target_signals={spec.target_signals}): the arterials, core and ramps alone have "
            f"{out.n_signals} signals; lower arterial_lines."
        )
    chosen: dict[tuple[int, int], set[str]] = {}
    for (i, j), o in first + second:
        if need == 0:
            break
        mx, my = round((xs[i] + xs[i + 1]) / 2, 1), round((ys[j] + ys[j + 1]) / 2, 1)
        ends = [(horiz, j, mx), (horiz, j + 1, mx)] if o == "N" else [(vert, i, my), (vert, i + 1, my)]
        new = [(ln, k, p) for ln, k, p in ends if not ln.has(k, p)]
        if any(not ln.clear(k, p) for ln, k, p in new):
            continue
        delta = len(new) + (1 if chosen.get((i, j)) else 0)
        if delta > need:
            continue
        for ln, k, p in new:
            node = f"Sh{k}_{i}" if ln is horiz else f"Sv{k}_{j}"
            xy = (p, ys[k]) if ln is horiz else (xs[k], p)
            out.nodes[node] = Node(node, *xy, "traffic_light")
            ln.add(k, p, node)
        chosen.setdefault((i, j), set()).add(o)
        need -= delta
    for (i, j), kinds in sorted(chosen.items()):
        sl, sv = spec.secondary_lanes, spec.secondary_speed_kmh
        south, north, west, east = f"Sh{j}_{i}", f"Sh{j + 1}_{i}", f"Sv{i}_{j}", f"Sv{i + 1}_{j}"
        if kinds == {"N"}:
            two_way(out, south, north, sl, sv, "secondary")
        elif kinds == {"E"}:
            two_way(out, west, east, sl, sv, "secondary")
        else:
            centre = f"Sc{i}_{j}"
            x, y = out.nodes[south].x, out.nodes[west].y
            out.nodes[centre] = Node(centre, x, y, "traffic_light")
            for a in (south, north, west, east):
                two_way(out, a, centre, sl, sv, "secondary")


def _districts(
    spec: CitySpec, xs: list[float], ys: list[float], core: tuple[int, int], out: CityLayout
) -> list[District]:
    """Squares of ``district_cells`` superblocks, plus the old core as its own district."""
    n, dc = len(xs), spec.district_cells
    box = (xs[core[0]], xs[core[1]], ys[core[0]], ys[core[1]])

    def of(x: float, y: float) -> str:
        if box[0] < x < box[1] and box[2] < y < box[3]:
            return "core"
        i = min(max(bisect.bisect(xs, x) - 1, 0), n - 2) // dc
        j = min(max(bisect.bisect(ys, y) - 1, 0), n - 2) // dc
        return f"d{i}_{j}"

    edges: dict[str, list[str]] = {}
    for road in out.roads:
        if road.kind in ("arterial", "secondary", "core"):
            a, b = out.nodes[road.u], out.nodes[road.v]
            edges.setdefault(of((a.x + b.x) / 2, (a.y + b.y) / 2), []).append(road.id)
    signals: dict[str, list[Node]] = {}
    for node in out.nodes.values():
        if node.kind == "traffic_light":
            signals.setdefault(of(node.x, node.y), []).append(node)
    result = []
    for d in sorted(edges):
        members = signals.get(d, [])
        if d == "core":
            cx, cy = (box[0] + box[1]) / 2, (box[2] + box[3]) / 2
        else:
            i, j = (int(v) for v in d[1:].split("_"))
            i1, j1 = min((i + 1) * dc, n - 1), min((j + 1) * dc, n - 1)
            cx, cy = (xs[i * dc] + xs[i1]) / 2, (ys[j * dc] + ys[j1]) / 2
        result.append(District(d, round(cx, 1), round(cy, 1), len(members), tuple(sorted(edges[d]))))
    return result


def compile_net(layout: CityLayout, spec: CitySpec, plan: SignalPlan, folder: Path) -> Path:
    """Write the layout as plain XML and compile it with netconvert; return the ``.net.xml``."""
    nodes = [
        f'  <node id="{n.id}" x="{n.x:.1f}" y="{n.y:.1f}" type="{n.kind}"/>'
        for n in sorted(layout.nodes.values(), key=lambda n: n.id)
    ]
    edges = [_edge_xml(layout, road, spec.pocket) for road in layout.roads]
    nod, edg, net = folder / "city.nod.xml", folder / "city.edg.xml", folder / "net.net.xml"
    nod.write_text("<nodes>\n" + "\n".join(nodes) + "\n</nodes>\n", encoding="utf-8")
    edg.write_text("<edges>\n" + "\n".join(edges) + "\n</edges>\n", encoding="utf-8")
    run_binary("netconvert", ["-n", nod, "-e", edg, "-o", net, *plan.options()], timeout=1800)
    nod.unlink()
    edg.unlink()
    strip_generated_header(net)
    return net


def _edge_xml(layout: CityLayout, road: Road, pocket: float) -> str:
    a, b = layout.nodes[road.u], layout.nodes[road.v]
    attrs = (
        f"  <edge id={quoteattr(road.id)} from={quoteattr(road.u)} to={quoteattr(road.v)} "
        f'numLanes="{road.lanes}" speed="{road.speed_kmh * KMH:.2f}" priority="{road.priority}"'
    )
    if road.shape:
        pts = [(a.x, a.y), *road.shape, (b.x, b.y)]
        attrs += ' shape="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"'
    length = sum(
        math.hypot(q[0] - p[0], q[1] - p[1])
        for p, q in zip([(a.x, a.y), *road.shape], [*road.shape, (b.x, b.y)])
    )
    if road.lanes < 3 or b.kind != "traffic_light" or road.kind in ("ramp", "expressway"):
        return attrs + "/>"
    lanes_after = " ".join(str(i) for i in range(road.lanes + 1))
    pos = min(pocket, length / 3)
    return (
        attrs + f'>\n    <split pos="{-pos:.1f}" lanes="{lanes_after}" '
        f"idBefore={quoteattr(road.id)} idAfter={quoteattr(road.id + '.L')}/>\n  </edge>"
    )
