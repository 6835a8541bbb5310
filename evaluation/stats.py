"""Means and 95% confidence intervals (Student's t), and paired differences between controllers.

Episodes of different controllers share seeds (the same realised demand), so a controller is
compared with the reference through the per-seed differences: a paired t-interval, much tighter
than comparing two independent means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# Two-sided 95% quantiles t_{0.975, df} (no scipy dependency); beyond 30 df interpolated to 1.96.
_T975 = [
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
]
_T975_TAIL = [(40, 2.021), (60, 2.000), (120, 1.980)]


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (for two-sided 95% CIs)."""
    if df < 1:
        return math.nan
    if df <= 30:
        return _T975[df - 1]
    prev_df, prev_t = 30, _T975[-1]
    for d, t in _T975_TAIL:
        if df <= d:
            return prev_t + (t - prev_t) * (df - prev_df) / (d - prev_df)
        prev_df, prev_t = d, t
    return 1.96


def mean_ci(values: Sequence[float]) -> tuple[float, float, int]:
    """``(mean, half-width of the 95% CI, n)``; the half-width is NaN for fewer than 2 values."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, 0
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan, n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, t975(n - 1) * math.sqrt(var / n), n


def paired_diff(values: dict[int, float], reference: dict[int, float]) -> tuple[float, float, int]:
    """Mean and 95% CI half-width of ``values - reference`` over the seeds both have."""
    seeds = sorted(set(values) & set(reference))
    return mean_ci([values[s] - reference[s] for s in seeds])
