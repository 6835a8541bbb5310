"""A policy whose parameters do not depend on the junction: phases compete on the movements they
serve (FRAP, Zheng et al. 2019, "Learning Phase Competition for Traffic Signal Control", CIKM;
one shared FRAP-style policy for a whole city: MPLight, Chen et al. 2020, AAAI).

It reads the ``movement`` observation (:class:`envs.observations.MovementObservation`):
per movement (signal link) 7 features, which movements each green serves, and the phase block.
One network embeds every movement; a green's embedding is the mean over the movements it serves;
each green is scored from its embedding, the mean over all of the junction's movements (the
context it competes in), whether it is the current green, and the time in green; the critic pools
the same embeddings. Sums and means over movements make the output invariant to their order and
to padding, and the same weights score 2 or 8 greens: one policy runs on any junction. With
``env.neighbour_obs`` the neighbours' summaries join the context of every green and the critic.

Only ``action_mode: phase`` (one action per green).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch as th
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from torch import nn

from envs.observations import MOVEMENT_FEATURES


@dataclass(frozen=True)
class MovementShape:
    """How a ``movement`` observation vector is laid out (the env's padding, not the policy's).

    Attributes:
        movements: movements per agent (``dims.max_movements``).
        phases: greens per agent (``dims.max_phases``; also the number of actions).
        context: trailing entries after the phase block (neighbour summaries; 0 without).
    """

    movements: int
    phases: int
    context: int = 0

    @property
    def size(self) -> int:
        """Length of the observation vector."""
        m, p = self.movements, self.phases
        return m * MOVEMENT_FEATURES + p * m + 2 * p + 1 + self.context


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers[:-1])  # no activation after the last layer


class PhaseCompetition(nn.Module):
    """The actor (a logit per green) and the critic over movements (see the module docstring).

    Args:
        shape: the layout of the observations SB3 trains on (other layouts: :meth:`logits`).
        hidden: width of the movement embedding and of the heads.
    """

    def __init__(self, shape: MovementShape, hidden: int = 64) -> None:
        super().__init__()
        self.shape = shape
        self.encoder = _mlp([MOVEMENT_FEATURES, hidden, hidden])
        self.scorer = _mlp([2 * hidden + 2 + shape.context, hidden, 1])
        self.value_net = _mlp([hidden + shape.context, hidden, 1])  # "value_net": the warm start's critic
        self.latent_dim_pi = shape.phases
        self.latent_dim_vf = 1

    def _parts(self, obs: th.Tensor, shape: MovementShape) -> dict[str, th.Tensor]:
        m, p, f = shape.movements, shape.phases, MOVEMENT_FEATURES
        n = obs.shape[0]
        at = m * f
        feats = obs[:, :at].reshape(n, m, f)
        member = obs[:, at : at + p * m].reshape(n, p, m)
        at += p * m
        current, t = obs[:, at : at + p], obs[:, at + 2 * p : at + 2 * p + 1]
        context = obs[:, at + 2 * p + 1 : at + 2 * p + 1 + shape.context]
        enc = th.tanh(self.encoder(feats))  # (n, m, h)
        valid = feats[:, :, MOVEMENT_FEATURES - 1 : MOVEMENT_FEATURES]  # (n, m, 1)
        pooled = (enc * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)  # (n, h)
        served = member.sum(dim=2, keepdim=True).clamp(min=1.0)
        phase = th.bmm(member, enc) / served  # (n, p, h): mean over the movements each green serves
        return {"phase": phase, "pooled": pooled, "current": current, "t": t, "context": context}

    def logits(self, obs: th.Tensor, shape: MovementShape | None = None) -> th.Tensor:
        """``(n, phases)`` logits of observations laid out as ``shape`` (default: the training one)."""
        shape = shape or self.shape
        x = self._parts(obs, shape)
        n, p = obs.shape[0], shape.phases
        inputs = [
            x["phase"],
            x["pooled"][:, None, :].expand(n, p, -1),
            x["current"][:, :, None],
            x["t"][:, None, :].expand(n, p, 1),
        ]
        if self.shape.context:
            inputs.append(x["context"][:, None, :].expand(n, p, -1))
        return self.scorer(th.cat(inputs, dim=2))[:, :, 0]

    def values(self, obs: th.Tensor, shape: MovementShape | None = None) -> th.Tensor:
        """``(n, 1)`` state values."""
        x = self._parts(obs, shape or self.shape)
        inputs = [x["pooled"]] + ([x["context"]] if self.shape.context else [])
        return self.value_net(th.cat(inputs, dim=1))

    def forward(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        return self.logits(features), self.values(features)

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        return self.logits(features)

    def forward_critic(self, features: th.Tensor) -> th.Tensor:
        return self.values(features)


class PhaseCompetitionPolicy(MaskableActorCriticPolicy):
    """MaskablePPO's actor-critic with :class:`PhaseCompetition` as its whole network: the
    extractor's outputs are the logits and the value (SB3's final linear layers are identities).

    Args:
        movement_shape: the training observations' layout, as a dict of :class:`MovementShape`'s
            fields (kept plain so that saved models load anywhere).
        hidden: width of the movement embedding and of the heads.
    """

    def __init__(self, *args: Any, movement_shape: dict[str, int], hidden: int = 64, **kwargs: Any) -> None:
        self.movement_shape = MovementShape(**movement_shape)
        self.hidden = hidden
        kwargs.pop("net_arch", None)
        super().__init__(*args, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = PhaseCompetition(self.movement_shape, self.hidden)

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()
        self.value_net = nn.Identity()
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(movement_shape=vars(self.movement_shape).copy(), hidden=self.hidden)
        return data
