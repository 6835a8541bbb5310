"""Reward functions, registered by name.

A reward function maps one intersection's spec, its snapshot now and its previous snapshot (the one
at the last decision) to a float. All rewards are "higher is better". Register your own with
:func:`register_reward`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.registry import Registry
from envs.state import IntersectionSpec, IntersectionState

RewardFn = Callable[[IntersectionSpec, IntersectionState, IntersectionState], float]
REWARDS: Registry[RewardFn] = Registry("reward")
register_reward = REWARDS.register  # decorator: @register_reward("name")
make_reward = REWARDS.get
reward_names = REWARDS.names


@register_reward("queue")
def queue_reward(spec: IntersectionSpec, now: IntersectionState, prev: IntersectionState) -> float:
    """Minus the number of halting vehicles on the approaches."""
    return -float(np.sum(now.in_halting))


@register_reward("pressure")
def pressure_reward(spec: IntersectionSpec, now: IntersectionState, prev: IntersectionState) -> float:
    """Minus the intersection pressure |vehicles in - vehicles out| (PressLight, Wei et al. 2019)."""
    return -abs(float(np.sum(now.in_count)) - float(np.sum(now.out_count)))


@register_reward("wait_change")
def wait_change_reward(spec: IntersectionSpec, now: IntersectionState, prev: IntersectionState) -> float:
    """Decrease of the accumulated waiting time on the approaches since the last decision (seconds/100)."""
    return (float(np.sum(prev.in_waiting)) - float(np.sum(now.in_waiting))) / 100.0


@register_reward("delay")
def delay_reward(spec: IntersectionSpec, now: IntersectionState, prev: IntersectionState) -> float:
    """Minus the approach delay rate: sum over incoming lanes of vehicles * (1 - speed / limit)."""
    return -now.delay(spec)
