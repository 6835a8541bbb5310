"""Signal programs as data: read a scenario's static programs, write SUMO ``tlLogic`` files.

Native controllers (SUMO runs the signals itself) are additional files with one ``tlLogic`` per
signal under a new ``programID``; SUMO activates the program loaded last, and the harness checks
after start-up that the running program is the one written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from core.files import atomic_write_text
from envs.connection import SumoConnection
from scenarios.scenario import Scenario


def is_green(state: str) -> bool:
    """A phase where some movement has green and none is clearing (no yellow)."""
    return any(c in "Gg" for c in state) and not any(c in "yYu" for c in state)


@dataclass(frozen=True)
class Phase:
    """One phase of a ``tlLogic``; ``min_dur``/``max_dur`` only for actuated programs."""

    duration: float
    state: str
    min_dur: float | None = None
    max_dur: float | None = None


@dataclass(frozen=True)
class SignalProgram:
    """A signal's program plus the incoming lane of each signal link.

    Attributes:
        tls_id: traffic light id.
        phases: the phases in cycle order.
        link_lanes: per signal index, the incoming lane it controls (``""`` if none).
    """

    tls_id: str
    phases: tuple[Phase, ...]
    link_lanes: tuple[str, ...]

    @property
    def green_indices(self) -> list[int]:
        """Indices of the green phases."""
        return [k for k, p in enumerate(self.phases) if is_green(p.state)]

    @property
    def cycle(self) -> float:
        """Cycle length (s)."""
        return sum(p.duration for p in self.phases)


def read_programs(conn: SumoConnection) -> dict[str, SignalProgram]:
    """The active program of every signal of a running simulation (at start-up: the static plan)."""
    out = {}
    for tls in conn.traffic_light_ids():
        phases = tuple(Phase(d, s) for d, s in conn.program_phases(tls))
        lanes = tuple(group[0][0] if group else "" for group in conn.controlled_links(tls))
        out[tls] = SignalProgram(tls, phases, lanes)
    return out


def static_programs(scenario: Scenario) -> dict[str, SignalProgram]:
    """The static programs a scenario starts with (one short SUMO start-up)."""
    with SumoConnection(scenario) as conn:
        return read_programs(conn)


@dataclass
class TlLogic:
    """A ``tlLogic`` element to write."""

    tls_id: str
    program_id: str
    phases: Sequence[Phase]
    kind: str = "static"
    offset: float = 0.0
    params: dict[str, str] = field(default_factory=dict)

    def xml(self) -> str:
        lines = [
            f"    <tlLogic id={quoteattr(self.tls_id)} type={quoteattr(self.kind)} "
            f'programID={quoteattr(self.program_id)} offset="{self.offset:g}">'
        ]
        for key, value in self.params.items():
            lines.append(f"        <param key={quoteattr(key)} value={quoteattr(value)}/>")
        for p in self.phases:
            extra = ""
            if p.min_dur is not None and p.max_dur is not None:
                extra = f' minDur="{p.min_dur:g}" maxDur="{p.max_dur:g}"'
            lines.append(f'        <phase duration="{p.duration:g}"{extra} state={quoteattr(p.state)}/>')
        lines.append("    </tlLogic>")
        return "\n".join(lines)


def write_additional(path: Path, logics: Sequence[TlLogic]) -> Path:
    """Write ``logics`` as a SUMO additional file (atomically)."""
    atomic_write_text(path, "<additional>\n" + "\n".join(lg.xml() for lg in logics) + "\n</additional>\n")
    return path
