"""Run controllers x scenarios x seeds, in parallel worker processes, resumable.

Layout of a results folder::

    OUT/config.yaml                               the resolved evaluation config
    OUT/work/<scenario>/<controller>/             native controllers' inputs (Webster plan, ...),
        inputs.json + *.add.xml                   computed once per scenario and reused
    OUT/episodes/<scenario>/<controller>/seed_<n>.json   one finished episode (written atomically)
    OUT/twin/<scenario>/<controller>/seed_<n>.jsonl.gz   with ``twin.record``: its per-step record
                                                  for replay in the live view (evaluation.twin)

Each episode runs in a worker process (``spawn``; libsumo in-process there) or, with
``executor: ray``, as a Ray task on a local Ray instance or a cluster (:mod:`evaluation.executors`).
The driver writes each finished episode's JSON with a temporary file and ``os.replace`` (with its
``node``: where it ran), and skips it on a rerun when its fingerprint (scenario, controller, seed and
the settings that affect it) matches. Controllers share seeds, so their
episodes are paired: seed ``k`` means the same SUMO random stream (the same realised demand).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import dump_config
from core.errors import ConfigError, SimulationError
from core.files import atomic_write_text, read_json, remove_stale_temporaries
from envs.config import SensingConfig
from envs.connection import SumoConnection
from evaluation.config import ControllerEntry, EvalConfig, ScenarioSpec
from evaluation.controllers import NativeInputs, make_controller
from evaluation.executors import make_executor
from evaluation.metrics import output_args, parse_outputs
from scenarios.scenario import Scenario

if TYPE_CHECKING:
    from evaluation.twin.observer import TwinObserver

FORMAT_VERSION = 1


# ---------------------------------------------------------------------------- one episode
def _is_native(spec: str, config: EvalConfig) -> bool:
    name = spec.partition(":")[0]
    if name in ("ppo", "onnx"):
        return False  # learned policies act through the env; do not load them here
    return bool(make_controller(spec, config.controller_settings).native)


def prepare_native(
    entry: ControllerEntry, scenario: Scenario, workdir: Path, config: EvalConfig
) -> NativeInputs:
    """A native controller's SUMO inputs for a scenario, computed once and cached in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    controller = make_controller(entry.spec, config.controller_settings)
    inputs = controller.sumo_inputs(scenario, workdir)
    atomic_write_text(workdir / "inputs.json", inputs.to_json())
    return inputs


def run_episode(
    scenario: Scenario,
    entry: ControllerEntry,
    seed: int,
    config: EvalConfig,
    inputs: NativeInputs | None = None,
    *,
    gui: bool = False,
    screenshots: Path | None = None,
    screenshot_period: float = 60.0,
    twin: TwinObserver | None = None,
) -> dict[str, Any]:
    """Run one episode of one controller and return its record (metrics, series, timings).

    Args:
        scenario: what to simulate.
        entry: the controller (spec + label).
        seed: SUMO seed.
        config: evaluation settings (env settings, controller settings, series period).
        inputs: a native controller's prepared inputs (``None`` prepares them in a temp folder).
        gui: run in sumo-gui.
        screenshots: save a screenshot every ``screenshot_period`` s into this folder (needs gui).
        twin: sample the episode for the live view and/or its replay record
            (:class:`evaluation.twin.observer.TwinObserver`); it never changes the simulation.

    Raises:
        ConfigError: ``twin`` together with ``screenshots`` (one observer of the run at a time).
    """
    if twin is not None and screenshots is not None:
        raise ConfigError("run_episode: use either the live view (twin) or screenshots, not both.")
    t0 = time.perf_counter()
    controller = make_controller(entry.spec, config.controller_settings)
    with tempfile.TemporaryDirectory(prefix="wuxi-eval-") as tmp:
        folder = Path(tmp)
        outputs = output_args(folder)
        if controller.native:
            if inputs is None:
                inputs = controller.sumo_inputs(scenario, folder)
            sim_seconds = _run_native(
                scenario, seed, inputs, outputs, gui, screenshots, screenshot_period, twin
            )
        else:
            sim_seconds = _run_env(
                scenario,
                controller,
                seed,
                config,
                outputs,
                gui,
                screenshots,
                screenshot_period,
                twin,
                sensing=entry.sensing,
            )
        metrics, series = parse_outputs(folder, config.series_period, scenario.step_length)
    return {
        "format": FORMAT_VERSION,
        "scenario": scenario.name,
        "controller": entry.label,
        "spec": entry.spec,
        "name": getattr(controller, "name", entry.label),
        "native": bool(controller.native),
        "sensing": entry.sensing.model_dump(mode="json") if entry.sensing is not None else None,
        "sweep": entry.sweep,
        "seed": seed,
        "metrics": metrics,
        "series": series,
        "wall_seconds": time.perf_counter() - t0,
        "sim_step_seconds": sim_seconds,
    }


