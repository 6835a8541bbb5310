"""Max-pressure (Varaiya 2013) and longest-queue-first baselines, registered for the harness.

The pickers themselves live in :mod:`envs.heuristics` (the trainer uses max-pressure as a teacher).
"""

from __future__ import annotations

from typing import Callable

from envs.heuristics import GapOut, GreedyQueue, MaxPressure

__all__ = ["GapOut", "GreedyQueue", "MaxPressure", "register"]


def register(add: Callable) -> None:
    """Register ``max_pressure``, ``greedy`` and ``gap_out``."""
    add("max_pressure", lambda arg, settings: MaxPressure())
    add("greedy", lambda arg, settings: GreedyQueue())
    add("gap_out", lambda arg, settings: GapOut(settings.gap_out.env_updates()))
