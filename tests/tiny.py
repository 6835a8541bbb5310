"""The smallest real training run (seconds on wuxi-single), shared by the tests that train."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TINY = [
    "scenario=wuxi-single",
    "horizon=300",
    "n_envs=1",
    "total_timesteps=240",
    "checkpoint_every=60",
    "ppo.n_steps=60",
    "ppo.batch_size=60",
    "ppo.n_epochs=1",
    "max_minutes=null",
]


def train_command(
    run_root: Path, *overrides: str, evaluate: bool = False, progress: bool = False
) -> list[str]:
    """``python train.py`` on the default config with the :data:`TINY` budget into ``run_root``."""
    flags = ([] if progress else ["--no-progress"]) + ([] if evaluate else ["--no-eval"])
    return [
        sys.executable,
        str(ROOT / "train.py"),
        "--config",
        str(ROOT / "configs/wuxi_core.yaml"),
        *flags,
        *TINY,
        f"run_root={run_root}",
        *overrides,
    ]


def train_tiny(run_root: Path, *overrides: str, evaluate: bool = False, timeout: float = 300) -> Path:
    """Run :func:`train_command` to the end and return its run folder (the only one in ``run_root``)."""
    proc = subprocess.run(
        train_command(run_root, *overrides, evaluate=evaluate),
        cwd=run_root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = [p for p in Path(run_root).iterdir() if p.is_dir() and "__mappo__" in p.name]
    return run
