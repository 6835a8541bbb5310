"""Shared test helpers: find SUMO processes, fail a test that leaks one, build a tiny grid net."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

import psutil

from envs.connection import libsumo_in_use


def sumo_processes(root: psutil.Process | None = None) -> list[psutil.Process]:
    """Live (non-zombie) SUMO processes below ``root`` (default: this test process)."""
    out = []
    for proc in (root or psutil.Process()).children(recursive=True):
        try:
            if "sumo" in proc.name() and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except psutil.NoSuchProcess:
            continue
    return out


@contextlib.contextmanager
def no_sumo_leak() -> Iterator[None]:
    """Assert that no SUMO process or libsumo simulation is left over by the enclosed code."""
    assert not sumo_processes(), "a previous test leaked a SUMO process"
    yield
    gc.collect()
    leaked = sumo_processes()
    for proc in leaked:
        proc.kill()
    assert not leaked, f"SUMO processes leaked: {[p.pid for p in leaked]}"
    assert not libsumo_in_use(), "a libsumo simulation was left open"
