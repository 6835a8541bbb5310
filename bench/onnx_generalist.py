"""The exported phase-competition policy on nets with mixed junction shapes: pad or group?

    python bench/onnx_generalist.py [--run RUN_DIR] [--scenario wuxi-ring --scenario wuxi-city]
                                    [--decisions 5] [--calls 200]

One *decision* is every signal of the net. The inputs are real: ``--decisions`` decisions of the
net under the exported controller are recorded (the env pads every agent to the net's largest
movement and green counts), and each agent's rows are also cut to its own ``(M, P)`` (per-junction
arrays, what a feed without the env would give). Then each path is timed, cycled over the recorded
decisions, for ``--calls`` calls after a warm-up, with onnxruntime on one thread:

* **env padding, one call**: the env's padded batch straight into one session call;
* **env padding, calls of CHUNK**: the same batch in calls of at most
  :data:`agents.runtime.CHUNK` agents (what ``onnx:PATH`` runs: smaller intermediate tensors stay in
  the CPU cache);
* **per-junction arrays, padded**: checked as the runtime checks them, padded to the decision's
  largest ``(M, P)``, then run as ``onnx:`` runs a batch;
* **per-junction arrays, grouped by (M, P)**: ``OnnxPolicy.junction_logits_and_actions`` (the same
  checks, one batch per distinct shape, no padding; grouping and scattering included in the time).

All paths must choose the same greens on every decision (else the bench stops). A random policy
costs the same as a trained one, so without ``--run`` a tiny phase-competition policy is trained on
``wuxi-single`` into a temporary folder; it is exported afresh either way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agents.movement_inputs import MovementInputs  # noqa: E402
from agents.runtime import CHUNK  # noqa: E402


def train_tiny(root: Path) -> Path:
    """A tiny phase-competition run on wuxi-single (latency does not depend on training)."""
    from agents.config import TrainConfig
    from agents.trainer import train
    from core.config import load_config

    overrides = [
        "scenario=wuxi-single",
        "horizon=300",
        "n_envs=1",
        "total_timesteps=240",
        "ppo.n_steps=60",
        "ppo.batch_size=60",
        "ppo.n_epochs=1",
        "max_minutes=null",
        "warm_start.steps=0",
        "eval.every_steps=0",
        "checkpoint_every=100000",
        "env.observation=movement",
        "ppo.policy=phase_competition",
        "env.critic_obs=false",
        "env.max_lanes=null",
        "env.max_phases=null",
        f"run_root={root}",
    ]
    config = load_config(TrainConfig, ROOT / "configs/wuxi_core.yaml", overrides)
    return train(config, evaluator=None, progress=False, command=["bench/onnx_generalist.py"])


def record(
    controller: Any, name: str, decisions: int
) -> tuple[list[MovementInputs], list[list[MovementInputs]]]:
    """Each decision as the env's padded batch and as per-junction arrays of their own sizes."""
    import scenarios
    from envs import TrafficSignalEnv

    scenario = scenarios.build(name)
    with TrafficSignalEnv(scenario, controller.env_config) as env:
        obs, infos = env.reset(seed=1)
        controller.reset(env, 1)
        agents = list(env.possible_agents)
        sizes = [(env.specs[a].link_lanes.shape[0], env.phase_sets[a].n_greens) for a in agents]
        batches, junctions = [], []
        for _ in range(decisions):
            flat = np.stack([obs[a] for a in agents])
            masks = np.stack([infos[a]["action_mask"] for a in agents])
            x = controller.movement_shape.split(flat)
            x = MovementInputs(x.movements, x.served, x.current, masks, x.time_in_green, x.context)
            batches.append(x)
            junctions.append([_cut(x, k, m, p) for k, (m, p) in enumerate(sizes)])
            obs, _, _, _, infos = env.step(controller.act(obs, infos))
    return batches, junctions


def _cut(x: MovementInputs, k: int, m: int, p: int) -> MovementInputs:
    ctx = None if x.context is None else x.context[k : k + 1].copy()
    return MovementInputs(
        x.movements[k : k + 1, :m].copy(),
        x.served[k : k + 1, :p, :m].copy(),
        x.current[k : k + 1, :p].copy(),
        x.action_mask[k : k + 1, :p].copy(),
        x.time_in_green[k : k + 1].copy(),
        ctx,
    )


