"""One way from what a user names (a catalogue name, a path, a Scenario) to a :class:`Scenario`.

Every entry point and library that takes a scenario goes through :func:`resolve`, so a name means
the same thing everywhere and an unknown name gets the same message: the catalogue's names and the
file types that load.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from core.errors import ScenarioError
from scenarios.builder import build, list_scenarios
from scenarios.external import load
from scenarios.generator import FAMILIES, PREFIX, is_generated
from scenarios.generator import build as build_generated
from scenarios.scenario import Scenario

LOADABLE = (".sumocfg", ".net.xml")


def resolve(
    scenario: Scenario | str | Path,
    *,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    horizon: float | None = None,
    demand_scale: float = 1.0,
) -> Scenario:
    """The scenario a name or path stands for.

    Args:
        scenario: a :class:`Scenario` (returned as it is, shortened to ``horizon`` if given), a
            catalogue name (built, cached), a generator name ``generated:<family>`` (variant
            ``seed``; built, cached: :mod:`scenarios.generator`), or a path to a ``.sumocfg`` (or a ``.net.xml`` whose
            demand the caller passes to :func:`scenarios.load` instead).
        seed: build seed of a catalogue scenario, or the variant of a generated one (network and
            demand files; not SUMO's seed).
        cache_dir: build cache (default: ``$WUXI_TSC_CACHE`` or ``~/.cache/wuxi-tsc/scenarios``).
        horizon: shorten the episode to this many seconds after its begin.
        demand_scale: multiply a catalogue scenario's demand (external demand is kept as it is).

    Raises:
        ScenarioError: not a catalogue name and not a loadable file (the message lists both), or an
            invalid file.
    """
    if isinstance(scenario, Scenario):
        return _shorten(scenario, horizon)
    name = str(scenario)
    builder = build_generated if is_generated(name) else build if name in list_scenarios() else None
    if builder is not None:
        return builder(
            name,
            seed=seed,
            cache_dir=Path(cache_dir) if cache_dir else None,
            horizon=horizon,
            demand_scale=demand_scale,
        )
    path = Path(name)
    if not path.exists():
        looks_like_file = name.endswith(LOADABLE) or "/" in name or path.suffix
        what = f"file {name!r} does not exist" if looks_like_file else f"{name!r} is not in the catalogue"
        raise ScenarioError(
            f"{what}. Catalogue scenarios: {', '.join(list_scenarios())} "
            f"(python -m scenarios list); generated networks: "
            f"{', '.join(PREFIX + f for f in FAMILIES)}; or pass a path to a {' / '.join(LOADABLE)}."
        )
    if demand_scale != 1.0:
        raise ScenarioError(
            f"{name}: demand_scale applies to catalogue scenarios only; scale an "
            "external scenario's demand in its route files."
        )
    return _shorten(load(path), horizon)


def _shorten(scenario: Scenario, horizon: float | None) -> Scenario:
    if horizon is None:
        return scenario
    if horizon <= 0:
        raise ScenarioError(f"{scenario.name}: horizon must be > 0 seconds, got {horizon}.")
    return dataclasses.replace(scenario, end=scenario.begin + horizon)
