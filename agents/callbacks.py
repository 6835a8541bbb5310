"""Training callbacks: traffic metrics and evaluations in TensorBoard, checkpoints, progress, budget.

What a reviewer finds in TensorBoard besides SB3's own ``train/*`` losses:

* ``traffic/*`` per rollout: halting vehicles and mean speed on the approaches, running vehicles,
  insertion backlog, teleports; per finished episode: mean travel time and delay of finished trips,
  arrived vehicles;
* ``eval/*``: mean delay of the policy on held-out seeds through the evaluation harness, with each
  baseline's score logged at the same steps (reference lines), and ``eval/bars`` (an image);
* ``intersections/*``: histograms over intersections (mean reward per intersection);
* the HPARAMS tab: the run's hyper-parameters and its final evaluation delay.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Figure, HParam

from agents.progress import Progress
from agents.runs import MetricsCSV, save_checkpoint
from agents.vec_env import MultiAgentVecEnv
from core.files import atomic_write, atomic_write_text

Evaluator = Callable[[Path, int], dict[str, float]]
"""Validation of a saved model: ``(model path, step) -> {controller label: mean delay}``, the policy
labelled ``policy`` (:func:`evaluation.training.make_training_evaluator` is the harness's). With the
extra key :data:`SELECTION_KEY`, that value (lower is better) chooses ``best_model.zip`` instead of
the policy's delay."""

SELECTION_KEY = "selection_score"
"""Issue 18: the policy's weighted score of delay, CO2 and stops (:mod:`evaluation.objectives`)."""


def unwrap(env: Any) -> MultiAgentVecEnv:
    """The MultiAgentVecEnv under SB3 wrappers such as VecNormalize."""
    while not isinstance(env, MultiAgentVecEnv):
        env = env.venv
    return env


def _mean(rows: list[dict], key: str) -> float | None:
    vals = [float(r[key]) for r in rows if key in r and not isinstance(r[key], str)]
    return float(np.mean(vals)) if vals else None


class TrainingCallback(BaseCallback):
    """Everything the trainer does around ``model.learn``, in one callback.

    Args:
        run_dir: the run folder.
        checkpoint_every: agent-steps between checkpoints.
        eval_every: agent-steps between evaluations (0: only at the end).
        evaluator: runs the evaluation harness on a saved model; ``None`` disables evaluation.
        deadline: wall-clock time (``time.time()``) after which training stops gracefully.
        hparams: hyper-parameters for the HPARAMS tab.
        progress: the stage lines and the progress bar.
        eval_at_start: evaluate before the first update too (after a warm start), so the
            warm-started policy competes for ``best_model.zip``.
    """

    def __init__(
        self,
        run_dir: Path,
        checkpoint_every: int,
        eval_every: int,
        evaluator: Evaluator | None,
        deadline: float | None,
        hparams: dict[str, Any],
        progress: Progress,
        eval_at_start: bool = False,
    ) -> None:
        super().__init__()
        self.eval_at_start = eval_at_start
        self.run_dir = run_dir
        self.checkpoint_every = checkpoint_every
        self.eval_every = eval_every
        self.evaluator = evaluator
        self.deadline = deadline
        self.hparams = hparams
        self.progress = progress
        self.csv = MetricsCSV(run_dir / "metrics.csv")
        self.best = self._load_best()
        self.last_eval: float | None = None
        self._next_ckpt = 0
        self._next_eval = 0

    def _load_best(self) -> float:
        path = self.run_dir / "best.json"
        if not path.exists():
            return float("inf")
        best = json.loads(path.read_text())
        return float(best.get("score", best["delay"]))

    # ------------------------------------------------------------------ hooks
    def _on_training_start(self) -> None:
        n = self.model.num_timesteps
        self._next_ckpt = (n // self.checkpoint_every + 1) * self.checkpoint_every
        self._next_eval = (n // self.eval_every + 1) * self.eval_every if self.eval_every else 0
        if n == 0:
            metrics = {"hparam/eval_delay": 0.0, "train/value_loss": 0.0}
            self.logger.record(
                "hparams", HParam(self.hparams, metrics), exclude=("stdout", "log", "json", "csv")
            )
            if self.eval_at_start:  # the warm-started policy is the first candidate for best_model
                self.evaluate(what="the warm-started policy")
        budget = f"{self.progress.total:,} agent-steps"
        if self.deadline is not None:
            budget += (
                f" or the wall-clock budget (ends {time.strftime('%H:%M', time.localtime(self.deadline))})"
            )
        self.progress.stage(f"training with PPO until {budget}, whichever comes first")
        self.progress.start_training(n)

    def _on_step(self) -> bool:
        n = self.model.num_timesteps
        self.progress.update(n)
        if n >= self._next_ckpt:
            self.checkpoint()
            self._next_ckpt += self.checkpoint_every
        if self.eval_every and n >= self._next_eval:
            self.evaluate()
            self._next_eval += self.eval_every
        if self.deadline is not None and time.time() >= self.deadline:
            return False  # the wall-clock budget is spent: stop; the trainer saves the final model
        return True

    def _on_rollout_end(self) -> None:
        venv = unwrap(self.training_env)
        steps, venv.step_metrics = venv.step_metrics, []
        episodes, venv.episode_stats = venv.episode_stats, []
        row: dict[str, Any] = {"timesteps": self.model.num_timesteps, "time": time.time()}
        for key in ("halting", "mean_speed", "running", "backlog", "overridden_actions"):
            value = _mean(steps, key)
            if value is not None:
                self.logger.record(f"traffic/{key}", value)
                row[key] = value
        if steps:
            self.logger.record("traffic/teleports", float(steps[-1].get("teleports", 0)))
        self.logger.record("traffic/sim_faults", float(venv.faults))
        for key, name in (
            ("trip_duration", "travel_time"),
            ("trip_time_loss", "trip_delay"),
            ("arrived", "arrived_per_episode"),
            ("trip_waiting_time", "trip_waiting"),
        ):
            value = _mean(episodes, key)
            if value is not None:
                self.logger.record(f"traffic/{name}", value)
                row[name] = value
        rewards = self.model.rollout_buffer.rewards  # (n_steps, num_envs), normalised
        per_entry = rewards.mean(axis=0).reshape(venv.n_sims, venv.n_agents).mean(axis=0)
        self.logger.record(
            "intersections/mean_reward", th.as_tensor(per_entry), exclude=("stdout", "log", "json", "csv")
        )
        row["reward"] = float(per_entry.mean())
        self.csv.append(row)

    def _on_training_end(self) -> None:
        self.progress.update(self.model.num_timesteps, force=True)
        self.progress.close()

    # ------------------------------------------------------------------ actions
    def checkpoint(self) -> None:
        """Save a verified checkpoint with the state needed to resume."""
        venv = unwrap(self.training_env)
        vecnorm = self.training_env if self.training_env is not venv else None
        state = {
            "num_timesteps": self.model.num_timesteps,
            "workers": venv.worker_state(),
            "best_delay": self.best if np.isfinite(self.best) else None,
        }
        save_checkpoint(self.run_dir, self.model.num_timesteps, self.model, vecnorm, state)

    def evaluate(self, what: str = "the policy") -> dict[str, float] | None:
        """Run the evaluator on the current policy; log scores, keep the best model."""
        if self.evaluator is None:
            return None
        n = self.model.num_timesteps
        self.progress.stage(
            f"validating {what} at {n:,} agent-steps (the baselines' episodes run "
            "once, at the first validation, and are reused)"
        )
        path = self.run_dir / "eval_models" / f"step_{n}.zip"
        atomic_write(path, lambda p: self.model.save(p))
        scores = self.evaluator(path, n)
        selection = scores.pop(SELECTION_KEY, None)  # a weighted score chooses, if the evaluator has one
        policy = scores.get("policy")
        for name, value in scores.items():
            self.logger.record(f"eval/delay_{name}", value)
        if policy is not None:  # the metric column of the HPARAMS tab
            self.logger.record("hparam/eval_delay", policy)
        self.logger.record(
            "eval/bars", Figure(_bar_chart(scores, n), close=True), exclude=("stdout", "log", "json", "csv")
        )
        self.logger.dump(n)
        self.csv.append(
            {"timesteps": n, "time": time.time(), **{f"eval_delay_{k}": v for k, v in scores.items()}}
        )
        if policy is not None:
            self.last_eval = policy
            # What the score is: a delay, or (several validation scenarios) a delay ratio.
            unit = getattr(self.evaluator, "unit", "s/veh")
            digits = 1 if unit == "s/veh" else 2
            self.progress.note(f"validation {policy:.{digits}f} {unit}")
            self.progress.stage(
                f"validation {policy:.{digits}f} {unit} at {n:,} agent-steps; "
                + ", ".join(f"{k} {v:.{digits}f}" for k, v in scores.items() if k != "policy")
            )
            chosen = policy if selection is None else selection
            if selection is not None:
                self.logger.record("eval/selection_score", selection)
                self.progress.note(f"selection score {selection:.3f}")
            if chosen < self.best:
                self.best = chosen
                atomic_write(self.run_dir / "best_model.zip", lambda p: self.model.save(p))
                best = {"delay": policy, "step": n} | ({} if selection is None else {"score": selection})
                atomic_write_text(self.run_dir / "best.json", json.dumps(best))
        return scores


def _bar_chart(scores: dict[str, float], step: int) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    names = list(scores)
    ax.bar(names, [scores[k] for k in names], color=["C3" if k == "policy" else "C0" for k in names])
    ax.set_ylabel("mean delay (s)")
    ax.set_title(f"evaluation at {step} steps")
    fig.tight_layout()
    return fig
