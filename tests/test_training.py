"""Training: tiny-budget runs of train.py, TensorBoard content, kill-and-resume, masks, config errors."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny import train_command, train_tiny

from agents.config import TrainConfig
from agents.runs import latest_checkpoint
from core.config import load_config
from core.errors import CheckpointError, ConfigError

ROOT = Path(__file__).resolve().parent.parent


def _train(tmp_path: Path, *extra: str, no_eval: bool = True, timeout: float = 300) -> Path:
    return train_tiny(tmp_path, *extra, evaluate=not no_eval, timeout=timeout)


def _tb_scalar_tags(run: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: set[str] = set()
    for events in run.rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events.parent))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    return tags


def test_tiny_training_run_writes_a_complete_run_folder(tmp_path: Path, tmp_cache: Path) -> None:
    run = _train(tmp_path)
    for name in (
        "config.yaml",
        "command.txt",
        "meta.json",
        "final_model.zip",
        "vecnormalize.pkl",
        "metrics.csv",
    ):
        assert (run / name).is_file(), name
    meta = json.loads((run / "meta.json").read_text())
    assert meta["git_commit"] and "stable-baselines3" in meta["versions"] and "torch" in meta["versions"]
    assert "eclipse-sumo" in meta["versions"]
    # the recorded config is the resolved one and loads back
    cfg = load_config(TrainConfig, run / "config.yaml")
    assert cfg.scenario == "wuxi-single" and cfg.total_timesteps == 240
    from sb3_contrib import MaskablePPO

    model = MaskablePPO.load(run / "final_model.zip")
    assert model.num_timesteps >= 240
    tags = _tb_scalar_tags(run)
    for tag in ("traffic/halting", "traffic/mean_speed", "traffic/travel_time", "train/value_loss"):
        assert tag in tags, (tag, sorted(tags))
    # masks are respected: no step of training ever had an action replaced by the env
    with open(run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    overridden = [float(r["overridden_actions"]) for r in rows if r.get("overridden_actions")]
    assert overridden and sum(overridden) == 0


def test_train_py_says_what_it_does_and_prints_the_test_table(tmp_path: Path, tmp_cache: Path) -> None:
    """The main job as a newcomer runs it (tiny budget): a line per stage on stderr (warm start,
    validation, training, test), a bar with the time left, and a table on the test seeds, which no
    training or model selection saw, on stdout."""
    args = train_command(
        tmp_path,
        "warm_start.steps=60",
        "ppo.gamma=0.9",
        "warm_start.epochs=1",
        "warm_start.critic_epochs=1",
        "eval.every_steps=0",
        "eval.seeds=[11]",
        "eval.test_seeds=[1]",
        "eval.baselines=[max_pressure]",
        "eval.workers=1",
        evaluate=True,
        progress=True,
    )
    proc = subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=dict(os.environ)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    stages = [
        "warm start 1/3",
        "warm start 2/3",
        "warm start 3/3",
        "validating the warm-started policy",
        "training with PPO until 240 agent-steps",
        "validating the policy",
        "testing the chosen model and the baselines on the test seeds 1",
    ]
    positions = [proc.stderr.find(s) for s in stages]
    assert -1 not in positions and positions == sorted(positions), proc.stderr[-3000:]
    assert "left (agent-step budget)" in proc.stderr
    assert "Test table (test seeds 1: never used by training or by model selection" in proc.stdout
    table = proc.stdout[proc.stdout.index("Test table") :]
    # the warm start's clone next to the policy: the gain PPO made over its teacher
    assert "| `policy` |" in table and "| `max_pressure` |" in table and "| `clone` |" in table
    (run,) = [p for p in tmp_path.iterdir() if "__mappo__" in p.name]
    assert (run / "warm_start_model.zip").is_file()
    tested = sorted(p.parent.name for p in (run / "test" / "episodes").rglob("seed_1.json"))
    assert tested == ["clone", "max_pressure", "policy"]
    assert sorted(p.name for p in (run / "eval" / "episodes").rglob("seed_*.json")) == ["seed_11.json"] * 2


def test_sigterm_stops_training_and_its_workers(tmp_path: Path, tmp_cache: Path) -> None:
    """``kill PID`` on train.py: exit status 130, a message saying how to resume, no worker left."""
    import psutil

    args = train_command(tmp_path, "total_timesteps=100000", "n_envs=2")
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    main = psutil.Process(proc.pid)
    try:
        deadline = time.time() + 240
        while not list(tmp_path.glob("*__mappo__*/checkpoints/step_*.json")):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            assert time.time() < deadline, "no checkpoint within 240 s"
            time.sleep(0.2)
        workers = main.children(recursive=True)
        assert len(workers) >= 2
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err.decode()[-2000:]
    assert "python train.py --resume" in err.decode()
    _, alive = psutil.wait_procs(workers, timeout=20)
    assert not alive, f"left running: {[p.pid for p in alive]}"


def test_kill_and_resume_keeps_the_timestep_counter(tmp_path: Path, tmp_cache: Path) -> None:
    args = train_command(tmp_path, "total_timesteps=100000")
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        run = None
        while time.time() < deadline:
            runs = [p for p in tmp_path.iterdir() if p.is_dir() and "__mappo__" in p.name]
            if runs and len(list((runs[0] / "checkpoints").glob("step_*.json"))) >= 2:
                run = runs[0]
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            time.sleep(0.2)
        assert run is not None, "no checkpoint within 240 s"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    ckpt = latest_checkpoint(run)
    step = ckpt["step"]
    assert step >= 120
    # shorten the remaining budget so the test stays quick, then resume
    cfg_path = run / "config.yaml"
    cfg_path.write_text(
        cfg_path.read_text().replace("total_timesteps: 100000", f"total_timesteps: {step + 120}")
    )
    res = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--resume", str(run), "--no-progress", "--no-eval"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    from sb3_contrib import MaskablePPO

    model = MaskablePPO.load(run / "final_model.zip")
    assert model.num_timesteps == step + 120  # continued from the checkpoint, not from zero
    with open(run / "metrics.csv") as fh:
        steps = [int(float(r["timesteps"])) for r in csv.DictReader(fh)]
    assert max(steps) == step + 120 and min(s for s in steps if s > step) > step
    assert "resumed" in (run / "command.txt").read_text()


def test_corrupt_checkpoint_is_detected(tmp_path: Path, tmp_cache: Path) -> None:
    run = _train(tmp_path)
    info = latest_checkpoint(run)
    model = Path(info["model"])
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])  # truncated by a crash
    with pytest.raises(CheckpointError, match="corrupt"):
        latest_checkpoint(run)


def test_config_typo_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ppo\.learning_rat"):
        load_config(TrainConfig, ROOT / "configs/wuxi_core.yaml", ["ppo.learning_rat=0.1"])
    with pytest.raises(ConfigError, match=r"env\.min_green"):
        load_config(TrainConfig, ROOT / "configs/wuxi_core.yaml", ["env.min_green=-3"])
    with pytest.raises(ConfigError, match=r"warm_start\.teacher.*env\.observation"):
        load_config(
            TrainConfig,
            ROOT / "configs/wuxi_core.yaml",
            ["warm_start.teacher=gap_out", "env.observation=default"],
        )
    with pytest.raises(ConfigError, match=r"warm_start\.teacher.*env\.detector_range"):
        load_config(TrainConfig, ROOT / "configs/wuxi_core.yaml", ["warm_start.teacher=time_loss"])
    res = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "n_env=3"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "n_env" in res.stderr and "Traceback" not in res.stderr


def test_centralised_critic_trains_and_actor_reads_only_its_own_part(tmp_path: Path, tmp_cache: Path) -> None:
    run = _train(tmp_path, "env.critic_obs=true", "env.neighbour_obs=false")
    from sb3_contrib import MaskablePPO

    model = MaskablePPO.load(run / "final_model.zip")
    assert type(model.policy).__name__ == "CentralisedCriticPolicy"
    actor_in = model.policy.mlp_extractor.policy_net[0].in_features
    critic_in = model.policy.mlp_extractor.value_net[0].in_features
    assert critic_in == 5 * actor_in  # own + 4 neighbour slots
