"""Typed, validated environment settings (:class:`EnvConfig`).

YAML files and command-line overrides are validated into this object in one place; the environment
only ever sees a valid ``EnvConfig``. Unknown keys are errors (a typo must not be silently ignored).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from core.config import validate
from envs.signals import SignalTiming


class SensingConfig(BaseModel):
    """Where the observation's traffic data come from (:mod:`envs.sensing`): rewards, the info's
    metrics and the evaluation's measurements always stay on ground truth.

    Attributes:
        model: ``detectors`` (SUMO's lane sensors: every vehicle, today's default), ``connected``
            (only the equipped vehicles' messages: position, speed, waiting time) or ``hybrid``
            (stop-line detectors in the approach zones plus connected data upstream).
        penetration: share of vehicles equipped, in [0, 1] (``connected`` / ``hybrid``).
        penetration_range: ``[low, high]``: draw the penetration uniformly per episode from the
            episode seed instead (training for unknown or low penetration); ``None`` = fixed.
        type_penetration: share equipped per SUMO vehicle type id (e.g. ``{bus: 1.0}``: buses and
            taxis first); types not listed use ``penetration``.
        estimator: how the unequipped traffic is estimated from the equipped: ``none`` (equipped
            counts as they are), ``scale`` (counts and waiting times divided by the penetration) or
            ``queue_tail`` (``scale``, with each lane's queue raised to the one that the farthest
            halted equipped vehicle implies).
        latency: message age (s): the observation uses the readings of this many seconds ago,
            rounded to whole decisions.
        drop_rate: probability that a vehicle's message of a decision is lost, in [0, 1).
        position_noise: standard deviation of the reported position along the lane (m).
        seed: salt of the equipped-vehicle draw (with the episode seed): the same seeds equip the
            same vehicles.
        critic_truth: the asymmetric critic (CVLight): with ``critic_obs`` the critic's part of the
            observation is built from ground truth (the agent's own and its neighbours'), the
            actor's part from the sensed data; without ``critic_obs`` the observation is the sensed
            one followed by the agent's own ground truth (the phase-competition policy's critic
            reads that copy; its actor, like the MLP's actor part, never does).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["detectors", "connected", "hybrid"] = "detectors"
    penetration: float = Field(1.0, ge=0, le=1)
    penetration_range: tuple[float, float] | None = None
    type_penetration: dict[str, float] = Field(default_factory=dict)
    estimator: Literal["none", "scale", "queue_tail"] = "scale"
    latency: float = Field(0.0, ge=0)
    drop_rate: float = Field(0.0, ge=0, lt=1)
    position_noise: float = Field(0.0, ge=0)
    seed: int = 0
    critic_truth: bool = False

    @model_validator(mode="after")
    def _check(self) -> SensingConfig:
        if self.penetration_range is not None:
            lo, hi = self.penetration_range
            if not 0 <= lo <= hi <= 1:
                raise ValueError(f"penetration_range {[lo, hi]}: give 0 <= low <= high <= 1")
        bad = {t: v for t, v in self.type_penetration.items() if not 0 <= v <= 1}
        if bad:
            raise ValueError(f"type_penetration {bad}: each share must be in [0, 1]")
        return self


class EnvConfig(SignalTiming):
    """Settings of :class:`envs.TrafficSignalEnv`: the signal timing (fields and checks inherited from
    :class:`~envs.signals.SignalTiming`) plus observation, reward and simulation settings.

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
        reward: registered reward name (``queue``, ``pressure``, ``wait_change``, ``delay``, ``co2``,
            ``stops``), or a mapping of registered terms to weights (``{delay: 1.0, co2: 0.2}``):
            their weighted sum, each term divided by its reference scale and each weight by the
            sum of the weights, so the weights read as shares (:class:`envs.rewards.WeightedReward`);
            ``info[agent]['reward_terms']`` then holds the agent's vector of terms.
        neighbour_obs: append each neighbour's summary (density, queue) to the observation.
        neighbour_reward_weight: spatially discounted reward (MA2C, Chu et al. 2019):
            r_i + alpha * sum of the neighbours' rewards.
        critic_obs: append the neighbours' full observations after the agent's own (for a
            MAPPO-style centralised critic: the actor reads only the first ``actor_obs_size`` entries).
        agents: restrict control to these traffic-light ids; the others run their static program.
        max_lanes: observation padding (incoming lanes); ``None`` = the largest in the net.
        max_phases: action/observation padding (greens); ``None`` = the largest in the net.
        max_movements: ``movement`` observation padding (signal links); ``None`` = the largest in
            the net. A phase-competition policy reads any padding, so this only sizes the vector.
        lane_vars: lane variables to read every decision besides those the observation, the reward
            and the info need (e.g. ``occupancy`` for the live view); the others are not read and
            read as 0 in :class:`~envs.state.IntersectionState`.
        strict_actions: raise on a masked action instead of applying the closest allowed one.
        jam_halting_fraction: end the episode early (truncated, ``info['jammed']``) when this fraction
            of all running vehicles has been halting for ``jam_patience`` seconds; ``None`` disables.
        jam_patience: seconds of sustained jam before ending the episode.
        sumo_args: extra SUMO command-line options.
        sensing: the observation's data source and its penetration (:class:`SensingConfig`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["auto", "libsumo", "traci"] = "auto"
    observation: str = "default"
    approach_zone: float = Field(50.0, gt=0)
    detector_range: float | None = Field(None, gt=0)
    min_time_loss: float = Field(1.0, ge=0)
    reward: str | dict[str, float] = "queue"
    neighbour_obs: bool = False
    neighbour_reward_weight: float = Field(0.0, ge=0, le=1)
    critic_obs: bool = False
    agents: tuple[str, ...] | None = None
    max_lanes: int | None = Field(None, gt=0)
    max_phases: int | None = Field(None, gt=0)
    max_movements: int | None = Field(None, gt=0)
    lane_vars: tuple[Literal["count", "halting", "occupancy", "mean_speed", "waiting"], ...] = ()
    strict_actions: bool = False
    jam_halting_fraction: float | None = Field(None, gt=0, le=1)
    jam_patience: float = Field(300.0, gt=0)
    sumo_args: tuple[str, ...] = ()
    sensing: SensingConfig = Field(default_factory=SensingConfig)

    @field_validator("reward", mode="before")
    @classmethod
    def _reward_weights(cls, value: Any) -> Any:
        """A mapping of reward terms: registered names, finite weights >= 0 with a positive sum; each
        problem reported at ``reward.<term>`` (``env.reward.co2x: unknown term; known: ...``)."""
        if not isinstance(value, Mapping):
            return value
        from envs.rewards import reward_names

        known = reward_names()
        problems: list[InitErrorDetails] = []

        def bad(where: tuple[str, ...], message: str, given: Any) -> None:
            problems.append(
                InitErrorDetails(type=PydanticCustomError("reward_term", message), loc=where, input=given)
            )

        weights: dict[str, float] = {}
        for name, weight in value.items():
            if name not in known:
                bad((str(name),), f"unknown term; known: {', '.join(known)}", weight)
                continue
            try:
                w = float(weight)
            except (TypeError, ValueError):
                w = math.nan
            if not math.isfinite(w) or w < 0:
                bad((name,), f"weight {weight!r} must be a finite number >= 0", weight)
                continue
            weights[name] = w
        if not problems and sum(weights.values()) <= 0:
            bad((), f"the weights {dict(value)} must sum to something positive (e.g. {{delay: 1.0}})", value)
        if problems:
            raise ValidationError.from_exception_data("reward", problems)
        return weights

    def reward_label(self) -> str:
        """``reward`` as one string (a name, or ``delay=0.83+co2=0.17`` with the shares)."""
        if isinstance(self.reward, str):
            return self.reward
        total = sum(self.reward.values())
        return "+".join(f"{k}={w / total:.2f}" for k, w in self.reward.items())

    def timing(self) -> SignalTiming:
        """The signal-timing part of this config."""
        return SignalTiming.model_validate(self.model_dump(include=set(SignalTiming.model_fields)))


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
    return validate(EnvConfig, base, "env")
