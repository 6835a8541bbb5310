"""ONNX export of the layout-independent phase-competition policy (issue 13, item 5).

The graph takes the policy's inputs split by axis, with dynamic sizes, so one ``policy.onnx``
drives junctions of any shape (``N`` agents, ``M`` movements, ``P`` greens, ``F`` = 7 features,
``C`` context entries):

==================  ==============  =======  ===================================================
input               shape           dtype    meaning
==================  ==============  =======  ===================================================
``movements``       ``(N, M, F)``   float32  per-movement features (manifest ``movement_features``)
``served``          ``(N, P, M)``   float32  1 where green ``p`` serves movement ``m``
``current``         ``(N, P)``      float32  one-hot of the current green
``time_in_green``   ``(N, 1)``      float32  seconds in the current green / 120, clipped to [0, 1]
``action_mask``     ``(N, P)``      bool     greens allowed now
``context``         ``(N, C)``      float32  neighbour summaries (only with ``env.neighbour_obs``)
==================  ==============  =======  ===================================================

and returns ``logits`` ``(N, P)`` (forbidden greens at -1e9) and ``action`` ``(N,)`` (the
arg-max; near-ties, within 1e-5, go to the first green: :func:`~agents.phase_competition.greedy_green`,
which ``ppo:RUN`` uses too). Padding rows (all-zero movements, all-zero and masked greens) change
nothing, so a batch may pad junctions of different sizes to one ``(M, P)``. The manifest
(:data:`~agents.runtime.MOVEMENT_FORMAT`) says all of this in words, with the decision timing; the
runtime refuses one it does not understand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from torch import nn

from agents.export import MASKED_LOGIT, provenance, timing, write_onnx
from agents.movement_inputs import MovementInputs
from agents.phase_competition import TIE_TOLERANCE, PhaseCompetition, greedy_green
from agents.runs import package_versions
from agents.runtime import MOVEMENT_FORMAT, movement_input_names
from core.files import atomic_write_text
from envs import TrafficSignalEnv
from envs.observations import MAX_NEIGHBOURS, MOVEMENT_FEATURE_SPEC, MOVEMENT_FEATURES, MovementObservation

AXES = {
    "N": "agents (junctions) in the batch",
    "M": "movements (signal links: incoming lane -> outgoing lane) of a junction, in any order; "
    "padding rows are all zero",
    "P": "green phases of a junction, in the order of its static program's greens (action i = "
    "green i); padding greens serve nothing, are not current and are masked",
}
OUTPUTS = {
    "logits": {
        "shape": ["N", "P"],
        "dtype": "float32",
        "meaning": f"masked logits ({MASKED_LOGIT:g} if masked)",
    },
    "action": {
        "shape": ["N"],
        "dtype": "int64",
        "meaning": f"the chosen green: the first within {TIE_TOLERANCE:g} of the best logit",
    },
}


def _inputs(context: int) -> dict[str, dict[str, Any]]:
    spec = {
        "movements": (["N", "M", MOVEMENT_FEATURES], "float32", "per-movement features: movement_features"),
        "served": (["N", "P", "M"], "float32", "1 where green p serves movement m, else 0"),
        "current": (["N", "P"], "float32", "one-hot of the current green"),
        "time_in_green": (
            ["N", 1],
            "float32",
            f"seconds since the current green began / {MovementObservation.max_green:g}, clipped to [0, 1]",
        ),
        "action_mask": (["N", "P"], "bool", "greens allowed now (min green, max green, max red)"),
        "context": (
            ["N", context],
            "float32",
            f"per neighbour (up to {MAX_NEIGHBOURS}, sorted by id; zeros where fewer): mean density "
            "and mean queue over its incoming lanes",
        ),
    }
    return {
        name: dict(zip(("shape", "dtype", "meaning"), spec[name])) for name in movement_input_names(context)
    }


class MovementActorGraph(nn.Module):
    """The deterministic actor of a :class:`PhaseCompetition` on split inputs, masking inside."""

    def __init__(self, net: PhaseCompetition) -> None:
        super().__init__()
        self.net = net

    def forward(self, *tensors: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """``tensors`` in the order of :func:`~agents.runtime.movement_input_names`."""
        x = dict(zip(movement_input_names(self.net.shape.context), tensors))
        mask = x["action_mask"]
        logits = self.net.score(
            MovementInputs(
                x["movements"], x["served"], x["current"], mask, x["time_in_green"], x.get("context")
            )
        )
        logits = th.where(mask, logits, th.full_like(logits, MASKED_LOGIT))
        return logits, greedy_green(logits)


def _tensors(x: MovementInputs, context: int) -> tuple[th.Tensor, ...]:
    arrays = {
        "movements": x.movements,
        "served": x.served,
        "current": x.current,
        "time_in_green": x.time_in_green,
        "action_mask": np.asarray(x.action_mask, dtype=bool),
        "context": x.context,
    }
    names = movement_input_names(context)
    return tuple(
        th.as_tensor(np.asarray(arrays[k], dtype=bool if k == "action_mask" else np.float32)) for k in names
    )


def torch_movement_logits(net: PhaseCompetition, x: MovementInputs) -> np.ndarray:
    """Masked logits of the PyTorch policy on split inputs (the reference for parity checks)."""
    graph = MovementActorGraph(net).eval()
    with th.no_grad():
        logits, _ = graph(*_tensors(x, net.shape.context))
    return logits.numpy()


def write_movement_onnx(net: PhaseCompetition, path: Path) -> None:
    """Trace ``net``'s actor into ``path`` with dynamic ``N``, ``M`` and ``P``."""
    context = net.shape.context
    rng = np.random.default_rng(0)
    n, m, p = 3, 11, 5  # distinct from each other and from F and C, so no axis is confused
    served = (rng.random((n, p, m)) < 0.3).astype(np.float32)
    dummy = MovementInputs(
        movements=rng.random((n, m, MOVEMENT_FEATURES)).astype(np.float32),
        served=served,
        current=np.eye(p, dtype=np.float32)[[0, 1, 2]],
        action_mask=np.ones((n, p), dtype=bool),
        time_in_green=rng.random((n, 1)).astype(np.float32),
        context=rng.random((n, context)).astype(np.float32) if context else None,
    )
    names = movement_input_names(context)
    axes = {name: {0: "N"} for name in [*names, "logits", "action"]}
    axes["movements"][1] = "M"
    axes["served"].update({1: "P", 2: "M"})
    for name in ("current", "action_mask", "logits"):
        axes[name][1] = "P"
    write_onnx(MovementActorGraph(net).eval(), _tensors(dummy, context), path, names, list(OUTPUTS), axes)


