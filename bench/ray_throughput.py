"""Ray (issue 16): evaluation and training throughput through Ray vs the process pool, and a local
two-node Ray cluster, all in one run.

    python bench/ray_throughput.py [--scenario wuxi-core] [--horizon 900] [--seeds 2] [--repeats 2]
                                   [--train-steps 11520] [--train-repeats N] [--no-train] [--no-cluster]

1. **Evaluation**: the same sweep (``fixed_time`` and ``max_pressure`` on ``--seeds`` seeds) through
   ``evaluation.harness.run_episodes`` with the process pool (2 workers) and with Ray (a local Ray
   instance with 2 CPUs, 2 tasks in flight, started and shut down inside the measured time), each
   into a fresh folder, in a fresh spawn process, the two alternating. Prints episodes/min and the
   ratio Ray / pool (target >= 0.9), and checks the metrics are identical.
2. **Cluster**: a head (``ray start --head --num-cpus 1``) and a second node (``ray start --address
   ... --num-cpus 1``, its own temp dir and ports) on loopback, then the same sweep with
   ``executor=ray, ray_address=<head>``: which node ran each episode (from the records' ``node``),
   and whether the metrics equal the pool's. The cluster's processes are ended by their pids.
3. **Training**: ``agents.trainer.train`` (warm start and evaluation off; bench/train_throughput.py's
   pinned settings) with 2 process workers and with 2 Ray actors, same seed, alternating;
   agent-steps/s between the first and the last rollout (ratio target >= 0.9), and the learning curve
   (the mean reward of every rollout, from metrics.csv) compared entry by entry.

Ray's own addresses stay on loopback: Ray rewrites the literal ``127.0.0.1`` to the machine's network
address, so the nodes use ``127.0.0.2`` and ``127.0.0.3`` (loopback too).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from common import isolated, machine_line, median, print_table

ROOT = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).with_name("ray"))
HEAD_IP, NODE_IP, HEAD_PORT = "127.0.0.2", "127.0.0.3", 6391
# Fixed, distinct ports for each node's agents (two nodes on one machine must not share them).
HEAD_PORTS = ["--ray-client-server-port", "6392", "--dashboard-agent-listen-port", "6393",
              "--dashboard-agent-grpc-port", "6394", "--metrics-export-port", "6395",
              "--runtime-env-agent-port", "6396"]  # fmt: skip
NODE_PORTS = ["--dashboard-agent-listen-port", "6397", "--dashboard-agent-grpc-port", "6398",
              "--metrics-export-port", "6399", "--runtime-env-agent-port", "6400"]  # fmt: skip


def _ray_env() -> dict[str, str]:
    # No usage report; token auth off: a loopback-only cluster on one machine (see README for real ones).
    # Workers at niceness 0, as the local instances core.ray_cluster starts (Ray's default is 15).
    return dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled", RAY_worker_niceness="0")


# ----------------------------------------------------------------------------- evaluation
def eval_run(scenario: str, horizon: float, seeds: int, executor: str, address: str | None) -> dict[str, Any]:
    """One sweep into a fresh folder: wall seconds, and per episode its metrics and node."""
    os.environ.update(_ray_env())
    from evaluation.config import EvalConfig
    from evaluation.harness import load_records, run_episodes

    with tempfile.TemporaryDirectory(prefix="wuxi-ray-bench-") as tmp:
        config = EvalConfig(
            scenarios=[{"name": scenario, "horizon": horizon}],
            controllers=["fixed_time", "max_pressure"],
            seeds=seeds,
            workers=2,
            executor=executor,
            ray_address=address,
            out=tmp,
        )
        built = {s.label: s.resolve(config.cache_dir) for s in config.scenarios}
        t0 = time.perf_counter()
        run_episodes(config, progress=False, scenarios=built)
        wall = time.perf_counter() - t0
        records = load_records(tmp)
    return {
        "wall": wall,
        "episodes": {f"{r['controller']}/{r['seed']}": r["metrics"] for r in records},
        "nodes": {f"{r['controller']}/{r['seed']}": r["node"] for r in records},
    }


# ----------------------------------------------------------------------------- cluster
def start_cluster(temp: Path) -> str:
    """A head and a second node, 1 CPU each, on loopback; returns the head's address."""
    env = _ray_env()
    head = [RAY, "start", "--head", "--num-cpus", "1", "--node-ip-address", HEAD_IP, "--port", str(HEAD_PORT),
            "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", str(temp / "head"),
            *HEAD_PORTS]  # fmt: skip
    subprocess.run(head, env=env, check=True, capture_output=True, timeout=120)
    address = f"{HEAD_IP}:{HEAD_PORT}"
    node = [RAY, "start", "--address", address, "--num-cpus", "1", "--node-ip-address", NODE_IP,
            "--disable-usage-stats", "--temp-dir", str(temp / "node"), *NODE_PORTS]  # fmt: skip
    subprocess.run(node, env=env, check=True, capture_output=True, timeout=120)
    return address


def stop_cluster(temp: Path) -> int:
    """End the cluster's processes by pid: those naming its temp dir or its address, and their
    children (Ray renames its agents, ``ray::DashboardAgent``); how many."""
    marks = (str(temp), f"{HEAD_IP}:{HEAD_PORT}")
    victims: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if proc.pid != os.getpid() and any(m in cmd for m in marks):
            victims[proc.pid] = proc
            try:
                victims.update({c.pid: c for c in proc.children(recursive=True)})
            except psutil.NoSuchProcess:
                pass
    for proc in victims.values():
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(list(victims.values()), timeout=10)
    for proc in alive:
        proc.kill()
    return len(victims)


