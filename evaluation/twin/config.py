"""Settings of the live view and its risk alerts: the ``twin`` section of an evaluation config.

Validated like every config of the project (``extra="forbid"``, ranges checked), so a typo or a bad
threshold fails before SUMO starts with the field named, e.g.
``eval.twin.alerts.spillback_fraction: Input should be less than or equal to 1``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AlertConfig(BaseModel):
    """Thresholds of the risk alerts (:mod:`evaluation.twin.alerts`).

    Attributes:
        spillback_fraction: a signal's incoming lane whose halting vehicles (7.5 m each, car plus
            gap) fill at least this share of its length raises a ``spillback`` warning: its queue is
            about to reach the upstream junction and block it.
        spillback_critical_fraction: from this share on the spillback is ``critical`` (for a lane
            that starts at its upstream junction; a turn pocket's lane, which starts where the road
            splits, stays a warning: its queue spills onto the road before it reaches the junction).
        min_lane_length: lanes shorter than this (m) are never judged for spillback (a few
            vehicles fill a short connector lane without any risk).
        gridlock_seconds: a junction whose approaches hold vehicles of which none moved for this
            long raises ``gridlock``.
        gridlock_min_vehicles: ... and hold at least this many vehicles.
        starvation_seconds: a green phase with halting vehicles that has not been served for this
            long raises ``starvation`` (the ``max_red`` guard firing raises it too).
        backlog_window: seconds over which the insertion backlog is compared.
        backlog_growth: vehicles by which the backlog (vehicles waiting to enter the network) must
            grow over ``backlog_window`` to raise ``backlog``.
        teleport_quiet: a ``teleport`` alert stays active until no vehicle has been teleported for
            this long (s).
        sensor_timeout: an observation source (a junction's detectors) that has not reported for
            this long raises ``sensor_loss``.
        clear_after: a condition must be gone this long before its alert clears (s; no flicker).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    spillback_fraction: float = Field(0.8, gt=0, le=1)
    spillback_critical_fraction: float = Field(0.95, gt=0, le=1.5)
    min_lane_length: float = Field(30.0, ge=0)
    gridlock_seconds: float = Field(120.0, gt=0)
    gridlock_min_vehicles: int = Field(10, ge=1)
    starvation_seconds: float = Field(180.0, gt=0)
    backlog_window: float = Field(60.0, gt=0)
    backlog_growth: float = Field(20.0, gt=0)
    teleport_quiet: float = Field(60.0, gt=0)
    sensor_timeout: float = Field(30.0, gt=0)
    clear_after: float = Field(30.0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> AlertConfig:
        if self.spillback_critical_fraction < self.spillback_fraction:
            raise ValueError(
                f"spillback_critical_fraction ({self.spillback_critical_fraction}) must be >= "
                f"spillback_fraction ({self.spillback_fraction})"
            )
        return self


class TwinConfig(BaseModel):
    """The live view (``python -m evaluation.twin``, ``evaluate.py --live``) and the replay record.

    Attributes:
        host: address the web server binds; the default serves this machine only. Another address
            exposes the view (and the run's data) to the network: set it on purpose.
        port: TCP port of the web server (0: any free port, printed at start).
        sample_period: simulated seconds between two samples of the network (frames). Sampling,
            not every step, is what keeps the view's cost on the simulation small.
        push_hz: at most this many frames per second are pushed to each browser (the latest one;
            older unsent frames are dropped, never queued).
        pace: slow the simulation to at most this many simulated seconds per wall second, to watch
            it (``None``: as fast as it runs).
        record: the harness writes each episode's per-step record for replay
            (``OUT/twin/<scenario>/<controller>/seed_<n>.jsonl.gz``).
        alerts: the alert thresholds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    sample_period: float = Field(5.0, gt=0)
    push_hz: float = Field(4.0, gt=0, le=60)
    pace: float | None = Field(None, gt=0)
    record: bool = False
    alerts: AlertConfig = Field(default_factory=AlertConfig)
