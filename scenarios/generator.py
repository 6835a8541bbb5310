"""Random road networks and demands for training one policy across many layouts (issue 13).

A name ``generated:<family>`` plus a scenario seed ``K`` stands for one variant, drawn
deterministically from ``K``: the same ``(family, K)`` gives byte-identical net and demand files,
other seeds other nets. Families (:data:`FAMILIES`):

* ``grid``: ``netgenerate --grid``, 2x2 to 5x5 signals, 150-600 m blocks, 1-3 lanes per direction,
  and one of four left-turn treatments: ``permitted`` (no pocket, lefts yield: 2 greens),
  ``protected`` (pocket + protected left phase: 4 greens), ``split`` (``--tls.layout incoming``,
  each approach alone: 4 greens) or ``eight`` (pocket + FRAP's eight phases, :mod:`.eight_phase`).
* ``irregular``: ``netgenerate --rand`` (grid-like with ``--rand.grid`` or not): T-, 4- and 5-arm
  junctions with 2-5 greens; junctions with a single green get no signal.
* ``spider``: ``netgenerate --spider``, 3-6 radials and 1-3 rings, a signalised 3- to 6-arm centre
  (3-6 greens) or none (T-junctions on the inner ring).
* ``arterial``: ``netgenerate --grid`` with one row: an isolated junction or an arterial of 2-4
  signals (the smallest nets: a junction with no signalised neighbour, like ``wuxi-single``),
  with the grid family's blocks, lanes and left-turn treatments.
* ``mixed``: one of grid / irregular / spider, picked by the seed (``generated:mixed`` seed K
  builds the variant ``K`` of the family it picks; ``arterial`` is not among them, so the variants
  of ``mixed`` did not change when it was added).

Every net has at least two signals with two or more greens (one for ``arterial``) and at most
:data:`MAX_SIGNALS`.
Demand is the catalogue's (:mod:`scenarios.demand`): fringe-to-fringe routes from turning shares,
Poisson ``<flow>``s whose rate follows a ramp / peak / decline profile with the peak inside the
horizon, from light (80-100 veh/h per entering lane at peak) to saturated (280-500 by family,
:data:`PEAK_PER_LANE`); SUMO's ``--seed`` draws the arrivals anew each episode. Builds go into
the catalogue's cache (:func:`scenarios.builder.cached_build`), keyed by family, seed, horizon,
demand scale, SUMO and generator versions: a second resolve is a folder lookup.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from core.errors import ScenarioError
from scenarios import sumo_install
from scenarios.builder import cached_build, write_manifest
from scenarios.card import render_generated_card
from scenarios.catalogue import UniformRates
from scenarios.demand import TurnShares, peak_profile, sample_routes, write_flows
from scenarios.eight_phase import eight_phase_net
from scenarios.netinfo import NetInfo, read_net
from scenarios.networks import GridSpec, SignalPlan, SpiderSpec, generate_options, grid_net, spider_net
from scenarios.scenario import Scenario
from scenarios.toolrun import run_binary, strip_generated_header

PREFIX = "generated:"
FAMILIES = ("grid", "irregular", "spider", "arterial", "mixed")
MIXED_FROM = ("grid", "irregular", "spider")  # the families ``mixed`` picks from
MAX_SIGNALS = 25  # signals of the largest generated net (a 5x5 grid); trainers size slots by it
DEFAULT_HORIZON = 1800.0
GENERATOR_VERSION = 1  # bump when a variant's files change for the same seed
SUMO_ARGS = ("--time-to-teleport", "300")
LEFT_MODES = ("permitted", "protected", "split", "eight")
# Peak arrivals per entering lane (veh/h), light to saturated. Measured with plain sumo (static
# plans, 1800 s + 600 s drain): grid 444 -> mean time loss 195 s, no teleports; spider 395 -> 92
# vehicles waiting to enter; irregular 385 -> 137 teleports and 1875 still driving (gridlock: trips
# there cross more signals from entries inside the net), hence its lower range; at 228 the same
# 25-signal net still had 103 teleports and 810 driving (its short links spill back), while
# irregular seed 14 at 198 ran clear. Gridlock is possible at the top of every range.
PEAK_PER_LANE = {
    "grid": (100.0, 500.0),
    "spider": (100.0, 450.0),
    "irregular": (80.0, 280.0),
    "arterial": (100.0, 500.0),
}
MIN_SIGNALS = {"arterial": 1}  # usable signals of a variant; 2 for the other families
GRID_SIZES = {"grid": ((2, 5), (2, 5)), "arterial": ((1, 4), (1, 1))}  # nx and ny ranges, by family
FAMILY_SUMMARIES = {
    "grid": "2x2-5x5 grids, 150-600 m blocks, 1-3 lanes, lefts permitted/protected/split/8-phase",
    "irregular": "netgenerate --rand nets: T-, 4-, 5- and 6-arm junctions, 2-6 greens",
    "spider": "3-6 radials x 1-3 rings, a 3- to 6-arm signalised centre or T-junctions",
    "arterial": "an isolated junction or a 2-4 signal arterial, the grid's blocks, lanes and lefts",
    "mixed": "one of grid / irregular / spider, picked by the seed",
}


@dataclass(frozen=True)
class GridVariant:
    """A ``netgenerate --grid`` net: ``nx`` x ``ny`` signals, ``block`` m apart, ``left`` treatment."""

    nx: int
    ny: int
    block: float
    attach: float
    lanes: int
    left: str
    speed_kmh: float


@dataclass(frozen=True)
class IrregularVariant:
    """A ``netgenerate --rand`` net (its own ``net_seed``); ``grid_like`` adds ``--rand.grid``."""

    net_seed: int
    iterations: int
    grid_like: bool
    min_distance: float
    max_distance: float
    lanes: int
    turn_lanes: int
    speed_kmh: float


@dataclass(frozen=True)
class SpiderVariant:
    """A ``netgenerate --spider`` net; ``omit_center`` leaves T-junctions on the inner ring."""

    arms: int
    circles: int
    radius: float
    omit_center: bool
    lanes: int
    turn_lanes: int
    speed_kmh: float


@dataclass(frozen=True)
class DemandVariant:
    """Peak rate per entering lane (veh/h), turning shares and the peak's place in the horizon.

    ``ramp`` and ``peak`` are fractions of the horizon (rise from ``low`` to 1, then flat at 1);
    the rate declines to ``tail`` over the rest.
    """

    per_lane: float
    left: float
    right: float
    ramp: float
    peak: float
    low: float
    tail: float


Network = GridVariant | IrregularVariant | SpiderVariant


@dataclass(frozen=True)
class Variant:
    """One generated scenario: its family, seed, network, signal plan and demand."""

    family: str
    seed: int
    network: Network
    plan: SignalPlan
    demand: DemandVariant

    @property
    def name(self) -> str:
        """``generated:<family>:<seed>``: the scenario's name, which resolves back to it."""
        return f"{PREFIX}{self.family}:{self.seed}"