def cluster_nodes(address: str) -> list[dict[str, Any]]:
    os.environ.update(_ray_env())
    from core.ray_cluster import RaySession

    with RaySession(address):
        import ray

        return [
            {"id": n["NodeID"], "ip": n["NodeManagerAddress"], "cpus": n["Resources"].get("CPU")}
            for n in ray.nodes()
            if n["Alive"]
        ]


# ----------------------------------------------------------------------------- training
def train_run(scenario: str, steps: int, executor: str) -> dict[str, Any]:
    """agent-steps/s between the first and last rollout, and the per-rollout mean reward."""
    os.environ.update(_ray_env())
    from train_throughput import _config, rate

    from agents.trainer import train

    with tempfile.TemporaryDirectory() as tmp:
        run = train(
            _config(scenario, 2, steps, None, tmp, (f"executor={executor}",)),
            evaluator=None,
            progress=False,
            command=["bench"],
        )
        with open(run / "metrics.csv") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("timesteps") and r.get("time")]
    timing = [(float(r["timesteps"]), float(r["time"])) for r in rows]
    curve = [float(r["reward"]) for r in rows if r.get("reward")]
    return {"rate": rate(timing), "curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", default="wuxi-core")
    parser.add_argument("--horizon", type=float, default=900.0)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--train-repeats", type=int, help="training repeats (default: --repeats)")
    parser.add_argument("--train-steps", type=int, default=11_520, help="agent-steps per training run")
    parser.add_argument("--no-eval", action="store_true")
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--no-cluster", action="store_true")
    args = parser.parse_args()
    print(f"Ray throughput; {machine_line()}", flush=True)
    sweep = (args.scenario, args.horizon, args.seeds)
    n_episodes = 2 * args.seeds

    walls: dict[str, list[float]] = {"process": [], "ray": []}
    reference: dict[str, Any] | None = None
    identical = True
    for r in range(0 if args.no_eval else args.repeats):
        for executor in ("process", "ray"):
            got = isolated(eval_run, *sweep, executor, None)
            walls[executor].append(got["wall"])
            reference = reference or got["episodes"]
            identical &= got["episodes"] == reference
            print(f"  eval run {r + 1}: {executor}: {got['wall']:.1f} s", flush=True)
    rate = {k: 60 * n_episodes / median(v) for k, v in walls.items() if v}
    label = f"{args.scenario} ({args.horizon:g} s; fixed_time, max_pressure; {args.seeds} seeds)"
    print_table(
        "evaluation, 2 workers" + (" (skipped)" if args.no_eval else ""),
        ["sweep", "executor", "episodes/min", "runs (s)", "x process pool", "metrics identical"],
        [
            [label, k, f"{rate[k]:.2f}", ", ".join(f"{w:.1f}" for w in walls[k]),
             f"{rate[k] / rate['process']:.2f}", identical]
            for k in ("process", "ray") if k in rate
        ],
    )  # fmt: skip

    if not args.no_cluster:
        temp = Path(tempfile.mkdtemp(prefix="wuxi-ray-cluster-"))
        try:
            address = start_cluster(temp)
            nodes = isolated(cluster_nodes, address)
            got = isolated(eval_run, *sweep, "ray", address)
        finally:
            print(f"  cluster stopped ({stop_cluster(temp)} processes ended)", flush=True)
        names = {n["id"]: f"{n['ip']} ({n['cpus']:g} CPU)" for n in nodes}
        used = sorted({names.get(v, v) for v in got["nodes"].values()})
        print_table(
            "local two-node cluster (head + node, 1 CPU each, loopback)",
            ["sweep", "wall s", "episodes/min", "nodes used", "metrics identical to the pool"],
            [[label, f"{got['wall']:.1f}", f"{60 * n_episodes / got['wall']:.2f}", " + ".join(used),
              got["episodes"] == reference]],
        )  # fmt: skip
        print("  episode -> node: " + json.dumps({k: names.get(v, v) for k, v in got["nodes"].items()}))

    if not args.no_train:
        runs: dict[str, list[dict[str, Any]]] = {"process": [], "ray": []}
        for r in range(args.train_repeats or args.repeats):
            for executor in ("process", "ray"):
                got = isolated(train_run, args.scenario, args.train_steps, executor)
                runs[executor].append(got)
                print(f"  train run {r + 1}: {executor}: {got['rate']:.0f} agent-steps/s", flush=True)
        steps = {k: median([g["rate"] for g in v]) for k, v in runs.items()}
        curves = [g["curve"] for v in runs.values() for g in v]
        diff = max(abs(a - b) for c in curves for a, b in zip(c, curves[0]))
        same_length = len({len(c) for c in curves}) == 1
        print_table(
            f"training, 2 simulations, {args.train_steps} agent-steps, seed 0",
            ["scenario", "workers", "agent-steps/s", "runs", "x process workers", "rollouts",
             "max |reward diff| vs first run"],
            [
                [args.scenario, k, f"{steps[k]:.0f}", ", ".join(f"{g['rate']:.0f}" for g in runs[k]),
                 f"{steps[k] / steps['process']:.2f}", len(runs[k][0]["curve"]),
                 f"{max(abs(a - b) for g in runs[k] for a, b in zip(g['curve'], curves[0])):.2e}"]
                for k in ("process", "ray")
            ],
        )  # fmt: skip
        print(f"  learning curves: same length {same_length}; max |diff| over all runs {diff:.2e}")
        print("  curve (process run 1): " + ", ".join(f"{v:.4f}" for v in curves[0]))


if __name__ == "__main__":
    main()
