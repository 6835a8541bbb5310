"""Evaluate signal controllers on SUMO scenarios: controllers x scenarios x seeds -> a results folder.

    python evaluate.py                                   # configs/eval/wuxi_core.yaml
    python evaluate.py --config configs/eval/wuxi_core.yaml --seeds 5 --out results/x \
        --controllers fixed_time,max_pressure,ppo:runs/my-run --workers 2
    python evaluate.py --executor ray --address HEAD_IP:6379 --workers 64   # on a Ray cluster
    python evaluate.py --gui --controllers max_pressure  # watch one episode in sumo-gui
    python evaluate.py --screenshots shots/ --controllers actuated --horizon 600
    python evaluate.py --live --controllers onnx:runs/my-run/export   # watch one episode in the browser

Reads top to bottom: config (+ overrides) -> harness (resumable: rerun to continue) -> report.
The results folder layout is described in evaluation/harness.py and evaluation/report.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import TSCError
from core.process import INTERRUPTED, stop_on_sigterm


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(__file__).resolve().parent / "configs" / "eval" / "wuxi_core.yaml",
        help="YAML evaluation config (default: configs/eval/wuxi_core.yaml)",
    )
    parser.add_argument("--seeds", type=int, help="number of seeds (1..N), overrides the config")
    parser.add_argument("--out", help="results folder, overrides the config")
    parser.add_argument("--controllers", help="comma-separated controller specs (label=spec allowed)")
    parser.add_argument("--scenario", help="evaluate on this scenario instead (name or path)")
    parser.add_argument("--horizon", type=float, help="shorten every scenario to this many seconds")
    parser.add_argument("--workers", type=int, help="parallel worker processes (0: in this process)")
    parser.add_argument(
        "--executor",
        choices=("process", "ray"),
        help="where episodes run: process (a pool on this machine, the default) or ray",
    )
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help="with --executor ray: the Ray head's host:port or 'auto' (default: a local Ray instance)",
    )
    parser.add_argument("--reference", help="controller label the paired differences are taken against")
    parser.add_argument("--gui", action="store_true", help="run one episode in sumo-gui and exit")
    parser.add_argument(
        "--screenshots",
        type=Path,
        metavar="DIR",
        help="run one episode, saving a screenshot every --screenshot-period s to DIR",
    )
    parser.add_argument("--screenshot-period", type=float, default=60.0)
    parser.add_argument(
        "--live",
        action="store_true",
        help="run one episode with the live web view (the config's twin section; http://127.0.0.1:8765/) "
        "and serve its final state until Ctrl-C",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()  # kill/timeout unwind like Ctrl-C: the pool's episodes stop, SUMO closes
    try:
        from evaluation import load_eval_config, make_eval_config, run

        config = load_eval_config(
            args.config,
            seeds=args.seeds,
            out=args.out,
            workers=args.workers,
            executor=args.executor,
            ray_address=args.address,
            controllers=args.controllers,
            reference=args.reference,
        )
        if args.scenario or args.horizon:
            specs = [s.model_dump() for s in config.scenarios]
            if args.scenario:
                specs = [{"name": args.scenario}]
            for s in specs:
                s["horizon"] = args.horizon or s.get("horizon")
            config = make_eval_config(config, scenarios=specs)
        if args.live:
            from evaluation.twin.live import LiveSession, wait_for_interrupt

            scenario = config.scenarios[0].resolve(config.cache_dir)
            entry, seed = config.controllers[0], config.seeds[0]
            with LiveSession(scenario, entry, seed, config) as session:
                print(
                    f"live view of {entry.label} on {scenario.name}, seed {seed}: {session.url}",
                    file=sys.stderr,
                )
                m = session.run()["metrics"]
                print(f"{entry.label}: mean delay {m['delay']:.1f} s/veh; serving {session.url} until Ctrl-C")
                wait_for_interrupt(None)
            return 0
        if args.gui or args.screenshots:
            from evaluation.harness import run_episode

            scenario = config.scenarios[0].resolve(config.cache_dir)
            entry, seed = config.controllers[0], config.seeds[0]
            record = run_episode(
                scenario,
                entry,
                seed,
                config,
                gui=args.gui,
                screenshots=args.screenshots,
                screenshot_period=args.screenshot_period,
            )
            m = record["metrics"]
            print(
                f"{entry.label} on {scenario.name}, seed {seed}: mean delay {m['delay']:.1f} s/veh, "
                f"throughput {m['throughput']:.0f} veh"
            )
            return 0
        out = run(config, progress=not args.no_progress, plots=not args.no_plots)
    except TSCError as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(
            f"interrupted ({exc or 'Ctrl-C'}): finished episodes are kept in the results folder; "
            "rerun the same command to continue",
            file=sys.stderr,
        )
        return INTERRUPTED
    print(f"results: {out}  (summary: {out / 'summary.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
