"""Ray (issue 16): evaluation episodes as Ray tasks, training simulations as Ray actors.

A Ray evaluation gives the process pool's metrics; an interrupted Ray sweep resumes without rerunning
finished episodes; a Ray actor killed during training is replaced and counted; a bad address fails
within seconds with the project's error; the extra missing gives the install command. Each test that
starts Ray starts one local instance on loopback (2 CPUs) and checks that every process of it is gone
afterwards.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

ray = pytest.importorskip("ray")

from sb3_contrib import MaskablePPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402

import evaluation.harness as harness  # noqa: E402
from agents.mix import ScenarioMix  # noqa: E402
from agents.vec_env import MultiAgentVecEnv, WorkerSpec, _Sim  # noqa: E402
from core.errors import ClusterError, ConfigError  # noqa: E402
from core.ray_cluster import LOCAL_NODE_IP, RaySession  # noqa: E402
from envs.config import EnvConfig  # noqa: E402
from evaluation import make_eval_config  # noqa: E402
from evaluation.harness import load_records, run_episodes  # noqa: E402
from scenarios.scenario import Scenario  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RAY_NAMES = ("raylet", "gcs_server", "ray::")


def ray_processes() -> list[psutil.Process]:
    """Live Ray processes below this test process (head services and workers)."""
    out = []
    for proc in psutil.Process().children(recursive=True):
        try:
            text = proc.name() + " " + " ".join(proc.cmdline())
            if proc.status() != psutil.STATUS_ZOMBIE and (
                any(n in text for n in RAY_NAMES) or "ray/_private" in text or "ray.util" in text
            ):
                out.append(proc)
        except psutil.NoSuchProcess:
            continue
    return out


def assert_no_ray_left(timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while ray_processes() and time.time() < deadline:
        time.sleep(0.2)
    left = ray_processes()
    for proc in left:
        proc.kill()
    assert not left, f"Ray processes left running: {[(p.pid, p.name()) for p in left]}"


@pytest.fixture
def local_ray() -> Iterator[None]:
    """A local Ray instance with 2 CPUs for one test; afterwards, no Ray process may be left."""
    assert not ray.is_initialized()
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address=LOCAL_NODE_IP, logging_level="WARNING")
    try:
        yield
    finally:
        ray.shutdown()
        assert_no_ray_left()


def sweep(tmp_path: Path, tmp_cache: Path, name: str, **kw: Any) -> Any:
    """A tiny sweep: a native controller with prepared inputs (Webster), a plain native one and an
    env-driven one, 2 seeds, on the 300-s single intersection."""
    data = {
        "scenarios": [{"name": "wuxi-single", "horizon": 300}],
        "controllers": ["fixed_time", "webster", "max_pressure"],
        "seeds": 2,
        "workers": 2,
        "cache_dir": str(tmp_cache),
        "out": str(tmp_path / name),
        "series_period": 30,
        "controller_settings": {"webster": {"interval": 150}},
    }
    data.update(kw)
    return make_eval_config(data)


def results(out: Path) -> dict[tuple[str, int], Any]:
    return {(r["controller"], r["seed"]): (r["metrics"], r["series"]) for r in load_records(out)}


# ----------------------------------------------------------------------------- evaluation
def test_ray_evaluation_equals_the_process_pool(tmp_path: Path, tmp_cache: Path, local_ray: None) -> None:
    pool = run_episodes(sweep(tmp_path, tmp_cache, "pool"), progress=False)
    on_ray = run_episodes(sweep(tmp_path, tmp_cache, "ray", executor="ray"), progress=False)
    expected, got = results(pool), results(on_ray)
    assert len(expected) == 6 and got == expected  # metrics and time series, bit for bit
    assert {r["node"] for r in load_records(pool)} == {"local"}
    (node,) = {r["node"] for r in load_records(on_ray)}
    assert node == ray.get_runtime_context().get_node_id()  # the episodes ran as Ray tasks


def test_interrupted_ray_sweep_resumes_without_rerunning(
    tmp_path: Path, tmp_cache: Path, local_ray: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = sweep(tmp_path, tmp_cache, "ray", executor="ray")
    written: list[Path] = []
    real_write = harness.atomic_write_text

    def write_then_interrupt(path: Path, text: str) -> None:
        real_write(path, text)
        if "episodes" in Path(path).parts:
            written.append(Path(path))
            if len(written) == 2:  # Ctrl-C on the driver after two finished episodes
                raise KeyboardInterrupt

    monkeypatch.setattr(harness, "atomic_write_text", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_episodes(config, progress=False)
    monkeypatch.setattr(harness, "atomic_write_text", real_write)
    files = sorted((tmp_path / "ray").glob("episodes/*/*/seed_*.json"))
    assert files == sorted(written)
    stamps = {f: f.stat().st_mtime_ns for f in files}

    run_episodes(config, progress=False)  # the rerun
    assert len(list((tmp_path / "ray").glob("episodes/*/*/seed_*.json"))) == 6
    assert {f: f.stat().st_mtime_ns for f in files} == stamps  # finished episodes were skipped
    pool = run_episodes(sweep(tmp_path, tmp_cache, "pool"), progress=False)
    assert results(tmp_path / "ray") == results(pool)


# ----------------------------------------------------------------------------- training
class KillActor(BaseCallback):
    """Kills simulation 0's Ray actor at one rollout step, as a lost node or an OOM kill would."""

    def __init__(self, venv: MultiAgentVecEnv, at_step: int) -> None:
        super().__init__()
        self.venv, self.at_step = venv, at_step
        self.killed: Any = None
        self.after: dict[str, np.ndarray] = {}

    def _on_step(self) -> bool:
        if self.n_calls == self.at_step:
            self.killed = self.venv.ray_workers.actors[0]
            ray.kill(self.killed)
        # The step the dead actor could not answer: ray.kill is asynchronous, so on a loaded
        # machine the actor may still answer a step or two; the fault count says when it surfaced.
        if self.killed is not None and not self.after and self.venv.faults:
            self.after = {k: np.array(self.locals[k]) for k in ("new_obs", "dones")}
        return True


