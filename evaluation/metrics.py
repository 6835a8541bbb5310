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
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
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
    n_trips = arrived = 0
    sum_tt = sum_delay = sum_wait = sum_stops = sum_depart_delay = 0.0
    sum_fin_loss = co2_mg = fuel_mg = 0.0
    for _, elem in ET.iterparse(folder / "tripinfo.xml", events=("end",)):
        if elem.tag != "tripinfo":
            continue
        n_trips += 1
        dd = max(_f(elem, "departDelay"), 0.0)
        sum_tt += _f(elem, "duration") + dd
        sum_delay += _f(elem, "timeLoss") + dd
        sum_wait += _f(elem, "waitingTime")
        sum_stops += _f(elem, "waitingCount")
        sum_depart_delay += dd
        if _f(elem, "arrival") >= 0:
            arrived += 1
            sum_fin_loss += _f(elem, "timeLoss")
        emissions = elem.find("emissions")
        if emissions is not None:
            co2_mg += _f(emissions, "CO2_abs")
            fuel_mg += _f(emissions, "fuel_abs")
        elem.clear()

    series: dict[str, list[float]] = {"time": [], "queue": [], "arrived": [], "backlog": [], "running": []}
    backlog_integral = queue_sum = backlog_sum = 0.0
    n_steps = 0
    max_queue = teleports = final_backlog = 0.0
    next_sample = 0.0
    for _, elem in ET.iterparse(folder / "summary.xml", events=("end",)):
        if elem.tag != "step":
            continue
        t, waiting, halting = _f(elem, "time"), _f(elem, "waiting"), _f(elem, "halting")
        backlog_integral += waiting * step_length
        queue_sum += halting
        backlog_sum += waiting
        n_steps += 1
        max_queue = max(max_queue, halting)
        teleports = _f(elem, "teleports")
        final_backlog = waiting
        if t + 1e-9 >= next_sample:
            series["time"].append(t)
            series["queue"].append(halting)
            series["arrived"].append(_f(elem, "arrived"))
            series["backlog"].append(waiting)
            series["running"].append(_f(elem, "running"))
            next_sample = (math.floor(t / series_period) + 1) * series_period
        elem.clear()

    never = int(round(final_backlog))
    # Time the never-inserted vehicles have waited to enter: total backlog time minus the part
    # that inserted vehicles waited (their departDelay). Clamped: the two are sampled differently.
    never_wait = max(backlog_integral - sum_depart_delay, 0.0) if never else 0.0
    vehicles = n_trips + never
    per = 1.0 / vehicles if vehicles else 0.0
    metrics = {
        "delay": (sum_delay + never_wait) * per,
        "travel_time": (sum_tt + never_wait) * per,
        "waiting_time": sum_wait / n_trips if n_trips else 0.0,
        "stops": sum_stops / n_trips if n_trips else 0.0,
        "queue": queue_sum / n_steps if n_steps else 0.0,
        "max_queue": max_queue,
        "throughput": float(arrived),
        "vehicles": float(vehicles),
        "unfinished": float(n_trips - arrived),
        "never_inserted": float(never),
        "backlog": backlog_sum / n_steps if n_steps else 0.0,
        "depart_delay": (sum_depart_delay + never_wait) * per,
        "teleports": teleports,
        "co2": co2_mg / 1e6,
        "fuel": fuel_mg / 1e6,
        "finished_time_loss": sum_fin_loss / arrived if arrived else 0.0,
    }
    return metrics, series
