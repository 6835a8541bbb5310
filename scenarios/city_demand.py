"""Demand of the city scenarios: a gravity model between districts, routed by ``duarouter``.

Pipeline (deterministic from the build seed):

1. A gravity model gives the peak-hour trips between every ordered pair of districts:
   ``T_ij ~ w_i * w_j * exp(-d_ij / decay)`` for ``i != j``, scaled to ``trips_per_hour``, where a
   district's weight ``w`` is its number of signalised junctions (denser street grids carry more
   activity) and ``d`` the distance between district centroids.
2. ``routes_per_pair`` trips per pair, from a random street of the origin district to a random
   street of the destination, are routed by SUMO's ``duarouter`` (a signal penalty, so that trips
   across town take the expressway, and randomised edge weights, so that one pair's trips do not
   all take one path).
3. Each origin district gets one ``<routeDistribution>`` over its routes (probability = its
   pair's share of the district's trips, split evenly over the pair's routes) and Poisson
   ``<flow>``s in the profile's time slices (:func:`scenarios.demand.write_flows`), so SUMO's
   ``--seed`` draws every episode's vehicles and destinations afresh.
"""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scenarios.city import District
from scenarios.toolrun import run_binary


@dataclass(frozen=True)
class GravityDemand:
    """Peak-hour trips between districts.

    Attributes:
        trips_per_hour: trips per hour at the peak (before ``demand_scale``).
        decay_km: distance over which the gravity model's attraction falls by a factor e (km).
        routes_per_pair: routes sampled per ordered district pair.
        tls_penalty: seconds ``duarouter`` adds per traffic light passed (the static plan's
            expected red wait, roughly: a 120 s cycle with a quarter to a third of it green).
        random_factor: ``duarouter --weights.random-factor`` (edge weights drawn up to this
            factor, spreading a pair's routes over parallel arterials).
    """

    trips_per_hour: float
    decay_km: float = 6.0
    routes_per_pair: int = 3
    tls_penalty: float = 30.0
    random_factor: float = 1.5

    def matrix(self, districts: Sequence[District]) -> dict[tuple[str, str], float]:
        """Peak trips per hour for every ordered pair of different districts."""
        raw: dict[tuple[str, str], float] = {}
        for a in districts:
            for b in districts:
                if a.id != b.id and a.signals and b.signals:
                    d = math.hypot(a.x - b.x, a.y - b.y) / 1000.0
                    raw[(a.id, b.id)] = a.signals * b.signals * math.exp(-d / self.decay_km)
        total = sum(raw.values())
        return {k: self.trips_per_hour * v / total for k, v in raw.items()}


@dataclass(frozen=True)
class CityRoutes:
    """Routed demand of a city.

    Attributes:
        routes: per origin district, its routes (edge tuples) with probability weights.
        rates: peak trips per hour leaving each origin district.
        pairs: ordered district pairs with at least one routed trip.
        mean_km: trip-weighted mean centroid distance between origin and destination (km).
        expressway_share: trip-weighted share of routes that use an expressway edge.
    """

    routes: dict[str, dict[tuple[str, ...], float]]
    rates: dict[str, float]
    pairs: int
    mean_km: float
    expressway_share: float


def route_city(
    net: Path, districts: Sequence[District], demand: GravityDemand, folder: Path, seed: int
) -> CityRoutes:
    """Sample and route the gravity model's trips with duarouter (``--seed`` = ``seed``)."""
    rng = random.Random(seed)
    od = demand.matrix(districts)
    by_id = {d.id: d for d in districts}
    trips = folder / "city.trips.xml"
    out = folder / "city.rou.xml"
    lines = ["<routes>"]
    for k, (o, d) in enumerate(sorted(od)):
        for r in range(demand.routes_per_pair):
            src, dst = rng.choice(by_id[o].edges), rng.choice(by_id[d].edges)
            lines.append(f'  <trip id="{o}:{d}:{r}" depart="{k}" from="{src}" to="{dst}"/>')
    lines.append("</routes>")
    trips.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_binary(
        "duarouter",
        [
            "-n",
            net,
            "--route-files",
            trips,
            "-o",
            out,
            "--seed",
            seed,
            "--weights.tls-penalty",
            demand.tls_penalty,
            "--weights.random-factor",
            demand.random_factor,
            "--routing-threads",
            1,
            "--ignore-errors",
            "true",
            "--no-step-log",
            "true",
            "--no-warnings",
            "true",
        ],
        timeout=1800,
    )
    routed: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    for veh in ET.parse(out).getroot().iter("vehicle"):
        route = veh.find("route")
        if route is not None:
            o, d, _ = veh.get("id", "::").split(":")
            routed.setdefault((o, d), []).append(tuple(route.get("edges", "").split()))
    for tmp in (trips, out, out.with_suffix(".alt.xml")):
        tmp.unlink(missing_ok=True)
    routes: dict[str, dict[tuple[str, ...], float]] = {}
    rates: dict[str, float] = {}
    km = xway = 0.0
    for (o, d), paths in sorted(routed.items()):
        rate = od[(o, d)]
        rates[o] = rates.get(o, 0.0) + rate
        bucket = routes.setdefault(o, {})
        for path in paths:
            bucket[path] = bucket.get(path, 0.0) + rate / len(paths)
            xway += rate / len(paths) * any(e.startswith("x") for e in path)
        km += rate * math.hypot(by_id[o].x - by_id[d].x, by_id[o].y - by_id[d].y) / 1000.0
    total = sum(rates.values()) or 1.0
    return CityRoutes(routes, rates, len(routed), km / total, xway / total)
