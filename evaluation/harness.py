"""Run controllers x scenarios x seeds, in parallel worker processes, resumable.

Layout of a results folder::

    OUT/config.yaml                               the resolved evaluation config
    OUT/work/<scenario>/<controller>/             native controllers' inputs (Webster plan, ...),
        inputs.json + *.add.xml                   computed once per scenario and reused
    OUT/episodes/<scenario>/<controller>/seed_<n>.json   one finished episode (written atomically)

Each episode runs in a worker process (``spawn``; libsumo in-process there), writes its JSON with a
temporary file and ``os.replace``, and is skipped on a rerun when its fingerprint (scenario,
controller, seed and the settings that affect it) matches. Controllers share seeds, so their
episodes are paired: seed ``k`` means the same SUMO random stream (the same realised demand).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

import yaml

from envs.connection import SumoConnection
from evaluation.config import ControllerEntry, EvalConfig, ScenarioSpec
from evaluation.controllers import NativeInputs, make_controller
from evaluation.metrics import output_args, parse_outputs
from scenarios.errors import ConfigError, SimulationError, TSCError
from scenarios.scenario import Scenario

FORMAT_VERSION = 1


# ---------------------------------------------------------------------------- scenarios
def resolve_scenario(spec: ScenarioSpec, cache_dir: str | None = None) -> Scenario:
    """Build or load the scenario a spec names.

    Raises:
        ConfigError / ScenarioError: unknown name, missing files.
    """
    import scenarios

    if spec.net is not None:
        end = spec.begin + spec.horizon if spec.horizon else spec.end
        return scenarios.load(spec.net, route_files=list(spec.routes), begin=spec.begin, end=end,
                              additional_files=list(spec.additional) or None)
    cache = Path(cache_dir) if cache_dir else None
    if spec.name in scenarios.list_scenarios():
        return scenarios.build(spec.name, seed=spec.seed, cache_dir=cache, horizon=spec.horizon,
                               demand_scale=spec.demand_scale)
    scenario = scenarios.load(spec.name)
    if spec.horizon is not None:
        scenario = dataclasses.replace(scenario, end=scenario.begin + spec.horizon)
    return scenario


# ---------------------------------------------------------------------------- one episode
def _is_native(spec: str, config: EvalConfig) -> bool:
    name = spec.partition(":")[0]
    if name in ("ppo", "onnx"):
        return False  # learned policies act through the env; do not load them here
    return bool(make_controller(spec, config.controller_settings).native)


def prepare_native(entry: ControllerEntry, scenario: Scenario, workdir: Path,
                   config: EvalConfig) -> NativeInputs:
    """A native controller's SUMO inputs for a scenario, computed once and cached in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    controller = make_controller(entry.spec, config.controller_settings)
    inputs = controller.sumo_inputs(scenario, workdir)
    _atomic_write(workdir / "inputs.json", inputs.to_json())
    return inputs


def run_episode(scenario: Scenario, entry: ControllerEntry, seed: int, config: EvalConfig,
                inputs: NativeInputs | None = None, *, gui: bool = False,
                screenshots: Path | None = None, screenshot_period: float = 60.0) -> dict[str, Any]:
    """Run one episode of one controller and return its record (metrics, series, timings).

    Args:
        scenario: what to simulate.
        entry: the controller (spec + label).
        seed: SUMO seed.
        config: evaluation settings (env settings, controller settings, series period).
        inputs: a native controller's prepared inputs (``None`` prepares them in a temp folder).
        gui: run in sumo-gui.
        screenshots: save a screenshot every ``screenshot_period`` s into this folder (needs gui).
    """
    t0 = time.perf_counter()
    controller = make_controller(entry.spec, config.controller_settings)
    with tempfile.TemporaryDirectory(prefix="wuxi-eval-") as tmp:
        folder = Path(tmp)
        outputs = output_args(folder)
        if controller.native:
            if inputs is None:
                inputs = controller.sumo_inputs(scenario, folder)
            sim_seconds = _run_native(scenario, seed, inputs, outputs, gui, screenshots,
                                      screenshot_period)
        else:
            sim_seconds = _run_env(scenario, controller, seed, config, outputs, gui, screenshots,
                                   screenshot_period)
        metrics, series = parse_outputs(folder, config.series_period, scenario.step_length)
    return {"format": FORMAT_VERSION, "scenario": scenario.name, "controller": entry.label,
            "spec": entry.spec, "name": getattr(controller, "name", entry.label),
            "native": bool(controller.native), "seed": seed, "metrics": metrics, "series": series,
            "wall_seconds": time.perf_counter() - t0, "sim_step_seconds": sim_seconds}


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


