"""Measure a scenario under its own signal programmes with the plain ``sumo`` binary.

Used to calibrate the catalogue's demand (no gridlock under fixed time, yet loaded enough for
adaptive control to help) and to write the measured numbers into each scenario card. Runs SUMO as
a subprocess with ``--statistic-output``; no TraCI/libsumo is involved.
"""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from scenarios.scenario import Scenario
from scenarios.toolrun import run_binary


@dataclass(frozen=True)
class TripStats:
    """Outcome of one simulation run.

    Attributes:
        inserted: vehicles that entered the network.
        arrived: vehicles that reached their destination.
        running: vehicles still in the network at the end.
        waiting: vehicles that could not be inserted yet at the end (insertion backlog).
        teleports: vehicles teleported because they were stuck (``--time-to-teleport``).
        mean_travel_time: mean trip duration of arrived vehicles (s).
        mean_time_loss: mean time lost versus free flow of arrived vehicles (s).
        mean_depart_delay: mean insertion delay (s).
    """

    inserted: int
    arrived: int
    running: int
    waiting: int
    teleports: int
    mean_travel_time: float
    mean_time_loss: float
    mean_depart_delay: float

    def summary(self) -> str:
        """One line for logs and cards."""
        return (
            f"inserted {self.inserted}, arrived {self.arrived}, teleports {self.teleports}, "
            f"mean travel time {self.mean_travel_time:.1f} s, mean timeLoss "
            f"{self.mean_time_loss:.1f} s, still running {self.running}, waiting {self.waiting}"
        )


def run_stats(
    scenario: Scenario,
    seed: int = 0,
    *,
    net_file: Path | None = None,
    end: float | None = None,
    extra_args: list[str] | None = None,
) -> TripStats:
    """Run ``scenario`` to its end with the ``sumo`` binary and return trip statistics.

    Args:
        scenario: what to run.
        seed: SUMO's ``--seed`` (realised Poisson arrivals and route choices).
        net_file: run on this net instead (e.g. the same net built with actuated signals).
        end: simulate until this time instead of the scenario's end (e.g. to let the network
            drain after the last arrival, so that every vehicle's trip is counted).
        extra_args: further SUMO options.
    """
    with tempfile.TemporaryDirectory(prefix="wuxi-measure-") as tmp:
        stats = Path(tmp) / "stats.xml"
        args = [
            "-n",
            net_file or scenario.net_file,
            "--seed",
            seed,
            "-r",
            ",".join(str(p) for p in scenario.route_files),
            "--begin",
            scenario.begin,
            "--end",
            scenario.end if end is None else end,
            "--step-length",
            scenario.step_length,
            "--statistic-output",
            stats,
            "--duration-log.statistics",
            "true",
            "--no-step-log",
            "true",
            "--no-warnings",
            "true",
            *scenario.sumo_args,
            *(extra_args or []),
        ]
        if scenario.additional_files:
            args += ["-a", ",".join(str(p) for p in scenario.additional_files)]
        run_binary("sumo", args, timeout=3600)
        root = ET.parse(stats).getroot()
    veh = root.find("vehicles")
    trip = root.find("vehicleTripStatistics")
    tele = root.find("teleports")
    assert veh is not None and trip is not None and tele is not None, "unexpected statistic-output"
    return TripStats(
        inserted=int(veh.get("inserted", 0)),
        arrived=int(trip.get("count", 0)),
        running=int(veh.get("running", 0)),
        waiting=int(veh.get("waiting", 0)),
        teleports=int(tele.get("total", 0)),
        mean_travel_time=float(trip.get("duration", 0)),
        mean_time_loss=float(trip.get("timeLoss", 0)),
        mean_depart_delay=float(trip.get("departDelay", 0)),
    )
