"""Reward functions, registered by name.

A reward function maps one intersection's spec, its snapshot now and its previous snapshot (the one
at the last decision) to a float. All rewards are "higher is better". Register your own with
:func:`register_reward`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.registry import Registry
from envs.batch import BatchLayout, BatchState
from envs.state import IntersectionSpec, IntersectionState

RewardFn = Callable[[IntersectionSpec, IntersectionState, IntersectionState], float]
REWARDS: Registry[RewardFn] = Registry("reward")
BatchRewardFn = Callable[[BatchLayout, BatchState, BatchState], np.ndarray]


def batch_form(batch: BatchRewardFn, reads: tuple[str, ...]) -> Callable[[RewardFn], RewardFn]:
    """Attach the all-agents form of a reward, ``batch(layout, now, prev) -> (A,)`` (the env uses it
    when present; it must equal the per-agent function agent by agent), and the lane variables it
    reads (:data:`envs.connection.LANE_VARS`; a reward without ``lane_vars`` gets all of them)."""

    def wrap(fn: RewardFn) -> RewardFn:
        fn.batch = batch  # type: ignore[attr-defined]
        fn.lane_vars = reads  # type: ignore[attr-defined]
        return fn

    return wrap


register_reward = REWARDS.register  # decorator: @register_reward("name")
make_reward = REWARDS.get
reward_names = REWARDS.names


@register_reward("queue")
@batch_form(lambda layout, now, prev: -now.in_halting.sum(axis=1), reads=("halting",))
def queue_reward(spec: IntersectionSpec, now: IntersectionState, prev: IntersectionState) -> float:
    """Minus the number of halting vehicles on the approaches."""
    return -float(np.sum(now.in_halting))


@register_reward("pressure")
@batch_form(
    lambda layout, now, prev: -np.abs(now.in_count.sum(axis=1) - now.out_count.sum(axis=1)), reads=("count",)
)
def pressure_reward(spec: IntersectionSpec, now: IntersectionState, prev: IntersectionState) -> float:
    """Minus the intersection pressure |vehicles in - vehicles out| (PressLight, Wei et al. 2019)."""
    return -abs(float(np.sum(now.in_count)) - float(np.sum(now.out_count)))


@register_reward("wait_change")
@batch_form(
    lambda layout, now, prev: (prev.in_waiting.sum(axis=1) - now.in_waiting.sum(axis=1)) / 100.0,
    reads=("waiting",),
)
def wait_change_reward(spec: IntersectionSpec, now: IntersectionState, prev: IntersectionState) -> float:
    """Decrease of the accumulated waiting time on the approaches since the last decision (seconds/100)."""
    return (float(np.sum(prev.in_waiting)) - float(np.sum(now.in_waiting))) / 100.0


def _delay_batch(layout: BatchLayout, now: BatchState, prev: BatchState) -> np.ndarray:
    ratio = np.clip(now.in_mean_speed / np.maximum(layout.in_max_speed, 0.1), 0.0, 1.0)
    return -np.sum(now.in_count * (1.0 - ratio), axis=1)


@register_reward("delay")
@batch_form(_delay_batch, reads=("count", "mean_speed"))
def delay_reward(spec: IntersectionSpec, now: IntersectionState, prev: IntersectionState) -> float:
    """Minus the approach delay rate: sum over incoming lanes of vehicles * (1 - speed / limit)."""
    return -now.delay(spec)
