"""Env throughput side by side: our ParallelEnv vs sumo-rl's ``SumoEnvironment`` vs plain ``sumo``.

In one run, on the same net and routes, the same SUMO seed, and per repeat in this order:

* **ours**: :class:`envs.TrafficSignalEnv` (libsumo), one process;
* **sumo-rl**: ``sumo_rl.SumoEnvironment`` with libsumo (``LIBSUMO_AS_TRACI``), one process;
* **ours x2**: two simulations in two worker processes (``agents.vec_env.MultiAgentVecEnv``, the
  trainer's vectorised env), throughput summed over both;
* **plain sumo**: the ``sumo`` binary running the scenario with its static programs.

Both envs get the same ``delta_time``, yellow time, ``min_green``, ``time-to-teleport``, the ``queue``
reward and their default observation (phase one-hot, density and queue per incoming lane), and the
same action sequence: a pre-drawn uniform random green per intersection and decision, keyed by
traffic-light id. A choice that min-green forbids is handled by each env its own way (ours replaces
it by the current green, sumo-rl ignores it and keeps the current green): the same outcome.
sumo-rl runs twice: **sumo-rl** with ``add_system_info`` / ``add_per_agent_info`` off and the
``queue`` reward (its fastest configuration, and the one that matches ours: the ratios use it), and
**sumo-rl (defaults)** as a user gets it (``diff-waiting-time`` reward, per-vehicle info queries).

Each side runs in a fresh spawn process (libsumo allows one simulation per process), which also gives
a per-process peak RSS. sumo-rl's time inside ``simulationStep`` is measured by wrapping
``traci.simulationStep`` (libsumo's) with a timer, ours by ``SumoConnection.sim_step_seconds``.

Usage::

    pip install -e ".[bench]"          # adds sumo-rl; SUMO_HOME is set here from the eclipse-sumo wheel
    python bench/compare_sumo_rl.py    # wuxi-core (1 h) and wuxi-district (first 1800 s), 3 repeats
    python bench/compare_sumo_rl.py --scenarios wuxi-core --repeats 1 --horizon 300   # a quick look
    python bench/compare_sumo_rl.py --profile    # + where the time goes, ours vs sumo-rl (cProfile)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import psutil
from common import (
    children_peak_rss_mb,
    format_split,
    isolated,
    machine_line,
    median,
    peak_rss_mb,
    print_table,
    time_split,
    use_installed_sumo_home,
)
from env_throughput import plain_sumo_seconds, run_episode

from scenarios.scenario import Scenario


@dataclass(frozen=True)
class Timing:
    """Signal timing shared by both envs (sumo-rl wants whole seconds)."""

    delta_time: int = 5
    yellow_time: int = 3
    min_green: int = 10
    max_green: int = 60
    time_to_teleport: int = 300


@dataclass
class Side:
    """One timed episode of one side."""

    steps: int
    agents: int
    sims: int
    reset_s: float
    loop_s: float
    sim_step_s: float | None
    rss_mb: list[float]
    cpu_s: float  # CPU seconds of reset + loop per simulation (robust to other load, unlike wall)

    @property
    def steps_per_s(self) -> float:
        return self.sims * self.steps / self.loop_s

    @property
    def agent_steps_per_s(self) -> float:
        return self.steps_per_s * self.agents

    @property
    def overhead(self) -> float | None:
        return self.loop_s / self.sim_step_s if self.sim_step_s else None


def draws(ids: list[str], n_steps: int, seed: int) -> dict[str, np.ndarray]:
    """Uniform [0, 1) draws per decision, keyed by traffic-light id (so both envs see the same ones)."""
    table = np.random.default_rng(seed).random((n_steps, len(ids)))
    return {tls: table[:, i] for i, tls in enumerate(sorted(ids))}


def n_steps(scenario: Scenario, timing: Timing) -> int:
    return int(np.ceil((scenario.end - scenario.begin) / timing.delta_time)) + 2


def _our_env_kwargs(timing: Timing) -> dict[str, Any]:
    return dict(
        delta_time=timing.delta_time,
        yellow_time=timing.yellow_time,
        min_green=timing.min_green,
        max_green=timing.max_green,
        observation="default",
        reward="queue",
    )


def ours_single(scenario: Scenario, timing: Timing, seed: int) -> Side:
    """One episode of our ParallelEnv in this (fresh) process."""
    from envs import TrafficSignalEnv

    env = TrafficSignalEnv(scenario, backend="libsumo", **_our_env_kwargs(timing))
    try:
        u = draws(env.possible_agents, n_steps(scenario, timing), seed)
        actions = np.stack(
            [(u[a] * env.phase_sets[a].n_greens).astype(int) for a in env.possible_agents], axis=1
        )
        run = run_episode(env, actions, seed)
    finally:
        env.close()
    return Side(run.steps, run.agents, 1, run.reset_s, run.loop_s, run.sim_step_s, [peak_rss_mb()], run.cpu_s)


def ours_workers(scenario: Scenario, timing: Timing, seed: int, n_envs: int = 2) -> Side:
    """One episode in each of ``n_envs`` worker processes, stepped together (the trainer's VecEnv).

    The last step is left out of the timing: on it the workers restart their simulations.
    """
    from agents.vec_env import MultiAgentVecEnv
    from envs import TrafficSignalEnv
    from envs.config import EnvConfig

    config = EnvConfig(backend="libsumo", **_our_env_kwargs(timing))
    probe = TrafficSignalEnv(scenario, config)  # agent order and greens; reads the net, no episode
    ids, greens = probe.possible_agents, [probe.phase_sets[a].n_greens for a in probe.possible_agents]
    probe.close()
    u = draws(ids, n_steps(scenario, timing), seed)
    table = np.stack([(u[a] * g).astype(int) for a, g in zip(ids, greens)], axis=1)
    venv = MultiAgentVecEnv(scenario, config, n_envs=n_envs, seed_base=seed)
    workers = psutil.Process().children()
    cpu0 = sum(sum(w.cpu_times()[:2]) for w in workers)
    try:
        t0 = time.perf_counter()
        venv.reset()
        t1 = t_last = time.perf_counter()
        k = 0
        while True:
            _obs, _rew, dones, _infos = venv.step(np.tile(table[k], n_envs))
            if dones.any():
                break
            k += 1
            t_last = time.perf_counter()
        rss = children_peak_rss_mb()
        cpu = (sum(sum(w.cpu_times()[:2]) for w in workers) - cpu0) / n_envs
    finally:
        venv.close()
    return Side(k, len(ids), n_envs, t1 - t0, t_last - t1, None, rss, cpu)


def sumo_rl_single(scenario: Scenario, timing: Timing, seed: int, defaults: bool = False) -> Side:
    """One episode of sumo-rl's ``SumoEnvironment`` (libsumo) in this (fresh) process.

    ``defaults=True`` keeps what a sumo-rl user gets out of the box: the ``diff-waiting-time`` reward
    and per-step system and per-agent info (per-vehicle queries); otherwise the ``queue`` reward and
    no info, its fastest configuration and the one that matches ours.
    """
    os.environ["LIBSUMO_AS_TRACI"] = "quiet"  # must precede the first `import traci`
    use_installed_sumo_home()
    import sumo_rl
    import traci

    inside = [0.0]
    step = traci.simulationStep

    def timed_step(*args: Any) -> Any:
        t = time.perf_counter()
        try:
            return step(*args)
        finally:
            inside[0] += time.perf_counter() - t

    traci.simulationStep = timed_step  # sumo-rl calls traci.simulationStep() once per second
    if scenario.additional_files:
        extra = "-a " + ",".join(str(p) for p in scenario.additional_files)
    else:
        extra = None
    env = sumo_rl.SumoEnvironment(
        net_file=str(scenario.net_file),
        route_file=",".join(str(p) for p in scenario.route_files),
        begin_time=int(scenario.begin),
        num_seconds=int(scenario.end - scenario.begin),
        delta_time=timing.delta_time,
        yellow_time=timing.yellow_time,
        min_green=timing.min_green,
        max_green=timing.max_green,
        time_to_teleport=timing.time_to_teleport,
        reward_fn="diff-waiting-time" if defaults else "queue",
        sumo_seed=seed,
        sumo_warnings=False,
        add_system_info=defaults,
        add_per_agent_info=defaults,
        additional_sumo_cmd=extra,
    )
    try:
        ids = list(env.ts_ids)
        u = draws(ids, n_steps(scenario, timing), seed)
        c0, t0 = time.process_time(), time.perf_counter()
        env.reset(seed=seed)
        t1 = time.perf_counter()
        inside[0] = 0.0
        greens = {a: env.traffic_signals[a].num_green_phases for a in ids}
        k = 0
        done = False
        while not done:
            _obs, _rew, dones, _info = env.step({a: int(u[a][k] * greens[a]) for a in ids})
            done = dones["__all__"]
            k += 1
        t2, c2 = time.perf_counter(), time.process_time()
    finally:
        env.close()
    return Side(k, len(ids), 1, t1 - t0, t2 - t1, inside[0], [peak_rss_mb()], c2 - c0)


def sumo_rl_defaults(scenario: Scenario, timing: Timing, seed: int) -> Side:
    """:func:`sumo_rl_single` with sumo-rl's default reward and info."""
    return sumo_rl_single(scenario, timing, seed, defaults=True)


def profile_side(name: str, scenario: Scenario, timing: Timing, seed: int, top: int = 12) -> str:
    """cProfile of one episode of ``ours`` or ``sumo-rl``: the time split and the top functions."""
    fn = {"ours": ours_single, "sumo-rl": sumo_rl_single}[name]
    prof = cProfile.Profile()
    prof.enable()
    side = fn(scenario, timing, seed)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return (
        f"{name} on {scenario.name}: loop {side.loop_s:.2f} s under the profiler; where the time goes "
        f"(self time): {format_split(time_split(stats))}\n" + out.getvalue()
    )


def _fmt(x: float | None, spec: str) -> str:
    return "–" if x is None else format(x, spec)


def compare(scenario: Scenario, timing: Timing, seed: int, repeats: int) -> list[list[str]]:
    """Run every side ``repeats`` times, interleaved; return the table rows for this scenario."""
    sides = {
        "ours": ours_single,
        "sumo-rl": sumo_rl_single,
        "sumo-rl (defaults)": sumo_rl_defaults,
        "ours x2": ours_workers,
    }
    runs: dict[str, list[Side]] = {name: [] for name in sides}
    plain: list[tuple[float, float]] = []
    for r in range(repeats):
        for name, fn in sides.items():
            side = isolated(fn, scenario, timing, seed)
            runs[name].append(side)
            print(
                f"  [{scenario.name} run {r + 1}] {name}: {side.steps_per_s:.2f} steps/s, "
                f"loop {side.loop_s:.1f} s, reset {side.reset_s:.1f} s, CPU {side.cpu_s:.1f} s, "
                f"overhead {_fmt(side.overhead, '.3f')}, RSS {'/'.join(f'{m:.0f}' for m in side.rss_mb)} MB",
                flush=True,
            )
        plain.append(plain_sumo_seconds(scenario, seed))
        print(
            f"  [{scenario.name} run {r + 1}] plain sumo: {plain[-1][0]:.1f} s wall, "
            f"{plain[-1][1]:.1f} s CPU",
            flush=True,
        )

    def med(name: str, attr: str) -> float | None:
        values = [getattr(s, attr) for s in runs[name]]
        return None if values[0] is None else median(values)

    def ratio(name: str, ref: str, attr: str = "steps_per_s") -> str:
        """Median over repeats of the per-repeat ratio (sides of one repeat ran back to back)."""
        return f"{median([getattr(a, attr) / getattr(b, attr) for a, b in zip(runs[name], runs[ref])]):.2f}"

    steps = runs["ours"][0].steps
    horizon = scenario.end - scenario.begin
    label = f"{scenario.name} ({runs['ours'][0].agents} signals, {horizon:.0f} s, {steps} steps)"
    rows = []
    for name in runs:
        # simulated seconds per wall (CPU) second of reset + loop, relative to plain sumo's
        vs_plain = median(
            [side.sims * w / (side.reset_s + side.loop_s) for side, (w, _) in zip(runs[name], plain)]
        )
        vs_plain_cpu = median([c / side.cpu_s for side, (_, c) in zip(runs[name], plain)])
        cpu_vs_rl = median([b.cpu_s / a.cpu_s for a, b in zip(runs[name], runs["sumo-rl"])])
        rows.append(
            [
                label,
                name,
                f"{med(name, 'steps_per_s'):.2f}",
                f"{med(name, 'agent_steps_per_s'):,.0f}",
                _fmt(med(name, "overhead"), ".3f"),
                f"{med(name, 'cpu_s'):.1f}",
                ratio(name, "sumo-rl"),
                f"{cpu_vs_rl:.2f}",
                ratio(name, "sumo-rl (defaults)"),
                f"{vs_plain:.2f}",
                f"{vs_plain_cpu:.2f}",
                f"{median([max(s.rss_mb) for s in runs[name]]):.0f}",
            ]
        )
    plain_wall, plain_cpu = median([w for w, _ in plain]), median([c for _, c in plain])
    rows.append(
        [
            label,
            "plain sumo (static programs, load incl.)",
            f"{horizon / timing.delta_time / plain_wall:.2f}",
            "–",
            "–",
            f"{plain_cpu:.1f}",
            "",
            "",
            "",
            "1.00",
            "1.00",
            "–",
        ]
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenarios", default="wuxi-core,wuxi-district", help="comma-separated catalogue names"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1, help="SUMO seed and action-draw seed")
    parser.add_argument(
        "--horizon",
        type=float,
        default=None,
        help="episode seconds for every scenario (default: the scenario's own, "
        "wuxi-district capped by --district-horizon)",
    )
    parser.add_argument("--district-horizon", type=float, default=1800.0)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one episode of ours and of sumo-rl per scenario (cProfile)",
    )
    args = parser.parse_args(argv)

    import scenarios

    use_installed_sumo_home()
    timing = Timing()
    print(f"env throughput side by side, median of {args.repeats} runs; {machine_line()}")
    print(f"timing: {timing}")
    rows: list[list[str]] = []
    profiles: list[str] = []
    for name in args.scenarios.split(","):
        horizon = args.horizon or (args.district_horizon if name == "wuxi-district" else None)
        scenario = scenarios.build(name, seed=0, horizon=horizon)
        rows += compare(scenario, timing, args.seed, args.repeats)
        if args.profile:
            for side in ("ours", "sumo-rl"):
                profiles.append(isolated(profile_side, side, scenario, timing, args.seed))
    print_table(
        f"median of {args.repeats}; {machine_line()}",
        [
            "scenario",
            "side",
            "env steps/s",
            "agent-steps/s",
            "overhead ratio",
            "CPU s / episode",
            "x sumo-rl (wall)",
            "x sumo-rl (CPU)",
            "x sumo-rl defaults (wall)",
            "x plain sumo (wall)",
            "x plain sumo (CPU)",
            "peak RSS MB per process",
        ],
        rows,
    )
    print(
        "\ntargets (issue 6): ours >= 1.4x sumo-rl, ours x2 >= 2.5x sumo-rl, overhead ratio <= 1.15. "
        "Ratios are medians of per-repeat ratios; 'x ... (CPU)' compares CPU seconds per episode (robust to\n"
        "other load; meaningless for parallel speed-up); 'x plain sumo' compares reset + loop with plain\n"
        "sumo's whole run (net loading included); ours x2: CPU per simulation."
    )
    for text in profiles:
        print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
