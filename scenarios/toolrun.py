"""Run SUMO binaries and tools as subprocesses, turning failures into :class:`ScenarioError`.

Every generator step (``netgenerate``, ``netconvert``, ``jtrrouter``, ``sumo`` for measurements)
goes through :func:`run_binary` so that a failing tool reports its command and its last lines of
output, and so that the files it writes carry no machine-specific header (see
:func:`strip_generated_header`), which keeps builds byte-identical across machines and folders.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from core.errors import ScenarioError
from scenarios import sumo_install

# SUMO writes "<!-- generated on DATE by Eclipse SUMO ... <configuration>...</configuration> -->"
# at the top of every output; it holds a timestamp and absolute paths, so we drop it.
_HEADER = re.compile(r"<!--\s*generated on.*?-->\s*", re.DOTALL)


def run_binary(
    name: str, args: Sequence[str | Path], *, cwd: Path | None = None, timeout: float = 600.0
) -> str:
    """Run a SUMO binary (``netgenerate``, ``netconvert``, ``jtrrouter``, ``sumo``) and return stdout.

    Raises:
        ScenarioError: the binary exited with an error (message holds the command and its output).
    """
    cmd = [str(sumo_install.binary(name)), *(str(a) for a in args)]
    return _run(cmd, name, cwd, timeout)


def run_tool(
    relative: str, args: Sequence[str | Path], *, cwd: Path | None = None, timeout: float = 600.0
) -> str:
    """Run a SUMO Python tool (e.g. ``randomTrips.py``) with this interpreter and return stdout."""
    cmd = [sys.executable, str(sumo_install.tool(relative)), *(str(a) for a in args)]
    return _run(cmd, relative, cwd, timeout)


def _run(cmd: list[str], name: str, cwd: Path | None, timeout: float) -> str:
    # Point SUMO_HOME at the installation we resolved (the eclipse-sumo wheel), so that the tools
    # find their XML schemas and type maps and never pick up another SUMO on the machine.
    env = {**os.environ, "SUMO_HOME": str(sumo_install.sumo_home())}
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ScenarioError(f"{name} did not finish within {timeout:.0f} s: {' '.join(cmd)}") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise ScenarioError(f"{name} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc.stdout


def strip_generated_header(path: Path) -> None:
    """Remove SUMO's ``<!-- generated on ... -->`` header (timestamp, absolute paths) from ``path``."""
    text = path.read_text(encoding="utf-8")
    new = _HEADER.sub("", text, count=1)
    if new != text:
        path.write_text(new, encoding="utf-8")
