"""Tests of the scenarios package with real SUMO tools (short horizons, a few seconds each)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import scenarios
from core.errors import ScenarioError
from scenarios.netinfo import read_net
from scenarios.scenario import Scenario
from scenarios.toolrun import run_binary

SHORT = 300.0
NAMES = ["wuxi-single", "wuxi-corridor", "wuxi-core", "wuxi-ring", "wuxi-district", "wuxi-zone", "wuxi-city"]
# The full city takes minutes to build (netconvert + duarouter on 1,723 signals): CI builds the zone,
# which the same generator makes (tests/test_city.py), and lays the city out without compiling it.
BUILT_IN_CI = [n for n in NAMES if n != "wuxi-city"]


def test_list_scenarios_is_the_catalogue() -> None:
    assert scenarios.list_scenarios() == NAMES


@pytest.mark.parametrize("name", BUILT_IN_CI)
def test_every_catalogue_scenario_builds(name: str, tmp_cache: Path) -> None:
    t0 = time.perf_counter()
    sc = scenarios.build(name, horizon=SHORT, cache_dir=tmp_cache)
    assert time.perf_counter() - t0 < 60, "a build must take under a minute (district included)"
    assert sc.net_file.is_file() and all(p.is_file() for p in sc.route_files)
    assert (sc.begin, sc.end, sc.step_length) == (0.0, SHORT, 1.0)
    assert "--time-to-teleport" in sc.sumo_args
    net = read_net(sc.net_file)
    assert len(net.signals) == scenarios.CATALOGUE[name].n_signals
    assert all(s.n_greens >= 2 for s in net.signals)
    assert "Signals" in sc.card and "veh/h" in sc.card and "WUXI.md" in sc.card
    demand = sc.route_files[0].read_text()
    assert 'period="exp(' in demand and "<routeDistribution" in demand
    ends = [float(x.split('"')[0]) for x in demand.split(' end="')[1:]]
    assert ends and max(ends) <= SHORT


def test_single_has_four_protected_greens(single_scenario: Scenario) -> None:
    (signal,) = read_net(single_scenario.net_file).signals
    assert signal.n_greens == 4  # NS through, NS left, EW through, EW left
    assert signal.incoming_lanes == 16  # 4 approaches x (3 lanes + left pocket)
    assert signal.cycle == 120


def test_routes_turn_but_never_make_u_turns(single_scenario: Scenario) -> None:
    net = read_net(single_scenario.net_file)
    demand = single_scenario.route_files[0].read_text()
    routes = [
        line.split('edges="')[1].split('"')[0].split() for line in demand.splitlines() if "<route " in line
    ]
    dirs = {net.turns[a][b] for r in routes for a, b in zip(r, r[1:]) if net.turns[a][b] != "s"}
    assert {"l", "r"} <= dirs and "t" not in dirs


def test_second_build_is_a_cache_hit(single_scenario: Scenario, tmp_cache: Path) -> None:
    t0 = time.perf_counter()
    again = scenarios.build("wuxi-single", horizon=SHORT, cache_dir=tmp_cache)
    assert time.perf_counter() - t0 < 0.5
    assert again == single_scenario
    assert not [p for p in tmp_cache.iterdir() if p.name.startswith(".")], "no half-built entries"


def test_default_cache_is_the_env_var(tmp_cache: Path) -> None:
    sc = scenarios.build("wuxi-single", horizon=SHORT)
    assert sc.net_file.parent.parent == tmp_cache


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    a = scenarios.build("wuxi-corridor", seed=3, horizon=SHORT, cache_dir=tmp_path / "a")
    b = scenarios.build("wuxi-corridor", seed=3, horizon=SHORT, cache_dir=tmp_path / "b")
    for fa, fb in zip((a.net_file, *a.route_files), (b.net_file, *b.route_files)):
        assert fa.read_bytes() == fb.read_bytes()
    assert a.card == b.card


def test_different_seed_changes_the_sampled_routes(single_scenario: Scenario, tmp_cache: Path) -> None:
    """The build seed changes the route sample; the net is the same. (Arrival times are drawn by
    SUMO at run time from its own --seed, so they differ per episode for any build seed.)"""
    other = scenarios.build("wuxi-single", seed=1, horizon=SHORT, cache_dir=tmp_cache)
    assert other.net_file.read_bytes() == single_scenario.net_file.read_bytes()
    assert other.route_files[0].read_bytes() != single_scenario.route_files[0].read_bytes()


def test_demand_scale_and_horizon_are_part_of_the_key(single_scenario: Scenario, tmp_cache: Path) -> None:
    scaled = scenarios.build("wuxi-single", horizon=SHORT, demand_scale=0.5, cache_dir=tmp_cache)
    assert scaled.net_file.parent != single_scenario.net_file.parent
    assert "Demand scale 0.5" in scaled.card


@pytest.mark.parametrize("kwargs", [{"horizon": 0}, {"demand_scale": -1.0}])
def test_bad_build_arguments(kwargs: dict, tmp_cache: Path) -> None:
    with pytest.raises(ScenarioError, match="must be > 0"):
        scenarios.build("wuxi-single", cache_dir=tmp_cache, **kwargs)


def test_unknown_name_lists_known_ones(tmp_cache: Path) -> None:
    with pytest.raises(ScenarioError, match="wuxi-core") as info:
        scenarios.build("wuxi-nowhere", cache_dir=tmp_cache)
    assert all(n in str(info.value) for n in NAMES)


def test_describe_catalogue_returns_card(tmp_cache: Path) -> None:
    card = scenarios.describe("wuxi-single")
    assert card.startswith("# wuxi-single") and "Measured" in card


# --- external scenarios ---------------------------------------------------------------------


def test_mixed_external_has_heterogeneous_signals(mixed_external: Scenario) -> None:
    sigs = {s.tls_id: s for s in read_net(mixed_external.net_file).signals}
    assert (sigs["C"].n_greens, sigs["T"].n_greens) == (4, 2)
    assert sigs["C"].incoming_lanes != sigs["T"].incoming_lanes
    assert (mixed_external.begin, mixed_external.end, mixed_external.card) == (0.0, SHORT, "")
    summary = scenarios.describe(mixed_external.net_file)
    assert "| C | 8 | 4 |" in summary


def test_load_sumocfg_with_relative_paths(mixed_external: Scenario, tmp_path: Path) -> None:
    cfg = mixed_external.net_file.parent / "mixed.sumocfg"
    cfg.write_text(
        '<configuration><input><net-file value="mixed.net.xml"/>'
        '<route-files value="mixed.rou.xml"/></input>'
        '<time><begin value="10"/><end value="200"/><step-length value="0.5"/></time>'
        '<processing><time-to-teleport value="120"/></processing></configuration>'
    )
    sc = scenarios.load(cfg)
    assert sc.net_file == mixed_external.net_file and sc.route_files == mixed_external.route_files
    assert (sc.begin, sc.end, sc.step_length, sc.name) == (10.0, 200.0, 0.5, "mixed")
    assert sc.sumo_args == ("--time-to-teleport", "120")
    assert "Signals: 2" in scenarios.describe(cfg)


def _expect(match: str, path: Path, **kwargs: object) -> None:
    with pytest.raises(ScenarioError, match=match) as info:
        scenarios.load(path, **kwargs)  # type: ignore[arg-type]
    assert str(path.name) in str(info.value) or any(
        Path(str(p)).name in str(info.value) for p in kwargs.get("route_files", []) or []
    )  # type: ignore[union-attr]


def test_load_missing_file(tmp_path: Path) -> None:
    _expect("does not exist", tmp_path / "nope.sumocfg")


def test_load_malformed_xml(tmp_path: Path, mixed_external: Scenario) -> None:
    bad = tmp_path / "bad.net.xml"
    bad.write_text("<net><edge id='a'></net>")
    _expect("not well-formed", bad, route_files=mixed_external.route_files)
    rou = tmp_path / "bad.rou.xml"
    rou.write_text("<routes><route")
    with pytest.raises(ScenarioError, match="bad.rou.xml"):
        scenarios.load(mixed_external.net_file, route_files=[rou])


def test_load_net_without_traffic_lights(tmp_path: Path) -> None:
    net = tmp_path / "plain.net.xml"
    run_binary("netgenerate", ["--grid", "--grid.number", "2", "-j", "priority", "-o", net])
    rou = tmp_path / "r.rou.xml"
    rou.write_text('<routes><route id="r" edges="A0A1"/></routes>')
    _expect("no traffic lights", net, route_files=[rou])


def test_load_routes_with_unknown_edges(mixed_external: Scenario, tmp_path: Path) -> None:
    rou = tmp_path / "wrong.rou.xml"
    rou.write_text('<routes><trip id="t" from="wC" to="nowhere" depart="0"/></routes>')
    with pytest.raises(ScenarioError, match="wrong.rou.xml.*nowhere"):
        scenarios.load(mixed_external.net_file, route_files=[rou])


def test_load_program_without_green(mixed_external: Scenario, tmp_path: Path) -> None:
    add = tmp_path / "allred.add.xml"
    add.write_text(
        '<additional><tlLogic id="T" programID="red" type="static" offset="0">'
        '<phase duration="30" state="rrrrrrrrr"/></tlLogic></additional>'
    )
    with pytest.raises(ScenarioError, match="allred.add.xml.*no green phase"):
        scenarios.load(
            mixed_external.net_file, route_files=mixed_external.route_files, additional_files=[add]
        )


def test_load_net_requires_routes(mixed_external: Scenario) -> None:
    with pytest.raises(ScenarioError, match="route_files"):
        scenarios.load(mixed_external.net_file)


# --- command line ---------------------------------------------------------------------------


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "WUXI_TSC_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "scenarios", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_cli_list_build_info(tmp_cache: Path) -> None:
    out = _cli("list", cache=tmp_cache)
    assert out.returncode == 0 and all(n in out.stdout for n in NAMES) and "196" in out.stdout
    out = _cli("build", "wuxi-single", "--seed", "2", "--horizon", "300", cache=tmp_cache)
    assert out.returncode == 0 and "net.net.xml" in out.stdout and str(tmp_cache) in out.stdout
    out = _cli("info", "wuxi-single", cache=tmp_cache)
    assert out.returncode == 0 and out.stdout.startswith("# wuxi-single")


def test_cli_bad_name_exits_2_with_one_line(tmp_cache: Path) -> None:
    out = _cli("build", "wuxi-nowhere", cache=tmp_cache)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert "wuxi-core" in out.stderr
    out = _cli("info", "/no/such/file.sumocfg", cache=tmp_cache)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_package_does_not_import_sumo_apis() -> None:
    code = "import scenarios, sys; sys.exit(int(any(m in sys.modules for m in ('libsumo', 'traci'))))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("name", ["wuxi-moon", "Wuxi-Core"])
def test_an_unknown_scenario_name_lists_the_catalogue(name: str) -> None:
    with pytest.raises(ScenarioError) as err:
        scenarios.resolve(name)
    message = str(err.value)
    assert f"{name!r} is not in the catalogue" in message
    assert all(n in message for n in scenarios.list_scenarios())


def test_a_missing_scenario_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"file .*nowhere\.sumocfg' does not exist.*wuxi-core"):
        scenarios.resolve(str(tmp_path / "nowhere.sumocfg"))


def test_train_py_with_an_unknown_scenario_says_so_before_starting_anything(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    res = subprocess.run(
        [sys.executable, str(root / "train.py"), "scenario=wuxi-moon", f"run_root={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert res.returncode == 2, res.stderr
    assert "'wuxi-moon' is not in the catalogue" in res.stderr and "wuxi-corridor" in res.stderr
    assert "Traceback" not in res.stderr and not list(tmp_path.iterdir())  # no run folder was made
