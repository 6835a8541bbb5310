"""Import an OpenStreetMap extract as a scenario folder: ``python -m scenarios import-osm FILE``.

WUXI.md: no OSM extract of Wuxi is available offline, so the catalogue is generated; a user who
has one (or any city's) imports it with the same SUMO tools the catalogue uses:

1. ``netconvert --osm-files`` with the options signal work needs (:data:`NETCONVERT_OSM`): only
   roads cars may use, isolated pieces removed, geometry-only nodes removed, roundabouts and
   motorway ramps guessed, clusters of nearby junctions joined into one, OSM's
   ``highway=traffic_signals`` nodes turned into signals (joined when they surround one
   intersection), plus signals guessed at large unmapped junctions, with the catalogue's 120 s cycle
   and 3 s yellow (peak-hour cycles of 120-135 s).
2. ``randomTrips.py`` (routed by ``duarouter``, ``--validate``) samples routes between random edges,
   weighted towards the fringe so that through traffic crosses the extract.
3. The routes become one ``<routeDistribution>`` released by Poisson ``<flow>``s in the
   catalogue's morning-peak slices (:mod:`scenarios.demand`), so SUMO's ``--seed`` varies each
   episode's vehicles.
4. A ``.sumocfg``, a ``card.md``, written to a temporary folder and renamed into place; the result
   loads with :func:`scenarios.load` / :func:`scenarios.resolve` like any external scenario.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from core.errors import ScenarioError
from scenarios.demand import peak_profile, write_flows
from scenarios.external import load
from scenarios.netinfo import read_net
from scenarios.scenario import Scenario
from scenarios.toolrun import run_binary, run_tool, strip_generated_header

# OSM highway values of roads for motor traffic (footways, cycleways, tracks... are not imported).
_ROADS = {
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
}

NETCONVERT_OSM: tuple[str, ...] = (
    "--keep-edges.by-vclass",
    "passenger",
    "--remove-edges.isolated",
    "--geometry.remove",
    "--roundabouts.guess",
    "--ramps.guess",
    "--junctions.join",
    "--tls.guess-signals",
    "--tls.discard-simple",
    "--tls.join",
    "--tls.guess",
    "--tls.cycle.time",
    "120",
    "--tls.yellow.time",
    "3",
    "--tls.default-type",
    "static",
    "--no-turnarounds",
    "true",
    "--output.street-names",
    "true",
    "--no-warnings",
    "true",
)
"""netconvert options of every OSM import (see the module docstring for why each)."""


@dataclass(frozen=True)
class OsmOptions:
    """What an import produces besides the net.

    Attributes:
        name: scenario name (folder and file stem); default the OSM file's stem.
        seed: seed of randomTrips (which routes are sampled).
        horizon: episode length (s); demand follows the catalogue's one-hour peak profile.
        veh_per_hour: peak vehicles per hour entering; default 60 per signal (at least 300), an
            assumption to override with real counts.
        samples: routes sampled by randomTrips.
        fringe_factor: randomTrips ``--fringe-factor`` (trips start/end at the extract's edge this
            many times more often than inside).
    """

    name: str | None = None
    seed: int = 0
    horizon: float = 3600.0
    veh_per_hour: float | None = None
    samples: int = 400
    fringe_factor: float = 5.0


def import_osm(osm: Path, out_dir: Path | None = None, options: OsmOptions | None = None) -> Scenario:
    """Import ``osm`` (``.osm`` or ``.osm.gz``) into ``out_dir`` (default ``./<name>``).

    Returns:
        The imported scenario, loaded from its ``.sumocfg``.

    Raises:
        ScenarioError: the file is missing, not OSM XML, has no roads or no signals, or a SUMO
            tool fails; the message names the file and the fix.
    """
    opts = options or OsmOptions()
    osm = Path(osm)
    if opts.horizon <= 0:
        raise ScenarioError(f"import-osm {osm}: --horizon must be > 0 seconds, got {opts.horizon}.")
    if opts.veh_per_hour is not None and opts.veh_per_hour <= 0:
        raise ScenarioError(f"import-osm {osm}: --veh-per-hour must be > 0, got {opts.veh_per_hour}.")
    roads = check_osm(osm)
    name = opts.name or osm.name.split(".")[0]
    out = Path(out_dir) if out_dir is not None else Path.cwd() / name
    if out.exists() and not (out / f"{name}.sumocfg").is_file():
        raise ScenarioError(
            f"import-osm: {out} exists and is not an imported scenario; pass another --out or remove it."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out.parent))
    try:
        _import_into(osm, tmp, name, roads, opts)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return load(out / f"{name}.sumocfg")


def check_osm(osm: Path) -> int:
    """Validate an OSM file before netconvert sees it; return its number of vehicular roads.

    Raises:
        ScenarioError: missing file, not (gzipped) XML, root not ``<osm>``, or no roads.
    """
    if not osm.is_file():
        raise ScenarioError(f"OSM file {osm} does not exist; check the path.")
    opener = gzip.open if osm.name.endswith(".gz") else open
    roads = 0
    root_tag = None
    try:
        with opener(osm, "rb") as fh:
            for event, el in ET.iterparse(fh, events=("start", "end")):
                if root_tag is None:
                    root_tag = el.tag
                    if root_tag != "osm":
                        break
                if event == "end" and el.tag == "way":
                    tags = {t.get("k"): t.get("v") for t in el.iter("tag")}
                    roads += tags.get("highway") in _ROADS
                    el.clear()
    except (ET.ParseError, OSError, EOFError) as exc:
        raise ScenarioError(
            f"OSM file {osm} is not readable OSM XML ({exc}); export the area again "
            "(e.g. openstreetmap.org/export or an Overpass query with `out meta;`)."
        ) from None
    if root_tag != "osm":
        raise ScenarioError(
            f"OSM file {osm} has root <{root_tag}>, not <osm>; pass an OpenStreetMap XML export (.osm/.osm.gz)."
        )
    if roads == 0:
        raise ScenarioError(
            f"OSM file {osm} has no roads (no <way> tagged highway=primary/secondary/residential/...); "
            "export an area that contains streets."
        )
    return roads


def _import_into(osm: Path, folder: Path, name: str, roads: int, opts: OsmOptions) -> None:
    net_path = folder / f"{name}.net.xml"
    try:
        run_binary(
            "netconvert", ["--osm-files", osm.resolve(), "-o", net_path, *NETCONVERT_OSM], timeout=3600
        )
    except ScenarioError as exc:
        raise ScenarioError(f"netconvert could not import the OSM file {osm}: {exc}") from None
    strip_generated_header(net_path)
    net = read_net(net_path)
    if not net.edges:
        raise ScenarioError(
            f"OSM file {osm}: no road for cars is left after the import (only footways, or isolated "
            "pieces); export a larger area."
        )
    if not net.signals:
        raise ScenarioError(
            f"OSM file {osm} gives a net without traffic lights (no highway=traffic_signals node and no "
            "junction large enough to guess one); export an area with signalised junctions."
        )
    routes = _sample_routes(net_path, folder, opts)
    if not routes:
        raise ScenarioError(
            f"OSM file {osm}: randomTrips found no route between two roads of the imported net; "
            "export a larger, connected area."
        )
    rate = opts.veh_per_hour if opts.veh_per_hour is not None else max(300.0, 60.0 * len(net.signals))
    slices = [s for s in peak_profile(3600.0) if s.begin < opts.horizon]
    demand = folder / f"{name}.rou.xml"
    expected = write_flows(demand, {"osm": routes}, {"osm": rate}, slices)
    cfg = folder / f"{name}.sumocfg"
    cfg.write_text(
        "<configuration>\n"
        f'  <input><net-file value="{net_path.name}"/><route-files value="{demand.name}"/></input>\n'
        f'  <time><begin value="0"/><end value="{opts.horizon:g}"/><step-length value="1"/></time>\n'
        '  <processing><time-to-teleport value="300"/></processing>\n'
        "</configuration>\n",
        encoding="utf-8",
    )
    card = [
        f"# {name} (imported from OpenStreetMap)",
        "",
        f"- Source: `{osm.name}` ({roads} OSM roads for cars)",
        f"- netconvert options: `{' '.join(NETCONVERT_OSM)}`",
        f"- Signals: **{len(net.signals)}**; edges: {len(net.edges)}, lanes: {net.lanes}",
        f"- Demand: {len(routes)} routes sampled by randomTrips.py (seed {opts.seed}, fringe factor "
        f"{opts.fringe_factor:g}), Poisson flows in the catalogue's morning-peak slices; peak {rate:.0f} veh/h"
        f"{' (default: 60 per signal, an assumption)' if opts.veh_per_hour is None else ''}; expected "
        f"{expected:.0f} vehicles",
        f"- Horizon: {opts.horizon:.0f} s; `python -m scenarios info {cfg.name}` lists the signals",
        "",
    ]
    (folder / "card.md").write_text("\n".join(card), encoding="utf-8")


def _sample_routes(net: Path, folder: Path, opts: OsmOptions) -> Counter[tuple[str, ...]]:
    trips, routes = folder / "osm.trips.xml", folder / "osm.sampled.rou.xml"
    run_tool(
        "randomTrips.py",
        [
            "-n",
            net,
            "-o",
            trips,
            "-r",
            routes,
            "--seed",
            opts.seed,
            "--begin",
            0,
            "--end",
            opts.samples,
            "--period",
            1,
            "--fringe-factor",
            opts.fringe_factor,
            "--vclass",
            "passenger",
            "--validate",
        ],
        cwd=folder,
        timeout=3600,
    )
    counts: Counter[tuple[str, ...]] = Counter()
    if routes.is_file():
        for veh in ET.parse(routes).getroot().iter("vehicle"):
            route = veh.find("route")
            if route is not None and route.get("edges"):
                counts[tuple(route.get("edges", "").split())] += 1
    for tmp in folder.glob("osm.*"):
        tmp.unlink()
    return counts
