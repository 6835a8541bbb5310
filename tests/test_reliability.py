"""Reliability (issue 7): SUMO killed mid-episode, gridlock, kill -9 during evaluation, the short soak.

Basics live elsewhere and are not repeated here: a killed TraCI child raising ``SimulationError`` at
the connection level (test_connection.py), kill-and-resume of training and corrupt checkpoints
(test_training.py), resume and 1-vs-2-worker determinism of evaluation (test_evaluation.py).
Every test checks that no SUMO process is left behind.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import yaml
from leaks import no_sumo_leak, sumo_processes
from nets import netconvert_plain, netgenerate_grid

from agents.vec_env import MultiAgentVecEnv
from core.errors import SimulationError
from envs import TrafficSignalEnv
from envs.config import EnvConfig
from scenarios.scenario import Scenario

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(autouse=True)
def no_leak():
    with no_sumo_leak():
        yield


def wait_dead(proc: psutil.Process, timeout: float = 10.0) -> None:
    """Wait until ``proc`` (not necessarily our child) has exited or is a zombie."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.02)
    raise AssertionError(f"process {proc.pid} still alive after {timeout} s")


def first_actions(venv: MultiAgentVecEnv) -> np.ndarray:
    """The first allowed action of every entry."""
    return np.array([int(np.flatnonzero(m)[0]) for m in venv.action_masks()])


# ----------------------------------------------------------------------------- 1. simulator faults
def test_env_step_after_the_sumo_child_is_killed_is_a_simulation_error_and_reset_recovers(
    single_scenario: Scenario,
) -> None:
    with TrafficSignalEnv(single_scenario, backend="traci") as env:
        obs, infos = env.reset(seed=3)
        actions = {a: 0 for a in env.agents}
        env.step(actions)
        conn = env.connection
        assert conn is not None and conn.pid is not None
        victim = psutil.Process(conn.pid)
        victim.kill()
        wait_dead(victim)
        with pytest.raises(SimulationError, match="died"):
            env.step(actions)
        assert conn.closed  # the dead simulation is released at once, not at garbage collection
        obs, infos = env.reset(seed=3)  # the same env object starts a fresh simulation
        assert env.connection is not None and env.connection.pid != victim.pid
        _, _, _, trunc, infos = env.step(actions)
        assert not any(trunc.values()) and next(iter(infos.values()))["time"] > 0


def test_training_worker_survives_its_sumo_being_killed(single_scenario: Scenario) -> None:
    """Fault injection in a real worker process: kill its TraCI SUMO child mid-episode; the worker
    restarts the simulation, the episode ends (truncated) and ``faults`` counts it; training goes on."""
    venv = MultiAgentVecEnv(single_scenario, EnvConfig(backend="traci"), n_envs=1, in_process=False)
    try:
        worker = psutil.Process(venv._procs[0].pid)
        venv.reset()
        actions = first_actions(venv)
        for _ in range(3):
            _, _, dones, _ = venv.step(actions)
            assert not dones.any()
        children = sumo_processes(worker)
        assert len(children) == 1, children
        victim = children[0]
        victim.kill()
        wait_dead(victim)

        obs, rewards, dones, infos = venv.step(actions)
        assert dones.all() and venv.faults == 1
        assert all(info["TimeLimit.truncated"] for info in infos)
        assert all(np.array_equal(info["terminal_observation"], obs[i]) for i, info in enumerate(infos))
        assert np.all(rewards == 0.0)
        fault = venv.step_metrics[-1]
        assert "died" in fault["fault"] and fault["episode_done"] and fault["time"] == 0.0
        assert venv.episode_stats == []  # a crashed episode is not reported as a finished one

        replacement = sumo_processes(worker)
        assert len(replacement) == 1 and replacement[0].pid != victim.pid
        for _ in range(5):  # the run goes on, on the restarted simulation
            _, _, dones, _ = venv.step(first_actions(venv))
            assert not dones.any()
        assert venv.faults == 1 and "fault" not in venv.step_metrics[-1]
        assert venv.step_metrics[-1]["time"] > 0
        assert venv.worker_state() == [{"episode": 1, "faults": 1}]  # next seed of the stream
    finally:
        venv.close()
    wait_dead(worker)


