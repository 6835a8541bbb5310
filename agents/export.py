"""Export a trained policy for ops: ``policy.onnx`` + ``policy.json`` manifest.

    python -m agents.export runs/wuxi-core__mappo__0__20261129-070000 [--out DIR]

An MLP policy's ONNX graph takes ``obs`` (batch x obs_size, float32) and ``action_mask`` (batch x n_actions,
bool) and returns ``logits`` (masked: forbidden actions get -1e9) and ``action`` (the arg-max, i.e.
the deterministic policy). Observation normalisation would be folded in here too (training normalises
rewards only, so there is none), and action masking is inside the graph, so the runtime
(:mod:`agents.runtime`) needs numpy and onnxruntime only.

The manifest lists the intersections the policy was trained on with their green phase states, the
observation layout, the decision/yellow/min/max-green timing, package versions, the training run and
the sha256 of ``policy.onnx``; the runtime refuses a scenario that does not match it.

A phase-competition policy (``ppo.policy: phase_competition``) reads any junction: its graph takes
the movement inputs with dynamic agent, movement and phase axes, and its manifest describes the
per-movement features instead of padded slots (:mod:`agents.export_generalist`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from torch import nn

from agents.controller import find_run_files
from agents.runs import package_versions
from agents.runtime import MLP_FORMAT
from core.errors import TSCError
from core.files import atomic_write, atomic_write_text, sha256
from envs import TrafficSignalEnv

MASKED_LOGIT = -1e9
OPSET = 17


class _ActorGraph(nn.Module):
    """The deterministic actor of an SB3 (Maskable) actor-critic policy, with masking inside."""

    def __init__(self, policy: Any) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, obs: th.Tensor, action_mask: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        p = self.policy
        features = p.pi_features_extractor(obs)
        latent = p.mlp_extractor.forward_actor(features)
        logits = p.action_net(latent)
        logits = th.where(action_mask, logits, th.full_like(logits, MASKED_LOGIT))
        return logits, th.argmax(logits, dim=1)


def observation_layout(env: TrafficSignalEnv) -> list[dict[str, Any]]:
    """Blocks of the observation vector, in order, with their meaning and units."""
    d, c = env.dims, env.config
    blocks: list[dict[str, Any]] = [
        {"name": "current_green_onehot", "size": d.max_phases, "unit": "one-hot"},
        {"name": "action_mask", "size": d.n_actions, "unit": "0/1"},
        {"name": "time_in_green", "size": 1, "unit": "seconds / 120, clipped to 1"},
    ]
    if c.observation in ("default", "approach"):
        blocks += [
            {"name": "lane_density", "size": d.max_lanes, "unit": "vehicles / (lane length / 7.5 m)"},
            {"name": "lane_queue", "size": d.max_lanes, "unit": "halting vehicles / (lane length / 7.5 m)"},
        ]
        if c.observation == "approach":
            zone = f"(min(approach_zone={c.approach_zone:g} m, lane length) / 7.5 m)"
            blocks += [
                {"name": "lane_near", "size": d.max_lanes, "unit": f"vehicles near the stop line / {zone}"},
                {
                    "name": "lane_near_moving",
                    "size": d.max_lanes,
                    "unit": f"moving vehicles (>= 0.1 m/s) near the stop line / {zone}",
                },
            ]
    elif c.observation == "pressure":
        blocks += [{"name": "phase_pressure", "size": d.max_phases, "unit": "density difference, [-1, 1]"}]
    elif c.observation == "queue":
        blocks += [
            {"name": "lane_queue", "size": d.max_lanes, "unit": "halting / jam capacity"},
            {"name": "phase_exit_density", "size": d.max_phases, "unit": "vehicles / jam capacity"},
        ]
    else:
        blocks += [{"name": f"custom:{c.observation}", "size": None, "unit": "see its registration"}]
    if c.neighbour_obs:
        blocks.append(
            {
                "name": "neighbour_density_queue",
                "size": 2 * d.max_neighbours,
                "unit": "per neighbour (sorted by id): mean density, mean queue",
            }
        )
    if c.critic_obs:
        blocks.append(
            {
                "name": "critic_only_neighbour_observations",
                "size": env.obs_size - env.actor_obs_size,
                "unit": "not read by the actor",
            }
        )
    return blocks


def write_onnx(
    graph: nn.Module,
    dummy: tuple[th.Tensor, ...],
    path: Path,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    """Trace ``graph`` on ``dummy`` into ``path`` (atomically), with named dynamic axes.

    The TorchScript exporter (``dynamo=False``; torch warns that it is deprecated): the dynamo
    exporter needs ``onnxscript``, which is not a dependency of this project. Tracing records the
    sizes read from the input tensors as graph operations, so the axes named in ``dynamic_axes``
    stay free (the parity tests run other sizes than the dummy's).
    """

    def write(target: Path) -> None:
        th.onnx.export(
            graph,
            dummy,
            str(target),
            input_names=input_names,
            output_names=output_names,
            opset_version=OPSET,
            dynamo=False,
            dynamic_axes=dynamic_axes,
        )

    atomic_write(path, write)


def timing(env_config: Any) -> dict[str, Any]:
    """What the deployment must reproduce around the policy: decision interval, yellow, min/max
    green, the starvation guard and the action mode."""
    c = env_config
    return {
        "delta_time": c.delta_time,
        "yellow_time": c.yellow_time,
        "min_green": c.min_green,
        "max_green": c.max_green,
        "max_red": c.max_red,
        "action_mode": c.action_mode,
    }


def provenance(model_path: Path, run_dir: Path, model: Any, scenario: str, onnx_path: Path) -> dict[str, Any]:
    """The manifest entries that say which file came from which training run."""
    return {
        "model": onnx_path.name,
        "sha256": sha256(onnx_path),
        "training_run": str(run_dir.resolve()),
        "trained_model": model_path.name,
        "num_timesteps": int(model.num_timesteps),
        "scenario": scenario,
    }


def export(run_or_model: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write ``policy.onnx`` and ``policy.json`` for a trained run; returns the manifest path.

    An MLP policy is exported for its training scenario's padded observation
    (:data:`~agents.runtime.MLP_FORMAT`); a phase-competition policy with dynamic movement and
    phase axes, for any junction (:mod:`agents.export_generalist`).
    """
    from agents.controller import PolicyController

    model_path, run_dir = find_run_files(run_or_model)
    controller = PolicyController(model_path)
    out = Path(out_dir) if out_dir else run_dir / "export"
    if controller.layout_free:
        from agents.export_generalist import export_phase_competition

        return export_phase_competition(controller, out)
    return _export_mlp(controller, out)


def _export_mlp(controller: Any, out: Path) -> Path:
    from sb3_contrib import MaskablePPO

    model_path, run_dir, config = controller.model_path, controller.run_dir, controller.config
    out.mkdir(parents=True, exist_ok=True)
    env = TrafficSignalEnv(config.resolve_scenario(), config.env)
    try:
        n_obs, n_actions = env.obs_size, env.dims.n_actions
        if n_obs != controller.n_obs:
            raise TSCError(
                f"{model_path}: the policy's observation size {controller.n_obs} differs from "
                f"its training scenario's {n_obs}; was config.yaml edited?"
            )
        model: MaskablePPO = controller.model
        graph = _ActorGraph(model.policy).eval()
        dummy = (th.zeros(2, n_obs), th.ones(2, n_actions, dtype=th.bool))
        onnx_path = out / "policy.onnx"
        batch = {0: "batch"}
        write_onnx(
            graph,
            dummy,
            onnx_path,
            ["obs", "action_mask"],
            ["logits", "action"],
            {"obs": batch, "action_mask": batch, "logits": batch, "action": batch},
        )
        manifest = {
            "format": MLP_FORMAT,
            **provenance(model_path, run_dir, model, config.scenario, onnx_path),
            "inputs": {"obs": [None, n_obs], "action_mask": [None, n_actions]},
            "outputs": {"logits": [None, n_actions], "action": [None]},
            "env_config": config.env.model_dump(mode="json"),
            "timing": timing(config.env),
            "observation": {
                "name": config.env.observation,
                "size": n_obs,
                "actor_size": env.actor_obs_size,
                "layout": observation_layout(env),
            },
            "intersections": {
                t: {"greens": list(env.phase_sets[t].greens), "in_lanes": list(env.specs[t].in_lanes)}
                for t in env.possible_agents
            },
            "versions": package_versions(),
        }
        manifest_path = out / "policy.json"
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2))
        return manifest_path
    finally:
        env.close()


def torch_logits(model: Any, obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Masked logits of the PyTorch policy (the reference for parity checks)."""
    graph = _ActorGraph(model.policy).eval()
    with th.no_grad():
        logits, _ = graph(th.as_tensor(obs, dtype=th.float32), th.as_tensor(masks, dtype=th.bool))
    return logits.numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export a trained policy to ONNX + manifest.")
    parser.add_argument("run", help="run folder or model .zip inside one")
    parser.add_argument("--out", help="output folder (default: RUN/export)")
    args = parser.parse_args(argv)
    try:
        manifest = export(args.run, args.out)
    except TSCError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"exported: {manifest.parent / 'policy.onnx'} + {manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