def _run_native(scenario: Scenario, seed: int, inputs: NativeInputs, outputs: list[str], gui: bool,
                screenshots: Path | None, period: float) -> float:
    with SumoConnection(inputs.apply(scenario), seed=seed, gui=gui or screenshots is not None,
                        extra_args=outputs + list(inputs.extra_args)) as conn:
        for tls, program in inputs.programs.items():
            # SUMO activates the program loaded last anyway; switching explicitly also verifies
            # that the program was loaded (SUMO refuses an unknown program id).
            conn.set_program(tls, program)
        _screenshot_loop(conn, scenario.end, screenshots, period)
        seconds = conn.sim_step_seconds
        _close_complete(conn)
        return seconds


def _close_complete(conn: SumoConnection | None) -> None:
    """Close the simulation; ``SumoConnection.close`` waits for SUMO to finish its output files."""
    if conn is not None:
        conn.close()


def _run_env(scenario: Scenario, controller: Any, seed: int, config: EvalConfig, outputs: list[str],
             gui: bool, screenshots: Path | None, period: float) -> float:
    from envs.parallel_env import TrafficSignalEnv

    env_config = getattr(controller, "env_config", None) or config.env
    updates = dict(getattr(controller, "env_updates", {}))  # e.g. gap_out needs the approach zones
    env_config = env_config.model_copy(update={**updates, "sumo_args": tuple(env_config.sumo_args) + tuple(outputs)})
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
        if not env.agents:  # nothing to control: let SUMO run the static programs
            _screenshot_loop(conn, scenario.end, screenshots, period)
        while env.agents:
            actions = controller.act(observations, infos)
            observations, _, _, _, infos = env.step(actions)
            if screenshots is not None and conn.time() >= next_shot:
                conn.screenshot(screenshots / f"t{int(conn.time()):06d}.png")
                next_shot += period
        seconds = conn.sim_step_seconds
        _close_complete(env.connection)
        return seconds
    finally:
        env.close()


# ---------------------------------------------------------------------------- many episodes
@dataclasses.dataclass(frozen=True)
class Job:
    """One episode to run (picklable: it crosses into a worker process)."""

    scenario: Scenario
    scenario_label: str
    entry: ControllerEntry
    seed: int
    path: Path
    fingerprint: str
    inputs: NativeInputs | None


