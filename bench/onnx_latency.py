"""Per-decision latency of the exported policy (onnxruntime) against the PyTorch policy, wuxi-core.

    python bench/onnx_latency.py [--run RUN_DIR] [--calls 2000] [--torch-threads 1]

One *decision* is all 16 intersections of ``wuxi-core`` in one batch (16 x obs_size). The
observations are real: one short ``wuxi-core`` episode is run with the exported controller and every
decision's observations and masks are recorded (the PyTorch policy must choose the same phases on
them, else the bench stops). Then each path is timed on those batches, cycled, for ``--calls`` calls
after a warm-up:

* **controller.act**: what the evaluation harness and ops call per decision, dicts in and out:
  ``OnnxController.act`` (``onnx:PATH``) vs ``PolicyController.act`` (``ppo:PATH``, SB3 ``predict``);
* **model only**: one batch array in, logits + actions out: ``OnnxPolicy.logits_and_actions`` vs the
  same masked actor graph in PyTorch (the module ``agents.export`` exports, built once).

onnxruntime runs with one intra-op thread (``agents.runtime``); PyTorch gets ``--torch-threads``
(default 1, the same). A random policy has the same latency as a trained one, so without ``--run`` a
tiny policy is trained on ``wuxi-core`` (300 s horizon, a few rollouts) into a temporary folder. The
policy is always exported afresh into a temporary folder, so the timed file is the run's model.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HORIZON = 300.0


def train_tiny(root: Path) -> Path:
    """A tiny PPO run on wuxi-core (latency does not depend on training); returns its folder."""
    from agents.config import TrainConfig
    from agents.trainer import train
    from core.config import load_config

    overrides = [
        "scenario=wuxi-core",
        f"horizon={HORIZON:g}",
        "n_envs=1",
        "total_timesteps=1920",
        "ppo.n_steps=60",
        "ppo.batch_size=960",
        "ppo.n_epochs=1",
        "max_minutes=null",
        "warm_start.steps=0",
        "eval.every_steps=0",
        "checkpoint_every=100000",
        f"run_root={root}",
    ]
    config = load_config(TrainConfig, ROOT / "configs/wuxi_core.yaml", overrides)
    return train(config, evaluator=None, progress=False, command=["bench/onnx_latency.py"])


def record_decisions(onnx: Any, torch_policy: Any, horizon: float) -> list[tuple[dict, dict]]:
    """``(observations, infos)`` of every decision of one wuxi-core episode under ``onnx``.

    Raises:
        ExportError: the policy was not exported for wuxi-core.
        AssertionError: the PyTorch policy chose other phases on a recorded decision.
    """
    import scenarios
    from envs import TrafficSignalEnv

    scenario = scenarios.build("wuxi-core", horizon=horizon)
    env = TrafficSignalEnv(scenario, onnx.env_config)
    decisions = []
    try:
        observations, infos = env.reset(seed=1)
        onnx.reset(env, 1)  # refuses a policy not exported for wuxi-core (ExportError)
        torch_policy.reset(env, 1)
        while env.agents:
            infos = {a: {"action_mask": i["action_mask"]} for a, i in infos.items()}
            decisions.append((observations, infos))
            actions = onnx.act(observations, infos)
            assert actions == torch_policy.act(observations, infos), "ONNX and PyTorch disagree"
            observations, _, _, _, infos = env.step(actions)
    finally:
        env.close()
    return decisions


def time_calls(fn: Callable[[Any], Any], inputs: list[Any], calls: int, warmup: int = 100) -> np.ndarray:
    """Wall time (s) of each of ``calls`` calls of ``fn`` on ``inputs``, cycled, after a warm-up."""
    for i in range(warmup):
        fn(inputs[i % len(inputs)])
    out = np.empty(calls)
    clock = time.perf_counter
    for i in range(calls):
        x = inputs[i % len(inputs)]
        t0 = clock()
        fn(x)
        out[i] = clock() - t0
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="a trained wuxi-core run folder (default: train a tiny one)")
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per path (>= 1000)")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    if args.calls < 1000:
        parser.error("--calls must be >= 1000")

    import torch as th

    from agents.controller import PolicyController
    from agents.export import _ActorGraph, export
    from agents.runtime import OnnxController
    from core.errors import TSCError

    th.set_num_threads(args.torch_threads)
    with tempfile.TemporaryDirectory(prefix="onnx-latency-") as tmp:
        try:
            run = Path(args.run) if args.run else train_tiny(Path(tmp) / "runs")
            export(run, Path(tmp) / "export")
            onnx = OnnxController(Path(tmp) / "export")
            torch_policy = PolicyController(run)
            decisions = record_decisions(onnx, torch_policy, HORIZON)
        except TSCError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    agents = list(decisions[0][0])
    batches = [
        (np.stack([o[a] for a in agents]), np.stack([i[a]["action_mask"] for a in agents]))
        for o, i in decisions
    ]
    graph = _ActorGraph(torch_policy.model.policy).eval()  # what agents.export.torch_logits runs

    def torch_model(batch: tuple[np.ndarray, np.ndarray]) -> Any:
        with th.inference_mode():
            logits, actions = graph(th.as_tensor(batch[0]), th.as_tensor(batch[1]))
        return logits.numpy(), actions.numpy()

    paths = [
        ("controller.act (dicts)", lambda d: onnx.act(*d), lambda d: torch_policy.act(*d), decisions),
        ("model only (arrays)", lambda b: onnx.policy.logits_and_actions(*b), torch_model, batches),
    ]
    n, size = batches[0][0].shape
    print(
        f"per-decision latency, wuxi-core: {n} intersections in one batch ({n} x {size} float32 + "
        f"{n} x {batches[0][1].shape[1]} mask), {len(batches)} recorded decisions cycled, "
        f"{args.calls} timed calls per path"
    )
    print(
        f"policy: {'tiny run trained now' if not args.run else run} "
        f"({torch_policy.model.num_timesteps} agent-steps of training)"
    )
    print(
        f"python {platform.python_version()}, onnxruntime {_version('onnxruntime')} (1 thread), "
        f"torch {th.__version__} ({args.torch_threads} thread(s)); load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    header = f"| {'path':<24} | {'runtime':<11} | {'median us':>9} | {'p95 us':>8} | {'mean us':>8} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    ratios = []
    for label, onnx_fn, torch_fn, inputs in paths:
        t_onnx = time_calls(onnx_fn, inputs, args.calls) * 1e6
        t_torch = time_calls(torch_fn, inputs, args.calls) * 1e6
        for name, t in (("onnxruntime", t_onnx), ("pytorch", t_torch)):
            print(
                f"| {label:<24} | {name:<11} | {np.median(t):>9.1f} | {np.percentile(t, 95):>8.1f} | "
                f"{t.mean():>8.1f} |"
            )
        ratios.append(
            (
                label,
                statistics.median(t_torch) / statistics.median(t_onnx),
                np.percentile(t_torch, 95) / np.percentile(t_onnx, 95),
            )
        )
    for label, med, p95 in ratios:
        print(f"ratio pytorch / onnxruntime, {label}: median {med:.2f}x, p95 {p95:.2f}x")
    return 0


def _version(name: str) -> str:
    from importlib import metadata

    return metadata.version(name)


if __name__ == "__main__":
    sys.exit(main())
