"""Small networks the tests build outside the catalogue, with SUMO's own tools."""

from __future__ import annotations

from pathlib import Path

from scenarios.toolrun import run_binary


def netgenerate_grid(
    folder: Path,
    *extra: str,
    number: int = 2,
    length: float = 300,
    lanes: int = 2,
    attach: float | None = 200,
    name: str = "grid",
) -> Path:
    """A ``number`` x ``number`` grid of signals (``lanes`` lanes, ``length`` m blocks, fringe roads of
    ``attach`` m) built with netgenerate; ``extra`` netgenerate options are added."""
    net = folder / f"{name}.net.xml"
    args = ["--grid", "--grid.number", number, "--grid.length", length, "--default.lanenumber", lanes]
    args += ["--grid.attach-length", attach] if attach else []
    args += ["-j", "traffic_light", "--no-turnarounds", "true", *extra, "-o", net]
    run_binary("netgenerate", [str(a) for a in args])
    return net


def netconvert_plain(nodes: Path, edges: Path, net: Path) -> Path:
    """Compile plain ``.nod.xml`` + ``.edg.xml`` files into ``net`` (no turnarounds, no warnings)."""
    run_binary(
        "netconvert",
        ["-n", nodes, "-e", edges, "-o", net, "--no-turnarounds", "true", "--no-warnings", "true"],
    )
    return net
