"""The one module that talks to SUMO (libsumo in-process, or TraCI over a socket).

Everything else in the project goes through :class:`SumoConnection`, which

* starts SUMO for a :class:`~scenarios.Scenario` with a seed,
* picks the backend: ``"libsumo"`` (in-process, fastest), ``"traci"`` (a ``sumo`` child process; several
  per Python process, and ``sumo-gui``), or ``"auto"`` = libsumo unless this process already runs a
  libsumo simulation, then TraCI. libsumo can hold only one simulation per process; parallel training
  runs one simulation per worker process, so users never hit that limit,
* exposes exactly the calls the project needs (lane subscriptions, signal programs, statistics),
* measures the wall time spent inside SUMO's ``simulationStep`` (for the overhead ratio),
* turns every SUMO failure into :class:`~core.errors.SimulationError` and never leaks a process:
  ``close()`` is idempotent and also runs at garbage collection and interpreter exit.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree

import numpy as np

from core.errors import ConfigError, SimulationError
from scenarios import sumo_install
from scenarios.scenario import Scenario

Backend = Literal["auto", "libsumo", "traci"]
BACKENDS: tuple[str, ...] = ("auto", "libsumo", "traci")

_libsumo_lock = threading.Lock()
_libsumo_owner: weakref.ref[SumoConnection] | None = None

# Lane variables read every decision (see SumoConnection.lane_matrix).
LANE_VARS = ("count", "halting", "occupancy", "mean_speed", "waiting")
_OCCUPANCY, _MEAN_SPEED = LANE_VARS.index("occupancy"), LANE_VARS.index("mean_speed")
_LANE_GETTERS = (  # libsumo's getter of each of LANE_VARS
    "getLastStepVehicleNumber",
    "getLastStepHaltingNumber",
    "getLastStepOccupancy",
    "getLastStepMeanSpeed",
    "getWaitingTime",
)


def _lane_keys(tc: Any) -> tuple[int, ...]:
    """TraCI variable ids of :data:`LANE_VARS`, in that order."""
    return (
        tc.LAST_STEP_VEHICLE_NUMBER,
        tc.LAST_STEP_VEHICLE_HALTING_NUMBER,
        tc.LAST_STEP_OCCUPANCY,
        tc.LAST_STEP_MEAN_SPEED,
        tc.VAR_WAITING_TIME,
    )


def _tc() -> Any:
    import traci.constants as tc  # pure constants module, shared by both backends

    return tc


def libsumo_in_use() -> bool:
    """Whether this process already runs a libsumo simulation."""
    return _libsumo_owner is not None and _libsumo_owner() is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kill(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - kill cannot be ignored
            pass


@functools.lru_cache(maxsize=256)
def _check_xml_cached(path: str, mtime: float, size: int) -> str | None:
    try:
        for _event, _elem in ElementTree.iterparse(path):
            pass
    except ElementTree.ParseError as exc:
        return str(exc)
    return None


def _check_xml(path: Path) -> None:
    """Refuse a missing or malformed input before SUMO sees it: libsumo can crash the whole process
    on a truncated XML file instead of raising."""
    if not path.is_file():
        raise SimulationError(f"SUMO input {path} does not exist; check the scenario's file paths.")
    stat = path.stat()
    problem = _check_xml_cached(str(path), stat.st_mtime, stat.st_size)
    if problem:
        raise SimulationError(f"SUMO input {path} is not well-formed XML ({problem}); regenerate or fix it.")


class SumoConnection:
    """A running SUMO simulation of one scenario.

    Args:
        scenario: what to simulate.
        seed: SUMO's random seed (``--seed``): it changes the realised demand of Poisson flows,
            departure lanes and driver imperfection.
        backend: ``"auto"``, ``"libsumo"`` or ``"traci"``.
        gui: run ``sumo-gui`` (forces the TraCI backend).
        extra_args: additional SUMO command-line options (e.g. output files).
        step_length: overrides the scenario's step length.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int = 0,
        backend: Backend = "auto",
        gui: bool = False,
        extra_args: Sequence[str] = (),
        step_length: float | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ConfigError(f"backend={backend!r} is unknown; use one of {', '.join(BACKENDS)}.")
        self.scenario = scenario
        self.seed = int(seed)
        self.gui = gui
        self.sim_step_seconds = 0.0  # wall time spent inside simulationStep since start
        self._proc: subprocess.Popen | None = None
        self._api: Any = None
        self._closed = True
        self._lanes: tuple[str, ...] = ()
        self._lane_getters: tuple[Any, ...] = ()
        self._co2_lanes: tuple[str, ...] = ()  # subscribe_emissions
        self._context_fresh = False  # a step has run since subscribe_approaches (libsumo, see there)
        self._tmp = tempfile.TemporaryDirectory(prefix="wuxi-tsc-sumo-")
        self._error_log = Path(self._tmp.name) / "sumo-errors.log"
        self.backend = self._choose_backend(backend, gui)
        cmd = self._command(extra_args, step_length)
        self._start(cmd)
        self._finalizer = weakref.finalize(
            self, SumoConnection._cleanup, self._api, self._proc, self.backend, self._tmp
        )

    # ------------------------------------------------------------------ lifecycle
    @staticmethod
    def _choose_backend(backend: Backend, gui: bool) -> str:
        if gui:
            return "traci"
        if backend == "libsumo" and libsumo_in_use():
            raise SimulationError(
                "libsumo can run only one simulation per process and one is already open. Close it "
                "first, use backend='traci', or run simulations in worker processes (n_envs > 1 does this)."
            )
        if backend == "auto":
            return "traci" if libsumo_in_use() else "libsumo"
        return backend

    def _command(self, extra_args: Sequence[str], step_length: float | None) -> list[str]:
        sc = self.scenario
        binary = sumo_install.binary("sumo-gui" if self.gui else "sumo")
        cmd = [
            str(binary),
            "-n",
            str(sc.net_file),
            "--seed",
            str(self.seed),
            "--begin",
            str(sc.begin),
            "--end",
            str(sc.end),
            "--step-length",
            str(step_length or sc.step_length),
            "--no-step-log",
            "true",
            "--no-warnings",
            "true",
            "--duration-log.disable",
            "true",
            "--verbose",
            "false",
            "--duration-log.statistics",
            "true",  # enables trip_stats()
            "--log",
            str(self._error_log.with_name("sumo.log")),  # keep libsumo's stdout quiet
            "--error-log",
            str(self._error_log),
        ]
        if sc.route_files:
            cmd += ["-r", ",".join(str(p) for p in sc.route_files)]
        if sc.additional_files:
            cmd += ["-a", ",".join(str(p) for p in sc.additional_files)]
        cmd += list(sc.sumo_args) + list(extra_args)
        if self.gui:
            cmd += ["--start", "true", "--quit-on-end", "true"]
        return cmd

    def _start(self, cmd: list[str]) -> None:
        global _libsumo_owner
        for path in (self.scenario.net_file, *self.scenario.route_files, *self.scenario.additional_files):
            _check_xml(Path(path))
        try:
            if self.backend == "libsumo":
                import libsumo

                with _libsumo_lock:
                    if libsumo_in_use():
                        raise SimulationError("libsumo already runs a simulation in this process.")
                    libsumo.start(cmd)
                    _libsumo_owner = weakref.ref(self)
                self._api = libsumo
            else:
                import traci

                port = _free_port()
                self._proc = subprocess.Popen(
                    cmd + ["--remote-port", str(port)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    stdin=subprocess.DEVNULL,
                )
                with contextlib.redirect_stdout(io.StringIO()):  # traci prints each retry
                    self._api = traci.connect(
                        port, numRetries=1200, proc=self._proc, waitBetweenRetries=0.05, label=None
                    )
                self._api.simulation.getTime()  # SUMO opens its port before it loads its inputs
        except SimulationError:
            raise
        except Exception as exc:  # noqa: BLE001 - libsumo/traci raise their own types; never leak them
            _kill(self._proc)
            raise SimulationError(self._describe_failure("SUMO failed to start", exc)) from None
        self._closed = False

    def _describe_failure(self, what: str, exc: BaseException | None) -> str:
        log = ""
        try:
            log = self._error_log.read_text(errors="replace").strip()
        except OSError:
            pass
        detail = log.splitlines()[-5:] if log else [str(exc) if exc else "no message"]
        return (
            f"{what} for scenario {self.scenario.name!r} (net {self.scenario.net_file}): "
            + " | ".join(detail)
            + ". Check the scenario files (python -m scenarios info PATH)."
        )

    @staticmethod
    def _cleanup(
        api: Any, proc: subprocess.Popen | None, backend: str, tmp: tempfile.TemporaryDirectory
    ) -> None:
        global _libsumo_owner
        try:
            if api is not None:
                api.close(wait=False) if backend == "traci" else api.close()
            if proc is not None:  # let SUMO finish writing its output files, then make sure it is gone
                proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - closing a dead simulation must not raise
            pass
        finally:
            _kill(proc)
            if backend == "libsumo":
                _libsumo_owner = None
            tmp.cleanup()

    def close(self) -> None:
        """Stop SUMO and release everything. Safe to call any number of times."""
        if self._closed:
            return
        self._closed = True
        self._finalizer()  # weakref.finalize also runs at garbage collection and at exit

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    @property
    def pid(self) -> int | None:
        """PID of the SUMO child process (TraCI backend), else ``None``."""
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> SumoConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ calls
    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        if self._closed:
            raise SimulationError(f"{what}: the simulation is closed; call reset() first.")
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - FatalTraCIError, TraCIException, libsumo, socket errors
            dead = self._proc is not None and self._proc.poll() is not None
            self.close()
            reason = "the SUMO process died" if dead else "SUMO raised an error"
            raise SimulationError(self._describe_failure(f"{what}: {reason}", exc)) from None

    def simulation_step(self, until: float) -> None:
        """Advance the simulation to time ``until`` (seconds) in one call into SUMO."""
        t0 = time.perf_counter()
        self._call("simulationStep", self._api.simulationStep, float(until))
        self._context_fresh = True
        self.sim_step_seconds += time.perf_counter() - t0

    def time(self) -> float:
        """Current simulation time in seconds."""
        return float(self._call("getTime", self._api.simulation.getTime))

    def traffic_light_ids(self) -> tuple[str, ...]:
        """Ids of all traffic lights in the network."""
        return tuple(self._call("trafficlight.getIDList", self._api.trafficlight.getIDList))

    def program_phases(self, tls_id: str) -> list[tuple[float, str]]:
        """``(duration, state)`` of each phase of the signal's active program."""
        tl = self._api.trafficlight
        program = self._call("getProgram", tl.getProgram, tls_id)
        logics = self._call("getAllProgramLogics", tl.getAllProgramLogics, tls_id)
        logic = next((lg for lg in logics if lg.programID == program), logics[0])
        return [(float(p.duration), str(p.state)) for p in logic.phases]

    def controlled_links(self, tls_id: str) -> list[list[tuple[str, str, str]]]:
        """Per signal index, the ``(in_lane, out_lane, via_lane)`` links it controls."""
        links = self._call("getControlledLinks", self._api.trafficlight.getControlledLinks, tls_id)
        return [[tuple(link) for link in group] for group in links]

    def lane_successors(self, lane_id: str) -> tuple[str, ...]:
        """The lanes a vehicle on ``lane_id`` can drive on to (its outgoing connections)."""
        links = self._call("lane.getLinks", self._api.lane.getLinks, lane_id)
        return tuple(dict.fromkeys(str(link[0]) for link in links))

    def lane_static(self, lane_id: str) -> tuple[float, float]:
        """``(length_m, max_speed_mps)`` of a lane."""
        lane = self._api.lane
        return (
            float(self._call("lane.getLength", lane.getLength, lane_id)),
            float(self._call("lane.getMaxSpeed", lane.getMaxSpeed, lane_id)),
        )

    def install_program(
        self, tls_id: str, program_id: str, phases: Sequence[tuple[float, str]], start_phase: int = 0
    ) -> None:
        """Install a static program (``(duration, state)`` phases) and switch the signal to it."""
        tl = self._api.trafficlight
        logic = tl.Logic(
            program_id, 0, start_phase, [tl.Phase(float(d), s, float(d), float(d)) for d, s in phases]
        )
        self._call("setProgramLogic", tl.setProgramLogic, tls_id, logic)
        self._call("setProgram", tl.setProgram, tls_id, program_id)
        self._call("setPhase", tl.setPhase, tls_id, start_phase)

    def signal_state(self, tls_id: str) -> str:
        """The signal's current state string, one character per link (``G``/``g`` green, ``y``
        yellow, ``r`` red, ...; SUMO's ``getRedYellowGreenState``)."""
        return str(
            self._call("getRedYellowGreenState", self._api.trafficlight.getRedYellowGreenState, tls_id)
        )

    def set_program(self, tls_id: str, program_id: str) -> None:
        """Switch a signal to another loaded program (e.g. an actuated one from an additional file)."""
        self._call("setProgram", self._api.trafficlight.setProgram, tls_id, program_id)

    def set_phase(self, tls_id: str, index: int) -> None:
        """Jump the signal's active program to phase ``index``."""
        self._call("setPhase", self._api.trafficlight.setPhase, tls_id, int(index))

    def set_phase_duration(self, tls_id: str, remaining: float) -> None:
        """Set the remaining duration (seconds) of the signal's current phase."""
        self._call("setPhaseDuration", self._api.trafficlight.setPhaseDuration, tls_id, float(remaining))

    def subscribe_lanes(self, lane_ids: Sequence[str], variables: Sequence[str] = LANE_VARS) -> None:
        """Declare the lanes whose traffic variables :meth:`lane_matrix` returns.

        Over TraCI's socket the 5 variables are subscribed (one round trip per decision). In-process
        (libsumo) only ``variables`` (names from :data:`LANE_VARS`) are read, with direct getters: a
        libsumo subscription is evaluated inside ``simulationStep`` and handed over as nested dicts,
        which measured about twice the cost of the getters (BENCHMARKS.md, issue 6 profile); the
        columns of variables not read stay 0.

        Raises:
            ConfigError: an unknown variable name.
        """
        unknown = [v for v in variables if v not in LANE_VARS]
        if unknown:
            raise ConfigError(f"lane variables {unknown} are unknown; known: {', '.join(LANE_VARS)}.")
        self._lanes = tuple(lane_ids)
        if self.backend == "libsumo":
            # The C functions behind libsumo's Python wrappers, where they exist: one Python frame
            # less per lane and variable (a quarter of the read time on wuxi-district).
            native = getattr(self._api, "_libsumo", None)
            lane = self._api.lane
            self._lane_getters = tuple(
                (j, getattr(native, f"lane_{name}", None) or getattr(lane, name))
                for j, (var, name) in enumerate(zip(LANE_VARS, _LANE_GETTERS))
                if var in variables
            )
            # A lane of an edge without vehicles reads count, halting and waiting 0 and its speed
            # limit as mean speed (SUMO's value for an empty lane): one vehicle count per edge first
            # spares the lane calls of every empty edge (most of a city's edges most of the time).
            # Occupancy is read on every lane (a vehicle's tail may still cover an "empty" edge).
            edge_of = [self._call("lane.getEdgeID", lane.getEdgeID, x) for x in self._lanes]
            self._edges = tuple(dict.fromkeys(edge_of))
            index = {e: k for k, e in enumerate(self._edges)}
            self._lane_edge = np.array([index[e] for e in edge_of], dtype=np.int64)
            self._lane_vmax = np.array(
                [self._call("lane.getMaxSpeed", lane.getMaxSpeed, x) for x in self._lanes]
            )
            self._edge_count = getattr(native, "edge_getLastStepVehicleNumber", None) or (
                self._api.edge.getLastStepVehicleNumber
            )
            return
        tc = _tc()
        for lane_id in lane_ids:
            self._call("lane.subscribe", self._api.lane.subscribe, lane_id, _lane_keys(tc))

    def lane_values(self) -> dict[str, tuple[float, float, float, float, float]]:
        """Latest values per lane: (count, halting, occupancy in %, mean speed m/s, waiting s)."""
        return {lane: tuple(float(x) for x in row) for lane, row in zip(self._lanes, self.lane_matrix())}

    def lane_matrix(self) -> np.ndarray:
        """Latest values as an array (lanes in :meth:`subscribe_lanes` order x the 5 variables of
        :meth:`lane_values`); the fast path the environment uses every step."""
        if self._lane_getters:
            lanes = self._lanes

            def read() -> np.ndarray:
                out = np.zeros((len(lanes), 5))
                busy_edges = np.array([self._edge_count(e) > 0 for e in self._edges], dtype=bool)
                busy = np.flatnonzero(busy_edges[self._lane_edge])
                names = [lanes[i] for i in busy]
                for j, get in self._lane_getters:
                    if j == _OCCUPANCY:
                        out[:, j] = [get(lane) for lane in lanes]
                        continue
                    if j == _MEAN_SPEED:
                        out[:, j] = self._lane_vmax
                    out[busy, j] = [get(lane) for lane in names]
                return out

            return self._call("lane getters", read)
        keys = _lane_keys(_tc())
        raw = self._call("lane.getAllSubscriptionResults", self._api.lane.getAllSubscriptionResults)
        return np.array([[raw[lane][k] for k in keys] for lane in self._lanes], dtype=float).reshape(-1, 5)

    # ------------------------------------------------------------------ emissions (issue 18)
    def subscribe_emissions(self, lane_ids: Sequence[str]) -> None:
        """Declare the lanes whose CO2 :meth:`lane_co2` returns (the approaches of the signals).

        Lane-level getters, not per-vehicle reads: SUMO sums the emissions of the vehicles on the
        lane itself (``lane.getCO2Emission``), one call per lane instead of one per vehicle. In-process
        (libsumo) the lanes of edges without vehicles are skipped (they emit nothing)."""
        self._co2_lanes = tuple(lane_ids)
        lane = self._api.lane
        native = getattr(self._api, "_libsumo", None) if self.backend == "libsumo" else None
        self._co2_get = getattr(native, "lane_getCO2Emission", None) or lane.getCO2Emission
        edge_of = [self._call("lane.getEdgeID", lane.getEdgeID, x) for x in self._co2_lanes]
        self._co2_edges = tuple(dict.fromkeys(edge_of))
        index = {e: k for k, e in enumerate(self._co2_edges)}
        self._co2_lane_edge = np.array([index[e] for e in edge_of], dtype=np.int64)
        self._co2_edge_count = getattr(native, "edge_getLastStepVehicleNumber", None) or (
            self._api.edge.getLastStepVehicleNumber
        )

    def lane_co2(self) -> np.ndarray:
        """CO2 emitted at the last step by the vehicles on each lane of :meth:`subscribe_emissions`
        (mg/s: SUMO's emission models give rates, summed over the lane's vehicles; idling vehicles
        emit too). Empty array before :meth:`subscribe_emissions`."""
        lanes = self._co2_lanes

        def read() -> np.ndarray:
            out = np.zeros(len(lanes))
            if self.backend == "libsumo":  # skip the lanes of empty edges
                busy_edges = np.array([self._co2_edge_count(e) > 0 for e in self._co2_edges], dtype=bool)
                busy = np.flatnonzero(busy_edges[self._co2_lane_edge])
            else:
                busy = np.arange(len(lanes))
            out[busy] = [self._co2_get(lanes[i]) for i in busy]
            return out

        return self._call("lane.getCO2Emission", read) if lanes else np.zeros(0)

    # ------------------------------------------------------------------ connected vehicles
    def lane_vehicle_ids(self) -> list[tuple[int, tuple[str, ...]]]:
        """``(row, vehicle ids)`` of every subscribed lane with vehicles on it at the last step (rows
        as in :meth:`lane_matrix`): who is there to broadcast (:mod:`envs.sensing` keeps the
        equipped). In-process, one vehicle count per edge first spares the calls of empty edges."""
        lanes = self._lanes
        if self.backend == "libsumo":
            native = getattr(self._api, "_libsumo", None)
            get = getattr(native, "lane_getLastStepVehicleIDs", None) or self._api.lane.getLastStepVehicleIDs

            def read() -> list[tuple[int, tuple[str, ...]]]:
                busy_edges = np.array([self._edge_count(e) > 0 for e in self._edges], dtype=bool)
                out = []
                for i in np.flatnonzero(busy_edges[self._lane_edge]).tolist():
                    ids = get(lanes[i])
                    if ids:
                        out.append((i, tuple(ids)))
                return out

            return self._call("lane vehicle ids", read)
        get = self._api.lane.getLastStepVehicleIDs
        return self._call(
            "lane.getLastStepVehicleIDs",
            lambda: [(i, tuple(ids)) for i, lane in enumerate(lanes) if (ids := get(lane))],
        )

    def vehicle_states(self, vehicle_ids: Sequence[str]) -> np.ndarray:
        """``(n, 3)``: position on its lane (m), speed (m/s) and waiting time (s, SUMO's
        ``getWaitingTime``: seconds below 0.1 m/s since it last moved) of each vehicle: what an
        equipped vehicle broadcasts."""
        veh = self._api.vehicle
        native = getattr(self._api, "_libsumo", None) if self.backend == "libsumo" else None
        pos = getattr(native, "vehicle_getLanePosition", None) or veh.getLanePosition
        speed = getattr(native, "vehicle_getSpeed", None) or veh.getSpeed
        wait = getattr(native, "vehicle_getWaitingTime", None) or veh.getWaitingTime

        def read() -> np.ndarray:
            out = np.zeros((len(vehicle_ids), 3))
            for k, v in enumerate(vehicle_ids):
                out[k] = (pos(v), speed(v), wait(v))
            return out

        return self._call("vehicle states", read)

    def vehicle_type(self, vehicle_id: str) -> str:
        """The SUMO vehicle type id of a vehicle."""
        return str(self._call("vehicle.getTypeID", self._api.vehicle.getTypeID, vehicle_id))

    def controlled_junctions(self, tls_id: str) -> tuple[str, ...]:
        """Ids of the junctions a traffic light controls.

        TraCI's client has no ``getControlledJunctions`` (libsumo has): there, the junctions the
        controlled lanes end at, in the order of the signal's lanes.
        """
        tls = self._api.trafficlight
        if hasattr(tls, "getControlledJunctions"):
            return tuple(self._call("getControlledJunctions", tls.getControlledJunctions, tls_id))
        lanes = self._call("getControlledLanes", tls.getControlledLanes, tls_id)
        edges = dict.fromkeys(self._call("lane.getEdgeID", self._api.lane.getEdgeID, lane) for lane in lanes)
        return tuple(
            dict.fromkeys(self._call("edge.getToJunction", self._api.edge.getToJunction, e) for e in edges)
        )

    def subscribe_approaches(
        self, junction_ids: Sequence[str], radius: float, *, time_loss: bool = False
    ) -> None:
        """Subscribe, around each junction, the lane, lane position and speed of every vehicle within
        ``radius`` metres (one context subscription per junction; see :meth:`approach_vehicles`),
        and with ``time_loss`` also each vehicle's time loss so far (see :meth:`approach_time_losses`).

        Until the next :meth:`simulation_step` the readers return no vehicles: libsumo hands out the
        *previous* simulation's context results (from the same process) until it has stepped, and
        before the first step of a simulation no vehicle has been inserted anyway."""
        self._context_fresh = False
        tc = _tc()
        variables = (tc.VAR_LANE_ID, tc.VAR_LANEPOSITION, tc.VAR_SPEED)
        if time_loss:
            variables += (tc.VAR_TIMELOSS,)
        for j in dict.fromkeys(junction_ids):
            self._call(
                "junction.subscribeContext",
                self._api.junction.subscribeContext,
                j,
                tc.CMD_GET_VEHICLE_VARIABLE,
                float(radius),
                variables,
            )

    def approach_vehicles(self) -> list[tuple[str, float, float]]:
        """``(lane, position on the lane in m, speed in m/s)`` of every vehicle near a subscribed
        junction at the last step, each vehicle once."""
        merged = self._context_vehicles()
        tc = _tc()
        lane, pos, speed = tc.VAR_LANE_ID, tc.VAR_LANEPOSITION, tc.VAR_SPEED
        return [(v[lane], v[pos], v[speed]) for v in merged.values()]

    def approach_time_losses(self) -> list[tuple[str, str, float, float]]:
        """``(vehicle id, lane, position on the lane in m, time loss since departure in s)`` of every
        vehicle near a subscribed junction at the last step, each vehicle once (needs
        ``subscribe_approaches(..., time_loss=True)``). SUMO's time loss is the time lost to driving
        below the vehicle's desired speed (``tripinfo`` ``timeLoss``)."""
        merged = self._context_vehicles()
        tc = _tc()
        lane, pos, loss = tc.VAR_LANE_ID, tc.VAR_LANEPOSITION, tc.VAR_TIMELOSS
        return [(vid, v[lane], v[pos], v[loss]) for vid, v in merged.items()]

    def _context_vehicles(self) -> dict[str, dict]:
        """The subscribed variables of every vehicle near a subscribed junction, each vehicle once."""
        if not self._context_fresh:
            return {}
        raw = self._call(
            "junction.getAllContextSubscriptionResults", self._api.junction.getAllContextSubscriptionResults
        )
        merged: dict[str, dict] = {}
        for vehicles in raw.values():
            merged.update(vehicles)
        return merged

    def stats(self) -> dict[str, float]:
        """Cumulative network statistics since the start of the simulation.

        Keys: ``loaded``, ``inserted``, ``running``, ``arrived`` (= inserted - running), ``waiting``
        (vehicles waiting to be inserted: the insertion backlog), ``teleports``.
        """
        get = self._api.simulation.getParameter
        names = {
            "loaded": "stats.vehicles.loaded",
            "inserted": "stats.vehicles.inserted",
            "running": "stats.vehicles.running",
            "waiting": "stats.vehicles.waiting",
            "teleports": "stats.teleports.total",
        }
        out = {k: float(self._call("getParameter", get, "", v)) for k, v in names.items()}
        out["arrived"] = out["inserted"] - out["running"]
        return out

    def trip_stats(self) -> dict[str, float]:
        """Averages over the trips finished so far: ``count``, ``duration`` (travel time, s),
        ``time_loss`` (delay, s), ``waiting_time`` (s), ``depart_delay`` (s)."""
        get = self._api.simulation.getParameter
        names = {
            "count": "device.tripinfo.count",
            "duration": "device.tripinfo.duration",
            "time_loss": "device.tripinfo.timeLoss",
            "waiting_time": "device.tripinfo.waitingTime",
            "depart_delay": "device.tripinfo.departDelay",
        }
        return {k: float(self._call("getParameter", get, "", v)) for k, v in names.items()}

    def screenshot(self, path: str | os.PathLike[str]) -> None:
        """Save a screenshot of the main view (sumo-gui only)."""
        if not self.gui:
            raise SimulationError("screenshot() needs gui=True (sumo-gui).")
        self._call("gui.screenshot", self._api.gui.screenshot, "View #0", str(path))
