"""An SB3 ``VecEnv`` over multi-agent traffic environments, with parameter sharing.

Every intersection of every simulation is one entry of the vectorised env, so one SB3 policy is
shared by all intersections (parameter sharing), and ``n_envs`` simulations run in worker processes
(one libsumo instance each: libsumo allows only one simulation per process, so parallelism is by
process, never by thread). ``n_envs=1`` with ``in_process=True`` runs in the trainer's own process.

All agents of one simulation end their episode together (the horizon), and the worker restarts the
simulation with the next seed of its own seed stream. A SUMO fault in a worker (crash, kill) is
caught: the worker restarts its simulation, the episode is marked truncated and the event counted
(``faults``), and training goes on. With ``executor="ray"`` the workers are Ray actors around the
same :class:`_Sim` (:mod:`agents.ray_workers`), so ``n_envs`` may exceed one machine's cores; a
dead actor is replaced by a fresh one and counted the same way.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from agents.mix import ScenarioMix
from core.errors import SimulationError, TSCError
from envs import TrafficSignalEnv
from envs.config import EnvConfig
from scenarios.scenario import Scenario

TRAIN_SEED_BASE = 100_000
"""Training episodes use SUMO seeds from here up; evaluation seeds (validation, test) stay below."""


def training_seed_base(run_seed: int) -> int:
    """First SUMO seed of a training run's episodes: runs with other seeds see other demand."""
    return TRAIN_SEED_BASE + 10_000 * run_seed


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to build its environments (picklable).

    Attributes:
        mix: the scenario(s) its episodes draw from (:mod:`agents.mix`).
        env_config: environment settings (with the mix's padding).
        index: the worker's index.
        seed_base: first episode seed of the run.
        n_workers: workers in the run.
    """

    mix: ScenarioMix
    env_config: EnvConfig
    index: int
    seed_base: int
    n_workers: int

    def seed(self, episode: int) -> int:
        """Seed of the worker's ``episode``-th episode: disjoint streams per worker."""
        return self.seed_base + self.index + self.n_workers * episode


@dataclass(frozen=True)
class SimShape:
    """The sizes of one simulation's entries (the same in every worker)."""

    n_agents: int
    obs_size: int
    n_actions: int
    actor_obs_size: int


@dataclass(frozen=True)
class SimReset:
    """A fresh episode of one simulation: per agent (rows), its observation and action mask."""

    obs: np.ndarray
    masks: np.ndarray
    info: dict[str, Any]  # the first agent's info: network metrics


@dataclass(frozen=True)
class SimStep:
    """One step of one simulation (all its agents).

    Attributes:
        obs: next observations; when ``done``, those of the fresh episode that follows.
        rewards: one per agent.
        done: the episode ended (horizon, or a simulator fault).
        masks: action masks for ``obs``.
        net: network metrics (the first agent's info without its mask), plus ``fault`` if SUMO died.
        terminal_obs: when ``done``, the last observations of the ended episode (SB3 bootstraps the
            time limit from them).
        episode_stats: when an episode ended normally, its trip statistics.
    """

    obs: np.ndarray
    rewards: np.ndarray
    done: bool
    masks: np.ndarray
    net: dict[str, Any]
    terminal_obs: np.ndarray | None = None
    episode_stats: dict[str, Any] | None = None


@dataclass(frozen=True)
class TeacherJob:
    """A warm-start rollout: ``n_steps`` decisions under the heuristic ``teacher``."""

    n_steps: int
    teacher: str
    gamma: float


@dataclass(frozen=True)
class TeacherBatch:
    """The teacher's decisions, one row per agent-step (step-major).

    Attributes:
        obs: observations.
        masks: action masks.
        actions: the teacher's actions.
        returns: the discounted return that followed.
        valid: whether that return saw at least the horizon where ``gamma**k`` < 5 % (not cut by
            the end of the rollout or of an episode).
        running: the running return ``ret = gamma * ret + r`` that ``VecNormalize`` scales rewards by.
    """

    obs: np.ndarray
    masks: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    valid: np.ndarray
    running: np.ndarray

    @classmethod
    def concatenate(cls, parts: Sequence[TeacherBatch]) -> TeacherBatch:
        """The batches of several simulations as one."""
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})


