"""Env throughput of :class:`envs.TrafficSignalEnv` against plain SUMO on the same scenario.

For one scenario, in one run, it measures (median of ``--repeats`` runs):

* **env**: a full episode of the ParallelEnv (libsumo) driven by a fixed sequence of random actions
  (the same sequence in every repeat; masked choices are replaced by the env, as in training):
  env steps/s, agent-steps/s, the wall time of the step loop and of reset + loop;
* **inside simulationStep**: the part of that wall time spent inside SUMO's own ``simulationStep``
  (``SumoConnection.sim_step_seconds``), the floor no controller can go below;
* **overhead ratio** = env wall time / simulationStep time (issue 2 target <= 1.25, issue 6 <= 1.15);
* **plain sumo**: the wall time of the ``sumo`` binary running the scenario with its static programs
  (a subprocess; it includes loading the net, so compare it with "reset + loop").

``--profile`` adds a cProfile summary of one extra episode: the split simulationStep / other libsumo
calls / Python, and the top 15 functions by cumulative time.

Usage::

    python bench/env_throughput.py                       # wuxi-core
    python bench/env_throughput.py --scenario wuxi-district --repeats 3
    python bench/env_throughput.py --scenario wuxi-core --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
from common import format_split, time_split

from envs import TrafficSignalEnv
from scenarios import sumo_install
from scenarios.scenario import Scenario


@dataclass
class EnvRun:
    """One timed episode of the env."""

    steps: int
    agents: int
    reset_s: float
    loop_s: float
    sim_step_s: float
    cpu_s: float  # process CPU time of reset + loop (libsumo: SUMO's work included)

    @property
    def episode_s(self) -> float:
        return self.reset_s + self.loop_s


def action_sequence(env: TrafficSignalEnv, seed: int) -> np.ndarray:
    """``(n_steps, n_agents)`` random actions, fixed by ``seed`` (raw: may be masked)."""
    horizon = env.scenario.end - env.scenario.begin
    n_steps = int(np.ceil(horizon / env.config.delta_time)) + 2
    n_actions = env.action_space(env.possible_agents[0]).n
    return np.random.default_rng(seed).integers(0, n_actions, size=(n_steps, len(env.possible_agents)))


def run_episode(env: TrafficSignalEnv, actions: np.ndarray, seed: int) -> EnvRun:
    """Reset and run ``env`` to the end of the episode with ``actions``; returns the timings."""
    agents = env.possible_agents
    c0, t0 = time.process_time(), time.perf_counter()
    env.reset(seed=seed)
    t1 = time.perf_counter()
    k = 0
    while env.agents:
        row = actions[k]
        env.step({a: int(row[i]) for i, a in enumerate(agents)})
        k += 1
    t2, c2 = time.perf_counter(), time.process_time()
    conn = env.connection
    assert conn is not None
    return EnvRun(
        steps=k,
        agents=len(agents),
        reset_s=t1 - t0,
        loop_s=t2 - t1,
        sim_step_s=conn.sim_step_seconds,
        cpu_s=c2 - c0,
    )


def plain_sumo_seconds(scenario: Scenario, seed: int) -> tuple[float, float]:
    """``(wall, CPU)`` seconds of the ``sumo`` binary running the scenario with its static programs."""
    cmd = [
        str(sumo_install.binary("sumo")),
        "-n",
        str(scenario.net_file),
        "--seed",
        str(seed),
        "--begin",
        str(scenario.begin),
        "--end",
        str(scenario.end),
        "--step-length",
        str(scenario.step_length),
        "--no-step-log",
        "true",
        "--no-warnings",
        "true",
        "--duration-log.disable",
        "true",
    ]
    if scenario.route_files:
        cmd += ["-r", ",".join(str(p) for p in scenario.route_files)]
    if scenario.additional_files:
        cmd += ["-a", ",".join(str(p) for p in scenario.additional_files)]
    cmd += list(scenario.sumo_args)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def profile_episode(env: TrafficSignalEnv, actions: np.ndarray, seed: int, top: int = 15) -> str:
    """cProfile summary of one episode, sorted by cumulative time."""
    prof = cProfile.Profile()
    prof.enable()
    run = run_episode(env, actions, seed)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    head = (
        f"profiled episode: {run.steps} steps, loop {run.loop_s:.2f} s (profiler overhead "
        f"included), simulationStep {run.sim_step_s:.2f} s\n"
        f"where the time goes (self time): {format_split(time_split(stats))}\n"
    )
    return head + out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="wuxi-core", help="catalogue name or .sumocfg/.net.xml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="SUMO seed and action-sequence seed")
    parser.add_argument("--horizon", type=float, default=None, help="episode seconds (catalogue only)")
    parser.add_argument("--delta-time", type=float, default=5.0)
    parser.add_argument("--observation", default="default")
    parser.add_argument("--reward", default="queue")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary of one episode")
    args = parser.parse_args(argv)

    import scenarios

    if args.scenario in scenarios.list_scenarios():
        t0 = time.perf_counter()
        scenario = scenarios.build(args.scenario, seed=0, horizon=args.horizon)
        build_s = time.perf_counter() - t0
    else:
        scenario, build_s = scenarios.load(args.scenario), 0.0

    env = TrafficSignalEnv(
        scenario,
        backend="libsumo",
        delta_time=args.delta_time,
        observation=args.observation,
        reward=args.reward,
    )
    try:
        actions = action_sequence(env, args.seed)
        runs = [run_episode(env, actions, args.seed) for _ in range(args.repeats)]
        profile = profile_episode(env, actions, args.seed) if args.profile else ""
    finally:
        env.close()
    plain = [plain_sumo_seconds(scenario, args.seed) for _ in range(args.repeats)]

    med = statistics.median
    steps, agents = runs[0].steps, runs[0].agents
    loop, episode = med(r.loop_s for r in runs), med(r.episode_s for r in runs)
    reset, sim = med(r.reset_s for r in runs), med(r.sim_step_s for r in runs)
    ratio_loop = med(r.loop_s / r.sim_step_s for r in runs)
    ratio_episode = med(r.episode_s / r.sim_step_s for r in runs)
    plain_s, plain_cpu = med(w for w, _ in plain), med(c for _, c in plain)
    cpu = med(r.cpu_s for r in runs)

    rows = [
        (
            "scenario",
            f"{scenario.name} ({agents} agents, {scenario.end - scenario.begin:.0f} s, "
            f"delta_time {args.delta_time:g} s, {steps} steps)",
        ),
        ("build (cached after the first run)", f"{build_s:.2f} s"),
        ("env steps/s (loop)", f"{steps / loop:,.1f}"),
        ("env agent-steps/s (loop)", f"{steps * agents / loop:,.0f}"),
        ("env reset (SUMO start + load)", f"{reset:.2f} s"),
        ("env step loop wall", f"{loop:.2f} s"),
        ("env reset + loop wall", f"{episode:.2f} s"),
        ("inside simulationStep", f"{sim:.2f} s"),
        (
            "OVERHEAD RATIO loop / simulationStep",
            f"{ratio_loop:.3f}  (targets: <= 1.25 issue 2, <= 1.15 issue 6)",
        ),
        ("ratio (reset + loop) / simulationStep", f"{ratio_episode:.3f}"),
        ("plain sumo, static programs (incl. load)", f"{plain_s:.2f} s"),
        ("env (reset + loop) / plain sumo", f"{episode / plain_s:.3f}"),
        ("env CPU (reset + loop), one process", f"{cpu:.2f} s"),
        ("plain sumo CPU", f"{plain_cpu:.2f} s"),
        ("env CPU / plain sumo CPU", f"{cpu / plain_cpu:.3f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(
        f"env throughput, median of {args.repeats} runs; python {platform.python_version()}, "
        f"SUMO {sumo_install.version()}, {platform.machine()}"
    )
    print("-" * (width + 50))
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print("-" * (width + 50))
    print(
        "per run (loop s / simulationStep s / ratio): "
        + ", ".join(f"{r.loop_s:.2f}/{r.sim_step_s:.2f}/{r.loop_s / r.sim_step_s:.3f}" for r in runs)
    )
    print("plain sumo runs (wall/CPU s): " + ", ".join(f"{w:.2f}/{c:.2f}" for w, c in plain))
    print(
        f"load average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"({os.cpu_count()} CPUs): wall times grow with load, ratios and CPU times much less"
    )
    if profile:
        print("\n" + profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
