"""The live view (issue 17): alert rules without SUMO, the replay record, and the page in a real
headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright) against the local server:
it draws the net, shows signal states changing, raises a spillback alert on a held red, replays a
recorded episode to its last step, binds 127.0.0.1 and shuts down with the test."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nets import netconvert_plain

from core.errors import ConfigError, RecordError, ScenarioError
from evaluation import make_eval_config
from evaluation.twin.alerts import AlertEngine, AlertInput, JunctionReading, LaneTopology
from evaluation.twin.browser import CHROMIUM
from evaluation.twin.browser import HEADLESS_ARGS as CHROMIUM_ARGS
from evaluation.twin.config import AlertConfig, TwinConfig
from evaluation.twin.geometry import read_geometry
from evaluation.twin.record import RecordWriter, read_record
from scenarios.scenario import Scenario

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- alert rules, no SUMO
def topo(lengths: list[float]) -> LaneTopology:
    n = len(lengths)
    return LaneTopology(
        tuple(f"L{i}" for i in range(n)), tuple(lengths), tuple(f"up{i}" for i in range(n)), ("J",) * n
    )


def sample(t: float, halting: list[float], count: list[float] | None = None, **kw: Any) -> AlertInput:
    h = np.array(halting, dtype=float)
    c = np.array(count if count is not None else halting, dtype=float)
    return AlertInput(t, h, c, **kw)


def test_spillback_fires_at_the_threshold_escalates_and_clears() -> None:
    cfg = AlertConfig(spillback_fraction=0.8, spillback_critical_fraction=0.95, clear_after=10)
    engine = AlertEngine(cfg, topo([150.0, 20.0]))
    # 15 halting x 7.5 m = 112.5 m = 75% of 150 m: below; the 20-m lane is too short to judge
    assert engine.update(sample(0, [15, 3], [15, 3])).raised == ()
    up = engine.update(sample(5, [16, 3]))  # 120 m = 80%
    assert [(a.kind, a.junction, a.severity, a.lane) for a in up.raised] == [
        ("spillback", "J", "warning", "L0")
    ]
    assert "reaches junction up0" in up.raised[0].reason
    assert engine.update(sample(10, [17, 3])).raised == ()  # still active: not raised again
    up = engine.update(sample(15, [20, 3]))  # 100%: escalates
    assert [a.severity for a in up.raised] == ["critical"] and len(up.active) == 1
    assert engine.update(sample(20, [2, 0])).cleared == ()  # gone, but not for clear_after yet
    assert [a.kind for a in engine.update(sample(30, [2, 0])).cleared] == ["spillback"]
    assert engine.active == ()


def test_gridlock_needs_standing_vehicles_for_n_seconds() -> None:
    engine = AlertEngine(AlertConfig(gridlock_seconds=60, gridlock_min_vehicles=10), topo([200.0, 200.0]))
    assert engine.update(sample(0, [6, 6], [6, 6])).raised == ()
    assert engine.update(sample(55, [6, 6], [6, 6])).raised == ()
    up = engine.update(sample(60, [6, 6], [6, 6]))
    assert [(a.kind, a.junction, a.severity) for a in up.raised] == [("gridlock", "J", "critical")]
    # one vehicle moving resets the clock
    engine2 = AlertEngine(AlertConfig(gridlock_seconds=60), topo([200.0, 200.0]))
    engine2.update(sample(0, [6, 6], [6, 6]))
    engine2.update(sample(30, [6, 5], [6, 6]))
    assert engine2.update(sample(70, [6, 6], [6, 6])).raised == ()
    assert engine2.update(sample(125, [6, 6], [6, 6])).raised == ()  # still since t=70
    assert engine2.update(sample(130, [6, 6], [6, 6])).raised[0].kind == "gridlock"
    # fewer vehicles than gridlock_min_vehicles never count
    engine3 = AlertEngine(AlertConfig(gridlock_seconds=60, gridlock_min_vehicles=10), topo([200.0]))
    assert [engine3.update(sample(t, [4], [4])).raised for t in (0, 100, 200)] == [(), (), ()]


def test_starvation_from_the_guard_and_from_a_phase_left_unserved() -> None:
    engine = AlertEngine(AlertConfig(starvation_seconds=100), topo([200.0]))

    def j(
        t: float, phase: int, calls: tuple[bool, ...], due: tuple[bool, ...] = (False, False)
    ) -> AlertInput:
        return sample(t, [0], junctions=(JunctionReading("J", t, phase, calls, due),))

    assert engine.update(j(0, 0, (False, True))).raised == ()
    assert engine.update(j(90, 0, (False, True))).raised == ()
    up = engine.update(j(100, 0, (False, True)))
    assert [(a.kind, a.severity) for a in up.raised] == [("starvation", "critical")]
    assert "green 1 of J unserved for 100 s" in up.raised[0].reason
    up = engine.update(j(105, 0, (False, True), due=(False, True)))
    assert [(a.kind, a.severity) for a in up.raised] == [("starvation", "warning")]
    assert "max_red guard fired" in up.raised[0].reason
    # served: the clock restarts
    engine.update(j(110, 1, (False, True)))
    assert engine.update(j(200, 0, (False, True))).raised == ()


def test_backlog_growth_teleports_and_sensor_loss() -> None:
    cfg = AlertConfig(
        backlog_window=60, backlog_growth=20, teleport_quiet=30, sensor_timeout=30, clear_after=0
    )
    engine = AlertEngine(cfg, topo([200.0, 200.0]))
    for t, b in ((0, 0), (30, 10), (60, 15)):
        assert engine.update(sample(t, [0, 0], backlog=b)).raised == ()  # +15 in 60 s: no
    up = engine.update(sample(90, [0, 0], backlog=35))  # +25 over the last 60 s
    assert [a.kind for a in up.raised] == ["backlog"] and up.raised[0].junction is None
    up = engine.update(sample(95, [0, 0], backlog=35, teleports=2))
    assert "teleport" in [a.kind for a in up.raised]
    assert engine.update(sample(120, [0, 0], backlog=35, teleports=2)).raised == ()
    assert "teleport" in [a.kind for a in engine.update(sample(125, [0, 0], teleports=2)).cleared]
    # a junction whose observation is older than sensor_timeout, and a lane that stopped reporting
    stale = (JunctionReading("J", 100.0),)
    assert engine.update(sample(130, [0, 0], junctions=stale)).raised == ()
    up = engine.update(sample(131, [0, np.nan], junctions=stale))
    kinds = {(a.kind, a.lane) for a in up.raised}
    assert ("sensor_loss", "L1") in kinds and ("sensor_loss", None) in kinds


def test_lanes_that_never_reported_raise_no_sensor_loss() -> None:
    engine = AlertEngine(AlertConfig(), topo([200.0, 200.0]))
    for t in (0, 50, 100):
        assert engine.update(sample(t, [0, np.nan], [0, np.nan])).raised == ()


def test_bad_thresholds_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"eval\.twin\.alerts\.spillback_fraction"):
        make_eval_config({"twin": {"alerts": {"spillback_fraction": 1.5}}})
    with pytest.raises(ConfigError, match="spillback_critical_fraction"):
        make_eval_config(
            {"twin": {"alerts": {"spillback_fraction": 0.9, "spillback_critical_fraction": 0.5}}}
        )
    with pytest.raises(ConfigError, match=r"eval\.twin\.alerts\.gridlok_seconds: unknown field"):
        make_eval_config({"twin": {"alerts": {"gridlok_seconds": 10}}})
    with pytest.raises(ConfigError, match=r"eval\.twin\.port"):
        make_eval_config({"twin": {"port": 70000}})
    assert TwinConfig().host == "127.0.0.1"


def test_record_is_atomic_and_the_reader_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    writer = RecordWriter(path, {"scenario": "x"}, {"lanes": {}})
    assert not path.exists()  # streamed to a temporary name
    writer.close(complete=False)
    assert not path.exists() and not list(tmp_path.iterdir())
    with pytest.raises(RecordError, match="does not exist"):
        read_record(path)
    with gzip.open(path, "wt") as fh:  # killed before the end line
        fh.write(json.dumps({"kind": "header", "format": 1, "info": {}, "geometry": {}}) + "\n")
    with pytest.raises(RecordError, match="truncated"):
        read_record(path)
    path.write_text("not gzip")
    with pytest.raises(RecordError, match="not a gzip JSON-lines record"):
        read_record(path)


def test_geometry_of_a_malformed_net_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.net.xml"
    bad.write_text("<net><edge id='a'>")
    with pytest.raises(ScenarioError, match="bad.net.xml"):
        read_geometry(bad)


# ---------------------------------------------------------------------------- in a real browser
def held_red_scenario(folder: Path, end: float = 200.0) -> Scenario:
    """A junction ``C`` whose west approach (150 m, one lane) is held red while 1,200 veh/h arrive:
    its queue reaches the upstream junction ``w`` within about a minute and a half."""
    folder.mkdir(parents=True, exist_ok=True)
    nodes, edges = folder / "j.nod.xml", folder / "j.edg.xml"
    nodes.write_text(
        '<nodes><node id="w" x="-150" y="0"/><node id="C" x="0" y="0" type="traffic_light"/>'
        '<node id="e" x="300" y="0"/><node id="n" x="0" y="300"/><node id="s" x="0" y="-300"/></nodes>'
    )
    edges.write_text(
        '<edges><edge id="wC" from="w" to="C" numLanes="1" speed="13.89"/>'
        '<edge id="Ce" from="C" to="e" numLanes="1" speed="13.89"/>'
        '<edge id="nC" from="n" to="C" numLanes="1" speed="13.89"/>'
        '<edge id="Cs" from="C" to="s" numLanes="1" speed="13.89"/></edges>'
    )
    net = netconvert_plain(nodes, edges, folder / "jam.net.xml")
    root = ET.parse(net).getroot()
    n_links = len(root.find("tlLogic").find("phase").get("state"))
    west = {int(c.get("linkIndex")) for c in root.iter("connection") if c.get("from") == "wC" and c.get("tl")}
    held = "".join("r" if i in west else "G" for i in range(n_links))
    add = folder / "held.add.xml"
    add.write_text(
        '<additional><tlLogic id="C" type="static" programID="held" offset="0">'
        f'<phase duration="100000" state="{held}"/></tlLogic></additional>'
    )
    routes = folder / "jam.rou.xml"
    routes.write_text(
        '<routes><route id="we" edges="wC Ce"/><route id="ns" edges="nC Cs"/>'
        f'<flow id="fw" route="we" begin="0" end="{end}" period="3" departSpeed="max"/>'
        f'<flow id="fn" route="ns" begin="0" end="{end}" period="6"/></routes>'
    )
    return Scenario("held-red", net, (routes,), (add,), begin=0, end=end)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from the Debian package (required in CI, where .ci/run installs it)."""
    if not CHROMIUM.is_file() or shutil.which("chromium") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (see .ci/run)")
        pytest.skip("needs /usr/bin/chromium (apt-get install chromium) for the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 760})
    pg = context.new_page()
    # A loaded 2-core machine (SUMO in the same process, other jobs) can take seconds per frame;
    # waits are for states that do come, so a generous timeout only costs time when a test fails.
    pg.set_default_timeout(90_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    try:
        yield pg
    finally:
        context.close()


def in_thread(fn: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["record"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised by the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def canvas_ink(pg: Any) -> int:
    """Pixels of the map canvas that differ from its background."""
    return pg.evaluate(
        """() => { const c = document.getElementById('map');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4)
          if (Math.abs(d[i] - 0x1d) + Math.abs(d[i+1] - 0x20) + Math.abs(d[i+2] - 0x29) > 30) n++;
        return n; }"""
    )


def test_live_page_draws_the_net_and_follows_the_signals(
    page: Any, single_scenario: Scenario, tmp_path: Path
) -> None:
    from evaluation.twin.live import LiveSession

    cfg = make_eval_config({"controllers": ["max_pressure"], "twin": {"port": 0, "pace": 40, "push_hz": 10}})
    record = tmp_path / "single.jsonl.gz"
    session = LiveSession(single_scenario, cfg.controllers[0], 1, cfg, record=record)
    with session:
        assert session.server.host == "127.0.0.1"
        response = page.goto(session.url)
        assert response.status == 200
        page.wait_for_function("window.twin.ready")
        n_lanes = len(session.geometry.lanes)
        assert page.evaluate("window.twin.drawnLanes") == n_lanes == 40
        assert canvas_ink(page) > 2000  # the lanes are on the canvas, not just counted
        thread, out = in_thread(session.run)
        page.wait_for_function("window.twin.signalStates.length >= 3", timeout=20_000)
        states = page.evaluate("window.twin.signalStates")
        assert len(set(states)) >= 2 and all(len(s) == 20 for s in states)  # 20 links at the crossing
        assert page.evaluate("window.twin.frames") >= 3
        assert page.inner_text("#kpi-running") != "-"
        page.context.close()  # the ops room closes the browser mid-run
        thread.join(60)
    assert not thread.is_alive() and "error" not in out, out.get("error")
    assert out["record"]["metrics"]["throughput"] > 0
    replay = read_record(record)  # the run finished and its record is complete
    assert replay.frames[-1]["time"] == pytest.approx(single_scenario.end)
    assert not page.errors


@pytest.fixture(scope="module")
def jam_record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The held-red episode, served live, and its record (shared by the spillback and replay tests)."""
    folder = tmp_path_factory.mktemp("jam")
    return {"scenario": held_red_scenario(folder), "record": folder / "jam.jsonl.gz"}


def test_held_red_raises_a_spillback_alert_in_the_list(page: Any, jam_record: dict[str, Any]) -> None:
    from evaluation.twin.live import LiveSession

    cfg = make_eval_config(
        {"controllers": ["fixed_time"], "twin": {"port": 0, "pace": 50, "sample_period": 2}}
    )
    session = LiveSession(jam_record["scenario"], cfg.controllers[0], 1, cfg, record=jam_record["record"])
    with session:
        page.goto(session.url)
        page.wait_for_function("window.twin.ready")
        thread, out = in_thread(session.run)
        item = page.wait_for_selector('#alerts li[data-kind="spillback"][data-junction="C"]', timeout=30_000)
        text = item.inner_text()
        assert "wC_0" in text and "reaches junction w" in text
        assert page.inner_text("#rate").startswith("SUMO runs the signals")
        thread.join(60)
    assert "error" not in out, out.get("error")
    assert not page.errors


def test_replay_reaches_the_last_step(page: Any, jam_record: dict[str, Any]) -> None:
    from evaluation.twin.live import replay_server

    if not jam_record["record"].is_file():  # run alone: record the held-red episode without a browser
        from evaluation.harness import run_episode
        from evaluation.twin.observer import TwinObserver

        cfg = make_eval_config({"controllers": ["fixed_time"], "twin": {"sample_period": 2}})
        sc = jam_record["scenario"]
        twin = TwinObserver(
            read_geometry(sc.net_file), cfg.twin, {"scenario": sc.name}, record=jam_record["record"]
        )
        run_episode(sc, cfg.controllers[0], 1, cfg, twin=twin)
    replay = read_record(jam_record["record"])
    n = len(replay.frames)
    assert n >= 50 and replay.frames[-1]["time"] == pytest.approx(200.0)
    cfg = make_eval_config({"twin": {"port": 0}})
    with replay_server(jam_record["record"], cfg) as server:
        page.goto(server.url)
        page.wait_for_function("window.twin.ready && window.twin.nFrames > 0")
        assert page.evaluate("window.twin.nFrames") == n
        page.select_option("#speed", "30")
        page.click("#play")
        page.wait_for_function(f"window.twin.frameIndex === {n - 1}", timeout=90_000)
        assert page.inner_text("#time") == "200"
        assert page.locator('#alerts li[data-kind="spillback"]').count() >= 1
        page.fill("#slider", "0")  # back to the start with the time slider
        page.wait_for_function("window.twin.frameIndex === 0")
        assert page.locator("#alerts li").count() == 0
    assert not page.errors


def test_harness_writes_the_record_when_asked_and_resumes(tmp_path: Path, jam_record: dict[str, Any]) -> None:
    from evaluation.harness import run_episodes

    sc = jam_record["scenario"]
    spec = {"name": "held", "net": str(sc.net_file), "routes": [str(p) for p in sc.route_files],
            "additional": [str(p) for p in sc.additional_files], "end": 100}  # fmt: skip
    data = {
        "scenarios": [spec],
        "controllers": ["fixed_time"],
        "seeds": [1],
        "workers": 0,
        "out": str(tmp_path),
    }
    run_episodes(make_eval_config(data), progress=False)
    assert not (tmp_path / "twin").exists()  # not asked: no record
    run_episodes(
        make_eval_config({**data, "twin": {"record": True}}), progress=False
    )  # reruns: record missing
    path = tmp_path / "twin" / "held" / "fixed_time" / "seed_1.jsonl.gz"
    replay = read_record(path)
    assert replay.info["controller"] == "fixed_time" and replay.frames[-1]["time"] == pytest.approx(100.0)
    assert any(a["kind"] == "spillback" for f in replay.frames for a in f["raised"])
    stamp = path.stat().st_mtime_ns
    run_episodes(make_eval_config({**data, "twin": {"record": True}}), progress=False)
    assert path.stat().st_mtime_ns == stamp  # done and recorded: skipped


def test_server_binds_localhost_and_shuts_down() -> None:
    from evaluation.twin.feed import LiveFeed
    from evaluation.twin.server import TwinServer, create_app

    app = create_app(LiveFeed({"scenario": "x"}), geometry=_tiny_geometry())
    server = TwinServer(app, port=0).start()
    try:
        assert server.host == "127.0.0.1"
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            pass
        bound = server._server.servers[0].sockets[0].getsockname()[0]
        assert bound == "127.0.0.1"
    finally:
        server.stop()
    assert not server._thread.is_alive()
    time.sleep(0.1)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


def _tiny_geometry() -> Any:
    from evaluation.twin.geometry import NetGeometry

    return NetGeometry("none", (), {}, ())


# ---------------------------------------------------------------------------- the command line
def twin_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "evaluation.twin", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_live_records_and_bad_input_exits_2(tmp_path: Path, tmp_cache: Path) -> None:
    record = tmp_path / "cli.jsonl.gz"
    done = twin_cli(
        "live", "--scenario", "wuxi-single", "--horizon", "60", "--port", "0", "--linger", "0",
        "--record", str(record), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "http://127.0.0.1:" in done.stderr and "episode done" in done.stderr
    assert read_record(record).frames[-1]["time"] == pytest.approx(60.0)
    bad = twin_cli("live", "--set", "twin.alerts.spillback_fraction=2", "--linger", "0", cwd=tmp_path)
    assert bad.returncode == 2 and "twin.alerts.spillback_fraction" in bad.stderr
    missing = twin_cli("replay", str(tmp_path / "nope.jsonl.gz"), "--linger", "0", cwd=tmp_path)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_a_full_turn_pocket_warns_that_it_spills_onto_the_road_behind_it() -> None:
    t = LaneTopology(("P",), (80.0,), ("A",), ("J",), (420.0,))
    up = AlertEngine(AlertConfig(), t).update(sample(0, [11]))  # 100% of the 80-m pocket
    assert [(a.kind, a.severity) for a in up.raised] == [("spillback", "warning")]
    assert "420 m before junction A" in up.raised[0].reason


def test_geometry_walks_back_through_road_splits(core_scenario: Scenario) -> None:
    g = read_geometry(core_scenario.net_file)
    pockets = [lane for lane in (g.lanes[i] for i in g.monitored) if lane.upstream_gap > 0]
    assert pockets, "wuxi-core's left-turn pockets start where the road splits"
    for lane in pockets:
        assert lane.upstream != lane.from_junction and g.junctions[lane.upstream].signalised
