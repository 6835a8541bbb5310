"""The live view from the command line.

    python -m evaluation.twin live --scenario wuxi-core --controller max_pressure
    python -m evaluation.twin live --controller onnx:runs/<run>/export --record twin.jsonl.gz
    python -m evaluation.twin live --set twin.alerts.spillback_fraction=0.9 --set twin.pace=60
    python -m evaluation.twin replay results/eval/twin/wuxi-core/max_pressure/seed_1.jsonl.gz

``live`` runs one episode while serving the page (http://127.0.0.1:8765/ by default) and keeps
serving the final state until Ctrl-C (``--linger`` seconds instead); ``replay`` serves a record
with a time slider. Bad input exits 2 with one line naming the field or file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.config import apply_overrides, read_yaml_mapping
from core.errors import TSCError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.twin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("live", "replay"):
        p = sub.add_parser(name)
        p.add_argument("--config", type=Path, help="YAML evaluation config (its twin section is used)")
        p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="config override")
        p.add_argument("--host", help="address to bind (default 127.0.0.1: this machine only)")
        p.add_argument("--port", type=int, help="TCP port (default 8765; 0: any free port)")
        p.add_argument("--linger", type=float, help="seconds to keep serving at the end (default: Ctrl-C)")
        if name == "live":
            p.add_argument("--scenario", default="wuxi-core", help="catalogue name or path")
            p.add_argument(
                "--controller", default="max_pressure", help="controller spec (label=spec allowed)"
            )
            p.add_argument("--seed", type=int, default=1, help="SUMO seed")
            p.add_argument("--horizon", type=float, help="shorten the episode to this many seconds")
            p.add_argument("--pace", type=float, help="at most this many simulated seconds per wall second")
            p.add_argument("--record", type=Path, help="also write the replay record to this .jsonl.gz")
        else:
            p.add_argument("record", type=Path, help="a record (.jsonl.gz) written by live or twin.record")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from evaluation.config import make_eval_config

        data = read_yaml_mapping(args.config, "configs/eval/") if args.config else {}
        twin = {"host": args.host, "port": args.port, "pace": getattr(args, "pace", None)}
        data.setdefault("twin", {}).update({k: v for k, v in twin.items() if v is not None})
        apply_overrides(data, args.set)
        if args.command == "live":
            data.update(
                scenarios=[{"name": args.scenario, "horizon": args.horizon}],
                controllers=[args.controller],
                seeds=[args.seed],
            )
        config = make_eval_config(data)
        from evaluation.twin.live import LiveSession, replay_server, wait_for_interrupt

        if args.command == "replay":
            with replay_server(args.record, config) as server:
                print(f"replay of {args.record}: {server.url}", file=sys.stderr)
                wait_for_interrupt(args.linger)
            return 0
        spec = config.scenarios[0]
        scenario = spec.resolve(config.cache_dir)
        with LiveSession(scenario, config.controllers[0], args.seed, config, record=args.record) as session:
            print(
                f"live view of {config.controllers[0].label} on {spec.label}: {session.url}", file=sys.stderr
            )
            record = session.run()
            m = record["metrics"]
            print(
                f"episode done: mean delay {m['delay']:.1f} s/veh; still serving {session.url}",
                file=sys.stderr,
            )
            wait_for_interrupt(args.linger)
    except TSCError as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
