"""SUMO's own vehicle-actuated signal logics, built from each signal's static phases.

* ``actuated``: gap-based actuation (SUMO ``type="actuated"``): a green is extended while
  vehicles keep arriving at the detectors with time gaps below ``max_gap``, between ``min_green``
  and ``max_green``.
* ``delay_based``: SUMO ``type="delay_based"`` (Oertel & Wagner 2011): a green is extended while
  approaching vehicles within ``detector_range`` accumulate time loss.

Only green phases become variable; yellow and all-red phases keep their static durations. SUMO places
the detectors itself (on every incoming lane, as its documentation describes).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from evaluation.config import ActuatedSettings
from evaluation.controllers import NativeInputs
from evaluation.controllers.programs import Phase, TlLogic, is_green, static_programs, write_additional
from scenarios.scenario import Scenario


class SumoActuated:
    """A SUMO-native actuated controller (``kind`` = ``"actuated"`` or ``"delay_based"``)."""

    native = True

    def __init__(self, kind: str, settings: ActuatedSettings) -> None:
        self.kind = kind
        self.name = kind
        self.settings = settings

    def sumo_inputs(self, scenario: Scenario, workdir: Path) -> NativeInputs:
        s = self.settings
        program_id = f"eval-{self.kind}"
        if self.kind == "actuated":
            params = {"max-gap": f"{s.max_gap:g}", "detector-gap": f"{s.detector_gap:g}"}
        else:
            params = {"detectorRange": f"{s.detector_range:g}", "minTimeLoss": f"{s.min_time_loss:g}"}
        logics = []
        for tls, prog in static_programs(scenario).items():
            phases = []
            for p in prog.phases:
                if is_green(p.state):
                    dur = min(max(p.duration, s.min_green), s.max_green)
                    phases.append(Phase(dur, p.state, s.min_green, s.max_green))
                else:
                    phases.append(Phase(p.duration, p.state))
            logics.append(TlLogic(tls, program_id, phases, kind=self.kind, params=params))
        path = write_additional(workdir / f"{self.kind}.add.xml", logics)
        return NativeInputs(
            additional_files=(str(path.resolve()),),
            programs={lg.tls_id: program_id for lg in logics},
            info={"min_green": s.min_green, "max_green": s.max_green, **params},
        )


def register(add: Callable) -> None:
    """Register ``actuated`` and ``delay_based``."""
    for kind in ("actuated", "delay_based"):
        add(kind, lambda arg, settings, kind=kind: SumoActuated(kind, settings.actuated))
