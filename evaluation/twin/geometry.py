"""The network as the live view draws it: lane shapes, junctions and which lane each signal link
serves, read once from the ``.net.xml``.

Read with :mod:`xml.etree.ElementTree` in one streaming pass (``iterparse``), as
:mod:`scenarios.netinfo` reads nets: a 1,723-signal city is a few hundred thousand elements, and
``sumolib.net.readNet`` would build a full object graph (edges, connections, neighbours) the view
never uses. The geometry is sent to the browser once; per-step frames then carry only values in the
order fixed here (:attr:`NetGeometry.monitored`, :attr:`NetGeometry.signals`).
"""

from __future__ import annotations

import dataclasses
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from core.errors import ScenarioError


@dataclass(frozen=True)
class LaneShape:
    """One lane of a normal (non-internal) edge.

    Attributes:
        lane_id: SUMO lane id.
        from_junction: the junction the lane's edge starts at (upstream).
        to_junction: the junction it ends at (downstream: where its queue stands).
        length: lane length (m).
        shape: the lane's centre line as flat ``x0, y0, x1, y1, ...`` (m, net coordinates).
        upstream: the first real junction upstream: ``from_junction``, or, where that node only
            splits or joins one road (one incoming edge, e.g. where a turn pocket begins), the
            junction found by walking back along the road.
        upstream_gap: metres of road between the lane's start and ``upstream`` (0: adjacent).
    """

    lane_id: str
    from_junction: str
    to_junction: str
    length: float
    shape: tuple[float, ...]
    upstream: str = ""
    upstream_gap: float = 0.0


@dataclass(frozen=True)
class JunctionPoint:
    """A junction's position (m) and whether a signal controls it."""

    junction_id: str
    x: float
    y: float
    signalised: bool


@dataclass(frozen=True)
class SignalLinks:
    """One traffic light: where it stands and which lane each character of its state string serves.

    Attributes:
        tls_id: traffic-light id (the agent name in the environments).
        x: mean x of the junctions it controls (m).
        y: mean y (m).
        link_lanes: per link index (character of the state string), the index into
            :attr:`NetGeometry.lanes` of the link's incoming lane (-1: not a normal lane).
    """

    tls_id: str
    x: float
    y: float
    link_lanes: tuple[int, ...]


@dataclass(frozen=True)
class NetGeometry:
    """Everything the view draws of a net, in a fixed order.

    Attributes:
        net_file: the file it was read from.
        lanes: normal lanes, in file order.
        junctions: junction positions by id.
        signals: traffic lights, sorted by id (the order of a frame's signal states).
        bounds: ``(min_x, min_y, max_x, max_y)`` over lane shapes (m).
    """

    net_file: str
    lanes: tuple[LaneShape, ...]
    junctions: dict[str, JunctionPoint]
    signals: tuple[SignalLinks, ...]
    bounds: tuple[float, float, float, float] = field(default=(0.0, 0.0, 1.0, 1.0))

    @cached_property
    def lane_index(self) -> dict[str, int]:
        """Position of each lane id in :attr:`lanes`."""
        return {lane.lane_id: i for i, lane in enumerate(self.lanes)}

    @cached_property
    def monitored(self) -> tuple[int, ...]:
        """Indices (into :attr:`lanes`) of the lanes that enter a signal, sorted: the lanes whose
        queues a frame carries and the alerts judge (a frame's lane values follow this order)."""
        return tuple(sorted({i for s in self.signals for i in s.link_lanes if i >= 0}))

    @property
    def monitored_ids(self) -> tuple[str, ...]:
        """Lane ids of :attr:`monitored`, in that order."""
        return tuple(self.lanes[i].lane_id for i in self.monitored)

    def to_json(self) -> dict[str, Any]:
        """The compact form the browser reads once (coordinates to 0.1 m, parallel arrays)."""
        return {
            "bounds": [round(b, 1) for b in self.bounds],
            "lanes": {
                "id": [lane.lane_id for lane in self.lanes],
                "length": [round(lane.length, 1) for lane in self.lanes],
                "shape": [[round(c, 1) for c in lane.shape] for lane in self.lanes],
            },
            "junctions": {
                j.junction_id: [round(j.x, 1), round(j.y, 1), int(j.signalised)]
                for j in self.junctions.values()
            },
            "signals": [
                {"id": s.tls_id, "x": round(s.x, 1), "y": round(s.y, 1), "links": list(s.link_lanes)}
                for s in self.signals
            ],
            "monitored": list(self.monitored),
        }


def _shape(text: str | None, where: str) -> tuple[float, ...]:
    out: list[float] = []
    try:
        for point in (text or "").split():
            x, y = point.split(",")[:2]
            out += [float(x), float(y)]
    except ValueError:
        raise ScenarioError(
            f"{where}: malformed shape {text!r}; regenerate the net with netconvert."
        ) from None
    return tuple(out)