def _fingerprint(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _run_job(job: Job, config: EvalConfig) -> dict[str, Any]:
    """Worker entry point: run the episode and write its record atomically."""
    record = run_episode(job.scenario, job.entry, job.seed, config, job.inputs)
    record["scenario"] = job.scenario_label
    record["fingerprint"] = job.fingerprint
    _atomic_write(job.path, json.dumps(record, indent=1, sort_keys=True))
    return record


def _prepare_job(entry: ControllerEntry, scenario: Scenario, workdir: Path, fingerprint: str,
                 config: EvalConfig) -> NativeInputs:
    inputs = prepare_native(entry, scenario, workdir, config)
    _atomic_write(workdir / "fingerprint.txt", fingerprint)
    return inputs


def _pool(workers: int, n_jobs: int) -> cf.Executor | None:
    if workers == 0 or n_jobs == 0:
        return None
    return cf.ProcessPoolExecutor(max_workers=min(workers, n_jobs),
                                  mp_context=multiprocessing.get_context("spawn"))


def _map(pool: cf.Executor | None, fn: Any, calls: list[tuple], bar: Any = None
         ) -> Iterable[tuple[tuple, Any, BaseException | None]]:
    """Run ``fn(*args)`` for each call (in the pool, or here); yield ``(args, result, error)``."""
    if pool is None:
        for args in calls:
            try:
                yield args, fn(*args), None
            except TSCError as exc:
                yield args, None, exc
            if bar is not None:
                bar.update(1)
        return
    futures = {pool.submit(fn, *args): args for args in calls}
    for fut in cf.as_completed(futures):
        exc = fut.exception()
        yield futures[fut], (None if exc else fut.result()), exc
        if bar is not None:
            bar.update(1)


def run_episodes(config: EvalConfig, *, progress: bool = True,
                 scenarios: dict[str, Scenario] | None = None) -> Path:
    """Run every episode of ``config`` that is not finished yet; returns the results folder.

    Args:
        config: the evaluation.
        progress: show a tqdm progress bar (episodes done, ETA).
        scenarios: already-built scenarios by spec label (skips building them).

    Raises:
        ConfigError: unknown controller, bad scenario.
        SimulationError: some episodes failed (the finished ones are kept; rerun to retry).
    """
    from tqdm.auto import tqdm

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.rglob(".*.tmp"):  # temp files of a run killed between write and rename
        stale.unlink(missing_ok=True)
    _atomic_write(out / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    native = {c.label: _is_native(c.spec, config) for c in config.controllers}  # also validates names
    built = dict(scenarios or {})
    for spec in config.scenarios:
        if spec.label not in built:
            built[spec.label] = resolve_scenario(spec, config.cache_dir)

    settings = config.controller_settings.model_dump(mode="json")
    env_settings = config.env.model_dump(mode="json")
    # 1. native controllers' inputs, once per scenario (e.g. Webster's measurement run)
    inputs: dict[tuple[str, str], NativeInputs] = {}
    prep_calls = []
    for spec in config.scenarios:
        for entry in config.controllers:
            if not native[entry.label]:
                continue
            workdir = (out / "work" / spec.label / entry.label).resolve()
            fp = _fingerprint(FORMAT_VERSION, spec.model_dump(mode="json"), entry.spec, settings)
            cached = _read_json(workdir / "inputs.json")
            fp_file = workdir / "fingerprint.txt"
            if cached is not None and fp_file.is_file() and fp_file.read_text() == fp and all(
                    Path(f).is_file() for f in cached["additional_files"]):
                inputs[(spec.label, entry.label)] = NativeInputs.from_json(json.dumps(cached))
            else:
                prep_calls.append((entry, built[spec.label], workdir, fp, config))
    failures: list[str] = []
    pool = _pool(config.workers, len(prep_calls))
    try:
        for args, result, exc in _map(pool, _prepare_job, prep_calls):
            entry, scenario, workdir = args[0], args[1], args[2]
            if exc is not None:
                failures.append(f"prepare {entry.label} on {workdir.parent.name}: {exc}")
            else:
                inputs[(workdir.parent.name, entry.label)] = result
    finally:
        if pool is not None:
            pool.shutdown()

    # 2. episodes
    jobs, n_done = [], 0
    for spec in config.scenarios:
        for entry in config.controllers:
            key = (spec.label, entry.label)
            if native[entry.label] and key not in inputs:
                continue  # its preparation failed (reported)
            for seed in config.seeds:
                path = out / "episodes" / spec.label / entry.label / f"seed_{seed}.json"
                fp = _fingerprint(FORMAT_VERSION, spec.model_dump(mode="json"), entry.spec, seed,
                                  settings, None if native[entry.label] else env_settings,
                                  config.series_period)
                old = _read_json(path)
                if old is not None and old.get("fingerprint") == fp:
                    n_done += 1
                    continue
                jobs.append(Job(built[spec.label], spec.label, entry, seed, path, fp,
                                inputs.get(key)))
    bar = tqdm(total=n_done + len(jobs), initial=n_done, desc="episodes", unit="ep",
               disable=not progress, dynamic_ncols=True)
    pool = _pool(config.workers, len(jobs))
    try:
        for args, _, exc in _map(pool, _run_job, [(job, config) for job in jobs], bar):
            if exc is not None:
                job = args[0]
                failures.append(f"{job.scenario_label}/{job.entry.label}/seed {job.seed}: {exc}")
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown()
    if failures:
        raise SimulationError(f"{len(failures)} evaluation step(s) failed (finished episodes are kept; "
                              "rerun to retry only the rest): " + " | ".join(failures[:5]))
    return out


def load_records(out: str | Path) -> list[dict[str, Any]]:
    """All finished episode records of a results folder, in a stable order."""
    paths = sorted(Path(out).glob("episodes/*/*/seed_*.json"))
    records = [r for r in (_read_json(p) for p in paths) if r is not None]
    return sorted(records, key=lambda r: (r["scenario"], r["controller"], r["seed"]))
