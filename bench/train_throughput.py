"""Training throughput: the project's trainer with 1 and 2 worker processes vs SB3 PPO on sumo-rl.

    python bench/train_throughput.py [--scenario wuxi-core] [--steps 23040] [--repeats 3] [--no-sumo-rl]
                                     [--set env.critic_obs=false ...]

* **ours, 1 / 2 workers**: a real ``agents.trainer.train`` run (MaskablePPO updates included,
  evaluation and warm start off) into a temporary folder, with ``configs/wuxi_core.yaml`` plus the
  ``PINNED`` timing/observation/PPO settings of the runs recorded in BENCHMARKS.md, plus ``--set``.
* **sumo-rl + SB3 PPO**: the equivalent on sumo-rl (installed by the ``bench`` extra): one
  ``sumo_rl.SumoEnvironment`` (libsumo) on the same net and routes, every intersection one entry of
  a hand-made SB3 ``VecEnv`` (parameter sharing, as ours; no supersuit), SB3 ``PPO`` with the same
  ``n_steps``, ``batch_size``, ``n_epochs``, ``gamma``, learning rate, entropy coefficient and
  ``net_arch``, one torch thread (as our trainer), ``delta_time``/yellow/``min_green`` as ours, its
  default ``diff-waiting-time`` reward (the counterpart of our ``delay`` reward) and its info off.

Agent-steps/s is taken between the first and the last rollout (``_on_rollout_end``; SUMO start-up
excluded, PPO updates included) for all three. Every measurement runs in a fresh spawn process,
which also gives its peak RSS (main process / largest worker). Prints the medians and the ratios
ours / sumo-rl (target >= 1.5) and 2 workers / 1 worker (target >= 1.6) of issue 6.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    finished_children_peak_rss_mb,
    isolated,
    machine_line,
    median,
    peak_rss_mb,
    print_table,
    use_installed_sumo_home,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs/wuxi_core.yaml"
# Pinned on top of CONFIG so that the comparison stays what BENCHMARKS.md records when the training
# config moves on (and stays possible for sumo-rl, which needs delta_time > its 3-s yellow): the
# timing, observation and PPO settings of the measured runs. ``--set`` overrides any of them.
PINNED = (
    "env.delta_time=5",
    "env.min_green=10",
    "env.max_green=60",
    "env.observation=default",
    "ppo.n_steps=120",
    "ppo.batch_size=1024",
    "ppo.n_epochs=5",
    "ppo.gamma=0.95",
    "ppo.learning_rate=0.0003",
)


def _config(
    scenario: str, n_envs: int, steps: int, horizon: float | None, run_root: str, extra: tuple[str, ...] = ()
) -> Any:
    from agents.config import TrainConfig
    from core.config import load_config

    overrides = [
        f"scenario={scenario}",
        f"n_envs={n_envs}",
        f"total_timesteps={steps}",
        "max_minutes=null",
        "warm_start.steps=0",
        "eval.every_steps=0",
        f"checkpoint_every={10 * steps}",
        f"run_root={run_root}",
        *PINNED,
        *extra,
    ]
    if horizon:
        overrides.append(f"horizon={horizon}")
    return load_config(TrainConfig, CONFIG, overrides)


def rate(rows: list[tuple[float, float]]) -> float:
    """Agent-steps/s between the first and the last ``(timesteps, time)`` row."""
    (n0, t0), (n1, t1) = rows[0], rows[-1]
    return (n1 - n0) / (t1 - t0)


def measure(
    scenario: str, n_envs: int, steps: int, horizon: float | None, extra: tuple[str, ...] = ()
) -> tuple[float, list[float]]:
    """Ours: ``(agent-steps/s, [main peak RSS, largest worker peak RSS] MB)``; ``extra``: config
    overrides (``key=value``) for our trainer."""
    from agents.trainer import train

    with tempfile.TemporaryDirectory() as tmp:
        run = train(
            _config(scenario, n_envs, steps, horizon, tmp, extra),
            evaluator=None,
            progress=False,
            command=["bench"],
        )
        with open(run / "metrics.csv") as fh:
            rows = [
                (float(r["timesteps"]), float(r["time"]))
                for r in csv.DictReader(fh)
                if r.get("timesteps") and r.get("time")
            ]
    rss = [peak_rss_mb()] + ([finished_children_peak_rss_mb()] if n_envs > 1 else [])
    return rate(rows), rss


def measure_sumo_rl(
    scenario_name: str, steps: int, horizon: float | None, extra: tuple[str, ...] = ()
) -> tuple[float, list[float]]:
    """sumo-rl + SB3 PPO: ``(agent-steps/s, [peak RSS] MB)``; the same config's timing and PPO settings."""
    os.environ["LIBSUMO_AS_TRACI"] = "quiet"  # before the first `import traci`
    use_installed_sumo_home()
    import sumo_rl
    import torch as th
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    with tempfile.TemporaryDirectory() as tmp:
        config = _config(scenario_name, 1, steps, horizon, tmp, extra)
    if config.env.delta_time <= 3:
        raise ValueError(
            f"delta_time={config.env.delta_time}: sumo-rl needs more than its 3-s yellow; "
            "use --set env.delta_time=5"
        )
    sc = config.resolve_scenario()
    warnings.filterwarnings("ignore", message="You have specified a mini-batch size")  # ours: the same
    e, p = config.env, config.ppo
    env = sumo_rl.SumoEnvironment(
        net_file=str(sc.net_file),
        route_file=",".join(str(f) for f in sc.route_files),
        begin_time=int(sc.begin),
        num_seconds=int(sc.end - sc.begin),
        delta_time=int(e.delta_time),
        yellow_time=3,
        min_green=int(e.min_green),
        max_green=int(e.max_green),
        time_to_teleport=300,
        sumo_seed=100_000,
        sumo_warnings=False,
        add_system_info=False,
        add_per_agent_info=False,
    )
    venv = SumoRLVecEnv(env)
    rows: list[tuple[float, float]] = []

    class Clock(BaseCallback):
        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            rows.append((float(self.model.num_timesteps), time.time()))

    th.set_num_threads(1)
    model = PPO(
        "MlpPolicy",
        venv,
        learning_rate=p.learning_rate,
        **p.algorithm_kwargs(),
        policy_kwargs={"net_arch": list(p.net_arch)},
        seed=config.seed,
        device="cpu",
        verbose=0,
    )
    try:
        model.learn(steps, callback=Clock())
    finally:
        venv.close()
    return rate(rows), [peak_rss_mb()]


