"""Evaluation harness: metrics against hand-computed cases, vehicles that never finish or never enter,
resume, determinism across worker counts, config errors, external scenarios and evaluate.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from nets import netconvert_plain, netgenerate_grid

from core.errors import ConfigError
from evaluation import make_eval_config, run
from evaluation.config import ControllerEntry, EvalConfig, load_eval_config
from evaluation.harness import run_episode
from evaluation.stats import mean_ci, paired_diff, t975
from scenarios.scenario import Scenario

REPO = Path(__file__).resolve().parents[1]
SPEED = 13.89


def make_line(folder: Path, vehicles: str, red_for: float, end: float, first_edge: float = 500.0) -> Scenario:
    """A west-east road A-B-C with a signal at B (and a side street D-B-E), one vehicle type
    without driver imperfection, and the signal held red for the west approach for ``red_for`` s."""
    nodes = folder / "n.nod.xml"
    nodes.write_text(f"""<nodes>
  <node id="A" x="0" y="0"/><node id="B" x="{first_edge}" y="0" type="traffic_light"/>
  <node id="C" x="{first_edge + 500}" y="0"/><node id="D" x="{first_edge}" y="-300"/>
  <node id="E" x="{first_edge}" y="300"/></nodes>""")
    edges = folder / "e.edg.xml"
    edges.write_text(f"""<edges>
  <edge id="AB" from="A" to="B" numLanes="1" speed="{SPEED}"/>
  <edge id="BC" from="B" to="C" numLanes="1" speed="{SPEED}"/>
  <edge id="DB" from="D" to="B" numLanes="1" speed="{SPEED}"/>
  <edge id="BE" from="B" to="E" numLanes="1" speed="{SPEED}"/>
</edges>""")
    net = folder / "line.net.xml"
    netconvert_plain(nodes, edges, net)
    import xml.etree.ElementTree as ET

    root = ET.parse(net).getroot()
    n_links = len(root.find("tlLogic").find("phase").get("state"))
    west = {
        int(c.get("linkIndex"))
        for c in root.iter("connection")
        if c.get("from") == "AB" and c.get("tl") == "B"
    }
    held = "".join("r" if i in west else "G" for i in range(n_links))
    add = folder / "red.add.xml"
    red = f'<phase duration="{red_for}" state="{held}"/>' if red_for > 0 else ""
    add.write_text(f"""<additional><tlLogic id="B" type="static" programID="held" offset="0">
  {red}<phase duration="10000" state="{"G" * n_links}"/></tlLogic></additional>""")
    routes = folder / "line.rou.xml"
    routes.write_text(f"""<routes><vType id="car" sigma="0" speedFactor="1" length="5" minGap="2.5"
  maxSpeed="{SPEED}" accel="2.6" decel="4.5"/>{vehicles}</routes>""")
    return Scenario("line", net, (routes,), (add,), begin=0, end=end)


ONE_CAR = (
    '<vehicle id="v" type="car" depart="0" departSpeed="max" departPos="base">'
    '<route edges="AB BC"/></vehicle>'
)
CONFIG = EvalConfig(workers=0, series_period=10)
FIXED = ControllerEntry.model_validate("fixed_time")


def test_free_flow_trip_has_almost_no_delay(tmp_path: Path) -> None:
    sc = make_line(tmp_path, ONE_CAR, red_for=0, end=200)
    m = run_episode(sc, FIXED, 1, CONFIG)["metrics"]
    assert m["vehicles"] == 1 and m["throughput"] == 1 and m["never_inserted"] == 0
    free_flow = 1000 / SPEED  # ~72 s for 1 km at the speed limit
    assert m["travel_time"] == pytest.approx(free_flow, abs=3)
    assert m["delay"] < 3 and m["stops"] == 0


def test_a_red_held_for_100_s_adds_the_wait(tmp_path: Path) -> None:
    sc = make_line(tmp_path, ONE_CAR, red_for=100, end=300)
    m = run_episode(sc, FIXED, 1, CONFIG)["metrics"]
    arrival_at_light = 500 / SPEED  # ~36 s
    wait = 100 - arrival_at_light
    # stopping and starting again cost a few more seconds (decel 4.5, accel 2.6 m/s^2)
    assert wait < m["delay"] < wait + 8
    assert m["stops"] == 1 and m["waiting_time"] == pytest.approx(wait, abs=6)


def test_unfinished_and_never_inserted_vehicles_count(tmp_path: Path) -> None:
    # 20 cars due at t = 0..19 on a 50 m approach held red for the whole episode: a few enter and
    # queue, the rest can never be inserted. Nobody arrives, so every car's travel time is
    # end - planned departure, inserted or not.
    cars = "".join(
        f'<vehicle id="v{i}" type="car" depart="{i}"><route edges="AB BC"/></vehicle>' for i in range(20)
    )
    sc = make_line(tmp_path, cars, red_for=1000, end=100, first_edge=50)
    m = run_episode(sc, FIXED, 1, CONFIG)["metrics"]
    assert m["vehicles"] == 20 and m["throughput"] == 0
    assert 0 < m["never_inserted"] < 20 and m["unfinished"] == 20 - m["never_inserted"]
    expected = sum(100 - i for i in range(20)) / 20  # 90.5 s
    assert m["travel_time"] == pytest.approx(expected, abs=1.0)
    assert m["delay"] > expected - 15  # all of it is delay, but the few inserted cars drove a bit
    assert m["backlog"] > 0 and m["depart_delay"] > 30


def test_statistics_by_hand() -> None:
    assert t975(2) == pytest.approx(4.303)
    mean, ci, n = mean_ci([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3) and ci == pytest.approx(4.303 * 1.0 / 3**0.5, rel=1e-6)
    d, dci, n = paired_diff({1: 10.0, 2: 12.0, 3: 14.0}, {1: 11.0, 2: 13.0, 3: 15.0, 4: 99.0})
    assert (d, dci, n) == (-1.0, 0.0, 3)  # a constant paired difference has no spread


# ------------------------------------------------------------------------- harness on a small grid
ROUTES = """<routes>
  <vType id="car" sigma="0.5" length="5" minGap="2.5" maxSpeed="13.89"/>
  <flow id="we" type="car" from="left0A0" to="B0right0" begin="0" end="240" vehsPerHour="1400" departLane="best"/>
  <flow id="sn" type="car" from="bottom0A0" to="A1top0" begin="0" end="240" vehsPerHour="500" departLane="best"/>
  <flow id="ns" type="car" from="top1B1" to="B0bottom1" begin="0" end="240" vehsPerHour="500" departLane="best"/>
