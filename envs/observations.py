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
from envs.batch import BatchLayout, BatchState, phase_pressures
from envs.state import IntersectionSpec, IntersectionState

MAX_NEIGHBOURS = 4  # neighbours whose summary an agent sees (``neighbour_obs``)


@dataclass(frozen=True)
class ObsDims:
    """Padding sizes shared by all agents of an environment (and by a policy that transfers).

    Attributes:
        max_lanes: incoming lanes per intersection.
        max_phases: green phases per intersection.
        n_actions: size of the action space (the action mask is part of most observations).
        max_neighbours: neighbours whose summary is appended when neighbour features are on.
        max_movements: movements (signal links) per intersection, for the ``movement`` observation.
    """

    max_lanes: int
    max_phases: int
    n_actions: int
    max_neighbours: int = MAX_NEIGHBOURS
    max_movements: int = 0


class Observation(Protocol):
    """The protocol an observation function follows. It may also offer
    ``batch(layout, state, dims) -> (A, size)``: the same vectors for every agent at once from a
    :class:`~envs.batch.BatchState` (the env uses it when present; the built-ins all have one), and
    ``lane_vars``: the lane variables it reads (:data:`envs.connection.LANE_VARS`; without it the
    env reads all of them)."""

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


def _phase_block_batch(state: BatchState, dims: ObsDims, max_green: float) -> np.ndarray:
    """:func:`_phase_block` of every agent: ``(A, max_phases + n_actions + 1)``."""
    n = len(state.phase)
    onehot = np.zeros((n, dims.max_phases), dtype=np.float32)
    onehot[np.arange(n), np.minimum(state.phase, dims.max_phases - 1)] = 1.0
    t = np.clip(state.time_in_green / max_green, 0.0, 1.0).astype(np.float32)[:, None]
    return np.concatenate([onehot, state.action_mask.astype(np.float32), t], axis=1)


def _lanes(x: np.ndarray, dims: ObsDims) -> np.ndarray:
    """A batch lane array ``(A, L)`` cut or zero-padded to ``max_lanes`` columns, as float32."""
    out = np.zeros((x.shape[0], dims.max_lanes), dtype=np.float32)
    n = min(dims.max_lanes, x.shape[1])
    out[:, :n] = x[:, :n]
    return out


@register_observation("default")
class DefaultObservation:
    """Current green (one-hot), which greens are allowed now, time in green, and per incoming lane:
    density (vehicles / jam capacity) and queue (halting vehicles / jam capacity)."""

    max_green: float = 120.0
    lane_vars: tuple[str, ...] = ("count", "halting")  # what it reads of the lane matrix

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

    def batch(self, layout: BatchLayout, state: BatchState, dims: ObsDims) -> np.ndarray:
        cap = layout.in_capacity
        return np.concatenate(
            [
                _phase_block_batch(state, dims, self.max_green),
                _lanes(np.clip(state.in_count / cap, 0.0, 1.0), dims),
                _lanes(np.clip(state.in_halting / cap, 0.0, 1.0), dims),
            ],
            axis=1,
        )


_DEFAULT = DefaultObservation()


@register_observation("approach")
class ApproachObservation:
    """The default observation plus, per incoming lane, the vehicles and the moving vehicles within
    ``approach_zone`` metres of the stop line (over the zone's jam capacity): what a stop-line
    detector tells an actuated controller (a gap in arrivals, a platoon about to reach the line)."""

    max_green: float = 120.0
    lane_vars: tuple[str, ...] = ("count", "halting")  # what it reads of the lane matrix
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

    def batch(self, layout: BatchLayout, state: BatchState, dims: ObsDims) -> np.ndarray:
        near_cap = layout.near_capacity
        return np.concatenate(
            [
                _DEFAULT.batch(layout, state, dims),
                _lanes(np.clip(state.in_near / near_cap, 0.0, 1.0), dims),
                _lanes(np.clip(state.in_near_moving / near_cap, 0.0, 1.0), dims),
            ],
            axis=1,
        )


