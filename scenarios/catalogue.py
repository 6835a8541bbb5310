"""The named Wuxi scenarios: network, signal plan, demand and the WUXI.md fact behind each value.

Each :class:`Entry` is pure data; :mod:`scenarios.builder` turns it into files. Demand rates were
calibrated with ``python -m scenarios calibrate NAME`` (static vs actuated signals, plain ``sumo``):
no gridlock under the fixed-time plan, yet clearly better under an adaptive (actuated) plan at peak.
The measured numbers are quoted in :data:`MEASURED` and printed in each card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scenarios.city import CitySpec
from scenarios.city_demand import GravityDemand
from scenarios.demand import TurnShares
from scenarios.networks import ArterialSpec, GridSpec, SignalPlan, SpiderSpec

Network = ArterialSpec | GridSpec | SpiderSpec | CitySpec


@dataclass(frozen=True)
class ArterialRates:
    """Peak arrival rates (veh/h) of an arterial net: both arterial ends, side streets by lane count."""

    arterial: float
    side_by_lanes: tuple[tuple[int, float], ...]
    side_lanes: tuple[int, ...]

    def rate(self, source: str) -> float:
        """Rate of a source edge (``W_J0``, ``E_J6``, ``N3_J3``, ``S3_J3``)."""
        if source.startswith(("W_", "E_")):
            return self.arterial
        junction = int(source.split("_")[0][1:])
        return dict(self.side_by_lanes)[self.side_lanes[junction]]


@dataclass(frozen=True)
class GridRates:
    """Peak rates of a netgenerate grid: heavier on the main axes (rows/columns by index)."""

    main: float
    minor: float
    main_rows: tuple[int, ...]
    main_cols: tuple[int, ...]

    def rate(self, source: str) -> float:
        """Rate of a source edge such as ``left1A1`` (row 1) or ``bottom2C0`` (column 2)."""
        m = re.match(r"^(left|right|top|bottom)(\d+)", source)
        if m is None:
            return 0.0
        side, k = m.group(1), int(m.group(2))
        on_main = k in (self.main_rows if side in ("left", "right") else self.main_cols)
        return self.main if on_main else self.minor


@dataclass(frozen=True)
class UniformRates:
    """The same peak rate at every source edge."""

    per_source: float

    def rate(self, source: str) -> float:
        """Rate of any source edge."""
        return self.per_source


Rates = ArterialRates | GridRates | UniformRates | GravityDemand


@dataclass(frozen=True)
class Entry:
    """A catalogue scenario.

    Attributes:
        name: catalogue name.
        summary: one line for ``python -m scenarios list``.
        models: what the scenario stands for (card text).
        network: net generator parameters.
        rates: peak arrival rate per source edge (a city: trips between districts).
        facts: (parameter, value, WUXI.md fact) rows of the card.
        plan: signal programme parameters.
        shares: left/through/right shares at every approach.
        horizon: default episode length (s).
        max_signals: drop sampled routes crossing more signals (rings only).
        sumo_args: SUMO options every run of the scenario should use.
    """

    name: str
    summary: str
    models: str
    network: Network
    rates: Rates
    facts: tuple[tuple[str, str, str], ...]
    plan: SignalPlan = field(default_factory=SignalPlan)
    shares: TurnShares = field(default_factory=TurnShares)
    horizon: float = 3600.0
    max_signals: int | None = None
    sumo_args: tuple[str, ...] = ("--time-to-teleport", "300")

    @property
    def n_signals(self) -> int:
        """Number of signalised junctions (known without building)."""
        net = self.network
        if isinstance(net, ArterialSpec):
            return net.n_signals
        if isinstance(net, GridSpec):
            return net.nx * net.ny
        if isinstance(net, CitySpec):
            return net.target_signals
        return net.arms * net.circles + (0 if net.omit_center else 1)


_ARTERIAL = ("Arterial lanes", "3 per direction", "Arterials: 6 lanes (3 each way)")
_SPEED = ("Speed limit", "50 km/h", "ground-level arterials 40-60 km/h (50 km/h typical)")
_CYCLE = ("Signal cycle", "120 s fixed time, 3 s yellow", "peak-hour cycles of about 120-135 s")
_LEFT = ("Left turns", "100 m pocket + protected 20 s left phase", "protected left turns are common")
_TURNS = (
    "Turning shares",
    "20 % left, 65 % through, 15 % right, no U-turns",
    "typical arterial movement mix (no Wuxi counts are public: an assumption)",
)
_PEAK = (
    "Time profile",
    "15 min ramp-up (0.55 -> 1), 30 min peak, 15 min decline (-> 0.65)",
    "a morning peak hour (peak-hour cycles are what the signal timing fact describes)",
)

_CORRIDOR_SIDES = (2, 1, 2, 2, 1, 2, 2)

# The city scenarios (issue 14): one generator (scenarios.city), two sizes.
_CITY_FACTS = (
    (
        "Arterials",
        "3+3 lanes, 50 km/h, left pockets 100 m",
        "Arterials: 6 lanes (3 each way); 50 km/h typical",
    ),
    (
        "Arterial spacing",
        "drawn uniformly from 500-1500 m (layout seed 1723)",
        "supergrid: arterial intersections typically 500 m - 1.5 km apart (superblocks ~1 km^2)",
    ),
    (
        "Secondary streets",
        "2+2 lanes, 40 km/h, through superblocks, signalised T-junctions with the arterials",
        "ground-level roads 40-60 km/h; lane count an assumption",
    ),
    (
        "Old core",
        "2x2 superblocks inside a ring road: 5x5 jittered, curved streets (2+2, 40 km/h), 15 % of "
        "links removed, one straight 3+3-lane spine",
        "old core inside the Jiefang Ring Road, irregular curved pattern; Zhongshan Road the spine",
    ),
    (
        "Expressways",
        "one ring (radius half the half-width) + 5 radials, 3+3 lanes, 80 km/h, grade-separated",
        "ring-plus-radial; 'one ring, five radials' of 80 km by 2011; expressways 6 lanes at 80 km/h",
    ),
    (
        "Interchanges",
        "single-point diamonds >= 1.5 km apart: 2-lane ramps to one signalised terminal on the arterial",
        "ramps to the ground network (interchange spacing an assumption)",
    ),
    _CYCLE,
    (
        "Left turns",
        "100 m pocket + protected 20 s left phase on 3-lane approaches",
        "protected left turns are common",
    ),
    _PEAK,
)

CATALOGUE: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry(
            name="wuxi-single",
            summary="one 4-arm arterial crossing, 3+3 lanes, protected lefts, 4 greens",
            models="One signalised crossing of two Wuxi ground-level arterials, the building block of "
            "every larger scenario: 3 through lanes each way plus a left-turn pocket on every "
            "approach and a four-stage plan (NS through, NS left, EW through, EW left).",
            network=ArterialSpec(n_signals=1, spacing=600.0, approach=400.0, lanes=3, side_lanes=(3,)),
            rates=ArterialRates(arterial=800.0, side_by_lanes=((3, 1600.0),), side_lanes=(3,)),
            facts=(
                _ARTERIAL,
                _SPEED,
                ("Approach length", "400 m", "arterial intersections typically 500 m - 1.5 km apart"),
                _CYCLE,
                _LEFT,
                _TURNS,
                _PEAK,
                (
                    "Peak demand",
                    "1600 veh/h per N/S approach, 800 veh/h per E/W approach",
                    "calibrated: critical N/S movements near saturation under the fixed plan",
                ),
            ),
        ),
        Entry(
            name="wuxi-corridor",
            summary="7 signals 600 m apart on a 3+3-lane arterial, 1-2 lane side streets",
            models="A Wuxi arterial corridor (a Zhongshan-Road-like spine) with seven signals 600 m "
            "apart; each crossing side street has 1 or 2 lanes each way. Arterial approaches "
            "have left pockets and protected lefts; side streets share one phase (3 greens).",
            network=ArterialSpec(
                n_signals=7,
                spacing=600.0,
                approach=300.0,
                lanes=3,
                side_lanes=_CORRIDOR_SIDES,
                side_speed_kmh=40.0,
            ),
            rates=ArterialRates(
                arterial=1400.0, side_by_lanes=((2, 400.0), (1, 250.0)), side_lanes=_CORRIDOR_SIDES
            ),
            facts=(
                _ARTERIAL,
                _SPEED,
                ("Signal spacing", "600 m", "arterial intersections typically 500 m - 1.5 km apart"),
                ("Side streets", "1-2 lanes each way, 40 km/h", "ground-level roads 40-60 km/h"),
                ("Number of signals", "7", "scale point: arterial corridor (5-8 signals)"),
                _CYCLE,
                _LEFT,
                _TURNS,
                _PEAK,
                (
                    "Peak demand",
                    "1400 veh/h at each arterial end, 400 (2-lane) / 250 (1-lane) "
                    "veh/h per side-street approach",
                    "calibrated: arterial heavier than side streets",
                ),
            ),
        ),
        Entry(
            name="wuxi-core",
            summary="downtown supergrid, 4x4 signals, 600 m blocks, morning peak",
            models="Downtown Wuxi between the big roads: a 4x4 supergrid of 3+3-lane arterials, "
            "600 m blocks, fringe-to-fringe flows with turning, heavier on two main axes "
            "(rows 1-2 and columns 1-2), over a one-hour morning peak.",
            network=GridSpec(nx=4, ny=4, block=600.0, attach=300.0),
            rates=GridRates(main=1200.0, minor=600.0, main_rows=(1, 2), main_cols=(1, 2)),
            facts=(
                _ARTERIAL,
                _SPEED,
                ("Block length", "600 m", "supergrid: arterial intersections 500 m - 1.5 km apart"),
                ("Number of signals", "16", "scale point: downtown supergrid (16-36 signals)"),
                _CYCLE,
                _LEFT,
                _TURNS,
                _PEAK,
                (
                    "Peak demand",
                    "1200 veh/h per main-axis entry, 600 veh/h per other entry",
                    "calibrated to the fixed plan's capacity (about 4x the ~3,000 veh/h of the Hangzhou 4x4 "
                    "data set, whose approaches have no left pockets)",
                ),
            ),
        ),
        Entry(
            name="wuxi-ring",
            summary="ring-plus-radial: 3 rings x 8 radials, 24 signals (3- and 4-arm)",
            models="Wuxi's ring-plus-radial structure in miniature: three rings 600 m apart crossed "
            "by eight radials; the centre is omitted, so the innermost ring has T-junctions "
            "(3 greens) and the outer rings 4-arm crossings (4 greens). Trips cross at most 5 "
            "signals (no circling of the ring).",
            network=SpiderSpec(arms=8, circles=3, radius=600.0, omit_center=True, attach=300.0),
            rates=UniformRates(per_source=500.0),
            max_signals=5,
            facts=(
                ("Structure", "3 rings x 8 radials", "ring-plus-radial ('two rings, twelve radials')"),
                _ARTERIAL,
                _SPEED,
                ("Ring spacing", "600 m", "arterial intersections typically 500 m - 1.5 km apart"),
                _CYCLE,
                _LEFT,
                _TURNS,
                _PEAK,
                ("Peak demand", "500 veh/h per radial entry", "calibrated: no gridlock under fixed time"),
            ),
        ),
        Entry(
            name="wuxi-district",
            summary="IoV pilot district, 14x14 = 196 signals, 600 m grid",
            models="A district the size of Wuxi's first internet-of-vehicles batch (211 intersections): "
            "a 14x14 supergrid of 3+3-lane arterials, 600 m blocks, three main axes each way.",
            network=GridSpec(nx=14, ny=14, block=600.0, attach=300.0),
            rates=GridRates(main=500.0, minor=250.0, main_rows=(3, 7, 10), main_cols=(3, 7, 10)),
            facts=(
                ("Number of signals", "196", "first IoV batch: 211 intersections"),
                _ARTERIAL,
                _SPEED,
                ("Block length", "600 m", "supergrid 500 m - 1.5 km"),
                _CYCLE,
                _LEFT,
                _TURNS,
                _PEAK,
                (
                    "Peak demand",
                    "500 veh/h per main-axis entry, 250 per other entry",
                    "calibrated: 900/450 gridlocked under fixed time",
                ),
            ),
        ),
        Entry(
            name="wuxi-zone",
            summary="IoV zone: 600 signals, supergrid + old core + expressway ring and radials",
            models="The internet-of-vehicles zone (about 600 intersections): the city generator at "
            "zone size. 16 arterials each way 500-1500 m apart with secondary streets through the "
            "superblocks, the irregular old core, and an expressway ring with five radials crossing "
            "the ground network grade-separated, joined to it by ramps at single-point diamond "
            "interchanges. One peak hour of trips between districts (gravity model).",
            network=CitySpec(target_signals=600, arterial_lines=16),
            rates=GravityDemand(trips_per_hour=13000.0),
            facts=(
                ("Number of signals", "600", "IoV zone: about 600 intersections over about 350 km^2"),
                *_CITY_FACTS,
                (
                    "Peak demand",
                    "13,000 trips/h between 17 districts (4x4 superblocks each, plus the core); "
                    "gravity model, weight = signals, decay 6 km",
                    "calibrated: the static plan carries the hour without gridlock (no Wuxi OD "
                    "data is public)",
                ),
            ),
            horizon=3600.0,
        ),
        Entry(
            name="wuxi-city",
            summary="the whole city: 1,723 signals, expressway ring + 5 radials, 50 districts",
            models="The whole city at the scale of Wuxi's 1,723 networked signals: 27 arterials each "
            "way 500-1500 m apart (about 25 x 25 km) with secondary streets through the "
            "superblocks, the irregular old core inside its ring road, and an expressway ring "
            "with five radials (about 80 km) crossing the ground network grade-separated, "
            "joined to it by ramps at single-point diamond interchanges. One peak hour of trips "
            "between 50 districts (gravity model).",
            network=CitySpec(target_signals=1723, arterial_lines=27),
            rates=GravityDemand(trips_per_hour=27000.0),
            facts=(
                ("Number of signals", "1,723 (exactly)", "all 1,723 traffic lights connected to one network"),
                *_CITY_FACTS,
                (
                    "Peak demand",
                    "27,000 trips/h between 50 districts (4x4 superblocks each, plus the core); "
                    "gravity model, weight = signals, decay 6 km",
                    "calibrated: the static plan carries the hour without gridlock (no Wuxi OD "
                    "data is public)",
                ),
            ),
            horizon=3600.0,
        ),
    )
}

# Measured with `python -m scenarios calibrate NAME` (build seed 0, SUMO --seed 1, full horizon
# plus 900 s to let the network drain). Filled in by hand from that command's output.
MEASURED: dict[str, str] = {
    "wuxi-single": (
        "| Plan | Inserted | Arrived | Teleports | Mean travel time | Mean timeLoss |\n|---|---|---|---|---|---|\n"
        "| static (this plan) | 4349 | 4349 | 0 | 133.2 s | 75.1 s |\n"
        "| actuated (same net, `--tls.default-type actuated`) | 4349 | 4349 | 0 | 99.2 s | 41.1 s |"
    ),
    "wuxi-corridor": (
        "| Plan | Inserted | Arrived | Teleports | Mean travel time | Mean timeLoss |\n|---|---|---|---|---|---|\n"
        "| static (this plan) | 6995 | 6995 | 0 | 194.8 s | 99.7 s |\n"
        "| actuated (same net, `--tls.default-type actuated`) | 6995 | 6995 | 0 | 132.4 s | 37.3 s |"
    ),
    "wuxi-core": (
        "| Plan | Inserted | Arrived | Teleports | Mean travel time | Mean timeLoss |\n|---|---|---|---|---|---|\n"
        "| static (this plan) | 12949 | 12939 | 0 | 388.8 s | 212.7 s |\n"
        "| actuated (same net, `--tls.default-type actuated`) | 12949 | 12948 | 0 | 292.5 s | 116.1 s |"
    ),
    "wuxi-ring": (
        "| Plan | Inserted | Arrived | Teleports | Mean travel time | Mean timeLoss |\n|---|---|---|---|---|---|\n"
        "| static (this plan) | 3604 | 3604 | 0 | 373.6 s | 135.2 s |\n"
        "| actuated (same net, `--tls.default-type actuated`) | 3604 | 3604 | 0 | 292.6 s | 54.2 s |"
    ),
    "wuxi-district": (
        "| Plan | Inserted | Arrived | Teleports | Mean travel time | Mean timeLoss |\n|---|---|---|---|---|---|\n"
        "| static (this plan) | 15295 | 12761 | 0 | 919.8 s | 481.6 s |\n"
        "| actuated (same net, `--tls.default-type actuated`) | 15295 | 14164 | 0 | 709.0 s | 188.0 s |\n\n"
        "Trips cross up to 14 signals (8+ km), so vehicles inserted late are still driving when the "
        "drain ends (static 2534, actuated 1131 still running; no teleports). At 900/450 veh/h per "
        "entry the fixed plan left 4806 running and a run took 21 min: that level is not used."
    ),
    "wuxi-zone": (
        "| Plan | Inserted | Arrived | Teleports | Mean travel time | Mean timeLoss |\n|---|---|---|---|---|---|\n"
        "| static (this plan) | 11697 | 10715 | 8 | 1105.6 s | 418.7 s |\n\n"
        "Mean route 10.5 km. 982 vehicles still driving when the drain ends; no gridlock (the "
        "running count falls through the drain). The 8 teleports are 'yield' waits of more than "
        "300 s, 7 of them turning at A5_4 into the 150-m segment to ramp terminal T8, whose queue "
        "spills back; at 15,000 trips/h the plan had 9 teleports and 1117 still driving. Actuated "
        "signals not measured on this net yet (`python -m scenarios calibrate wuxi-zone`)."
    ),
    "wuxi-city": (
        "| Plan | Inserted | Arrived | Teleports | Mean travel time | Mean timeLoss |\n|---|---|---|---|---|---|\n"
        "| static (this plan) | 24272 | 20063 | 18 | 1296.3 s | 510.0 s |\n\n"
        "Mean route 11.9 km. No gridlock: 9675 vehicles were driving at 3600 s (7 teleports by then) "
        "and 4209 when the drain ends, the count falling throughout. The 18 teleports (14 'yield', "
        "2 'jam', 2 'wrong lane') are 0.07 % of the vehicles, at arterial crossings next to "
        "secondary-street junctions and ramp terminals (A16_7: 6, A20_16: 4). At 36,000 trips/h the "
        "plan had 146 teleports and 7419 still driving: that level is not used. Actuated signals "
        "not measured (`python -m scenarios calibrate wuxi-city`; each run takes about 10 min)."
    ),
}