def export_phase_competition(controller: Any, out: Path) -> Path:
    """Write ``policy.onnx`` + ``policy.json`` (:data:`MOVEMENT_FORMAT`) for a phase-competition
    run (a :class:`~agents.controller.PolicyController`); returns the manifest path."""
    config, model = controller.config, controller.model
    net: PhaseCompetition = model.policy.mlp_extractor
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "policy.onnx"
    write_movement_onnx(net.eval(), onnx_path)
    with TrafficSignalEnv(config.resolve_scenario(), config.env) as env:  # what it was trained on
        trained_on = {
            t: {"greens": list(env.phase_sets[t].greens), "movements": int(env.specs[t].link_lanes.shape[0])}
            for t in env.possible_agents
        }
    env_config = controller.env_config  # padding unset: the env pads to the net at hand
    if env_config.sensing.critic_truth:  # the asymmetric critic's truth copy: the actor never reads it
        env_config = env_config.model_copy(
            update={"sensing": env_config.sensing.model_copy(update={"critic_truth": False})}
        )
    manifest = {
        "format": MOVEMENT_FORMAT,
        "policy": "phase_competition",
        **provenance(controller.model_path, controller.run_dir, model, config.scenario, onnx_path),
        "axes": AXES,
        "inputs": _inputs(net.shape.context),
        "outputs": OUTPUTS,
        "movement_features": [
            {"index": i, "name": name, "meaning": meaning}
            for i, (name, meaning) in enumerate(MOVEMENT_FEATURE_SPEC)
        ],
        "context_size": net.shape.context,
        "tie_tolerance": TIE_TOLERANCE,
        "env_config": env_config.model_dump(mode="json"),
        "timing": timing(env_config),
        "observation": {
            "name": env_config.observation,
            "approach_zone": env_config.approach_zone,
            "neighbour_obs": env_config.neighbour_obs,
            "time_in_green_scale": MovementObservation.max_green,
        },
        "hidden": int(net.encoder[0].out_features),
        "trained_on": trained_on,
        "versions": package_versions(),
    }
    manifest_path = out / "policy.json"
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2))
    return manifest_path