def is_generated(name: str) -> bool:
    """Whether ``name`` is a generator name (``generated:...``)."""
    return name.startswith(PREFIX)


def parse_name(name: str, seed: int = 0) -> tuple[str, int]:
    """``(family, seed)`` of ``generated:<family>`` (seed from the argument) or
    ``generated:<family>:<K>`` (seed ``K``; the argument must then be 0 or ``K``).

    Raises:
        ScenarioError: not ``generated:<family>[:<seed>]``, or an unknown family.
    """
    parts = name[len(PREFIX) :].split(":") if is_generated(name) else []
    family = parts[0] if parts else ""
    usage = f"use generated:<family> or generated:<family>:<seed> with a family in {', '.join(FAMILIES)}"
    if family not in FAMILIES or len(parts) > 2:
        what = f"unknown generator family {family!r}" if len(parts) <= 2 else "too many ':' parts"
        raise ScenarioError(f"Scenario {name!r}: {what}; {usage}.")
    if len(parts) == 2:
        if not parts[1].isdigit():
            raise ScenarioError(f"Scenario {name!r}: seed {parts[1]!r} is not a whole number; {usage}.")
        pinned = int(parts[1])
        if seed not in (0, pinned):
            raise ScenarioError(f"Scenario {name!r} pins seed {pinned} but seed={seed} was passed; drop one.")
        seed = pinned
    return family, int(seed)


