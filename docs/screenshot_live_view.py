"""Take the README's screenshot of the live view: one episode served live, a headless Chromium
(Debian's ``/usr/bin/chromium``) watching it, a PNG when the simulation reaches ``--at`` seconds.

    python docs/screenshot_live_view.py [--scenario wuxi-core] [--controller max_pressure] [--at 2400]
                                        [--out docs/live_view.png]

``--controller`` takes any spec, e.g. ``onnx:runs/<run>/export`` for the trained policy's export.
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", default="wuxi-core")
    parser.add_argument("--controller", default="max_pressure")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--at", type=float, default=2400.0, help="simulation time of the screenshot (s)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "live_view.png")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from evaluation.config import make_eval_config
    from evaluation.twin.browser import CHROMIUM, HEADLESS_ARGS
    from evaluation.twin.live import LiveSession

    config = make_eval_config(
        {"scenarios": [args.scenario], "controllers": [args.controller], "twin": {"port": 0, "push_hz": 10}}
    )
    scenario = config.scenarios[0].resolve(config.cache_dir)
    with LiveSession(scenario, config.controllers[0], args.seed, config) as session:
        run = threading.Thread(target=session.run, daemon=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=HEADLESS_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 900})
            page.goto(session.url)
            page.wait_for_function("window.twin.ready")
            run.start()
            page.wait_for_function(f"window.twin.lastTime >= {args.at}", timeout=600_000, polling=200)
            page.screenshot(path=str(args.out))
            browser.close()
        run.join()
    print(f"screenshot: {args.out}")


if __name__ == "__main__":
    main()
