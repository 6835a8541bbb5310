"""Train a shared multi-agent PPO policy for the signals of a scenario.

    python train.py --config configs/wuxi_core.yaml
    python train.py --config configs/wuxi_core.yaml ppo.learning_rate=3e-4 n_envs=1
    python train.py --resume runs/wuxi-core__mappo__0__20261129-070000

Reads top to bottom: config -> (resume?) -> evaluator (the evaluation harness, for periodic
evaluation against the baselines) -> agents.trainer.train -> print where the run is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.config import TrainConfig, load_config
from agents.trainer import train
from scenarios.errors import TSCError


DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "wuxi_core.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="YAML training config (default: configs/wuxi_core.yaml)")
    parser.add_argument("--resume", type=Path, help="continue this run folder from its last checkpoint")
    parser.add_argument("--no-eval", action="store_true", help="skip periodic and final evaluation")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="override config fields, e.g. ppo.learning_rate=3e-4 env.reward=pressure")
    args = parser.parse_args(argv)
    command = [sys.executable, *sys.argv] if argv is None else ["train.py", *argv]
    try:
        if args.resume is not None:  # a resumed run keeps its own recorded config
            config = load_config(TrainConfig, args.resume / "config.yaml")
        else:
            config = load_config(TrainConfig, args.config, args.overrides)
        evaluator = None
        if not args.no_eval:
            from evaluation.training import make_training_evaluator

            evaluator = make_training_evaluator(config)
        run = train(config, evaluator=evaluator, resume=args.resume, command=command,
                    progress=not args.no_progress)
    except TSCError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = run / "eval" / "summary.md"
    if summary.is_file():  # the final evaluation against the baselines, on held-out seeds
        print(summary.read_text())
    print(f"run folder: {run}\nTensorBoard: tensorboard --logdir {run / 'tb'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
