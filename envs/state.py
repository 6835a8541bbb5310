"""Per-intersection data: the static layout (:class:`IntersectionSpec`) and the per-step snapshot
(:class:`IntersectionState`) that observation and reward functions read.

Both are plain numpy containers, so observations and rewards are pure functions that tests can
drive with hand-made numbers and no simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

VEHICLE_SPACE_M = 7.5  # length of a vehicle plus its gap, used to turn counts into densities


@dataclass(frozen=True)
class IntersectionSpec:
    """Static description of one signalised intersection.

    Attributes:
        tls_id: the traffic light id (also the agent name).
        in_lanes: incoming controlled lanes, in the order of the signal's links.
        out_lanes: outgoing lanes reached through the signal.
        in_length: length of each incoming lane (m).
        in_max_speed: speed limit of each incoming lane (m/s).
        out_length: length of each outgoing lane (m).
        link_lanes: per signal link index, ``(in_lane_index, out_lane_index)``.
        green_links: per green phase, boolean array over links that have right of way.
        neighbours: tls ids of adjacent signalised intersections (sorted).
        approach_zone: metres before the stop line counted as "approaching" (0 = not measured).
    """

    tls_id: str
    in_lanes: tuple[str, ...]
    out_lanes: tuple[str, ...]
    in_length: np.ndarray
    in_max_speed: np.ndarray
    out_length: np.ndarray
    link_lanes: np.ndarray  # shape (n_links, 2), int
    green_links: np.ndarray  # shape (n_greens, n_links), bool
    neighbours: tuple[str, ...] = ()
    approach_zone: float = 0.0

    @property
    def n_greens(self) -> int:
        """Number of green phases."""
        return int(self.green_links.shape[0])

    @cached_property
    def green_lane_matrix(self) -> np.ndarray:
        """Boolean ``(n_greens, n_in_lanes)``: which incoming lanes have right of way in each green."""
        out = np.zeros((self.n_greens, len(self.in_lanes)), dtype=bool)
        for k in range(self.n_greens):
            out[k, self.link_lanes[self.green_links[k], 0]] = True
        return out

    @property
    def in_capacity(self) -> np.ndarray:
        """Vehicles each incoming lane can hold when jammed."""
        return np.maximum(self.in_length / VEHICLE_SPACE_M, 1.0)

    @property
    def near_capacity(self) -> np.ndarray:
        """Vehicles the approach zone of each incoming lane can hold when jammed."""
        return np.maximum(np.minimum(self.approach_zone, self.in_length) / VEHICLE_SPACE_M, 1.0)

    @property
    def out_capacity(self) -> np.ndarray:
        """Vehicles each outgoing lane can hold when jammed."""
        return np.maximum(self.out_length / VEHICLE_SPACE_M, 1.0)


@dataclass
class IntersectionState:
    """What one intersection looks like at one decision time.

    Lane arrays follow ``IntersectionSpec.in_lanes`` / ``out_lanes``. ``in_near`` and
    ``in_near_moving`` (vehicles, and moving vehicles, within ``spec.approach_zone`` of the stop line)
    are filled only for observations that ask for them (``needs_approach``); otherwise empty.
    ``in_detected`` and ``in_delayed_eta`` (vehicles within the env's ``detector_range`` of the stop
    line, and the seconds the farthest of them that has lost more than ``min_time_loss`` since it
    entered that range needs at the speed limit to reach the stop line, 0 if none) are filled only
    when ``detector_range`` is set; otherwise empty. ``in_co2`` (CO2 emitted by the vehicles on
    each incoming lane at the last step, mg/s) is filled only when a reward reads ``co2``.
    """

    time: float
    in_count: np.ndarray
    in_halting: np.ndarray
    in_occupancy: np.ndarray
    in_mean_speed: np.ndarray
    in_waiting: np.ndarray
    out_count: np.ndarray
    phase: int
    time_in_green: float
    action_mask: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    in_near: np.ndarray = field(default_factory=lambda: np.zeros(0))
    in_near_moving: np.ndarray = field(default_factory=lambda: np.zeros(0))
    in_detected: np.ndarray = field(default_factory=lambda: np.zeros(0))
    in_delayed_eta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    in_co2: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def delay(self, spec: IntersectionSpec) -> float:
        """Vehicle-seconds lost per second on the approaches: sum of count * (1 - v / v_max)."""
        ratio = np.clip(self.in_mean_speed / np.maximum(spec.in_max_speed, 0.1), 0.0, 1.0)
        # SUMO reports the speed limit as mean speed on an empty lane: no vehicles, no delay.
        return float(np.sum(self.in_count * (1.0 - ratio)))

    def phase_pressures(self, spec: IntersectionSpec) -> np.ndarray:
        """Max-pressure weight of each green phase (Varaiya 2013): sum over its green movements of
        the upstream minus downstream queue density."""
        up = self.in_count / spec.in_capacity
        down = self.out_count / spec.out_capacity
        movement = up[spec.link_lanes[:, 0]] - down[spec.link_lanes[:, 1]]
        return spec.green_links.astype(float) @ movement
