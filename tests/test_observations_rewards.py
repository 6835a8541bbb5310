"""Observation and reward functions on hand-made snapshots (no SUMO).

The numbers are worked out by hand in the comments, so a change of formula shows up as a failure.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from envs import make_env_config, observation_names, register_observation, register_reward, reward_names
from envs.observations import ObsDims, make_observation, neighbour_summary
from envs.rewards import make_reward
from envs.state import IntersectionSpec, IntersectionState

# Two incoming lanes (75 m -> jam capacity 10 vehicles, limit 10 m/s), two outgoing lanes (75 m).
# Links: in0->out0 and in0->out1 are green in phase 0, in1->out1 is green in phase 1.
SPEC = IntersectionSpec(
    tls_id="J",
    in_lanes=("a_0", "b_0"),
    out_lanes=("c_0", "d_0"),
    in_length=np.array([75.0, 75.0]),
    in_max_speed=np.array([10.0, 10.0]),
    out_length=np.array([75.0, 75.0]),
    link_lanes=np.array([[0, 0], [1, 1], [0, 1]]),
    green_links=np.array([[True, False, True], [False, True, False]]),
)
DIMS = ObsDims(max_lanes=3, max_phases=3, n_actions=3)


def _state(**kw) -> IntersectionState:
    base = dict(
        time=100.0,
        in_count=np.array([5.0, 2.0]),
        in_halting=np.array([3.0, 0.0]),
        in_occupancy=np.array([0.2, 0.1]),
        in_mean_speed=np.array([5.0, 10.0]),
        in_waiting=np.array([30.0, 0.0]),
        out_count=np.array([1.0, 4.0]),
        phase=1,
        time_in_green=60.0,
        action_mask=np.array([True, False, True]),
    )
    base.update(kw)
    return IntersectionState(**base)


PHASE_BLOCK = [0, 1, 0, 1, 0, 1, 0.5]  # one-hot phase 1 | mask | 60 s / 120 s


def test_default_observation_by_hand() -> None:
    obs = make_observation("default")
    vec = obs(SPEC, _state(), DIMS)
    assert obs.size(DIMS) == 13 == vec.shape[0]
    assert vec.dtype == np.float32
    # density 5/10, 2/10, padding | queue 3/10, 0, padding
    np.testing.assert_allclose(vec, PHASE_BLOCK + [0.5, 0.2, 0.0] + [0.3, 0.0, 0.0], rtol=1e-6)


def test_pressure_observation_by_hand() -> None:
    obs = make_observation("pressure")
    vec = obs(SPEC, _state(), DIMS)
    # up = 0.5, 0.2; down = 0.1, 0.4; per link: 0.5-0.1, 0.2-0.4, 0.5-0.4 = 0.4, -0.2, 0.1
    # phase 0: 0.4 + 0.1 = 0.5; phase 1: -0.2; scaled by 4 / 3 links.
    assert obs.size(DIMS) == 10 == vec.shape[0]
    np.testing.assert_allclose(vec, PHASE_BLOCK + [0.5 * 4 / 3, -0.2 * 4 / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(_state().phase_pressures(SPEC), [0.5, -0.2])


def test_queue_observation_by_hand() -> None:
    obs = make_observation("queue")
    vec = obs(SPEC, _state(), DIMS)
    # exit density: phase 0 -> (0.1 + 0.4) / 2 links, phase 1 -> 0.4 / 1 link
    assert obs.size(DIMS) == 13 == vec.shape[0]
    np.testing.assert_allclose(vec, PHASE_BLOCK + [0.3, 0.0, 0.0] + [0.25, 0.4, 0.0], rtol=1e-6)


def test_approach_observation_by_hand() -> None:
    obs = make_observation("approach")
    spec = replace(SPEC, approach_zone=30.0)  # 30 m of a 75 m lane: jam capacity 4 vehicles
    vec = obs(spec, _state(in_near=np.array([3.0, 1.0]), in_near_moving=np.array([1.0, 1.0])), DIMS)
    assert obs.size(DIMS) == 19 == vec.shape[0] and vec.dtype == np.float32
    np.testing.assert_allclose(
        vec,
        PHASE_BLOCK + [0.5, 0.2, 0.0] + [0.3, 0.0, 0.0] + [0.75, 0.25, 0.0] + [0.25, 0.25, 0.0],
        rtol=1e-6,
    )
    # a zone longer than the lane is capped at the lane: 75 m -> 10 vehicles
    np.testing.assert_allclose(replace(SPEC, approach_zone=500.0).near_capacity, [10.0, 10.0])


def test_phase_block_clips_time_in_green_and_transition() -> None:
    obs = make_observation("default")
    assert obs(SPEC, _state(time_in_green=-3.0), DIMS)[6] == 0.0  # during yellow
    assert obs(SPEC, _state(time_in_green=500.0), DIMS)[6] == 1.0


def test_observation_truncates_to_padding_and_clips_densities() -> None:
    small = ObsDims(max_lanes=1, max_phases=2, n_actions=2)
    vec = make_observation("default")(
        SPEC, _state(in_count=np.array([50.0, 2.0]), phase=0, action_mask=np.array([True, True])), small
    )
    assert vec.shape[0] == make_observation("default").size(small) == 2 + 2 + 1 + 2
    assert vec[5] == 1.0  # 50 vehicles on a 10-vehicle lane: clipped density


def test_neighbour_summary_by_hand() -> None:
    np.testing.assert_allclose(neighbour_summary(SPEC, _state()), [0.35, 0.15], rtol=1e-6)


def test_rewards_by_hand() -> None:
    now, prev = _state(), _state(in_waiting=np.array([40.0, 10.0]))
    assert make_reward("queue")(SPEC, now, prev) == -3.0
    assert make_reward("pressure")(SPEC, now, prev) == -2.0  # |7 in - 5 out|
    assert make_reward("wait_change")(SPEC, now, prev) == pytest.approx(0.2)  # (50 - 30) / 100
    assert make_reward("delay")(SPEC, now, prev) == pytest.approx(-2.5)  # 5 * (1 - 5/10) + 2 * 0


def test_delay_is_zero_on_empty_lanes_at_the_speed_limit() -> None:
    empty = _state(in_count=np.zeros(2), in_halting=np.zeros(2), in_mean_speed=np.array([10.0, 10.0]))
    assert make_reward("delay")(SPEC, empty, empty) == 0.0
    stopped = _state(in_mean_speed=np.zeros(2))
    assert make_reward("delay")(SPEC, stopped, stopped) == -7.0


def test_builtin_names_are_registered() -> None:
    assert {"default", "approach", "pressure", "queue"} <= set(observation_names())
    assert {"queue", "pressure", "wait_change", "delay"} <= set(reward_names())


def test_unknown_names_are_config_errors_listing_the_registered_ones() -> None:
    with pytest.raises(ConfigError, match="observation='nope'.*default"):
        make_observation("nope")
    with pytest.raises(ConfigError, match="reward='nope'.*wait_change"):
        make_reward("nope")


def test_unknown_config_field_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"env\.rewardd: unknown field"):
        make_env_config(rewardd="queue")
    with pytest.raises(ConfigError, match=r"env\.delta_time"):
        make_env_config(delta_time=-1)
    with pytest.raises(ConfigError, match="min_green"):
        make_env_config(min_green=70, max_green=60)


def test_registering_custom_observation_and_reward() -> None:
    @register_observation("test-const")
    class Const:
        def size(self, dims: ObsDims) -> int:
            return 1

        def __call__(self, spec, state, dims):
            return np.ones(1, dtype=np.float32)

    @register_reward("test-minus-one")
    def minus_one(spec, now, prev) -> float:
        return -1.0

    assert "test-const" in observation_names() and "test-minus-one" in reward_names()
    assert make_observation("test-const")(SPEC, _state(), DIMS).tolist() == [1.0]
    assert make_reward("test-minus-one")(SPEC, _state(), _state()) == -1.0


_counts = st.lists(st.floats(0, 200), min_size=2, max_size=2).map(np.array)


@settings(max_examples=60, deadline=None)
@given(
    count=_counts,
    halting=_counts,
    out=_counts,
    speed=_counts,
    phase=st.integers(0, 2),
    t=st.floats(-10, 1000),
)
def test_observations_stay_inside_their_box(count, halting, out, speed, phase, t) -> None:
    halting = np.minimum(halting, count)
    state = _state(
        in_count=count, in_halting=halting, out_count=out, in_mean_speed=speed, phase=phase, time_in_green=t
    )
    state.in_near, state.in_near_moving = count, halting
    for name, low in (("default", 0.0), ("approach", 0.0), ("queue", 0.0), ("pressure", -1.0)):
        obs = make_observation(name)
        vec = obs(SPEC, state, DIMS)
        assert vec.shape == (obs.size(DIMS),) and vec.dtype == np.float32
        assert np.all(vec >= low) and np.all(vec <= 1.0), (name, vec)
