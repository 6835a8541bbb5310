"""Risk alerts for a control room, computed from one sample of the network at a time.

Pure Python and numpy (no SUMO): :class:`AlertEngine` takes an :class:`AlertInput` (what the
detectors of the signalised approaches and the network counters say at one time) and returns which
alerts were raised, which are active and which cleared. Tests drive it with hand-made numbers.

Rules (thresholds in :class:`~evaluation.twin.config.AlertConfig`):

* ``spillback``: an incoming lane whose halting vehicles fill most of its length: its queue is
  about to reach, and block, the upstream junction (the way a local jam spreads into a gridlock).
* ``gridlock``: a junction whose approaches hold vehicles of which none has moved for a while.
* ``starvation``: the ``max_red`` guard fired (a red phase's queue waited ``max_red`` seconds), or
  a green phase with halting vehicles has not been served for long.
* ``backlog``: the insertion backlog (vehicles that cannot enter the network) keeps growing.
* ``teleport``: SUMO removed stuck vehicles (its own sign of a jam it could not resolve).
* ``sensor_loss``: an observation source stopped reporting (a junction's last observation is old,
  or a lane that reported before now reports nothing).

An alert is raised once when its condition starts (and again if it escalates to ``critical``), stays
active while the condition holds, and clears ``clear_after`` seconds after it stopped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from envs.state import VEHICLE_SPACE_M
from evaluation.twin.config import AlertConfig

Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
KINDS: tuple[str, ...] = ("spillback", "gridlock", "starvation", "backlog", "teleport", "sensor_loss")


@dataclass(frozen=True)
class Alert:
    """One risk, as a control room lists it.

    Attributes:
        kind: one of :data:`KINDS`.
        junction: the junction (or traffic light) to act on; ``None`` for network-wide alerts.
        time: simulation time the condition was first seen (s).
        severity: ``info``, ``warning`` or ``critical``.
        reason: one line saying what was measured.
        lane: the lane concerned, if any (drawn on the map).
    """

    kind: str
    junction: str | None
    time: float
    severity: Severity
    reason: str
    lane: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what frames, records and the browser carry)."""
        return {
            "kind": self.kind,
            "junction": self.junction,
            "time": round(self.time, 1),
            "severity": self.severity,
            "reason": self.reason,
            "lane": self.lane,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        """The inverse of :meth:`to_json`."""
        return cls(
            str(data["kind"]),
            data.get("junction"),
            float(data["time"]),
            data["severity"],
            str(data["reason"]),
            data.get("lane"),
        )


@dataclass(frozen=True)
class LaneTopology:
    """The lanes the alerts judge (a signal's incoming lanes), in the order of an input's arrays.

    Attributes:
        lane_ids: lane ids.
        lengths: lane lengths (m).
        upstream: the first junction upstream of each lane (where its queue spills into).
        downstream: the junction each lane ends at (the one whose signal holds its queue).
        gaps: metres of unmonitored road between each lane's start and its upstream junction (a
            turn pocket's lane starts where the road splits, before the upstream junction); empty:
            all 0.
    """

    lane_ids: tuple[str, ...]
    lengths: tuple[float, ...]
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    gaps: tuple[float, ...] = ()


@dataclass(frozen=True)
class JunctionReading:
    """What one signalised junction's controller reports at one time.

    Attributes:
        junction: the traffic light / junction id.
        reported_at: simulation time of its latest observation (``None``: it never reported).
        phase: index of its current green phase (``None``: unknown, e.g. SUMO runs the signal).
        calls: per green phase, whether halting vehicles wait on the phase's lanes.
        due: per green phase, whether the ``max_red`` guard has made it due.
    """

    junction: str
    reported_at: float | None
    phase: int | None = None
    calls: tuple[bool, ...] = ()
    due: tuple[bool, ...] = ()


@dataclass(frozen=True)
class AlertInput:
    """One sample of the network.

    Attributes:
        time: simulation time (s).
        halting: halting vehicles per lane of the topology (NaN: no reading).
        count: vehicles per lane of the topology (NaN: no reading).
        backlog: vehicles waiting to be inserted into the network.
        teleports: teleports since the start (cumulative).
        junctions: the signalised junctions' controller reports.
    """

    time: float
    halting: np.ndarray
    count: np.ndarray
    backlog: float = 0.0
    teleports: float = 0.0
    junctions: tuple[JunctionReading, ...] = ()


@dataclass(frozen=True)
class AlertUpdate:
    """What changed at one sample.

    Attributes:
        raised: alerts that started (or escalated) at this sample.
        active: every alert active now (including the raised ones).
        cleared: alerts that cleared at this sample.
    """

    raised: tuple[Alert, ...]
    active: tuple[Alert, ...]
    cleared: tuple[Alert, ...]


@dataclass(frozen=True)
class _Condition:
    """A rule's finding at one sample (``key`` identifies it across samples)."""

    key: tuple[str, ...]
    kind: str
    junction: str | None
    severity: Severity
    reason: str
    lane: str | None = None


@dataclass
class _Memory:
    """What the time-based rules remember between samples."""

    still_since: dict[str, float] = field(default_factory=dict)  # gridlock: junction -> since when
    last_served: dict[str, np.ndarray] = field(default_factory=dict)  # starvation: per green
    backlog: deque[tuple[float, float]] = field(default_factory=deque)
    teleports: float | None = None
    last_teleport: float | None = None
    teleported_since: tuple[float, float] | None = None  # (first time, count at start) of a burst
    ever_reported: np.ndarray | None = None  # sensor loss: lanes that have reported


class AlertEngine:
    """Turns successive :class:`AlertInput` samples into raised, active and cleared alerts.

    Args:
        config: the thresholds.
        topology: the lanes the inputs' arrays describe.
    """

    def __init__(self, config: AlertConfig, topology: LaneTopology) -> None:
        self.config = config
        self.topology = topology
        self._lengths = np.asarray(topology.lengths, dtype=float)
        self._gaps = np.asarray(topology.gaps or (0.0,) * len(topology.lane_ids), dtype=float)
        regions = sorted(set(topology.downstream))
        self._regions = regions
        pos = {j: k for k, j in enumerate(regions)}
        self._region_of = np.array([pos[j] for j in topology.downstream], dtype=int)
        self._memory = _Memory()
        self._active: dict[tuple[str, ...], Alert] = {}
        self._absent_since: dict[tuple[str, ...], float] = {}

    @property
    def active(self) -> tuple[Alert, ...]:
        """The alerts active after the latest sample."""
        return tuple(self._active.values())

    def update(self, sample: AlertInput) -> AlertUpdate:
        """Judge one sample (samples must come in time order)."""
        now = sample.time
        found: dict[tuple[str, ...], _Condition] = {}
        for rule in (
            self._spillback,
            self._gridlock,
            self._starvation,
            self._backlog,
            self._teleport,
            self._sensor_loss,
        ):
            for cond in rule(sample):
                found[cond.key] = cond
        raised, cleared = [], []
        for key, cond in found.items():
            self._absent_since.pop(key, None)
            old = self._active.get(key)
            if old is None or SEVERITY_RANK[cond.severity] > SEVERITY_RANK[old.severity]:
                alert = Alert(cond.kind, cond.junction, now, cond.severity, cond.reason, cond.lane)
                self._active[key] = alert
                raised.append(alert)
        for key in [k for k in self._active if k not in found]:
            since = self._absent_since.setdefault(key, now)
            if now - since >= self.config.clear_after:
                cleared.append(self._active.pop(key))
                del self._absent_since[key]
        return AlertUpdate(tuple(raised), self.active, tuple(cleared))

    # ------------------------------------------------------------------ rules
    def _spillback(self, s: AlertInput) -> list[_Condition]:
        c, topo = self.config, self.topology
        with np.errstate(invalid="ignore"):
            fill = np.nan_to_num(s.halting, nan=0.0) * VEHICLE_SPACE_M / np.maximum(self._lengths, 1e-6)
        hits = np.flatnonzero((fill >= c.spillback_fraction) & (self._lengths >= c.min_lane_length))
        out = []
        for i in hits:
            gap = self._gaps[i]
            # Critical only when the queue stands at the upstream junction itself; a full lane that
            # starts where the road splits (a turn pocket) spills onto the road before it first.
            critical = fill[i] >= c.spillback_critical_fraction and gap <= 0
            severity: Severity = "critical" if critical else "warning"
            where = (
                f"it reaches junction {topo.upstream[i]}"
                if gap <= 0
                else f"it spills onto the road behind it, {gap:.0f} m before junction {topo.upstream[i]}"
            )
            reason = (
                f"queue of {int(s.halting[i])} halting vehicles fills {min(fill[i], 1.0):.0%} of lane "
                f"{topo.lane_ids[i]} ({topo.lengths[i]:.0f} m): {where}"
            )
            out.append(
                _Condition(
                    ("spillback", topo.lane_ids[i]),
                    "spillback",
                    topo.downstream[i],
                    severity,
                    reason,
                    topo.lane_ids[i],
                )
            )
        return out

    def _gridlock(self, s: AlertInput) -> list[_Condition]:
        c, mem = self.config, self._memory
        valid = ~(np.isnan(s.count) | np.isnan(s.halting))
        count = np.where(valid, s.count, 0.0)
        moving = np.where(valid, s.count - s.halting, 0.0)
        n = len(self._regions)
        vehicles = np.bincount(self._region_of, weights=count, minlength=n)
        movers = np.bincount(self._region_of, weights=np.maximum(moving, 0.0), minlength=n)
        out = []
        for k, junction in enumerate(self._regions):
            if vehicles[k] >= c.gridlock_min_vehicles and movers[k] <= 0:
                since = mem.still_since.setdefault(junction, s.time)
                if s.time - since >= c.gridlock_seconds:
                    reason = (
                        f"no vehicle moved on the approaches of {junction} for {s.time - since:.0f} s "
                        f"({int(vehicles[k])} vehicles standing)"
                    )
                    out.append(_Condition(("gridlock", junction), "gridlock", junction, "critical", reason))
            else:
                mem.still_since.pop(junction, None)
        return out

    def _starvation(self, s: AlertInput) -> list[_Condition]:
        c, mem = self.config, self._memory
        out = []
        for j in s.junctions:
            if any(j.due):
                phases = ", ".join(str(k) for k, d in enumerate(j.due) if d)
                reason = f"max_red guard fired at {j.junction}: green {phases} waited max_red at red; it is served next"
                out.append(
                    _Condition(
                        ("starvation", j.junction, "guard"), "starvation", j.junction, "warning", reason
                    )
                )
            if j.phase is None or not j.calls:
                continue
            served = mem.last_served.get(j.junction)
            if served is None or len(served) != len(j.calls):
                served = mem.last_served[j.junction] = np.full(len(j.calls), s.time)
            if 0 <= j.phase < len(served):
                served[j.phase] = s.time
            for k, call in enumerate(j.calls):
                waited = s.time - served[k]
                if not call:
                    served[k] = s.time  # nobody waits: nothing is starved
                elif waited >= c.starvation_seconds:
                    reason = f"green {k} of {j.junction} unserved for {waited:.0f} s with vehicles halting"
                    out.append(
                        _Condition(
                            ("starvation", j.junction, str(k)), "starvation", j.junction, "critical", reason
                        )
                    )
        return out

    def _backlog(self, s: AlertInput) -> list[_Condition]:
        c, hist = self.config, self._memory.backlog
        hist.append((s.time, float(s.backlog)))
        while len(hist) > 1 and hist[1][0] <= s.time - c.backlog_window:
            hist.popleft()
        t0, b0 = hist[0]
        growth = s.backlog - b0
        if s.time - t0 >= c.backlog_window - 1e-9 and growth >= c.backlog_growth:
            reason = (
                f"insertion backlog grew by {growth:.0f} to {s.backlog:.0f} vehicles in {s.time - t0:.0f} s: "
                "demand cannot enter the network"
            )
            return [_Condition(("backlog",), "backlog", None, "warning", reason)]
        return []

    def _teleport(self, s: AlertInput) -> list[_Condition]:
        c, mem = self.config, self._memory
        previous = mem.teleports if mem.teleports is not None else s.teleports
        mem.teleports = s.teleports
        if s.teleports > previous:
            mem.last_teleport = s.time
            if mem.teleported_since is None:
                mem.teleported_since = (s.time, previous)
        if mem.last_teleport is None or s.time - mem.last_teleport >= c.teleport_quiet:
            mem.teleported_since = None
            return []
        assert mem.teleported_since is not None
        first, base = mem.teleported_since
        n = s.teleports - base
        reason = f"SUMO teleported {n:.0f} stuck vehicle(s) since t={first:.0f} s: a jam it could not resolve"
        return [_Condition(("teleport",), "teleport", None, "warning", reason)]

    def _sensor_loss(self, s: AlertInput) -> list[_Condition]:
        c, mem, topo = self.config, self._memory, self.topology
        out = []
        for j in s.junctions:
            if j.reported_at is not None and s.time - j.reported_at > c.sensor_timeout:
                reason = f"no observation from {j.junction} for {s.time - j.reported_at:.0f} s"
                out.append(
                    _Condition(("sensor_loss", j.junction), "sensor_loss", j.junction, "warning", reason)
                )
        reporting = ~(np.isnan(s.count) | np.isnan(s.halting))
        if mem.ever_reported is None or len(mem.ever_reported) != len(reporting):
            mem.ever_reported = reporting.copy()
        lost = np.flatnonzero(mem.ever_reported & ~reporting)
        mem.ever_reported |= reporting
        for i in lost:
            reason = f"lane {topo.lane_ids[i]} at {topo.downstream[i]} stopped reporting"
            out.append(
                _Condition(
                    ("sensor_loss", topo.lane_ids[i]),
                    "sensor_loss",
                    topo.downstream[i],
                    "warning",
                    reason,
                    topo.lane_ids[i],
                )
            )
        return out
