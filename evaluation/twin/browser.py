"""Debian's Chromium, headless, the way the live view's browser tests and screenshots start it.

The machines this project runs on reach no network but package registries: the background
networking, component updates and sync that Chromium starts by default would only fail (and slow
every start), so they are off; a test tool's own browser download is never used.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # from Debian's package `chromium`
HEADLESS_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
