"""Signal controllers the harness can evaluate, behind one duck-typed interface, created by name.

Two kinds (``native`` says which):

* **env-driven** (``native = False``): act through :class:`envs.TrafficSignalEnv` (phase mode: the
  env inserts yellow/all-red and enforces min/max green). ``reset(env, seed)`` once per episode,
  then ``act(observations, infos) -> {agent: action}`` every decision. An optional ``env_config``
  attribute (an :class:`~envs.config.EnvConfig`) overrides the evaluation's env settings; a learned
  policy uses it to get the observations it was trained on.
* **native** (``native = True``): SUMO runs the signals itself (static plans, SUMO's actuated
  logics). ``sumo_inputs(scenario, workdir) -> NativeInputs`` returns the extra SUMO inputs; the
  harness calls it once per scenario (cached in ``workdir``) and then only steps the simulation.

Learned policies plug in by prefix without this package importing them: ``ppo:PATH`` ->
``agents.controller.load_policy_controller(PATH)``, ``onnx:PATH`` ->
``agents.runtime.load_onnx_controller(PATH)``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.errors import ConfigError
from evaluation.config import ControllerSettings
from scenarios.scenario import Scenario


@dataclass(frozen=True)
class NativeInputs:
    """What a native controller adds to a SUMO run.

    Attributes:
        additional_files: additional files (``tlLogic`` programs, detectors), loaded after the
            scenario's own.
        extra_args: further SUMO options.
        programs: ``{tls_id: program_id}`` the harness activates and verifies after start-up.
        info: what the controller computed (e.g. Webster cycles), recorded with the results.
    """

    additional_files: tuple[str, ...] = ()
    extra_args: tuple[str, ...] = ()
    programs: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def apply(self, scenario: Scenario) -> Scenario:
        """``scenario`` with these additional files loaded after its own (SUMO accepts ``-a`` only
        once, and activates the program loaded last)."""
        extra = tuple(Path(p) for p in self.additional_files)
        return dataclasses.replace(scenario, additional_files=tuple(scenario.additional_files) + extra)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> NativeInputs:
        data = json.loads(text)
        return cls(
            tuple(data["additional_files"]),
            tuple(data["extra_args"]),
            dict(data["programs"]),
            dict(data["info"]),
        )


@runtime_checkable
class Controller(Protocol):
    """What every controller has. See the module docstring for the two kinds' methods."""

    name: str
    native: bool


@runtime_checkable
class EnvController(Controller, Protocol):
    """A controller that acts through :class:`envs.TrafficSignalEnv`."""

    def reset(self, env: Any, seed: int | None = None) -> None: ...

    def act(self, observations: dict[str, Any], infos: dict[str, dict]) -> dict[str, int]: ...


@runtime_checkable
class NativeController(Controller, Protocol):
    """A controller that SUMO runs itself, from extra inputs."""

    def sumo_inputs(self, scenario: Scenario, workdir: Path) -> NativeInputs: ...


Factory = Callable[[str | None, ControllerSettings], Controller]
_REGISTRY: dict[str, Factory] = {}
_PLUGINS: dict[str, tuple[str, str]] = {
    "ppo": ("agents.controller", "load_policy_controller"),
    "onnx": ("agents.runtime", "load_onnx_controller"),
}


def register_controller(name: str, factory: Factory) -> None:
    """Register ``factory(argument, settings) -> Controller`` under ``name``."""
    _REGISTRY[name] = factory


def controller_names() -> list[str]:
    """Registered controller names, plus the plug-in prefixes (``ppo:PATH``, ``onnx:PATH``)."""
    _load_builtins()
    return sorted(_REGISTRY) + [f"{p}:PATH" for p in _PLUGINS]


def make_controller(spec: str, settings: ControllerSettings | None = None) -> Controller:
    """Create a controller from its spec string, e.g. ``"max_pressure"`` or ``"ppo:runs/x"``.

    Raises:
        ConfigError: unknown name or missing plug-in path; the message lists the known names.
    """
    _load_builtins()
    settings = settings or ControllerSettings()
    name, sep, arg = spec.partition(":")
    if name in _PLUGINS:
        if not arg:
            raise ConfigError(f"controller {spec!r}: give the policy path, e.g. {name}:runs/my-run.")
        module, func = _PLUGINS[name]
        try:
            loader = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"controller {spec!r}: cannot import {module}.{func} ({exc}); "
                "install the training extras (pip install -e .)."
            ) from None
        return loader(arg)
    if name not in _REGISTRY:
        raise ConfigError(
            f"controller {spec!r} is unknown; known controllers: {', '.join(controller_names())}."
        )
    return _REGISTRY[name](arg if sep else None, settings)


_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    from evaluation.controllers import actuated, fixed, green_wave, heuristics

    for module in (actuated, fixed, green_wave, heuristics):
        module.register(register_controller)


__all__ = [
    "Controller",
    "EnvController",
    "NativeController",
    "NativeInputs",
    "controller_names",
    "make_controller",
    "register_controller",
]