def _sumo_rl_vec_env_class() -> type:
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv

    class _SumoRLVecEnv(VecEnv):
        """Every intersection of one sumo-rl ``SumoEnvironment`` is one entry (a shared policy).

        Observations are zero-padded to the largest intersection's; the episode ends for all
        entries at once (the horizon: a time limit, so SB3 bootstraps from the terminal observation).
        """

        def __init__(self, env: Any) -> None:
            self.env = env
            self.ids = list(env.ts_ids)
            size = max(env.observation_spaces(a).shape[0] for a in self.ids)
            import gymnasium

            obs_space = gymnasium.spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32)
            act_space = env.action_spaces(self.ids[0])
            super().__init__(len(self.ids), obs_space, act_space)
            self._actions: np.ndarray | None = None
            self._last = np.zeros((self.num_envs, size), dtype=np.float32)

        def _stack(self, obs: dict) -> np.ndarray:
            out = self._last.copy()
            for i, a in enumerate(self.ids):
                if a in obs:
                    out[i, : len(obs[a])] = obs[a]
            self._last = out
            return out

        def reset(self) -> np.ndarray:
            return self._stack(self.env.reset())

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = actions

        def step_wait(self) -> tuple:
            assert self._actions is not None
            obs, rew, dones, _info = self.env.step({a: int(self._actions[i]) for i, a in enumerate(self.ids)})
            stacked = self._stack(obs)
            rewards = np.array([rew.get(a, 0.0) for a in self.ids], dtype=np.float32)
            done = bool(dones["__all__"])
            infos: list[dict] = [{} for _ in self.ids]
            if done:
                infos = [
                    {"terminal_observation": stacked[i], "TimeLimit.truncated": True}
                    for i in range(self.num_envs)
                ]
                stacked = self.reset()
            return stacked, rewards, np.full(self.num_envs, done), infos

        def close(self) -> None:
            self.env.close()

        def get_attr(self, attr_name: str, indices: Any = None) -> list:
            return [getattr(self, attr_name, None)] * self.num_envs

        def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
            setattr(self, attr_name, value)

        def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list:
            return [getattr(self.env, method_name)(*args, **kwargs)]

        def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
            return [False] * self.num_envs

        def get_images(self) -> list:
            return []

    return _SumoRLVecEnv


