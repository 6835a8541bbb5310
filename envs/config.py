"""Typed, validated environment settings (:class:`EnvConfig`).

YAML files and command-line overrides are validated into this object in one place; the environment
only ever sees a valid ``EnvConfig``. Unknown keys are errors (a typo must not be silently ignored).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from envs.signals import SignalTiming
from scenarios.errors import ConfigError


class EnvConfig(BaseModel):
    """Settings of :class:`envs.TrafficSignalEnv`.

    Attributes:
        backend: ``auto`` (libsumo unless one already runs in this process), ``libsumo`` or ``traci``.
        delta_time: seconds between decisions.
        yellow_time: yellow seconds; ``None`` = the net's own yellow time.
        min_green: minimum green seconds.
        max_green: maximum green seconds (phase mode).
        action_mode: ``phase`` (pick the next green) or ``duration`` (keep the cycle, pick each green's
            duration from ``green_durations``).
        green_durations: choices in duration mode (seconds).
        max_red: starvation guard (phase mode): a phase whose lanes have had halting vehicles for
            this many seconds at red is served next, whatever the agent picks (the action mask says
            so); ``None`` disables it. See :mod:`envs.signals`.
        observation: registered observation name (``default``, ``approach``, ``pressure``, ``queue``).
        approach_zone: metres before the stop line that the ``approach`` observation watches.
        detector_range: metres before the stop line of the time-loss detectors that the
            ``time_loss`` controller reads (per incoming lane: the vehicles there, and how long the
            farthest delayed one needs to reach the stop line); ``None`` = not measured (no extra
            cost). The policy's observation does not change.
        min_time_loss: seconds of time loss since entering a time-loss detector that make a vehicle
            count as delayed (SUMO ``delay_based``'s ``minTimeLoss``).
        reward: registered reward name (``queue``, ``pressure``, ``wait_change``, ``delay``).
        neighbour_obs: append each neighbour's summary (density, queue) to the observation.
        neighbour_reward_weight: spatially discounted reward (MA2C, Chu et al. 2019):
            r_i + alpha * sum of the neighbours' rewards.
        critic_obs: append the neighbours' full observations after the agent's own (for a
            MAPPO-style centralised critic: the actor reads only the first ``actor_obs_size`` entries).
        agents: restrict control to these traffic-light ids; the others run their static program.
        max_lanes: observation padding (incoming lanes); ``None`` = the largest in the net.
        max_phases: action/observation padding (greens); ``None`` = the largest in the net.
        strict_actions: raise on a masked action instead of applying the closest allowed one.
        jam_halting_fraction: end the episode early (truncated, ``info['jammed']``) when this fraction
            of all running vehicles has been halting for ``jam_patience`` seconds; ``None`` disables.
        jam_patience: seconds of sustained jam before ending the episode.
        sumo_args: extra SUMO command-line options.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["auto", "libsumo", "traci"] = "auto"
    delta_time: float = Field(5.0, gt=0)
    yellow_time: float | None = Field(None, ge=0)
    min_green: float = Field(10.0, ge=0)
    max_green: float = Field(60.0, gt=0)
    action_mode: Literal["phase", "duration"] = "phase"
    green_durations: tuple[float, ...] = (10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0)
    max_red: float | None = Field(None, gt=0)
    observation: str = "default"
    approach_zone: float = Field(50.0, gt=0)
    detector_range: float | None = Field(None, gt=0)
    min_time_loss: float = Field(1.0, ge=0)
    reward: str = "queue"
    neighbour_obs: bool = False
    neighbour_reward_weight: float = Field(0.0, ge=0, le=1)
    critic_obs: bool = False
    agents: tuple[str, ...] | None = None
    max_lanes: int | None = Field(None, gt=0)
    max_phases: int | None = Field(None, gt=0)
    strict_actions: bool = False
    jam_halting_fraction: float | None = Field(None, gt=0, le=1)
    jam_patience: float = Field(300.0, gt=0)
    sumo_args: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> "EnvConfig":
        if self.min_green > self.max_green:
            raise ValueError(f"min_green ({self.min_green}) must be <= max_green ({self.max_green})")
        if any(d <= 0 for d in self.green_durations) or not self.green_durations:
            raise ValueError("green_durations must be a non-empty list of positive seconds")
        return self

    def timing(self) -> SignalTiming:
        """The signal-timing part of this config."""
        return SignalTiming(self.delta_time, self.yellow_time, self.min_green, self.max_green,
                            self.action_mode, tuple(self.green_durations), self.max_red)


def format_validation_error(exc: ValidationError, where: str) -> str:
    """One readable line per problem: ``where.field: message``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (typo?); remove it or check the documented fields"
        lines.append(f"{where}.{loc}: {msg}")
    return "; ".join(lines)


def read_yaml_mapping(path: str | Path, examples: str = "configs/") -> dict[str, Any]:
    """Read a YAML file that must hold a mapping of fields (the shape of every config file).

    Raises:
        ConfigError: missing file, invalid YAML, or not a mapping; the message names the file.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist; see {examples} for examples.")
    try:
        loaded = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {p} is not valid YAML: {exc}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"config file {p} must contain a mapping of fields at top level.")
    return loaded or {}


def make_env_config(config: EnvConfig | dict[str, Any] | None = None, **overrides: Any) -> EnvConfig:
    """Build an :class:`EnvConfig` from a config object or dict plus keyword overrides.

    Raises:
        ConfigError: a field is unknown or invalid; the message names it.
    """
    base: dict[str, Any] = {}
    if isinstance(config, EnvConfig):
        base = config.model_dump()
    elif config is not None:
        base = dict(config)
    base.update(overrides)
    try:
        return EnvConfig(**base)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, "env")) from None