def test_killed_actor_during_training_is_replaced_and_counted(
    single_scenario: Scenario, local_ray: None
) -> None:
    env_config = EnvConfig(backend="libsumo")
    venv = MultiAgentVecEnv(single_scenario, env_config, n_envs=2, seed_base=500, executor="ray")
    try:
        model = MaskablePPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, seed=0)
        kill = KillActor(venv, at_step=5)
        model.learn(total_timesteps=64, callback=kill)  # 2 rollouts; training goes on after the kill
        assert kill.killed is not None and venv.ray_workers.actors[0] != kill.killed
        assert venv.ray_workers.replaced == 1 and venv.faults == 1
        faults = [m for m in venv.step_metrics if "fault" in m]
        assert len(faults) == 1 and "died" in faults[0]["fault"]
        state = venv.worker_state()
        assert state[0] == {"episode": 1, "faults": 1}  # the killed episode ended, counted
        assert state[1] == {"episode": 0, "faults": 0}
        # The replacement continued simulation 0's seed stream: its episode 1, as a process worker would.
        reference = _Sim(WorkerSpec(ScenarioMix.single(single_scenario), env_config, 0, 500, 2), episode=1)
        try:
            first = reference.reset().obs
        finally:
            reference.close()
        assert list(kill.after["dones"]) == [True, False]  # simulation 0's episode ended there
        assert np.array_equal(kill.after["new_obs"][0], first[0])
        obs = venv.reset()
        assert obs.shape == (2, venv.observation_space.shape[0])
    finally:
        venv.close()
    assert not venv.ray_workers.actors


def test_ray_rollouts_equal_process_rollouts(single_scenario: Scenario, local_ray: None) -> None:
    """The same actions give the same observations and rewards through actors and processes."""
    env_config = EnvConfig(backend="libsumo")
    traces = {}
    for executor in ("process", "ray"):
        venv = MultiAgentVecEnv(single_scenario, env_config, n_envs=2, seed_base=700, executor=executor)
        try:
            obs, steps = [venv.reset()], []
            rng = np.random.default_rng(3)
            for _ in range(20):
                masks = venv.action_masks()
                actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
                o, r, d, _ = venv.step(actions)
                steps.append((o, r, d))
            traces[executor] = (obs, steps)
        finally:
            venv.close()
    (obs_p, steps_p), (obs_r, steps_r) = traces["process"], traces["ray"]
    assert np.array_equal(obs_p[0], obs_r[0])
    for (op, rp, dp), (orr, rr, dr) in zip(steps_p, steps_r):
        assert np.array_equal(op, orr) and np.array_equal(rp, rr) and np.array_equal(dp, dr)


