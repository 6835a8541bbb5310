"""Periodic evaluation during training, through the same harness as ``evaluate.py``.

``train.py`` calls :func:`make_training_evaluator`; the trainer's callback then calls the returned
function with a saved model and the step count. Results go to ``<run>/eval/`` in the harness's
layout: the baselines' episodes are computed at the first evaluation and reused afterwards (their
fingerprints do not change), so each later evaluation only runs the policy's episodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from evaluation.config import EvalConfig, make_eval_config

Evaluator = Callable[[Path, int], dict[str, float]]  # (model path, step) -> {controller: mean delay}


def _run_dir(model_path: Path) -> Path:
    for parent in model_path.parents:
        if (parent / "config.yaml").is_file():
            return parent
    return model_path.parent.parent if model_path.parent.name == "eval_models" else model_path.parent


def training_eval_config(config: Any, model_path: Path) -> EvalConfig:
    """The evaluation of ``model_path`` (label ``policy``) and the baselines a training config asks for."""
    baselines = list(config.eval.baselines)
    return make_eval_config({
        "scenarios": [{"name": config.scenario, "seed": config.scenario_seed,
                       "horizon": config.horizon}],
        "controllers": [*baselines, {"spec": f"ppo:{model_path}", "label": "policy"}],
        "seeds": list(config.eval.seeds),
        "reference": baselines[0] if baselines else "policy",
        "workers": config.eval.workers,
        "out": str(_run_dir(model_path) / "eval"),
        # No "env": env-driven baselines (max_pressure, greedy) run with the evaluation defaults, as
        # in evaluate.py's tables (max-pressure's best timing: 5-s decisions, 10-s min green); the
        # policy always runs with its own run's env settings, gap_out with its own.
    })


def make_training_evaluator(config: Any, *, progress: bool = False) -> Evaluator:
    """An evaluator for :func:`agents.trainer.train`: ``(model_path, step) -> {label: mean delay}``.

    Args:
        config: the run's :class:`agents.config.TrainConfig` (scenario, env, ``eval`` settings).
        progress: show the harness's progress bar.
    """
    from evaluation import run
    from evaluation.report import scores

    def evaluate(model_path: Path, step: int) -> dict[str, float]:
        eval_config = training_eval_config(config, Path(model_path).resolve())
        run(eval_config, progress=progress, plots=False)
        label = eval_config.scenarios[0].label
        return scores(eval_config)[label]

    return evaluate
