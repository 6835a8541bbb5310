"""A trained policy as a controller the evaluation harness can run (``ppo:PATH``).

``PATH`` is a run folder (its ``best_model.zip``, else ``final_model.zip``) or a model ``.zip`` inside
a run folder. The run's ``config.yaml`` supplies the environment settings the policy was trained
with (decision interval, observation, padding), which the evaluation must reuse: a policy only makes
sense on the observations it was trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents.config import TrainConfig
from core.config import load_config
from core.errors import CheckpointError, ConfigError
from envs.config import EnvConfig


def find_run_files(path: str | Path) -> tuple[Path, Path]:
    """``(model_zip, run_dir)`` for a run folder or a model file inside one.

    Raises:
        CheckpointError: no model or no config.yaml found.
    """
    p = Path(path)
    if p.is_dir():
        run = p
        for name in ("best_model.zip", "final_model.zip"):
            if (p / name).is_file():
                return p / name, run
        raise CheckpointError(f"{p}: no best_model.zip or final_model.zip; train first or give a .zip.")
    if not p.is_file():
        raise CheckpointError(f"policy {p} does not exist; pass a run folder or a model .zip.")
    for parent in p.parents:
        if (parent / "config.yaml").is_file():
            return p, parent
    raise CheckpointError(f"policy {p}: no config.yaml in its folders; keep models inside their run folder.")


class PolicyController:
    """Drives every intersection with one trained (shared, masked) PPO policy, deterministically.

    Attributes:
        name: label in reports.
        native: always ``False`` (the policy acts through the environment).
        env_config: environment settings the policy was trained with.
    """

    native = False

    def __init__(self, path: str | Path, name: str | None = None) -> None:
        import torch

        from agents.networks import load_model  # torch is needed here only

        # One thread: the harness runs one episode per core; a small MLP on torch's default thread
        # pool spends most of its time synchronising threads (measured 2.3x slower per decision
        # on a loaded 2-core machine).
        torch.set_num_threads(1)
        self.model_path, self.run_dir = find_run_files(path)
        self.config = load_config(TrainConfig, self.run_dir / "config.yaml")
        #: a phase-competition policy reads any junction: the env pads to the net at hand
        self.layout_free = self.config.ppo.policy == "phase_competition"
        free = {"max_lanes": None, "max_phases": None, "max_movements": None}
        self.env_config: EnvConfig = (
            self.config.env.model_copy(update=free) if self.layout_free else self.config.env
        )
        self.name = name or "ppo"
        try:
            self.model = load_model(self.model_path, self.config)
        except Exception as exc:  # noqa: BLE001 - zipfile/pickle/torch errors on a truncated or foreign file
            raise CheckpointError(f"cannot load policy {self.model_path}: {exc}") from None
        self.n_obs = int(self.model.observation_space.shape[0])
        self._agents: list[str] = []

    def reset(self, env: Any, seed: int | None = None) -> None:
        """Check that the policy fits ``env`` before the first step.

        Raises:
            ConfigError: the env's observation size differs from the policy's.
        """
        size = env.observation_space(env.possible_agents[0]).shape[0]
        self._shape = None
        if self.layout_free:
            from agents.networks import movement_shape

            # the actor's part only: an evaluation may sense otherwise than the training did
            # (its ``sensing`` replaces the run's, critic_truth included)
            self._shape = movement_shape(self.config, env.actor_obs_size, env.dims.n_actions, truth=False)
        elif size != self.n_obs:
            raise ConfigError(
                f"policy {self.model_path} expects observations of size {self.n_obs}, "
                f"the scenario gives {size}: evaluate with the policy's env config "
                "(max_lanes/max_phases padding, observation, neighbour options)."
            )
        self._agents = list(env.possible_agents)

    def act(self, observations: dict[str, np.ndarray], infos: dict[str, dict]) -> dict[str, int]:
        """One action per live agent, from the policy's most likely allowed action."""
        agents = [a for a in self._agents if a in observations]
        obs = np.stack([observations[a] for a in agents])
        masks = np.stack([infos[a]["action_mask"] for a in agents])
        if self._shape is not None:  # any padding: the network reads the layout it is given
            import torch

            from agents.phase_competition import greedy_green

            with torch.no_grad():
                logits = self.model.policy.mlp_extractor.logits(torch.as_tensor(obs), self._shape)
                masked = torch.where(torch.as_tensor(masks), logits, -torch.inf)
                actions = greedy_green(masked).numpy()  # near-ties as the ONNX export breaks them
        else:
            actions, _ = self.model.predict(obs, deterministic=True, action_masks=masks)
        return {a: int(x) for a, x in zip(agents, actions)}


def load_policy_controller(path: str) -> PolicyController:
    """The ``ppo:PATH`` controller for the evaluation harness."""
    return PolicyController(path)
