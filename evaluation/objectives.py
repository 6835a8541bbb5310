"""Weighted objectives over evaluation metrics: model selection by more than delay (issue 18).

A training run whose reward weighs delay against CO2 and stops (``env.reward: {delay: 1.0, co2:
0.2}``) should also *choose* its model by those terms, not by delay alone. The score of a controller
on the validation seeds is

    score = sum_k  w_k / sum(w)  *  metric_k / metric_k(reference)

over the episode metrics of the same terms (:data:`TERM_METRICS`: ``delay`` -> mean delay,
``co2`` -> CO2 per vehicle, ``stops`` -> stops per vehicle, ...), each divided by the reference
controller's value on the same seeds, so that every term reads about 1 and the weights read as
shares (as in the reward, :class:`envs.rewards.WeightedReward`). Lower is better; the reference
itself scores 1. Without a reference (none configured, or its episodes missing) the raw metrics are
summed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from core.errors import ConfigError

TERM_METRICS: dict[str, str] = {
    "delay": "delay",
    "co2": "co2_per_vehicle",
    "stops": "stops",
    "queue": "queue",
    "wait_change": "waiting_time",
}
"""Reward term -> the episode metric (:data:`evaluation.metrics.METRICS`) that scores it."""


def check_weights(weights: Mapping[str, float], where: str) -> dict[str, float]:
    """``weights`` as shares (divided by their sum), checked.

    Raises:
        ConfigError: a term without an evaluation metric, a negative or non-finite weight, or
            weights that do not sum to something positive; the message names ``where.<term>``.
    """
    for name, w in weights.items():
        if name not in TERM_METRICS:
            raise ConfigError(
                f"{where}.{name}: no evaluation metric scores this term; use {', '.join(TERM_METRICS)}."
            )
        if not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise ConfigError(f"{where}.{name}: weight {w!r} must be a finite number >= 0.")
    total = float(sum(weights.values()))
    if total <= 0:
        raise ConfigError(f"{where}: the weights {dict(weights)} must sum to something positive.")
    return {k: float(w) / total for k, w in weights.items()}


def selection_weights(
    selection: Mapping[str, float] | None, reward: str | Mapping[str, float]
) -> dict[str, float] | None:
    """The weights that choose ``best_model.zip``: ``eval.selection`` if set, else the weighted
    reward's terms that have a metric (``env.reward`` as a mapping), else ``None`` (delay alone).

    Raises:
        ConfigError: ``eval.selection`` names a term without a metric, or has bad weights.
    """
    if selection is not None:
        return check_weights(selection, "eval.selection")
    if isinstance(reward, str):
        return None
    scored = {k: w for k, w in reward.items() if k in TERM_METRICS}
    if not scored or sum(scored.values()) <= 0 or set(scored) == {"delay"}:
        return None
    return check_weights(scored, "env.reward")


def weighted_score(
    metrics: Mapping[str, float],
    shares: Mapping[str, float],
    reference: Mapping[str, float] | None = None,
) -> float:
    """``sum_k shares_k * metrics[m_k] / reference[m_k]`` over the terms of ``shares`` (lower is
    better). A reference value of 0 or missing leaves that term unnormalised."""
    total = 0.0
    for term, share in shares.items():
        metric = TERM_METRICS[term]
        value = float(metrics[metric])
        ref = float(reference.get(metric, 0.0)) if reference is not None else 0.0
        total += share * (value / ref if ref > 0 and math.isfinite(ref) else value)
    return total
