"""Discovering the controlled intersections of a running simulation.

Reads each traffic light's program and controlled links once, and turns them into the static
:class:`~envs.state.IntersectionSpec` and :class:`~envs.signals.PhaseSet` used every step.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from core.errors import ConfigError, ScenarioError
from envs.connection import SumoConnection
from envs.signals import PhaseSet
from envs.state import IntersectionSpec

MAX_HOPS = 8  # lanes followed from a signal's exit before giving up on reaching another signal


def discover(
    conn: SumoConnection, yellow_time: float | None, only: tuple[str, ...] | None = None
) -> dict[str, tuple[IntersectionSpec, PhaseSet]]:
    """Return ``{tls_id: (spec, phases)}`` for every controllable signal (two or more greens).

    Args:
        conn: a started simulation.
        yellow_time: override of the net's yellow time.
        only: restrict to these ids (``EnvConfig.agents``).

    Raises:
        ScenarioError: the network has no controllable traffic light.
        ConfigError: ``only`` names a traffic light that does not exist or cannot be controlled.
    """
    ids = conn.traffic_light_ids()
    if not ids:
        raise ScenarioError(
            f"Scenario {conn.scenario.name!r}: the net {conn.scenario.net_file} has no traffic lights. "
            "Build it with signals (netconvert --tls.guess, or junction type traffic_light)."
        )
    if only is not None:
        unknown = [t for t in only if t not in ids]
        if unknown:
            raise ConfigError(
                f"env.agents: traffic lights {unknown} are not in the scenario; "
                f"available: {', '.join(sorted(ids)[:20])}{' ...' if len(ids) > 20 else ''}."
            )
        ids = tuple(only)
    found: dict[str, tuple[IntersectionSpec, PhaseSet]] = {}
    skipped = []
    for tls in ids:
        phases = PhaseSet.from_program(tls, conn.program_phases(tls), yellow_time)
        if phases.n_greens < 2:
            skipped.append(tls)
            continue
        found[tls] = (_spec(conn, tls, phases), phases)
    if only is not None and skipped:
        raise ConfigError(f"env.agents: {skipped} have a single green phase and cannot be controlled.")
    if skipped:
        warnings.warn(
            f"{len(skipped)} traffic lights have a single green phase and keep their static "
            f"program: {skipped[:5]}",
            stacklevel=2,
        )
    if not found:
        raise ScenarioError(
            f"Scenario {conn.scenario.name!r}: no traffic light has two or more green "
            "phases, so there is nothing to control."
        )
    return _with_neighbours(conn, found)


def _spec(conn: SumoConnection, tls: str, phases: PhaseSet) -> IntersectionSpec:
    in_lanes: list[str] = []
    out_lanes: list[str] = []
    links: list[tuple[int, int, int]] = []  # (signal index, in index, out index)
    for sig_index, group in enumerate(conn.controlled_links(tls)):
        for in_lane, out_lane, _via in group[:1]:
            if in_lane not in in_lanes:
                in_lanes.append(in_lane)
            if out_lane not in out_lanes:
                out_lanes.append(out_lane)
            links.append((sig_index, in_lanes.index(in_lane), out_lanes.index(out_lane)))
    if not links:
        raise ScenarioError(f"Traffic light {tls!r} controls no lanes; check its tlLogic and connections.")
    in_static = np.array([conn.lane_static(lane) for lane in in_lanes], dtype=float)
    out_static = np.array([conn.lane_static(lane) for lane in out_lanes], dtype=float)
    sig = np.array([s for s, _, _ in links])
    green_links = np.array([[g[s] in "Gg" if s < len(g) else False for s in sig] for g in phases.greens])
    return IntersectionSpec(
        tls_id=tls,
        in_lanes=tuple(in_lanes),
        out_lanes=tuple(out_lanes),
        in_length=in_static[:, 0],
        in_max_speed=in_static[:, 1],
        out_length=out_static[:, 0],
        link_lanes=np.array([(i, o) for _, i, o in links], dtype=int),
        green_links=green_links,
    )


def _with_neighbours(
    conn: SumoConnection, found: dict[str, tuple[IntersectionSpec, PhaseSet]]
) -> dict[str, tuple[IntersectionSpec, PhaseSet]]:
    """Two signals are neighbours when traffic leaving one reaches the other without passing a third
    signal: from each outgoing lane, follow the lanes' connections (through edges that netconvert
    split, e.g. where a turn pocket starts, and through unsignalised junctions) up to
    :data:`MAX_HOPS` lanes, and stop at the first lane that enters a signal."""
    entering = {lane: t for t, (s, _) in found.items() for lane in s.in_lanes}
    reaches: dict[str, set[str]] = {t: set() for t in found}
    successors: dict[str, tuple[str, ...]] = {}
    for t, (spec, _) in found.items():
        frontier, seen = list(spec.out_lanes), set(spec.out_lanes)
        for _ in range(MAX_HOPS):
            nxt = []
            for lane in frontier:
                if lane in entering:
                    if entering[lane] != t:
                        reaches[t].add(entering[lane])
                    continue  # a signal: do not look past it
                if lane not in successors:
                    successors[lane] = conn.lane_successors(lane)
                nxt += [x for x in successors[lane] if x not in seen]
                seen.update(nxt)
            frontier = nxt
    result = {}
    for t, (spec, phases) in found.items():
        nbrs = sorted(u for u in found if u != t and (u in reaches[t] or t in reaches[u]))
        result[t] = (replace(spec, neighbours=tuple(nbrs)), phases)
    return result
