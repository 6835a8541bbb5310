"""Soak test: many consecutive episodes in the training workers, watching for slow leaks.

Runs ``--episodes`` episodes of a scenario (default ``wuxi-core``, shortened to ``--horizon`` s) in a
:class:`agents.vec_env.MultiAgentVecEnv` with ``--n-envs`` worker processes, driven by random allowed
actions. Every worker restarts its simulation at each episode end (a fresh SUMO with the next seed),
so this exercises exactly the reset path a long training run takes thousands of times.

Every ``--sample-every`` finished episodes it prints, per worker, the resident memory (RSS, MB) and
the open file descriptors, plus this process's RSS/fds and the number of live SUMO processes below
this process. The verdict compares the start (the first sample after a warm-up) with the end:

* memory is *flat* when neither any worker's nor this process's RSS grew by more than
  ``--max-rss-growth`` MB,
* fds are *flat* when no process's fd count grew by more than ``--max-fd-growth``,
* no SUMO leak when the SUMO process count never exceeded what the backend runs (0 with libsumo,
  one per worker with TraCI).

Exit status 0 when all three hold, 1 otherwise. Usage::

    python bench/soak.py                                  # 200 episodes of wuxi-core, 300 s each
    python bench/soak.py --episodes 200 --horizon 300 --n-envs 2
    python bench/soak.py --scenario wuxi-single --episodes 20 --horizon 60 --backend traci

:func:`soak` is also called by the short CI variant in ``tests/test_reliability.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

MB = 1024 * 1024


@dataclass
class Sample:
    """Process figures after ``episodes`` finished episodes."""

    episodes: int
    seconds: float
    worker_rss_mb: list[float]
    worker_fds: list[int]
    main_rss_mb: float
    main_fds: int
    sumo_processes: int


@dataclass
class SoakResult:
    """All samples plus the verdict."""

    samples: list[Sample]
    expected_sumo: int
    max_rss_growth_mb: float
    max_fd_growth: int
    faults: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def rss_growth_mb(self) -> list[float]:
        """Per worker: RSS at the end minus RSS at the first sample after warm-up."""
        first, last = self._ends()
        return [b - a for a, b in zip(first.worker_rss_mb, last.worker_rss_mb)]

    @property
    def fd_growth(self) -> int:
        """Largest fd-count growth of any worker or the main process."""
        first, last = self._ends()
        growth = [b - a for a, b in zip(first.worker_fds, last.worker_fds)]
        return max(growth + [last.main_fds - first.main_fds])

    @property
    def main_rss_growth_mb(self) -> float:
        """This (driving) process's RSS growth after warm-up."""
        first, last = self._ends()
        return last.main_rss_mb - first.main_rss_mb

    @property
    def max_sumo(self) -> int:
        """Most SUMO processes seen at any sample."""
        return max(s.sumo_processes for s in self.samples)

    @property
    def flat(self) -> bool:
        """Memory and fds flat, no SUMO leak, no worker fault."""
        return not self.verdict_problems()

    def _ends(self) -> tuple[Sample, Sample]:
        warm = self.samples[1] if len(self.samples) > 2 else self.samples[0]
        return warm, self.samples[-1]

    def verdict_problems(self) -> list[str]:
        out = list(self.problems)
        if max(self.rss_growth_mb) > self.max_rss_growth_mb:
            out.append(
                f"worker RSS grew by {max(self.rss_growth_mb):.1f} MB (limit {self.max_rss_growth_mb:g} MB)"
            )
        if self.main_rss_growth_mb > self.max_rss_growth_mb:
            out.append(
                f"main process RSS grew by {self.main_rss_growth_mb:.1f} MB "
                f"(limit {self.max_rss_growth_mb:g} MB)"
            )
        if self.fd_growth > self.max_fd_growth:
            out.append(f"open fds grew by {self.fd_growth} (limit {self.max_fd_growth})")
        if self.max_sumo > self.expected_sumo:
            out.append(f"{self.max_sumo} SUMO processes alive (expected at most {self.expected_sumo})")
        if self.faults:
            out.append(f"{self.faults} simulation fault(s) during the soak")
        return out


def sumo_processes(root: psutil.Process | None = None) -> int:
    """Live (non-zombie) SUMO processes below ``root`` (default: this process)."""
    root = root or psutil.Process()
    n = 0
    for proc in root.children(recursive=True):
        try:
            if "sumo" in proc.name() and proc.status() != psutil.STATUS_ZOMBIE:
                n += 1
        except psutil.NoSuchProcess:
            continue
    return n


def _sample(episodes: int, t0: float, workers: list[psutil.Process]) -> Sample:
    me = psutil.Process()
    return Sample(
        episodes=episodes,
        seconds=time.perf_counter() - t0,
        worker_rss_mb=[w.memory_info().rss / MB for w in workers],
        worker_fds=[w.num_fds() for w in workers],
        main_rss_mb=me.memory_info().rss / MB,
        main_fds=me.num_fds(),
        sumo_processes=sumo_processes(me),
    )


