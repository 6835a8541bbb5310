"""Max-pressure (Varaiya 2013), longest-queue-first and the Python actuated baselines (``gap_out``,
``time_loss``), registered for the harness.

The pickers themselves live in :mod:`envs.heuristics` (the trainer uses them as teachers).
"""

from __future__ import annotations

from collections.abc import Callable

from envs.heuristics import GapOut, GreedyQueue, MaxPressure, TimeLoss


def register(add: Callable) -> None:
    """Register ``max_pressure``, ``greedy``, ``gap_out`` and ``time_loss``."""
    add("max_pressure", lambda arg, settings: MaxPressure())
    add("greedy", lambda arg, settings: GreedyQueue())
    add("gap_out", lambda arg, settings: GapOut(settings.gap_out.env_updates()))
    add(
        "time_loss", lambda arg, settings: TimeLoss(settings.time_loss.skip, settings.time_loss.env_updates())
    )
