"""Where a frame's numbers come from: an env-driven episode, or a simulation SUMO controls itself.

* :class:`EnvSource` reads what :class:`envs.TrafficSignalEnv` already measured at its last
  decision (its per-intersection snapshots and network metrics), so the lane queues cost no extra
  call into SUMO; only the signal states and the finished trips' delay are read at each sample.
* :class:`NativeSource` reads the monitored lanes from the connection itself (the harness runs
  native controllers without an env).

Both return a :class:`Reading` whose arrays follow ``geometry.monitored`` (NaN: no reading).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.connection import SumoConnection
from evaluation.twin.alerts import JunctionReading
from evaluation.twin.geometry import NetGeometry


@dataclass(frozen=True)
class Reading:
    """What a source measured at one time.

    Attributes:
        time: simulation time (s).
        signals: state string per geometry signal.
        halting: halting vehicles per monitored lane (NaN: no reading).
        count: vehicles per monitored lane (NaN: no reading).
        occupancy: occupancy per monitored lane, 0..1 (NaN: no reading).
        junctions: the controllers' reports (empty for native controllers).
        network: ``running``, ``arrived``, ``backlog``, ``teleports``, ``mean_delay``.
    """

    time: float
    signals: tuple[str, ...]
    halting: np.ndarray
    count: np.ndarray
    occupancy: np.ndarray
    junctions: tuple[JunctionReading, ...]
    network: dict[str, float]


def _signal_states(conn: SumoConnection, geometry: NetGeometry) -> tuple[str, ...]:
    return tuple(conn.signal_state(s.tls_id) for s in geometry.signals)


def _mean_delay(conn: SumoConnection) -> float:
    trips = conn.trip_stats()
    return float(trips["time_loss"]) if trips["count"] > 0 else 0.0


class EnvSource:
    """Frames from a running :class:`envs.TrafficSignalEnv` (call after ``reset``).

    Args:
        env: the environment (its ``specs``, snapshots and ``connection`` are read, never changed).
        geometry: the net's geometry.
    """

    def __init__(self, env: Any, geometry: NetGeometry) -> None:
        self.env = env
        self.geometry = geometry
        pos = {lane: k for k, lane in enumerate(geometry.monitored_ids)}
        self._rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for agent, spec in env.specs.items():
            keep = [i for i, lane in enumerate(spec.in_lanes) if lane in pos]
            self._rows[agent] = (
                np.array(keep, dtype=int),
                np.array([pos[spec.in_lanes[i]] for i in keep], dtype=int),
            )

    def read(self) -> Reading:
        """Sample the env's latest decision."""
        env, n = self.env, len(self.geometry.monitored)
        conn = env.connection
        halting, count, occ = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        junctions = []
        for agent, (src, dst) in self._rows.items():
            state = env.intersection_state(agent)
            halting[dst] = state.in_halting[src]
            count[dst] = state.in_count[src]
            occ[dst] = state.in_occupancy[src]
            lanes = env.specs[agent].green_lane_matrix
            calls = (lanes & (state.in_halting > 0)).any(axis=1)
            junctions.append(
                JunctionReading(
                    agent,
                    float(state.time),
                    int(state.phase),
                    tuple(bool(x) for x in calls),
                    tuple(bool(x) for x in env.due_phases(agent)),
                )
            )
        m = env.last_metrics
        network = {k: float(m.get(k, 0.0)) for k in ("running", "arrived", "backlog", "teleports")}
        network["mean_delay"] = _mean_delay(conn)
        return Reading(
            float(m.get("time", conn.time())),
            _signal_states(conn, self.geometry),
            halting,
            count,
            occ,
            tuple(junctions),
            network,
        )


class NativeSource:
    """Frames from a simulation whose signals SUMO runs itself (fixed-time, SUMO's actuated).

    Subscribes the monitored lanes on the connection (which nothing else reads in a native run).

    Args:
        conn: the running simulation.
        geometry: the net's geometry.
    """

    def __init__(self, conn: SumoConnection, geometry: NetGeometry) -> None:
        self.conn = conn
        self.geometry = geometry
        conn.subscribe_lanes(geometry.monitored_ids)

    def read(self) -> Reading:
        """Sample the simulation now."""
        conn = self.conn
        v = conn.lane_matrix()  # count, halting, occupancy %, mean speed, waiting
        stats = conn.stats()
        network = {
            "running": stats["running"],
            "arrived": stats["arrived"],
            "backlog": stats["waiting"],
            "teleports": stats["teleports"],
            "mean_delay": _mean_delay(conn),
        }
        return Reading(
            conn.time(),
            _signal_states(conn, self.geometry),
            v[:, 1].copy(),
            v[:, 0].copy(),
            v[:, 2] / 100.0,
            (),
            network,
        )
