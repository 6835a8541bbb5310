"""All agents at once: the lanes and movements of every signal as index arrays, and each decision's
snapshot as arrays over agents.

The per-decision work of a city-sized env (1,723 signals) cannot be a Python loop over agents that
builds one small array per agent and per feature: that loop, not SUMO, would own the wall time.
:class:`BatchLayout` is built once per env: per agent (rows, padded), the rows of its incoming and
outgoing lanes in the env's lane matrix, its movements (signal links: incoming lane -> outgoing
lane), which movements each green serves, and its neighbours. :class:`BatchState` is one decision's
snapshot gathered from the lane matrix with one fancy index per array. Observation and reward
functions that offer a ``batch`` form compute every agent's value from these arrays; the per-agent
:class:`~envs.state.IntersectionState` is a view built on demand (for heuristics and for
observation functions that have no batch form).

Padding rows point at an all-zero row appended to the lane matrix, so padded lanes read as empty
lanes; ``*_valid`` masks say which entries are real.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from envs.state import IntersectionSpec, IntersectionState


def _pad_rows(rows: Sequence[Sequence[int]], width: int, fill: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.full((len(rows), max(width, 1)), fill, dtype=np.int64)
    valid = np.zeros(out.shape, dtype=bool)
    for a, r in enumerate(rows):
        out[a, : len(r)] = r
        valid[a, : len(r)] = True
    return out, valid


def _pad_values(values: Sequence[np.ndarray], width: int, fill: float) -> np.ndarray:
    out = np.full((len(values), max(width, 1)), fill, dtype=float)
    for a, v in enumerate(values):
        out[a, : len(v)] = v
    return out


@dataclass(frozen=True)
class BatchLayout:
    """The static index arrays of all agents (``A`` agents, in ``agents`` order).

    Attributes:
        agents: agent ids, the row order of every array.
        pad_row: the lane-matrix row that padding points at (one past the real lanes; all zeros).
        in_rows: ``(A, L)`` lane-matrix rows of each agent's incoming lanes (``spec.in_lanes``).
        in_valid: ``(A, L)`` which of them are real.
        n_in: ``(A,)`` incoming lanes per agent.
        in_capacity: ``(A, L)`` jam capacity (vehicles) of each incoming lane; 1 in padding.
        near_capacity: ``(A, L)`` jam capacity of each lane's approach zone; 1 in padding.
        in_max_speed: ``(A, L)`` speed limits (m/s); 1 in padding.
        out_rows: ``(A, O)`` lane-matrix rows of the outgoing lanes (``spec.out_lanes``).
        out_valid: ``(A, O)`` which of them are real.
        out_capacity: ``(A, O)`` jam capacity of each outgoing lane; 1 in padding.
        link_in: ``(A, K)`` incoming-lane slot (column of ``in_rows``) of each movement.
        link_out: ``(A, K)`` outgoing-lane slot (column of ``out_rows``) of each movement.
        link_valid: ``(A, K)`` which movements are real.
        green_links: ``(A, P, K)`` movements with right of way in each green (False in padding).
        green_lanes: ``(A, P, L)`` incoming lanes with right of way in each green.
        n_greens: ``(A,)`` green phases per agent.
        neighbours: ``(A, N)`` agent index of each neighbour (``spec.neighbours`` order, at most
            ``N``), ``A`` (a zero row) in padding.
        neighbour_valid: ``(A, N)`` which neighbours are real.
    """

    agents: tuple[str, ...]
    pad_row: int
    in_rows: np.ndarray
    in_valid: np.ndarray
    n_in: np.ndarray
    in_capacity: np.ndarray
    near_capacity: np.ndarray
    in_max_speed: np.ndarray
    out_rows: np.ndarray
    out_valid: np.ndarray
    out_capacity: np.ndarray
    link_in: np.ndarray
    link_out: np.ndarray
    link_valid: np.ndarray
    green_links: np.ndarray
    green_lanes: np.ndarray
    n_greens: np.ndarray
    neighbours: np.ndarray
    neighbour_valid: np.ndarray

    @classmethod
    def build(
        cls,
        specs: Mapping[str, IntersectionSpec],
        lane_rows: Mapping[str, int],
        max_lanes: int,
        max_phases: int,
        max_neighbours: int,
    ) -> BatchLayout:
        """The layout of ``specs`` (agent order = the mapping's order) over a lane matrix whose
        rows are ``lane_rows``; lanes are padded to ``max_lanes``, greens to ``max_phases``."""
        agents = tuple(specs)
        sp = [specs[a] for a in agents]
        pad = len(lane_rows)
        in_rows, in_valid = _pad_rows([[lane_rows[x] for x in s.in_lanes] for s in sp], max_lanes, pad)
        n_out = max(len(s.out_lanes) for s in sp)
        out_rows, out_valid = _pad_rows([[lane_rows[x] for x in s.out_lanes] for s in sp], n_out, pad)
        n_links = max(s.link_lanes.shape[0] for s in sp)
        link_in, link_valid = _pad_rows([s.link_lanes[:, 0].tolist() for s in sp], n_links, 0)
        link_out, _ = _pad_rows([s.link_lanes[:, 1].tolist() for s in sp], n_links, 0)
        width = max(n_links, 1)
        green_links = np.zeros((len(sp), max_phases, width), dtype=bool)
        green_lanes = np.zeros((len(sp), max_phases, max(max_lanes, 1)), dtype=bool)
        for a, s in enumerate(sp):
            green_links[a, : s.n_greens, : s.link_lanes.shape[0]] = s.green_links
            green_lanes[a, : s.n_greens, : len(s.in_lanes)] = s.green_lane_matrix
        index = {t: i for i, t in enumerate(agents)}
        nbrs, nbr_valid = _pad_rows(
            [[index[n] for n in s.neighbours[:max_neighbours] if n in index] for s in sp],
            max_neighbours,
            len(agents),
        )
        return cls(
            agents=agents,
            pad_row=pad,
            in_rows=in_rows,
            in_valid=in_valid,
            n_in=in_valid.sum(axis=1),
            in_capacity=_pad_values([s.in_capacity for s in sp], max_lanes, 1.0),
            near_capacity=_pad_values([s.near_capacity for s in sp], max_lanes, 1.0),
            in_max_speed=_pad_values([s.in_max_speed for s in sp], max_lanes, 1.0),
            out_rows=out_rows,
            out_valid=out_valid,
            out_capacity=_pad_values([s.out_capacity for s in sp], n_out, 1.0),
            link_in=link_in,
            link_out=link_out,
            link_valid=link_valid,
            green_links=green_links,
            green_lanes=green_lanes,
            n_greens=np.array([s.n_greens for s in sp]),
            neighbours=nbrs,
            neighbour_valid=nbr_valid,
        )

    def guard_calls(self, halting: np.ndarray, current: np.ndarray) -> np.ndarray:
        """``(A, P)``: which greens call for service (the starvation guard's input, see
        :meth:`envs.signals.SignalController.observe_calls`): a red green calls when a vehicle halts
        on one of its lanes that the current green does not serve; the current green calls while a
        vehicle halts on its own lanes.

        Args:
            halting: halting vehicles per lane-matrix row.
            current: the current green of each agent.
        """
        halt = np.append(halting, 0.0)[self.in_rows] > 0  # (A, L)
        rows = np.arange(len(current))
        own = self.green_lanes[rows, current]  # (A, L)
        calls = (self.green_lanes & ~own[:, None, :] & halt[:, None, :]).any(axis=2)
        calls[rows, current] = (own & halt).any(axis=1)
        return calls


@dataclass
class BatchState:
    """One decision's snapshot of every agent (rows in :attr:`BatchLayout.agents` order).

    Lane arrays are ``(A, L)`` (incoming) or ``(A, O)`` (outgoing), zero in padding; the approach,
    detector and emission (``in_co2``) arrays are ``(A, 0)`` when not measured.
    """

    time: float
    in_count: np.ndarray
    in_halting: np.ndarray
    in_occupancy: np.ndarray
    in_mean_speed: np.ndarray
    in_waiting: np.ndarray
    out_count: np.ndarray
    phase: np.ndarray
    time_in_green: np.ndarray
    action_mask: np.ndarray
    in_near: np.ndarray
    in_near_moving: np.ndarray
    in_detected: np.ndarray
    in_delayed_eta: np.ndarray
    in_co2: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # mg/s per incoming lane

    @classmethod
    def gather(
        cls,
        layout: BatchLayout,
        time: float,
        lanes: np.ndarray,
        per_lane: Mapping[str, np.ndarray],
        phase: np.ndarray,
        time_in_green: np.ndarray,
        action_mask: np.ndarray,
    ) -> BatchState:
        """The snapshot from the env's lane matrix ``lanes`` (rows: lanes; columns: count, halting,
        occupancy in %, mean speed, waiting time) and optional per-lane vectors (``near``,
        ``moving``, ``detected``, ``eta``, ``co2``; empty when not measured)."""
        rows = layout.in_rows
        ext = np.vstack([lanes, np.zeros((1, lanes.shape[1]))])
        inc = ext[rows]  # (A, L, 5)

        def lane_vector(name: str) -> np.ndarray:
            v = per_lane.get(name)
            if v is None or v.size == 0:
                return np.zeros((len(layout.agents), 0))
            return np.append(v, 0.0)[rows]

        return cls(
            time=time,
            in_count=inc[:, :, 0],
            in_halting=inc[:, :, 1],
            in_occupancy=inc[:, :, 2] / 100.0,
            in_mean_speed=inc[:, :, 3],
            in_waiting=inc[:, :, 4],
            out_count=ext[layout.out_rows, 0],
            phase=phase,
            time_in_green=time_in_green,
            action_mask=action_mask,
            in_near=lane_vector("near"),
            in_near_moving=lane_vector("moving"),
            in_detected=lane_vector("detected"),
            in_delayed_eta=lane_vector("eta"),
            in_co2=lane_vector("co2"),
        )

    def agent(self, a: int, layout: BatchLayout) -> IntersectionState:
        """Agent ``a``'s snapshot as an :class:`IntersectionState` (its real lanes only)."""
        n, o = int(layout.n_in[a]), int(layout.out_valid[a].sum())

        def cut(x: np.ndarray) -> np.ndarray:
            return x[a, :n] if x.shape[1] else x[a]

        return IntersectionState(
            time=self.time,
            in_count=self.in_count[a, :n],
            in_halting=self.in_halting[a, :n],
            in_occupancy=self.in_occupancy[a, :n],
            in_mean_speed=self.in_mean_speed[a, :n],
            in_waiting=self.in_waiting[a, :n],
            out_count=self.out_count[a, :o],
            phase=int(self.phase[a]),
            time_in_green=float(self.time_in_green[a]),
            action_mask=self.action_mask[a],
            in_near=cut(self.in_near),
            in_near_moving=cut(self.in_near_moving),
            in_detected=cut(self.in_detected),
            in_delayed_eta=cut(self.in_delayed_eta),
            in_co2=cut(self.in_co2),
        )

    def neighbour_summaries(self, layout: BatchLayout) -> np.ndarray:
        """``(A, 2)``: each agent's mean density and mean queue over its incoming lanes (what its
        neighbours see of it, :func:`envs.observations.neighbour_summary`)."""
        n = np.maximum(layout.n_in, 1)
        density = np.where(layout.in_valid, np.clip(self.in_count / layout.in_capacity, 0, 1), 0.0)
        queue = np.where(layout.in_valid, np.clip(self.in_halting / layout.in_capacity, 0, 1), 0.0)
        return np.stack([density.sum(axis=1) / n, queue.sum(axis=1) / n], axis=1).astype(np.float32)


def phase_pressures(layout: BatchLayout, state: BatchState) -> np.ndarray:
    """:meth:`~envs.state.IntersectionState.phase_pressures` of every agent: ``(A, max_phases)``."""
    up = state.in_count / layout.in_capacity
    down = state.out_count / layout.out_capacity
    movement = np.take_along_axis(up, layout.link_in, axis=1) - np.take_along_axis(
        down, layout.link_out, axis=1
    )
    movement = np.where(layout.link_valid, movement, 0.0)
    return (layout.green_links.astype(float) @ movement[:, :, None])[:, :, 0]
