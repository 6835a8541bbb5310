"""Observation functions, registered by name.

An observation function maps one intersection's static spec and per-step snapshot to a flat
``float32`` vector of a fixed size. Sizes are padded to ``ObsDims`` (the largest lane and phase counts
the policy supports), so one shared policy can drive intersections with different layouts; padded
entries are zero. Register your own with :func:`register_observation`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.registry import Registry
from envs.state import IntersectionSpec, IntersectionState


@dataclass(frozen=True)
class ObsDims:
    """Padding sizes shared by all agents of an environment (and by a policy that transfers).

    Attributes:
        max_lanes: incoming lanes per intersection.
        max_phases: green phases per intersection.
        n_actions: size of the action space (the action mask is part of most observations).
        max_neighbours: neighbours whose summary is appended when neighbour features are on.
    """

    max_lanes: int
    max_phases: int
    n_actions: int
    max_neighbours: int = 4


class Observation(Protocol):
    """The protocol an observation function follows."""

    def size(self, dims: ObsDims) -> int:
        """Length of the vector."""

    def __call__(self, spec: IntersectionSpec, state: IntersectionState, dims: ObsDims) -> np.ndarray:
        """Compute the vector."""


OBSERVATIONS: Registry[Callable[[], Observation]] = Registry("observation")
register_observation = OBSERVATIONS.register  # class decorator: @register_observation("name")
observation_names = OBSERVATIONS.names


def make_observation(name: str) -> Observation:
    """Instantiate the observation registered as ``name``.

    Raises:
        ConfigError: no observation has that name.
    """
    return OBSERVATIONS.get(name)()


def _pad(values: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=np.float32)
    n = min(size, values.shape[0])
    out[:n] = values[:n]
    return out


def _phase_block(
    spec: IntersectionSpec, state: IntersectionState, dims: ObsDims, max_green: float
) -> np.ndarray:
    onehot = np.zeros(dims.max_phases, dtype=np.float32)
    onehot[min(state.phase, dims.max_phases - 1)] = 1.0
    mask = _pad(state.action_mask.astype(np.float32), dims.n_actions)
    t = np.float32(np.clip(state.time_in_green / max_green, 0.0, 1.0))
    return np.concatenate([onehot, mask, [t]]).astype(np.float32)


@register_observation("default")
class DefaultObservation:
    """Current green (one-hot), which greens are allowed now, time in green, and per incoming lane:
    density (vehicles / jam capacity) and queue (halting vehicles / jam capacity)."""

    max_green: float = 120.0

    def size(self, dims: ObsDims) -> int:
        return dims.max_phases + dims.n_actions + 1 + 2 * dims.max_lanes

    def __call__(self, spec: IntersectionSpec, state: IntersectionState, dims: ObsDims) -> np.ndarray:
        cap = spec.in_capacity
        density = np.clip(state.in_count / cap, 0.0, 1.0)
        queue = np.clip(state.in_halting / cap, 0.0, 1.0)
        return np.concatenate(
            [
                _phase_block(spec, state, dims, self.max_green),
                _pad(density, dims.max_lanes),
                _pad(queue, dims.max_lanes),
            ]
        )


_DEFAULT = DefaultObservation()


@register_observation("approach")
class ApproachObservation:
    """The default observation plus, per incoming lane, the vehicles and the moving vehicles within
    ``approach_zone`` metres of the stop line (over the zone's jam capacity): what a stop-line
    detector tells an actuated controller (a gap in arrivals, a platoon about to reach the line)."""

    max_green: float = 120.0
    needs_approach: bool = True

    def size(self, dims: ObsDims) -> int:
        return dims.max_phases + dims.n_actions + 1 + 4 * dims.max_lanes

    def __call__(self, spec: IntersectionSpec, state: IntersectionState, dims: ObsDims) -> np.ndarray:
        near_cap = spec.near_capacity
        near = np.clip(state.in_near / near_cap, 0.0, 1.0) if state.in_near.size else np.zeros(0)
        moving = (
            np.clip(state.in_near_moving / near_cap, 0.0, 1.0) if state.in_near_moving.size else np.zeros(0)
        )
        return np.concatenate(
            [_DEFAULT(spec, state, dims), _pad(near, dims.max_lanes), _pad(moving, dims.max_lanes)]
        )


@register_observation("pressure")
class PressureObservation:
    """Current green, allowed greens, time in green, and the max-pressure weight of each green
    (PressLight, Wei et al. 2019), clipped to [-1, 1]."""

    max_green: float = 120.0

    def size(self, dims: ObsDims) -> int:
        return 2 * dims.max_phases + dims.n_actions + 1

    def __call__(self, spec: IntersectionSpec, state: IntersectionState, dims: ObsDims) -> np.ndarray:
        pressures = np.clip(state.phase_pressures(spec) / max(spec.link_lanes.shape[0], 1) * 4, -1, 1)
        return np.concatenate(
            [_phase_block(spec, state, dims, self.max_green), _pad(pressures, dims.max_phases)]
        )


@register_observation("queue")
class QueueObservation:
    """Current green, allowed greens, time in green, queue per incoming lane and the downstream
    density of each green phase's exits (to see spillback)."""

    max_green: float = 120.0

    def size(self, dims: ObsDims) -> int:
        return 2 * dims.max_phases + dims.n_actions + 1 + dims.max_lanes

    def __call__(self, spec: IntersectionSpec, state: IntersectionState, dims: ObsDims) -> np.ndarray:
        queue = np.clip(state.in_halting / spec.in_capacity, 0.0, 1.0)
        down = np.clip(state.out_count / spec.out_capacity, 0.0, 1.0)[spec.link_lanes[:, 1]]
        n_links = spec.green_links.sum(axis=1).clip(min=1)
        exit_density = (spec.green_links.astype(float) @ down) / n_links
        return np.concatenate(
            [
                _phase_block(spec, state, dims, self.max_green),
                _pad(queue, dims.max_lanes),
                _pad(exit_density, dims.max_phases),
            ]
        )


def neighbour_summary(spec: IntersectionSpec, state: IntersectionState) -> np.ndarray:
    """Two numbers describing an intersection to its neighbours: mean density and mean queue of its
    incoming lanes."""
    cap = spec.in_capacity
    return np.array(
        [np.mean(np.clip(state.in_count / cap, 0, 1)), np.mean(np.clip(state.in_halting / cap, 0, 1))],
        dtype=np.float32,
    )


NEIGHBOUR_FEATURES = 2
