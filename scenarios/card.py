"""Scenario cards: markdown that says what a scenario models and where every number comes from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from scenarios.catalogue import MEASURED, Entry
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
        "",
        f"Horizon: **{horizon:.0f} s** (step length 1 s; SUMO options: {' '.join(spec.sumo_args)}).",
        "",
        "## Measured (plain `sumo`, build seed 0, SUMO --seed 1, 3600 s horizon + 900 s drain)",
        "",
        MEASURED.get(spec.name, f"Not measured yet: run `python -m scenarios calibrate {spec.name}`."),
        "",
    ]
    return "\n".join(lines)
