"""Multi-agent PPO training: one policy shared by all intersections (sb3-contrib MaskablePPO).

Read top to bottom: scenario -> vectorised multi-agent env (+ reward normalisation) -> PPO -> learn
with checkpoints / evaluation / TensorBoard -> final model. Resuming restores the model (weights and
optimiser), the normalisation statistics, the timestep counter (so schedules and TensorBoard continue
at the right step) and each worker's episode-seed stream.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import torch as th
from sb3_contrib import MaskablePPO
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecNormalize

from agents.callbacks import Evaluator, TrainingCallback
from agents.config import TrainConfig, dump_config, load_config
from agents.policies import policy_class, policy_kwargs
from agents.runs import atomic_write, latest_checkpoint, new_run_dir, write_metadata
from agents.vec_env import MultiAgentVecEnv
from agents.warm_start import behaviour_clone
from scenarios.errors import CheckpointError
from scenarios.scenario import Scenario

ALGO = "mappo"
TRAIN_SEED_BASE = 100_000  # training episodes use SUMO seeds >= 100000; evaluation seeds stay below


def resolve_scenario(config: TrainConfig) -> Scenario:
    """The training scenario: a catalogue name (built) or a path (loaded)."""
    import scenarios

    if config.scenario in scenarios.list_scenarios():
        return scenarios.build(config.scenario, seed=config.scenario_seed, horizon=config.horizon)
    scenario = scenarios.load(config.scenario)
    if config.horizon is not None:
        from dataclasses import replace

        scenario = replace(scenario, end=scenario.begin + config.horizon)
    return scenario


def _schedule(config: TrainConfig) -> Any:
    lr = config.ppo.learning_rate
    if config.ppo.lr_schedule == "linear":
        return lambda progress_remaining: lr * max(progress_remaining, 0.05)
    return lr


def _make_vec_env(config: TrainConfig, scenario: Scenario, start_episodes: list[int] | None
                  ) -> MultiAgentVecEnv:
    return MultiAgentVecEnv(scenario, config.env, n_envs=config.n_envs,
                            seed_base=TRAIN_SEED_BASE + 10_000 * config.seed,
                            in_process=config.n_envs == 1, start_episodes=start_episodes)


def train(config: TrainConfig, *, evaluator: Evaluator | None = None, resume: Path | None = None,
          command: list[str] | None = None, progress: bool = True, run_dir: Path | None = None) -> Path:
    """Train (or resume) a run; returns the run folder.

    Args:
        config: validated training config (ignored on resume: the run's own config.yaml is used).
        evaluator: periodic evaluation hook (``train.py`` wires the evaluation harness in).
        resume: a run folder to continue from its newest checkpoint.
        command: the command line to record.
        progress: show a progress bar.
        run_dir: write into this (new) folder instead of ``run_root/<name>``.
    """
    command = command or sys.argv
    start_episodes = None
    checkpoint = None
    if resume is not None:
        resume = Path(resume)
        if not (resume / "config.yaml").is_file():
            raise CheckpointError(f"{resume} is not a run folder (no config.yaml).")
        config = load_config(TrainConfig, resume / "config.yaml")
        checkpoint = latest_checkpoint(resume)
        start_episodes = [w["episode"] for w in checkpoint["workers"]]
        run = resume
        with open(run / "command.txt", "a") as fh:
            fh.write("# resumed: " + " ".join(command) + "\n")
    else:
        run = run_dir or new_run_dir(config.run_root, config.scenario, ALGO, config.seed)
        run.mkdir(parents=True, exist_ok=True)
        write_metadata(run, dump_config(config), command)

    set_random_seed(config.seed)
    th.set_num_threads(1)  # the simulations own the cores; a small MLP gains nothing from threads
    scenario = resolve_scenario(config)
    venv = _make_vec_env(config, scenario, start_episodes)
    env: Any = venv
    try:
        if config.ppo.normalize_reward:
            if checkpoint is not None and "vecnormalize" in checkpoint:
                env = VecNormalize.load(checkpoint["vecnormalize"], venv)
            else:
                env = VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=config.ppo.gamma)
        p = config.ppo
        if checkpoint is not None:
            model = MaskablePPO.load(checkpoint["model"], env=env, device="cpu")
        else:
            model = MaskablePPO(
                policy_class(config), env, learning_rate=_schedule(config), n_steps=p.n_steps,
                batch_size=p.batch_size, n_epochs=p.n_epochs, gamma=p.gamma, gae_lambda=p.gae_lambda,
                clip_range=p.clip_range, ent_coef=p.ent_coef, vf_coef=p.vf_coef,
                max_grad_norm=p.max_grad_norm, policy_kwargs=policy_kwargs(config, venv),
                tensorboard_log=str(run / "tb"), seed=config.seed, device="cpu", verbose=0)
        deadline = time.time() + 60 * config.max_minutes if config.max_minutes else None
        if checkpoint is None and config.warm_start.steps > 0:
            stats = behaviour_clone(model, venv, config.warm_start, config.seed,
                                    env if isinstance(env, VecNormalize) else None)
            (run / "warm_start.json").write_text(json.dumps(stats))
        hparams = {"scenario": config.scenario, "n_envs": config.n_envs, "reward": config.env.reward,
                   "observation": config.env.observation, "neighbour_obs": config.env.neighbour_obs,
                   "neighbour_reward_weight": config.env.neighbour_reward_weight,
                   "critic_obs": config.env.critic_obs, "learning_rate": p.learning_rate,
                   "n_steps": p.n_steps, "batch_size": p.batch_size, "gamma": p.gamma,
                   "ent_coef": p.ent_coef, "delta_time": config.env.delta_time}
        callback = TrainingCallback(run, config.total_timesteps, config.checkpoint_every,
                                    config.eval.every_steps, evaluator, deadline, hparams, progress,
                                    eval_at_start=checkpoint is None and config.warm_start.steps > 0)
        remaining = max(config.total_timesteps - model.num_timesteps, 0)
        if remaining == 0:
            return run  # the budget was already spent before the interruption
        model.learn(remaining, callback=callback, reset_num_timesteps=checkpoint is None,
                    tb_log_name="ppo")
        atomic_write(run / "final_model.zip", lambda path: model.save(path))
        if isinstance(env, VecNormalize):
            atomic_write(run / "vecnormalize.pkl", lambda path: env.save(str(path)))
        callback.checkpoint()
        if evaluator is not None:
            scores = callback.evaluate()
            if scores:
                atomic_write(run / "final_eval.json", lambda path: path.write_text(json.dumps(scores)))
    finally:
        env.close()
    return run
