"""Evaluation during and after training, through the same harness as ``evaluate.py``.

* :func:`make_training_evaluator`: the trainer's validation hook. Each call evaluates a saved model
  (label ``policy``) and the baselines on the **validation seeds** (``eval.seeds``), which choose
  ``best_model.zip`` (by the policy's delay, or with a weighted reward or ``eval.selection`` by its
  weighted score of delay, CO2 and stops: :mod:`evaluation.objectives`). Results go to
  ``<run>/eval/`` in the harness's layout: the baselines' episodes are computed at the first
  validation and reused afterwards (their fingerprints do not change).
* :func:`test_run`: after training, the chosen model and the baselines on the **test seeds**
  (``eval.test_seeds``, 1-5 by default), which no training or model selection saw, into
  ``<run>/test/``: the table ``train.py`` prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.callbacks import SELECTION_KEY, Evaluator
from agents.config import TrainConfig
from agents.controller import find_run_files
from agents.trainer import WARM_START_MODEL
from evaluation.config import EvalConfig, make_eval_config


def _run_dir(model_path: Path) -> Path:
    for parent in model_path.parents:
        if (parent / "config.yaml").is_file():
            return parent
    return model_path.parent.parent if model_path.parent.name == "eval_models" else model_path.parent


def training_eval_config(
    config: TrainConfig,
    model_path: Path,
    *,
    seeds: list[int] | None = None,
    folder: str = "eval",
    clone: Path | None = None,
) -> EvalConfig:
    """The evaluation of ``model_path`` (label ``policy``) and the baselines a training config asks
    for, on ``seeds`` (default: the validation seeds), into ``<run>/<folder>``; with ``clone``, the
    warm start's clone of the teacher too (label ``clone``)."""
    baselines = list(config.eval.baselines)
    extra = [{"spec": f"ppo:{clone}", "label": "clone"}] if clone is not None else []
    return make_eval_config(
        {
            "scenarios": validation_scenarios(config),
            "controllers": [*baselines, *extra, {"spec": f"ppo:{model_path}", "label": "policy"}],
            "seeds": list(config.eval.seeds if seeds is None else seeds),
            "reference": baselines[0] if baselines else "policy",
            "workers": config.eval.workers,
            "out": str(_run_dir(model_path) / folder),
            # No "env": env-driven baselines (max_pressure, greedy) run with the evaluation defaults, as
            # in evaluate.py's tables (max-pressure's best timing: 5-s decisions, 10-s min green); the
            # policy always runs with its own run's env settings, gap_out with its own.
        }
    )


def validation_scenarios(config: TrainConfig) -> list[dict[str, Any]]:
    """The scenarios of the validation and test tables: ``eval.scenarios``, else the run's own."""
    if config.eval.scenarios:
        return [{"name": v.scenario, "seed": v.seed, "horizon": v.horizon} for v in config.eval.scenarios]
    return [{"name": config.scenario, "seed": config.scenario_seed, "horizon": config.horizon}]


def combined_scores(per_scenario: dict[str, dict[str, float]], reference: str | None) -> dict[str, float]:
    """One score per controller over the validation scenarios: the delay itself for one scenario;
    for several, the mean over them of the delay relative to ``reference``'s on the same scenario
    (1.0 = as good as the reference; no one congested net dominates the choice of the model)."""
    tables = list(per_scenario.values())
    if len(tables) == 1:
        return tables[0]
    labels = [k for k in tables[0] if all(k in t for t in tables)]
    ref = reference if reference is not None and reference in labels else None
    if ref is None:
        return {k: sum(t[k] for t in tables) / len(tables) for k in labels}
    return {k: sum(t[k] / max(t[ref], 1e-9) for t in tables) / len(tables) for k in labels}


def make_training_evaluator(config: TrainConfig, *, progress: bool = False) -> Evaluator:
    """The validation hook of :func:`agents.trainer.train`: ``(model_path, step) -> {label: delay}``.

    Args:
        config: the run's training config (scenario, env, ``eval`` settings).
        progress: show the harness's episode bar (``validation``: k of n episodes).
    """
    from evaluation import run
    from evaluation.objectives import selection_weights
    from evaluation.report import metric_means

    shares = selection_weights(config.eval.selection, config.env.reward)  # None: delay alone

    def evaluate(model_path: Path, step: int) -> dict[str, float]:
        eval_config = training_eval_config(config, Path(model_path).resolve())
        run(eval_config, progress=progress, plots=False, desc="validation episodes")
        means = metric_means(eval_config)  # {scenario: {label: {metric: mean}}}
        per = {sc: {label: m["delay"] for label, m in ms.items()} for sc, ms in means.items()}
        out = combined_scores(per, eval_config.reference)
        if shares is not None and all("policy" in ms for ms in means.values()):
            # issue 18: choose by the weighted terms (mean over the validation scenarios)
            out[SELECTION_KEY] = sum(
                _selection_score(ms, shares, eval_config.reference) for ms in means.values()
            ) / len(means)
        return out

    if len(validation_scenarios(config)) > 1:  # the callback says what the numbers are
        evaluate.unit = f"x {config.eval.baselines[0]}'s delay" if config.eval.baselines else "s/veh (mean)"  # type: ignore[attr-defined]
    return evaluate


def _selection_score(means: dict[str, dict[str, float]], shares: dict[str, float], reference: str) -> float:
    """The policy's weighted score, each term relative to the reference baseline's on the same seeds."""
    from evaluation.objectives import weighted_score

    ref = means.get(reference) if reference != "policy" else None
    return weighted_score(means["policy"], shares, ref)


def test_run(run_dir: Path, *, progress: bool = False, plots: bool = True) -> Path | None:
    """Evaluate a finished run's chosen model (``best_model.zip``, else ``final_model.zip``) and its
    baselines on the test seeds; returns the results folder (``<run>/test``), or ``None`` when the
    config has no test seeds.

    Raises:
        CheckpointError: the run has no model.
    """
    from core.config import load_config
    from evaluation import run

    config = load_config(TrainConfig, Path(run_dir) / "config.yaml")
    if not config.eval.test_seeds:
        return None
    model, _ = find_run_files(run_dir)
    clone = Path(run_dir) / WARM_START_MODEL
    eval_config = training_eval_config(
        config,
        model.resolve(),
        seeds=list(config.eval.test_seeds),
        folder="test",
        clone=clone.resolve() if clone.is_file() else None,
    )
    return run(eval_config, progress=progress, plots=plots, desc="test episodes")


def describe_test(config: Any) -> str:
    """One line naming what the test table holds."""
    seeds = ", ".join(map(str, config.eval.test_seeds))
    return (
        f"test seeds {seeds}: never used by training or by model selection (validation seeds "
        f"{', '.join(map(str, config.eval.seeds))})"
    )
