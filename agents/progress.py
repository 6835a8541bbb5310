"""What a person running ``train.py`` sees: a line per stage, and a bar that follows the real budget.

A run has two budgets, agent-steps (``total_timesteps``) and wall-clock (``max_minutes``, counted
from the start of the run, warm start and evaluations included), and stops at whichever ends
first. The bar shows the share of the *binding* budget and its time left, so a 20-minute run says
"20 min left" at its start and reaches 100 % when it stops, whichever budget stops it.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm.auto import tqdm


def _clock(seconds: float) -> str:
    seconds = max(int(round(seconds)), 0)
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else (f"{seconds // 60:02d}:{seconds % 60:02d}")
    )


class Progress:
    """Stage lines and the training bar (or nothing, when disabled).

    Args:
        enabled: show anything at all (``--no-progress`` turns it off).
        total_timesteps: the agent-step budget.
        deadline: the wall-clock end (``time.time()``), or ``None``.
        started: when the run (and its wall-clock budget) started.
    """

    def __init__(
        self, enabled: bool, total_timesteps: int, deadline: float | None, started: float | None = None
    ) -> None:
        self.enabled = enabled
        self.total = total_timesteps
        self.deadline = deadline
        self.started = started if started is not None else time.time()
        self._bar: Any = None
        self._steps0 = 0
        self._t0 = 0.0
        self._postfix = ""
        self._drawn = 0.0

    def stage(self, text: str) -> None:
        """One line saying what the run is doing now (above the bar, if one is shown)."""
        if self.enabled:
            tqdm.write(f"[{_clock(time.time() - self.started)}] {text}", file=sys.stderr)

    def start_training(self, steps: int) -> None:
        """Show the bar from ``steps`` agent-steps on."""
        self._steps0, self._t0 = steps, time.time()
        if self.enabled:
            # The text after the bar is ours (agent-steps, the time left of the binding budget):
            # tqdm's own rate-based ETA would follow the step budget only.
            self._bar = tqdm(
                total=1000,
                file=sys.stderr,
                dynamic_ncols=True,
                bar_format="training: {percentage:3.0f}%|{bar}| {desc}",
            )
            self.update(steps, force=True)

    def note(self, text: str) -> None:
        """A short note kept at the end of the bar (e.g. the latest validation delay)."""
        self._postfix = text

    def eta(self, steps: int, now: float | None = None) -> tuple[float, float | None, str]:
        """``(fraction done, seconds left or None, which budget binds)`` at ``steps``."""
        now = time.time() if now is None else now
        frac_steps = min(steps / self.total, 1.0)
        rate = (steps - self._steps0) / max(now - self._t0, 1e-9)
        left_steps = (self.total - steps) / rate if rate > 0 else None
        if self.deadline is None:
            return frac_steps, left_steps, "steps"
        left_time = max(self.deadline - now, 0.0)
        frac_time = min((now - self.started) / max(self.deadline - self.started, 1e-9), 1.0)
        if left_steps is not None and left_steps < left_time:
            return max(frac_steps, 0.0), left_steps, "steps"
        return frac_time, left_time, "time"

    def update(self, steps: int, force: bool = False) -> None:
        """Move the bar to ``steps`` agent-steps (redrawn at most twice a second)."""
        if self._bar is None or (not force and time.time() - self._drawn < 0.5):
            return
        self._drawn = time.time()
        frac, left, binding = self.eta(steps)
        budget = "agent-step budget" if binding == "steps" else "wall-clock budget"
        left_text = f"{_clock(left)} left ({budget})" if left is not None else "measuring speed"
        parts = [f"{steps:,}/{self.total:,} agent-steps", left_text] + (
            [self._postfix] if self._postfix else []
        )
        self._bar.n = int(1000 * frac)
        self._bar.set_description_str(" | ".join(parts), refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        """Close the bar (the stage lines go on)."""
        if self._bar is not None:
            self._bar.refresh()
            self._bar.close()
            self._bar = None