def test_libsumo_exception_mid_episode_is_caught_in_process(single_scenario: Scenario) -> None:
    """libsumo cannot be killed separately from its process; an exception raised by SUMO is the
    in-process fault. It must surface as a SimulationError and the (in-process) worker restarts."""
    import libsumo

    venv = MultiAgentVecEnv(single_scenario, EnvConfig(backend="libsumo"), n_envs=1, in_process=True)
    try:
        venv.reset()
        venv.step(first_actions(venv))
        conn = venv._local.env.connection  # type: ignore[union-attr]
        real = conn._api

        class Failing:
            def __getattr__(self, name):
                return getattr(real, name)

            def simulationStep(self, *args):  # noqa: N802 - libsumo's name
                raise libsumo.TraCIException("injected failure inside simulationStep")

        conn._api = Failing()
        _, _, dones, _ = venv.step(first_actions(venv))
        assert dones.all() and venv.faults == 1
        assert "injected failure" in venv.step_metrics[-1]["fault"]
        assert venv._local.env.connection is not conn and conn.closed  # type: ignore[union-attr]
        _, _, dones, _ = venv.step(first_actions(venv))
        assert not dones.any() and venv.faults == 1
    finally:
        venv.close()


# ----------------------------------------------------------------------------- 2. gridlock
def blocked_junction(folder: Path, end: float = 900.0) -> Scenario:
    """A 4-arm signalised junction B whose east exit is blocked by a vehicle parked for good
    20 m past the junction, with 1800 veh/h arriving from the west that all want to go east:
    whatever the signal does, the west approach fills and stays still (a gridlock)."""
    folder.mkdir(parents=True, exist_ok=True)
    nodes = folder / "j.nod.xml"
    nodes.write_text(
        '<nodes><node id="A" x="0" y="0"/><node id="B" x="300" y="0" type="traffic_light"/>'
        '<node id="C" x="800" y="0"/><node id="D" x="300" y="-300"/>'
        '<node id="E" x="300" y="300"/></nodes>'
    )
    edges = folder / "j.edg.xml"
    edges.write_text(
        '<edges><edge id="AB" from="A" to="B" numLanes="1" speed="13.89"/>'
        '<edge id="BC" from="B" to="C" numLanes="1" speed="13.89"/>'
        '<edge id="DB" from="D" to="B" numLanes="1" speed="13.89"/>'
        '<edge id="BE" from="B" to="E" numLanes="1" speed="13.89"/></edges>'
    )
    net = folder / "j.net.xml"
    netconvert_plain(nodes, edges, net)
    routes = folder / "j.rou.xml"
    routes.write_text(
        '<routes><vType id="car" sigma="0" length="5" minGap="2.5"/>'
        '<vehicle id="blocker" type="car" depart="0" departPos="0"><route edges="BC"/>'
        '<stop lane="BC_0" endPos="20" duration="100000"/></vehicle>'
        f'<flow id="west" type="car" begin="1" end="{end}" vehsPerHour="1800" departLane="best">'
        '<route edges="AB BC"/></flow>'
        f'<flow id="south" type="car" begin="1" end="{end}" vehsPerHour="100"><route edges="DB BE"/></flow>'
        "</routes>"
    )
    return Scenario("blocked", net, (routes,), (), begin=0, end=end)