def padded(policy: Any, junctions: list[MovementInputs]) -> np.ndarray:
    """Actions of per-junction arrays, checked as the runtime checks them, padded to the largest
    ``(M, P)`` and run in calls of :data:`~agents.runtime.CHUNK` agents."""
    policy.check_junctions(junctions)
    m = max(j.movements.shape[1] for j in junctions)
    p = max(j.served.shape[1] for j in junctions)
    n = len(junctions)
    feats = np.zeros((n, m, junctions[0].movements.shape[2]), dtype=np.float32)
    served = np.zeros((n, p, m), dtype=np.float32)
    current = np.zeros((n, p), dtype=np.float32)
    mask = np.zeros((n, p), dtype=bool)
    for k, j in enumerate(junctions):  # one junction each (record() cuts them so)
        jm, jp = j.movements.shape[1], j.served.shape[1]
        feats[k, :jm], served[k, :jp, :jm] = j.movements[0], j.served[0]
        current[k, :jp], mask[k, :jp] = j.current[0], j.action_mask[0]
    t = np.concatenate([j.time_in_green for j in junctions])
    ctx = None if junctions[0].context is None else np.concatenate([j.context for j in junctions])
    return policy.movement_logits_and_actions(MovementInputs(feats, served, current, mask, t, ctx))[1]


def one_call(policy: Any, x: MovementInputs) -> np.ndarray:
    """Actions of the env's padded batch in one session call, whatever its size."""
    return policy.session.run(None, policy._feeds(x))[1]


def time_calls(fn: Callable[[Any], Any], inputs: list[Any], calls: int, warmup: int = 10) -> np.ndarray:
    """Wall time (s) of each of ``calls`` calls of ``fn`` on ``inputs``, cycled, after a warm-up."""
    for i in range(warmup):
        fn(inputs[i % len(inputs)])
    out = np.empty(calls)
    for i in range(calls):
        x = inputs[i % len(inputs)]
        t0 = time.perf_counter()
        fn(x)
        out[i] = time.perf_counter() - t0
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="a phase-competition run folder (default: train a tiny one)")
    parser.add_argument("--scenario", action="append", help="catalogue names (default: wuxi-ring)")
    parser.add_argument("--decisions", type=int, default=5, help="recorded decisions per net")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per path")
    args = parser.parse_args(argv)

    from agents.export import export
    from agents.runtime import OnnxController

    with tempfile.TemporaryDirectory(prefix="onnx-generalist-") as tmp:
        run = Path(args.run) if args.run else train_tiny(Path(tmp) / "runs")
        export(run, Path(tmp) / "export")
        controller = OnnxController(Path(tmp) / "export")
        policy = controller.policy
        print(f"policy: {run if args.run else 'tiny run trained now'}; context {policy.context_size}")
        rows = []
        for name in args.scenario or ["wuxi-ring"]:
            padded_batches, junctions = record(controller, name, args.decisions)
            for x, js in zip(padded_batches, junctions):
                ref = one_call(policy, x)
                assert (policy.movement_logits_and_actions(x)[1] == ref).all()
                assert (np.concatenate([a for _, a in policy.junction_logits_and_actions(js)]) == ref).all()
                assert (padded(policy, js) == ref).all(), "padding changed a decision"
            shapes = {j.served.shape[1:] for j in junctions[0]}
            n, p, m = padded_batches[0].served.shape
            real = sum(j.movements.shape[1] for j in junctions[0])
            paths = {
                "env padding, one call": (lambda x: one_call(policy, x), padded_batches),
                f"env padding, calls of {CHUNK} (onnx:)": (
                    policy.movement_logits_and_actions,
                    padded_batches,
                ),
                "per-junction, padded": (lambda js: padded(policy, js), junctions),
                "per-junction, grouped by (M, P) (runtime)": (policy.junction_logits_and_actions, junctions),
            }
            times = {k: time_calls(fn, inputs, args.calls) * 1e3 for k, (fn, inputs) in paths.items()}
            base = statistics.median(times["env padding, one call"])
            for label, t in times.items():
                rows.append(
                    f"| {name} | {n} | {len(shapes)} | {m} ({real / n:.1f}) | {p} | {label} | "
                    f"{np.median(t):.3f} | {np.percentile(t, 95):.3f} | {np.median(t) / base:.2f} |"
                )
    print(
        f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
        f"{args.decisions} decisions cycled, {args.calls} calls per path, onnxruntime 1 thread"
    )
    print(
        "| net | signals | (M, P) shapes | M padded (mean) | P padded | path | median ms | p95 ms | / one call |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
