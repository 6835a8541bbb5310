"""Where the harness's calls run: in this process, in a spawn process pool, or as Ray tasks.

One small interface (:class:`Executor`) behind the harness's episodes and preparations: ``map``
runs ``fn(item, shared)`` for every item and yields an :class:`Outcome` as each call finishes, in
any order. Every call is one simulation (libsumo allows one per process), so a pool process or a
Ray task (``num_cpus=1``) runs one at a time. The caller writes the results: with Ray the calls may
run on other machines, and the results folder lives on the driver.

Ray is imported only by :class:`RayExecutor` (the optional extra, ``pip install -e ".[ray]"``).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from core.errors import ClusterError, ConfigError, TSCError
from core.ray_cluster import RaySession, import_ray, probe

T = TypeVar("T")

LOCAL_NODE = "local"
""":attr:`Outcome.node` of a call that ran on this machine outside Ray."""


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One finished call.

    Attributes:
        item: the item the call was given.
        result: what ``fn`` returned (``None`` when it failed).
        error: what it raised, else ``None``.
        node: where it ran: the Ray node id, or :data:`LOCAL_NODE`.
    """

    item: T
    result: Any
    error: BaseException | None
    node: str = LOCAL_NODE


class Executor(Protocol):
    """Runs ``fn(item, shared)`` for each item; yields each :class:`Outcome` as it finishes.

    ``fn`` must be a module-level function (it is pickled by reference), ``item`` and ``shared``
    picklable. ``bar`` (a tqdm bar, optional) is advanced once per finished call.
    """

    def map(
        self, fn: Callable[[T, Any], Any], items: Sequence[T], shared: Any, bar: Any = None
    ) -> Iterator[Outcome[T]]: ...


class InlineExecutor:
    """Runs the calls one after the other in this process (debugging: ``workers=0``). Only the
    project's own errors are caught; anything else is a bug and propagates."""

    def map(
        self, fn: Callable[[T, Any], Any], items: Sequence[T], shared: Any, bar: Any = None
    ) -> Iterator[Outcome[T]]:
        for item in items:
            try:
                yield Outcome(item, fn(item, shared), None)
            except TSCError as exc:
                yield Outcome(item, None, exc)
            if bar is not None:
                bar.update(1)


class ProcessExecutor:
    """Runs the calls in a pool of ``workers`` spawn processes on this machine (the default).

    Args:
        workers: processes (at most one per call).
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ConfigError(f"workers={workers}: a process pool needs workers >= 1.")
        self.workers = workers

    def map(
        self, fn: Callable[[T, Any], Any], items: Sequence[T], shared: Any, bar: Any = None
    ) -> Iterator[Outcome[T]]:
        if not items:
            return
        pool = cf.ProcessPoolExecutor(
            max_workers=min(self.workers, len(items)), mp_context=multiprocessing.get_context("spawn")
        )
        try:
            futures = {pool.submit(fn, item, shared): item for item in items}
            for fut in cf.as_completed(futures):
                exc = fut.exception()
                yield Outcome(futures[fut], None if exc else fut.result(), exc)
                if bar is not None:
                    bar.update(1)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM) or abandoned: stop the running episodes too
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.terminate()
            raise
        finally:
            pool.shutdown(cancel_futures=True)


@dataclass(frozen=True)
class _Done:
    """What a Ray task returns: the call's result and the node that ran it."""

    result: Any
    node: str


def _ray_call(fn: Callable[[Any, Any], Any], item: Any, shared: Any) -> _Done:
    """Body of the Ray task: run the call and say where it ran."""
    import ray

    return _Done(fn(item, shared), ray.get_runtime_context().get_node_id())


class RayExecutor:
    """Runs each call as a Ray task (``num_cpus=1``: one simulation per task), on a local Ray instance
    or a cluster; at most ``workers`` tasks are in flight.

    Args:
        workers: tasks in flight at once (the cluster may have fewer CPUs; Ray queues the rest).
        address: the head's ``host:port`` or ``auto``; ``None`` starts a local instance with
            ``workers`` CPUs for the length of each ``map`` (or joins the one this process runs).

    Raises:
        ConfigError: Ray is not installed (``pip install -e ".[ray]"``), ``workers < 1``, or a
            malformed address.
        ClusterError: nothing answers at ``address``.
    """

    def __init__(self, workers: int, address: str | None = None) -> None:
        import_ray("executor")
        if workers < 1:
            raise ConfigError(
                f"workers={workers}: the Ray executor needs workers >= 1 (tasks in flight); "
                "workers=0 (in this process) works with executor 'process' only."
            )
        if address is not None:
            probe(address, "ray_address")  # a dead address fails now, not after the preparations
        self.workers = workers
        self.address = address

    def map(
        self, fn: Callable[[T, Any], Any], items: Sequence[T], shared: Any, bar: Any = None
    ) -> Iterator[Outcome[T]]:
        if not items:
            return
        with RaySession(self.address, num_cpus=self.workers):
            import ray

            task = ray.remote(num_cpus=1)(_ray_call)
            shared_ref = ray.put(shared)  # sent to the cluster once, not once per task
            todo = list(items)
            running: dict[Any, T] = {}
            try:
                while todo or running:
                    while todo and len(running) < self.workers:
                        item = todo.pop(0)
                        running[task.remote(fn, item, shared_ref)] = item
                    (ref,), _ = ray.wait(list(running), num_returns=1)
                    item = running.pop(ref)
                    yield self._outcome(ray, ref, item)
                    if bar is not None:
                        bar.update(1)
            finally:
                for ref in running:  # an interrupted sweep: stop what still runs
                    ray.cancel(ref, force=True)

    @staticmethod
    def _outcome(ray: Any, ref: Any, item: T) -> Outcome[T]:
        try:
            done: _Done = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # the call raised: report its own exception
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            return Outcome(item, None, cause)
        except ray.exceptions.RayError as exc:  # the worker or its node died (after Ray's retries)
            return Outcome(item, None, ClusterError(f"Ray lost the task: {type(exc).__name__}: {exc}"))
        return Outcome(item, done.result, None, done.node)


def make_executor(executor: str, workers: int, address: str | None = None) -> Executor:
    """The executor an evaluation asks for.

    Args:
        executor: ``process`` (spawn processes on this machine) or ``ray``.
        workers: parallel calls; ``0`` runs them in this process (``process`` only).
        address: Ray only: the head's ``host:port`` or ``auto`` (``None``: a local Ray instance).

    Raises:
        ConfigError: an unknown executor, or Ray asked for without the ``ray`` extra.
    """
    if executor == "ray":
        return RayExecutor(workers, address)
    if executor != "process":
        raise ConfigError(f"executor: {executor!r} is not an executor; use 'process' or 'ray'.")
    return InlineExecutor() if workers == 0 else ProcessExecutor(workers)
