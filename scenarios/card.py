"""Scenario cards: markdown that says what a scenario models and where every number comes from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from scenarios.catalogue import MEASURED, Entry
from scenarios.city import CityLayout, CitySpec
from scenarios.city_demand import CityRoutes, GravityDemand
from scenarios.demand import Slice
from scenarios.netinfo import NetInfo


def render_card(
    spec: Entry,
    net: NetInfo,
    rates: Mapping[str, float],
    slices: Sequence[Slice],
    demand_scale: float,
    expected: float,
    horizon: float,
    seed: int,
) -> str:
    """Markdown card of a built catalogue scenario."""
    peak = sum(rates.values()) * demand_scale
    phases = Counter((s.n_greens, s.incoming_lanes) for s in net.signals)
    phase_lines = [
        f"- {n} signal(s) with {g} green phases and {lanes} incoming lanes"
        for (g, lanes), n in sorted(phases.items())
    ]
    lines = [
        *_head(spec),
        "## Network",
        "",
        f"- Signals: **{len(net.signals)}**, fixed-time programmes from netconvert "
        f"(cycle {spec.plan.cycle} s, yellow {spec.plan.yellow} s, protected left "
        f"{spec.plan.left_green} s where a left pocket exists).",
        *phase_lines,
        f"- Edges: {len(net.edges)}, lanes: {net.lanes}; entries: {len(net.sources)}, exits: "
        f"{len(net.sinks)}.",
        "",
        "## Demand",
        "",
        f"Fringe-to-fringe routes sampled by `jtrrouter` from turning shares (left "
        f"{spec.shares.left:.0%}, through {spec.shares.through:.0%}, right {spec.shares.right:.0%}; "
        f'build seed {seed}), released as `<flow>`s with Poisson arrivals (`period="exp(rate)"`), '
        "so SUMO's `--seed` changes the realised demand of every episode. "
        f"Demand scale {demand_scale:g}; peak {peak:.0f} veh/h entering; expected "
        f"{expected:.0f} vehicles over the horizon.",
        "",
        "| Period (s) | Rate factor | Entering veh/h |",
        "|---|---|---|",
        *(f"| {s.begin:.0f}-{s.end:.0f} | {s.factor:.2f} | {peak * s.factor:.0f} |" for s in slices),
        *_tail(spec, horizon),
    ]
    return "\n".join(lines)


def render_city_card(
    spec: Entry,
    layout: CityLayout,
    net: NetInfo,
    routed: CityRoutes,
    slices: Sequence[Slice],
    demand_scale: float,
    expected: float,
    horizon: float,
    seed: int,
) -> str:
    """Markdown card of a built city scenario (:mod:`scenarios.city`)."""
    city, gravity = spec.network, spec.rates
    assert isinstance(city, CitySpec) and isinstance(gravity, GravityDemand)
    peak = sum(routed.rates.values()) * demand_scale
    greens = Counter(s.n_greens for s in net.signals)
    width, height = layout.extent
    exact = (
        "exactly the target" if len(net.signals) == city.target_signals else f"target {city.target_signals}"
    )
    lines = [
        *_head(spec),
        "## Network",
        "",
        f"- Signals: **{len(net.signals)}** ({exact}); fixed-time programmes from netconvert (cycle "
        f"{spec.plan.cycle} s, yellow {spec.plan.yellow} s, protected left {spec.plan.left_green} s "
        "where a left pocket exists):",
        f"  {layout.count('A')} arterial crossings, {layout.count('S')} secondary-street junctions, "
        f"{layout.count('C') + layout.count('K')} in the old core and on its ring road, "
        f"{layout.count('T')} interchange ramp terminals.",
        *(f"- {n} signal(s) with {g} green phases" for g, n in sorted(greens.items())),
        f"- Ground grid {width / 1000:.1f} x {height / 1000:.1f} km ({width * height / 1e6:.0f} km^2), "
        f"{city.arterial_lines} arterials each way.",
        f"- Expressways: {layout.expressway_km:.1f} km (ring + {city.expressway.radials} radials), "
        f"{layout.interchanges} interchanges with the ground network; no expressway junction has a signal.",
        f"- Edges: {len(net.edges)}, lanes: {net.lanes}.",
        "",
        "## Demand",
        "",
        f"Gravity model over {len(layout.districts)} districts (weight = signals in the district, decay "
        f"{gravity.decay_km:g} km): {routed.pairs} district "
        f"pairs, mean centroid distance {routed.mean_km:.1f} km; routes by `duarouter` (build seed "
        f"{seed}), {routed.expressway_share:.0%} of trips use an expressway. Released as one Poisson "
        '`<flow>` per origin district and 5-minute slice (`period="exp(rate)"`) over a route '
        "distribution, so SUMO's `--seed` draws the vehicles and their destinations anew each "
        f"episode. Demand scale {demand_scale:g}; peak {peak:.0f} trips/h; expected {expected:.0f} "
        "vehicles over the horizon.",
        "",
        "| Period (s) | Rate factor | Departing veh/h |",
        "|---|---|---|",
        *(f"| {s.begin:.0f}-{s.end:.0f} | {s.factor:.2f} | {peak * s.factor:.0f} |" for s in slices),
        *_tail(spec, horizon),
    ]
    return "\n".join(lines)


def _head(spec: Entry) -> list[str]:
    return [
        f"# {spec.name}",
        "",
        spec.models,
        "",
        "## Parameters and their source (/work/shared/WUXI.md)",
        "",
        "| Parameter | Value | WUXI.md fact |",
        "|---|---|---|",
        *(f"| {p} | {v} | {f} |" for p, v, f in spec.facts),
        "",
    ]


def _tail(spec: Entry, horizon: float) -> list[str]:
    return [
        "",
        f"Horizon: **{horizon:.0f} s** (step length 1 s; SUMO options: {' '.join(spec.sumo_args)}).",
        "",
        "## Measured (plain `sumo`, build seed 0, SUMO --seed 1, 3600 s horizon + 900 s drain)",
        "",
        MEASURED.get(spec.name, f"Not measured yet: run `python -m scenarios calibrate {spec.name}`."),
        "",
    ]


def render_generated_card(
    name: str,
    parameters: Sequence[tuple[str, str]],
    net: NetInfo,
    rates: Mapping[str, float],
    slices: Sequence[Slice],
    demand_scale: float,
    expected: float,
    horizon: float,
    sumo_args: Sequence[str],
) -> str:
    """Markdown card of a generated scenario (:mod:`scenarios.generator`): its drawn parameters,
    what the net came out as, and the demand profile."""
    peak = sum(rates.values()) * demand_scale
    shapes = Counter((s.n_greens, s.incoming_lanes, s.n_links) for s in net.signals)
    lines = [
        f"# {name}",
        "",
        "A random network from `scenarios.generator` (issue 13): drawn from its scenario seed, built "
        "with SUMO's netgenerate/netconvert; no Wuxi fact behind it.",
        "",
        "## Parameters (drawn from the seed)",
        "",
        "| Parameter | Value |",
        "|---|---|",
        *(f"| {p} | {v} |" for p, v in parameters),
        "",
        "## Network",
        "",
        f"- Signals: **{len(net.signals)}**; edges: {len(net.edges)}, lanes: {net.lanes}; entries: "
        f"{len(net.sources)}, exits: {len(net.sinks)}.",
        *(
            f"- {n} signal(s) with {g} green phases, {lanes} incoming lanes, {links} movements"
            for (g, lanes, links), n in sorted(shapes.items())
        ),
        "",
        "## Demand",
        "",
        "Fringe-to-fringe routes sampled by `jtrrouter` from the turning shares, released as Poisson "
        "`<flow>`s, so SUMO's `--seed` changes the realised demand of every episode. "
        f"Demand scale {demand_scale:g}; peak {peak:.0f} veh/h entering; expected {expected:.0f} "
        "vehicles over the horizon.",
        "",
        "| Period (s) | Rate factor | Entering veh/h |",
        "|---|---|---|",
        *(f"| {s.begin:.0f}-{s.end:.0f} | {s.factor:.2f} | {peak * s.factor:.0f} |" for s in slices),
        "",
        f"Horizon: **{horizon:.0f} s** (step length 1 s; SUMO options: {' '.join(sumo_args)}).",
        "",
    ]
    return "\n".join(lines)