@register_observation("pressure")
class PressureObservation:
    """Current green, allowed greens, time in green, and the max-pressure weight of each green
    (PressLight, Wei et al. 2019), clipped to [-1, 1]."""

    max_green: float = 120.0
    lane_vars: tuple[str, ...] = ("count", "halting")  # what it reads of the lane matrix

    def size(self, dims: ObsDims) -> int:
        return 2 * dims.max_phases + dims.n_actions + 1

    def __call__(self, spec: IntersectionSpec, state: IntersectionState, dims: ObsDims) -> np.ndarray:
        pressures = np.clip(state.phase_pressures(spec) / max(spec.link_lanes.shape[0], 1) * 4, -1, 1)
        return np.concatenate(
            [_phase_block(spec, state, dims, self.max_green), _pad(pressures, dims.max_phases)]
        )

    def batch(self, layout: BatchLayout, state: BatchState, dims: ObsDims) -> np.ndarray:
        n_links = np.maximum(layout.link_valid.sum(axis=1), 1)[:, None]
        pressures = np.clip(phase_pressures(layout, state) / n_links * 4, -1, 1)
        return np.concatenate(
            [_phase_block_batch(state, dims, self.max_green), pressures.astype(np.float32)], axis=1
        )


@register_observation("queue")
class QueueObservation:
    """Current green, allowed greens, time in green, queue per incoming lane and the downstream
    density of each green phase's exits (to see spillback)."""

    max_green: float = 120.0
    lane_vars: tuple[str, ...] = ("count", "halting")  # what it reads of the lane matrix

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

    def batch(self, layout: BatchLayout, state: BatchState, dims: ObsDims) -> np.ndarray:
        queue = np.clip(state.in_halting / layout.in_capacity, 0.0, 1.0)
        down = np.clip(state.out_count / layout.out_capacity, 0.0, 1.0)
        down = np.where(layout.link_valid, np.take_along_axis(down, layout.link_out, axis=1), 0.0)
        green = layout.green_links.astype(float)
        exit_density = (green @ down[:, :, None])[:, :, 0] / green.sum(axis=2).clip(min=1)
        return np.concatenate(
            [
                _phase_block_batch(state, dims, self.max_green),
                _lanes(queue, dims),
                exit_density.astype(np.float32),
            ],
            axis=1,
        )


#: The ``movement`` observation's features per movement, in order: ``(name, meaning and normalisation)``
#: (also what an exported phase-competition policy's manifest tells ops to feed it).
MOVEMENT_FEATURE_SPEC: tuple[tuple[str, str], ...] = (
    (
        "in_density",
        "vehicles on the incoming lane / its jam capacity (lane length / 7.5 m), clipped to [0, 1]",
    ),
    ("in_queue", "halting vehicles (< 0.1 m/s) on the incoming lane / its jam capacity, clipped to [0, 1]"),
    (
        "near",
        "vehicles within approach_zone m of the stop line / (min(approach_zone, lane length) / 7.5 m), "
        "clipped to [0, 1]",
    ),
    (
        "near_moving",
        "moving vehicles (>= 0.1 m/s) within approach_zone m of the stop line / the same, clipped",
    ),
    ("out_density", "vehicles on the outgoing lane / its jam capacity, clipped to [0, 1]"),
    ("green_now", "1 if the current green serves this movement, else 0"),
    ("real", "1 for a real movement, 0 for a padding row (padding rows are all zero)"),
)
MOVEMENT_FEATURES = len(MOVEMENT_FEATURE_SPEC)  # 7


