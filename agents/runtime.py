"""Torch-free runtime for exported policies (numpy + onnxruntime only).

``OnnxController`` is what ops deploy and what the evaluation harness runs as ``onnx:PATH`` (PATH =
``policy.json`` or the folder holding it), so the evaluated file is the deployed file. Two manifest
formats, versioned by their ``format`` field (anything else is refused with
:class:`~core.errors.ExportError`):

* :data:`MLP_FORMAT`: an MLP over the padded observation of the scenario it was trained on. Before
  the first step the runtime checks that the scenario matches the manifest (intersection ids, their
  green phases, observation size).
* :data:`MOVEMENT_FORMAT`: the phase-competition policy with dynamic agent, movement and phase axes
  (:mod:`agents.export_generalist`): any net, any padding. The runtime checks the observation
  settings (``movement``, phase actions, neighbour context) and the shapes of every input; it runs
  the env's batch of all agents (padded by the env to one shape) in calls of :data:`CHUNK` agents,
  and :meth:`OnnxPolicy.junction_logits_and_actions` takes per-junction arrays of their own sizes.

This module must not import torch or stable-baselines3 (a test checks it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.movement_inputs import MovementInputs, MovementShape
from core.errors import ExportError
from core.files import sha256  # stdlib-only module: keeps the runtime torch-free
from envs.config import EnvConfig
from envs.observations import MOVEMENT_FEATURE_SPEC, MOVEMENT_FEATURES, NEIGHBOUR_FEATURES

MLP_FORMAT = "wuxi-tsc-policy/1"
MOVEMENT_FORMAT = "wuxi-tsc-movement-policy/1"
_REQUIRED = {  # manifest fields each format must have
    MLP_FORMAT: ("model", "sha256", "inputs", "env_config", "intersections"),
    MOVEMENT_FORMAT: (
        "model",
        "sha256",
        "inputs",
        "outputs",
        "env_config",
        "context_size",
        "movement_features",
    ),
}


#: agents per onnxruntime call of a phase-competition export: smaller batches keep the hidden
#: activations in the CPU cache (on the 1,723-signal net, calls of 256 were faster than one, BENCHMARKS.md)
CHUNK = 256


def movement_input_names(context: int) -> list[str]:
    """The inputs of a :data:`MOVEMENT_FORMAT` graph, in order (``context`` only if ``context > 0``)."""
    names = ["movements", "served", "current", "time_in_green", "action_mask"]
    return [*names, "context"] if context else names


class OnnxPolicy:
    """An exported policy: ``manifest`` + an onnxruntime session, verified by sha256."""

    def __init__(self, path: str | Path) -> None:
        import onnxruntime as ort

        p = Path(path)
        manifest_path = p / "policy.json" if p.is_dir() else p
        self.manifest_path = manifest_path
        if not manifest_path.is_file():
            raise ExportError(f"{manifest_path} not found; export with `python -m agents.export RUN_DIR`.")
        try:
            self.manifest: dict[str, Any] = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise ExportError(f"{manifest_path} is not valid JSON: {exc}") from None
        if not isinstance(self.manifest, dict):
            raise ExportError(
                f"{manifest_path} is not a policy manifest (a JSON object); re-export the policy."
            )
        self.format = self.manifest.get("format")
        if self.format not in _REQUIRED:
            raise ExportError(
                f"{manifest_path}: format {self.format!r} is not one this runtime reads "
                f"({', '.join(_REQUIRED)}); re-export the policy with this version's "
                "`python -m agents.export RUN_DIR`, or run it with the version that exported it."
            )
        missing = [k for k in _REQUIRED[self.format] if k not in self.manifest]
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
        #: a phase-competition export: any junction, inputs split by axis
        self.generalist = self.format == MOVEMENT_FORMAT
        if self.generalist:
            self._check_movement_manifest()
        else:
            self.n_obs = int(self.manifest["inputs"]["obs"][1])
            self.n_actions = int(self.manifest["inputs"]["action_mask"][1])
        try:
            self.env_config = EnvConfig(**self.manifest["env_config"])
        except (TypeError, ValueError) as exc:
            raise ExportError(
                f"{manifest_path}: env_config is invalid ({exc}); re-export the policy."
            ) from None

    def _check_movement_manifest(self) -> None:
        m, where = self.manifest, self.manifest_path
        try:
            self.context_size = int(m["context_size"])
        except (TypeError, ValueError):
            raise ExportError(f"{where}: context_size {m['context_size']!r} is not an integer.") from None
        features = [f.get("name") if isinstance(f, dict) else f for f in m["movement_features"]]
        known = [name for name, _ in MOVEMENT_FEATURE_SPEC]
        if features != known:
            raise ExportError(
                f"{where}: movement_features {features} differ from the ones this runtime's env "
                f"computes ({known}); run the policy with the version that exported it."
            )
        names = movement_input_names(self.context_size)
        graph = [i.name for i in self.session.get_inputs()]
        if list(m["inputs"]) != names or graph != names:
            raise ExportError(
                f"{where}: inputs {list(m['inputs'])} (graph: {graph}) are not {names}, which "
                f"context_size {self.context_size} implies; re-export the policy."
            )

    def logits_and_actions(self, obs: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Masked logits and chosen actions for a batch of observations (an MLP export)."""
        if self.generalist:
            raise ExportError(
                f"{self.manifest_path}: a phase-competition export takes movement inputs, not a "
                "flat observation: use movement_logits_and_actions or junction_logits_and_actions."
            )
        logits, actions = self.session.run(
            None, {"obs": np.asarray(obs, dtype=np.float32), "action_mask": np.asarray(masks, dtype=bool)}
        )
        return logits, actions

    def movement_logits_and_actions(self, x: MovementInputs) -> tuple[np.ndarray, np.ndarray]:
        """``(logits (N, P), actions (N,))`` of one batch of split inputs, in onnxruntime calls of
        at most :data:`CHUNK` agents (one call below that).

        Raises:
            ExportError: not a phase-competition export, or an input of the wrong shape.
        """
        if not self.generalist:
            raise ExportError(f"{self.manifest_path}: an MLP export takes `obs`; use logits_and_actions.")
        self._check(x)
        feeds = self._feeds(x)
        n = x.n
        if n <= CHUNK:
            logits, actions = self.session.run(None, feeds)
            return logits, actions
        parts = [
            self.session.run(None, {k: v[i : i + CHUNK] for k, v in feeds.items()})
            for i in range(0, n, CHUNK)
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def junction_logits_and_actions(
        self, junctions: Sequence[MovementInputs]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per-junction numpy inputs of their own sizes (each a batch, usually of one junction),
        run one batch per distinct ``(M, P)`` as :meth:`movement_logits_and_actions` does (no
        padding; on the 1,723-signal net faster than padding them into one batch, BENCHMARKS.md);
        returns each one's logits and actions, in order.

        Raises:
            ExportError: an input of the wrong shape (the message names the junction's index).
        """
        self.check_junctions(junctions)
        groups: dict[tuple[int, ...], list[int]] = {}
        for k, j in enumerate(junctions):
            groups.setdefault(j.served.shape[1:], []).append(k)
        out: list[Any] = [None] * len(junctions)
        for index in groups.values():
            members = [junctions[k] for k in index]
            logits, actions = self.movement_logits_and_actions(MovementInputs.concat(members))
            at = 0
            for k, j in zip(index, members):
                n = j.movements.shape[0]
                out[k] = (logits[at : at + n], actions[at : at + n])
                at += n
        return out

    def check_junctions(self, junctions: Sequence[MovementInputs]) -> None:
        """Refuse per-junction inputs whose shapes do not fit (a fast test per junction; the
        message, from the full check, names the junction and the input)."""
        f, c = MOVEMENT_FEATURES, self.context_size
        for k, j in enumerate(junctions):
            fm, fs = np.shape(j.movements), np.shape(j.served)
            ok = (
                len(fm) == 3
                and len(fs) == 3
                and fm[2] == f
                and fs[0] == fm[0]
                and fs[2] == fm[1]
                and fs[1] >= 1
            )
            if ok:
                n, p = fm[0], fs[1]
                ok = (
                    np.shape(j.current) == np.shape(j.action_mask) == (n, p)
                    and np.shape(j.time_in_green) == (n, 1)
                    and (np.shape(j.context) == (n, c) if c else j.context is None)
                )
            if not ok:
                self._check(j, where=f"junction {k}: ")
                raise ExportError(f"junction {k}: inputs of inconsistent shapes ({self.manifest_path}).")

    def _check(self, x: MovementInputs, where: str = "") -> None:
        """Refuse inputs whose shapes do not fit each other or the manifest."""
        shapes = {name: np.shape(v) for name, v in vars(x).items() if v is not None}
        feats = shapes["movements"]
        if len(feats) != 3 or feats[2] != MOVEMENT_FEATURES:
            raise ExportError(
                f"{where}input movements has shape {feats}; the policy in {self.manifest_path} "
                f"expects (N, M, {MOVEMENT_FEATURES}) (manifest field movement_features)."
            )
        n, m = feats[:2]
        p = shapes["served"][1] if len(shapes["served"]) == 3 else -1
        expected = {"served": (n, p, m), "current": (n, p), "time_in_green": (n, 1), "action_mask": (n, p)}
        if self.context_size:
            if x.context is None:
                raise ExportError(
                    f"{where}input context is missing; the policy in {self.manifest_path} reads "
                    f"{self.context_size} neighbour entries (manifest field context_size)."
                )
            expected["context"] = (n, self.context_size)
        elif x.context is not None:
            raise ExportError(
                f"{where}input context given, but the policy in {self.manifest_path} has none "
                "(manifest field context_size 0)."
            )
        for name, shape in expected.items():
            if shapes[name] != shape or p < 1:
                raise ExportError(
                    f"{where}input {name} has shape {shapes[name]}, expected {shape} "
                    f"(N={n}, P={p}, M={m} from movements and served; inputs in {self.manifest_path})."
                )

    def _feeds(self, x: MovementInputs) -> dict[str, np.ndarray]:
        """The session's inputs from (checked) ``x``, as the dtypes the graph takes."""
        feeds = {
            name: np.asarray(getattr(x, name), dtype=bool if name == "action_mask" else np.float32)
            for name in movement_input_names(self.context_size)
        }
        return feeds

    def check_env(self, env: Any) -> MovementShape | None:
        """Refuse an environment the policy was not exported for; for a phase-competition export,
        return the layout of the env's observations.

        Raises:
            ExportError: MLP: different intersection ids, green phases or observation size.
                Phase competition: another observation, action mode or neighbour context.
        """
        if self.generalist:
            return self._movement_shape(env)
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
        return None

    def _movement_shape(self, env: Any) -> MovementShape:
        c, where = env.config, self.manifest_path
        for field, want in (("observation", "movement"), ("action_mode", "phase")):
            if getattr(c, field) != want:
                raise ExportError(
                    f"env.{field} is {getattr(c, field)!r}; the policy in {where} reads "
                    f"env.{field} {want!r}: evaluate with the manifest's env_config."
                )
        context = NEIGHBOUR_FEATURES * env.dims.max_neighbours if c.neighbour_obs else 0
        if context != self.context_size:
            raise ExportError(
                f"env.neighbour_obs={c.neighbour_obs} gives {context} context entries, the policy in "
                f"{where} reads {self.context_size} (manifest field context_size): evaluate with "
                "the manifest's env_config."
            )
        shape = MovementShape(env.dims.max_movements, env.dims.max_phases, context)
        size = env.observation_space(env.possible_agents[0]).shape[0]
        if size != shape.size or env.dims.n_actions != shape.phases:
            raise ExportError(
                f"observation size {size} is not the movement layout {shape} ({shape.size}) the "
                f"policy in {where} reads; is env.critic_obs on? Evaluate with the manifest's env_config."
            )
        return shape


class OnnxController:
    """The exported policy as a controller: all intersections in one batch per decision.

    Attributes:
        movement_shape: after :meth:`reset`, the layout of the env's ``movement`` observations
            (a phase-competition export; ``None`` for an MLP export).
    """

    native = False

    def __init__(self, path: str | Path, name: str = "onnx") -> None:
        self.policy = OnnxPolicy(path)
        self.env_config = self.policy.env_config
        self.name = name
        self._agents: list[str] = []
        self.movement_shape: MovementShape | None = None

    def reset(self, env: Any, seed: int | None = None) -> None:
        """Verify the scenario against the manifest before the first step."""
        self.movement_shape = self.policy.check_env(env)
        self._agents = list(env.possible_agents)

    def act(self, observations: dict[str, np.ndarray], infos: dict[str, dict]) -> dict[str, int]:
        agents = [a for a in self._agents if a in observations]
        obs = np.stack([observations[a] for a in agents])
        masks = np.stack([infos[a]["action_mask"] for a in agents])
        if self.movement_shape is None:
            _, actions = self.policy.logits_and_actions(obs, masks)
        else:  # phase competition: the env's padding is one (M, P) for all agents -> one call
            x = self.movement_shape.split(obs)
            x = MovementInputs(x.movements, x.served, x.current, masks, x.time_in_green, x.context)
            _, actions = self.policy.movement_logits_and_actions(x)
        return {a: int(x) for a, x in zip(agents, actions)}


def load_onnx_controller(path: str) -> OnnxController:
    """The ``onnx:PATH`` controller for the evaluation harness."""
    return OnnxController(path)
