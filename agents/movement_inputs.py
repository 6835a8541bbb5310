"""The inputs of the phase-competition policy, split out of the flat ``movement`` observation.

Torch-free (numpy only), because the ONNX runtime (:mod:`agents.runtime`) reads the same layout
as the training code (:mod:`agents.phase_competition`): :class:`MovementShape` says where each
part sits in an observation vector, :meth:`MovementShape.split` cuts a batch of them (numpy arrays
or torch tensors alike) into :class:`MovementInputs`. All-zero movement rows and all-zero, masked
greens are padding, which the policy ignores (see :mod:`agents.phase_competition`), so junctions of
different sizes may share one padded batch.

Axes: ``N`` agents (junctions), ``M`` movements (signal links) of a junction, ``P`` green phases
(action ``i`` is the junction's ``i``-th green), ``F`` = :data:`~envs.observations.MOVEMENT_FEATURES`,
``C`` context entries (neighbour summaries; 0 without).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.observations import MOVEMENT_FEATURES


@dataclass(frozen=True)
class MovementInputs:
    """One batch of the policy's inputs (numpy arrays, or torch tensors inside the training code).

    Attributes:
        movements: ``(N, M, F)`` per-movement features (:data:`~envs.observations.MOVEMENT_FEATURE_SPEC`).
        served: ``(N, P, M)`` 1 where green ``p`` serves movement ``m``.
        current: ``(N, P)`` one-hot of the current green.
        action_mask: ``(N, P)`` the greens allowed now (bool in the runtime; 0/1 from the observation).
        time_in_green: ``(N, 1)`` seconds in the current green / 120, clipped to [0, 1].
        context: ``(N, C)`` neighbour summaries, or ``None`` for a policy without them.
    """

    movements: Any
    served: Any
    current: Any
    action_mask: Any
    time_in_green: Any
    context: Any = None

    @property
    def n(self) -> int:
        """Agents in the batch."""
        return int(self.movements.shape[0])

    @staticmethod
    def concat(batches: Sequence[MovementInputs]) -> MovementInputs:
        """One batch of batches of the same ``M`` and ``P`` (numpy)."""
        first = vars(batches[0])
        return MovementInputs(
            **{
                f: None if v is None else np.concatenate([getattr(b, f) for b in batches])
                for f, v in first.items()
            }
        )


@dataclass(frozen=True)
class MovementShape:
    """How a ``movement`` observation vector is laid out (the env's padding, not the policy's):
    ``[movements (M x F) | served (P x M) | current (P) | action mask (P) | time in green (1) |
    context (C)]``.

    Attributes:
        movements: movements per agent (``dims.max_movements``).
        phases: greens per agent (``dims.max_phases``; also the number of actions).
        context: trailing entries after the phase block (neighbour summaries; 0 without).
        truth: the vector is followed by a second one of the same layout, the agent's ground truth
            (``env.sensing.critic_truth``: the asymmetric critic reads it, the actor never does).
    """

    movements: int
    phases: int
    context: int = 0
    truth: bool = False

    @property
    def size(self) -> int:
        """Length of one observation vector (the actor's; with ``truth`` the whole is twice this)."""
        m, p = self.movements, self.phases
        return m * MOVEMENT_FEATURES + p * m + 2 * p + 1 + self.context

    def split(self, obs: Any) -> MovementInputs:
        """Cut ``(N, size)`` observations (numpy or torch) into the policy's inputs (views); entries
        after ``size`` (the ground-truth copy) are not read."""
        m, p, f = self.movements, self.phases, MOVEMENT_FEATURES
        n = obs.shape[0]
        at = m * f
        feats = obs[:, :at].reshape(n, m, f)
        served = obs[:, at : at + p * m].reshape(n, p, m)
        at += p * m
        end = at + 2 * p + 1
        context = obs[:, end : end + self.context] if self.context else None
        return MovementInputs(
            movements=feats,
            served=served,
            current=obs[:, at : at + p],
            action_mask=obs[:, at + p : at + 2 * p],
            time_in_green=obs[:, at + 2 * p : end],
            context=context,
        )

    def split_truth(self, obs: Any) -> MovementInputs:
        """The ground-truth copy of ``truth`` observations (the asymmetric critic's inputs); the
        observations themselves without ``truth``."""
        return self.split(obs[:, self.size : 2 * self.size] if self.truth else obs)
