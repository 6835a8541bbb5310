"""Offsets for two-way progression along a chain of signals with a common cycle (a green wave).

The through band of a direction is the longest window of times at which a vehicle that passes the
first signal of that direction, driving at the progression speed, passes every following signal on
green. Offsets are chosen to maximise the flow-weighted sum of the two directions' bands: the
objective of MAXBAND (Little, J.D.C. (1966), "The synchronization of traffic signals by mixed-integer
linear programming", Operations Research 14(4)), here solved on a 1-s grid by coordinate descent
from the one-way ideal solutions instead of by MILP: a chain of ten signals takes milliseconds.

With demand in one direction only, that direction gets the full band (the shortest of its greens);
with demand both ways, the compromise is the one that maximises the vehicles carried in the bands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChainProblem:
    """A chain of signals to coordinate, first to last in the *forward* direction.

    Attributes:
        cycle: the common cycle (s, whole seconds).
        forward_green: per signal, a boolean array of ``cycle`` entries: second ``k`` of the
            signal's cycle (from the start of its phase 0) gives the forward through movement green.
        backward_green: the same for the backward (last-to-first) through movement.
        forward_travel: travel time (s) from signal ``i`` to ``i + 1``, for ``i < n - 1``.
        backward_travel: travel time (s) from signal ``i + 1`` to ``i``.
        forward_weight: forward arterial flow (veh/h): how much a forward band second is worth.
        backward_weight: the same for the backward direction.
    """

    cycle: int
    forward_green: Sequence[np.ndarray]
    backward_green: Sequence[np.ndarray]
    forward_travel: Sequence[float]
    backward_travel: Sequence[float]
    forward_weight: float
    backward_weight: float

    @property
    def size(self) -> int:
        return len(self.forward_green)


@dataclass(frozen=True)
class Bands:
    """Offsets (start of each signal's phase 0, s mod cycle; the first is 0) and the resulting
    through bands (s) of each direction."""

    offsets: tuple[int, ...]
    forward: int
    backward: int


def longest_run(mask: np.ndarray) -> int:
    """Longest circular run of ``True`` in ``mask``."""
    if mask.all():
        return int(mask.size)
    if not mask.any():
        return 0
    m = np.roll(mask, -int(np.argmin(mask))).astype(np.int8)  # starts with a False
    edges = np.diff(np.concatenate(([0], m, [0])))
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


def _arrivals(travel: Sequence[float]) -> np.ndarray:
    """Cumulative travel time (whole seconds) from the first signal of a direction to each one."""
    return np.rint(np.concatenate(([0.0], np.cumsum(travel)))).astype(int)


def _passes(green: np.ndarray, arrive: int, offset: int, cycle: int) -> np.ndarray:
    """Per time ``tau`` (mod cycle) at which a vehicle passes the direction's first signal: does it
    meet green at this signal, which it reaches ``arrive`` s later and whose cycle starts at ``offset``."""
    return green[(np.arange(cycle) + arrive - offset) % cycle]


def band_widths(problem: ChainProblem, offsets: Sequence[int]) -> tuple[int, int]:
    """Forward and backward band (s) for the given offsets."""
    c, n = problem.cycle, problem.size
    fwd_t, bwd_t = _arrivals(problem.forward_travel), _arrivals(problem.backward_travel[::-1])
    fwd = np.ones(c, bool)
    bwd = np.ones(c, bool)
    for i in range(n):
        fwd &= _passes(problem.forward_green[i], int(fwd_t[i]), offsets[i], c)
        bwd &= _passes(problem.backward_green[i], int(bwd_t[n - 1 - i]), offsets[i], c)
    return longest_run(fwd), longest_run(bwd)


def _green_start(green: np.ndarray) -> int:
    """Second of the cycle at which the longest green window starts."""
    if green.all() or not green.any():
        return 0
    shift = int(np.argmin(green))  # a red second: windows do not wrap after rolling to it
    m = np.roll(green, -shift).astype(np.int8)
    edges = np.diff(np.concatenate(([0], m, [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int(starts[int(np.argmax(ends - starts))] + shift) % green.size


def _ideal(problem: ChainProblem, forward: bool) -> list[int]:
    """Offsets giving one direction a full band: each green starts when the platoon arrives."""
    c, n = problem.cycle, problem.size
    if forward:
        t, greens = _arrivals(problem.forward_travel), problem.forward_green
    else:
        t, greens = _arrivals(problem.backward_travel[::-1])[::-1], problem.backward_green
    raw = [int(t[i] - _green_start(greens[i])) % c for i in range(n)]  # relative to ``first``
    return [(x - raw[0]) % c for x in raw]


def optimise_offsets(problem: ChainProblem, sweeps: int = 20) -> Bands:
    """Offsets maximising ``w_f * b_f + w_b * b_b`` (a tiny equal weight breaks ties, so a
    direction without demand still gets what band is free); see the module docstring."""
    c, n = problem.cycle, problem.size
    scale = max(problem.forward_weight, problem.backward_weight, 1e-9)
    w_f, w_b = problem.forward_weight / scale, problem.backward_weight / scale

    def score(offsets: Sequence[int]) -> float:
        f, b = band_widths(problem, offsets)
        return w_f * f + w_b * b + 1e-3 * (f + b)

    best: list[int] = [0] * n
    best_score = score(best)
    for start in (_ideal(problem, True), _ideal(problem, False), [0] * n):
        offsets, current = list(start), score(start)
        for _ in range(sweeps):
            improved = False
            for i in range(1, n):
                for theta in range(c):
                    trial = offsets[:i] + [theta] + offsets[i + 1 :]
                    s = score(trial)
                    if s > current + 1e-9:
                        offsets, current, improved = trial, s, True
            if not improved:
                break
        if current > best_score + 1e-9:
            best, best_score = offsets, current
    f, b = band_widths(problem, best)
    return Bands(tuple(best), f, b)
