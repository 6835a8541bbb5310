"""The cost of connected-vehicle sensing against the detector path (issue 15 target: the env time
at 100% penetration within 15% of the detector path's).

One run measures, on the same scenario, seed and action sequence (sensing does not change the
traffic, so every variant drives the same simulation), the wall time of the env's step loop:

* **detectors**: the lane sensors (the env's default), with the ``approach`` observation of the
  training config (lane getters plus one 75-m context subscription per junction for the zones);
* **connected p=100% / p=30%**: the equipped vehicles read from libsumo's per-lane vehicle id lists
  and per-vehicle getters (position, speed, waiting time; :mod:`envs.sensing`), the ground truth
  still read for the rewards;
* **context (all vehicles)**: the alternative read, for the choice: the detector env whose
  junction context subscriptions reach every incoming lane (radius = the longest incoming lane +
  50 m) and hand over each vehicle's lane, position and speed every decision.

Every variant runs in its own fresh process (libsumo: one simulation per process), alternating in
each repeat so that a change of machine load hits all of them alike; the table gives medians and
the ratios to the detector path in this run. On a loaded machine SUMO's own stepping of the same
simulation varies by tens of percent between runs, so the connected variants also time their
sensing (the equipped reads plus the estimator, :meth:`envs.sensing.Sensing.sense`) inside the
same episode: **wall / (wall - sensing)** is the ratio to the detector path that a run-to-run load
change cannot blur.

Usage::

    python bench/sensing_cost.py                      # wuxi-core, 20 simulated minutes, 2 repeats
    python bench/sensing_cost.py --horizon 3600 --repeats 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import isolated, machine_line, median, print_table

VARIANTS = ("detectors", "connected p=100%", "connected p=30%", "context (all vehicles)")
ENV = dict(observation="approach", approach_zone=25.0, delta_time=2.0, min_green=5.0, max_green=60.0)


def episode(
    scenario_name: str, horizon: float, variant: str, seed: int = 1
) -> tuple[float, float, int, float]:
    """``(step-loop wall s, of it inside simulationStep s, decisions, of it in the sensing s)`` of
    one episode."""
    import scenarios
    from envs import TrafficSignalEnv

    sc = scenarios.build(scenario_name, horizon=horizon)
    sensing = {}
    if variant.startswith("connected"):
        sensing = {"model": "connected", "penetration": 1.0 if "100" in variant else 0.3}
    env = TrafficSignalEnv(sc, ENV, backend="libsumo", sensing=sensing)
    rng = np.random.default_rng(0)
    sensed = [0.0]
    inner = env._sensing.sense

    def timed(*a: object) -> object:
        t = time.perf_counter()
        try:
            return inner(*a)
        finally:
            sensed[0] += time.perf_counter() - t

    env._sensing.sense = timed  # type: ignore[method-assign]
    try:
        env.reset(seed=seed)
        conn = env.connection
        assert conn is not None
        if variant.startswith("context"):
            reach = max(float(max(s.in_length)) for s in env.specs.values()) + 50.0
            conn.subscribe_approaches(env._junctions, reach)  # replaces the 75-m subscriptions
        sim0, n = conn.sim_step_seconds, 0
        t0 = time.perf_counter()
        while env.agents:
            actions = {a: int(rng.choice(np.flatnonzero(env.action_mask(a)))) for a in env.agents}
            env.step(actions)
            n += 1
        wall = time.perf_counter() - t0
        return wall, conn.sim_step_seconds - sim0, n, sensed[0]
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", default="wuxi-core")
    parser.add_argument("--horizon", type=float, default=1200.0, help="simulated seconds per episode")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(machine_line())
    walls: dict[str, list[float]] = {v: [] for v in VARIANTS}
    sims: dict[str, list[float]] = {v: [] for v in VARIANTS}
    inner: dict[str, list[float]] = {v: [] for v in VARIANTS}
    decisions = 0
    for r in range(args.repeats):
        order = VARIANTS if r % 2 == 0 else tuple(reversed(VARIANTS))
        for v in order:
            wall, sim, decisions, sensing = isolated(episode, args.scenario, args.horizon, v)
            walls[v].append(wall)
            sims[v].append(sim)
            inner[v].append(wall / (wall - sensing))
            print(
                f"repeat {r + 1}: {v}: {wall:.2f} s ({sim:.2f} s in simulationStep, {sensing:.2f} s sensing)",
                flush=True,
            )
    base = median(walls["detectors"])
    rows = [
        (
            v,
            f"{median(walls[v]):.2f}",
            f"{median(sims[v]):.2f}",
            f"{median(walls[v]) / base:.3f}",
            f"{median(inner[v]):.3f}" if v.startswith("connected") else "–",
        )
        for v in VARIANTS
    ]
    print_table(
        f"{args.scenario}, {args.horizon:g} simulated s ({decisions} decisions), median of {args.repeats}; "
        + machine_line(),
        (
            "sensing",
            "env step loop (s)",
            "inside simulationStep (s)",
            "ratio to detectors",
            "wall / (wall - sensing)",
        ),
        rows,
    )


if __name__ == "__main__":
    main()
