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

from typing import Any

import torch as th
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from torch import nn

from agents.movement_inputs import MovementInputs, MovementShape
from envs.observations import MOVEMENT_FEATURES

# MovementShape lives in the torch-free agents.movement_inputs (the ONNX runtime reads it too)
__all__ = ["MovementShape", "PhaseCompetition", "PhaseCompetitionPolicy", "greedy_green"]


#: logits this close to the best count as a tie (float32 rounding is ~1e-7 at these magnitudes)
TIE_TOLERANCE = 1e-5


def greedy_green(masked_logits: th.Tensor) -> th.Tensor:
    """``(n,)`` the deterministic policy's choice: the first green whose logit is within
    :data:`TIE_TOLERANCE` of the best (masked greens must score far below).

    Greens that serve alike-looking movements (empty approaches, say) score the same up to float
    rounding, and the rounding differs between PyTorch and onnxruntime: a plain arg-max would then
    pick the green by noise, and the exported file would decide otherwise than the trained policy.
    The ONNX graph (:mod:`agents.export_generalist`) and ``ppo:RUN`` both use this rule.
    """
    best = masked_logits.max(dim=1, keepdim=True).values
    near = (masked_logits >= best - TIE_TOLERANCE).to(masked_logits.dtype)
    return th.argmax(near, dim=1)  # the first of the maxima (ONNX ArgMax: select_last_index=0)


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

    def embed(self, movements: th.Tensor, served: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """``(phase (n, p, h), pooled (n, h))``: each green's mean movement embedding, and the mean
        over the junction's real movements (the ``real`` feature marks them)."""
        enc = th.tanh(self.encoder(movements))  # (n, m, h)
        valid = movements[:, :, MOVEMENT_FEATURES - 1 : MOVEMENT_FEATURES]  # (n, m, 1)
        pooled = (enc * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)  # (n, h)
        count = served.sum(dim=2, keepdim=True).clamp(min=1.0)
        phase = th.bmm(served, enc) / count  # (n, p, h): mean over the movements each green serves
        return phase, pooled

    def score(self, x: MovementInputs) -> th.Tensor:
        """``(n, p)`` logits from split inputs of any ``m`` and ``p`` (sizes are read from the
        tensors, so a traced graph keeps them dynamic: the ONNX export)."""
        phase, pooled = self.embed(x.movements, x.served)
        p = x.served.shape[1]
        inputs = [
            phase,
            pooled[:, None, :].expand(-1, p, -1),
            x.current[:, :, None],
            x.time_in_green[:, None, :].expand(-1, p, -1),
        ]
        if self.shape.context:
            inputs.append(x.context[:, None, :].expand(-1, p, -1))
        return self.scorer(th.cat(inputs, dim=2))[:, :, 0]

    def logits(self, obs: th.Tensor, shape: MovementShape | None = None) -> th.Tensor:
        """``(n, phases)`` logits of observations laid out as ``shape`` (default: the training one)."""
        return self.score((shape or self.shape).split(obs))

    def values(self, obs: th.Tensor, shape: MovementShape | None = None) -> th.Tensor:
        """``(n, 1)`` state values (from the ground-truth copy when the layout has one)."""
        x = (shape or self.shape).split_truth(obs)
        _, pooled = self.embed(x.movements, x.served)
        inputs = [pooled] + ([x.context] if self.shape.context else [])
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
