"""Runs the live view's web app (:mod:`evaluation.twin.app`) with uvicorn in a background thread,
bound to 127.0.0.1 unless told otherwise.

The simulation never waits for this thread: it only publishes frames to a
:class:`~evaluation.twin.feed.LiveFeed`, which the app reads. Stopping the server (or a browser
leaving) never touches the run.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from core.errors import ConfigError, SimulationError
from evaluation.twin.feed import LiveFeed
from evaluation.twin.geometry import NetGeometry
from evaluation.twin.record import Replay

_EXTRA = "install the live view's packages with pip install -e '.[twin]'"


def create_app(
    source: LiveFeed | Replay, *, geometry: NetGeometry | None = None, push_hz: float = 4.0
) -> Any:
    """The FastAPI app serving ``source`` (see :func:`evaluation.twin.app.create_app`).

    Raises:
        ConfigError: FastAPI is not installed, or a live feed without its geometry.
    """
    try:
        from evaluation.twin import app
    except ImportError as exc:
        raise ConfigError(f"the live view needs FastAPI ({exc}); {_EXTRA}.") from None
    return app.create_app(source, geometry=geometry, push_hz=push_hz)


class TwinServer:
    """Runs an ASGI app with uvicorn in a daemon thread.

    Args:
        app: the app (see :func:`create_app`).
        host: address to bind; ``127.0.0.1`` serves this machine only.
        port: TCP port (0: a free one; :attr:`port` tells which after :meth:`start`).
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 8765) -> None:
        try:
            import uvicorn
        except ImportError as exc:
            raise ConfigError(f"the live view needs uvicorn ({exc}); {_EXTRA}.") from None
        self.host = host
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="twin-server", daemon=True)
        self.port = port

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{self.host}:{self.port}/"

    def start(self, timeout: float = 15.0) -> TwinServer:
        """Start serving; returns once the socket listens.

        Raises:
            SimulationError: the server did not start (port taken, bad host); the message says which.
        """
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise SimulationError(
                    f"the live view's server did not start on {self.host}:{self.port} (port in use? "
                    "pick another with --port, or 0 for any free port)."
                )
            time.sleep(0.02)
        with contextlib.suppress(AttributeError, IndexError):
            self.port = int(self._server.servers[0].sockets[0].getsockname()[1])
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread. Idempotent."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)

    def __enter__(self) -> TwinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
