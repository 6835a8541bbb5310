"""The city scenarios (issue 14): the generator at zone size, the city's layout, the OSM importer.

CI never builds the full city (its netconvert + duarouter take minutes); it builds ``wuxi-zone``
(600 signals, a few seconds) with the same generator, and lays out ``wuxi-city`` without compiling it.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import scenarios
from core.errors import ScenarioError
from scenarios.builder import build_files
from scenarios.catalogue import CATALOGUE
from scenarios.city import CitySpec, generate
from scenarios.netinfo import read_net
from scenarios.osm import import_osm
from scenarios.scenario import Scenario

SHORT = 300.0


@pytest.fixture(scope="module")
def zone(tmp_cache: Path) -> Scenario:
    return scenarios.build("wuxi-zone", horizon=SHORT, cache_dir=tmp_cache)


def _city(name: str) -> CitySpec:
    network = CATALOGUE[name].network
    assert isinstance(network, CitySpec)
    return network


def test_zone_has_its_signal_count_and_every_signal_two_greens(zone: Scenario) -> None:
    net = read_net(zone.net_file)
    assert len(net.signals) == 600 == CATALOGUE["wuxi-zone"].n_signals
    assert all(s.n_greens >= 2 for s in net.signals)
    assert "**600** (exactly the target)" in zone.card and "WUXI.md" in zone.card


@pytest.mark.parametrize("name", ["wuxi-zone", "wuxi-city"])
def test_layout_reaches_the_target_exactly(name: str) -> None:
    layout = generate(_city(name))
    assert layout.n_signals == CATALOGUE[name].n_signals
    assert layout.count("T") == layout.interchanges > 0  # ramp terminals exist
    assert layout.count("A") and layout.count("S") and layout.count("C")  # supergrid, streets, core
    assert not layout.count("x")  # no expressway node is signalised


def test_city_expressways_are_the_published_80_km() -> None:
    layout = generate(_city("wuxi-city"))
    assert 70.0 < layout.expressway_km < 90.0  # "one ring, five radials" of 80 km (WUXI.md)


def test_an_unreachable_target_is_a_clear_error() -> None:
    spec = dataclasses.replace(_city("wuxi-zone"), target_signals=100)
    with pytest.raises(ScenarioError, match="target_signals=100.*lower arterial_lines"):
        generate(spec)


def test_same_seed_same_files_other_seed_other_routes(zone: Scenario, tmp_path: Path) -> None:
    spec = CATALOGUE["wuxi-zone"]
    again = build_files(spec, _mk(tmp_path / "a"), 0, SHORT, 1.0)
    for a, b in zip((zone.net_file, *zone.route_files), (again.net_file, *again.route_files)):
        assert a.read_bytes() == b.read_bytes(), a.name
    other = build_files(spec, _mk(tmp_path / "b"), 1, SHORT, 1.0)
    assert other.net_file.read_bytes() == zone.net_file.read_bytes()  # the layout has its own seed
    assert other.route_files[0].read_bytes() != zone.route_files[0].read_bytes()


def _mk(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return folder


def test_expressways_are_grade_separated_and_unsignalised(zone: Scenario) -> None:
    root = ET.parse(zone.net_file).getroot()
    kinds = {j.get("id"): j.get("type") for j in root.iter("junction") if j.get("type") != "internal"}
    express = {k: v for k, v in kinds.items() if k.startswith("x")}
    assert len(express) > 50 and set(express.values()) <= {"priority", "dead_end"}
    edges = {
        e.get("id"): (e.get("from"), e.get("to"))
        for e in root.iter("edge")
        if e.get("function") != "internal"
    }
    # An expressway node touches only expressway edges and ramps; a ramp's ground end is a signal.
    for u, v in edges.values():
        if u.startswith("x") != v.startswith("x"):
            ground = v if u.startswith("x") else u
            assert ground.startswith("T") and kinds[ground] == "traffic_light"
    for con in root.iter("connection"):
        if con.get("tl"):
            assert not edges[con.get("from")][0].startswith("x") or edges[con.get("from")][1].startswith("T")


def test_demand_flows_between_districts(zone: Scenario) -> None:
    layout = generate(_city("wuxi-zone"))
    district_of = {e: d.id for d in layout.districts for e in d.edges}
    root = ET.parse(zone.route_files[0]).getroot()
    pairs = set()
    for dist in root.iter("routeDistribution"):
        origin = dist.get("id", "")[3:]
        for route in dist.iter("route"):
            edges = route.get("edges", "").split()
            assert district_of[edges[0]] == origin
            assert district_of[edges[-1]] != origin  # trips go between districts
            pairs.add((origin, district_of[edges[-1]]))
    assert len(pairs) > 100  # 17 districts: most of the 272 ordered pairs
    flows = list(root.iter("flow"))
    assert flows and all(f.get("period", "").startswith("exp(") for f in flows)
    assert {f.get("route", "")[3:] for f in flows} == {o for o, _ in pairs}


# --- OSM import -------------------------------------------------------------------------------


def write_osm(path: Path, signal: bool = True) -> Path:
    """A 3x3 block of streets near Wuxi: a primary road W-E and a secondary N-S crossing at a
    ``highway=traffic_signals`` node, framed by secondary/tertiary streets."""
    lat0, lon0, d = 31.57, 120.30, 0.004
    ids = {(r, c): 1 + 3 * r + c for r in range(3) for c in range(3)}
    nodes = [
        f'<node id="{k}" version="1" lat="{lat0 + r * d:.6f}" lon="{lon0 + c * d:.6f}">'
        + ('<tag k="highway" v="traffic_signals"/>' if signal and (r, c) == (1, 1) else "")
        + "</node>"
        for (r, c), k in ids.items()
    ]
    roads = [
        ([(1, 0), (1, 1), (1, 2)], "primary", 4),
        ([(0, 1), (1, 1), (2, 1)], "secondary", 2),
        ([(0, 0), (0, 1), (0, 2)], "secondary", 2),
        ([(2, 0), (2, 1), (2, 2)], "secondary", 2),
        ([(0, 0), (1, 0), (2, 0)], "tertiary", 2),
        ([(0, 2), (1, 2), (2, 2)], "tertiary", 2),
    ]
    ways = [
        f'<way id="{100 + w}" version="1">'
        + "".join(f'<nd ref="{ids[p]}"/>' for p in seq)
        + f'<tag k="highway" v="{hw}"/><tag k="lanes" v="{lanes}"/></way>'
        for w, (seq, hw, lanes) in enumerate(roads)
    ]
    path.write_text('<?xml version="1.0"?>\n<osm version="0.6">\n' + "\n".join(nodes + ways) + "\n</osm>\n")
    return path


def test_osm_import_gives_a_scenario_with_signals_and_routes(tmp_path: Path) -> None:
    osm = write_osm(tmp_path / "wuxi_block.osm")
    sc = import_osm(osm, tmp_path / "imported")
    cfg = tmp_path / "imported" / "wuxi_block.sumocfg"
    assert cfg.is_file() and (tmp_path / "imported" / "card.md").is_file()
    net = read_net(sc.net_file)
    assert len(net.signals) >= 1 and all(s.n_greens >= 2 for s in net.signals)
    demand = sc.route_files[0].read_text()
    assert demand.count("<route ") >= 10 and 'period="exp(' in demand
    loaded = scenarios.resolve(str(cfg))
    assert loaded.net_file == sc.net_file and loaded.route_files == sc.route_files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary folder left"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('<?xml version="1.0"?>\n<osm version="0.6">\n</osm>\n', "has no roads"),
        ("<osm><node id='1' lat='31.5' lon='120.3'>", "not readable OSM XML"),
        ("<gpx><trk/></gpx>", "has root <gpx>, not <osm>"),
        (
            '<osm version="0.6"><node id="1" lat="31.5" lon="120.3"/><node id="2" lat="31.51" lon="120.3"/>'
            '<way id="3"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way></osm>',
            "has no roads",
        ),
    ],
)
def test_bad_osm_input_is_a_clear_error(content: str, match: str, tmp_path: Path) -> None:
    osm = tmp_path / "bad.osm"
    osm.write_text(content)
    with pytest.raises(ScenarioError, match=match) as err:
        import_osm(osm, tmp_path / "out")
    assert "bad.osm" in str(err.value) and not (tmp_path / "out").exists()


def test_osm_without_signals_is_a_clear_error(tmp_path: Path) -> None:
    osm = write_osm(tmp_path / "nosignal.osm", signal=False)
    with pytest.raises(ScenarioError, match="nosignal.osm gives a net without traffic lights"):
        import_osm(osm, tmp_path / "out")
    assert not list(tmp_path.glob(".nosignal-*"))


def test_cli_import_osm_missing_and_bad_file_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.osm.gz"
    bad.write_bytes(b"not gzip at all")
    for path in (bad, tmp_path / "missing.osm"):
        out = subprocess.run(
            [sys.executable, "-m", "scenarios", "import-osm", str(path), "--out", str(tmp_path / "o")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and path.name in out.stderr