def _discounted(rewards: np.ndarray, cuts: list[bool], gamma: float) -> tuple[np.ndarray, ...]:
    """Per step: the return that followed, whether it saw the 5 % horizon, and the running return."""
    n_steps = len(rewards)
    horizon = int(np.ceil(np.log(0.05) / np.log(gamma))) if gamma < 1 else n_steps
    returns, running = np.zeros_like(rewards), np.zeros_like(rewards)
    valid = np.zeros_like(rewards, dtype=bool)
    acc, seen = np.zeros(rewards.shape[1]), 0
    for t in reversed(range(n_steps)):
        if cuts[t] or t == n_steps - 1:
            acc, seen = np.zeros(rewards.shape[1]), 0
        acc = rewards[t] + gamma * acc
        seen += 1
        returns[t], valid[t] = acc, seen >= horizon
    fwd = np.zeros(rewards.shape[1])
    for t in range(n_steps):
        fwd = gamma * fwd + rewards[t]
        running[t] = fwd
        if cuts[t]:
            fwd = np.zeros(rewards.shape[1])
    return returns, valid, running


class _Sim:
    """One simulation and its agent bookkeeping; runs inside a worker (or in-process).

    With a scenario mix the simulation changes net between episodes; its entries are the mix's
    ``slots`` (the real agents first, then inert entries: zero observation and reward, only
    action 0 allowed), so the vectorised env keeps one shape.
    """

    def __init__(self, spec: WorkerSpec, episode: int = 0, faults: int = 0) -> None:
        self.spec = spec
        self.episode = episode
        self.faults = faults
        self._envs: dict[int, TrafficSignalEnv] = {}  # built per member (closed between episodes)
        self.member = -1
        self.env = self._switch(self._peek())
        self.slots = spec.mix.slots or len(self.agents)
        self.masks = np.ones((self.slots, self.env.dims.n_actions), dtype=bool)

    def _switch(self, member: int) -> TrafficSignalEnv:
        """Make ``member``'s env the current one (the previous one's SUMO is stopped)."""
        if member != self.member:
            if self.member >= 0:
                self.env.close()
            if member not in self._envs:
                self._envs[member] = TrafficSignalEnv(
                    self.spec.mix.members[member].scenario, self.spec.env_config
                )
            self.member, self.env = member, self._envs[member]
            self.agents = list(self.env.possible_agents)
            if self.spec.mix.slots is not None and len(self.agents) > self.spec.mix.slots:
                raise SimulationError(
                    f"{self.env.scenario.name}: {len(self.agents)} signals, more than the mix's "
                    f"{self.spec.mix.slots} slots (the net changed since the mix was probed?)."
                )
        return self.env

    def _start_episode(self) -> tuple[dict, dict]:
        """Reset into this episode's member (drawn from the mix) with this episode's seed."""
        self._switch(self._peek())
        return self.env.reset(seed=self.spec.seed(self.episode))

    @property
    def shape(self) -> SimShape:
        return SimShape(self.slots, self.env.obs_size, self.env.dims.n_actions, self.env.actor_obs_size)

    def _pad(self, rows: np.ndarray, fill: Any = 0) -> np.ndarray:
        """``rows`` (one per real agent) with the inert entries after them."""
        if len(rows) == self.slots:
            return rows
        out = np.full((self.slots, *rows.shape[1:]), fill, dtype=rows.dtype)
        out[: len(rows)] = rows
        return out

    def _pack(self, obs: dict, infos: dict) -> np.ndarray:
        masks = self._pad(np.stack([infos[a]["action_mask"] for a in self.agents]), False)
        masks[len(self.agents) :, 0] = True  # inert entries: action 0, the only one allowed
        self.masks = masks
        return self._pad(np.stack([obs[a] for a in self.agents]))

    def reset(self) -> SimReset:
        obs, infos = self._start_episode()
        return SimReset(self._pack(obs, infos), self.masks, infos[self.agents[0]])

    def step(self, actions: np.ndarray) -> SimStep:
        try:
            obs, rew, _term, trunc, infos = self.env.step(
                {a: int(actions[i]) for i, a in enumerate(self.agents)}
            )
        except SimulationError as exc:  # restart rather than kill the run
            return self.restart(str(exc))
        stacked = self._pack(obs, infos)
        rewards = self._pad(np.array([rew[a] for a in self.agents], dtype=np.float32))
        net = dict(infos[self.agents[0]])
        net.pop("action_mask", None)
        net["overridden_actions"] = sum(bool(infos[a]["action_overridden"]) for a in self.agents)
        if not trunc[self.agents[0]]:
            return SimStep(stacked, rewards, False, self.masks, net)
        episode_stats = dict(
            net,
            scenario=self.env.scenario.name,
            **{f"trip_{k}": v for k, v in self.env.last_trip_stats.items()},
        )
        self.episode += 1
        fresh = self.reset()
        return SimStep(fresh.obs, rewards, True, fresh.masks, net, stacked, episode_stats)

    def restart(self, reason: str) -> SimStep:
        """End the episode in progress after a fault (SUMO died, or the worker running it: a Ray
        actor replaced by a fresh one): count it, start the next episode, and report the step as
        done with the fault's ``reason`` in ``net``."""
        self.faults += 1
        self.episode += 1
        fresh = self.reset()
        net = dict(fresh.info, fault=reason, episode_done=True)
        # No last observation exists: bootstrap from a fresh start.
        return SimStep(fresh.obs, np.zeros(self.slots), True, fresh.masks, net, fresh.obs)

    def teacher_rollout(self, job: TeacherJob) -> TeacherBatch:
        """Run ``job.n_steps`` decisions under the heuristic teacher (``job.teacher``, or the mix
        member's own); the next ``reset`` starts a fresh episode. Only real agents' decisions are
        returned (no inert entries)."""
        parts: list[TeacherBatch] = []
        left = job.n_steps
        while left > 0:
            teacher = self.spec.mix.members[self._peek()].teacher or job.teacher
            obs, infos = self._start_episode()
            steps = min(left, self._episode_decisions())
            parts.append(self._teach(obs, infos, steps, teacher, job.gamma))
            left -= max(1, len(parts[-1].actions) // len(self.agents))  # fewer if it jammed
            self.episode += 1
        return TeacherBatch.concatenate(parts)

    def _peek(self) -> int:
        """The mix member of the episode this simulation starts next."""
        return self.spec.mix.pick(self.spec.seed_base, self.spec.index, self.episode)

    def _episode_decisions(self) -> int:
        """Decisions in one episode of the current env (its horizon over the decision interval)."""
        return max(1, int(np.ceil(self.env.scenario.horizon / self.env.config.delta_time)))

    def _teach(self, obs: dict, infos: dict, n_steps: int, teacher: str, gamma: float) -> TeacherBatch:
        """``n_steps`` decisions of the episode just started, under ``teacher``."""
        from envs.heuristics import heuristic_actions

        xs, ms, ys, rs, cuts = [], [], [], [], []
        for _ in range(n_steps):
            if not self.env.agents:
                break
            actions = heuristic_actions(self.env, infos, teacher)
            xs.append(np.stack([obs[a] for a in self.agents]))
            ms.append(np.stack([infos[a]["action_mask"] for a in self.agents]))
            ys.append(np.array([actions[a] for a in self.agents]))
            obs, rew, _, trunc, infos = self.env.step(actions)
            rs.append(np.array([rew[a] for a in self.agents], dtype=float))
            cuts.append(bool(trunc[self.agents[0]]))
        returns, valid, running = _discounted(np.stack(rs), cuts, gamma)
        return TeacherBatch(
            np.concatenate(xs),
            np.concatenate(ms),
            np.concatenate(ys),
            returns.ravel(),
            valid.ravel(),
            running.ravel(),
        )

    def state(self, _: Any = None) -> dict[str, int]:
        """Episodes started and faults (to resume the seed streams)."""
        return {"episode": self.episode, "faults": self.faults}

    def handle(self, cmd: str, data: Any) -> Any:
        """Run one command of the parent (the same in a worker and in-process).

        Raises:
            SimulationError: an unknown command (a programming error: never wait on no answer).
        """
        if cmd == "step":
            return self.step(data)
        if cmd == "reset":
            return self.reset()
        if cmd == "teacher":
            return self.teacher_rollout(data)
        if cmd == "state":
            return self.state()
        if cmd == "restart":
            return self.restart(data)
        if cmd == "shape":
            return self.shape
        raise SimulationError(
            f"training worker: unknown command {cmd!r} "
            "(known: step, reset, teacher, state, restart, shape, close)."
        )

    def close(self) -> None:
        self.env.close()
        for env in self._envs.values():
            env.close()


def _worker(remote: Any, spec: WorkerSpec, episode: int) -> None:
    sim = None
    try:
        sim = _Sim(spec, episode)
        remote.send(("ok", sim.shape))
        while True:
            cmd, data = remote.recv()
            if cmd == "close":
                remote.send(("ok", None))
                break
            remote.send(("ok", sim.handle(cmd, data)))
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass
    except BaseException as exc:  # noqa: BLE001 - report anything to the trainer, with its message
        try:
            remote.send(("error", (type(exc).__name__, str(exc), traceback.format_exc())))
        except (OSError, ValueError):  # the parent is gone or the pipe is closed
            pass
    finally:
        if sim is not None:
            sim.close()


class MultiAgentVecEnv(VecEnv):
    """Flattens ``n_envs`` simulations x agents into one SB3 ``VecEnv``.

    Args:
        scenario: the scenario every worker runs, or a scenario mix (:func:`agents.mix.build_mix`)
            whose members they draw per episode (``env_config`` then gets the mix's padding).
        env_config: environment settings.
        n_envs: number of simulations (worker processes).
        seed_base: first training episode seed; worker ``i``'s ``k``-th episode uses
            ``seed_base + i + n_envs * k``.
        in_process: with ``n_envs == 1``, run the simulation in this process.
        start_episodes: per-worker episode counters to continue from (resume).
        executor: ``process`` (worker processes on this machine) or ``ray`` (Ray actors, on a
            local Ray instance or a cluster: :mod:`agents.ray_workers`; needs the ``ray`` extra).
        ray_address: with ``executor="ray"``, the head's ``host:port`` or ``auto``; ``None``
            starts a local Ray instance with ``n_envs`` CPUs.

    Raises:
        ConfigError: ``executor="ray"`` without the ``ray`` extra, or a malformed address.
        ClusterError: no Ray cluster answers at ``ray_address``.
    """

    def __init__(
        self,
        scenario: Scenario | ScenarioMix,
        env_config: EnvConfig,
        n_envs: int = 1,
        *,
        seed_base: int = TRAIN_SEED_BASE,
        in_process: bool = False,
        start_episodes: Sequence[int] | None = None,
        executor: Literal["process", "ray"] = "process",
        ray_address: str | None = None,
    ) -> None:
        if n_envs < 1:
            raise TSCError(f"n_envs={n_envs} must be >= 1.")
        starts = list(start_episodes or [0] * n_envs)
        mix = scenario if isinstance(scenario, ScenarioMix) else ScenarioMix.single(scenario)
        env_config = mix.env_config(env_config)
        specs = [WorkerSpec(mix, env_config, i, seed_base, n_envs) for i in range(n_envs)]
        self._local: _Sim | None = None
        self._remotes: list[Any] = []
        self._procs: list[mp.Process] = []
        self.ray_workers: Any = None  # agents.ray_workers.RayWorkers with executor="ray"
        if executor == "ray":
            from agents.ray_workers import RayWorkers  # imports ray: only when asked for

            self.ray_workers = RayWorkers(specs, starts, address=ray_address)
            shape = self.ray_workers.shape
            probe = None
        elif in_process and n_envs == 1:
            self._local = _Sim(specs[0], starts[0])
            shape = self._local.shape
            probe = self._local.env
        else:
            ctx = mp.get_context("spawn")
            for spec, start in zip(specs, starts):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_worker, args=(child, spec, start), daemon=True)
                proc.start()
                child.close()
                self._remotes.append(parent)
                self._procs.append(proc)
            shapes = [self._recv(r) for r in self._remotes]
            shape = shapes[0]
            probe = None
        self.n_sims = n_envs
        self.n_agents, self.n_actions, self.actor_obs_size = (
            shape.n_agents,
            shape.n_actions,
            shape.actor_obs_size,
        )
        obs_size = shape.obs_size
        if probe is None:  # spaces without a local simulation
            import gymnasium

            low = -1.0 if env_config.observation == "pressure" else 0.0
            obs_space = gymnasium.spaces.Box(low, 1.0, shape=(obs_size,), dtype=np.float32)
            act_space = gymnasium.spaces.Discrete(self.n_actions)
        else:
            obs_space = probe.observation_space(probe.possible_agents[0])
            act_space = probe.action_space(probe.possible_agents[0])
        super().__init__(n_envs * self.n_agents, obs_space, act_space)
        self._masks = np.ones((self.num_envs, self.n_actions), dtype=bool)
        self._actions: np.ndarray | None = None
        self.step_metrics: list[dict] = []  # network metrics of each step (first agent's info)
        self.episode_stats: list[dict] = []  # one per finished episode
        self.faults = 0
        self._closed = False

    # --------------------------------------------------------------- plumbing
    @staticmethod
    def _recv(remote: Any) -> Any:
        status, payload = remote.recv()
        if status == "error":
            name, msg, tb = payload
            raise SimulationError(f"training worker failed: {name}: {msg}\n{tb}")
        return payload

    def _call_all(self, cmd: str, data: Sequence[Any] | None = None) -> list[Any]:
        if self.ray_workers is not None:
            return self.ray_workers.call_all(cmd, data)
        if self._local is not None:
            return [self._local.handle(cmd, None if data is None else data[0])]
        for i, remote in enumerate(self._remotes):
            remote.send((cmd, None if data is None else data[i]))
        return [self._recv(r) for r in self._remotes]

    def _slice(self, i: int) -> slice:
        return slice(i * self.n_agents, (i + 1) * self.n_agents)

    # --------------------------------------------------------------- VecEnv API
    def reset(self) -> np.ndarray:
        results = self._call_all("reset")
        obs = np.zeros((self.num_envs, *self.observation_space.shape), dtype=np.float32)
        for i, fresh in enumerate(results):
            obs[self._slice(i)] = fresh.obs
            self._masks[self._slice(i)] = fresh.masks
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        assert self._actions is not None
        results = self._call_all("step", [self._actions[self._slice(i)] for i in range(self.n_sims)])
        obs = np.zeros((self.num_envs, *self.observation_space.shape), dtype=np.float32)
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        dones = np.zeros(self.num_envs, dtype=bool)
        infos: list[dict] = [{} for _ in range(self.num_envs)]
        for i, result in enumerate(results):
            sl = self._slice(i)
            obs[sl], rewards[sl], dones[sl] = result.obs, result.rewards, result.done
            self._masks[sl] = result.masks
            self.step_metrics.append(result.net)
            if "fault" in result.net:
                self.faults += 1
            if result.episode_stats is not None:
                self.episode_stats.append(result.episode_stats)
            if result.done:
                for k, j in enumerate(range(sl.start, sl.stop)):
                    # The horizon is a time limit: SB3 bootstraps from the terminal observation.
                    infos[j] = {"terminal_observation": result.terminal_obs[k], "TimeLimit.truncated": True}
        return obs, rewards, dones, infos

    def action_masks(self) -> np.ndarray:
        """Masks of every (simulation, agent) entry, for sb3-contrib's MaskablePPO."""
        return self._masks.copy()

    def teacher_rollouts(
        self, n_steps: int, teacher: str = "max_pressure", gamma: float = 0.99
    ) -> TeacherBatch:
        """Every simulation runs ``n_steps`` decisions under a heuristic teacher
        (:data:`envs.heuristics.TEACHERS`), in parallel; their batches, concatenated (for a warm
        start). The next ``reset`` starts fresh episodes."""
        parts = self._call_all("teacher", [TeacherJob(n_steps, teacher, gamma)] * self.n_sims)
        return TeacherBatch.concatenate(parts)

    def worker_state(self) -> list[dict]:
        """Per worker: episodes started and faults (to resume the seed streams)."""
        return self._call_all("state")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._local is not None:
            self._local.close()
        if self.ray_workers is not None:
            self.ray_workers.close()
        for remote in self._remotes:
            try:
                remote.send(("close", None))
                remote.recv()
            except (EOFError, BrokenPipeError, OSError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()

    # The generic VecEnv attribute API; MaskablePPO asks for "action_masks".
    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        if attr_name == "render_mode":
            return [None] * len(self._get_indices(indices))
        raise AttributeError(f"MultiAgentVecEnv does not expose attribute {attr_name!r}.")

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError(f"MultiAgentVecEnv does not support setting {attr_name!r}.")

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        if method_name == "action_masks":
            return [self._masks[i].copy() for i in self._get_indices(indices)]
        raise AttributeError(f"MultiAgentVecEnv does not expose method {method_name!r}.")

    def has_attr(self, attr_name: str) -> bool:
        return attr_name == "action_masks"

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._get_indices(indices))

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None] * self.num_envs
