"""Evaluation throughput: episodes/minute of the evaluation harness with 1 and 2 worker processes.

    python bench/eval_throughput.py [--scenario wuxi-core] [--controllers fixed_time,max_pressure]
                                    [--seeds 2] [--horizon 1800] [--repeats 3]

Each measurement is a real ``evaluation.harness.run_episodes`` into a fresh temporary folder (so no
episode is skipped as already done): every controller on every seed, metrics parsed from SUMO's
outputs, per-episode files written, in a fresh spawn process whose finished workers give the peak
RSS per worker. Prints the medians and the ratio 2 workers / 1 worker.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from common import finished_children_peak_rss_mb, isolated, machine_line, median, print_table


def measure(
    scenario: str, controllers: list[str], seeds: int, horizon: float | None, workers: int
) -> tuple[float, float, int]:
    """``(wall seconds, largest worker peak RSS MB, episodes)`` of one harness run."""
    from evaluation.config import EvalConfig
    from evaluation.harness import run_episodes

    spec: dict = {"name": scenario, "seed": 0}
    if horizon:
        spec["horizon"] = horizon
    with tempfile.TemporaryDirectory(prefix="wuxi-eval-bench-") as tmp:
        config = EvalConfig(
            scenarios=[spec],
            controllers=controllers,
            seeds=seeds,
            reference=controllers[0],
            workers=workers,
            out=tmp,
        )

        built = {s.label: s.resolve(config.cache_dir) for s in config.scenarios}
        t0 = time.perf_counter()
        run_episodes(config, progress=False, scenarios=built)
        wall = time.perf_counter() - t0
    return wall, finished_children_peak_rss_mb(), len(controllers) * seeds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", default="wuxi-core")
    parser.add_argument("--controllers", default="fixed_time,max_pressure")
    parser.add_argument("--seeds", type=int, default=2, help="SUMO seeds 1..n per controller")
    parser.add_argument("--horizon", type=float, default=1800.0, help="episode seconds (0: the scenario's)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    controllers = args.controllers.split(",")
    print(f"evaluation throughput; {machine_line()}", flush=True)
    runs: dict[int, list[tuple[float, float, int]]] = {1: [], 2: []}
    for r in range(args.repeats):
        for workers in runs:
            result = isolated(measure, args.scenario, controllers, args.seeds, args.horizon or None, workers)
            runs[workers].append(result)
            print(
                f"  run {r + 1}: {workers} worker(s): {result[2]} episodes in {result[0]:.1f} s, "
                f"worker peak RSS {result[1]:.0f} MB",
                flush=True,
            )
    per_min = {w: median([60 * n / wall for wall, _, n in rs]) for w, rs in runs.items()}
    horizon = f"{args.horizon:g} s" if args.horizon else "full horizon"
    rows = [
        [
            f"{args.scenario} ({horizon}; {', '.join(controllers)}; {args.seeds} seeds)",
            w,
            f"{per_min[w]:.2f}",
            ", ".join(f"{60 * n / wall:.2f}" for wall, _, n in rs),
            f"{per_min[w] / per_min[1]:.2f}",
            f"{median([m for _, m, _ in rs]):.0f}",
        ]
        for w, rs in runs.items()
    ]
    print_table(
        f"median of {args.repeats}; {machine_line()}",
        ["scenario", "workers", "episodes/min", "runs", "x 1 worker", "peak RSS MB per worker"],
        rows,
    )


if __name__ == "__main__":
    main()