def variant(family: str, seed: int) -> Variant:
    """The variant ``seed`` of ``family`` (pure Python, no SUMO: cheap).

    Raises:
        ScenarioError: unknown family or negative seed.
    """
    if family not in FAMILIES:
        raise ScenarioError(f"Unknown generator family {family!r}; families: {', '.join(FAMILIES)}.")
    if seed < 0:
        raise ScenarioError(f"generated:{family}: the seed must be >= 0, got {seed}.")
    rng = random.Random(f"{family}:{seed}")  # str seeds hash the same on every run and machine
    if family == "mixed":
        return variant(rng.choice(MIXED_FROM), seed)
    speed = rng.choice((40.0, 50.0, 60.0))
    network: Network
    if family in GRID_SIZES:
        (nx_low, nx_high), (ny_low, ny_high) = GRID_SIZES[family]
        network = GridVariant(
            nx=rng.randint(nx_low, nx_high),
            ny=rng.randint(ny_low, ny_high),
            block=float(rng.randrange(150, 601, 50)),
            attach=float(rng.randrange(150, 301, 50)),
            lanes=rng.randint(1, 3),
            left=rng.choice(LEFT_MODES),
            speed_kmh=speed,
        )
    elif family == "irregular":
        low = float(rng.randrange(150, 301, 50))
        network = IrregularVariant(
            net_seed=rng.randrange(2**31),
            iterations=rng.randint(20, 45),
            grid_like=rng.random() < 0.3,
            min_distance=low,
            max_distance=low + float(rng.randrange(100, 301, 50)),
            lanes=rng.randint(1, 3),
            turn_lanes=rng.choice((0, 1, 1)),
            speed_kmh=speed,
        )
    else:
        arms = rng.randint(3, 6)
        network = SpiderVariant(
            arms=arms,
            circles=rng.randint(1, 3),
            radius=float(rng.randrange(200, 501, 50)),
            omit_center=rng.random() < 0.4,
            lanes=rng.randint(1, 3),
            turn_lanes=rng.choice((0, 1, 1)),
            speed_kmh=speed,
        )
    plan = SignalPlan(cycle=rng.choice((90, 105, 120)), yellow=3, left_green=rng.choice((10, 15, 20)))
    left = rng.uniform(0.10, 0.30)
    low_rate, high_rate = PEAK_PER_LANE[family]
    demand = DemandVariant(
        per_lane=round(low_rate * (high_rate / low_rate) ** rng.random(), 1),  # log-uniform
        left=round(left, 3),
        right=round(rng.uniform(0.10, 0.25), 3),
        ramp=round(rng.uniform(0.15, 0.45), 3),
        peak=round(rng.uniform(0.15, 0.35), 3),
        low=round(rng.uniform(0.2, 0.6), 3),
        tail=round(rng.uniform(0.3, 0.8), 3),
    )
    return Variant(family, seed, network, plan, demand)


def build(
    name: str,
    seed: int = 0,
    *,
    cache_dir: Path | None = None,
    horizon: float | None = None,
    demand_scale: float = 1.0,
) -> Scenario:
    """Build (or fetch from the cache) the generated scenario ``name`` with scenario seed ``seed``.

    Args:
        name: ``generated:<family>`` or ``generated:<family>:<seed>``.
        seed: picks the variant (network and demand files); SUMO's ``--seed`` then draws arrivals.
        cache_dir: cache root (default: the catalogue's, :func:`scenarios.default_cache_dir`).
        horizon: episode length (s, default :data:`DEFAULT_HORIZON`); the demand profile, peak
            included, is fitted to it.
        demand_scale: multiplies every arrival rate.

    Raises:
        ScenarioError: malformed name, unknown family, bad horizon or scale, or a failing SUMO tool.
    """
    family, seed = parse_name(name, seed)
    return build_variant(
        variant(family, seed), cache_dir=cache_dir, horizon=horizon, demand_scale=demand_scale
    )


def build_variant(
    v: Variant, *, cache_dir: Path | None = None, horizon: float | None = None, demand_scale: float = 1.0
) -> Scenario:
    """Build (or fetch from the cache) the scenario of an explicit :class:`Variant` (e.g. a
    :func:`variant` with fields replaced); see :func:`build`."""
    horizon = float(DEFAULT_HORIZON if horizon is None else horizon)
    if horizon <= 0:
        raise ScenarioError(f"{v.name}: horizon must be > 0 seconds, got {horizon}.")
    if demand_scale <= 0:
        raise ScenarioError(f"{v.name}: demand_scale must be > 0, got {demand_scale}.")
    payload = json.dumps(
        [repr(v), horizon, float(demand_scale), _sumo_version(), GENERATOR_VERSION], sort_keys=True
    )
    key = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return cached_build(
        cache_dir,
        f"generated-{v.family}-seed{v.seed}-{key}",
        v.name,
        lambda folder: _build_files(v, folder, horizon, float(demand_scale)),
    )


@functools.lru_cache(maxsize=1)
def _sumo_version() -> str:
    return sumo_install.version()


