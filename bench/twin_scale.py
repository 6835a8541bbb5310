"""Does the live view fit a 1,723-signal city? A netgenerate grid of 42 x 42 signals (1,764), its
geometry read and sent once, a frame of random states and queues, drawn by headless Chromium.

    python bench/twin_scale.py [--number 42]

Prints the net's size, the geometry's read time and JSON size (raw and gzip, as served), a frame's
JSON size, the page's time to its first drawn frame, and one redraw's time (fit and zoomed in).
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

import numpy as np

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
ARGS += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
REDRAW_MS = (
    "() => { const t0 = performance.now(); for (let k = 0; k < 5; k++) draw();"
    " return (performance.now() - t0) / 5; }"
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--number", type=int, default=42, help="signals per side of the grid")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from evaluation.twin.geometry import read_geometry
    from evaluation.twin.record import Replay
    from evaluation.twin.server import TwinServer, create_app
    from scenarios.toolrun import run_binary

    with tempfile.TemporaryDirectory(prefix="twin-scale-") as tmp:
        net = Path(tmp) / "city.net.xml"
        grid = [
            "--grid",
            "--grid.number",
            str(args.number),
            "--grid.length",
            "300",
            "--default.lanenumber",
            "2",
        ]
        run_binary(
            "netgenerate", [*grid, "--grid.attach-length", "200", "-j", "traffic_light", "-o", str(net)]
        )
        t0 = time.perf_counter()
        g = read_geometry(net)
        read_s = time.perf_counter() - t0
        text = json.dumps(g.to_json(), separators=(",", ":"))
        rng = np.random.default_rng(0)
        frames = tuple(
            {
                "index": i,
                "time": 5.0 * i,
                "signals": ["".join(rng.choice(list("GGrry"), len(s.link_lanes))) for s in g.signals],
                "halting": [int(x) for x in rng.integers(0, 30, len(g.monitored))],
                "occupancy": [0] * len(g.monitored),
                "kpis": {"time": 5.0 * i, "running": 0, "arrived": 0, "backlog": 0, "teleports": 0},
                "active": [],
                "raised": [],
            }
            for i in range(3)
        )
        frame_kb = len(json.dumps(frames[0], separators=(",", ":"))) / 1e3
        print(
            f"{len(g.signals)} signals, {len(g.lanes)} lanes ({len(g.monitored)} measured); geometry read in "
            f"{read_s:.2f} s, {len(text) / 1e6:.1f} MB JSON ({len(gzip.compress(text.encode())) / 1e6:.2f} MB gzip); "
            f"a frame {frame_kb:.0f} kB"
        )
        replay = Replay(
            net, {"scenario": "grid", "controller": "random frames", "seed": 0}, g.to_json(), frames
        )
        with TwinServer(create_app(replay), port=0) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            t0 = time.perf_counter()
            page.goto(server.url)
            page.wait_for_function("window.twin.ready && window.twin.frameIndex === 0", timeout=120_000)
            ready = time.perf_counter() - t0
            fit_ms = page.evaluate(REDRAW_MS)
            page.mouse.move(700, 450)
            for _ in range(12):
                page.mouse.wheel(0, -300)
            zoom_ms = page.evaluate(REDRAW_MS)
            print(
                f"page: first frame drawn after {ready:.2f} s ({page.evaluate('window.twin.drawnLanes')} lanes); "
                f"one redraw {fit_ms:.0f} ms (whole net), {zoom_ms:.0f} ms (zoomed in)"
            )
            browser.close()


if __name__ == "__main__":
    main()