@register_observation("movement")
class MovementObservation:
    """Per movement (signal link: an incoming lane to an outgoing lane), whatever the junction's
    shape: incoming density and queue, vehicles and moving vehicles in the approach zone, outgoing
    density, whether it has green now, and 1 (a real movement; 0 in padding); then which movements
    each green serves, and the phase block (current green, allowed greens, time in green).

    The layout for a phase-competition policy (FRAP, Zheng et al. 2019; MPLight, Chen et al. 2020):
    ``[movements (max_movements x 7) | membership (max_phases x max_movements) | phase block]``. The
    order of the movements carries no meaning: a policy that embeds each movement with one shared
    network and scores each green from the movements it serves reads any junction, and any padding.
    """

    max_green: float = 120.0
    lane_vars: tuple[str, ...] = ("count", "halting")
    needs_approach: bool = True

    def size(self, dims: ObsDims) -> int:
        m, p = dims.max_movements, dims.max_phases
        return m * MOVEMENT_FEATURES + p * m + p + dims.n_actions + 1

    def __call__(self, spec: IntersectionSpec, state: IntersectionState, dims: ObsDims) -> np.ndarray:
        m, k = dims.max_movements, spec.link_lanes.shape[0]
        i, o = spec.link_lanes[:, 0], spec.link_lanes[:, 1]
        cap, near_cap = spec.in_capacity, spec.near_capacity
        feats = np.zeros((m, MOVEMENT_FEATURES), dtype=np.float32)
        feats[:k, 0] = np.clip(state.in_count / cap, 0.0, 1.0)[i]
        feats[:k, 1] = np.clip(state.in_halting / cap, 0.0, 1.0)[i]
        if state.in_near.size:
            feats[:k, 2] = np.clip(state.in_near / near_cap, 0.0, 1.0)[i]
            feats[:k, 3] = np.clip(state.in_near_moving / near_cap, 0.0, 1.0)[i]
        feats[:k, 4] = np.clip(state.out_count / spec.out_capacity, 0.0, 1.0)[o]
        feats[:k, 5] = spec.green_links[min(state.phase, spec.n_greens - 1)]
        feats[:k, 6] = 1.0
        member = np.zeros((dims.max_phases, m), dtype=np.float32)
        member[: spec.n_greens, :k] = spec.green_links
        return np.concatenate(
            [feats.ravel(), member.ravel(), _phase_block(spec, state, dims, self.max_green)]
        )

    def batch(self, layout: BatchLayout, state: BatchState, dims: ObsDims) -> np.ndarray:
        n, m = len(layout.agents), dims.max_movements
        k = layout.link_in.shape[1]
        valid = layout.link_valid

        def per_link(lanes: np.ndarray, slots: np.ndarray) -> np.ndarray:
            return np.where(valid, np.take_along_axis(lanes, slots, axis=1), 0.0)

        cap, near_cap = layout.in_capacity, layout.near_capacity
        feats = np.zeros((n, m, MOVEMENT_FEATURES), dtype=np.float32)
        feats[:, :k, 0] = per_link(np.clip(state.in_count / cap, 0.0, 1.0), layout.link_in)
        feats[:, :k, 1] = per_link(np.clip(state.in_halting / cap, 0.0, 1.0), layout.link_in)
        if state.in_near.shape[1]:
            feats[:, :k, 2] = per_link(np.clip(state.in_near / near_cap, 0.0, 1.0), layout.link_in)
            feats[:, :k, 3] = per_link(np.clip(state.in_near_moving / near_cap, 0.0, 1.0), layout.link_in)
        down = np.clip(state.out_count / layout.out_capacity, 0.0, 1.0)
        feats[:, :k, 4] = per_link(down, layout.link_out)
        current = np.minimum(state.phase, layout.n_greens - 1)
        feats[:, :k, 5] = layout.green_links[np.arange(n), current]
        feats[:, :k, 6] = valid
        member = np.zeros((n, dims.max_phases, m), dtype=np.float32)
        member[:, :, :k] = layout.green_links
        return np.concatenate(
            [feats.reshape(n, -1), member.reshape(n, -1), _phase_block_batch(state, dims, self.max_green)],
            axis=1,
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
