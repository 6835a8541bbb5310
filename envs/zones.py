"""Per-vehicle sensing near the stop lines: approach zones and time-loss detectors.

Both read the vehicles around each controlled junction from one context subscription per junction
(:meth:`envs.connection.SumoConnection.approach_vehicles` / ``approach_time_losses``) and count them
per incoming lane, as rows of the env's lane matrix:

* **approach zones** (``approach`` and ``movement`` observations, the ``gap_out`` controller): the
  vehicles, and the moving vehicles, within ``approach_zone`` metres of the stop line: what a
  stop-line detector tells an actuated controller;
* **time-loss detectors** (``detector_range``, the ``time_loss`` controller): the vehicles within
  range, and the seconds the farthest *delayed* one (more than ``min_time_loss`` of time loss since
  it entered the range) needs at the speed limit to reach the stop line, 0 if none: what SUMO's
  ``delay_based`` lane-area detectors measure and the prolongation they propose
  (``MSDelayBasedTrafficLightLogic::proposeProlongation``). A vehicle's entry is the first decision
  that sees it there, so up to ``delta_time`` of its time loss before is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

import numpy as np

from envs.state import IntersectionSpec

HALTING_SPEED = 0.1  # m/s: SUMO's halting threshold


class _Zone(NamedTuple):
    """An incoming lane's approach zone: its row in the lane matrix, and where the zone starts (m)."""

    row: int
    start: float


class _Entry(NamedTuple):
    """Where a vehicle was first seen on a time-loss detector: the lane, and its time loss then (s)."""

    lane: str
    time_loss: float


class _Detector(NamedTuple):
    """An incoming lane's time-loss detector: its row in the lane matrix, where the detector starts,
    the lane's length (m) and its speed limit (m/s)."""

    row: int
    start: float
    length: float
    max_speed: float


class ApproachZones:
    """The approach zones of every incoming lane.

    Args:
        specs: the intersections.
        lane_rows: each lane's row in the env's lane matrix.
        zone: metres before the stop line.
    """

    def __init__(self, specs: Iterable[IntersectionSpec], lane_rows: Mapping[str, int], zone: float) -> None:
        self._zones = {
            lane: _Zone(lane_rows[lane], max(length - zone, 0.0))
            for s in specs
            for lane, length in zip(s.in_lanes, s.in_length)
        }

    def count(
        self, vehicles: Iterable[tuple[str, float, float]], n_rows: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per lane-matrix row: vehicles, and moving vehicles, inside the lane's zone, from
        ``(lane, position, speed)`` of the vehicles around the junctions."""
        near, moving = np.zeros(n_rows), np.zeros(n_rows)
        zones = self._zones
        for lane, pos, speed in vehicles:
            zone = zones.get(lane)
            if zone is not None and pos >= zone.start:
                near[zone.row] += 1.0
                if speed >= HALTING_SPEED:
                    moving[zone.row] += 1.0
        return near, moving


class TimeLossDetectors:
    """The time-loss detectors of every incoming lane, and the vehicles' entries into them (state
    that carries over between decisions: :meth:`reset` at the start of an episode).

    Args:
        specs: the intersections.
        lane_rows: each lane's row in the env's lane matrix.
        detector_range: metres before the stop line.
        min_time_loss: seconds of time loss since entering that make a vehicle delayed.
    """

    def __init__(
        self,
        specs: Iterable[IntersectionSpec],
        lane_rows: Mapping[str, int],
        detector_range: float,
        min_time_loss: float,
    ) -> None:
        self._detectors = {
            lane: _Detector(lane_rows[lane], max(length - detector_range, 0.0), length, max(vmax, 0.1))
            for s in specs
            for lane, length, vmax in zip(s.in_lanes, s.in_length, s.in_max_speed)
        }
        self.min_time_loss = min_time_loss
        self._entries: dict[str, _Entry] = {}  # vehicle -> where it entered a detector

    def reset(self) -> None:
        """Forget the entries of the previous episode."""
        self._entries = {}

    def read(
        self, vehicles: Iterable[tuple[str, str, float, float]], n_rows: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per lane-matrix row: vehicles in range, and the delayed one's time to the stop line, from
        ``(vehicle, lane, position, time loss)`` of the vehicles around the junctions."""
        detected, eta = np.zeros(n_rows), np.zeros(n_rows)
        detectors, before, now = self._detectors, self._entries, {}
        threshold = self.min_time_loss
        for vid, lane, pos, time_loss in vehicles:
            det = detectors.get(lane)
            if det is None or pos < det.start:
                continue
            seen = before.get(vid)
            base = seen.time_loss if seen is not None and seen.lane == lane else time_loss
            now[vid] = _Entry(lane, base)
            detected[det.row] += 1.0
            if time_loss - base > threshold:
                eta[det.row] = max(eta[det.row], (det.length - pos) / det.max_speed)
        self._entries = now
        return detected, eta