# ----------------------------------------------------------------------------- errors
def test_bad_address_fails_within_seconds_at_the_entry_point(tmp_path: Path) -> None:
    with socket.socket() as s:  # a loopback port with nothing behind it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(REPO / "evaluate.py"), "--executor", "ray", "--address", f"127.0.0.1:{port}",
         "--out", str(tmp_path / "res"), "--no-progress"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )  # fmt: skip
    assert time.perf_counter() - t0 < 20
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ray_address: no Ray cluster answers at 127.0.0.1:")
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "res" / "episodes").exists()


def test_an_open_port_that_is_not_ray_fails_within_seconds() -> None:
    assert not ray.is_initialized()
    with socket.socket() as server:  # accepts connections, never speaks gRPC
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"
        t0 = time.perf_counter()
        with pytest.raises(ClusterError, match="is not a Ray head"), RaySession(address):
            pass
        assert time.perf_counter() - t0 < 10
    assert not ray.is_initialized()


def test_malformed_addresses_name_the_field() -> None:
    with pytest.raises(ConfigError, match="ray_address.*'nowhere' is not a Ray address"):
        make_eval_config({"executor": "ray", "ray_address": "nowhere"})
    with pytest.raises(ConfigError, match="ray_address.*Ray Client address"):
        make_eval_config({"executor": "ray", "ray_address": "ray://headnode:10001"})
    with pytest.raises(ConfigError, match="executor is 'process'"):
        make_eval_config({"ray_address": "headnode:6379"})
    with pytest.raises(ConfigError, match="workers=0"):
        make_eval_config({"executor": "ray", "workers": 0})
    from agents.config import TrainConfig
    from core.config import validate

    with pytest.raises(ConfigError, match="executor=ray"):
        validate(TrainConfig, {"ray_address": "headnode:6379"}, "train")


def test_without_the_extra_ray_asks_for_the_install(
    single_scenario: Scenario, tmp_path: Path, tmp_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails, as without the extra
    with pytest.raises(ConfigError, match=r'executor.*pip install -e "\.\[ray\]"'):
        run_episodes(sweep(tmp_path, tmp_cache, "none", executor="ray"), progress=False)
    assert not (tmp_path / "none").exists()  # nothing ran, nothing written
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[ray\]"'):
        MultiAgentVecEnv(single_scenario, EnvConfig(), n_envs=2, executor="ray")


def test_records_say_where_they_ran(tmp_path: Path, tmp_cache: Path) -> None:
    out = run_episodes(sweep(tmp_path, tmp_cache, "inline", workers=0, seeds=[1]), progress=False)
    records = [json.loads(p.read_text()) for p in sorted(out.glob("episodes/*/*/seed_*.json"))]
    assert len(records) == 3 and {r["node"] for r in records} == {"local"}


def test_a_node_without_the_drivers_files_rebuilds_them(
    single_scenario: Scenario, tmp_path: Path, tmp_cache: Path
) -> None:
    """What a Ray task does on a machine without the driver's cache or results folder: the same record."""
    import dataclasses
    import shutil

    from evaluation.config import ControllerEntry, ScenarioSpec

    config = sweep(tmp_path, tmp_cache, "unused", cache_dir=str(tmp_path / "node-cache"))
    entry = ControllerEntry.model_validate("webster")
    workdir = tmp_path / "driver-work"
    inputs = harness.prepare_native(entry, single_scenario, workdir, config)
    job = harness.Job(
        scenario=single_scenario,
        scenario_spec=ScenarioSpec(name="wuxi-single", horizon=300),
        scenario_label="wuxi-single_h300",
        entry=entry,
        seed=1,
        path=tmp_path / "seed_1.json",
        fingerprint="x",
        inputs=inputs,
        input_files=harness._input_files(inputs),
    )
    on_driver = harness._run_job(job, config)
    shutil.rmtree(workdir)  # the node has neither the prepared inputs ...
    missing = tmp_path / "elsewhere"  # ... nor the driver's scenario cache
    remote = dataclasses.replace(
        job,
        scenario=dataclasses.replace(
            single_scenario,
            net_file=missing / single_scenario.net_file.name,
            route_files=tuple(missing / p.name for p in single_scenario.route_files),
        ),
    )
    on_node = harness._run_job(remote, config)
    assert (tmp_path / "node-cache").is_dir()  # built there
    assert on_node["metrics"] == on_driver["metrics"] and on_node["series"] == on_driver["series"]
