"""Sensing models: what the observation and the heuristics know of the traffic.

The env reads one lane matrix per decision (rows: lanes; columns: count, halting, occupancy in %,
mean speed, waiting time; :meth:`envs.connection.SumoConnection.lane_matrix`) and, for the approach
observations and ``gap_out``, per incoming lane the vehicles and the moving vehicles within
``approach_zone`` of the stop line. That is ground truth: SUMO's lane sensors see every vehicle. A
sensing model turns it into what a signal would know in the field, in one place, so every
observation keeps its layout (a policy can be evaluated under each model) and the heuristics
(``gap_out``, ``max_pressure``, ...) read the same data as the policy. Rewards, the info's metrics
and the evaluation's measurements stay on ground truth.

* ``detectors``: the lane sensors as they are (the default; nothing changes).
* ``connected``: only equipped vehicles report (C-V2X): their lane, position, speed and waiting
  time (:meth:`~envs.connection.SumoConnection.lane_vehicle_ids` and ``vehicle_states``). A share
  ``p`` (the penetration) of the vehicles is equipped; each vehicle's draw is a hash of its id and
  the seeds (:func:`unit_hash`), so the same seeds equip the same vehicles, in any process and
  order, and a vehicle equipped at ``p`` is also equipped at every larger ``p`` (the sweep's sets are
  nested). Buses, taxis, ...: ``type_penetration`` per vehicle type.
* ``hybrid``: stop-line detectors (the approach zones, every vehicle) plus connected data: lane
  counts and queues are the connected estimate, but never below what the stop-line detector counts.

**Estimator of the unequipped traffic** (``estimator``):

* ``none``: the equipped vehicles' counts, queues and waiting times as they are;
* ``scale``: each divided by ``p`` (unbiased when equipping is independent of the lane);
* ``queue_tail``: ``scale``, and a lane's queue at least the jam slots between the stop line and
  the farthest halted equipped vehicle (every slot ahead of a halted car is taken: the probe-based
  queue estimate of Comert & Cetin 2009, without its correction for the unequipped behind the tail).

Mean speed is the equipped vehicles' mean (the speed limit on a lane without one, as SUMO reports
an empty lane); occupancy assumes :data:`~envs.state.VEHICLE_SPACE_M` minus the 2.5-m gap per
estimated vehicle. Message ``latency`` (the readings of ``latency`` s ago, in whole decisions),
``drop_rate`` (each vehicle's message of a decision lost) and ``position_noise`` (Gaussian, m)
apply before the estimator; their draws come from a generator seeded by the episode.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from envs.config import SensingConfig
from envs.state import VEHICLE_SPACE_M, IntersectionSpec
from envs.zones import HALTING_SPEED

VEHICLE_LENGTH_M = VEHICLE_SPACE_M - 2.5  # SUMO's default passenger car (5 m + 2.5 m min gap)


def unit_hash(salt: str, vehicle_id: str) -> float:
    """A number in [0, 1) fixed by ``salt`` and ``vehicle_id`` (blake2b; Python's ``hash`` is salted
    per process, so it would equip other vehicles in every worker)."""
    digest = hashlib.blake2b(f"{salt}\x1f{vehicle_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class Readings:
    """One decision's messages of the equipped vehicles (arrays over vehicles).

    Attributes:
        rows: lane-matrix row of each vehicle's lane.
        pos: position along the lane (m from its start; the stop line is at the lane's length).
        speed: speed (m/s).
        waiting: waiting time (s).
    """

    rows: np.ndarray
    pos: np.ndarray
    speed: np.ndarray
    waiting: np.ndarray

    @classmethod
    def empty(cls) -> Readings:
        z = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), z, z, z)


@dataclass(frozen=True)
class Sensed:
    """What the observation sees: the lane matrix and the approach-zone counts (rows as the env's)."""

    lanes: np.ndarray
    near: np.ndarray
    moving: np.ndarray


class Sensing:
    """A sensing model over the env's lane rows (see the module docstring).

    Args:
        config: the model and its options.
        specs: the intersections (their incoming lanes' lengths and speed limits).
        lane_rows: each lane's row in the env's lane matrix (incoming and outgoing lanes).
        lane_lengths: length (m) of each lane, by id (the outgoing lanes' too).
        approach_zone: metres before the stop line of the approach zones (0: not measured).
        delta_time: seconds between decisions (turns ``latency`` into decisions).
    """

    def __init__(
        self,
        config: SensingConfig,
        specs: Iterable[IntersectionSpec],
        lane_rows: Mapping[str, int],
        lane_lengths: Mapping[str, float],
        approach_zone: float,
        delta_time: float,
    ) -> None:
        self.config = config
        n = len(lane_rows)
        self._length = np.ones(n)
        self._vmax = np.ones(n)
        self._zone_start = np.full(n, np.inf)  # only incoming lanes have a zone
        for lane, row in lane_rows.items():
            self._length[row] = max(lane_lengths[lane], 1.0)
        for s in specs:
            for lane, length, vmax in zip(s.in_lanes, s.in_length, s.in_max_speed):
                row = lane_rows[lane]
                self._vmax[row] = vmax
                if approach_zone > 0:
                    self._zone_start[row] = max(length - approach_zone, 0.0)
        self._capacity = np.maximum(self._length / VEHICLE_SPACE_M, 1.0)
        self._lag = int(round(config.latency / delta_time)) if config.latency > 0 else 0
        self._history: deque[Readings] = deque(maxlen=self._lag + 1)
        self._equipped: dict[str, bool] = {}
        self._salt = f"{config.seed}"
        self._rng = np.random.default_rng()
        self.penetration = config.penetration

    @property
    def active(self) -> bool:
        """Whether the observation differs from the lane sensors (model other than ``detectors``)."""
        return self.config.model != "detectors"

    def reset(self, episode_seed: int) -> None:
        """Start an episode: the equipped draw's salt, the penetration (drawn from
        ``penetration_range`` if set) and the noise generator all follow ``episode_seed``."""
        c = self.config
        self._salt = f"{c.seed}:{episode_seed}"
        self._rng = np.random.default_rng([c.seed & 0xFFFFFFFF, episode_seed & 0xFFFFFFFF, 0x5E45])
        if c.penetration_range is not None:
            self.penetration = float(self._rng.uniform(*c.penetration_range))
        else:
            self.penetration = c.penetration
        self._equipped = {}
        self._history.clear()

    def is_equipped(self, vehicle_id: str, vehicle_type: str | None = None) -> bool:
        """Whether ``vehicle_id`` is equipped this episode (fixed for the episode once drawn)."""
        known = self._equipped.get(vehicle_id)
        if known is None:
            p = (
                self.config.type_penetration.get(vehicle_type, self.penetration)
                if vehicle_type
                else self.penetration
            )
            known = self._equipped[vehicle_id] = unit_hash(self._salt, vehicle_id) < p
        return known

    def equipped_ids(
        self, conn: object, lane_ids: Sequence[tuple[int, Sequence[str]]]
    ) -> tuple[list[int], list[str]]:
        """The equipped vehicles among ``(row, ids)`` lists: their rows and ids (types read once
        per new vehicle, only when ``type_penetration`` is set)."""
        typed = bool(self.config.type_penetration)
        rows: list[int] = []
        ids: list[str] = []
        cache = self._equipped
        for row, vehicles in lane_ids:
            for v in vehicles:
                eq = cache.get(v)
                if eq is None:
                    eq = self.is_equipped(v, conn.vehicle_type(v) if typed else None)  # type: ignore[attr-defined]
                if eq:
                    rows.append(row)
                    ids.append(v)
        return rows, ids

    def read(self, conn: object) -> Readings:
        """This decision's messages from the equipped vehicles (after drops, noise and latency)."""
        rows, ids = self.equipped_ids(conn, conn.lane_vehicle_ids())  # type: ignore[attr-defined]
        c = self.config
        if c.drop_rate > 0 and ids:
            keep = self._rng.random(len(ids)) >= c.drop_rate
            rows = [r for r, k in zip(rows, keep) if k]
            ids = [v for v, k in zip(ids, keep) if k]
        if ids:
            states = conn.vehicle_states(ids)  # type: ignore[attr-defined]
            r = np.asarray(rows, dtype=np.int64)
            pos = states[:, 0]
            if c.position_noise > 0:
                pos = np.clip(pos + self._rng.normal(0.0, c.position_noise, len(pos)), 0.0, self._length[r])
            now = Readings(r, pos, states[:, 1], states[:, 2])
        else:
            now = Readings.empty()
        self._history.append(now)
        if len(self._history) <= self._lag:  # nothing old enough has arrived yet
            return Readings.empty()
        return self._history[0]

    def estimate(self, readings: Readings, truth: np.ndarray) -> Sensed:
        """The sensed lane matrix and approach-zone counts from the equipped vehicles' messages.

        Args:
            readings: the messages (:meth:`read`).
            truth: the ground-truth lane matrix (only its shape is used).
        """
        n = truth.shape[0]
        r = readings.rows
        halted = readings.speed < HALTING_SPEED
        count = np.bincount(r, minlength=n).astype(float)
        halting = np.bincount(r, weights=halted.astype(float), minlength=n)
        speed_sum = np.bincount(r, weights=readings.speed, minlength=n)
        waiting = np.bincount(r, weights=readings.waiting, minlength=n)
        in_zone = readings.pos >= self._zone_start[r]
        near = np.bincount(r, weights=in_zone.astype(float), minlength=n)
        moving = np.bincount(r, weights=(in_zone & ~halted).astype(float), minlength=n)
        mean_speed = np.where(count > 0, speed_sum / np.maximum(count, 1.0), self._vmax)
        est = self.config.estimator
        if est != "none":
            scale = 1.0 / self.penetration if self.penetration > 0 else 0.0
            count, halting, waiting, near, moving = (
                x * scale for x in (count, halting, waiting, near, moving)
            )
        if est == "queue_tail" and halted.any():
            tail = np.full(n, np.inf)
            np.minimum.at(tail, r[halted], readings.pos[halted])
            has = np.isfinite(tail)
            slots = np.zeros(n)
            slots[has] = np.ceil((self._length[has] - tail[has]) / VEHICLE_SPACE_M)
            halting = np.maximum(halting, np.minimum(slots, self._capacity))
            count = np.maximum(count, halting)
        lanes = np.zeros_like(truth)
        lanes[:, 0] = count
        lanes[:, 1] = halting
        lanes[:, 2] = np.minimum(count * VEHICLE_LENGTH_M / self._length * 100.0, 100.0)
        lanes[:, 3] = mean_speed
        lanes[:, 4] = waiting
        return Sensed(lanes, near, moving)

    def sense(self, conn: object, truth: np.ndarray, near: np.ndarray, moving: np.ndarray) -> Sensed:
        """The observation's data this decision.

        Args:
            conn: the running :class:`~envs.connection.SumoConnection`.
            truth: the ground-truth lane matrix.
            near: ground-truth vehicles in the approach zones per row (the stop-line detectors).
            moving: ground-truth moving vehicles in them.
        """
        if not self.active:
            return Sensed(truth, near, moving)
        sensed = self.estimate(self.read(conn), truth)
        if self.config.model == "hybrid":  # the stop-line detectors see every vehicle in the zone
            lanes = sensed.lanes
            lanes[:, 0] = np.maximum(lanes[:, 0], near)
            lanes[:, 1] = np.maximum(lanes[:, 1], near - moving)
            return Sensed(lanes, near, moving)
        return sensed

    def keep_equipped(self, vehicles: Iterable[tuple]) -> list[tuple]:
        """The entries of equipped vehicles among ``(vehicle id, ...)`` tuples (the time-loss
        detectors' per-vehicle readings under a connected model). Unseen vehicles use the
        penetration without their type."""
        if not self.active:
            return list(vehicles)
        return [v for v in vehicles if self.is_equipped(v[0])]
