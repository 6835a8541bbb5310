"""Torch-free runtime for exported policies (numpy + onnxruntime only).

``OnnxController`` is what ops deploy and what the evaluation harness runs as ``onnx:PATH`` (PATH =
``policy.json`` or the folder holding it), so the evaluated file is the deployed file. Before the
first step it checks that the scenario matches the manifest (intersection ids, their green phases,
observation size) and refuses a mismatch with :class:`~core.errors.ExportError`.

This module must not import torch or stable-baselines3 (a test checks it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ExportError
from core.files import sha256  # stdlib-only module: keeps the runtime torch-free
from envs.config import EnvConfig


class OnnxPolicy:
    """An exported policy: ``manifest`` + an onnxruntime session, verified by sha256."""

    def __init__(self, path: str | Path) -> None:
        import onnxruntime as ort

        p = Path(path)
        manifest_path = p / "policy.json" if p.is_dir() else p
        if not manifest_path.is_file():
            raise ExportError(f"{manifest_path} not found; export with `python -m agents.export RUN_DIR`.")
        try:
            self.manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise ExportError(f"{manifest_path} is not valid JSON: {exc}") from None
        missing = [
            k for k in ("model", "sha256", "inputs", "env_config", "intersections") if k not in self.manifest
        ]
        if missing:
            raise ExportError(f"{manifest_path} lacks {missing}; re-export the policy.")
        model_path = manifest_path.parent / self.manifest["model"]
        if not model_path.is_file() or sha256(model_path) != self.manifest["sha256"]:
            raise ExportError(
                f"{model_path} is missing or does not match the sha256 in {manifest_path}; "
                "re-export the policy."
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.n_obs = int(self.manifest["inputs"]["obs"][1])
        self.n_actions = int(self.manifest["inputs"]["action_mask"][1])
        try:
            self.env_config = EnvConfig(**self.manifest["env_config"])
        except (TypeError, ValueError) as exc:
            raise ExportError(
                f"{manifest_path}: env_config is invalid ({exc}); re-export the policy."
            ) from None

    def logits_and_actions(self, obs: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Masked logits and chosen actions for a batch of observations."""
        logits, actions = self.session.run(
            None, {"obs": np.asarray(obs, dtype=np.float32), "action_mask": np.asarray(masks, dtype=bool)}
        )
        return logits, actions

    def check_env(self, env: Any) -> None:
        """Refuse an environment the policy was not exported for.

        Raises:
            ExportError: different intersection ids, green phases or observation size.
        """
        expected = self.manifest["intersections"]
        agents = list(env.possible_agents)
        unknown = sorted(set(agents) - set(expected))
        if unknown:
            raise ExportError(
                f"the scenario has intersections {unknown[:5]} that the policy manifest does "
                f"not list (it knows {len(expected)}): export a policy for this scenario."
            )
        for tls in agents:
            greens = list(env.phase_sets[tls].greens)
            if greens != expected[tls]["greens"]:
                raise ExportError(
                    f"intersection {tls!r}: green phases {greens} differ from the manifest's "
                    f"{expected[tls]['greens']}; the policy would drive the wrong movements."
                )
            lanes = list(env.specs[tls].in_lanes)
            if "in_lanes" in expected[tls] and lanes != expected[tls]["in_lanes"]:
                raise ExportError(
                    f"intersection {tls!r}: incoming lanes {lanes[:4]}... differ from the "
                    "manifest's; observation slots would mean different lanes."
                )
        size = env.observation_space(agents[0]).shape[0]
        if size != self.n_obs:
            raise ExportError(
                f"observation size {size} differs from the manifest's {self.n_obs}; evaluate "
                "with the manifest's env_config."
            )


class OnnxController:
    """The exported policy as a controller: all intersections in one batch per decision."""

    native = False

    def __init__(self, path: str | Path, name: str = "onnx") -> None:
        self.policy = OnnxPolicy(path)
        self.env_config = self.policy.env_config
        self.name = name
        self._agents: list[str] = []

    def reset(self, env: Any, seed: int | None = None) -> None:
        """Verify the scenario against the manifest before the first step."""
        self.policy.check_env(env)
        self._agents = list(env.possible_agents)

    def act(self, observations: dict[str, np.ndarray], infos: dict[str, dict]) -> dict[str, int]:
        agents = [a for a in self._agents if a in observations]
        obs = np.stack([observations[a] for a in agents])
        masks = np.stack([infos[a]["action_mask"] for a in agents])
        _, actions = self.policy.logits_and_actions(obs, masks)
        return {a: int(x) for a, x in zip(agents, actions)}


def load_onnx_controller(path: str) -> OnnxController:
    """The ``onnx:PATH`` controller for the evaluation harness."""
    return OnnxController(path)
