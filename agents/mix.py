"""A training run's scenario mix: one policy trained across many networks.

``TrainConfig.scenarios`` is a weighted list of scenarios (catalogue names, ``generated:<family>``
random networks, ``.sumocfg`` paths), each with a number of build ``variants``. :func:`build_mix`
resolves every (entry, variant) once, in the trainer's process (so the build cache is filled
before the workers start, and a bad entry fails before any run folder exists), and probes each
net for its signals and junction shapes. Every worker then draws one member per episode,
deterministically from (seed base, worker, episode) (:meth:`ScenarioMix.pick`).

SB3 trains on a fixed number of vectorised entries with one observation size, so the mix fixes
both: every worker has :attr:`ScenarioMix.slots` agent entries (the most signals of any member;
a net with fewer fills the rest with inert entries whose only allowed action is 0, zero
observation and zero reward, which add nothing to PPO's gradients), and the observation padding
(``env.max_lanes`` / ``max_phases`` / ``max_movements``) is the largest any member needs. A
phase-competition policy's weights do not depend on that padding (:mod:`agents.phase_competition`),
so the trained policy runs on any other net; it is recorded in the run's ``config.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import ConfigError, TSCError
from envs.config import EnvConfig
from scenarios.resolve import resolve
from scenarios.scenario import Scenario

PADDING_FIELDS = ("max_lanes", "max_phases", "max_movements")


@dataclass(frozen=True)
class MixMember:
    """One resolved (entry, variant) of the mix.

    Attributes:
        scenario: the built scenario.
        entry: index of its entry in ``TrainConfig.scenarios``.
        probability: chance that an episode runs it.
        teacher: the warm start's teacher on it (``None``: the run's).
        n_agents: its controllable signals.
    """

    scenario: Scenario
    entry: int
    probability: float
    teacher: str | None
    n_agents: int


@dataclass(frozen=True)
class ScenarioMix:
    """The scenarios a run trains on, with the slots and padding that fit all of them.

    Attributes:
        members: every (entry, variant).
        slots: agent entries per worker; ``None`` for a single scenario (its own signal count).
        padding: ``EnvConfig`` padding fields that fit every member (empty for a single scenario).
    """

    members: tuple[MixMember, ...]
    slots: int | None = None
    padding: tuple[tuple[str, int], ...] = ()

    @classmethod
    def single(cls, scenario: Scenario) -> ScenarioMix:
        """A run on one scenario: no probing, no slots, no padding of its own."""
        return cls((MixMember(scenario, 0, 1.0, None, 0),))

    def pick(self, seed_base: int, worker: int, episode: int) -> int:
        """The member (index) that worker ``worker`` runs in its ``episode``-th episode."""
        if len(self.members) == 1:
            return 0
        rng = np.random.default_rng([seed_base, worker, episode])
        return int(rng.choice(len(self.members), p=[m.probability for m in self.members]))

    def env_config(self, base: EnvConfig) -> EnvConfig:
        """``base`` with the mix's padding."""
        return base.model_copy(update=dict(self.padding)) if self.padding else base


def _entry_error(index: int, entry: Any, exc: Exception) -> ConfigError:
    return ConfigError(f"scenarios[{index}] ({entry.scenario!r}): {exc}")


def build_mix(config: Any, say: Any = None) -> ScenarioMix:
    """Resolve and probe every member of ``config.scenarios`` (a :class:`~agents.config.TrainConfig`);
    a run without ``scenarios`` gets :meth:`ScenarioMix.single`.

    ``say`` gets a line of progress. Padding fields set in ``config.env`` are kept (and checked:
    a member that needs more is an error naming it).

    Raises:
        ConfigError: an entry does not resolve, has no controllable signal, or does not fit the
            padding set in ``config.env``; the message names the entry (``scenarios[2] ...``).
    """
    from envs import TrafficSignalEnv  # starts SUMO to probe: only when a mix is asked for

    if not config.scenarios:
        return ScenarioMix.single(config.resolve_scenario())
    total = sum(e.weight for e in config.scenarios)
    n_members = sum(e.variants for e in config.scenarios)
    if say is not None:
        say(f"scenario mix: building and probing {n_members} net(s) of {len(config.scenarios)} entries")
    members: list[MixMember] = []
    dims: dict[str, int] = {}
    for index, entry in enumerate(config.scenarios):
        for variant in range(entry.variants):
            try:
                scenario = resolve(
                    entry.scenario,
                    seed=config.scenario_seed + variant,
                    horizon=entry.horizon or config.horizon,
                )
                with TrafficSignalEnv(scenario, config.env) as probe:
                    n_agents = len(probe.possible_agents)
                    for name in PADDING_FIELDS:
                        dims[name] = max(dims.get(name, 0), int(getattr(probe.dims, name)))
            except TSCError as exc:
                raise _entry_error(index, entry, exc) from None
            members.append(
                MixMember(scenario, index, entry.weight / total / entry.variants, entry.teacher, n_agents)
            )
    padding = tuple((name, getattr(config.env, name) or dims[name]) for name in PADDING_FIELDS)
    return ScenarioMix(tuple(members), max(m.n_agents for m in members), padding)
