"""A live episode, or a replay, served on the local web server: what ``python -m evaluation.twin``
and ``evaluate.py --live`` run.

    with LiveSession(scenario, entry, seed, config) as session:   # the server starts
        print(session.url)
        record = session.run()                                    # the episode (this thread)

The episode runs in the calling thread and the server in its own, so a browser never slows or stops
the run: it only reads the latest frame (:mod:`evaluation.twin.feed`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from evaluation.config import ControllerEntry, EvalConfig
from evaluation.harness import run_episode
from evaluation.twin.feed import LiveFeed
from evaluation.twin.geometry import read_geometry
from evaluation.twin.observer import TwinObserver, episode_info
from evaluation.twin.record import read_record
from evaluation.twin.server import TwinServer, create_app
from scenarios.scenario import Scenario


class LiveSession:
    """One episode of one controller, watched live (and optionally recorded for replay).

    Args:
        scenario: what to simulate.
        entry: the controller (any spec, including ``onnx:`` exports).
        seed: SUMO seed.
        config: the evaluation settings; ``config.twin`` sets the server, sampling and alerts.
        record: also write the replay record here.

    Raises:
        ScenarioError: the net file cannot be read.
        ConfigError: the web server's packages are missing.
    """

    def __init__(
        self,
        scenario: Scenario,
        entry: ControllerEntry,
        seed: int,
        config: EvalConfig,
        *,
        record: Path | None = None,
    ) -> None:
        self.scenario, self.entry, self.seed, self.config = scenario, entry, seed, config
        self.record = record
        self.geometry = read_geometry(scenario.net_file)
        self.info = episode_info(scenario.name, entry.label, seed, config)
        self.feed = LiveFeed(self.info)
        app = create_app(self.feed, geometry=self.geometry, push_hz=config.twin.push_hz)
        self.server = TwinServer(app, host=config.twin.host, port=config.twin.port)
        self.observer: TwinObserver | None = None  # the latest run's (its busy_seconds: the view's cost)

    @property
    def url(self) -> str:
        """The page's address (after :meth:`start`)."""
        return self.server.url

    def start(self) -> LiveSession:
        """Start the web server."""
        self.server.start()
        return self

    def run(self) -> dict[str, Any]:
        """Run the episode (blocking) and return the harness's episode record."""
        observer = TwinObserver(
            self.geometry, self.config.twin, self.info, feed=self.feed, record=self.record
        )
        self.observer = observer
        return run_episode(self.scenario, self.entry, self.seed, self.config, twin=observer)

    def stop(self) -> None:
        """Stop the web server. Idempotent."""
        self.server.stop()

    def __enter__(self) -> LiveSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def replay_server(path: str | Path, config: EvalConfig) -> TwinServer:
    """A (not yet started) server replaying the record at ``path``.

    Raises:
        RecordError: the record is missing, corrupt or truncated.
    """
    replay = read_record(path)
    return TwinServer(create_app(replay), host=config.twin.host, port=config.twin.port)


def wait_for_interrupt(linger: float | None) -> None:
    """Keep serving ``linger`` seconds (``None``: until Ctrl-C)."""
    deadline = None if linger is None else time.monotonic() + linger
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
