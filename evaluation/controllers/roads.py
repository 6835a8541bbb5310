"""The road topology fixed-time plans need, read from the ``.net.xml`` (no SUMO run).

Two questions: where does the approach to a signal start (netconvert splits an approach edge where
a turn pocket begins, so the lanes a signal serves can be short stubs: 4 m on a netgenerate grid
with crossings), and which signal does a movement reach next, how far downstream (through split
edges and unsignalised junctions, like :func:`envs.layout.discover`'s neighbour search, which does
the same on a running simulation but knows neither turn directions nor lengths).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from envs.layout import MAX_HOPS
from scenarios.netinfo import parse_xml


@dataclass(frozen=True)
class Link:
    """A connection between two lanes.

    Attributes:
        from_lane: the incoming lane.
        to_lane: the outgoing lane.
        via: the internal lane crossing the junction (``""`` if none).
        direction: SUMO's turn code (``s`` through, ``l``/``L`` left, ``r``/``R`` right, ``t`` U-turn).
        tls: the signal controlling it (``""`` if none).
        index: its signal index in the ``tlLogic`` state (-1 if none).
    """

    from_lane: str
    to_lane: str
    via: str
    direction: str
    tls: str = ""
    index: int = -1


@dataclass(frozen=True)
class Arrival:
    """Where a movement leaving a signal meets the next one.

    Attributes:
        tls: the signal reached.
        lane: the lane it arrives on (a lane that signal controls).
        distance: stop line to stop line (m), junction crossings included.
    """

    tls: str
    lane: str
    distance: float


@dataclass
class RoadNet:
    """Edges, lanes and connections of a net (normal edges only; internal lanes for lengths)."""

    edge_from: dict[str, str] = field(default_factory=dict)
    edge_to: dict[str, str] = field(default_factory=dict)
    lane_edge: dict[str, str] = field(default_factory=dict)
    lane_length: dict[str, float] = field(default_factory=dict)
    node_incoming: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    node_outgoing: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    node_type: dict[str, str] = field(default_factory=dict)
    links: dict[str, list[Link]] = field(default_factory=lambda: defaultdict(list))
    signal_nodes: set[str] = field(default_factory=set)
    edge_lanes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def through_links(self, edge: str, tls: str) -> list[Link]:
        """The through (``s``) links from ``edge``'s lanes that signal ``tls`` controls."""
        return [
            x
            for lane in self.edge_lanes.get(edge, [])
            for x in self.links.get(lane, [])
            if x.direction == "s" and x.tls == tls
        ]

    def approach_edges(self, edge: str) -> tuple[str, ...]:
        """``edge`` and the edges upstream of it that are only pieces of the same road, nearest first:
        walk up while the start node is a plain split (no signal, not a fringe node, one road in and
        one road out, not counting the opposite direction)."""
        chain = [edge]
        while len(chain) <= MAX_HOPS:
            here = chain[-1]
            node = self.edge_from.get(here, "")
            back = self.edge_to.get(here, "")  # the opposite direction's edges start or end there
            ins = [e for e in self.node_incoming.get(node, []) if self.edge_from.get(e) != back]
            if node in self.signal_nodes or self.node_type.get(node) == "dead_end" or len(ins) != 1:
                break
            up = ins[0]
            start = self.edge_from.get(up)
            outs = [e for e in self.node_outgoing.get(node, []) if self.edge_to.get(e) != start]
            if outs != [here] or up in chain:
                break
            chain.append(up)
        return tuple(chain)

    def next_signal(self, link: Link) -> Arrival | None:
        """Follow ``link`` (leaving a signal) straight on to the next lane a signal controls."""
        lane, distance = link.to_lane, self.lane_length.get(link.via, 0.0)
        for _ in range(MAX_HOPS):
            distance += self.lane_length.get(lane, 0.0)
            out = self.links.get(lane, [])
            controlled = [x for x in out if x.tls]
            if controlled:
                return Arrival(controlled[0].tls, lane, distance)
            ahead = [x for x in out if x.direction == "s"]
            if not ahead:
                return None
            distance += self.lane_length.get(ahead[0].via, 0.0)
            lane = ahead[0].to_lane
        return None


def read_road_net(path: Path) -> RoadNet:
    """Parse ``path`` (a ``.net.xml``).

    Raises:
        ScenarioError: the file is missing or malformed.
    """
    root = parse_xml(path, "Network file")
    net = RoadNet()
    for junction in root.iter("junction"):
        net.node_type[junction.get("id", "")] = junction.get("type", "")
        if junction.get("type", "").startswith("traffic_light"):
            net.signal_nodes.add(junction.get("id", ""))
    for edge in root.iter("edge"):
        eid = edge.get("id", "")
        internal = edge.get("function") == "internal"
        for lane in edge.iter("lane"):
            net.lane_length[lane.get("id", "")] = float(lane.get("length", 0.0))
            if not internal:
                net.lane_edge[lane.get("id", "")] = eid
                net.edge_lanes[eid].append(lane.get("id", ""))
        if internal or edge.get("function") in ("walkingarea", "crossing"):
            continue
        net.edge_from[eid], net.edge_to[eid] = edge.get("from", ""), edge.get("to", "")
        net.node_incoming[edge.get("to", "")].append(eid)
        net.node_outgoing[edge.get("from", "")].append(eid)
    for con in root.iter("connection"):
        src = con.get("from", "")
        if src.startswith(":") or src not in net.edge_from:
            continue
        from_lane = f"{src}_{con.get('fromLane')}"
        net.links[from_lane].append(
            Link(
                from_lane,
                f"{con.get('to')}_{con.get('toLane')}",
                con.get("via", ""),
                con.get("dir", "s"),
                con.get("tl", ""),
                int(con.get("linkIndex", -1)) if con.get("tl") else -1,
            )
        )
    return net
