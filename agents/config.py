"""Training configuration: YAML + command-line overrides, validated into :class:`TrainConfig`.

Every hyper-parameter is a documented field of one object (as in CleanRL); unknown keys and bad
values raise :class:`~core.errors.ConfigError` naming the field (``ppo.learning_rate: ...``).
Read a file with :func:`core.config.load_config`::

    config = load_config(TrainConfig, "configs/wuxi_core.yaml", ["ppo.learning_rate=3e-4"])
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.ray_cluster import parse_address
from envs.config import EnvConfig
from scenarios.resolve import resolve
from scenarios.scenario import Scenario


class PPOConfig(BaseModel):
    """PPO hyper-parameters (stable-baselines3 / sb3-contrib MaskablePPO names).

    ``n_steps`` is per vectorised entry (one entry per intersection per worker), so one rollout holds
    ``n_steps * n_envs * n_intersections`` agent-steps.
    """

    model_config = ConfigDict(extra="forbid")

    learning_rate: float = Field(5e-4, gt=0)
    lr_schedule: Literal["constant", "linear"] = "linear"
    n_steps: int = Field(120, gt=1)
    batch_size: int = Field(1024, gt=1)
    n_epochs: int = Field(5, gt=0)
    gamma: float = Field(0.95, gt=0, le=1)
    gae_lambda: float = Field(0.95, ge=0, le=1)
    clip_range: float = Field(0.2, gt=0)
    ent_coef: float = Field(0.01, ge=0)
    vf_coef: float = Field(0.5, ge=0)
    max_grad_norm: float = Field(0.5, gt=0)
    net_arch: list[int] = Field(default_factory=lambda: [128, 128])
    normalize_reward: bool = True
    # "mlp": an MLP over the padded observation; "phase_competition": one network over movements
    # whose weights fit any junction (agents/phase_competition.py; needs env.observation: movement;
    # its width is net_arch[0]).
    policy: Literal["mlp", "phase_competition"] = "mlp"

    def algorithm_kwargs(self) -> dict[str, float | int]:
        """The keyword arguments of SB3's ``PPO`` / ``MaskablePPO`` these fields set (not the
        learning rate, whose schedule the trainer builds, nor the network)."""
        return self.model_dump(
            include={
                "n_steps",
                "batch_size",
                "n_epochs",
                "gamma",
                "gae_lambda",
                "clip_range",
                "ent_coef",
                "vf_coef",
                "max_grad_norm",
            }
        )


class WarmStartConfig(BaseModel):
    """Behaviour cloning of a heuristic teacher before PPO, so PPO starts from a sound policy instead
    of random phase switching (demonstration warm starts, e.g. Hester et al. 2018). ``teacher``:
    ``max_pressure`` (Varaiya 2013), ``gap_out`` (vehicle-actuated; needs ``env.observation:
    approach``) or ``time_loss`` (delay-based actuated, after SUMO's ``delay_based``; needs
    ``env.detector_range``, e.g. 100, which leaves the policy's observation as it is)."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(0, ge=0)  # decisions per simulation under the teacher; 0 disables
    teacher: Literal["max_pressure", "gap_out", "time_loss"] = "max_pressure"
    critic_epochs: int = Field(10, ge=0)  # value pretraining on the teacher's returns; 0 disables
    epochs: int = Field(10, gt=0)
    learning_rate: float = Field(1e-3, gt=0)
    batch_size: int = Field(512, gt=0)


class ScenarioEntry(BaseModel):
    """One entry of a training run's scenario mix (``scenarios:``): each worker episode runs one
    entry, drawn with probability proportional to ``weight``.

    Attributes:
        scenario: catalogue name, ``generated:<family>`` (:mod:`scenarios.generator`) or a path to a
            ``.sumocfg``.
        weight: relative probability of the entry.
        variants: build seeds ``scenario_seed`` .. ``scenario_seed + variants - 1`` of the entry
            (other random networks and demand files, for ``generated:`` and catalogue names); an
            episode draws one of them uniformly.
        horizon: shorten this entry's episodes (seconds); ``None`` keeps the run's ``horizon``.
        teacher: the warm start's teacher on this entry; ``None`` keeps ``warm_start.teacher``
            (a generalist need not inherit one heuristic's failures: teach each net with the
            heuristic that does best there).
    """

    model_config = ConfigDict(extra="forbid")

    scenario: str
    weight: float = Field(1.0, gt=0)
    variants: int = Field(1, gt=0, le=500)
    horizon: float | None = Field(None, gt=0)
    teacher: Literal["max_pressure", "gap_out", "time_loss"] | None = None


class ValidationScenario(BaseModel):
    """A scenario of the validation (``eval.scenarios``): name, build seed and horizon."""

    model_config = ConfigDict(extra="forbid")

    scenario: str
    seed: int = 0
    horizon: float | None = Field(None, gt=0)


class TrainingEvalConfig(BaseModel):
    """Evaluation during training (through the evaluation harness): periodic on the validation seeds,
    which choose ``best_model.zip``, and once at the end on the test seeds, which nothing chose."""

    model_config = ConfigDict(extra="forbid")

    every_steps: int = Field(0, ge=0)  # agent-steps between evaluations; 0 = only at the end
    seeds: list[int] = Field(default_factory=lambda: [11, 12, 13, 14, 15])  # validation seeds
    test_seeds: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])  # [] skips the test table
    baselines: list[str] = Field(default_factory=lambda: ["fixed_time", "max_pressure"])
    workers: int = Field(2, gt=0)
    # Validation (and test) scenarios; [] = the run's own ``scenario``. With several, the score that
    # chooses best_model.zip is the mean over them of each controller's delay relative to the first
    # baseline's (1.0 = as good as that baseline), so that no one congested net dominates.
    scenarios: list[ValidationScenario] = Field(default_factory=list)
    # Issue 18: weights of delay/co2/stops/... that choose best_model.zip on the validation seeds
    # (evaluation/objectives.py); None = env.reward's weights if it is a mapping, else delay alone.
    selection: dict[str, float] | None = None

    @model_validator(mode="after")
    def _disjoint(self) -> TrainingEvalConfig:
        shared = sorted(set(self.seeds) & set(self.test_seeds))
        if shared:
            raise ValueError(
                f"seeds and test_seeds share {shared}: a test seed that chose the model "
                "is not held out; pick disjoint seeds (e.g. seeds 11-15, test_seeds 1-5)"
            )
        return self


