"""Train a shared multi-agent PPO policy for the signals of a scenario, then test it.

    python train.py                                      # configs/wuxi_core.yaml
    python train.py --config configs/wuxi_corridor.yaml ppo.learning_rate=3e-4 n_envs=1
    python train.py --resume runs/wuxi-core__mappo__0__20261129-070000
    python train.py --config configs/generalist.yaml            # one policy across many networks
    python train.py --config configs/wuxi_core.yaml init_from=runs/<generalist run>  # fine-tune it

Reads top to bottom: config -> (resume?) -> validation hook (the evaluation harness on the
validation seeds, which choose best_model.zip) -> agents.trainer.train -> the test table (the chosen
model and the baselines on the test seeds, which nothing was chosen on) -> where the run is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.config import TrainConfig
from agents.trainer import train
from core.config import load_config
from core.errors import TSCError
from core.process import INTERRUPTED, stop_on_sigterm

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "wuxi_core.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="YAML training config (default: configs/wuxi_core.yaml)",
    )
    parser.add_argument("--resume", type=Path, help="continue this run folder from its last checkpoint")
    parser.add_argument("--no-eval", action="store_true", help="skip validation and the test table")
    parser.add_argument("--no-progress", action="store_true", help="no stage lines, no progress bars")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="override config fields, e.g. ppo.learning_rate=3e-4 env.reward=pressure",
    )
    args = parser.parse_args(argv)
    stop_on_sigterm()  # kill/timeout unwind like Ctrl-C: workers stop, SUMO closes
    command = [sys.executable, *sys.argv] if argv is None else ["train.py", *argv]
    progress = not args.no_progress
    try:
        if args.resume is not None:  # a resumed run keeps its own recorded config
            config = load_config(TrainConfig, args.resume / "config.yaml")
        else:
            config = load_config(TrainConfig, args.config, args.overrides)
        config.resolve_scenario()  # an unknown scenario fails here, before any process starts
        if config.init_from is not None:  # so does a missing model to fine-tune
            from agents.controller import find_run_files

            find_run_files(config.init_from)
        evaluator = None
        if not args.no_eval:
            from evaluation.training import make_training_evaluator

            evaluator = make_training_evaluator(config, progress=progress)
        run = train(config, evaluator=evaluator, resume=args.resume, command=command, progress=progress)
        tested = None
        if not args.no_eval:
            from evaluation.training import describe_test, test_run

            if progress and config.eval.test_seeds:
                print(
                    f"testing the chosen model and the baselines on the {describe_test(config)}",
                    file=sys.stderr,
                )
            tested = test_run(run, progress=progress)
    except TSCError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(
            f"interrupted ({exc or 'Ctrl-C'}): the run keeps its checkpoints; "
            "continue with: python train.py --resume RUN_FOLDER",
            file=sys.stderr,
        )
        return INTERRUPTED
    if tested is not None:
        print(f"Test table ({describe_test(config)}); the validation table is in {run / 'eval'}.\n")
        print((tested / "summary.md").read_text())
    print(f"run folder: {run}\nTensorBoard: tensorboard --logdir {run / 'tb'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