def SumoRLVecEnv(env: Any) -> Any:  # noqa: N802 - a class factory (SB3 is imported lazily)
    """An SB3 ``VecEnv`` over a sumo-rl ``SumoEnvironment`` (see ``_SumoRLVecEnv``)."""
    return _sumo_rl_vec_env_class()(env)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", default="wuxi-core")
    parser.add_argument("--steps", type=int, default=23_040, help="agent-steps per measurement")
    parser.add_argument("--horizon", type=float, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-sumo-rl", action="store_true", help="only ours, 1 vs 2 workers")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override our training config (repeatable), e.g. env.critic_obs=false",
    )
    args = parser.parse_args()
    print(f"training throughput, {args.steps} agent-steps per measurement; {machine_line()}", flush=True)
    if args.set:
        print(f"our config overrides: {' '.join(args.set)}", flush=True)
    sides: dict[str, list[tuple[float, list[float]]]] = {"ours, 1 worker": [], "ours, 2 workers": []}
    if not args.no_sumo_rl:
        sides["sumo-rl + SB3 PPO"] = []
    for r in range(args.repeats):  # interleaved, so load changes hit every side alike
        for name in sides:
            if name.startswith("sumo-rl"):
                result = isolated(measure_sumo_rl, args.scenario, args.steps, args.horizon, tuple(args.set))
            else:
                n = 2 if "2" in name else 1
                result = isolated(measure, args.scenario, n, args.steps, args.horizon, tuple(args.set))
            sides[name].append(result)
            print(
                f"  run {r + 1}: {name}: {result[0]:.0f} agent-steps/s, peak RSS "
                f"{'/'.join(f'{m:.0f}' for m in result[1])} MB",
                flush=True,
            )
    med = {name: median([x for x, _ in runs]) for name, runs in sides.items()}
    ref = med.get("sumo-rl + SB3 PPO")
    rows = [
        [
            args.scenario,
            name,
            f"{med[name]:.0f}",
            ", ".join(f"{x:.0f}" for x, _ in runs),
            f"{med[name] / ref:.2f}" if ref else "–",
            f"{med[name] / med['ours, 1 worker']:.2f}",
            " / ".join(f"{median([m[i] for _, m in runs]):.0f}" for i in range(len(runs[0][1]))),
        ]
        for name, runs in sides.items()
    ]
    print_table(
        f"median of {args.repeats}; {machine_line()}",
        [
            "scenario",
            "trainer",
            "agent-steps/s",
            "runs",
            "x sumo-rl+SB3",
            "x ours 1 worker",
            "peak RSS MB (main / worker)",
        ],
        rows,
    )
    print("\ntargets (issue 6): ours >= 1.5x sumo-rl + SB3; 2 workers >= 1.6x 1 worker")


if __name__ == "__main__":
    main()
