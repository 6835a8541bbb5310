"""A whole scenario through the env at scale: real-time factor, env cost over SUMO's own, memory.

For issue 14's targets on the city (``wuxi-city``, 1,723 signals, one hour): the env driven by
max-pressure (batched) and by a shared policy (one batched forward pass for all agents per decision)
must run at >= 8x real time on one core, take at most 1.2x the time SUMO itself spends inside
``simulationStep`` in the same episode, and stay under 4 GB peak RSS. Each run is one fresh process
(libsumo allows one simulation per process; a fresh process makes peak RSS its own)::

    python bench/env_scale.py wuxi-district --horizon 900
    python bench/env_scale.py wuxi-city --controllers max_pressure,policy
    python bench/env_scale.py wuxi-city --controllers ppo:runs/<generalist run>

``policy`` is an untrained MLP of the default architecture (``ppo.net_arch``, 128x128) over the
default observation: a policy's cost per decision does not depend on its weights, but the traffic
it makes does (random phase choices congest a city, and a congested net costs SUMO more per step).
``ppo:RUN`` is a trained policy (the evaluation harness's controller), on the env settings it was
trained with (its decision interval and observation; ``--delta-time`` does not apply). Printed per run:
wall seconds, seconds inside SUMO's ``simulationStep``, their ratio (the env's cost over SUMO's), the
real-time factor (simulated seconds per wall second) and peak RSS.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from common import isolated, machine_line, peak_rss_mb, print_table


def measure(scenario_name: str, horizon: float | None, controller: str, delta_time: float) -> dict[str, Any]:
    """One episode of ``controller`` in this (fresh) process."""
    import scenarios
    from envs import TrafficSignalEnv
    from envs.heuristics import MaxPressure

    t_build = time.perf_counter()
    scenario = scenarios.resolve(scenario_name, horizon=horizon)
    build_s = time.perf_counter() - t_build
    trained = None
    if controller.startswith("ppo:"):
        from agents.controller import PolicyController

        trained = PolicyController(controller.removeprefix("ppo:"))
        config: Any = trained.env_config.model_copy(update={"backend": "libsumo"})
    else:
        config = {"backend": "libsumo", "delta_time": delta_time, "min_green": 10}
    with TrafficSignalEnv(scenario, config) as env:
        obs, infos = env.reset(seed=1)
        if controller == "max_pressure":
            picker = MaxPressure()
            picker.reset(env)
            act = picker.act
        elif trained is not None:
            trained.reset(env, seed=1)
            act = trained.act
        else:
            act = _policy(env)
        wall, decisions = time.perf_counter(), 0
        while env.agents:
            obs, _, _, _, infos = env.step(act(obs, infos))
            decisions += 1
        wall = time.perf_counter() - wall
        sumo = env.connection.sim_step_seconds if env.connection else float("nan")
        simulated = env._now - scenario.begin
        agents = len(env.possible_agents)
    return {
        "agents": agents,
        "decisions": decisions,
        "wall": wall,
        "sumo": sumo,
        "simulated": simulated,
        "build": build_s,
        "rss": peak_rss_mb(),
    }


def _policy(env: Any) -> Any:
    """One masked argmax over an MLP's logits for all agents per decision (an untrained policy)."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    n_obs, n_act = env.obs_size, env.dims.n_actions
    net = torch.nn.Sequential(
        torch.nn.Linear(n_obs, 128),
        torch.nn.Tanh(),
        torch.nn.Linear(128, 128),
        torch.nn.Tanh(),
        torch.nn.Linear(128, n_act),
    )

    def act(obs: dict[str, np.ndarray], infos: dict[str, dict]) -> dict[str, int]:
        agents = list(obs)
        x = torch.as_tensor(np.stack([obs[a] for a in agents]))
        masks = torch.as_tensor(np.stack([infos[a]["action_mask"] for a in agents]))
        with torch.no_grad():
            logits = net(x).masked_fill(~masks, -torch.inf)
        return dict(zip(agents, logits.argmax(dim=1).tolist()))

    return act


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="wuxi-district")
    parser.add_argument("--horizon", type=float, help="shorten the scenario (s); default: its own")
    parser.add_argument("--controllers", default="max_pressure,policy")
    parser.add_argument("--delta-time", type=float, default=5.0)
    args = parser.parse_args()
    print(machine_line())
    rows = []
    for controller in args.controllers.split(","):
        r = isolated(measure, args.scenario, args.horizon, controller, args.delta_time)
        rows.append(
            [
                controller,
                r["agents"],
                r["decisions"],
                f"{r['wall']:.1f}",
                f"{r['sumo']:.1f}",
                f"{r['wall'] / r['sumo']:.2f}",
                f"{r['simulated'] / r['wall']:.1f}x",
                f"{r['rss'] / 1024:.2f}",
            ]
        )
        print(f"  {controller}: built/loaded in {r['build']:.1f} s", flush=True)
    print_table(
        f"{args.scenario}, {args.horizon or 'full'} s, decisions every {args.delta_time:g} s (ppo: its own)",
        [
            "controller",
            "agents",
            "decisions",
            "wall s",
            "in simulationStep s",
            "wall / SUMO",
            "real-time factor",
            "peak RSS GB",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
