"""Typed, validated evaluation settings (:class:`EvalConfig`).

YAML files and command-line overrides are validated here, in one place; the harness only ever sees
a valid ``EvalConfig``. Unknown keys are errors (a typo must not silently change an evaluation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import scenarios
from core.config import read_yaml_mapping, validate
from core.errors import ConfigError
from core.ray_cluster import parse_address
from envs.config import EnvConfig, SensingConfig
from evaluation.twin.config import TwinConfig
from scenarios.scenario import Scenario


def slug(text: str) -> str:
    """A folder-safe version of ``text`` (letters, digits, ``-``, ``_``, ``.``)."""
    out = "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-.")
    return out or "x"


class ScenarioSpec(BaseModel):
    """One scenario to evaluate on: a catalogue name, a ``.sumocfg``/``.net.xml`` path, or an explicit
    net + route files (an external scenario).

    Attributes:
        name: catalogue name (``wuxi-core``) or a path; with ``net`` set, only a label.
        seed: seed of the scenario generator (network and demand files), not of SUMO.
        horizon: shorten the episode (seconds); ``None`` keeps the scenario's.
        demand_scale: multiply the catalogue demand.
        net: external network file (with ``routes``).
        routes: external route/flow files.
        additional: external additional files.
        begin: simulation begin of an external scenario (seconds).
        end: simulation end of an external scenario (seconds).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    seed: int = Field(0, ge=0)
    horizon: float | None = Field(None, gt=0)
    demand_scale: float = Field(1.0, gt=0)
    net: str | None = None
    routes: tuple[str, ...] = ()
    additional: tuple[str, ...] = ()
    begin: float = 0.0
    end: float = Field(3600.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> ScenarioSpec:
        if self.net is None and (self.routes or self.additional):
            raise ValueError("routes/additional need net: give the external network file as net")
        if self.net is not None and not self.routes:
            raise ValueError("an external net needs routes (one or more route/flow files)")
        return self

    @property
    def label(self) -> str:
        """Folder-safe label of this scenario in the results."""
        base = (
            Path(self.name).stem.replace(".net", "").replace(".sumocfg", "")
            if ("/" in self.name or self.name.endswith(".xml") or self.name.endswith(".sumocfg"))
            else self.name
        )
        parts = [base]
        if self.seed:
            parts.append(f"s{self.seed}")
        if self.horizon is not None:
            parts.append(f"h{self.horizon:g}")
        if self.demand_scale != 1.0:
            parts.append(f"x{self.demand_scale:g}")
        return slug("_".join(parts))

    def resolve(self, cache_dir: str | Path | None = None) -> Scenario:
        """Build or load the scenario this spec names (see :func:`scenarios.resolve`).

        Raises:
            ScenarioError: unknown name (the message lists the catalogue), missing or invalid files.
        """
        if self.net is None:
            return scenarios.resolve(
                self.name,
                seed=self.seed,
                cache_dir=cache_dir,
                horizon=self.horizon,
                demand_scale=self.demand_scale,
            )
        end = self.begin + self.horizon if self.horizon else self.end
        return scenarios.load(
            self.net,
            route_files=list(self.routes),
            begin=self.begin,
            end=end,
            additional_files=list(self.additional) or None,
        )


class ControllerEntry(BaseModel):
    """A controller to evaluate: a registry spec (``max_pressure``, ``ppo:runs/x``) and a label.

    In YAML a plain string is the spec; ``label=spec`` sets the label (``policy=ppo:runs/x``).
    A mapping may add ``sensing`` (the observation's source for an env-driven controller or a
    policy: :class:`~envs.config.SensingConfig`) and ``penetrations`` (a list: one entry per
    penetration, labelled ``<label>_p<percent>``, see :func:`expand_penetrations`).

    Attributes:
        spec: the registry spec.
        label: the name in the results.
        sensing: replaces the env's ``sensing`` for this controller (``None``: the env's own; a
            policy keeps its ``critic_truth``, which sizes its observation). SUMO-native
            controllers (``actuated``, ...) read their own detectors and refuse it.
        sweep: the line this entry belongs to in the sensing plot (``None``: its label).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec: str
    label: str
    sensing: SensingConfig | None = None
    sweep: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            label, sep, spec = data.partition("=")
            if not sep or ":" in label or "/" in label:
                label, spec = data, data
            data = {"spec": spec.strip(), "label": label.strip()}
        elif isinstance(data, dict) and "label" not in data and "spec" in data:
            data = dict(data, label=data["spec"])
        if isinstance(data, dict) and isinstance(data.get("label"), str):
            data = dict(data, label=slug(data["label"]))
        return data


class ActuatedSettings(BaseModel):
    """SUMO's own actuated controllers (``actuated`` gap-based, ``delay_based``).

    Attributes:
        min_green: minimum green of every green phase (s).
        max_green: maximum green of every green phase (s).
        max_gap: ``actuated``: end the green when the time gap between vehicles exceeds this (s).
        detector_gap: ``actuated``: detector distance from the stop line, as seconds at the speed limit.
        detector_range: ``delay_based``: detection range upstream of the stop line (m).
        min_time_loss: ``delay_based``: a vehicle counts when its time loss exceeds this (s).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_green: float = Field(5.0, gt=0)
    max_green: float = Field(50.0, gt=0)
    max_gap: float = Field(3.0, gt=0)
    detector_gap: float = Field(2.0, gt=0)
    detector_range: float = Field(100.0, gt=0)
    min_time_loss: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> ActuatedSettings:
        if self.min_green > self.max_green:
            raise ValueError(f"min_green ({self.min_green}) must be <= max_green ({self.max_green})")
        return self


class WebsterSettings(BaseModel):
    """Webster (1958) fixed-time plans from measured flows.

    Attributes:
        saturation_flow: saturation flow per lane (veh/h); ~1800 for passenger cars.
        min_cycle: shortest cycle allowed (s).
        max_cycle: longest cycle allowed (s); also used when the junction is oversaturated (Y >= 0.9).
        min_green: shortest green of any phase (s).
        design: ``peak`` times each junction for its busiest measurement interval (what a traffic
            engineer does for a peak-hour plan), ``mean`` for the average over the horizon.
        interval: length of the measurement intervals (s).
        measure_seed: SUMO seed of the measurement run (kept apart from evaluation seeds: a plan is
            timed from historical counts, not from the day it is judged on).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    saturation_flow: float = Field(1800.0, gt=0)
    min_cycle: float = Field(60.0, gt=0)
    max_cycle: float = Field(150.0, gt=0)
    min_green: float = Field(10.0, gt=0)
    design: Literal["peak", "mean"] = "peak"
    interval: float = Field(900.0, gt=0)
    measure_seed: int = Field(99_991, ge=0)

    @model_validator(mode="after")
    def _check(self) -> WebsterSettings:
        if self.min_cycle > self.max_cycle:
            raise ValueError(f"min_cycle ({self.min_cycle}) must be <= max_cycle ({self.max_cycle})")
        return self


class GreenWaveSettings(BaseModel):
    """``green_wave``: Webster plans with a common cycle and offsets along arterial chains (its
    flows, cycle limits and greens come from ``webster``).

    Attributes:
        progression_speed: speed of the green wave along the arterial (m/s): the design speed of
            the platoons, a little below the speed limit (12.5 m/s = 45 km/h on a 50 km/h road).
        max_cycle_factor: the common cycle is searched from the chain's longest Webster cycle up to
            this factor times it (and ``webster.max_cycle``) for the widest bands per second of
            cycle. 1 keeps the critical intersection's cycle: on wuxi-corridor (tuning seeds 11-15)
            the wider two-way bands of longer cycles cost more delay than they saved (mean delay
            50.0 s/veh at 1, 57.6 at 1.25, 58.5 at 1.5; webster 53.8).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    progression_speed: float = Field(12.5, gt=0)
    max_cycle_factor: float = Field(1.0, ge=1.0)


class GapOutSettings(BaseModel):
    """``gap_out``: vehicle-actuated control in Python on the env's approach zones
    (:class:`envs.heuristics.GapOut`). Its decisions run through the environment, so these are the
    environment settings it runs with (instead of the evaluation's ``env`` section).

    Attributes:
        delta_time: seconds between decisions (the detector polling interval).
        min_green: minimum green (s).
        max_green: maximum green (s).
        approach_zone: detector zone before the stop line (m); a green is extended while a vehicle
            moves inside it (25 m is about a 2-s gap at 50 km/h; measured best on wuxi-corridor).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    delta_time: float = Field(2.0, gt=0)
    min_green: float = Field(5.0, ge=0)
    max_green: float = Field(50.0, gt=0)
    approach_zone: float = Field(25.0, gt=0)

    def env_updates(self) -> dict[str, float | str]:
        """The environment fields this controller overrides."""
        return {"observation": "approach", **self.model_dump()}


class TimeLossSettings(BaseModel):
    """``time_loss``: delay-based actuated control in Python on the env's time-loss detectors
    (:class:`envs.heuristics.TimeLoss`, after SUMO's ``delay_based``). Its decisions run through the
    environment, so all fields but ``skip`` are the environment settings it runs with (instead of the
    evaluation's ``env`` section).

    Attributes:
        delta_time: seconds between decisions (the detector polling interval).
        min_green: minimum green (s).
        max_green: maximum green (s).
        detector_range: detector length before the stop line (m; SUMO's ``detectorRange``).
        min_time_loss: a vehicle holds its green once it has lost this many seconds since entering
            the detector (SUMO's ``minTimeLoss``).
        skip: give way to the next green with a vehicle on its detectors instead of the next green
            in cycle order (SUMO does not skip; skipping measured better through the env).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    delta_time: float = Field(2.0, gt=0)
    min_green: float = Field(5.0, ge=0)
    max_green: float = Field(50.0, gt=0)
    detector_range: float = Field(100.0, gt=0)
    min_time_loss: float = Field(1.0, ge=0)
    skip: bool = True

    def env_updates(self) -> dict[str, float]:
        """The environment fields this controller overrides."""
        return self.model_dump(exclude={"skip"})


class ControllerSettings(BaseModel):
    """Per-family controller settings (what :func:`evaluation.controllers.make_controller` reads)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actuated: ActuatedSettings = Field(default_factory=ActuatedSettings)
    webster: WebsterSettings = Field(default_factory=WebsterSettings)
    green_wave: GreenWaveSettings = Field(default_factory=GreenWaveSettings)
    gap_out: GapOutSettings = Field(default_factory=GapOutSettings)
    time_loss: TimeLossSettings = Field(default_factory=TimeLossSettings)


class EvalConfig(BaseModel):
    """An evaluation: controllers x scenarios x seeds.

    Attributes:
        scenarios: scenarios to evaluate on (strings are catalogue names or paths).
        controllers: controller specs (see :func:`evaluation.controllers.controller_names`).
        seeds: SUMO seeds, or a count ``n`` meaning seeds ``1..n`` (the same held-out seeds as
            training's periodic evaluation; training episodes use seeds >= 100000).
        reference: label of the controller the paired differences are taken against.
        workers: episodes run in parallel (one simulation each): worker processes, or Ray tasks in
            flight with ``executor: ray``; 0 runs them in this process (debugging, ``process`` only).
        executor: ``process`` (a spawn process pool on this machine) or ``ray`` (Ray tasks on a local
            Ray instance or a cluster; needs ``pip install -e ".[ray]"``). The results folder, the
            resumability and the metrics are the same.
        ray_address: with ``executor: ray``, the head's ``host:port`` (or ``auto``); ``None`` starts
            a local Ray instance with ``workers`` CPUs.
        out: results folder.
        cache_dir: scenario cache folder (``None``: the scenarios package default).
        env: environment settings for env-driven controllers (a learned policy brings its own).
        controller_settings: settings of the native controller families.
        series_period: sampling period of the time series (queue, throughput) in the results (s).
        twin: the live view and its risk alerts (:mod:`evaluation.twin`); with ``twin.record`` each
            episode also writes its per-step record for replay.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenarios: tuple[ScenarioSpec, ...] = (ScenarioSpec(name="wuxi-core"),)
    controllers: tuple[ControllerEntry, ...] = tuple(
        ControllerEntry.model_validate(c)
        for c in ("fixed_time", "webster", "actuated", "delay_based", "max_pressure")
    )
    seeds: tuple[int, ...] = (1, 2, 3)
    reference: str = "fixed_time"
    workers: int = Field(2, ge=0)
    executor: Literal["process", "ray"] = "process"
    ray_address: str | None = None
    out: str = "results/eval"
    cache_dir: str | None = None
    env: EnvConfig = Field(default_factory=EnvConfig)
    controller_settings: ControllerSettings = Field(default_factory=ControllerSettings)
    series_period: float = Field(60.0, gt=0)
    twin: TwinConfig = Field(default_factory=TwinConfig)

    @field_validator("scenarios", mode="before")
    @classmethod
    def _scenarios(cls, value: Any) -> Any:
        if isinstance(value, (str, dict)):
            value = [value]
        return [{"name": v} if isinstance(v, str) else v for v in value]

    @field_validator("controllers", mode="before")
    @classmethod
    def _controllers(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        return expand_penetrations(value)

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                raise ValueError("a seed count must be >= 1")
            return list(range(1, value + 1))
        return value

    @model_validator(mode="after")
    def _check(self) -> EvalConfig:
        if not self.controllers:
            raise ValueError("controllers: give at least one controller")
        if not self.scenarios:
            raise ValueError("scenarios: give at least one scenario")
        if not self.seeds:
            raise ValueError("seeds: give at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: {list(self.seeds)} has duplicates")
        labels = [c.label for c in self.controllers]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"controllers: duplicate labels {dupes}; give each a label (label=spec)")
        if self.ray_address is not None and self.executor != "ray":
            raise ValueError(
                f"ray_address {self.ray_address!r} is set but executor is {self.executor!r}; "
                "set executor to 'ray' (--executor ray) or drop the address"
            )
        if self.executor == "ray" and self.workers == 0:
            raise ValueError(
                "workers=0 runs the episodes in this process, which the Ray executor cannot; "
                "set workers >= 1 (Ray tasks in flight) or executor 'process'"
            )
        if self.ray_address is not None:
            parse_address(self.ray_address, "ray_address")
        scen = [s.label for s in self.scenarios]
        if len(set(scen)) != len(scen):
            raise ValueError(f"scenarios: duplicate entries {scen}")
        return self


def expand_penetrations(entries: Any) -> Any:
    """Controller entries with each ``penetrations: [p, ...]`` mapping expanded into one entry per
    penetration (``sensing.penetration = p``, label ``<label>_p<percent>``, sweep ``<label>``), so a
    delay-vs-penetration sweep is one line per controller in YAML."""
    if not isinstance(entries, (list, tuple)):
        return entries
    out: list[Any] = []
    for e in entries:
        if not (isinstance(e, dict) and "penetrations" in e):
            out.append(e)
            continue
        e = dict(e)
        ps = e.pop("penetrations")
        if not isinstance(ps, (list, tuple)) or not ps or not all(isinstance(x, (int, float)) for x in ps):
            raise ValueError(f"controllers: penetrations {ps!r} must be a non-empty list of shares in [0, 1]")
        label = slug(str(e.get("label") or e.get("spec", "")))
        sensing = dict(e.pop("sensing", None) or {})
        sensing.setdefault("model", "connected")
        for p in ps:
            out.append(
                dict(
                    e,
                    label=f"{label}_p{100 * float(p):g}",
                    sweep=label,
                    sensing=dict(sensing, penetration=p),
                )
            )
    return out


def make_eval_config(data: dict[str, Any] | EvalConfig | None = None, **overrides: Any) -> EvalConfig:
    """Validate a dict (plus overrides) into an :class:`EvalConfig`.

    Raises:
        ConfigError: a field is unknown or invalid; the message names it.
    """
    base: dict[str, Any] = data.model_dump() if isinstance(data, EvalConfig) else dict(data or {})
    base.update({k: v for k, v in overrides.items() if v is not None})
    return validate(EvalConfig, base, "eval")


def load_eval_config(path: str | Path | None, **overrides: Any) -> EvalConfig:
    """Read an evaluation YAML file and apply overrides (``None`` values are ignored).

    Raises:
        ConfigError: missing/unreadable/malformed file or an invalid field.
    """
    data: dict[str, Any] = {}
    if path is not None:
        data = read_yaml_mapping(path, "configs/eval/")
    try:
        return make_eval_config(data, **overrides)
    except ConfigError as exc:
        raise ConfigError(f"{path if path is not None else 'config'}: {exc}") from None