def test_gridlock_ends_the_episode_early_and_reports_teleports(tmp_path: Path) -> None:
    scenario = blocked_junction(tmp_path)
    env = TrafficSignalEnv(
        scenario,
        backend="libsumo",
        jam_halting_fraction=0.6,
        jam_patience=60,
        sumo_args=("--time-to-teleport", "40"),
    )
    with env:
        _, infos = env.reset(seed=1)
        assert env.agents
        history = []
        while env.agents:
            _, _, term, trunc, infos = env.step({a: 0 for a in env.agents})
            history.append(next(iter(infos.values())))
        last = history[-1]
        assert all(trunc.values()) and not any(term.values())
        assert last["jammed"] is True
        assert last["time"] < scenario.end - 200, f"jam not detected early: ended at {last['time']}"
        assert not any(h["jammed"] for h in history[:-1])  # reported once, at the end
        assert last["teleports"] > 0, "SUMO teleported jammed vehicles; info must report it"
        assert last["halting"] >= 0.6 * last["running"]  # most vehicles on the approaches stand
        assert env.last_trip_stats  # episode-end stats are filled on a jam end as on the horizon


def test_without_the_jam_option_the_same_gridlock_runs_to_the_horizon(tmp_path: Path) -> None:
    scenario = blocked_junction(tmp_path, end=300.0)
    with TrafficSignalEnv(scenario, backend="libsumo", sumo_args=("--time-to-teleport", "40")) as env:
        env.reset(seed=1)
        while env.agents:
            _, _, _, _, infos = env.step({a: 0 for a in env.agents})
        last = next(iter(infos.values()))
        assert last["time"] == pytest.approx(scenario.end) and last["jammed"] is False
        assert last["teleports"] > 0


# ----------------------------------------------------------------------------- 3. kill -9 in evaluation
ROUTES = """<routes>
  <vType id="car" sigma="0.5" length="5" minGap="2.5" maxSpeed="13.89"/>
  <flow id="we" type="car" from="left0A0" to="B0right0" begin="0" end="600" vehsPerHour="1200" departLane="best"/>
  <flow id="sn" type="car" from="bottom0A0" to="A1top0" begin="0" end="600" vehsPerHour="500" departLane="best"/>
</routes>"""


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("grid")
    net = netgenerate_grid(folder)
    routes = folder / "grid.rou.xml"
    routes.write_text(ROUTES)
    return net, routes


def _eval_yaml(folder: Path, net: Path, routes: Path, seeds: int) -> Path:
    cfg = folder / "eval.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "scenarios": [{"name": "grid", "net": str(net), "routes": [str(routes)], "end": 600}],
                "controllers": ["fixed_time", "max_pressure"],
                "seeds": seeds,
                "workers": 0,
                "out": str(folder / "res"),
            }
        )
    )
    return cfg


def _evaluate(cfg: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO / "evaluate.py"), "--config", str(cfg), "--no-progress", "--no-plots"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        **kw,
    )


def _episodes(out: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in out.glob("episodes/*/*/seed_*.json")}


def test_sigterm_during_a_pooled_evaluation_stops_its_workers(tmp_path: Path, grid) -> None:
    """``kill PID`` (SIGTERM to the main process alone, as ``timeout`` or a scheduler sends it)
    unwinds like Ctrl-C: exit status 130 with a message, and no pool worker is left running."""
    cfg = _eval_yaml(tmp_path, *grid, seeds=4)
    cfg.write_text(yaml.safe_dump(yaml.safe_load(cfg.read_text()) | {"workers": 2}))
    proc = _evaluate(cfg)
    main = psutil.Process(proc.pid)
    try:
        deadline = time.time() + 180
        while len([c for c in main.children() if "resource_tracker" not in " ".join(c.cmdline())]) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.time() < deadline, "the pool did not start within 180 s"
            time.sleep(0.05)
        time.sleep(1.0)  # into the episodes
        workers = main.children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err.decode()[-2000:]
    assert "interrupted (stopped by signal SIGTERM)" in err.decode()
    _, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, f"left running: {[p.pid for p in alive]}"


