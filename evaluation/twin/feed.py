"""The hand-over between the simulation thread and the web server: the latest frame, never a queue.

The simulation publishes a frame with :meth:`LiveFeed.publish` (a lock and a few assignments: no
encoding, no I/O, never blocks on a browser). The server reads the latest frame whenever it pushes;
frames published in between are dropped for the browser (the alerts they raised are not: they are
kept in a bounded log with sequence numbers, so a browser that reconnects gets the ones it missed).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from evaluation.twin.alerts import Alert
from evaluation.twin.frames import Frame, Kpis


@dataclass(frozen=True)
class Published:
    """The feed's latest state.

    Attributes:
        seq: how many frames have been published (0: none yet).
        frame: the latest frame (``None`` before the first).
        finished: the episode is over (no more frames will come).
    """

    seq: int
    frame: Frame | None
    finished: bool


class LiveFeed:
    """Latest frame, KPI history and alert log of a live episode, shared between threads.

    Args:
        info: what the page shows about the run (scenario, controller, seed, decision interval).
        max_alerts: alerts kept in the log (the oldest are dropped).
        max_history: KPI samples kept for the charts (the oldest are dropped).
    """

    def __init__(self, info: dict[str, Any], *, max_alerts: int = 2000, max_history: int = 20_000) -> None:
        self.info = dict(info)
        self._lock = threading.Lock()
        self._seq = 0
        self._frame: Frame | None = None
        self._finished = False
        self._alerts: deque[tuple[int, Alert]] = deque(maxlen=max_alerts)
        self._alert_seq = 0
        self._history: deque[Kpis] = deque(maxlen=max_history)

    def publish(self, frame: Frame) -> None:
        """Make ``frame`` the latest (simulation thread; O(alerts raised), never blocks for long)."""
        with self._lock:
            self._seq += 1
            self._frame = frame
            self._history.append(frame.kpis)
            for alert in frame.raised:
                self._alert_seq += 1
                self._alerts.append((self._alert_seq, alert))

    def finish(self) -> None:
        """Mark the episode as over (the page says so; the server keeps serving the last frame)."""
        with self._lock:
            self._finished = True

    def latest(self) -> Published:
        """The latest frame and whether the episode is over."""
        with self._lock:
            return Published(self._seq, self._frame, self._finished)

    def alerts_since(self, seq: int) -> tuple[int, list[Alert]]:
        """Alerts logged after sequence number ``seq``, and the newest sequence number."""
        with self._lock:
            return self._alert_seq, [a for s, a in self._alerts if s > seq]

    def history(self) -> list[Kpis]:
        """The KPI samples so far (oldest first)."""
        with self._lock:
            return list(self._history)
