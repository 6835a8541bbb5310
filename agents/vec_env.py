"""An SB3 ``VecEnv`` over multi-agent traffic environments, with parameter sharing.

Every intersection of every simulation is one entry of the vectorised env, so one SB3 policy is
shared by all intersections (parameter sharing), and ``n_envs`` simulations run in worker processes
(one libsumo instance each: libsumo allows only one simulation per process, so parallelism is by
process, never by thread). ``n_envs=1`` with ``in_process=True`` runs in the trainer's own process.

All agents of one simulation end their episode together (the horizon), and the worker restarts the
simulation with the next seed of its own seed stream. A SUMO fault in a worker (crash, kill) is
caught: the worker restarts its simulation, the episode is marked truncated and the event counted
(``faults``), and training goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from envs import TrafficSignalEnv
from envs.config import EnvConfig
from scenarios.errors import SimulationError, TSCError
from scenarios.scenario import Scenario

EpisodeSeeds = Callable[[int, int], int]  # (worker index, episode index) -> SUMO seed


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to build its environment (picklable)."""

    scenario: Scenario
    env_config: EnvConfig
    index: int
    seed_base: int
    n_workers: int

    def seed(self, episode: int) -> int:
        """Seed of the worker's ``episode``-th episode: disjoint streams per worker."""
        return self.seed_base + self.index + self.n_workers * episode


class _Sim:
    """One simulation and its agent bookkeeping; runs inside a worker (or in-process)."""

    def __init__(self, spec: WorkerSpec, episode: int = 0) -> None:
        self.spec = spec
        self.env = TrafficSignalEnv(spec.scenario, spec.env_config)
        self.agents = list(self.env.possible_agents)
        self.episode = episode
        self.faults = 0
        self.masks = np.ones((len(self.agents), self.env.dims.n_actions), dtype=bool)

    def _pack(self, obs: dict, infos: dict) -> np.ndarray:
        self.masks = np.stack([infos[a]["action_mask"] for a in self.agents])
        return np.stack([obs[a] for a in self.agents])

    def reset(self) -> tuple[np.ndarray, np.ndarray, dict]:
        obs, infos = self.env.reset(seed=self.spec.seed(self.episode))
        return self._pack(obs, infos), self.masks, infos[self.agents[0]]

    def step(self, actions: np.ndarray) -> tuple:
        try:
            obs, rew, _term, trunc, infos = self.env.step(
                {a: int(actions[i]) for i, a in enumerate(self.agents)})
        except SimulationError as exc:  # restart rather than kill the run
            self.faults += 1
            self.episode += 1
            new_obs, masks, info = self.reset()
            net = dict(info, fault=str(exc), episode_done=True)
            term_obs = new_obs  # no last observation exists: bootstrap from a fresh start
            return new_obs, np.zeros(len(self.agents)), True, masks, net, term_obs, None
        stacked = self._pack(obs, infos)
        rewards = np.array([rew[a] for a in self.agents], dtype=np.float32)
        net = dict(infos[self.agents[0]])
        net.pop("action_mask", None)
        overridden = sum(bool(infos[a]["action_overridden"]) for a in self.agents)
        net["overridden_actions"] = overridden
        done = bool(trunc[self.agents[0]])
        episode_stats = None
        if done:
            episode_stats = dict(net, **{f"trip_{k}": v for k, v in self.env.last_trip_stats.items()})
            self.episode += 1
            new_obs, masks, _ = self.reset()
            return new_obs, rewards, True, masks, net, stacked, episode_stats
        return stacked, rewards, False, self.masks, net, None, None

    def teacher_rollout(self, job: tuple[int, str, float]) -> tuple[np.ndarray, ...]:
        """Run ``n_steps`` decisions under the heuristic ``teacher`` (``job = (n_steps, teacher,
        gamma)``). Returns, per agent-step (step-major): observations, masks, the teacher's actions,
        the discounted return that followed, whether that return saw at least the horizon where
        ``gamma**k`` < 5 % (not cut by the end of the rollout or of an episode), and the running
        return ``ret = gamma * ret + r`` that ``VecNormalize`` scales rewards by."""
        from envs.heuristics import heuristic_actions

        n_steps, teacher, gamma = job
        obs, infos = self.env.reset(seed=self.spec.seed(self.episode))
        xs, ms, ys, rs, cuts = [], [], [], [], []
        for _ in range(n_steps):
            if not self.env.agents:
                self.episode += 1
                obs, infos = self.env.reset(seed=self.spec.seed(self.episode))
            actions = heuristic_actions(self.env, infos, teacher)
            xs.append(np.stack([obs[a] for a in self.agents]))
            ms.append(np.stack([infos[a]["action_mask"] for a in self.agents]))
            ys.append(np.array([actions[a] for a in self.agents]))
            obs, rew, _, trunc, infos = self.env.step(actions)
            rs.append(np.array([rew[a] for a in self.agents], dtype=float))
            cuts.append(bool(trunc[self.agents[0]]))
        self.episode += 1
        rewards = np.stack(rs)
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
        return (np.concatenate(xs), np.concatenate(ms), np.concatenate(ys), returns.ravel(),
                valid.ravel(), running.ravel())

    def close(self) -> None:
        self.env.close()


