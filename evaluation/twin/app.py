"""The live view's web app (FastAPI): the static page, the geometry, and frames (live or replayed).

Imports FastAPI at module level (the optional extra ``twin``); :func:`evaluation.twin.server.create_app`
imports this module lazily and names the extra when it is missing. No ``from __future__ import
annotations`` here: FastAPI reads the endpoints' parameter types at run time.

Endpoints:

* ``GET /``: the page (``static/index.html``; its JS and CSS under ``/static``, no CDN).
* ``GET /api/info``: the run (scenario, controller, seed), ``mode`` (``live`` or ``replay``) and, in
  replay, the frame times.
* ``GET /api/geometry``: the net, once (gzip-compressed by the middleware).
* ``WS /ws`` (live): the KPI history and alert log on connect, then the latest frame at most
  ``push_hz`` times a second, and ``{"type": "end"}`` when the episode is over.
* ``GET /api/frames/{i}`` (replay): frame ``i``; ``GET /api/alerts`` (replay): every raised alert
  with its frame index; ``GET /api/kpis`` (replay): the KPI series.

A browser that closes or stalls affects only its own connection: the simulation thread never waits
for the server (see :mod:`evaluation.twin.feed`).
"""

import asyncio
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from core.errors import ConfigError
from evaluation.twin.feed import LiveFeed
from evaluation.twin.geometry import NetGeometry
from evaluation.twin.record import Replay

STATIC = Path(__file__).resolve().parent / "static"


def _json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def create_app(
    source: LiveFeed | Replay, *, geometry: NetGeometry | None = None, push_hz: float = 4.0
) -> Any:
    """The FastAPI app serving ``source`` (a live feed, with its ``geometry``, or a replay).

    Raises:
        ConfigError: a live feed without its geometry.
    """
    live = isinstance(source, LiveFeed)
    if live and geometry is None:
        raise ConfigError("create_app: a live feed needs the net's geometry (read_geometry(net_file)).")
    geometry_text = _json(geometry.to_json() if live else source.geometry)  # type: ignore[union-attr]
    app = FastAPI(title="wuxi-tsc live view", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def info() -> dict[str, Any]:
        if isinstance(source, LiveFeed):
            return {"mode": "live", **source.info}
        return {"mode": "replay", **source.info, "times": [f["time"] for f in source.frames]}

    @app.get("/")
    def index() -> Any:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Any:
        return Response(status_code=204)

    @app.get("/api/info")
    def api_info() -> dict[str, Any]:
        return info()

    @app.get("/api/geometry")
    def api_geometry() -> Any:
        return Response(geometry_text, media_type="application/json")

    if isinstance(source, Replay):
        replay = source

        @app.get("/api/frames/{index}")
        def api_frame(index: int) -> Any:
            if not 0 <= index < len(replay.frames):
                raise HTTPException(404, f"frame {index} is out of range 0..{len(replay.frames) - 1}")
            return replay.frames[index]

        @app.get("/api/alerts")
        def api_alerts() -> list[dict[str, Any]]:
            return [{**a, "frame": f["index"]} for f in replay.frames for a in f["raised"]]

        @app.get("/api/kpis")
        def api_kpis() -> list[dict[str, Any]]:
            return [f["kpis"] for f in replay.frames]

        return app

    feed = source
    period = 1.0 / push_hz

    @app.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        alert_seq, alerts = feed.alerts_since(0)
        sent = -1
        try:
            await socket.send_text(
                _json(
                    {
                        "type": "hello",
                        "history": [k.to_json() for k in feed.history()],
                        "alerts": [a.to_json() for a in alerts],
                    }
                )
            )
            while True:
                latest = feed.latest()
                if latest.frame is not None and latest.seq != sent:
                    alert_seq, alerts = feed.alerts_since(alert_seq)
                    message = {
                        "type": "frame",
                        "frame": latest.frame.to_json(),
                        "alerts": [a.to_json() for a in alerts],
                    }
                    await socket.send_text(_json(message))
                    sent = latest.seq
                elif latest.finished:
                    await socket.send_text(_json({"type": "end"}))
                    await socket.receive_text()  # hold the connection open until the browser leaves
                    return
                await asyncio.sleep(period)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the browser left: only this connection ends

    return app
