"""A frame: one sample of the network as the live view and the replay record carry it.

Values follow the order fixed by :class:`~evaluation.twin.geometry.NetGeometry` (signal states in
``signals`` order, lane values in ``monitored`` order), so a frame is a few short arrays and the
geometry travels once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluation.twin.alerts import Alert


@dataclass(frozen=True)
class Kpis:
    """Network KPIs at one time.

    Attributes:
        time: simulation time (s).
        running: vehicles in the network.
        arrived: vehicles that finished their trip.
        backlog: vehicles waiting to be inserted.
        teleports: teleports so far.
        mean_delay: mean time loss of the trips finished so far (s/veh; SUMO's ``timeLoss``).
        halting: halting vehicles on the monitored lanes.
        decisions: controller decisions so far (``None``: SUMO runs the signals itself).
        decision_rate: decisions per wall-clock second since the start (``None`` likewise).
        sim_speed: simulated seconds per wall-clock second since the start.
    """

    time: float
    running: float
    arrived: float
    backlog: float
    teleports: float
    mean_delay: float
    halting: float
    decisions: int | None
    decision_rate: float | None
    sim_speed: float

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (rounded: the view shows whole vehicles and tenths of seconds)."""
        return {
            "time": round(self.time, 1),
            "running": int(self.running),
            "arrived": int(self.arrived),
            "backlog": int(self.backlog),
            "teleports": int(self.teleports),
            "mean_delay": round(self.mean_delay, 1),
            "halting": int(self.halting),
            "decisions": self.decisions,
            "decision_rate": None if self.decision_rate is None else round(self.decision_rate, 1),
            "sim_speed": round(self.sim_speed, 1),
        }


@dataclass(frozen=True)
class Frame:
    """One sample: signal states, lane queues, KPIs and alerts.

    Attributes:
        index: 0, 1, ... in the episode.
        time: simulation time (s).
        signals: state string of each signal (geometry ``signals`` order).
        halting: halting vehicles per monitored lane (-1: no reading).
        occupancy: occupancy per monitored lane, percent (-1: no reading).
        kpis: the network KPIs.
        active: alerts active at this time.
        raised: alerts raised at this sample.
    """

    index: int
    time: float
    signals: tuple[str, ...]
    halting: np.ndarray
    occupancy: np.ndarray
    kpis: Kpis
    active: tuple[Alert, ...]
    raised: tuple[Alert, ...]

    def to_json(self) -> dict[str, Any]:
        """The compact JSON form (integers where the view needs no more)."""
        return {
            "index": self.index,
            "time": round(self.time, 1),
            "signals": list(self.signals),
            "halting": [int(x) for x in np.nan_to_num(self.halting, nan=-1.0)],
            "occupancy": [int(round(x)) for x in np.nan_to_num(self.occupancy * 100.0, nan=-1.0)],
            "kpis": self.kpis.to_json(),
            "active": [a.to_json() for a in self.active],
            "raised": [a.to_json() for a in self.raised],
        }
