"""A digital twin for ops: a live web view of a running episode, risk alerts, and replay.

    python -m evaluation.twin live --scenario wuxi-core --controller max_pressure   # then open the URL
    python -m evaluation.twin replay results/eval/twin/wuxi-core/max_pressure/seed_1.jsonl.gz

* :mod:`evaluation.twin.config`: the ``twin`` config section (server, sampling, alert thresholds).
* :mod:`evaluation.twin.geometry`: lane shapes and signal links from the net file (sent once).
* :mod:`evaluation.twin.alerts`: the risk rules, pure (no SUMO).
* :mod:`evaluation.twin.sources`, :mod:`~evaluation.twin.frames`, :mod:`~evaluation.twin.observer`:
  sampling a running episode into compact frames.
* :mod:`evaluation.twin.feed`: the latest-frame hand-over between the simulation and the server.
* :mod:`evaluation.twin.record`: the per-step record (gzip JSON lines, atomic) and its reader.
* :mod:`evaluation.twin.server`: the FastAPI app (static page, geometry, WebSocket) in a thread.
* :mod:`evaluation.twin.live`: a live episode or a replay, served (what the command line runs).

The web server's packages are the optional extra ``twin`` (``pip install -e ".[twin]"``); nothing
here imports them until a server is started.
"""

from __future__ import annotations

from evaluation.twin.config import AlertConfig, TwinConfig

__all__ = ["AlertConfig", "TwinConfig"]
