"""Run folders: layout, metadata, atomic files and verified checkpoints.

A run folder ``runs/<scenario>__<algo>__<seed>__<time>/`` holds::

    config.yaml        resolved config          command.txt   the command line
    meta.json          git commit, package versions, start time
    checkpoints/       step_<N>.zip + step_<N>.vecnormalize.pkl + step_<N>.json (sha256, state)
    best_model.zip     best evaluation score    final_model.zip
    vecnormalize.pkl   reward-normalisation statistics of the final model
    metrics.csv        one row per rollout      tb/          TensorBoard events

Every file is written through :func:`core.files.atomic_write` (a temporary name, then ``os.replace``),
so a kill at any moment leaves either the old or the new file, never half of one. Checkpoints
record their sha256 and are verified before loading.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from core.errors import CheckpointError
from core.files import atomic_write, atomic_write_text, sha256

PACKAGES = (
    "eclipse-sumo",
    "libsumo",
    "stable-baselines3",
    "sb3-contrib",
    "torch",
    "gymnasium",
    "pettingzoo",
    "numpy",
    "onnx",
    "onnxruntime",
)


def git_commit(cwd: Path | None = None) -> str:
    """``<commit>[+dirty]`` of the checkout, or ``unknown`` outside git."""
    cwd = cwd or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def new_run_dir(root: str | Path, scenario: str, algo: str, seed: int) -> Path:
    """Create ``root/<scenario>__<algo>__<seed>__<time>`` (unique)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    label = (Path(scenario).stem if os.sep in scenario else scenario).replace(":", "-")
    name = f"{label}__{algo}__{seed}__{stamp}"
    path = Path(root) / name
    k = 1
    while path.exists():
        path = Path(root) / f"{name}-{k}"
        k += 1
    path.mkdir(parents=True)
    return path


def write_metadata(run_dir: Path, config_yaml: str, command: list[str]) -> None:
    """Record the resolved config, the command line, git commit and package versions."""
    atomic_write_text(run_dir / "config.yaml", config_yaml)
    atomic_write_text(run_dir / "command.txt", " ".join(command) + "\n")
    meta = {
        "git_commit": git_commit(),
        "versions": package_versions(),
        "started": time.time(),
        "argv": command,
        "executable": sys.executable,
    }
    atomic_write_text(run_dir / "meta.json", json.dumps(meta, indent=2))


class MetricsCSV:
    """Appends rows to ``metrics.csv``; the header grows when new columns appear (rewritten atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if path.exists():
            with open(path, newline="") as fh:
                self.rows = list(csv.DictReader(fh))

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        columns: list[str] = []
        for r in self.rows:
            columns += [c for c in r if c not in columns]

        def write(p: Path) -> None:
            with open(p, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=columns)
                w.writeheader()
                w.writerows(self.rows)

        atomic_write(self.path, write)


def save_checkpoint(run_dir: Path, step: int, model: Any, vecnorm: Any | None, state: dict[str, Any]) -> Path:
    """Write a verified checkpoint (model, normalisation, state json with sha256s); returns the json."""
    ckpt = run_dir / "checkpoints"
    ckpt.mkdir(parents=True, exist_ok=True)
    model_path = ckpt / f"step_{step}.zip"
    atomic_write(model_path, lambda p: model.save(p))  # SB3 keeps the name when it ends in .zip
    files = {"model": model_path.name, "model_sha256": sha256(model_path)}
    if vecnorm is not None:
        norm_path = ckpt / f"step_{step}.vecnormalize.pkl"
        atomic_write(norm_path, lambda p: vecnorm.save(str(p)))
        files.update(vecnormalize=norm_path.name, vecnormalize_sha256=sha256(norm_path))
    info_path = ckpt / f"step_{step}.json"
    atomic_write_text(info_path, json.dumps({"step": step, **files, **state}, indent=2))
    return info_path


def latest_checkpoint(run_dir: Path) -> dict[str, Any]:
    """The newest verified checkpoint of a run, as its json dict with absolute paths.

    Raises:
        CheckpointError: no checkpoint, or the newest one is truncated/corrupt (sha256 mismatch).
    """
    ckpt = Path(run_dir) / "checkpoints"
    infos = sorted(ckpt.glob("step_*.json"), key=lambda p: int(p.stem.split("_")[1])) if ckpt.is_dir() else []
    if not infos:
        raise CheckpointError(f"{run_dir}: no checkpoint found in {ckpt}; nothing to resume.")
    info_path = infos[-1]
    try:
        info = json.loads(info_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"checkpoint {info_path} is unreadable ({exc}); delete it to resume from the previous one."
        ) from None
    for key in ("model", "vecnormalize"):
        if key not in info:
            continue
        path = ckpt / info[key]
        if not path.is_file() or sha256(path) != info[f"{key}_sha256"]:
            raise CheckpointError(
                f"checkpoint file {path} is missing or corrupt (sha256 mismatch); "
                f"delete {info_path} to resume from the previous checkpoint."
            )
        info[key] = str(path)
    return info
