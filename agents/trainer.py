"""Multi-agent PPO training: one policy shared by all intersections (sb3-contrib MaskablePPO).

Read top to bottom (:func:`train`): run folder -> scenario -> vectorised multi-agent env (+ reward
normalisation) -> PPO -> warm start -> learn with checkpoints / evaluation / TensorBoard -> final
model. Resuming restores the model (weights and optimiser), the normalisation statistics, the
timestep counter (so schedules and TensorBoard continue at the right step) and each worker's
episode-seed stream.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch as th
from sb3_contrib import MaskablePPO
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecNormalize

from agents.callbacks import Evaluator, TrainingCallback
from agents.config import TrainConfig
from agents.mix import ScenarioMix, build_mix
from agents.networks import load_model, policy_class, policy_kwargs
from agents.progress import Progress
from agents.runs import latest_checkpoint, new_run_dir, write_metadata
from agents.vec_env import MultiAgentVecEnv, training_seed_base
from agents.warm_start import behaviour_clone
from core.config import dump_config, load_config
from core.errors import CheckpointError
from core.files import atomic_write, atomic_write_text

ALGO = "mappo"  # run folders and TensorBoard: PPO with parameter sharing (Yu et al. 2022)
WARM_START_MODEL = "warm_start_model.zip"  # the policy right after the warm start (before PPO)


@dataclass(frozen=True)
class RunStart:
    """Where a run starts: its folder, its config and, on resume, the checkpoint to load."""

    run: Path
    config: TrainConfig
    checkpoint: dict[str, Any] | None


def _open_run(config: TrainConfig, resume: Path | None, command: list[str], run_dir: Path | None) -> RunStart:
    """A new run folder with its metadata, or the resumed one with its own config and checkpoint."""
    if resume is None:
        name = "mix" if config.scenarios else config.scenario
        run = run_dir or new_run_dir(config.run_root, name, ALGO, config.seed)
        run.mkdir(parents=True, exist_ok=True)
        write_metadata(run, dump_config(config), command)
        return RunStart(run, config, None)
    resume = Path(resume)
    if not (resume / "config.yaml").is_file():
        raise CheckpointError(f"{resume} is not a run folder (no config.yaml).")
    config = load_config(TrainConfig, resume / "config.yaml")
    checkpoint = latest_checkpoint(resume)
    with open(resume / "command.txt", "a") as fh:
        fh.write("# resumed: " + " ".join(command) + "\n")
    return RunStart(resume, config, checkpoint)


def _schedule(config: TrainConfig) -> Any:
    lr = config.ppo.learning_rate
    if config.ppo.lr_schedule == "linear":
        return lambda progress_remaining: lr * max(progress_remaining, 0.05)
    return lr


def _make_env(
    config: TrainConfig, mix: ScenarioMix, checkpoint: dict[str, Any] | None
) -> tuple[MultiAgentVecEnv, Any]:
    """The vectorised env, and what PPO trains on (the same, or wrapped in reward normalisation)."""
    start_episodes = [w["episode"] for w in checkpoint["workers"]] if checkpoint else None
    venv = MultiAgentVecEnv(
        mix,
        config.env,
        n_envs=config.n_envs,
        seed_base=training_seed_base(config.seed),
        in_process=config.n_envs == 1,
        start_episodes=start_episodes,
        executor=config.executor,
        ray_address=config.ray_address,
    )
    if not config.ppo.normalize_reward:
        return venv, venv
    try:
        if checkpoint is not None and "vecnormalize" in checkpoint:
            return venv, VecNormalize.load(checkpoint["vecnormalize"], venv)
        return venv, VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=config.ppo.gamma)
    except BaseException:
        venv.close()
        raise


def _make_model(
    config: TrainConfig, env: Any, venv: MultiAgentVecEnv, run: Path, checkpoint: dict[str, Any] | None
) -> MaskablePPO:
    if checkpoint is not None:
        return load_model(checkpoint["model"], config, env=env)
    model = MaskablePPO(
        policy_class(config),
        env,
        learning_rate=_schedule(config),
        **config.ppo.algorithm_kwargs(),
        policy_kwargs=policy_kwargs(config, venv),
        tensorboard_log=str(run / "tb"),
        seed=config.seed,
        device="cpu",
        verbose=0,
    )
    if config.init_from is not None:
        init_weights(model, config)
    return model


def init_weights(model: MaskablePPO, config: TrainConfig) -> Path:
    """Copy the policy weights of ``config.init_from`` (a run folder: its ``best_model.zip``, else
    ``final_model.zip``; or a model ``.zip`` in one) into ``model``; returns the file read.

    Raises:
        CheckpointError: no such model, or its weights do not fit this run's policy (another
            policy class or width; an MLP also needs the same observation padding).
    """
    from agents.controller import find_run_files

    path, run_dir = find_run_files(config.init_from)  # type: ignore[arg-type]
    source = load_config(TrainConfig, run_dir / "config.yaml")
    try:
        weights = load_model(path, source).policy.state_dict()
        model.policy.load_state_dict(weights)
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"init_from={config.init_from}: its policy does not fit this run's "
            f"(ppo.policy {source.ppo.policy!r} -> {config.ppo.policy!r}, net_arch "
            f"{source.ppo.net_arch} -> {config.ppo.net_arch}; an mlp policy also needs the same "
            f"observation and padding): {str(exc).splitlines()[0]}"
        ) from None
    return path


def _hparams(config: TrainConfig) -> dict[str, Any]:
    """What the HPARAMS tab of TensorBoard lists."""
    p, e = config.ppo, config.env
    return {
        "scenario": "mix" if config.scenarios else config.scenario,
        "n_envs": config.n_envs,
        "reward": e.reward_label(),  # a name, or the weighted terms' shares
        "observation": e.observation,
        "neighbour_obs": e.neighbour_obs,
        "neighbour_reward_weight": e.neighbour_reward_weight,
        "critic_obs": e.critic_obs,
        "learning_rate": p.learning_rate,
        "n_steps": p.n_steps,
        "batch_size": p.batch_size,
        "gamma": p.gamma,
        "ent_coef": p.ent_coef,
        "delta_time": e.delta_time,
    }


def _save_final(run: Path, model: MaskablePPO, env: Any) -> None:
    atomic_write(run / "final_model.zip", lambda path: model.save(path))
    if isinstance(env, VecNormalize):
        atomic_write(run / "vecnormalize.pkl", lambda path: env.save(str(path)))


def train(
    config: TrainConfig,
    *,
    evaluator: Evaluator | None = None,
    resume: Path | None = None,
    command: list[str] | None = None,
    progress: bool = True,
    run_dir: Path | None = None,
) -> Path:
    """Train (or resume) a run; returns the run folder.

    Args:
        config: validated training config (ignored on resume: the run's own config.yaml is used).
        evaluator: validation hook (``train.py`` wires the evaluation harness in).
        resume: a run folder to continue from its newest checkpoint.
        command: the command line to record.
        progress: show what the run is doing (stage lines) and a progress bar.
        run_dir: write into this (new) folder instead of ``run_root/<name>``.
    """
    started = time.time()
    start = _open_run(config, resume, command or sys.argv, run_dir) if resume is not None else None
    config = start.config if start is not None else config  # on resume: the run's own config
    deadline = started + 60 * config.max_minutes if config.max_minutes else None
    shown = Progress(progress, config.total_timesteps, deadline, started)
    mix = build_mix(config, shown.stage)  # a bad entry fails here, before any new run folder exists
    if start is None:
        if mix.padding:  # the run's config records the padding its policy was trained with
            config = config.model_copy(update={"env": mix.env_config(config.env)})
        start = _open_run(config, None, command or sys.argv, run_dir)
    run, config, checkpoint = start.run, start.config, start.checkpoint
    set_random_seed(config.seed)
    th.set_num_threads(1)  # the simulations own the cores; a small MLP gains nothing from threads
    what = config.scenario if len(mix.members) == 1 else f"a mix of {len(mix.members)} nets"
    shown.stage(f"run folder {run}; starting {config.n_envs} SUMO simulation(s) of {what}")
    venv, env = _make_env(config, mix, checkpoint)
    try:
        model = _make_model(config, env, venv, run, checkpoint)
        warm = checkpoint is None and config.warm_start.steps > 0
        if warm:
            stats = behaviour_clone(
                model,
                venv,
                config.warm_start,
                config.seed,
                env if isinstance(env, VecNormalize) else None,
                progress=shown,
                clone_actor=config.init_from is None,
            )
            atomic_write_text(run / "warm_start.json", json.dumps(stats))
            # The teacher's clone, kept: the test table shows it next to the final policy (the
            # learned gain over the teacher is the gain PPO made).
            atomic_write(run / WARM_START_MODEL, lambda path: model.save(path))
        callback = TrainingCallback(
            run,
            config.checkpoint_every,
            config.eval.every_steps,
            evaluator,
            deadline,
            _hparams(config),
            shown,
            eval_at_start=warm or (checkpoint is None and config.init_from is not None),
        )
        remaining = max(config.total_timesteps - model.num_timesteps, 0)
        if remaining == 0:
            return run  # the budget was already spent before the interruption
        model.learn(remaining, callback=callback, reset_num_timesteps=checkpoint is None, tb_log_name=ALGO)
        shown.stage(f"training stopped at {model.num_timesteps:,} agent-steps; saving the final model")
        _save_final(run, model, env)
        callback.checkpoint()
        if evaluator is not None:
            scores = callback.evaluate()
            if scores:
                atomic_write_text(run / "final_eval.json", json.dumps(scores))
    finally:
        shown.close()
        env.close()
    return run
