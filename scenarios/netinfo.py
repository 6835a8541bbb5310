"""Read what the scenario layer needs from a SUMO ``.net.xml``: edges, fringe, turns, signals.

Parsing uses :mod:`xml.etree.ElementTree` (no SUMO needed) and raises :class:`ScenarioError` naming
the file on malformed XML, so it doubles as the first validation step of external scenarios.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ScenarioError


@dataclass(frozen=True)
class SignalInfo:
    """One traffic light of a net (its first programme).

    Attributes:
        tls_id: traffic-light id.
        n_phases: phases in the programme (greens, yellows, reds).
        n_greens: distinct phase states containing a green (``G``/``g``) and no yellow.
        incoming_lanes: distinct lanes the signal controls.
        cycle: sum of phase durations (s).
        tls_type: programme type (``static``, ``actuated``, ...).
        n_links: signal links (the movements of a ``movement`` observation).
    """

    tls_id: str
    n_phases: int
    n_greens: int
    incoming_lanes: int
    cycle: float
    tls_type: str
    n_links: int = 0


@dataclass
class NetInfo:
    """The parts of a net the scenario layer uses.

    Attributes:
        path: the net file.
        edges: ids of normal (non-internal) edges.
        sources: edges starting at a fringe (dead-end) node: where demand enters.
        sinks: edges ending at a fringe node: where demand leaves.
        turns: per edge, its successor edges with SUMO's direction code (``s``, ``l``, ``r``, ``t``...).
        signals: the traffic lights.
        lanes: number of normal lanes.
        into_signal: edges that end at a signalised junction (a route's count of them is the
            number of signals it crosses).
    """

    path: Path
    edges: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)
    sinks: list[str] = field(default_factory=list)
    turns: dict[str, dict[str, str]] = field(default_factory=dict)
    signals: list[SignalInfo] = field(default_factory=list)
    lanes: int = 0
    into_signal: set[str] = field(default_factory=set)


def parse_xml(path: Path, what: str) -> ET.Element:
    """Parse an XML file, turning a missing file or malformed XML into :class:`ScenarioError`."""
    if not path.is_file():
        raise ScenarioError(
            f"{what} {path} does not exist; check the path (relative paths in a "
            ".sumocfg are relative to the .sumocfg's folder)."
        )
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ScenarioError(
            f"{what} {path} is not well-formed XML ({exc}); fix or regenerate the file."
        ) from exc


def read_net(path: Path) -> NetInfo:
    """Read edges, fringe edges, turning directions and signals of a ``.net.xml``.

    Raises:
        ScenarioError: the file is missing, malformed, or not a SUMO network.
    """
    root = parse_xml(path, "Network file")
    if root.tag != "net":
        raise ScenarioError(
            f"Network file {path} has root <{root.tag}>, not <net>; pass a SUMO "
            ".net.xml (convert other formats with netconvert)."
        )
    info = NetInfo(path=path)
    dead_ends = {j.get("id") for j in root.iter("junction") if j.get("type") == "dead_end"}
    signalised = {j.get("id") for j in root.iter("junction") if j.get("type", "").startswith("traffic_light")}
    for edge in root.iter("edge"):
        if edge.get("function") == "internal":
            continue
        eid = edge.get("id", "")
        info.edges.add(eid)
        info.lanes += len(edge.findall("lane"))
        if edge.get("from") in dead_ends:
            info.sources.append(eid)
        if edge.get("to") in dead_ends:
            info.sinks.append(eid)
        if edge.get("to") in signalised:
            info.into_signal.add(eid)
    tls_lanes: dict[str, set[str]] = {}
    tls_links: dict[str, set[str]] = {}
    for con in root.iter("connection"):
        src, dst = con.get("from", ""), con.get("to", "")
        if src.startswith(":") or src not in info.edges:
            continue
        info.turns.setdefault(src, {})[dst] = con.get("dir", "s")
        if con.get("tl"):
            tls_lanes.setdefault(con.get("tl", ""), set()).add(f"{src}_{con.get('fromLane')}")
            tls_links.setdefault(con.get("tl", ""), set()).add(con.get("linkIndex", ""))
    for logic in root.iter("tlLogic"):
        tls_id = logic.get("id", "")
        if any(s.tls_id == tls_id for s in info.signals):
            continue  # only the first programme of each signal
        try:
            states = [(float(p.get("duration", "0")), p.get("state", "")) for p in logic.iter("phase")]
        except ValueError:
            raise ScenarioError(
                f"Network file {path}: traffic light {tls_id!r} has a phase whose "
                "duration is not a number of seconds; fix or regenerate the net."
            ) from None
        greens = {s for _, s in states if ("G" in s or "g" in s) and "y" not in s.lower()}
        info.signals.append(
            SignalInfo(
                tls_id,
                len(states),
                len(greens),
                len(tls_lanes.get(tls_id, ())),
                sum(d for d, _ in states),
                logic.get("type", "static"),
                len(tls_links.get(tls_id, ())),
            )
        )
    info.sources.sort()
    info.sinks.sort()
    return info


def check_generated(info: NetInfo) -> None:
    """Invariant of every catalogue net: each signal has at least two green phases.

    Raises:
        ScenarioError: a generated signal has fewer than two greens (a generator bug).
    """
    bad = [s.tls_id for s in info.signals if s.n_greens < 2]
    if not info.signals or bad:
        raise ScenarioError(
            f"Generated net {info.path} has signals with fewer than two green phases "
            f"({bad or 'no signals at all'}); this is a bug in the scenario generator."
        )
