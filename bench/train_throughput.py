"""Training throughput of the project's trainer: agent-steps/s with 1 and 2 worker processes.

    python bench/train_throughput.py [--scenario wuxi-core] [--steps 30000] [--repeats 1]

Each measurement is a real ``agents.trainer.train`` run (MaskablePPO updates included, evaluation
and warm start off) into a temporary folder; agent-steps/s is taken from the run's metrics.csv
between the first and last rollout (so SUMO start-up is excluded). Prints the medians and the
ratio 2 workers / 1 worker (target >= 1.6 in issue 6).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
from pathlib import Path

from agents.config import TrainConfig, load_config
from agents.trainer import train

ROOT = Path(__file__).resolve().parent.parent


def measure(scenario: str, n_envs: int, steps: int, horizon: float | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f"scenario={scenario}", f"n_envs={n_envs}", f"total_timesteps={steps}",
                     "max_minutes=null", "warm_start.steps=0", "eval.every_steps=0",
                     f"checkpoint_every={10 * steps}", f"run_root={tmp}"]
        if horizon:
            overrides.append(f"horizon={horizon}")
        config = load_config(TrainConfig, ROOT / "configs/wuxi_core.yaml", overrides)
        run = train(config, evaluator=None, progress=False, command=["bench"])
        with open(run / "metrics.csv") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("timesteps") and r.get("time")]
    first, last = rows[0], rows[-1]
    return (float(last["timesteps"]) - float(first["timesteps"])) / (float(last["time"]) - float(first["time"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="wuxi-core")
    parser.add_argument("--steps", type=int, default=30_000, help="agent-steps per measurement")
    parser.add_argument("--horizon", type=float, default=None)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    results = {}
    for n in (1, 2):
        runs = [measure(args.scenario, n, args.steps, args.horizon) for _ in range(args.repeats)]
        results[n] = statistics.median(runs)
        print(f"n_envs={n}: {results[n]:.0f} agent-steps/s (runs: {', '.join(f'{r:.0f}' for r in runs)})",
              flush=True)
    print(f"\n| scenario | 1 worker | 2 workers | ratio 2/1 |\n|---|---|---|---|\n"
          f"| {args.scenario} | {results[1]:.0f} | {results[2]:.0f} | {results[2] / results[1]:.2f} |")


if __name__ == "__main__":
    main()