</routes>"""


@pytest.fixture(scope="module")
def grid_files(tmp_path_factory) -> tuple[Path, Path]:
    """An external net + routes: a 2x2 signalised grid with fringe roads."""
    folder = tmp_path_factory.mktemp("mixed")
    net = netgenerate_grid(folder, "--tls.left-green.time", "8", name="mixed")
    routes = folder / "mixed.rou.xml"
    routes.write_text(ROUTES)
    return net, routes


def _config(tmp_path: Path, net: Path, routes: Path, **kw) -> EvalConfig:
    data = {
        "scenarios": [{"name": "grid", "net": str(net), "routes": [str(routes)], "end": 300}],
        "controllers": ["fixed_time", "max_pressure"],
        "seeds": 2,
        "workers": 2,
        "out": str(tmp_path / "res"),
        "series_period": 30,
    }
    data.update(kw)
    return make_eval_config(data)


def test_resume_reruns_only_missing_episodes_identically(tmp_path: Path, grid_files) -> None:
    config = _config(tmp_path, *grid_files)
    out = run(config, progress=False, plots=False)
    files = sorted(out.glob("episodes/*/*/seed_*.json"))
    assert len(files) == 4
    before = {f: (f.stat().st_mtime_ns, json.loads(f.read_text())["metrics"]) for f in files}
    deleted = [files[0], files[-1]]  # fixed_time seed 1 (native), max_pressure seed 2 (env-driven)
    for f in deleted:
        f.unlink()
    run(make_eval_config(config, workers=1), progress=False, plots=False)  # 1 worker this time
    after = {f: (f.stat().st_mtime_ns, json.loads(f.read_text())["metrics"]) for f in files}
    assert [f for f in files if after[f][0] != before[f][0]] == deleted
    for f in deleted:
        assert after[f][1] == before[f][1]  # bit-identical with 1 or 2 workers
    summary = (out / "summary.md").read_text()
    assert "`max_pressure`" in summary and "Paired difference vs `fixed_time`" in summary


def test_external_scenario_with_mixed_phase_counts(tmp_path: Path) -> None:
    folder = tmp_path / "ext"
    folder.mkdir()
    net = netgenerate_grid(folder, number=3, length=250, lanes=1, attach=None, name="ext")
    routes = folder / "ext.rou.xml"
    routes.write_text("""<routes><vType id="car" sigma="0.5"/>
  <flow id="a" type="car" from="A0B0" to="B2C2" begin="0" end="200" vehsPerHour="500"/>
  <flow id="b" type="car" from="C0C1" to="A2A1" begin="0" end="200" vehsPerHour="400"/>
  <flow id="c" type="car" from="B0B1" to="B1B2" begin="0" end="200" vehsPerHour="400"/></routes>""")
    import xml.etree.ElementTree as ET

    greens = {
        len([p for p in tl.iter("phase") if "G" in p.get("state") and "y" not in p.get("state")])
        for tl in ET.parse(net).getroot().iter("tlLogic")
    }
    assert len(greens) > 1, f"the test net should mix phase counts, got {greens}"
    config = make_eval_config(
        {
            "scenarios": [{"name": "ext", "net": str(net), "routes": [str(routes)], "end": 240}],
            "controllers": ["fixed_time", "webster", "actuated", "max_pressure"],
            "seeds": [1],
            "workers": 0,
            "out": str(tmp_path / "res"),
            "controller_settings": {"webster": {"interval": 120}},
        }
    )
    out = run(config, progress=False, plots=False)
    rows = (out / "episodes.csv").read_text().splitlines()
    assert len(rows) == 1 + 4


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"eval\.seedz: unknown field"):
        make_eval_config({"seedz": 3})
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"controller_settings": {"actuated": {"min_gren": 5}}}))
    with pytest.raises(ConfigError, match=r"bad\.yaml.*controller_settings\.actuated\.min_gren"):
        load_eval_config(bad)
    with pytest.raises(ConfigError, match="duplicate labels"):
        make_eval_config({"controllers": ["fixed_time", "fixed_time"]})
    with pytest.raises(ConfigError, match=r"max_presure.*known controllers"):
        run(
            make_eval_config(
                {
                    "controllers": ["max_presure"],
                    "out": str(tmp_path / "r"),
                    "scenarios": [{"name": "x", "net": "n.xml", "routes": ["r.xml"]}],
                }
            )
        )


def test_evaluate_py_writes_the_results_folder(tmp_path: Path, grid_files) -> None:
    net, routes = grid_files
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "scenarios": [{"name": "grid", "net": str(net), "routes": [str(routes)], "end": 240}],
                "controllers": ["fixed_time", "actuated", "max_pressure"],
                "seeds": 2,
                "workers": 2,
                "out": str(tmp_path / "ignored"),
            }
        )
    )
    out = tmp_path / "res"
    proc = subprocess.run(
        [sys.executable, str(REPO / "evaluate.py"), "--config", str(cfg), "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| `actuated` |" in (out / "summary.md").read_text()
    assert len((out / "episodes.csv").read_text().splitlines()) == 1 + 6
    assert {p.name for p in (out / "plots").glob("*.png")} == {
        "grid_metrics.png",
        "grid_queue.png",
        "grid_throughput.png",
        "tradeoff.png",  # delay vs CO2 per vehicle (issue 18)
    }
    assert "| `actuated` |" in (out / "tradeoff.md").read_text()
    assert yaml.safe_load((out / "config.yaml").read_text())["out"] == str(out)

    bad = subprocess.run(
        [sys.executable, str(REPO / "evaluate.py"), "--config", str(cfg), "--controllers", "fixed_time,nope"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "'nope' is unknown" in bad.stderr


def test_training_evaluator_config_reuses_baselines_under_the_run(tmp_path: Path) -> None:
    from agents.config import TrainConfig
    from evaluation.training import training_eval_config

    run_dir = tmp_path / "run"
    (run_dir / "eval_models").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("{}")
    train = TrainConfig(horizon=600, env={"delta_time": 2, "min_green": 5})
    config = training_eval_config(train, run_dir / "eval_models" / "step_5.zip")
    # env-driven baselines keep the evaluation's timing (as in evaluate.py), not the policy's
    assert config.env.delta_time == 5 and config.env.min_green == 10
    assert [c.label for c in config.controllers] == ["fixed_time", "max_pressure", "policy"]
    assert config.controllers[-1].spec.startswith("ppo:") and config.out == str(run_dir / "eval")
    # validation seeds by default, disjoint from the test seeds 1-5 that the final table uses
    assert config.scenarios[0].horizon == 600 and config.seeds == (11, 12, 13, 14, 15)
    test = training_eval_config(train, run_dir / "best_model.zip", seeds=[1, 2], folder="test")
    assert test.seeds == (1, 2) and test.out == str(run_dir / "test")


def test_training_config_refuses_test_seeds_that_also_validate() -> None:
    from agents.config import TrainConfig
    from core.config import validate

    with pytest.raises(ConfigError, match=r"config\.eval.*share \[3\]"):
        validate(TrainConfig, {"eval": {"seeds": [3, 11], "test_seeds": [1, 2, 3]}}, "config")