def _with_upstream(lanes: list[LaneShape], junctions: dict[str, JunctionPoint]) -> list[LaneShape]:
    """``lanes`` with :attr:`LaneShape.upstream` and ``upstream_gap`` set: walk back from each lane's
    start through nodes with exactly one incoming edge (road splits such as pocket starts) to the
    first node where roads meet, a signal or the network's edge."""
    edges: dict[tuple[str, str], float] = {}  # (from, to) -> length, per normal edge
    for lane in lanes:
        edges.setdefault((lane.from_junction, lane.to_junction), lane.length)
    incoming: dict[str, list[tuple[str, float]]] = {}
    for (u, v), length in edges.items():
        incoming.setdefault(v, []).append((u, length))
    out = []
    for lane in lanes:
        node, gap, seen = lane.from_junction, 0.0, {lane.to_junction}
        while (
            len(incoming.get(node, ())) == 1
            and not (junctions.get(node) and junctions[node].signalised)
            and node not in seen
        ):
            seen.add(node)
            prev, length = incoming[node][0]
            gap += length
            node = prev
        out.append(dataclasses.replace(lane, upstream=node, upstream_gap=gap))
    return out


def read_geometry(net_file: str | Path) -> NetGeometry:
    """Read the lane shapes, junctions and signal links of a SUMO ``.net.xml``.

    Raises:
        ScenarioError: the file is missing or malformed (the message names it).
    """
    path = Path(net_file)
    if not path.is_file():
        raise ScenarioError(f"Network file {path} does not exist; check the scenario's net path.")
    lanes: list[LaneShape] = []
    junctions: dict[str, JunctionPoint] = {}
    links: dict[str, dict[int, str]] = {}
    edge_from = edge_to = ""
    in_normal_edge = False
    try:
        for event, elem in ET.iterparse(path, events=("start", "end")):
            tag = elem.tag
            if event == "start":
                if tag == "edge":
                    in_normal_edge = elem.get("function") in (None, "normal")
                    edge_from, edge_to = elem.get("from", ""), elem.get("to", "")
                continue
            if tag == "lane" and in_normal_edge:
                lane_id = elem.get("id", "")
                lanes.append(
                    LaneShape(
                        lane_id,
                        edge_from,
                        edge_to,
                        float(elem.get("length", "0")),
                        _shape(elem.get("shape"), f"{path}: lane {lane_id}"),
                    )
                )
            elif tag == "edge":
                in_normal_edge = False
            elif tag == "junction" and elem.get("type") != "internal":
                jid = elem.get("id", "")
                junctions[jid] = JunctionPoint(
                    jid,
                    float(elem.get("x", "0")),
                    float(elem.get("y", "0")),
                    elem.get("type", "").startswith("traffic_light"),
                )
            elif tag == "connection" and elem.get("tl") and elem.get("linkIndex") is not None:
                lane = f"{elem.get('from')}_{elem.get('fromLane')}"
                links.setdefault(elem.get("tl", ""), {})[int(elem.get("linkIndex", "0"))] = lane
            if event == "end" and tag in ("lane", "junction", "connection", "tlLogic"):
                elem.clear()
    except ET.ParseError as exc:
        raise ScenarioError(
            f"Network file {path} is not well-formed XML ({exc}); fix or regenerate it."
        ) from None
    except ValueError as exc:
        raise ScenarioError(
            f"Network file {path}: a number could not be read ({exc}); regenerate it."
        ) from None
    lanes = _with_upstream(lanes, junctions)
    index = {lane.lane_id: i for i, lane in enumerate(lanes)}
    to_junction = {lane.lane_id: lane.to_junction for lane in lanes}
    signals = []
    for tls_id in sorted(links):
        by_link = links[tls_id]
        n = max(by_link) + 1
        served = [index.get(by_link.get(k, ""), -1) for k in range(n)]
        points = [
            junctions[j] for j in {to_junction.get(lane, "") for lane in by_link.values()} if j in junctions
        ]
        x = sum(p.x for p in points) / len(points) if points else 0.0
        y = sum(p.y for p in points) / len(points) if points else 0.0
        signals.append(SignalLinks(tls_id, x, y, tuple(served)))
    xs = [c for lane in lanes for c in lane.shape[0::2]]
    ys = [c for lane in lanes for c in lane.shape[1::2]]
    bounds = (min(xs), min(ys), max(xs), max(ys)) if xs else (0.0, 0.0, 1.0, 1.0)
    if not all(math.isfinite(b) for b in bounds):
        raise ScenarioError(f"Network file {path}: lane shapes are not finite; regenerate the net.")
    return NetGeometry(str(path), tuple(lanes), junctions, tuple(signals), bounds)
