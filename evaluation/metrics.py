"""Episode metrics from SUMO's own outputs (tripinfo, summary, the emissions device).

Every vehicle whose planned departure falls in the episode counts, so that no controller can look
good by keeping cars out of the network:

* finished trips: travel time = ``duration + departDelay``, delay = ``timeLoss + departDelay``;
* trips still running at the end (``--tripinfo-output.write-unfinished``): the same, up to the end;
* vehicles that never entered (still in the insertion backlog at the end): each counts with
  travel time = delay = end - planned departure. SUMO writes no tripinfo for them; their total is
  exact from the summary output: the integral of the insertion backlog over time is the total time
  all vehicles spent waiting to enter, minus what the inserted ones waited (their ``departDelay``).

Units: times in s, CO2 in kg, fuel in kg (SUMO >= 1.14 reports both in mg), queue in vehicles.
CO2 per vehicle (g/veh) is over the vehicles that entered (finished and unfinished trips, the
latter with what they emitted so far); stops per vehicle are tripinfo's ``waitingCount`` (times a
vehicle's speed fell below 0.1 m/s), over the same trips.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

# Metric name -> (label, unit, lower is better). The order is the report's column order.
METRICS: dict[str, tuple[str, str, bool]] = {
    "delay": ("mean delay", "s/veh", True),
    "travel_time": ("mean travel time", "s/veh", True),
    "waiting_time": ("mean waiting time", "s/veh", True),
    "stops": ("mean stops", "1/veh", True),
    "queue": ("mean queue (halting)", "veh", True),
    "max_queue": ("max queue (halting)", "veh", True),
    "throughput": ("throughput (arrived)", "veh", False),
    "vehicles": ("vehicles (planned)", "veh", False),
    "unfinished": ("unfinished (running at end)", "veh", True),
    "never_inserted": ("never inserted", "veh", True),
    "backlog": ("mean insertion backlog", "veh", True),
    "depart_delay": ("mean depart delay", "s/veh", True),
    "teleports": ("teleports", "", True),
    "co2": ("CO2", "kg", True),
    "co2_per_vehicle": ("CO2 per vehicle", "g/veh", True),
    "fuel": ("fuel", "kg", True),
    "finished_time_loss": ("time loss, finished trips (SUMO)", "s/veh", True),
}


def output_args(folder: Path) -> list[str]:
    """SUMO options that write the outputs :func:`parse_outputs` reads into ``folder``."""
    return [
        "--tripinfo-output",
        str(folder / "tripinfo.xml"),
        "--tripinfo-output.write-unfinished",
        "true",
        "--device.emissions.probability",
        "1",
        "--summary-output",
        str(folder / "summary.xml"),
    ]


def _f(elem: ET.Element, key: str) -> float:
    return float(elem.get(key, 0.0))


@dataclass
class TripTotals:
    """Sums over the tripinfo output (finished and unfinished trips)."""

    trips: int = 0
    arrived: int = 0
    travel_time: float = 0.0
    delay: float = 0.0
    waiting_time: float = 0.0
    stops: float = 0.0
    depart_delay: float = 0.0
    finished_time_loss: float = 0.0
    co2_mg: float = 0.0
    fuel_mg: float = 0.0


@dataclass
class SummaryTotals:
    """Sums over the summary output (one ``step`` element per simulation step), and its series."""

    steps: int = 0
    backlog_integral: float = 0.0  # vehicle-seconds spent waiting to enter
    queue_sum: float = 0.0
    backlog_sum: float = 0.0
    max_queue: float = 0.0
    teleports: float = 0.0
    final_backlog: float = 0.0
    series: dict[str, list[float]] = field(
        default_factory=lambda: {"time": [], "queue": [], "arrived": [], "backlog": [], "running": []}
    )


def read_trips(path: Path) -> TripTotals:
    """Sum a ``tripinfo.xml`` (written with ``write-unfinished`` and the emissions device)."""
    tot = TripTotals()
    for _, elem in ET.iterparse(path, events=("end",)):
        if elem.tag != "tripinfo":
            continue
        tot.trips += 1
        dd = max(_f(elem, "departDelay"), 0.0)
        tot.travel_time += _f(elem, "duration") + dd
        tot.delay += _f(elem, "timeLoss") + dd
        tot.waiting_time += _f(elem, "waitingTime")
        tot.stops += _f(elem, "waitingCount")
        tot.depart_delay += dd
        if _f(elem, "arrival") >= 0:
            tot.arrived += 1
            tot.finished_time_loss += _f(elem, "timeLoss")
        emissions = elem.find("emissions")
        if emissions is not None:
            tot.co2_mg += _f(emissions, "CO2_abs")
            tot.fuel_mg += _f(emissions, "fuel_abs")
        elem.clear()
    return tot


def read_summary(path: Path, series_period: float, step_length: float) -> SummaryTotals:
    """Sum a ``summary.xml`` and sample its series every ``series_period`` seconds."""
    tot = SummaryTotals()
    series = tot.series
    next_sample = 0.0
    for _, elem in ET.iterparse(path, events=("end",)):
        if elem.tag != "step":
            continue
        t, waiting, halting = _f(elem, "time"), _f(elem, "waiting"), _f(elem, "halting")
        tot.backlog_integral += waiting * step_length
        tot.queue_sum += halting
        tot.backlog_sum += waiting
        tot.steps += 1
        tot.max_queue = max(tot.max_queue, halting)
        tot.teleports = _f(elem, "teleports")
        tot.final_backlog = waiting
        if t + 1e-9 >= next_sample:
            series["time"].append(t)
            series["queue"].append(halting)
            series["arrived"].append(_f(elem, "arrived"))
            series["backlog"].append(waiting)
            series["running"].append(_f(elem, "running"))
            next_sample = (math.floor(t / series_period) + 1) * series_period
        elem.clear()
    return tot


def parse_outputs(
    folder: Path, series_period: float = 60.0, step_length: float = 1.0
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Metrics and time series of one episode from the files :func:`output_args` asked for.

    Args:
        folder: where SUMO wrote ``tripinfo.xml`` and ``summary.xml`` (after it closed).
        series_period: sampling period of the returned series (s).
        step_length: SUMO step length (s), for the backlog integral.

    Returns:
        ``(metrics, series)``; ``series`` has ``time``, ``queue`` (halting), ``arrived``
        (cumulative), ``backlog`` and ``running`` lists of equal length.
    """
    trips = read_trips(folder / "tripinfo.xml")
    summary = read_summary(folder / "summary.xml", series_period, step_length)
    never = int(round(summary.final_backlog))
    # Time the never-inserted vehicles have waited to enter: total backlog time minus the part
    # that inserted vehicles waited (their departDelay). Clamped: the two are sampled differently.
    never_wait = max(summary.backlog_integral - trips.depart_delay, 0.0) if never else 0.0
    vehicles = trips.trips + never
    per = 1.0 / vehicles if vehicles else 0.0
    n_trips, n_steps = trips.trips, summary.steps
    metrics = {
        "delay": (trips.delay + never_wait) * per,
        "travel_time": (trips.travel_time + never_wait) * per,
        "waiting_time": trips.waiting_time / n_trips if n_trips else 0.0,
        "stops": trips.stops / n_trips if n_trips else 0.0,
        "queue": summary.queue_sum / n_steps if n_steps else 0.0,
        "max_queue": summary.max_queue,
        "throughput": float(trips.arrived),
        "vehicles": float(vehicles),
        "unfinished": float(trips.trips - trips.arrived),
        "never_inserted": float(never),
        "backlog": summary.backlog_sum / n_steps if n_steps else 0.0,
        "depart_delay": (trips.depart_delay + never_wait) * per,
        "teleports": summary.teleports,
        "co2": trips.co2_mg / 1e6,
        "co2_per_vehicle": trips.co2_mg / 1e3 / n_trips if n_trips else 0.0,
        "fuel": trips.fuel_mg / 1e6,
        "finished_time_loss": trips.finished_time_loss / trips.arrived if trips.arrived else 0.0,
    }
    return metrics, summary.series
