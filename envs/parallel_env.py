"""PettingZoo ``ParallelEnv``: one agent per signalised intersection of a SUMO scenario."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv

from core.errors import ConfigError, InvalidActionError, TSCError
from envs.batch import BatchLayout, BatchState
from envs.config import EnvConfig, make_env_config
from envs.connection import LANE_VARS, SumoConnection
from envs.layout import discover
from envs.observations import NEIGHBOUR_FEATURES, ObsDims, make_observation
from envs.rewards import WeightedReward, build_reward
from envs.sensing import Sensing
from envs.signals import PhaseSet, SignalController
from envs.state import IntersectionSpec, IntersectionState
from envs.zones import ApproachZones, TimeLossDetectors
from scenarios.resolve import resolve
from scenarios.scenario import Scenario

_EPS = 1e-6


class TrafficSignalEnv(ParallelEnv):
    """Multi-agent traffic-signal control on a SUMO scenario.

    **Agents**: one per traffic light with two or more green phases (``config.agents`` restricts
    control to a subset; the others run their static program). Agent names are the SUMO tls ids.

    **Action space**: ``Discrete(max_phases)`` in ``phase`` mode (the next green; padded entries are
    always masked) or ``Discrete(len(green_durations))`` in ``duration`` mode (the running green's
    duration, phase order kept). Yellow and all-red transitions are inserted automatically; min- and
    max-green are enforced. ``info[agent]["action_mask"]`` says which actions are allowed at the next
    step. A masked action is replaced by the closest allowed one and reported in
    ``info[agent]["action_overridden"]`` (or raises :class:`InvalidActionError` with
    ``strict_actions=True``); an action outside the space always raises.

    **Observation space**: ``Box(0, 1)`` (``pressure`` observation: ``[-1, 1]``) of a fixed size set
    by the observation function and the padding ``max_lanes``/``max_phases``, optionally followed by
    each neighbour's (density, queue).

    **Sensing**: ``config.sensing`` chooses what the observation and the heuristics see: SUMO's
    lane sensors (``detectors``), only the connected vehicles at a penetration rate (``connected``),
    or stop-line detectors plus connected vehicles (``hybrid``); the layout is the same for all
    (:mod:`envs.sensing`). Rewards and the info's metrics always read ground truth.

    **Rewards**: a registered reward per agent (``queue``, ``pressure``, ``wait_change``, ``delay``,
    ``co2``, ``stops``) or a weighted sum of such terms (``reward: {delay: 1.0, co2: 0.2}``,
    :class:`~envs.rewards.WeightedReward`), optionally plus ``neighbour_reward_weight`` times the
    neighbours' rewards (MA2C).

    **Episode end**: ``truncated`` for every agent when the scenario horizon is reached (or the
    network stays jammed, if ``jam_halting_fraction`` is set); ``terminated`` is always ``False``.

    **Info**: per agent ``action_mask``, ``applied_action``, ``action_overridden``, ``queue``, and
    network metrics: ``time``, ``running``, ``arrived``, ``inserted``, ``backlog`` (vehicles waiting
    to enter), ``teleports``, ``halting`` and ``mean_speed`` (on the signals' approaches), ``jammed``.
    With a weighted reward, each step's info also holds ``reward_terms``: the agent's vector of
    scaled terms (order :attr:`reward_term_names`, neighbours mixed in as the reward), whose dot
    product with :attr:`reward_shares` is the agent's reward (for multi-objective learners).

    Args:
        scenario: a :class:`~scenarios.Scenario`, a catalogue name (``"wuxi-core"``) or a path to a
            ``.sumocfg``.
        config: an :class:`~envs.config.EnvConfig` or a dict of its fields.
        render_mode: ``"human"`` runs ``sumo-gui``.
        **overrides: individual :class:`EnvConfig` fields.
    """

    metadata = {"name": "wuxi_tsc_parallel_v0", "render_modes": ["human"], "is_parallelizable": True}

    def __init__(
        self,
        scenario: Scenario | str,
        config: EnvConfig | dict[str, Any] | None = None,
        *,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.config = make_env_config(config, **overrides)
        self.scenario = resolve(scenario)  # a Scenario, a catalogue name or a .sumocfg
        if render_mode not in (None, "human"):
            raise InvalidActionError(f"render_mode={render_mode!r}: use None or 'human'.")
        self.render_mode = render_mode
        self._timing = self.config.timing()
        self._observation = make_observation(self.config.observation)
        self._reward = build_reward(self.config.reward)  # a name, or weighted terms (issue 18)
        self._conn: SumoConnection | None = None
        self._needs_approach = bool(getattr(self._observation, "needs_approach", False))
        if self.config.sensing.model == "hybrid":  # its stop-line detectors are the approach zones
            self._needs_approach = True
        self._detector_range = self.config.detector_range  # time-loss detectors (None: off)
        with SumoConnection(
            self.scenario, backend=self.config.backend, extra_args=self.config.sumo_args
        ) as probe:
            layout = discover(probe, self.config.yellow_time, self.config.agents)
            self._junctions = (
                tuple(dict.fromkeys(j for t in layout for j in probe.controlled_junctions(t)))
                if (self._needs_approach or self._detector_range)
                else ()
            )
        zone = self.config.approach_zone if self._needs_approach else 0.0
        self.specs: dict[str, IntersectionSpec] = {
            t: replace(s, approach_zone=zone) for t, (s, _) in layout.items()
        }
        self.phase_sets: dict[str, PhaseSet] = {t: p for t, (_, p) in layout.items()}
        self.possible_agents = list(layout)
        self.agents: list[str] = []
        self.dims = self._dims()
        self._obs_spaces: dict[str, gymnasium.spaces.Box] = {}
        self._act_spaces: dict[str, gymnasium.spaces.Discrete] = {}
        self._controllers: dict[str, SignalController] = {}
        self._lane_ids = tuple(
            dict.fromkeys(lane for s in self.specs.values() for lane in s.in_lanes + s.out_lanes)
        )
        lane_pos = {lane: i for i, lane in enumerate(self._lane_ids)}
        self._zones = ApproachZones(self.specs.values(), lane_pos, zone) if zone else None
        self._detectors = (
            TimeLossDetectors(self.specs.values(), lane_pos, self._detector_range, self.config.min_time_loss)
            if self._detector_range
            else None
        )
        # Sensing (envs/sensing.py): what the observation and the heuristics see; rewards, infos and
        # metrics stay on ground truth (self._truth). Ground-truth zones are read only if still used.
        self._sensing = Sensing(
            self.config.sensing,
            self.specs.values(),
            lane_pos,
            {
                x: d
                for s in self.specs.values()
                for x, d in zip(s.in_lanes + s.out_lanes, (*s.in_length, *s.out_length))
            },
            zone,
            self.config.delta_time,
        )
        sc = self.config.sensing
        self._truth_zones = bool(zone) and (
            not self._sensing.active or sc.model == "hybrid" or sc.critic_truth
        )
        self._truth: BatchState | None = None
        self._rng = np.random.default_rng()
        self._layout = BatchLayout.build(
            self.specs, lane_pos, self.dims.max_lanes, self.dims.max_phases, self.dims.max_neighbours
        )
        self._agent_index = {a: i for i, a in enumerate(self.possible_agents)}
        self._live: set[str] = set()
        # The lane variables to read each decision: the info's metrics (count, halting, mean speed)
        # and what the observation and reward declare; all of them for one that declares nothing.
        reads = {"count", "halting", "mean_speed", *self.config.lane_vars}
        for unit in (self._observation, self._reward):
            reads |= set(getattr(unit, "lane_vars", LANE_VARS))
        self._lane_vars = tuple(v for v in LANE_VARS if v in reads)
        # CO2 of the approaches (a reward term reads it): lane getters on the incoming lanes only.
        in_lanes = tuple(dict.fromkeys(lane for s in self.specs.values() for lane in s.in_lanes))
        self._co2_lanes = in_lanes if "co2" in reads else ()
        self._co2_rows = np.array([lane_pos[lane] for lane in self._co2_lanes], dtype=np.int64)
        self._reward_terms: dict[str, np.ndarray] = {}
        self._controller_list: list[SignalController] = []
        self._batch: BatchState | None = None
        self._state_cache: dict[str, IntersectionState] = {}
        self._jam_since: float | None = None
        self._now = 0.0  # simulation time of the latest snapshot (one getTime per decision)
        self.sumo_seed: int | None = None
        self.last_metrics: dict[str, float] = {}
        self.last_trip_stats: dict[str, float] = {}  # finished trips' averages, set at episode end

    # ------------------------------------------------------------------ spaces
    def _dims(self) -> ObsDims:
        c = self.config
        max_lanes = c.max_lanes or max(len(s.in_lanes) for s in self.specs.values())
        max_phases = c.max_phases or max(p.n_greens for p in self.phase_sets.values())
        too_big = [t for t, p in self.phase_sets.items() if p.n_greens > max_phases]
        too_wide = [t for t, s in self.specs.items() if len(s.in_lanes) > max_lanes]
        if too_big or too_wide:
            raise ConfigError(
                f"env.max_phases={max_phases}/max_lanes={max_lanes} too small for "
                f"{too_big or too_wide}; raise them or leave them unset (auto)."
            )
        n_actions = max_phases if c.action_mode == "phase" else len(c.green_durations)
        links = {t: s.link_lanes.shape[0] for t, s in self.specs.items()}
        max_movements = c.max_movements or max(links.values())
        too_many = [t for t, n in links.items() if n > max_movements]
        if too_many:
            raise ConfigError(
                f"env.max_movements={max_movements} too small for {too_many} (up to {max(links.values())} "
                "signal links); raise it or leave it unset (auto)."
            )
        return ObsDims(
            max_lanes=max_lanes, max_phases=max_phases, n_actions=n_actions, max_movements=max_movements
        )

    @property
    def actor_obs_size(self) -> int:
        """Length of the part of the observation an agent's policy reads."""
        extra = NEIGHBOUR_FEATURES * self.dims.max_neighbours if self.config.neighbour_obs else 0
        return self._observation.size(self.dims) + extra

    @property
    def obs_size(self) -> int:
        """Length of each agent's observation vector (with the critic's part, if ``critic_obs``)."""
        k = 1 + self.dims.max_neighbours if self.config.critic_obs else 1
        k += 1 if self.config.sensing.critic_truth else 0  # the agent's own ground truth too
        return self.actor_obs_size * k

    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        # PettingZoo requires the same object on every call.
        if agent not in self._obs_spaces:
            low = -1.0 if self.config.observation == "pressure" else 0.0
            self._obs_spaces[agent] = gymnasium.spaces.Box(low, 1.0, shape=(self.obs_size,), dtype=np.float32)
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Discrete:
        if agent not in self._act_spaces:
            self._act_spaces[agent] = gymnasium.spaces.Discrete(self.dims.n_actions)
        return self._act_spaces[agent]

    # ------------------------------------------------------------------ episode
    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        """Start a new episode; ``seed`` seeds SUMO (and so the realised demand)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self.sumo_seed = int(seed)
        else:
            self.sumo_seed = int(self._rng.integers(0, 2**31 - 1))
        self._close_sim()
        self._conn = SumoConnection(
            self.scenario,
            seed=self.sumo_seed,
            backend=self.config.backend,
            gui=self.render_mode == "human",
            extra_args=self.config.sumo_args,
        )
        now = self._conn.time()
        self._controllers = {}
        for tls in self.possible_agents:
            ctrl = SignalController(self.phase_sets[tls], self._timing, self.dims.n_actions)
            self._conn.install_program(tls, "wuxi-tsc", ctrl.program)
            self._apply(tls, ctrl.reset(now))
            self._controllers[tls] = ctrl
        self._conn.subscribe_lanes(self._lane_ids, self._lane_vars)
        self._sensing.reset(self.sumo_seed)
        if self._truth_zones or self._detector_range:  # the zones plus the junction's own size
            reach = max(self.config.approach_zone if self._truth_zones else 0.0, self._detector_range or 0.0)
            self._conn.subscribe_approaches(
                self._junctions, reach + 50.0, time_loss=bool(self._detector_range)
            )
        if self._co2_lanes:
            self._conn.subscribe_emissions(self._co2_lanes)
        if self._detectors is not None:
            self._detectors.reset()
        self.agents = list(self.possible_agents)
        self._live = set(self.agents)  # for O(1) membership checks of the actions
        self._jam_since = None
        self._controller_list = [self._controllers[t] for t in self.possible_agents]
        self._batch, self._truth = self._snapshot()
        infos = self._infos({a: None for a in self.agents}, set(), jammed=False)
        return self._observations(), infos

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Apply one action per live agent, run ``delta_time`` seconds, return the five dicts."""
        if not self.agents or self._conn is None:
            raise TSCError("step() called on a finished or unstarted episode; call reset() first.")
        if len(actions) != len(self.agents) or not self._live.issuperset(actions):
            missing = [a for a in self.agents if a not in actions]
            unknown = [a for a in actions if a not in self._live]
            raise InvalidActionError(
                f"actions must have one entry per live agent; missing {missing}, unknown {unknown}."
            )
        now = self._now  # simulation time of the last snapshot; nothing has run since
        applied: dict[str, int] = {}
        overridden = set()
        masks, index = self._batch.action_mask, self._agent_index  # the snapshot's masks, at ``now``
        for agent in self.agents:
            commands, a = self._controllers[agent].apply(
                actions[agent], now, strict=self.config.strict_actions, allowed=masks[index[agent]]
            )
            self._apply(agent, commands)
            applied[agent] = a
            if a != int(actions[agent]):
                overridden.add(agent)
        target = min(now + self.config.delta_time, self.scenario.end)
        self._conn.simulation_step(target)
        previous = self._truth
        self._batch, self._truth = self._snapshot()
        rewards = self._rewards(previous)
        jammed = self._jammed(target)
        done = target >= self.scenario.end - _EPS or jammed
        obs = self._observations()
        infos = self._infos(applied, overridden, jammed)
        terminations = {a: False for a in self.agents}
        truncations = {a: done for a in self.agents}
        if done:
            self.last_trip_stats = self._conn.trip_stats()
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def action_mask(self, agent: str) -> np.ndarray:
        """Actions allowed for ``agent`` at the next step."""
        return self._batch.action_mask[self._agent_index[agent]].copy()

    def intersection_state(self, agent: str) -> IntersectionState:
        """The latest snapshot of ``agent``'s intersection (for model-based controllers); built from
        the batch snapshot when first asked for at this decision."""
        state = self._state_cache.get(agent)
        if state is None:
            state = self._state_cache[agent] = self._batch.agent(self._agent_index[agent], self._layout)
        return state

    @property
    def batch_state(self) -> BatchState:
        """The latest snapshot of every agent as arrays (rows in :attr:`batch_layout` order)."""
        return self._batch

    @property
    def truth_state(self) -> BatchState:
        """The latest snapshot on ground truth (what the rewards and infos read): the same object as
        :attr:`batch_state` under the ``detectors`` sensing model. Its approach-zone counts are read
        only where something uses them (``hybrid``, ``critic_truth``), zeros otherwise."""
        return self._truth

    @property
    def batch_layout(self) -> BatchLayout:
        """Every agent's lanes, movements and neighbours as index arrays (static)."""
        return self._layout

    def due_phases(self, agent: str) -> np.ndarray:
        """Boolean per green phase of ``agent``: its halting vehicles have waited ``max_red`` seconds at
        red, so the starvation guard serves it next (all ``False`` when ``max_red`` is unset). For
        monitoring: the live view raises a starvation alert when the guard fires."""
        return self._controllers[agent].due(self._now).copy()

    def close(self) -> None:
        """Stop SUMO. Idempotent."""
        self._close_sim()
        self.agents = []

    def __enter__(self) -> TrafficSignalEnv:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def render(self) -> None:
        """With ``render_mode="human"`` the episode runs in sumo-gui, so there is nothing to do here."""
        return None

    def state(self) -> np.ndarray:
        """Global state for centralised critics: all agents' observations, concatenated."""
        obs = self._observations()
        return np.concatenate([obs[a] for a in self.possible_agents if a in obs])

    @property
    def connection(self) -> SumoConnection | None:
        """The running simulation (for the evaluation harness and benchmarks)."""
        return self._conn

    # ------------------------------------------------------------------ internals
    def _close_sim(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _apply(self, tls: str, commands: list[tuple[str, float]]) -> None:
        assert self._conn is not None
        for kind, value in commands:
            if kind == "set_phase":
                self._conn.set_phase(tls, int(value))
            else:
                self._conn.set_phase_duration(tls, value)

    @property
    def penetration(self) -> float:
        """This episode's share of equipped vehicles (``sensing.penetration``, or its draw from
        ``sensing.penetration_range``); 1 under the ``detectors`` model."""
        return self._sensing.penetration if self._sensing.active else 1.0

    def _snapshot(self) -> tuple[BatchState, BatchState]:
        """Read the lane matrix once and gather every agent's snapshot from it (array operations;
        the per-agent Python left is each signal's own state machine: guard, phase and mask).
        Returns the sensed snapshot (observations, heuristics, the guard) and the ground-truth one
        (rewards, infos): the same object under the ``detectors`` model."""
        assert self._conn is not None
        v = self._conn.lane_matrix()  # rows follow self._lane_ids (the subscription order)
        now = self._now = self._conn.time()
        near, moving = self._approach_counts(len(v))
        detected, eta = self._detector_readings(len(v))
        co2 = np.zeros(0)
        if self._co2_lanes:  # per lane-matrix row, 0 on the lanes not read (ground truth: a reward)
            co2 = np.zeros(len(v))
            co2[self._co2_rows] = self._conn.lane_co2()
        sensed = self._sensing.sense(self._conn, v, near, moving)
        layout, ctrls = self._layout, self._controller_list
        current = np.array([c.current for c in ctrls])  # before time_in_green/mask advance it, as ever
        if self._timing.max_red is not None:  # which greens have halting vehicles, for the guard
            calls = layout.guard_calls(sensed.lanes[:, 1], current)
            for k, ctrl in enumerate(ctrls):
                ctrl.observe_calls(now, calls[k, : layout.n_greens[k]])
        signal = dict(
            phase=current,
            time_in_green=np.array([c.time_in_green(now) for c in ctrls]),
            action_mask=np.stack([c.mask(now) for c in ctrls]),
        )
        extra = {"detected": detected, "eta": eta, "co2": co2}
        batch = BatchState.gather(
            layout, now, sensed.lanes, {"near": sensed.near, "moving": sensed.moving, **extra}, **signal
        )
        truth = batch
        if self._sensing.active:
            truth = BatchState.gather(layout, now, v, {"near": near, "moving": moving, **extra}, **signal)
        self._lane_matrix = v
        self._state_cache = {}
        return batch, truth

    def _approach_counts(self, n_lanes: int) -> tuple[np.ndarray, np.ndarray]:
        """Per lane-matrix row: vehicles, and moving vehicles, in the approach zones (zeros when off)."""
        if self._zones is None or not self._truth_zones:
            return np.zeros(n_lanes), np.zeros(n_lanes)
        assert self._conn is not None
        return self._zones.count(self._conn.approach_vehicles(), n_lanes)

    def _detector_readings(self, n_lanes: int) -> tuple[np.ndarray, np.ndarray]:
        """Per lane-matrix row: the time-loss detectors' readings (empty when off; :mod:`envs.zones`)."""
        if self._detectors is None:
            return np.zeros(0), np.zeros(0)
        assert self._conn is not None
        return self._detectors.read(self._sensing.keep_equipped(self._conn.approach_time_losses()), n_lanes)

    def _observations(self) -> dict[str, np.ndarray]:
        own = self._actor_observations(self._batch)  # (A, actor_obs_size), rows in possible_agents order
        critic = own  # what the critic part is built from: the sensed view, or the ground truth
        if self.config.sensing.critic_truth:  # asymmetric critic: [own sensed | own truth | ...]
            critic = self._actor_observations(self._truth)
            own = np.concatenate([own, critic], axis=1)
        if self.config.critic_obs:  # the neighbours' own observations after the agent's
            ext = np.vstack([critic, np.zeros((1, critic.shape[1]), dtype=np.float32)])
            own = np.concatenate([own, ext[self._layout.neighbours].reshape(len(own), -1)], axis=1)
        index = self._agent_index
        return {a: own[index[a]] for a in self.agents}

    def _actor_observations(self, batch: BatchState) -> np.ndarray:
        layout = self._layout
        batched = getattr(self._observation, "batch", None)
        if batched is not None:
            vec = batched(layout, batch, self.dims)
        else:  # a registered per-agent observation without a batch form
            vec = np.stack(
                [
                    self._observation(self.specs[a], batch.agent(i, layout), self.dims)
                    for i, a in enumerate(layout.agents)
                ]
            )
        if self.config.neighbour_obs:
            summary = np.vstack([batch.neighbour_summaries(layout), np.zeros((1, NEIGHBOUR_FEATURES))])
            vec = np.concatenate([vec, summary[layout.neighbours].reshape(len(vec), -1)], axis=1)
        return vec.astype(np.float32)

    def _rewards(self, previous: BatchState) -> dict[str, float]:
        batched = getattr(self._reward, "batch", None)
        if isinstance(self._reward, WeightedReward):  # the terms too, for info['reward_terms']
            terms = self._neighbourhood(self._reward.terms(self._layout, self._truth, previous))
            self._reward_terms = {a: terms[self._agent_index[a]] for a in self.agents}
            own = (terms @ self._reward.shares).tolist()
            return {a: own[self._agent_index[a]] for a in self.agents}
        if batched is not None:
            own = batched(self._layout, self._truth, previous).tolist()
        else:  # a registered per-agent reward without a batch form
            own = [
                float(
                    self._reward(
                        self.specs[a], self._truth.agent(i, self._layout), previous.agent(i, self._layout)
                    )
                )
                for i, a in enumerate(self._layout.agents)
            ]
        index, w = self._agent_index, self.config.neighbour_reward_weight
        if w == 0:
            return {a: own[index[a]] for a in self.agents}
        return {
            a: own[index[a]] + w * sum(own[index[n]] for n in self.specs[a].neighbours) for a in self.agents
        }

    def _neighbourhood(self, values: np.ndarray) -> np.ndarray:
        """Rows of ``values`` (agents in layout order) plus ``neighbour_reward_weight`` times the sum
        of each agent's neighbours' rows (all its neighbours, as in :meth:`_rewards`)."""
        w = self.config.neighbour_reward_weight
        if w == 0:
            return values
        index = self._agent_index
        mixed = values.copy()
        for a, i in index.items():
            for n in self.specs[a].neighbours:
                mixed[i] += w * values[index[n]]
        return mixed

    def _network_metrics(self, jammed: bool) -> dict[str, float]:
        assert self._conn is not None
        stats = self._conn.stats()
        v = self._lane_matrix
        count = v[:, 0].sum()
        return {
            "time": self._now,
            "running": stats["running"],
            "arrived": stats["arrived"],
            "inserted": stats["inserted"],
            "backlog": stats["waiting"],
            "teleports": stats["teleports"],
            "halting": float(v[:, 1].sum()),
            "mean_speed": float((v[:, 0] * v[:, 3]).sum() / count) if count > 0 else 0.0,
            "jammed": jammed,
        }

    def _infos(self, applied: dict[str, int | None], overridden: set[str], jammed: bool) -> dict[str, dict]:
        net = self._network_metrics(jammed)
        self.last_metrics = net
        masks, index = self._batch.action_mask, self._agent_index
        queues = self._truth.in_halting.sum(axis=1).tolist()
        infos = {
            agent: dict(
                net,
                action_mask=masks[index[agent]].copy(),
                applied_action=applied[agent],
                action_overridden=agent in overridden,
                queue=queues[index[agent]],
            )
            for agent in applied
        }
        if self._reward_terms:  # a weighted reward after a step: its terms (names: reward_term_names)
            for agent, info in infos.items():
                info["reward_terms"] = self._reward_terms[agent].copy()
            self._reward_terms = {}
        return infos

    @property
    def reward_term_names(self) -> tuple[str, ...]:
        """Names of the entries of ``info[agent]['reward_terms']`` (empty unless ``env.reward`` is
        a mapping of weighted terms); ``reward == reward_terms @ reward_shares``."""
        return self._reward.names if isinstance(self._reward, WeightedReward) else ()

    @property
    def reward_shares(self) -> np.ndarray:
        """The weights of :attr:`reward_term_names`, divided by their sum."""
        return self._reward.shares.copy() if isinstance(self._reward, WeightedReward) else np.zeros(0)

    def _jammed(self, now: float) -> bool:
        frac = self.config.jam_halting_fraction
        if frac is None:
            return False
        v = self._lane_matrix
        count = v[:, 0].sum()
        if count >= 10 and v[:, 1].sum() >= frac * count:
            if self._jam_since is None:
                self._jam_since = now
            return now - self._jam_since >= self.config.jam_patience
        self._jam_since = None
        return False