def _screenshot_loop(conn: SumoConnection, end: float, folder: Path | None, period: float) -> None:
    if folder is None:
        conn.simulation_step(end)
        return
    folder.mkdir(parents=True, exist_ok=True)
    t = conn.time()
    while t < end - 1e-9:
        t = min(t + period, end)
        conn.simulation_step(t)
        conn.screenshot(folder / f"t{int(t):06d}.png")


def _observed_loop(conn: SumoConnection, end: float, twin: TwinObserver) -> None:
    """Run to ``end`` in steps of the observer's sample period (SUMO runs the signals)."""
    period = twin.config.sample_period
    t = conn.time()
    while t < end - 1e-9:
        t = min(t + period, end)
        conn.simulation_step(t)
        twin.step(t, decided=False)


def _run_native(
    scenario: Scenario,
    seed: int,
    inputs: NativeInputs,
    outputs: list[str],
    gui: bool,
    screenshots: Path | None,
    period: float,
    twin: TwinObserver | None = None,
) -> float:
    with SumoConnection(
        inputs.apply(scenario),
        seed=seed,
        gui=gui or screenshots is not None,
        extra_args=outputs + list(inputs.extra_args),
    ) as conn:
        for tls, program in inputs.programs.items():
            # SUMO activates the program loaded last anyway; switching explicitly also verifies
            # that the program was loaded (SUMO refuses an unknown program id).
            conn.set_program(tls, program)
        if twin is None:
            _screenshot_loop(conn, scenario.end, screenshots, period)
        else:
            _observed(
                twin, lambda: twin.attach_native(conn), lambda: _observed_loop(conn, scenario.end, twin)
            )
        seconds = conn.sim_step_seconds
        _close_complete(conn)
        return seconds


def _close_complete(conn: SumoConnection | None) -> None:
    """Close the simulation; ``SumoConnection.close`` waits for SUMO to finish its output files."""
    if conn is not None:
        conn.close()


def _observed(twin: TwinObserver, attach: Callable[[], None], run: Callable[[], None]) -> None:
    """``attach()`` the observer, ``run()`` the episode, and finish the observer either way (its
    record is kept only when the episode completed)."""
    attach()
    complete = False
    try:
        run()
        complete = True
    finally:
        twin.finish(complete=complete)


def _run_env(
    scenario: Scenario,
    controller: Any,
    seed: int,
    config: EvalConfig,
    outputs: list[str],
    gui: bool,
    screenshots: Path | None,
    period: float,
    twin: TwinObserver | None = None,
    *,
    sensing: SensingConfig | None = None,
) -> float:
    from envs.parallel_env import TrafficSignalEnv

    env_config = getattr(controller, "env_config", None) or config.env
    updates = dict(getattr(controller, "env_updates", {}))  # e.g. gap_out needs the approach zones
    if sensing is not None:  # the entry's data source; a policy keeps the critic part it was trained with
        updates["sensing"] = sensing.model_copy(update={"critic_truth": env_config.sensing.critic_truth})
    if twin is not None:  # the live view colours lanes by occupancy
        updates["lane_vars"] = tuple(dict.fromkeys((*env_config.lane_vars, "occupancy")))
    env_config = env_config.model_copy(
        update={**updates, "sumo_args": tuple(env_config.sumo_args) + tuple(outputs)}
    )
    show = gui or screenshots is not None
    env = TrafficSignalEnv(scenario, env_config, render_mode="human" if show else None)
    try:
        observations, infos = env.reset(seed=seed)
        controller.reset(env, seed)
        conn = env.connection
        assert conn is not None
        next_shot = conn.time() + period
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)

        def loop() -> None:
            nonlocal observations, infos, next_shot
            if not env.agents:  # nothing to control: let SUMO run the static programs
                if twin is not None:
                    _observed_loop(conn, scenario.end, twin)
                else:
                    _screenshot_loop(conn, scenario.end, screenshots, period)
            while env.agents:
                actions = controller.act(observations, infos)
                observations, _, _, _, infos = env.step(actions)
                if twin is not None:
                    twin.step(env.last_metrics["time"])
                if screenshots is not None and conn.time() >= next_shot:
                    conn.screenshot(screenshots / f"t{int(conn.time()):06d}.png")
                    next_shot += period

        if twin is None:
            loop()
        else:
            _observed(twin, lambda: twin.attach_env(env), loop)
        seconds = conn.sim_step_seconds
        _close_complete(env.connection)
        return seconds
    finally:
        env.close()


