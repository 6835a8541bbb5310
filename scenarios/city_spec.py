"""Data of the city generator: its parameters (specs) and the layout it produces.

See :mod:`scenarios.city` for the layout and the WUXI.md fact behind each parameter.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExpresswaySpec:
    """The grade-separated expressway skeleton.

    Attributes:
        ring_share: ring radius as a share of half the ground grid's smaller side.
        radials: number of radial expressways (WUXI.md: "one ring, five radials" by 2011).
        first_radial_deg: direction of the first radial (degrees, counter-clockwise from east).
        interchange_spacing: minimum distance between interchanges along an expressway (m).
        lanes: lanes per carriageway (WUXI.md: expressways 6 lanes, i.e. 3 each way).
        speed_kmh: speed limit (WUXI.md: expressways at 80 km/h).
        ramp_lanes: lanes of each ramp.
        ramp_speed_kmh: ramp speed limit.
        ramp_gap: distance along a carriageway from the crossing to its diverge / merge node (m).
        offset: distance of each carriageway from the expressway's centre line (m).
        min_crossing_deg: no interchange where the expressway crosses an arterial at a flatter
            angle than this (the ramps would run along the arterial).
    """

    ring_share: float = 0.5
    radials: int = 5
    first_radial_deg: float = 18.0
    interchange_spacing: float = 1500.0
    lanes: int = 3
    speed_kmh: float = 80.0
    ramp_lanes: int = 2
    ramp_speed_kmh: float = 50.0
    ramp_gap: float = 250.0
    offset: float = 20.0
    min_crossing_deg: float = 30.0


@dataclass(frozen=True)
class CoreSpec:
    """The irregular old core inside the Jiefang Ring Road.

    Attributes:
        cells: superblocks per side replaced by the core (its ring road runs around them).
        streets: core streets per direction inside the ring road (the lattice is streets x streets).
        jitter: junction displacement as a share of the street spacing (irregular pattern).
        bend: sideways bulge of a street's midpoint as a share of its length (curved streets).
        drop_share: share of lattice streets removed (dead-straight grids are not old towns).
        lanes: lanes per direction of a core street.
        speed_kmh: core speed limit.
        spine_lanes: lanes per direction of the spine (Zhongshan Road, the commercial spine).
    """

    cells: int = 2
    streets: int = 5
    jitter: float = 0.2
    bend: float = 0.12
    drop_share: float = 0.15
    lanes: int = 2
    speed_kmh: float = 40.0
    spine_lanes: int = 3


@dataclass(frozen=True)
class CitySpec:
    """A whole city: supergrid, secondary streets, old core, expressway skeleton.

    Attributes:
        target_signals: exact number of signalised junctions (WUXI.md: 1,723 city-wide).
        arterial_lines: arterials per direction (each runs across the whole city).
        spacing_min: smallest distance between parallel arterials (m; WUXI.md: 500 m).
        spacing_max: largest distance between parallel arterials (m; WUXI.md: 1.5 km).
        lanes: arterial lanes per direction (WUXI.md: 6 lanes, 3 each way).
        speed_kmh: arterial speed limit (WUXI.md: 40-60 km/h, 50 typical).
        secondary_lanes: secondary-street lanes per direction.
        secondary_speed_kmh: secondary-street speed limit (WUXI.md: ground roads 40-60 km/h).
        attach: length of the roads leaving the city at its edge (m).
        pocket: left-turn pocket length on approaches with 3 or more lanes (m).
        min_gap: smallest distance between two junctions along one road (m; closer ones would
            be one junction in reality, and leave no room for a left pocket).
        district_cells: superblocks per side of a demand district.
        layout_seed: seed of the spacings, street choices and core irregularity (the network is
            the same for every build seed; the build seed changes the sampled routes).
        expressway: the expressway skeleton.
        core: the old core.
    """

    target_signals: int
    arterial_lines: int
    spacing_min: float = 500.0
    spacing_max: float = 1500.0
    lanes: int = 3
    speed_kmh: float = 50.0
    secondary_lanes: int = 2
    secondary_speed_kmh: float = 40.0
    attach: float = 300.0
    pocket: float = 100.0
    min_gap: float = 150.0
    district_cells: int = 4
    layout_seed: int = 1723
    expressway: ExpresswaySpec = field(default_factory=ExpresswaySpec)
    core: CoreSpec = field(default_factory=CoreSpec)


@dataclass(frozen=True)
class Node:
    """A plain-XML node: id, position (m) and SUMO junction type."""

    id: str
    x: float
    y: float
    kind: str  # "traffic_light", "priority" or "dead_end"


@dataclass(frozen=True)
class Road:
    """One directed plain-XML edge.

    Attributes:
        u: from-node id.
        v: to-node id.
        lanes: number of lanes.
        speed_kmh: speed limit.
        kind: ``arterial``, ``secondary``, ``core``, ``fringe``, ``expressway`` or ``ramp``.
        priority: SUMO right-of-way rank at unsignalised junctions (higher goes first).
        shape: inner geometry points between the two nodes (m).
    """

    u: str
    v: str
    lanes: int
    speed_kmh: float
    kind: str
    priority: int = 5
    shape: tuple[tuple[float, float], ...] = ()

    @property
    def id(self) -> str:
        """Edge id (``{from}-{to}``)."""
        return f"{self.u}-{self.v}"


@dataclass(frozen=True)
class District:
    """A demand district: a square of superblocks (or the old core).

    Attributes:
        id: ``d{i}_{j}`` or ``core``.
        x: centroid x (m).
        y: centroid y (m).
        signals: signalised junctions inside (the district's activity weight in the gravity model).
        edges: ground edges where the district's trips start and end.
    """

    id: str
    x: float
    y: float
    signals: int
    edges: tuple[str, ...]


@dataclass
class CityLayout:
    """The generated city before compilation.

    Attributes:
        nodes: plain nodes by id.
        roads: directed edges.
        districts: demand districts.
        interchanges: number of expressway-ground interchanges (one ramp terminal each).
        extent: (width, height) of the ground grid (m).
        expressway_km: centre-line length of the expressways (ring + radials, km).
    """

    nodes: dict[str, Node] = field(default_factory=dict)
    roads: list[Road] = field(default_factory=list)
    districts: list[District] = field(default_factory=list)
    interchanges: int = 0
    extent: tuple[float, float] = (0.0, 0.0)
    expressway_km: float = 0.0

    @property
    def n_signals(self) -> int:
        """Signalised nodes."""
        return sum(1 for n in self.nodes.values() if n.kind == "traffic_light")

    def count(self, prefix: str) -> int:
        """Signalised nodes whose id starts with ``prefix``."""
        return sum(1 for n in self.nodes.values() if n.kind == "traffic_light" and n.id.startswith(prefix))


class LineIndex:
    """Nodes on each straight arterial line, kept sorted by their position along the line."""

    def __init__(self, n: int, gap: float) -> None:
        self.gap = gap
        self.pos: list[list[float]] = [[] for _ in range(n)]
        self.ids: list[list[str]] = [[] for _ in range(n)]

    def add(self, line: int, p: float, node: str) -> None:
        """Put ``node`` on ``line`` at position ``p``."""
        k = bisect.bisect(self.pos[line], p)
        self.pos[line].insert(k, p)
        self.ids[line].insert(k, node)

    def clear(self, line: int, p: float) -> bool:
        """No node on ``line`` within the minimum gap of ``p``."""
        k = bisect.bisect(self.pos[line], p)
        near = self.pos[line][max(k - 1, 0) : k + 1]
        return all(abs(q - p) >= self.gap for q in near)

    def has(self, line: int, p: float) -> bool:
        """A node sits exactly at ``p`` on ``line``."""
        return any(abs(q - p) < 1e-6 for q in self.pos[line])


def two_way(
    out: CityLayout,
    a: str,
    b: str,
    lanes: int,
    speed: float,
    kind: str,
    shape: tuple[tuple[float, float], ...] = (),
    priority: int = 5,
) -> None:
    out.roads.append(Road(a, b, lanes, speed, kind, priority, shape))
    out.roads.append(Road(b, a, lanes, speed, kind, priority, tuple(reversed(shape))))
