"""Where SUMO is installed: binaries and tools, found from the ``eclipse-sumo`` PyPI package.

Users need no system SUMO and no ``SUMO_HOME``. Lookup order:

1. ``SUMO_HOME`` if it is set *and* contains ``bin/sumo`` (an explicit override),
2. the ``sumo`` module installed by the ``eclipse-sumo`` wheel (``sumo.SUMO_HOME``).

Nothing happens at import time; the lookup runs on first use and is cached.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from core.errors import SumoNotFoundError

_EXE = ".exe" if sys.platform == "win32" else ""


@functools.lru_cache(maxsize=1)
def sumo_home() -> Path:
    """Return the SUMO installation root (the folder holding ``bin/`` and ``tools/``).

    Raises:
        SumoNotFoundError: neither ``SUMO_HOME`` nor the ``eclipse-sumo`` package provides SUMO.
    """
    env_home = os.environ.get("SUMO_HOME")
    if env_home and (Path(env_home) / "bin" / f"sumo{_EXE}").is_file():
        return Path(env_home)
    try:
        import sumo  # the eclipse-sumo wheel's package

        home = Path(sumo.SUMO_HOME)
    except (ImportError, AttributeError) as exc:  # pragma: no cover - depends on the install
        raise SumoNotFoundError(
            "SUMO was not found: install it with `pip install eclipse-sumo` (it is a dependency of "
            "this project: `pip install -e .`), or set SUMO_HOME to a SUMO installation."
        ) from exc
    if not (home / "bin" / f"sumo{_EXE}").is_file():  # pragma: no cover
        raise SumoNotFoundError(f"The eclipse-sumo package at {home} has no bin/sumo; reinstall it.")
    return home


def binary(name: str) -> Path:
    """Return the path of a SUMO binary such as ``sumo``, ``sumo-gui``, ``netgenerate``.

    Raises:
        SumoNotFoundError: the binary does not exist in the installation.
    """
    path = sumo_home() / "bin" / f"{name}{_EXE}"
    if not path.is_file():
        raise SumoNotFoundError(f"SUMO binary {name!r} not found in {path.parent}.")
    return path


def tool(relative: str) -> Path:
    """Return the path of a SUMO tool script, e.g. ``randomTrips.py`` or ``routeSampler.py``."""
    path = sumo_home() / "tools" / relative
    if not path.is_file():
        raise SumoNotFoundError(f"SUMO tool {relative!r} not found in {path.parent}.")
    return path


def version() -> str:
    """Return the installed SUMO version string (from the eclipse-sumo package metadata)."""
    from importlib import metadata

    for dist in ("eclipse-sumo", "libsumo", "sumolib"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"  # pragma: no cover
