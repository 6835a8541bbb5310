"""Cost of the live view (issue 17): env time of one episode with and without it, in the same run.

    python bench/twin_cost.py [--scenario wuxi-core] [--controller max_pressure] [--horizon 3600]
                              [--pairs 2] [--seed 1]

One process runs the same episode (same controller, same SUMO seed) alternately without and with
the live view: the web server in its thread, sampling every ``twin.sample_period`` (5 s) and a
WebSocket client connected throughout that receives and decodes every pushed frame, as a browser
does (the browser itself runs on the ops machine, so its rendering is not counted). Order alternates
per pair (plain, live; live, plain) so that drift on a shared machine cancels. Prints the wall time
per episode (``run_episode``'s ``wall_seconds``: SUMO start, every step, output parsing), the time
inside SUMO's ``simulationStep`` and outside it (where the view's own work runs), the process CPU
time, the frames the client got, and the ratios live / plain (target <= 1.10). On a shared machine
the A/B wall ratio is at the mercy of the other jobs, so the live runs also measure the view's own
work in the same run: the wall time of its sampling on the simulation thread
(``TwinObserver.busy_seconds``) plus all CPU time of the server and client threads (the process
CPU time less the main thread's).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from typing import Any

from common import machine_line, print_table


def watch(url: str, stats: dict[str, int], stop: threading.Event) -> None:
    """A WebSocket client of the page: receive and decode frames until the episode ends."""
    from websockets.sync.client import connect

    with connect(url.replace("http://", "ws://") + "ws") as ws:
        while not stop.is_set():
            try:
                message = json.loads(ws.recv(timeout=0.5))
            except TimeoutError:
                continue
            if message["type"] == "frame":
                stats["frames"] += 1
            elif message["type"] == "end":
                return


def episode(scenario: Any, config: Any, seed: int, live: bool) -> dict[str, float]:
    """One episode; with ``live``, served and watched."""
    from evaluation.harness import run_episode
    from evaluation.twin.live import LiveSession

    entry = config.controllers[0]
    cpu0, main0 = time.process_time(), time.thread_time()
    if not live:
        record = run_episode(scenario, entry, seed, config)
        cpu = time.process_time() - cpu0
        return {
            "wall": record["wall_seconds"],
            "sumo": record["sim_step_seconds"],
            "cpu": cpu,
            "frames": 0,
            "busy": 0.0,
            "threads": 0.0,
        }
    stats, stop = {"frames": 0}, threading.Event()
    with LiveSession(scenario, entry, seed, config) as session:
        client = threading.Thread(target=watch, args=(session.url, stats, stop), daemon=True)
        client.start()
        try:
            record = session.run()
        finally:
            client.join(10)
            stop.set()
    cpu = time.process_time() - cpu0
    assert session.observer is not None
    return {
        "wall": record["wall_seconds"],
        "sumo": record["sim_step_seconds"],
        "cpu": cpu,
        "frames": stats["frames"],
        "busy": session.observer.busy_seconds,
        "threads": cpu - (time.thread_time() - main0),  # every thread but this one: server, client
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", default="wuxi-core")
    parser.add_argument("--controller", default="max_pressure")
    parser.add_argument("--horizon", type=float, default=3600.0)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from evaluation.config import make_eval_config

    config = make_eval_config(
        {
            "scenarios": [{"name": args.scenario, "horizon": args.horizon}],
            "controllers": [args.controller],
            "twin": {"port": 0},
        }
    )
    scenario = config.scenarios[0].resolve(config.cache_dir)
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for k in range(args.pairs):
        for live in (False, True) if k % 2 == 0 else (True, False):
            runs[live].append(episode(scenario, config, args.seed, live))
            print(f"pair {k + 1} {'live ' if live else 'plain'}: {runs[live][-1]}", flush=True)
    print(machine_line())
    rows = []
    for live in (False, True):
        walls = [r["wall"] for r in runs[live]]
        rows.append(
            [
                "live view + WebSocket client" if live else "no live view",
                ", ".join(f"{w:.1f}" for w in walls),
                f"{statistics.median(r['sumo'] for r in runs[live]):.1f}",
                f"{statistics.median(r['wall'] - r['sumo'] for r in runs[live]):.2f}",
                ", ".join(f"{r['cpu']:.1f}" for r in runs[live]),
                f"{statistics.median(r['frames'] for r in runs[live]):.0f}",
            ]
        )
    print_table(
        f"{args.controller} on {args.scenario}, {args.horizon:g} s, seed {args.seed}",
        [
            "episode",
            "wall s per episode",
            "inside simulationStep s (median)",
            "outside it s (median)",
            "process CPU s",
            "frames received",
        ],
        rows,
    )
    print()
    for what, key, pick in (
        ("wall time, medians", "wall", statistics.median),
        ("wall time, fastest of each", "wall", min),
        ("process CPU time, medians", "cpu", statistics.median),
    ):
        ratio = pick(r[key] for r in runs[True]) / pick(r[key] for r in runs[False])
        print(f"live / plain {what}: {ratio:.3f}  (target <= 1.10)")
    # Within each live run: the view's own work (sampling on the simulation thread, plus all CPU of
    # the server and client threads, counted as if it all delayed the simulation) against the rest.
    own = [(r["busy"] + r["threads"]) / (r["wall"] - r["busy"]) for r in runs[True]]
    busy = statistics.median(r["busy"] for r in runs[True])
    threads = statistics.median(r["threads"] for r in runs[True])
    print(
        f"within the live runs: sampling {busy:.2f} s on the simulation thread + {threads:.2f} s CPU of the "
        f"server and client threads per episode -> 1 + {statistics.median(own):.3f} (median; "
        + ", ".join(f"{1 + x:.3f}" for x in own)
        + ")"
    )


if __name__ == "__main__":
    main()
