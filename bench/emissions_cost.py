"""What reading the approaches' CO2 costs the env, and the reference scale of each reward term.

For issue 18's target (the emissions reading costs at most 10% of env time): one episode of the
``gap_out`` controller through the env, with the training config's env settings, once with
``reward: delay`` (no CO2 read) and once with ``reward: {delay: 1, co2: 1, stops: 1}`` (the
approaches' CO2 read every decision through ``lane.getCO2Emission``), each in a fresh process::

    python bench/emissions_cost.py                      # wuxi-core, full hour, seed 11
    python bench/emissions_cost.py --horizon 900 --repeats 2

Printed: per run the env's wall seconds, the seconds inside ``SumoConnection.lane_co2`` (timed in
the same run) and their ratio, and the paired wall-time ratio of the two runs (noisier on a loaded
machine: the two runs do not see the same load). The weighted run also prints each term's mean
magnitude per agent and decision: the reference scales of :data:`envs.rewards.TERM_SCALES`, which
make the weights of a weighted reward read as shares.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from common import isolated, machine_line, median, print_table

ENV = {
    "delta_time": 2,
    "min_green": 5,
    "max_green": 60,
    "max_red": 90,
    "observation": "approach",
    "approach_zone": 25,
}  # configs/wuxi_core.yaml's env (the gap_out teacher reads the approach zones)


def measure(scenario_name: str, horizon: float | None, weighted: bool, seed: int) -> dict[str, Any]:
    """One ``gap_out`` episode in this (fresh) process."""
    import scenarios
    from envs import TrafficSignalEnv
    from envs.connection import SumoConnection
    from envs.heuristics import GapOut
    from envs.rewards import TERM_SCALES

    inside = [0.0]
    original = SumoConnection.lane_co2

    def timed(self: SumoConnection) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return original(self)
        finally:
            inside[0] += time.perf_counter() - t0

    SumoConnection.lane_co2 = timed  # type: ignore[method-assign]
    reward: Any = {"delay": 1.0, "co2": 1.0, "stops": 1.0} if weighted else "delay"
    scenario = scenarios.resolve(scenario_name, horizon=horizon)
    sums: dict[str, float] = {}
    n = 0
    with TrafficSignalEnv(scenario, backend="libsumo", reward=reward, **ENV) as env:
        wall = time.perf_counter()
        obs, infos = env.reset(seed=seed)
        picker = GapOut()
        picker.reset(env)
        while env.agents:
            obs, _, _, _, infos = env.step(picker.act(obs, infos))
            for info in infos.values():
                for name, value in zip(env.reward_term_names, info.get("reward_terms", ())):
                    # undo the current scale: the raw magnitude is what a new scale is set from
                    sums[name] = sums.get(name, 0.0) + abs(float(value)) * TERM_SCALES.get(name, 1.0)
                n += 1
        wall = time.perf_counter() - wall
        sumo = env.connection.sim_step_seconds if env.connection else float("nan")
        decisions = int(env._now - scenario.begin) // ENV["delta_time"]
    return {
        "wall": wall,
        "sumo": sumo,
        "co2_read": inside[0],
        "decisions": decisions,
        "means": {k: v / max(n, 1) for k, v in sums.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="wuxi-core")
    parser.add_argument("--horizon", type=float, help="shorten the scenario (s); default: its own")
    parser.add_argument("--repeats", type=int, default=1, help="pairs of runs (alternating order)")
    parser.add_argument("--seed", type=int, default=11, help="SUMO seed (11: a validation seed)")
    args = parser.parse_args()
    print(machine_line())
    rows, in_run, paired, means = [], [], [], []
    for k in range(args.repeats):
        order = (True, False) if k % 2 == 0 else (False, True)  # the weighted run first: its scales
        runs = {}
        for w in order:
            runs[w] = r = isolated(measure, args.scenario, args.horizon, w, args.seed)
            terms = ", ".join(f"{name} {v:.4g}" for name, v in r["means"].items())
            print(f"  {'weighted' if w else 'delay'} run: {r['wall']:.1f} s wall; {terms}", flush=True)
        for w in (False, True):
            r = runs[w]
            rows.append(
                [
                    "delay+co2+stops" if w else "delay",
                    r["decisions"],
                    f"{r['wall']:.1f}",
                    f"{r['sumo']:.1f}",
                    f"{r['co2_read']:.2f}",
                    f"{100 * r['co2_read'] / r['wall']:.1f}%",
                ]
            )
        in_run.append(runs[True]["co2_read"] / runs[True]["wall"])
        paired.append(runs[True]["wall"] / runs[False]["wall"])
        means.append(runs[True]["means"])
    print_table(
        f"{args.scenario}, {args.horizon or 'full'} s, gap_out, seed {args.seed}",
        ["reward", "decisions", "env wall s", "in simulationStep s", "in lane_co2 s", "lane_co2 / wall"],
        rows,
    )
    print(
        f"CO2 reading, share of env time in the same run (median of {args.repeats}): "
        f"{100 * median(in_run):.1f}%; paired wall ratio (with / without): {median(paired):.3f}"
    )
    terms = {name: median([m[name] for m in means]) for name in means[0]}
    print(
        "mean |term| per agent and decision (raw, before TERM_SCALES): "
        + ", ".join(f"{k} {v:.4g}" for k, v in terms.items())
    )


if __name__ == "__main__":
    main()
