"""Evaluation harness: baseline controllers, SUMO-output metrics, paired statistics and reports.

    from evaluation import load_eval_config, run
    results = run(load_eval_config("configs/eval/wuxi_core.yaml", seeds=5))

* :mod:`evaluation.controllers`: the controller interface and registry (``fixed_time``, ``webster``,
  ``actuated``, ``delay_based``, ``max_pressure``, ``greedy``, ``ppo:PATH``, ``onnx:PATH``).
* :mod:`evaluation.metrics`: per-episode metrics from tripinfo/summary/emissions outputs.
* :mod:`evaluation.harness`: controllers x scenarios x seeds in worker processes, resumable.
* :mod:`evaluation.report`: CSV, JSON, ``summary.md`` and plots.
"""

from __future__ import annotations

from pathlib import Path

from evaluation.config import EvalConfig, load_eval_config, make_eval_config
from evaluation.controllers import Controller, NativeInputs, controller_names, make_controller


def run(config: EvalConfig, *, progress: bool = True, plots: bool = True, desc: str = "episodes") -> Path:
    """Run (or resume) an evaluation and write its report; returns the results folder.

    Raises:
        ConfigError: bad controller or scenario.
        SimulationError: some episodes failed (finished ones are kept; the report covers them).
    """
    from evaluation.harness import run_episodes
    from evaluation.report import write_report

    try:
        run_episodes(config, progress=progress, desc=desc)
    finally:
        write_report(config, plots=plots)
    return Path(config.out)


__all__ = [
    "Controller",
    "EvalConfig",
    "NativeInputs",
    "controller_names",
    "load_eval_config",
    "make_controller",
    "make_eval_config",
    "run",
]
