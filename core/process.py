"""How the entry points end when they are told to stop.

Ctrl-C raises ``KeyboardInterrupt`` in Python, so ``finally`` blocks close SUMO, worker pools and
Ray. ``SIGTERM`` (``kill PID``, ``timeout``, a job scheduler's stop) would end the process at once
instead, leaving its worker processes running episodes nobody will read: :func:`stop_on_sigterm`
makes it unwind the same way as Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

INTERRUPTED = 130  # the exit status of a command stopped by a signal (128 + SIGINT), as shells report it


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")


def stop_on_sigterm() -> None:
    """Make ``SIGTERM`` raise ``KeyboardInterrupt`` in the main thread (no-op elsewhere)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
