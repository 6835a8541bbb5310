"""Reward functions, registered by name.

A reward function maps one intersection's spec, its snapshot now and its previous snapshot (the one
at the last decision) to a float. All rewards are "higher is better". Register your own with
:func:`register_reward`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from core.errors import ConfigError
from core.registry import Registry
from envs.batch import BatchLayout, BatchState
from envs.connection import LANE_VARS
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


# ---------------------------------------------------------------------------- low-carbon terms (issue 18)
def _co2_batch(layout: BatchLayout, now: BatchState, prev: BatchState) -> np.ndarray:
    return -now.in_co2.sum(axis=1) / 1000.0 if now.in_co2.shape[1] else np.zeros(len(layout.agents))


@register_reward("co2")
@batch_form(_co2_batch, reads=("co2",))
def co2_reward(spec: IntersectionSpec, now: IntersectionState, prev: IntersectionState) -> float:
    """Minus the CO2 emission rate of the vehicles on the approaches (g/s; SUMO's emission model of
    each vehicle, summed per incoming lane by SUMO: ``lane.getCO2Emission``). Idling vehicles emit
    too, so a queue at red costs CO2 as well as delay; stop-and-go costs more than cruising."""
    return -float(np.sum(now.in_co2)) / 1000.0


def _new_stops(now_halting: np.ndarray, prev_halting: np.ndarray, seconds: float) -> np.ndarray:
    return np.maximum(now_halting - prev_halting, 0.0).sum(axis=-1) / max(seconds, 1e-9)


def _stops_batch(layout: BatchLayout, now: BatchState, prev: BatchState) -> np.ndarray:
    return -_new_stops(now.in_halting, prev.in_halting, now.time - prev.time)


@register_reward("stops")
@batch_form(_stops_batch, reads=("halting",))
def stops_reward(spec: IntersectionSpec, now: IntersectionState, prev: IntersectionState) -> float:
    """Minus the new stops on the approaches per second since the last decision: the growth of each
    incoming lane's halting count, summed over lanes (a lane whose queue shrinks adds nothing). A
    lower bound: a vehicle that stops and leaves again between two decisions is not seen."""
    return -float(_new_stops(now.in_halting, prev.in_halting, now.time - prev.time))


# Reference magnitude of each term: its mean |value| per agent and decision on wuxi-core under the
# gap_out controller (the full hour, validation seed 11, 2-s decisions: `python bench/emissions_cost.py`
# prints them; BENCHMARKS.md). A weighted reward divides each term by its scale, so that every term
# reads about 1 on that reference and the weights read as shares of the reward. Terms without an
# entry are not rescaled.
TERM_SCALES: dict[str, float] = {"delay": 19.7, "co2": 39.6, "stops": 0.61}


class WeightedReward:
    """A weighted sum of registered reward terms: ``sum_k w_k / sum(w) * term_k / TERM_SCALES[k]``.

    Each term is divided by its reference scale (:data:`TERM_SCALES`) and each weight by the sum
    of the weights, so ``{delay: 1.0, co2: 0.2}`` and ``{delay: 5, co2: 1}`` are the same reward:
    five sixths delay and one sixth CO2, in units where each term is about 1 on the reference.

    Args:
        weights: term name -> weight (registered rewards that have a batch form; weights >= 0 with a
            positive sum; :class:`~envs.config.EnvConfig` checks this and names the field).

    Raises:
        ConfigError: an unknown term, a term without a batch form, or weights that do not sum to
            something positive.
    """

    def __init__(self, weights: Mapping[str, float]) -> None:
        total = float(sum(weights.values()))
        if not weights or not np.isfinite(total) or total <= 0 or min(weights.values()) < 0:
            raise ConfigError(f"env.reward: weights {dict(weights)} must be >= 0 with a positive sum.")
        self.names: tuple[str, ...] = tuple(weights)
        self._fns = [make_reward(name) for name in self.names]
        missing = [n for n, fn in zip(self.names, self._fns) if getattr(fn, "batch", None) is None]
        if missing:
            raise ConfigError(
                f"env.reward.{missing[0]}: a weighted term needs a batch form (envs.rewards.batch_form)."
            )
        self.shares = np.array([weights[n] / total for n in self.names])
        self.scales = np.array([TERM_SCALES.get(n, 1.0) for n in self.names])
        self.lane_vars = tuple(
            dict.fromkeys(v for fn in self._fns for v in getattr(fn, "lane_vars", LANE_VARS))
        )

    def terms(self, layout: BatchLayout, now: BatchState, prev: BatchState) -> np.ndarray:
        """``(A, K)``: every agent's terms, each divided by its scale (columns in :attr:`names` order)."""
        return np.stack([fn.batch(layout, now, prev) for fn in self._fns], axis=1) / self.scales

    def batch(self, layout: BatchLayout, now: BatchState, prev: BatchState) -> np.ndarray:
        """``(A,)``: the weighted sum, ``terms @ shares``."""
        return self.terms(layout, now, prev) @ self.shares

    def __call__(self, spec: IntersectionSpec, now: IntersectionState, prev: IntersectionState) -> float:
        values = np.array([fn(spec, now, prev) for fn in self._fns]) / self.scales
        return float(values @ self.shares)


def build_reward(reward: str | Mapping[str, float]) -> RewardFn:
    """The reward of ``env.reward``: a registered name, or a :class:`WeightedReward` of a mapping."""
    return make_reward(reward) if isinstance(reward, str) else WeightedReward(reward)