class TrainConfig(BaseModel):
    """A training run.

    Attributes:
        scenario: catalogue name or path of the scenario to train on (with ``scenarios``: the run's
            name, and the validation scenario unless ``eval.scenarios`` says otherwise).
        scenarios: a mix of scenarios to train on (one policy for many networks: each worker
            episode draws an entry); ``[]`` trains on ``scenario`` alone. Needs a policy whose
            weights fit any junction (``ppo.policy: phase_competition``) when the nets differ in
            shape.
        init_from: a run folder (or a model ``.zip``) whose policy weights start this run
            (fine-tuning a generalist on one net); its actor replaces the warm start's cloning.
        scenario_seed: seed of the scenario generator (network and demand file).
        horizon: shorten the episode (seconds); ``None`` keeps the scenario's.
        env: environment settings.
        ppo: PPO hyper-parameters.
        eval: periodic evaluation.
        warm_start: behaviour cloning of a heuristic teacher before PPO (off when ``steps`` is 0).
        seed: seed of the policy initialisation and of the training episode seeds.
        n_envs: simulations (worker processes) collecting experience in parallel.
        executor: where the simulations run: ``process`` (worker processes on this machine) or
            ``ray`` (Ray actors on a local Ray instance or a cluster, so ``n_envs`` may exceed one
            machine's cores; needs ``pip install -e ".[ray]"``). The learner stays here.
        ray_address: with ``executor: ray``, the head's ``host:port`` (or ``auto``); ``None``
            starts a local Ray instance with ``n_envs`` CPUs.
        total_timesteps: training budget in agent-steps (one decision of one intersection).
        max_minutes: wall-clock budget; training stops at whichever budget ends first.
        checkpoint_every: agent-steps between checkpoints.
        run_root: folder that receives the run folders.
    """

    model_config = ConfigDict(extra="forbid")

    scenario: str = "wuxi-core"
    scenarios: list[ScenarioEntry] = Field(default_factory=list)
    init_from: str | None = None
    scenario_seed: int = 0
    horizon: float | None = Field(None, gt=0)
    env: EnvConfig = Field(default_factory=EnvConfig)
    ppo: PPOConfig = Field(default_factory=PPOConfig)
    eval: TrainingEvalConfig = Field(default_factory=TrainingEvalConfig)
    warm_start: WarmStartConfig = Field(default_factory=WarmStartConfig)
    seed: int = Field(0, ge=0)
    n_envs: int = Field(2, gt=0)
    executor: Literal["process", "ray"] = "process"
    ray_address: str | None = None
    total_timesteps: int = Field(1_000_000, gt=0)
    max_minutes: float | None = Field(None, gt=0)
    checkpoint_every: int = Field(100_000, gt=0)
    run_root: str = "runs"

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        teachers = {self.warm_start.teacher} | {e.teacher for e in self.scenarios if e.teacher}
        if (
            self.warm_start.steps
            and "gap_out" in teachers
            and self.env.observation not in ("approach", "movement")
        ):
            raise ValueError(
                "warm_start.teacher 'gap_out' reads the approach zones: set env.observation "
                "to 'approach' or 'movement' (or use the max_pressure teacher)"
            )
        if self.ppo.policy == "phase_competition" and (
            self.env.observation != "movement" or self.env.action_mode != "phase" or self.env.critic_obs
        ):
            raise ValueError(
                "ppo.policy 'phase_competition' scores greens from movements: it needs env.observation "
                "'movement', env.action_mode 'phase' and env.critic_obs false"
            )
        if self.env.sensing.critic_truth and self.ppo.policy == "mlp" and not self.env.critic_obs:
            raise ValueError(
                "env.sensing.critic_truth with the MLP policy needs env.critic_obs: true (the critic's "
                "part of the observation; without it the actor would read the ground truth)"
            )
        if self.warm_start.steps and "time_loss" in teachers and self.env.detector_range is None:
            raise ValueError(
                "warm_start.teacher 'time_loss' reads the time-loss detectors: set "
                "env.detector_range (e.g. 100; the policy's observation does not change)"
            )
        if self.ray_address is not None and self.executor != "ray":
            raise ValueError(
                f"ray_address {self.ray_address!r} is set but executor is {self.executor!r}; "
                "set executor=ray or drop the address"
            )
        if self.ray_address is not None:
            parse_address(self.ray_address, "ray_address")
        return self

    def resolve_scenario(self) -> Scenario:
        """The training scenario (built from the catalogue, or loaded from its path).

        Raises:
            ScenarioError: unknown name (the message lists the catalogue) or an invalid file.
        """
        return resolve(self.scenario, seed=self.scenario_seed, horizon=self.horizon)