def _build_files(v: Variant, folder: Path, horizon: float, demand_scale: float) -> None:
    net = read_net(_make_net(v, folder))
    _check(v, net)
    d = v.demand
    routes = sample_routes(
        net, TurnShares(d.left, 1.0 - d.left - d.right, d.right), folder, v.seed, max_signals=10
    )
    rates = {src: UniformRates(d.per_lane * v.network.lanes).rate(src) for src in net.sources}
    slices = peak_profile(horizon, horizon / 12, d.ramp * horizon, d.peak * horizon, d.low, d.tail)
    demand = folder / "demand.rou.xml"
    expected = write_flows(demand, routes, rates, slices, demand_scale)
    card = render_generated_card(
        v.name, describe_variant(v), net, rates, slices, demand_scale, expected, horizon, SUMO_ARGS
    )
    (folder / "card.md").write_text(card, encoding="utf-8")
    write_manifest(
        folder, v.name, net.path, demand, horizon, SUMO_ARGS, v.seed, demand_scale, GENERATOR_VERSION
    )


def _make_net(v: Variant, folder: Path) -> Path:
    n, plan = v.network, v.plan
    if isinstance(n, GridVariant):
        pocket = min(80.0, n.block / 3)
        spec = GridSpec(n.nx, n.ny, n.block, n.attach, n.lanes, n.speed_kmh, pocket)
        extra = ["--tls.layout", "incoming"] if n.left == "split" else []
        net = grid_net(folder, spec, plan, turn_lanes=0 if n.left == "permitted" else 1, extra=extra)
        if n.left == "eight":
            eight_phase_net(net, plan)
        return net
    if isinstance(n, SpiderVariant):
        spec = SpiderSpec(n.arms, n.circles, n.radius, n.omit_center, 200.0, n.lanes, n.speed_kmh, 60.0)
        extra = [] if n.omit_center else ["--tls.set", "A1"]  # netgenerate leaves the centre unsignalised
        return spider_net(folder, spec, plan, turn_lanes=n.turn_lanes, extra=extra)
    return _irregular_net(n, plan, folder)


def _irregular_net(n: IrregularVariant, plan: SignalPlan, folder: Path) -> Path:
    """netgenerate --rand with every junction signalised, then again (same seed, same net) with
    the single-green ones (bends, merges) and those beyond :data:`MAX_SIGNALS` unsignalised."""
    net = folder / "net.net.xml"
    args: list[str | float | int | Path] = [
        "--rand",
        "--seed",
        n.net_seed,
        "--rand.iterations",
        n.iterations,
        "--rand.min-distance",
        n.min_distance,
        "--rand.max-distance",
        n.max_distance,
        *(["--rand.grid"] if n.grid_like else []),
        *generate_options(n.lanes, n.speed_kmh, 60.0, n.turn_lanes),
        *plan.options(),
        "-o",
        net,
    ]
    run_binary("netgenerate", args)
    signals = read_net(net).signals
    keep = [s.tls_id for s in signals if s.n_greens >= 2][:MAX_SIGNALS]
    drop = sorted(s.tls_id for s in signals if s.tls_id not in keep)
    if drop:
        run_binary("netgenerate", [*args, "--tls.unset", ",".join(drop)])
    strip_generated_header(net)
    return net


def _check(v: Variant, net: NetInfo) -> None:
    usable = [s for s in net.signals if s.n_greens >= 2]
    if len(usable) < MIN_SIGNALS.get(v.family, 2) or len(net.signals) > MAX_SIGNALS or not net.sources:
        raise ScenarioError(
            f"{v.name}: the generated net has {len(usable)} signals with two or more greens "
            f"({len(net.signals)} in all, at most {MAX_SIGNALS}) and {len(net.sources)} entries; "
            "every variant needs its family's minimum, this is a bug in the generator: report the name."
        )


def describe_variant(v: Variant) -> list[tuple[str, str]]:
    """``(parameter, value)`` rows of a variant, for its card."""
    rows = [("Family", v.family), ("Scenario seed", str(v.seed))]
    rows += [(f.name, str(getattr(v.network, f.name))) for f in dataclasses.fields(v.network)]
    rows += [
        ("signal plan", f"cycle {v.plan.cycle} s, yellow {v.plan.yellow} s, left {v.plan.left_green} s"),
        *((f"demand {f.name}", str(getattr(v.demand, f.name))) for f in dataclasses.fields(v.demand)),
    ]
    return rows
