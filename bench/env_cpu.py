"""CPU seconds of one env episode with seeded random actions: an A/B check between two checkouts.

CPU time (``time.process_time``: libsumo runs in this process, so it includes SUMO's stepping) moves
much less than wall time when other jobs share the cores, so two versions of the env can be compared
on a busy machine. Run it once per checkout, alternating::

    git worktree add /tmp/before <old commit>
    PYTHONPATH=/tmp/before python bench/env_cpu.py wuxi-district 600
    python bench/env_cpu.py wuxi-district 600
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import envs
import scenarios
from envs import TrafficSignalEnv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="wuxi-core")
    parser.add_argument("horizon", nargs="?", type=float, default=1800.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    env = TrafficSignalEnv(
        scenarios.build(args.scenario, horizon=args.horizon), backend="libsumo", reward="queue"
    )
    env.reset(seed=args.seed)
    rng = np.random.default_rng(0)
    wall, cpu, steps = time.perf_counter(), time.process_time(), 0
    while env.agents:
        env.step({a: int(rng.integers(env.dims.n_actions)) for a in env.agents})
        steps += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    sim = env.connection.sim_step_seconds if env.connection else float("nan")
    env.close()
    print(
        f"{envs.__file__}\n{args.scenario} ({args.horizon:g} s): {steps} steps, wall {wall:.2f} s, "
        f"CPU {cpu:.2f} s, inside simulationStep {sim:.2f} s"
    )


if __name__ == "__main__":
    main()
