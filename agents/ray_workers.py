"""The training simulations as Ray actors (``MultiAgentVecEnv(executor="ray")``).

Each actor is one process holding one :class:`agents.vec_env._Sim` (libsumo allows one simulation
per process, and an actor is a process), so the commands are those of the process workers, run by
the same ``_Sim.handle``. Actors take ``num_cpus=1`` and may sit on any node of a cluster, so
``n_envs`` can exceed one machine's cores.

Faults: a SUMO fault inside an actor is handled by ``_Sim`` as in a worker process. An actor that
dies (its process killed, its node lost) is replaced by a fresh actor that continues the worker's
seed stream: the episode in progress ends as truncated (``_Sim.restart``) and is counted in
``faults``, as when SUMO dies under a process worker, and training goes on.

Imported only with ``executor="ray"`` (the optional extra, ``pip install -e ".[ray]"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agents.vec_env import SimShape, SimStep, WorkerSpec, _Sim
from core.errors import SimulationError
from core.ray_cluster import RaySession, import_ray

CLOSE_TIMEOUT = 10.0
"""Seconds an actor gets to close its simulation before it is killed."""


class SimActor:
    """A Ray actor around one simulation: ``handle`` is :meth:`_Sim.handle`.

    Args:
        spec: what to build.
        episode: the worker's episode counter to continue from.
        faults: the worker's fault count so far (of the actors it replaces).
    """

    def __init__(self, spec: WorkerSpec, episode: int, faults: int) -> None:
        self.sim = _Sim(spec, episode, faults)

    def handle(self, cmd: str, data: Any) -> Any:
        """One command of the vectorised env (see :meth:`_Sim.handle`)."""
        return self.sim.handle(cmd, data)

    def close(self) -> None:
        """Close the simulation (the actor is killed afterwards)."""
        self.sim.close()


class RayWorkers:
    """``n_envs`` simulation actors, called all at once, replaced when one dies.

    Args:
        specs: one per simulation.
        starts: per simulation, the episode counter to continue from (resume).
        address: the head's ``host:port`` or ``auto``; ``None`` starts a local Ray instance with one
            CPU per simulation (or joins the one this process runs).

    Attributes:
        actors: the live actor handles, one per simulation (a replaced one is swapped in place).
        replaced: actors replaced so far.

    Raises:
        ConfigError: Ray is not installed, or a malformed address.
        ClusterError: no Ray cluster answers at ``address``.
        SimulationError: an actor could not build its simulation.
    """

    def __init__(
        self, specs: Sequence[WorkerSpec], starts: Sequence[int], *, address: str | None = None
    ) -> None:
        self._ray = import_ray("executor")
        self._session = RaySession(address, num_cpus=len(specs)).__enter__()
        self._actor_class = self._ray.remote(num_cpus=1, max_restarts=0)(SimActor)
        self.specs = list(specs)
        # The driver's copy of each worker's counters: a dead actor takes its own with it.
        self._episodes = list(starts)
        self._faults = [0] * len(specs)
        self.replaced = 0
        self.actors = [self._start(i) for i in range(len(specs))]
        try:
            shapes = self._get_all([a.handle.remote("shape", None) for a in self.actors])
        except SimulationError:
            self.close()
            raise
        self.shape: SimShape = shapes[0]

    def _start(self, i: int) -> Any:
        return self._actor_class.remote(self.specs[i], self._episodes[i], self._faults[i])

    def _get_all(self, refs: list[Any]) -> list[Any]:
        try:
            return self._ray.get(refs)
        except self._ray.exceptions.RayTaskError as exc:
            raise SimulationError(f"training worker failed: {exc.cause!r}\n{exc}") from None
        except self._ray.exceptions.RayActorError as exc:
            raise SimulationError(f"training worker actor died while starting: {exc}") from None

    def call_all(self, cmd: str, data: Sequence[Any] | None = None) -> list[Any]:
        """Send ``cmd`` (with ``data[i]`` for simulation ``i``) to every actor; their answers.

        Raises:
            SimulationError: a command failed inside an actor (not a dead actor: that one is replaced).
        """
        refs = [a.handle.remote(cmd, None if data is None else data[i]) for i, a in enumerate(self.actors)]
        results = []
        for i, ref in enumerate(refs):
            try:
                result = self._ray.get(ref)
            except self._ray.exceptions.RayTaskError as exc:
                raise SimulationError(f"training worker failed: {exc.cause!r}\n{exc}") from None
            except self._ray.exceptions.RayActorError as exc:
                result = self._replace(i, cmd, None if data is None else data[i], exc)
            self._track(i, cmd, result)
            results.append(result)
        return results

    def _replace(self, i: int, cmd: str, data: Any, exc: BaseException) -> Any:
        """A fresh actor for simulation ``i``, and its answer to the command the dead one lost."""
        self.replaced += 1
        reason = f"Ray actor of simulation {i} died ({type(exc).__name__}); replaced by a fresh one"
        if cmd == "step":  # the episode in progress ends here, truncated and counted
            self.actors[i] = self._start(i)
            return self._get_all([self.actors[i].handle.remote("restart", reason)])[0]
        # Between episodes (reset, warm start, state): count the fault, start the next episode afresh.
        self._faults[i] += 1
        self._episodes[i] += 1
        self.actors[i] = self._start(i)
        return self._get_all([self.actors[i].handle.remote(cmd, data)])[0]

    def _track(self, i: int, cmd: str, result: Any) -> None:
        """Keep the driver's copy of the worker's counters (``_Sim.state``) in step."""
        if cmd == "step" and isinstance(result, SimStep) and result.done:
            self._episodes[i] += 1
            self._faults[i] += "fault" in result.net
        elif cmd == "state":
            self._episodes[i], self._faults[i] = result["episode"], result["faults"]
        elif cmd == "teacher":
            state = self._get_all([self.actors[i].handle.remote("state", None)])[0]
            self._episodes[i], self._faults[i] = state["episode"], state["faults"]

    def close(self) -> None:
        """Close every simulation, end the actors, and shut down a Ray instance started here."""
        if self._session is None:
            return
        try:
            refs = [a.close.remote() for a in self.actors]
            self._ray.wait(refs, num_returns=len(refs), timeout=CLOSE_TIMEOUT)
        finally:
            for actor in self.actors:
                self._ray.kill(actor)
            self.actors = []
            session, self._session = self._session, None
            session.__exit__(None, None, None)