# ---------------------------------------------------------------------------- many episodes
@dataclasses.dataclass(frozen=True)
class Job:
    """One episode to run (picklable: it crosses into a worker process or a Ray task).

    Attributes:
        scenario: the scenario as built on the driver (its files live in the driver's cache).
        scenario_spec: how to build it again on a node without the driver's files (Ray).
        scenario_label: the scenario's label in the results.
        entry: the controller.
        seed: SUMO seed.
        path: where the driver writes the episode record.
        fingerprint: what the record must carry to count as finished on a rerun.
        inputs: a native controller's prepared inputs (``None`` for env-driven controllers).
        input_files: the contents of ``inputs``' files by path, for a node that lacks them (Ray).
        record: where the live view's per-step record goes (``twin.record``), else ``None``.
    """

    scenario: Scenario
    scenario_spec: ScenarioSpec
    scenario_label: str
    entry: ControllerEntry
    seed: int
    path: Path
    fingerprint: str
    inputs: NativeInputs | None
    input_files: dict[str, str] = dataclasses.field(default_factory=dict)
    record: Path | None = None  # the live view's per-step record (twin.record)


def _fingerprint(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _run_job(job: Job, config: EvalConfig) -> dict[str, Any]:
    """Worker entry point: run the episode and return its record (the driver writes it).

    On a node that lacks the driver's files (a Ray cluster without a shared file system), the
    scenario is built again from its spec (deterministic per build seed, so the same files) and a
    native controller's inputs are written to a temporary folder from the contents the job carries.
    """
    scenario, inputs = job.scenario, job.inputs
    if not all(Path(f).is_file() for f in (scenario.net_file, *scenario.route_files)):
        scenario = job.scenario_spec.resolve(config.cache_dir)
    with tempfile.TemporaryDirectory(prefix="wuxi-inputs-") as tmp:
        if inputs is not None and not all(Path(f).is_file() for f in inputs.additional_files):
            local = []
            for i, name in enumerate(inputs.additional_files):
                copy = Path(tmp) / f"{i}_{Path(name).name}"
                copy.write_text(job.input_files[name])
                local.append(str(copy))
            inputs = dataclasses.replace(inputs, additional_files=tuple(local))
        twin = None
        if job.record is not None:
            from evaluation.twin.observer import TwinObserver, episode_info, read_geometry

            info = episode_info(job.scenario_label, job.entry.label, job.seed, config)
            twin = TwinObserver(read_geometry(scenario.net_file), config.twin, info, record=job.record)
        record = run_episode(scenario, job.entry, job.seed, config, inputs, twin=twin)
    record["scenario"] = job.scenario_label
    record["fingerprint"] = job.fingerprint
    return record


@dataclasses.dataclass(frozen=True)
class Preparation:
    """A native controller's inputs to compute for one scenario (picklable)."""

    entry: ControllerEntry
    scenario: Scenario
    scenario_label: str
    workdir: Path
    fingerprint: str


def _prepare_job(prep: Preparation, config: EvalConfig) -> NativeInputs:
    inputs = prepare_native(prep.entry, prep.scenario, prep.workdir, config)
    atomic_write_text(prep.workdir / "fingerprint.txt", prep.fingerprint)
    return inputs


def _native_inputs(
    config: EvalConfig, built: dict[str, Scenario], native: dict[str, bool], out: Path, failures: list[str]
) -> dict[tuple[str, str], NativeInputs]:
    """Native controllers' inputs per (scenario label, controller label): cached ones whose
    fingerprint matches, the others computed (e.g. Webster's measurement run) in parallel."""
    settings = config.controller_settings.model_dump(mode="json")
    inputs: dict[tuple[str, str], NativeInputs] = {}
    todo: list[Preparation] = []
    for spec in config.scenarios:
        for entry in config.controllers:
            if not native[entry.label]:
                continue
            workdir = (out / "work" / spec.label / entry.label).resolve()
            fp = _fingerprint(FORMAT_VERSION, spec.model_dump(mode="json"), entry.spec, settings)
            cached = read_json(workdir / "inputs.json")
            fp_file = workdir / "fingerprint.txt"
            if (
                cached is not None
                and fp_file.is_file()
                and fp_file.read_text() == fp
                and all(Path(f).is_file() for f in cached["additional_files"])
            ):
                inputs[(spec.label, entry.label)] = NativeInputs.from_json(json.dumps(cached))
            else:
                todo.append(Preparation(entry, built[spec.label], spec.label, workdir, fp))
    # Preparations write into the results folder, so they run on this machine whatever the executor
    # (a few runs per sweep; every episode then carries the inputs to wherever it runs).
    for done in make_executor("process", config.workers).map(_prepare_job, todo, config):
        prep = done.item
        if done.error is not None:
            failures.append(f"prepare {prep.entry.label} on {prep.scenario_label}: {done.error}")
        else:
            inputs[(prep.scenario_label, prep.entry.label)] = done.result
    return inputs


def _pending_jobs(
    config: EvalConfig,
    built: dict[str, Scenario],
    native: dict[str, bool],
    out: Path,
    inputs: dict[tuple[str, str], NativeInputs],
) -> tuple[list[Job], int]:
    """The episodes still to run, and how many are already done (same fingerprint on disk)."""
    settings = config.controller_settings.model_dump(mode="json")
    env_settings = config.env.model_dump(mode="json")
    jobs, n_done = [], 0
    for spec in config.scenarios:
        for entry in config.controllers:
            key = (spec.label, entry.label)
            if native[entry.label] and key not in inputs:
                continue  # its preparation failed (reported)
            for seed in config.seeds:
                path = out / "episodes" / spec.label / entry.label / f"seed_{seed}.json"
                fp = _fingerprint(
                    FORMAT_VERSION,
                    spec.model_dump(mode="json"),
                    entry.spec
                    if entry.sensing is None
                    else [entry.spec, entry.sensing.model_dump(mode="json")],
                    seed,
                    settings,
                    None if native[entry.label] else env_settings,
                    config.series_period,
                )
                record = (
                    out / "twin" / spec.label / entry.label / f"seed_{seed}.jsonl.gz"
                    if config.twin.record
                    else None
                )
                old = read_json(path)
                if old is not None and old.get("fingerprint") == fp and (record is None or record.is_file()):
                    n_done += 1
                    continue
                native_inputs = inputs.get(key)
                jobs.append(
                    Job(
                        scenario=built[spec.label],
                        scenario_spec=spec,
                        scenario_label=spec.label,
                        entry=entry,
                        seed=seed,
                        path=path,
                        fingerprint=fp,
                        inputs=native_inputs,
                        input_files=_input_files(native_inputs),
                        record=record,
                    )
                )
    return jobs, n_done


def _input_files(inputs: NativeInputs | None) -> dict[str, str]:
    """The contents of a native controller's input files by path (small XML programs)."""
    if inputs is None:
        return {}
    return {name: Path(name).read_text() for name in inputs.additional_files}


def run_episodes(
    config: EvalConfig,
    *,
    progress: bool = True,
    scenarios: dict[str, Scenario] | None = None,
    desc: str = "episodes",
) -> Path:
    """Run every episode of ``config`` that is not finished yet; returns the results folder.

    Args:
        config: the evaluation.
        progress: show a tqdm progress bar (episodes done, ETA).
        scenarios: already-built scenarios by spec label (skips building them).
        desc: the progress bar's label.

    Raises:
        ConfigError: unknown controller, bad scenario.
        SimulationError: some episodes failed (the finished ones are kept; rerun to retry).
    """
    from tqdm.auto import tqdm

    executor = make_executor(config.executor, config.workers, config.ray_address)  # Ray: fails fast
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)  # of a run killed between write and rename
    atomic_write_text(out / "config.yaml", dump_config(config))
    native = {c.label: _is_native(c.spec, config) for c in config.controllers}  # also validates names
    sensed_native = [c.label for c in config.controllers if native[c.label] and c.sensing is not None]
    if sensed_native:
        raise ConfigError(
            f"controllers {sensed_native}: SUMO-native controllers read SUMO's own detectors; drop their "
            "sensing (env-driven controllers and policies take it)."
        )
    built = dict(scenarios or {})
    for spec in config.scenarios:
        if spec.label not in built:
            built[spec.label] = spec.resolve(config.cache_dir)
    failures: list[str] = []
    inputs = _native_inputs(config, built, native, out, failures)
    jobs, n_done = _pending_jobs(config, built, native, out, inputs)
    bar = tqdm(
        total=n_done + len(jobs),
        initial=n_done,
        desc=desc,
        unit="ep",
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        for done in executor.map(_run_job, jobs, config, bar):
            job = done.item
            if done.error is not None:
                failures.append(f"{job.scenario_label}/{job.entry.label}/seed {job.seed}: {done.error}")
                continue
            # Written here, on the driver: with Ray the episode may have run on another machine.
            record = dict(done.result, node=done.node)
            atomic_write_text(job.path, json.dumps(record, indent=1, sort_keys=True))
    finally:
        bar.close()
    if failures:
        raise SimulationError(
            f"{len(failures)} evaluation step(s) failed (finished episodes are kept; "
            "rerun to retry only the rest): " + " | ".join(failures[:5])
        )
    return out


def load_records(out: str | Path) -> list[dict[str, Any]]:
    """All finished episode records of a results folder, in a stable order."""
    paths = sorted(Path(out).glob("episodes/*/*/seed_*.json"))
    records = [r for r in (read_json(p) for p in paths) if r is not None]
    return sorted(records, key=lambda r: (r["scenario"], r["controller"], r["seed"]))
