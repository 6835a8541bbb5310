"""The :class:`Scenario` value object: the files SUMO needs, plus what they model.

Everything downstream (environments, controllers, the evaluation harness) takes a ``Scenario``;
nothing downstream knows whether it was generated from the Wuxi catalogue or loaded from a user's
``.sumocfg``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Scenario:
    """A runnable SUMO scenario.

    Attributes:
        name: catalogue name (``"wuxi-core"``) or the stem of an external file.
        net_file: the SUMO network (``.net.xml``).
        route_files: demand files (routes, trips or flows), loaded in order.
        additional_files: extra SUMO inputs (detectors, alternative signal programs, vTypes).
        begin: simulation begin time in seconds.
        end: simulation end time in seconds (the episode horizon).
        card: human-readable description (markdown) of what the scenario models and where each
            parameter comes from; empty for external scenarios.
        step_length: SUMO step length in seconds.
        sumo_args: extra command-line options from a ``.sumocfg`` that SUMO should keep
            (e.g. ``--time-to-teleport``), as a flat list.
    """

    name: str
    net_file: Path
    route_files: tuple[Path, ...]
    additional_files: tuple[Path, ...] = ()
    begin: float = 0.0
    end: float = 3600.0
    card: str = ""
    step_length: float = 1.0
    sumo_args: tuple[str, ...] = field(default_factory=tuple)

    @property
    def horizon(self) -> float:
        """Episode length in simulated seconds."""
        return self.end - self.begin