def _format(s: Sample) -> str:
    rss = " ".join(f"{x:7.1f}" for x in s.worker_rss_mb)
    fds = " ".join(f"{x:3d}" for x in s.worker_fds)
    return (
        f"{s.episodes:5d} ep {s.seconds:8.1f} s | worker RSS MB {rss} | worker fds {fds} | "
        f"main RSS {s.main_rss_mb:6.1f} MB fds {s.main_fds:3d} | sumo procs {s.sumo_processes}"
    )


def soak(
    scenario,
    *,
    episodes: int,
    n_envs: int = 2,
    backend: str = "libsumo",
    sample_every: int = 10,
    max_rss_growth_mb: float = 50.0,
    max_fd_growth: int = 2,
    seed: int = 0,
    echo: bool = True,
) -> SoakResult:
    """Run ``episodes`` episodes of ``scenario`` in ``n_envs`` worker processes and sample them.

    Args:
        scenario: a built :class:`~scenarios.Scenario` (its horizon sets the episode length).
        episodes: finished episodes to run, over all workers.
        n_envs: worker processes (one simulation each).
        backend: ``libsumo`` (SUMO inside each worker) or ``traci`` (a ``sumo`` child per worker).
        sample_every: finished episodes between samples.
        max_rss_growth_mb: verdict threshold on any worker's RSS growth.
        max_fd_growth: verdict threshold on any process's fd-count growth.
        seed: seed of the random actions (SUMO seeds follow the workers' seed streams).
        echo: print each sample.
    """
    from agents.vec_env import MultiAgentVecEnv
    from envs.config import EnvConfig

    rng = np.random.default_rng(seed)
    venv = MultiAgentVecEnv(scenario, EnvConfig(backend=backend), n_envs=n_envs, in_process=False)
    result = SoakResult(
        [],
        expected_sumo=n_envs if backend == "traci" else 0,
        max_rss_growth_mb=max_rss_growth_mb,
        max_fd_growth=max_fd_growth,
    )
    try:
        workers = [psutil.Process(p.pid) for p in venv._procs]
        venv.reset()
        t0 = time.perf_counter()
        done_eps, next_sample = 0, 0
        while True:
            if done_eps >= next_sample:
                result.samples.append(_sample(done_eps, t0, workers))
                if echo:
                    print(_format(result.samples[-1]), flush=True)
                next_sample += sample_every
            if done_eps >= episodes:
                break
            masks = venv.action_masks()
            actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
            _, _, dones, _ = venv.step(actions)
            venv.step_metrics.clear()  # drained each rollout by the training callback; here each step
            venv.episode_stats.clear()
            done_eps += int(dones.reshape(n_envs, venv.n_agents)[:, 0].sum())
        result.faults = venv.faults
    finally:
        venv.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="wuxi-core")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--horizon", type=float, default=300.0, help="episode length (s)")
    parser.add_argument("--n-envs", type=int, default=2)
    parser.add_argument("--backend", choices=("libsumo", "traci"), default="libsumo")
    parser.add_argument("--sample-every", type=int, default=20)
    parser.add_argument("--max-rss-growth", type=float, default=50.0, help="MB")
    parser.add_argument("--max-fd-growth", type=int, default=2)
    args = parser.parse_args(argv)

    import scenarios

    scenario = scenarios.build(args.scenario, horizon=args.horizon)
    print(
        f"soak: {args.episodes} episodes of {scenario.name} ({args.horizon:g} s), "
        f"{args.n_envs} workers, backend {args.backend}",
        flush=True,
    )
    res = soak(
        scenario,
        episodes=args.episodes,
        n_envs=args.n_envs,
        backend=args.backend,
        sample_every=args.sample_every,
        max_rss_growth_mb=args.max_rss_growth,
        max_fd_growth=args.max_fd_growth,
    )
    last = res.samples[-1]
    print(
        f"\n{last.episodes} episodes in {last.seconds:.0f} s "
        f"({last.seconds / max(last.episodes, 1):.2f} s/episode)"
    )
    print("worker RSS growth after warm-up (MB): " + ", ".join(f"{g:+.1f}" for g in res.rss_growth_mb))
    print(f"main process RSS growth (MB): {res.main_rss_growth_mb:+.1f}")
    print(
        f"fd growth: {res.fd_growth:+d}; most SUMO processes seen: {res.max_sumo} "
        f"(expected <= {res.expected_sumo}); faults: {res.faults}"
    )
    print(f"median worker RSS (MB): {statistics.median(x for s in res.samples for x in s.worker_rss_mb):.1f}")
    problems = res.verdict_problems()
    print("verdict: FLAT" if not problems else "verdict: NOT FLAT: " + "; ".join(problems))
    after = sumo_processes()
    if after:
        print(f"after close: {after} SUMO process(es) still alive (leak)")
        return 1
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
