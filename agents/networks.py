"""Policy networks: the shared MLP policy, and a MAPPO-style centralised critic.

With ``env.critic_obs`` the observation is ``[own | neighbour_1 | ... | neighbour_K]``: the actor
reads only its own part (so the deployed policy needs only local data), while the critic sees the
neighbourhood (MAPPO, Yu et al. 2022, restricted to neighbours as in networked MARL / MA2C,
Chu et al. 2019). Both halves are plain MLPs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium
import torch as th
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from agents.phase_competition import MovementShape, PhaseCompetitionPolicy
from envs.observations import MAX_NEIGHBOURS, MOVEMENT_FEATURES, NEIGHBOUR_FEATURES


class OwnObservation(BaseFeaturesExtractor):
    """The first ``size`` entries of the observation (the agent's own features)."""

    def __init__(self, observation_space: gymnasium.spaces.Box, size: int) -> None:
        super().__init__(observation_space, size)
        self.size = size

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return observations[:, : self.size]


def _mlp(in_dim: int, arch: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in arch:
        layers += [nn.Linear(in_dim, width), nn.Tanh()]
        in_dim = width
    return nn.Sequential(*layers)


class SplitMlpExtractor(nn.Module):
    """Separate actor and critic MLPs with different input sizes."""

    def __init__(self, actor_dim: int, critic_dim: int, arch: list[int]) -> None:
        super().__init__()
        self.policy_net = _mlp(actor_dim, arch)
        self.value_net = _mlp(critic_dim, arch)
        self.latent_dim_pi = self.latent_dim_vf = arch[-1] if arch else actor_dim

    def forward(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:  # pragma: no cover
        raise RuntimeError("SplitMlpExtractor needs separate actor and critic features.")

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        return self.policy_net(features)

    def forward_critic(self, features: th.Tensor) -> th.Tensor:
        return self.value_net(features)


class CentralisedCriticPolicy(MaskableActorCriticPolicy):
    """Maskable actor-critic whose actor sees ``actor_obs_size`` entries and critic the whole vector."""

    def __init__(self, *args: Any, actor_obs_size: int, **kwargs: Any) -> None:
        self.actor_obs_size = actor_obs_size
        kwargs["share_features_extractor"] = False
        super().__init__(*args, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.pi_features_extractor = OwnObservation(self.observation_space, self.actor_obs_size)
        self.features_extractor = self.pi_features_extractor
        arch = self.net_arch if isinstance(self.net_arch, list) else self.net_arch.get("pi", [64, 64])
        self.mlp_extractor = SplitMlpExtractor(
            self.actor_obs_size, self.vf_features_extractor.features_dim, list(arch)
        )


def movement_shape(config: Any, obs_size: int, n_actions: int, truth: bool | None = None) -> MovementShape:
    """The layout of a ``movement`` observation of ``obs_size`` entries (with neighbour summaries
    after it when ``env.neighbour_obs``, and twice over with ``env.sensing.critic_truth``: the
    actor's view, then the ground truth for the critic; ``truth`` overrides the config's, for an env
    whose sensing differs from the training's): the movements are what the other parts leave."""
    context = NEIGHBOUR_FEATURES * MAX_NEIGHBOURS if config.env.neighbour_obs else 0
    truth = bool(config.env.sensing.critic_truth) if truth is None else truth
    if truth:
        obs_size //= 2
    rest = obs_size - 2 * n_actions - 1 - context
    movements, left = divmod(rest, MOVEMENT_FEATURES + n_actions)
    assert left == 0 and movements > 0, (obs_size, n_actions, context)
    return MovementShape(movements=movements, phases=n_actions, context=context, truth=truth)


def policy_kwargs(config: Any, venv: Any) -> dict[str, Any]:
    """``policy_kwargs`` for MaskablePPO from a TrainConfig (and the env's sizes)."""
    if config.ppo.policy == "phase_competition":
        shape = movement_shape(config, venv.observation_space.shape[0], venv.n_actions)
        return {"movement_shape": vars(shape).copy(), "hidden": int(config.ppo.net_arch[0])}
    kwargs: dict[str, Any] = {"net_arch": list(config.ppo.net_arch)}
    if config.env.critic_obs:
        kwargs["actor_obs_size"] = venv.actor_obs_size
    return kwargs


def policy_class(config: Any) -> Any:
    """The policy class (or SB3 alias) for a TrainConfig."""
    if config.ppo.policy == "phase_competition":
        return PhaseCompetitionPolicy
    return CentralisedCriticPolicy if config.env.critic_obs else "MlpPolicy"


def load_model(path: str | Path, config: Any, **kwargs: Any) -> Any:
    """A saved MaskablePPO model of a run with this TrainConfig.

    The policy class is given, not unpickled: a model stores its class by module path, and runs
    saved before this module was renamed (``agents.policies``) would otherwise fail to load.
    """
    from sb3_contrib import MaskablePPO

    cls = policy_class(config)
    custom = {"policy_class": cls} if not isinstance(cls, str) else None
    return MaskablePPO.load(path, custom_objects=custom, device="cpu", **kwargs)