def _shape(sim: _Sim) -> tuple[int, int, int, int]:
    return len(sim.agents), sim.env.obs_size, sim.env.dims.n_actions, sim.env.actor_obs_size


def _worker(remote: Any, spec: WorkerSpec, episode: int) -> None:
    sim = None
    try:
        sim = _Sim(spec, episode)
        remote.send(("ok", _shape(sim)))
        while True:
            cmd, data = remote.recv()
            if cmd == "step":
                remote.send(("ok", sim.step(data)))
            elif cmd == "reset":
                remote.send(("ok", sim.reset()))
            elif cmd == "teacher":
                remote.send(("ok", sim.teacher_rollout(data)))
            elif cmd == "state":
                remote.send(("ok", {"episode": sim.episode, "faults": sim.faults}))
            elif cmd == "close":
                remote.send(("ok", None))
                break
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        pass
    except BaseException as exc:  # report to the trainer with the original message
        try:
            remote.send(("error", (type(exc).__name__, str(exc), traceback.format_exc())))
        except Exception:  # noqa: BLE001
            pass
    finally:
        if sim is not None:
            sim.close()


class MultiAgentVecEnv(VecEnv):
    """Flattens ``n_envs`` simulations x agents into one SB3 ``VecEnv``.

    Args:
        scenario: the scenario every worker runs.
        env_config: environment settings.
        n_envs: number of simulations (worker processes).
        seed_base: first training episode seed; worker ``i``'s ``k``-th episode uses
            ``seed_base + i + n_envs * k``.
        in_process: with ``n_envs == 1``, run the simulation in this process.
        start_episodes: per-worker episode counters to continue from (resume).
    """

    def __init__(self, scenario: Scenario, env_config: EnvConfig, n_envs: int = 1, *,
                 seed_base: int = 100_000, in_process: bool = False,
                 start_episodes: Sequence[int] | None = None) -> None:
        if n_envs < 1:
            raise TSCError(f"n_envs={n_envs} must be >= 1.")
        starts = list(start_episodes or [0] * n_envs)
        specs = [WorkerSpec(scenario, env_config, i, seed_base, n_envs) for i in range(n_envs)]
        self._local: _Sim | None = None
        self._remotes: list[Any] = []
        self._procs: list[mp.Process] = []
        if in_process and n_envs == 1:
            self._local = _Sim(specs[0], starts[0])
            shape = _shape(self._local)
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
        self.n_agents, obs_size, self.n_actions, self.actor_obs_size = shape
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
        if self._local is not None:
            if cmd == "step":
                return [self._local.step(data[0])]
            if cmd == "reset":
                return [self._local.reset()]
            if cmd == "teacher":
                return [self._local.teacher_rollout(data[0])]
            return [{"episode": self._local.episode, "faults": self._local.faults}]
        for i, remote in enumerate(self._remotes):
            remote.send((cmd, None if data is None else data[i]))
        return [self._recv(r) for r in self._remotes]

    def _slice(self, i: int) -> slice:
        return slice(i * self.n_agents, (i + 1) * self.n_agents)

    # --------------------------------------------------------------- VecEnv API
    def reset(self) -> np.ndarray:
        results = self._call_all("reset")
        obs = np.zeros((self.num_envs, *self.observation_space.shape), dtype=np.float32)
        for i, (o, masks, _info) in enumerate(results):
            obs[self._slice(i)] = o
            self._masks[self._slice(i)] = masks
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
        for i, (o, r, done, masks, net, term_obs, ep_stats) in enumerate(results):
            sl = self._slice(i)
            obs[sl], rewards[sl], dones[sl] = o, r, done
            self._masks[sl] = masks
            self.step_metrics.append(net)
            if "fault" in net:
                self.faults += 1
            if ep_stats is not None:
                self.episode_stats.append(ep_stats)
            if done:
                for k, j in enumerate(range(sl.start, sl.stop)):
                    # The horizon is a time limit: SB3 bootstraps from the terminal observation.
                    infos[j] = {"terminal_observation": term_obs[k], "TimeLimit.truncated": True}
        return obs, rewards, dones, infos

    def action_masks(self) -> np.ndarray:
        """Masks of every (simulation, agent) entry, for sb3-contrib's MaskablePPO."""
        return self._masks.copy()

    def teacher_rollouts(self, n_steps: int, teacher: str = "max_pressure", gamma: float = 0.99
                         ) -> tuple[np.ndarray, ...]:
        """Every simulation runs ``n_steps`` decisions under a heuristic teacher
        (:data:`envs.heuristics.TEACHERS`), in parallel; returns what
        :meth:`_Sim.teacher_rollout` returns, concatenated over simulations (for a warm start).
        The next ``reset`` starts fresh episodes."""
        parts = self._call_all("teacher", [(n_steps, teacher, gamma)] * self.n_sims)
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(len(parts[0])))

    def worker_state(self) -> list[dict]:
        """Per worker: episodes started and faults (to resume the seed streams)."""
        return self._call_all("state")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._local is not None:
            self._local.close()
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