def test_kill_9_during_evaluation_then_rerun_skips_finished_episodes(tmp_path: Path, grid) -> None:
    cfg = _eval_yaml(tmp_path, *grid, seeds=4)
    out = tmp_path / "res"
    proc = _evaluate(cfg)
    try:
        deadline = time.time() + 180
        while not _episodes(out):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.time() < deadline, "no episode finished within 180 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group, like the machine killing the job
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not sumo_processes()
    before = _episodes(out)
    assert 1 <= len(before) < 8, "the kill should land mid-run"
    for path in before:  # every file that exists is complete (atomic writes)
        assert json.loads(path.read_text())["metrics"]["vehicles"] > 0
    assert not (out / "summary.md").exists()

    rerun = _evaluate(cfg)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()[-3000:]
    after = _episodes(out)
    assert len(after) == 8
    assert {p: after[p] for p in before} == before, "a finished episode was run again"
    assert not list(out.rglob("*.tmp")), "temporary files left behind"
    assert (out / "summary.md").is_file()


_KILL_IN_WRITE = """
import os, signal, sys
from pathlib import Path
import core.files as h
from evaluation import load_eval_config, run

real_replace = os.replace
def replace(src, dst):
    if Path(dst).name == "seed_2.json":  # the temp file is written; die before the rename
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst)
h.os.replace = replace
run(load_eval_config(sys.argv[1]), progress=False, plots=False)
"""


def test_kill_between_temp_write_and_rename_leaves_no_partial_or_stale_file(tmp_path: Path, grid) -> None:
    """The worst moment for a kill: the episode's temp file is written but not yet renamed."""
    cfg = _eval_yaml(tmp_path, *grid, seeds=2)
    out = tmp_path / "res"
    killed = subprocess.run(
        [sys.executable, "-c", _KILL_IN_WRITE, str(cfg)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    done = _episodes(out)
    assert [p.name for p in done] == ["seed_1.json"]  # seed_2 never appears half-written
    assert list(out.rglob("*.tmp")), "the kill should have left the temp file (test premise)"

    rerun = _evaluate(cfg)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()[-3000:]
    after = _episodes(out)
    assert len(after) == 4 and all(after[p] == t for p, t in done.items())
    stale = list(out.rglob("*.tmp"))
    assert not stale, f"stale temp files from the killed run are never removed: {stale}"


# ----------------------------------------------------------------------------- 5. soak, CI variant
def _soak_module():
    spec = importlib.util.spec_from_file_location("bench_soak", REPO / "bench" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_soak"] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("backend", ["libsumo", "traci"])
def test_short_soak_memory_and_fds_stay_flat(tmp_cache: Path, backend: str) -> None:
    """15 consecutive episodes (each a simulation restart) in a worker process: the worker's RSS
    grows by less than 15 MB after the first episodes, fds do not grow, no SUMO process leaks."""
    import scenarios

    soak = _soak_module()
    scenario = scenarios.build("wuxi-single", horizon=60, cache_dir=tmp_cache)
    res = soak.soak(
        scenario,
        episodes=15,
        n_envs=1,
        backend=backend,
        sample_every=3,
        max_rss_growth_mb=15.0,
        max_fd_growth=0,
        echo=False,
    )
    assert [s.episodes for s in res.samples] == [0, 3, 6, 9, 12, 15]
    assert res.verdict_problems() == [], [soak._format(s) for s in res.samples]
    assert res.max_sumo <= (1 if backend == "traci" else 0)


def test_training_worker_answers_an_unknown_command_with_an_error(single_scenario: Scenario) -> None:
    """A command the worker does not know must raise in the trainer, not leave it waiting forever
    for an answer (SB3's SubprocVecEnv raises too)."""
    venv = MultiAgentVecEnv(single_scenario, EnvConfig(backend="libsumo"), n_envs=1, in_process=False)
    try:
        worker = psutil.Process(venv._procs[0].pid)
        with pytest.raises(SimulationError, match="unknown command 'teleport'"):
            venv._call_all("teleport")
    finally:
        venv.close()
    wait_dead(worker)
