"""Wuxi traffic-signal-control scenarios: a catalogue of generated SUMO scenarios, and loaders.

Public API::

    list_scenarios() -> list[str]
    resolve(name_or_path, *, seed=0, cache_dir=None, horizon=None, demand_scale=1.0) -> Scenario
    build(name, seed=0, *, cache_dir=None, horizon=None, demand_scale=1.0) -> Scenario
    load(path, *, route_files=None, begin=None, end=None, additional_files=None) -> Scenario
    describe(name_or_path) -> str

Catalogue scenarios are generated with SUMO's own tools from the facts in WUXI.md and cached;
random networks ``generated:<family>`` (a variant per seed, :mod:`scenarios.generator`) likewise;
external scenarios (a ``.sumocfg`` or a ``.net.xml`` plus routes) are validated before use. Nothing
runs at import time, and this package never imports ``libsumo``/``traci``.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import ScenarioError
from scenarios.builder import build, default_cache_dir, list_scenarios
from scenarios.catalogue import CATALOGUE
from scenarios.external import load, summarise
from scenarios.resolve import resolve
from scenarios.scenario import Scenario

__all__ = [
    "CATALOGUE",
    "Scenario",
    "ScenarioError",
    "build",
    "default_cache_dir",
    "describe",
    "list_scenarios",
    "load",
    "resolve",
]


def describe(name_or_path: str | Path) -> str:
    """The card of a catalogue scenario (built or fetched from the cache), or a summary of a file.

    Args:
        name_or_path: a catalogue name, a ``.sumocfg``, or a ``.net.xml`` (with its demand
            unknown, only the network is summarised).

    Raises:
        ScenarioError: unknown name and no such file, or an invalid file.
    """
    path = Path(name_or_path)
    if path.name.endswith(".net.xml") and path.is_file():
        from scenarios.netinfo import read_net

        net = read_net(path)
        rows = [
            f"| {s.tls_id} | {s.n_phases} | {s.n_greens} | {s.incoming_lanes} | {s.cycle:.0f} |"
            for s in net.signals
        ]
        return "\n".join(
            [
                f"# {path.name} (network only; no demand given)",
                "",
                f"- Edges: {len(net.edges)}, lanes: {net.lanes}, signals: {len(net.signals)}",
                "",
                "| Signal | Phases | Greens | Incoming lanes | Cycle (s) |",
                "|---|---|---|---|---|",
                *rows,
                "",
            ]
        )
    scenario = resolve(name_or_path)
    return scenario.card or summarise(scenario)
