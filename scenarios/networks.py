"""Road networks of the catalogue, generated with SUMO's ``netgenerate`` and ``netconvert``.

Three generators cover every catalogue scenario:

* :func:`arterial_net` - an east-west arterial with ``n`` signalised junctions and a side street at
  each (plain XML nodes/edges written here, compiled by ``netconvert``); one junction gives the
  single-intersection scenario, seven give the corridor.
* :func:`grid_net` - a ``netgenerate --grid`` supergrid with roads attached at the fringe.
* :func:`spider_net` - a ``netgenerate --spider`` ring-plus-radial net.

All share :class:`SignalPlan`, the fixed-time programme netconvert derives for every signal: a
120 s cycle, 3 s yellow and, where an approach has a dedicated left-turn pocket, a protected left
phase (``--tls.minor-left.max-speed`` below any real speed forbids permissive lefts across
oncoming traffic on those approaches). Turnarounds are never built (``--no-turnarounds``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from scenarios.toolrun import run_binary, strip_generated_header

KMH = 1.0 / 3.6


@dataclass(frozen=True)
class SignalPlan:
    """Parameters of the static signal programmes netconvert generates.

    Attributes:
        cycle: cycle length in seconds (WUXI.md: peak cycles of 120-135 s).
        yellow: yellow time in seconds after every green.
        left_green: green time of each protected left phase in seconds.
        tls_type: ``"static"`` (fixed time) or ``"actuated"`` (gap-based, for comparisons).
    """

    cycle: int = 120
    yellow: int = 3
    left_green: int = 20
    tls_type: str = "static"

    def options(self) -> list[str]:
        """Command-line options shared by netgenerate and netconvert."""
        return [
            "--tls.cycle.time",
            str(self.cycle),
            "--tls.yellow.time",
            str(self.yellow),
            "--tls.left-green.time",
            str(self.left_green),
            # Lefts from a dedicated pocket get their own protected phase instead of a
            # permissive 'g' across oncoming through traffic (protected lefts: WUXI.md).
            "--tls.minor-left.max-speed",
            "0.1",
            "--tls.default-type",
            self.tls_type,
            "--no-turnarounds",
            "true",
            "--no-warnings",
            "true",
        ]


@dataclass(frozen=True)
class ArterialSpec:
    """An east-west arterial with signalised junctions and a north-south side street at each.

    Attributes:
        n_signals: number of signalised junctions.
        spacing: distance between consecutive junctions (m).
        approach: length of the arterial's end roads and of each side street (m).
        lanes: arterial lanes per direction.
        side_lanes: side-street lanes per direction, one entry per junction.
        speed_kmh: arterial speed limit.
        side_speed_kmh: side-street speed limit.
        pocket: length of the left-turn pocket added on approaches with ``>= 3`` lanes (m).
    """

    n_signals: int
    spacing: float
    approach: float
    lanes: int
    side_lanes: tuple[int, ...]
    speed_kmh: float = 50.0
    side_speed_kmh: float = 50.0
    pocket: float = 100.0


def arterial_net(folder: Path, spec: ArterialSpec, plan: SignalPlan) -> Path:
    """Write plain XML for an arterial and compile it with netconvert; return the ``.net.xml``.

    Junctions are ``J0 .. J{n-1}`` from west to east; fringe nodes are ``W``, ``E``, ``N{i}``, ``S{i}``.
    Edge ids are ``{from}_{to}``; a left pocket is the split-off last part ``{from}_{to}.L``.
    """
    assert len(spec.side_lanes) == spec.n_signals, "one side-street lane count per junction"
    nodes: list[str] = []
    edges: list[str] = []
    xs = [spec.approach + i * spec.spacing for i in range(spec.n_signals)]
    east = xs[-1] + spec.approach
    nodes.append(_node("W", 0.0, 0.0, "dead_end"))
    nodes.append(_node("E", east, 0.0, "dead_end"))
    chain = ["W"] + [f"J{i}" for i in range(spec.n_signals)] + ["E"]
    chain_x = [0.0, *xs, east]
    for i, x in enumerate(xs):
        nodes.append(_node(f"J{i}", x, 0.0, "traffic_light"))
        nodes.append(_node(f"N{i}", x, spec.approach, "dead_end"))
        nodes.append(_node(f"S{i}", x, -spec.approach, "dead_end"))
        side = spec.side_lanes[i]
        for far in (f"N{i}", f"S{i}"):
            edges.append(_edge(far, f"J{i}", side, spec.side_speed_kmh, spec.pocket if side >= 3 else 0))
            edges.append(_edge(f"J{i}", far, side, spec.side_speed_kmh, 0))
    for a, b in zip(range(len(chain) - 1), range(1, len(chain))):
        length = chain_x[b] - chain_x[a]
        pocket = min(spec.pocket, length / 3)
        for u, v in ((chain[a], chain[b]), (chain[b], chain[a])):
            into_signal = v.startswith("J")
            edges.append(_edge(u, v, spec.lanes, spec.speed_kmh, pocket if into_signal else 0))
    nod = folder / "plain.nod.xml"
    edg = folder / "plain.edg.xml"
    nod.write_text("<nodes>\n" + "\n".join(nodes) + "\n</nodes>\n", encoding="utf-8")
    edg.write_text("<edges>\n" + "\n".join(edges) + "\n</edges>\n", encoding="utf-8")
    net = folder / "net.net.xml"
    run_binary("netconvert", ["-n", nod, "-e", edg, "-o", net, *plan.options()])
    nod.unlink()
    edg.unlink()
    strip_generated_header(net)
    return net


@dataclass(frozen=True)
class GridSpec:
    """A ``netgenerate --grid`` supergrid.

    Attributes:
        nx: junctions west-east.
        ny: junctions south-north.
        block: distance between junctions (m).
        attach: length of the roads attached at the fringe (m).
        lanes: lanes per direction.
        speed_kmh: speed limit.
        pocket: left-turn pocket length (m).
    """

    nx: int
    ny: int
    block: float
    attach: float
    lanes: int = 3
    speed_kmh: float = 50.0
    pocket: float = 100.0


def grid_net(
    folder: Path, spec: GridSpec, plan: SignalPlan, *, turn_lanes: int = 1, extra: Sequence[str] = ()
) -> Path:
    """Generate a supergrid with netgenerate; return the ``.net.xml``.

    ``turn_lanes`` left-turn pockets per approach (0: lefts share a lane and yield); ``extra``
    netgenerate options (e.g. ``--tls.layout incoming``) are added.
    """
    net = folder / "net.net.xml"
    run_binary(
        "netgenerate",
        [
            "--grid",
            "--grid.x-number",
            spec.nx,
            "--grid.y-number",
            spec.ny,
            "--grid.length",
            spec.block,
            "--grid.attach-length",
            spec.attach,
            *generate_options(spec.lanes, spec.speed_kmh, spec.pocket, turn_lanes),
            *plan.options(),
            *extra,
            "-o",
            net,
        ],
    )
    strip_generated_header(net)
    return net


@dataclass(frozen=True)
class SpiderSpec:
    """A ``netgenerate --spider`` ring-plus-radial network.

    Attributes:
        arms: number of radials.
        circles: number of rings.
        radius: distance between rings (m).
        omit_center: leave out the central junction (radials end at the innermost ring).
        attach: length of the radials' extensions beyond the outer ring (m).
        lanes: lanes per direction.
        speed_kmh: speed limit.
        pocket: left-turn pocket length (m).
    """

    arms: int
    circles: int
    radius: float
    omit_center: bool
    attach: float
    lanes: int = 3
    speed_kmh: float = 50.0
    pocket: float = 100.0


def spider_net(
    folder: Path, spec: SpiderSpec, plan: SignalPlan, *, turn_lanes: int = 1, extra: Sequence[str] = ()
) -> Path:
    """Generate a ring-plus-radial net with netgenerate; return the ``.net.xml``.

    ``turn_lanes`` and ``extra`` as in :func:`grid_net`.
    """
    net = folder / "net.net.xml"
    args: list[str | float | int | Path] = [
        "--spider",
        "--spider.arm-number",
        spec.arms,
        "--spider.circle-number",
        spec.circles,
        "--spider.space-radius",
        spec.radius,
        "--spider.attach-length",
        spec.attach,
    ]
    if spec.omit_center:
        args.append("--spider.omit-center")
    run_binary(
        "netgenerate",
        [
            *args,
            *generate_options(spec.lanes, spec.speed_kmh, spec.pocket, turn_lanes),
            *plan.options(),
            *extra,
            "-o",
            net,
        ],
    )
    strip_generated_header(net)
    return net


def generate_options(lanes: int, speed_kmh: float, pocket: float, turn_lanes: int = 1) -> list[str]:
    """netgenerate options every generated net shares: lanes per direction, speed limit, every
    junction signalised, ``turn_lanes`` left-turn pockets of ``pocket`` m on every approach."""
    return [
        "-L",
        str(lanes),
        "-S",
        f"{speed_kmh * KMH:.2f}",
        "-j",
        "traffic_light",
        "--turn-lanes",
        str(turn_lanes),
        "--turn-lanes.length",
        str(pocket),
    ]


def _node(node_id: str, x: float, y: float, kind: str) -> str:
    return f'  <node id="{node_id}" x="{x:.2f}" y="{y:.2f}" type="{kind}"/>'


def _edge(u: str, v: str, lanes: int, speed_kmh: float, pocket: float) -> str:
    head = (
        f'  <edge id={quoteattr(f"{u}_{v}")} from="{u}" to="{v}" numLanes="{lanes}" '
        f'speed="{speed_kmh * KMH:.2f}"'
    )
    if pocket <= 0:
        return head + "/>"
    lanes_after = " ".join(str(i) for i in range(lanes + 1))
    return (
        head + f'>\n    <split pos="{-pocket:.2f}" lanes="{lanes_after}" '
        f'idBefore="{u}_{v}" idAfter="{u}_{v}.L"/>\n  </edge>'
    )
