"""Samples an episode while it runs: frames for the live view and/or the replay record.

The harness calls :meth:`TwinObserver.step` after every decision (env-driven controllers) or every
``sample_period`` (native ones); the observer samples only when ``sample_period`` simulated seconds
have passed, judges the alerts, and hands the frame to the :class:`~evaluation.twin.feed.LiveFeed`
(never waits for a browser) and to the :class:`~evaluation.twin.record.RecordWriter`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from envs.connection import SumoConnection
from evaluation.twin.alerts import AlertEngine, AlertInput, LaneTopology
from evaluation.twin.config import TwinConfig
from evaluation.twin.feed import LiveFeed
from evaluation.twin.frames import Frame, Kpis
from evaluation.twin.geometry import NetGeometry, read_geometry
from evaluation.twin.record import RecordWriter
from evaluation.twin.sources import EnvSource, NativeSource, Reading

_EPS = 1e-6

__all__ = ["TwinObserver", "episode_info", "read_geometry", "topology"]


def episode_info(scenario: str, controller: str, seed: int, config: Any) -> dict[str, Any]:
    """What the page shows about a run: scenario, controller, seed, and the decision interval of
    env-driven controllers (``config`` is the :class:`~evaluation.config.EvalConfig`)."""
    return {
        "scenario": scenario,
        "controller": controller,
        "seed": int(seed),
        "delta_time": float(config.env.delta_time),
        "sample_period": float(config.twin.sample_period),
    }


def topology(geometry: NetGeometry) -> LaneTopology:
    """The alert engine's view of the monitored lanes of ``geometry``."""
    lanes = [geometry.lanes[i] for i in geometry.monitored]
    return LaneTopology(
        tuple(lane.lane_id for lane in lanes),
        tuple(lane.length for lane in lanes),
        tuple(lane.upstream or lane.from_junction for lane in lanes),
        tuple(lane.to_junction for lane in lanes),
        tuple(lane.upstream_gap for lane in lanes),
    )


class TwinObserver:
    """Turns a running episode into frames.

    Args:
        geometry: the net's geometry.
        config: sampling, pacing and alert thresholds.
        info: what the page shows about the run (scenario, controller, seed, ...).
        feed: the live view's feed (``None``: no live view).
        record: write the replay record to this file (``None``: no record).
    """

    def __init__(
        self,
        geometry: NetGeometry,
        config: TwinConfig,
        info: dict[str, Any],
        *,
        feed: LiveFeed | None = None,
        record: Path | None = None,
    ) -> None:
        self.geometry = geometry
        self.config = config
        self.info = dict(info)
        self.feed = feed
        self.record_path = record
        self.frames = 0
        self.busy_seconds = 0.0  # wall time spent sampling on the simulation thread (the view's cost there)
        self._engine = AlertEngine(config.alerts, topology(geometry))
        self._source: EnvSource | NativeSource | None = None
        self._writer: RecordWriter | None = None
        self._next = 0.0
        self._t0_wall = 0.0
        self._t0_sim = 0.0
        self._decisions: int | None = None
        self._now = 0.0
        self._sampled_at = -1.0

    def attach_env(self, env: Any) -> None:
        """Start observing an env-driven episode (after ``env.reset``)."""
        self._decisions = 0
        self._start(EnvSource(env, self.geometry), env.connection)

    def attach_native(self, conn: SumoConnection) -> None:
        """Start observing a simulation whose signals SUMO runs."""
        self._decisions = None
        self._start(NativeSource(conn, self.geometry), conn)

    def _start(self, source: EnvSource | NativeSource, conn: SumoConnection) -> None:
        self._source = source
        self._t0_wall = time.perf_counter()
        self._t0_sim = conn.time()
        self._next = self._t0_sim + self.config.sample_period
        if self.record_path is not None:
            self._writer = RecordWriter(self.record_path, self.info, self.geometry.to_json())

    def step(self, now: float, *, decided: bool = True) -> None:
        """Called after each decision (``decided``) or simulation chunk, at simulation time ``now``."""
        if self._decisions is not None and decided:
            self._decisions += 1
        self._now = now
        if now + _EPS >= self._next:
            t0 = time.perf_counter()
            self._next = now + self.config.sample_period
            self._sample()
            self.busy_seconds += time.perf_counter() - t0
        self._pace(now)

    def _pace(self, now: float) -> None:
        pace = self.config.pace
        if pace is None:
            return
        ahead = (now - self._t0_sim) / pace - (time.perf_counter() - self._t0_wall)
        if ahead > 0:
            time.sleep(ahead)

    def _sample(self) -> None:
        assert self._source is not None, "attach_env/attach_native first"
        reading = self._source.read()
        self._sampled_at = self._now
        update = self._engine.update(
            AlertInput(
                reading.time,
                reading.halting,
                reading.count,
                reading.network["backlog"],
                reading.network["teleports"],
                reading.junctions,
            )
        )
        frame = Frame(
            self.frames,
            reading.time,
            reading.signals,
            reading.halting,
            reading.occupancy,
            self._kpis(reading),
            update.active,
            update.raised,
        )
        self.frames += 1
        if self.feed is not None:
            self.feed.publish(frame)
        if self._writer is not None:
            self._writer.write(frame)

    def _kpis(self, r: Reading) -> Kpis:
        wall = max(time.perf_counter() - self._t0_wall, 1e-9)
        n = self._decisions
        return Kpis(
            r.time,
            r.network["running"],
            r.network["arrived"],
            r.network["backlog"],
            r.network["teleports"],
            r.network["mean_delay"],
            float(np.nansum(r.halting)),
            n,
            None if n is None else n / wall,
            (r.time - self._t0_sim) / wall,
        )

    def finish(self, *, complete: bool) -> None:
        """End of the episode: take a last sample, close the record (kept only if ``complete``),
        tell the feed. Idempotent; never raises for a closed simulation."""
        if self._source is None:
            return
        try:
            if complete and self._now > self._sampled_at + _EPS:
                self._sample()
        finally:
            if self._writer is not None:
                self._writer.close(complete=complete)
                self._writer = None
            if self.feed is not None:
                self.feed.finish()
            self._source = None
