"""Helpers shared by the bench scripts: isolated runs, peak memory, medians, tables, sumo-rl setup.

Every measurement that starts a libsumo simulation runs in a fresh ``spawn`` process
(:func:`isolated`): libsumo allows one simulation per process, sumo-rl and our env would otherwise
fight over it, and a fresh process makes peak RSS a per-measurement figure.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import platform
import pstats
import resource
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from scenarios import sumo_install

MB = 1024 * 1024


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory (``VmHWM``) of a live process, in MB; this process by default.

    Falls back to the current RSS where ``/proc`` has no ``VmHWM`` (not Linux).
    """
    pid = os.getpid() if pid is None else pid
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return psutil.Process(pid).memory_info().rss / MB


def children_peak_rss_mb() -> list[float]:
    """Peak RSS of each live child process of this one (e.g. training workers), in MB."""
    out = []
    for child in psutil.Process().children(recursive=False):
        try:
            out.append(peak_rss_mb(child.pid))
        except psutil.Error:  # pragma: no cover - exited meanwhile
            continue
    return out


def finished_children_peak_rss_mb() -> float:
    """Largest peak RSS of any child process that has already exited (``RUSAGE_CHILDREN``), MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def isolated(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a fresh spawn process and return its result (exceptions propagate)."""
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def use_installed_sumo_home() -> str:
    """Point ``SUMO_HOME`` at the eclipse-sumo wheel (sumo-rl refuses to import without it).

    An explicit ``SUMO_HOME`` that holds ``bin/sumo`` is kept (``sumo_install`` honours it too), so
    users never have to set it.
    """
    home = str(sumo_install.sumo_home())
    os.environ["SUMO_HOME"] = home
    return home


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A Markdown table (copy-paste into BENCHMARKS.md) under a one-line title."""
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def machine_line() -> str:
    """Python, SUMO, CPU count and the load now (wall times grow with load, ratios much less)."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"python {platform.python_version()}, SUMO {sumo_install.version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )


def time_split(stats: pstats.Stats) -> dict[str, float]:
    """Where a profiled run's time went: ``simulationStep`` (SUMO advancing the traffic, and
    evaluating subscriptions), other libsumo calls (SUMO answering queries, handing over subscription
    results), SUMO start/close (loading the net, the env's probe included), and the rest (Python: the
    env, numpy, the bench loop). Seconds of self time, profiler overhead included.
    """
    total = sim = other = start = 0.0
    for (_file, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        total += tottime
        if "_libsumo.simulation_step" in name:
            sim += tottime
        elif "_libsumo.simulation_start" in name or "_libsumo.simulation_close" in name:
            start += tottime
        elif "_libsumo." in name:
            other += tottime
    return {
        "total": total,
        "simulationStep": sim,
        "other libsumo calls": other,
        "SUMO start/close": start,
        "Python": total - sim - other - start,
    }


def format_split(split: dict[str, float]) -> str:
    total = split["total"]
    return (
        ", ".join(f"{k} {v:.2f} s ({100 * v / total:.0f}%)" for k, v in split.items() if k != "total")
        + f"; total {total:.2f} s"
    )
