"""Shared fixtures: a session cache for catalogue builds, short scenarios, a mixed external scenario."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import scenarios
from scenarios.scenario import Scenario
from scenarios.toolrun import run_binary

SHORT = 300.0  # seconds: every fixture scenario is this long, to keep tests fast


@pytest.fixture(scope="session")
def tmp_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A session-wide scenario cache, also set as ``WUXI_TSC_CACHE`` for builds without cache_dir."""
    cache = tmp_path_factory.mktemp("scenario-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WUXI_TSC_CACHE", str(cache))
        yield cache


@pytest.fixture(scope="session")
def single_scenario(tmp_cache: Path) -> Scenario:
    """``wuxi-single`` (one signal, 4 greens) with a 300 s horizon."""
    return scenarios.build("wuxi-single", horizon=SHORT, cache_dir=tmp_cache)


@pytest.fixture(scope="session")
def core_scenario(tmp_cache: Path) -> Scenario:
    """``wuxi-core`` (16 signals) with a 300 s horizon."""
    return scenarios.build("wuxi-core", horizon=SHORT, cache_dir=tmp_cache)


@pytest.fixture(scope="session")
def corridor_scenario(tmp_cache: Path) -> Scenario:
    """``wuxi-corridor`` (7 signals; one all-red per cycle) with a 300 s horizon."""
    return scenarios.build("wuxi-corridor", horizon=SHORT, cache_dir=tmp_cache)


def write_mixed_external(folder: Path) -> tuple[Path, Path]:
    """Generate an external net with heterogeneous signals, plus a route file; return both paths.

    West: a 4-arm crossing ``C`` of 3-lane roads with left pockets (4 greens, protected lefts).
    East: a T junction ``T`` of 2-lane roads (3 arms, 2 greens). Written as plain XML by the test
    and compiled with netconvert, so it exercises ``scenarios.load`` on a net the catalogue
    did not make.
    """
    folder.mkdir(parents=True, exist_ok=True)
    nodes = {
        "C": (0, 0, "traffic_light"),
        "T": (500, 0, "traffic_light"),
        "w": (-400, 0, "dead_end"),
        "n": (0, 400, "dead_end"),
        "s": (0, -400, "dead_end"),
        "e": (900, 0, "dead_end"),
        "tn": (500, 400, "dead_end"),
    }
    roads = [
        ("w", "C", 3, True),
        ("n", "C", 3, True),
        ("s", "C", 3, True),
        ("T", "C", 2, False),
        ("C", "w", 3, False),
        ("C", "n", 3, False),
        ("C", "s", 3, False),
        ("C", "T", 2, False),
        ("e", "T", 2, False),
        ("tn", "T", 2, False),
        ("T", "e", 2, False),
        ("T", "tn", 2, False),
    ]
    nod = folder / "mixed.nod.xml"
    nod.write_text(
        "<nodes>\n"
        + "".join(f'  <node id="{k}" x="{x}" y="{y}" type="{t}"/>\n' for k, (x, y, t) in nodes.items())
        + "</nodes>\n"
    )
    edges = []
    for u, v, lanes, pocket in roads:
        split = (
            f'<split pos="-80" lanes="{" ".join(map(str, range(lanes + 1)))}" '
            f'idBefore="{u}{v}" idAfter="{u}{v}.L"/>'
            if pocket
            else ""
        )
        edges.append(
            f'  <edge id="{u}{v}" from="{u}" to="{v}" numLanes="{lanes}" speed="13.89">{split}</edge>\n'
        )
    edg = folder / "mixed.edg.xml"
    edg.write_text("<edges>\n" + "".join(edges) + "</edges>\n")
    net = folder / "mixed.net.xml"
    run_binary(
        "netconvert",
        [
            "-n",
            nod,
            "-e",
            edg,
            "-o",
            net,
            "--no-turnarounds",
            "true",
            "--tls.minor-left.max-speed",
            "0.1",
            "--tls.left-green.time",
            "15",
            "--no-warnings",
            "true",
        ],
    )
    routes = {
        "we": "wC wC.L CT Te",
        "ew": "eT TC Cw",
        "ns": "nC nC.L Cs",
        "sn": "sC sC.L Cn",
        "wn": "wC wC.L Cn",
        "ntn": "nC nC.L CT Ttn",
        "tnw": "tnT TC Cw",
        "es": "eT TC Cs",
    }
    rou = folder / "mixed.rou.xml"
    body = "".join(f'  <route id="{k}" edges="{v}"/>\n' for k, v in routes.items())
    body += "".join(
        f'  <flow id="f_{k}" route="{k}" begin="0" end="300" period="exp(0.08)" departLane="best"/>\n'
        for k in routes
    )
    rou.write_text(f"<routes>\n{body}</routes>\n")
    return net, rou


@pytest.fixture(scope="session")
def mixed_external(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """An external scenario whose two signals differ in green phases (4 vs 2) and incoming lanes."""
    net, rou = write_mixed_external(tmp_path_factory.mktemp("mixed-external"))
    return scenarios.load(net, route_files=[rou], begin=0, end=SHORT)
