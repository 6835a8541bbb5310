"""Load a user's own SUMO scenario (``.sumocfg``, or ``.net.xml`` plus route files) and validate it.

Validation happens before any simulation, so a broken input fails with a message that names the
file and the fix instead of a SUMO crash mid-episode: missing files, malformed XML, a net without
traffic lights, signal programmes without a green phase, routes over edges the net lacks.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from core.errors import ScenarioError
from scenarios.netinfo import NetInfo, parse_xml, read_net
from scenarios.scenario import Scenario

PathLike = str | Path
# sumocfg options that become Scenario fields rather than pass-through SUMO arguments.
_FIELDS = {"net-file", "route-files", "additional-files", "begin", "end", "step-length"}


def load(
    path: PathLike,
    *,
    route_files: Sequence[PathLike] | None = None,
    begin: float | None = None,
    end: float | None = None,
    additional_files: Sequence[PathLike] | None = None,
) -> Scenario:
    """Load and validate an external scenario.

    Args:
        path: a ``.sumocfg`` or a ``.net.xml``.
        route_files: demand files; override the ``.sumocfg``'s, required with a bare ``.net.xml``.
        begin: simulation begin (s); default the ``.sumocfg``'s, else 0.
        end: simulation end (s); default the ``.sumocfg``'s, else 3600.
        additional_files: extra SUMO inputs (e.g. signal programmes); override the ``.sumocfg``'s.

    Raises:
        ScenarioError: a file is missing or malformed, or the scenario cannot be controlled.
    """
    path = Path(path)
    opts: dict[str, str] = {}
    sumo_args: list[str] = []
    if path.suffix == ".sumocfg":
        opts, sumo_args = _read_sumocfg(path)
        base = path.parent
        if "net-file" not in opts:
            raise ScenarioError(f"{path}: no <net-file value=...> in the <input> section; add it.")
        net_file = _resolve(base, opts["net-file"])
    elif path.name.endswith(".net.xml"):
        base = Path.cwd()
        net_file = path
    else:
        raise ScenarioError(f"Cannot load {path}: pass a .sumocfg or a .net.xml (plus route_files).")
    routes = (
        [Path(p) for p in route_files]
        if route_files is not None
        else [_resolve(base, p) for p in _split(opts.get("route-files", ""))]
    )
    adds = (
        [Path(p) for p in additional_files]
        if additional_files is not None
        else [_resolve(base, p) for p in _split(opts.get("additional-files", ""))]
    )
    if not routes:
        raise ScenarioError(
            f"{path}: no route files; pass route_files=[...] (or list them in the .sumocfg's <route-files>)."
        )
    begin = float(begin if begin is not None else _time(opts.get("begin", "0"), path, "begin"))
    end = float(end if end is not None else _time(opts.get("end", "3600"), path, "end"))
    if end <= begin:
        raise ScenarioError(f"{path}: end ({end}) must be after begin ({begin}); fix <end> or pass end=.")
    step = _time(opts.get("step-length", "1"), path, "step-length")
    validate(net_file, routes, adds)
    name = path.name.split(".")[0]
    return Scenario(
        name=name,
        net_file=net_file,
        route_files=tuple(routes),
        additional_files=tuple(adds),
        begin=begin,
        end=end,
        card="",
        step_length=step,
        sumo_args=tuple(sumo_args),
    )


def validate(net_file: Path, route_files: Sequence[Path], additional_files: Sequence[Path]) -> NetInfo:
    """Check an external scenario's files; return the parsed net.

    Raises:
        ScenarioError: naming the offending file and the fix.
    """
    net = read_net(net_file)
    logics = [(net_file, el) for el in parse_xml(net_file, "Network file").iter("tlLogic")]
    for add in additional_files:
        logics += [(add, el) for el in parse_xml(add, "Additional file").iter("tlLogic")]
    if not logics:
        raise ScenarioError(
            f"Network file {net_file} has no traffic lights, so there is nothing to "
            "control; rebuild it with `netconvert --tls.guess` or mark junctions "
            'type="traffic_light".'
        )
    for file, logic in logics:
        states = [p.get("state", "") for p in logic.iter("phase")]
        if not any(("G" in s or "g" in s) for s in states):
            raise ScenarioError(
                f"{file}: traffic light {logic.get('id')!r} (programID "
                f"{logic.get('programID')!r}) has no green phase ('G'/'g' in a "
                "phase state); add one or remove the tlLogic."
            )
    for rf in route_files:
        _check_routes(rf, net)
    return net


def _check_routes(route_file: Path, net: NetInfo) -> None:
    root = parse_xml(route_file, "Route file")
    missing: list[str] = []
    for el in root.iter():
        refs: list[str] = []
        if el.tag == "route":
            refs = el.get("edges", "").split()
        elif el.tag in ("trip", "flow", "vehicle"):
            refs = [el.get(a, "") for a in ("from", "to") if el.get(a)] + el.get("via", "").split()
        missing += [e for e in refs if e not in net.edges and e not in missing]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ScenarioError(
            f"Route file {route_file} uses {len(missing)} edge(s) that are not in "
            f"the net {net.path}: {shown}. Regenerate the routes for this net "
            "(e.g. duarouter / randomTrips.py) or pass the matching net."
        )


def _read_sumocfg(path: Path) -> tuple[dict[str, str], list[str]]:
    root = parse_xml(path, "SUMO configuration")
    if root.tag not in ("configuration", "sumoConfiguration"):
        raise ScenarioError(f"{path} has root <{root.tag}>, not <configuration>; pass a sumo .sumocfg.")
    opts: dict[str, str] = {}
    args: list[str] = []
    for el in root.iter():
        value = el.get("value")
        if value is None or el is root:
            continue
        if el.tag in _FIELDS:
            opts[el.tag] = value
        else:
            args += [f"--{el.tag}", value]
    return opts, args


def _resolve(base: Path, name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else base / p


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]


def _time(value: str, path: Path, option: str) -> float:
    try:
        if ":" not in value:
            return float(value)
        parts = [float(p) for p in value.split(":")]  # SUMO also accepts [[D:]H:]M:S
        if len(parts) > 4:
            raise ValueError(value)
        return sum(f * p for f, p in zip((86400.0, 3600.0, 60.0, 1.0)[-len(parts) :], parts))
    except ValueError:
        raise ScenarioError(
            f"{path}: <{option} value={value!r}> is not a time in seconds or [[D:]H:]M:S."
        ) from None


def summarise(scenario: Scenario) -> str:
    """Markdown summary of an external scenario: signals, edges, demand, horizon."""
    net = read_net(scenario.net_file)
    vehicles = sum(_count_vehicles(rf, scenario.begin, scenario.end) for rf in scenario.route_files)
    hours = max(scenario.horizon, 1e-9) / 3600.0
    lines = [
        f"# {scenario.name} (external scenario)",
        "",
        f"- Net: {scenario.net_file}",
        f"- Routes: {', '.join(str(p) for p in scenario.route_files)}",
        f"- Edges: {len(net.edges)}, lanes: {net.lanes}",
        f"- Demand: about {vehicles:.0f} vehicles, {vehicles / hours:.0f} veh/h",
        f"- Horizon: {scenario.horizon:.0f} s ({scenario.begin:.0f}-{scenario.end:.0f})",
        f"- Signals: {len(net.signals)}",
        "",
        "| Signal | Phases | Greens | Incoming lanes | Cycle (s) | Type |",
        "|---|---|---|---|---|---|",
        *(
            f"| {s.tls_id} | {s.n_phases} | {s.n_greens} | {s.incoming_lanes} | {s.cycle:.0f} | "
            f"{s.tls_type} |"
            for s in net.signals
        ),
        "",
    ]
    return "\n".join(lines)


def _count_vehicles(route_file: Path, begin: float, end: float) -> float:
    total = 0.0
    for el in ET.parse(route_file).getroot().iter():
        if el.tag in ("vehicle", "trip"):
            total += 1
        elif el.tag == "flow":
            b = max(float(el.get("begin", begin)), begin)
            e = min(float(el.get("end", end)), end)
            span = max(e - b, 0.0)
            period = el.get("period", "")
            if el.get("number"):
                total += float(el.get("number", 0))
            elif el.get("vehsPerHour"):
                total += float(el.get("vehsPerHour", 0)) * span / 3600
            elif period.startswith("exp("):
                total += float(period[4:-1]) * span
            elif period:
                total += span / float(period)
            elif el.get("probability"):
                total += float(el.get("probability", 0)) * span
    return total
