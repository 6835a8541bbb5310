"""Pure unit tests of the signal logic (envs/signals.py): no SUMO involved.

The controller mirrors the program it installs in SUMO, so every rule (yellow and all-red insertion,
min/max green, the two action modes, masked and invalid actions) is checked here on its own commands
and program; tests/test_env_behaviour.py checks the same rules on what SUMO actually shows.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidActionError, ScenarioError
from envs.signals import PhaseSet, SignalController, SignalTiming, yellow_between

# A netgenerate-like program: two greens, each followed by yellow (3 s) and all-red (2 s).
WITH_ALL_RED = [
    (30.0, "GGrrGGrr"),
    (3.0, "yyrryyrr"),
    (2.0, "rrrrrrrr"),
    (30.0, "rrGGrrGG"),
    (3.0, "rryyrryy"),
    (2.0, "rrrrrrrr"),
]
# Three greens (with a permissive 'g' that stays green into the next phase), yellows of 3 and 4 s,
# no all-red; the first green appears twice (must be de-duplicated).
THREE_GREENS = [
    (25.0, "GGgrrr"),
    (4.0, "yyGrrr"),
    (10.0, "rrGGrr"),
    (3.0, "rryyrr"),
    (20.0, "rrrrGG"),
    (3.0, "rrrryy"),
    (25.0, "GGgrrr"),
    (4.0, "yygrrr"),
]
FOREVER = 1e5  # anything this long is a "held" green


def _runs(program: list[tuple[float, str]], start: int) -> list[tuple[float, str]]:
    """The phases SUMO walks through from ``start`` until the next held green (inclusive)."""
    out = []
    for d, s in program[start:]:
        out.append((d, s))
        if d >= FOREVER:
            return out
    raise AssertionError(f"no held green after phase {start}: {program[start:]}")


# ----------------------------------------------------------------------------- PhaseSet
def test_phase_set_extracts_greens_yellow_and_all_red() -> None:
    ps = PhaseSet.from_program("J1", WITH_ALL_RED)
    assert ps.greens == ("GGrrGGrr", "rrGGrrGG")
    assert ps.green_durations == (30.0, 30.0)
    assert ps.yellow_time == 3.0
    assert ps.all_red_time == 2.0
    assert ps.transition_time == 5.0
    assert ps.n_greens == 2


def test_phase_set_deduplicates_greens_and_takes_longest_yellow() -> None:
    ps = PhaseSet.from_program("J2", THREE_GREENS)
    assert ps.greens == ("GGgrrr", "rrGGrr", "rrrrGG")
    assert ps.yellow_time == 4.0
    assert ps.all_red_time == 0.0


def test_phase_set_yellow_override_and_default() -> None:
    assert PhaseSet.from_program("J", WITH_ALL_RED, yellow_time=5.0).yellow_time == 5.0
    # A program without yellow phases gets the 3 s default.
    assert PhaseSet.from_program("J", [(30.0, "GGrr"), (30.0, "rrGG")]).yellow_time == 3.0


def test_all_red_only_after_the_greens_the_program_clears_with_one() -> None:
    # The corridor's netconvert program: one 1-s all-red per cycle, after the side-street green.
    program = [
        (45.0, "GGrr"),
        (3.0, "yyrr"),
        (20.0, "rrGr"),
        (3.0, "rryr"),
        (45.0, "rrrG"),
        (3.0, "rrry"),
        (1.0, "rrrr"),
    ]
    ps = PhaseSet.from_program("J", program)
    assert ps.all_red_after == (0.0, 0.0, 1.0)
    assert ps.transition(0, 2) == [(3.0, "yyrr")]  # no all-red after green 0, whatever comes next
    assert ps.transition(2, 1) == [(3.0, "rrry"), (1.0, "rrrr")]
    assert [ps.transition_seconds(i) for i in range(3)] == [3.0, 3.0, 4.0]
    ctrl = SignalController(ps, SignalTiming(delta_time=1.0, min_green=5.0), n_actions=3)
    ctrl.reset(0.0)
    ctrl.apply(2, now=10.0)
    assert ctrl.time_in_green(13.0) == 0.0  # green 2 shows after the 3-s yellow
    ctrl.apply(0, now=20.0)
    assert ctrl.time_in_green(24.0) == 0.0  # green 0 after the yellow and the 1-s all-red


def test_phase_set_without_green_is_a_scenario_error() -> None:
    with pytest.raises(ScenarioError, match="'dead'.*no green phase"):
        PhaseSet.from_program("dead", [(30.0, "rrrr"), (3.0, "yyyy")])


def test_yellow_between_keeps_shared_greens_and_yellows_the_rest() -> None:
    assert yellow_between("GGrrGGrr", "rrGGrrGG") == "yyrryyrr"
    # 'g' that stays green in the next phase stays green; a red stays red.
    assert yellow_between("GGgrrr", "rrGGrr") == "yygrrr"
    assert yellow_between("rGGr", "rGrG") == "rGyr"


def test_transition_inserts_all_red_only_when_the_program_has_one() -> None:
    with_red = PhaseSet.from_program("J1", WITH_ALL_RED)
    assert with_red.transition(0, 1) == [(3.0, "yyrryyrr"), (2.0, "rrrrrrrr")]
    assert with_red.transition(1, 0) == [(3.0, "rryyrryy"), (2.0, "rrrrrrrr")]
    no_red = PhaseSet.from_program("J2", THREE_GREENS)
    assert no_red.transition(0, 2) == [(4.0, "yyyrrr")]
    # yellow_time=0 and no all-red: a direct switch, no zero-length phase.
    assert (
        PhaseSet.from_program("J", [(30.0, "GGrr"), (30.0, "rrGG")], yellow_time=0.0).transition(0, 1) == []
    )


# ----------------------------------------------------------------------------- timing validation
@pytest.mark.parametrize(
    "kwargs",
    [
        {"delta_time": 0.0},
        {"yellow_time": -1.0},
        {"min_green": 20.0, "max_green": 10.0},
        {"action_mode": "cycle"},
        {"green_durations": ()},
        {"green_durations": (10.0, 0.0)},
    ],
)
def test_signal_timing_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SignalTiming(**kwargs)


def test_a_transition_can_span_several_short_decisions() -> None:
    ps = PhaseSet.from_program("J1", WITH_ALL_RED)  # 3 s yellow + 2 s all-red
    ctrl = SignalController(ps, SignalTiming(delta_time=1.0, min_green=0.0, max_green=60.0), n_actions=2)
    ctrl.reset(0.0)
    commands, applied = ctrl.apply(1, now=10.0)
    assert applied == 1 and len(commands) == 1
    for now in (11.0, 12.0, 13.0, 14.0):  # yellow and all-red run: only the new green is allowed
        assert ctrl.mask(now).tolist() == [False, True]
        assert ctrl.apply(0, now=now) == ([], 1)  # switching back is refused, the yellow completes
    assert ctrl.mask(15.0).tolist() == [True, True]  # green 1 shows from t=15; min_green 0


# ----------------------------------------------------------------------------- phase mode
def _phase_ctrl(program=THREE_GREENS, n_actions: int = 4, **timing) -> SignalController:
    t = SignalTiming(**{"delta_time": 5.0, "min_green": 10.0, "max_green": 30.0, **timing})
    return SignalController(PhaseSet.from_program("J", program), t, n_actions)


def test_phase_mode_program_holds_each_green_and_each_change_runs_its_transition() -> None:
    ctrl = _phase_ctrl(WITH_ALL_RED, n_actions=2, delta_time=6.0)
    ctrl.reset(0.0)
    commands, applied = ctrl.apply(1, now=12.0)
    assert applied == 1
    ((kind, block),) = commands
    assert kind == "set_phase"
    assert _runs(ctrl.program, int(block)) == [
        (3.0, "yyrryyrr"),
        (2.0, "rrrrrrrr"),
        (pytest.approx(1e6), "rrGGrrGG"),
    ]
    # ... and back: a different block, with the other yellow.
    ((_, back),) = ctrl.apply(0, now=30.0)[0]
    assert _runs(ctrl.program, int(back)) == [
        (3.0, "rryyrryy"),
        (2.0, "rrrrrrrr"),
        (pytest.approx(1e6), "GGrrGGrr"),
    ]


def test_phase_mode_reset_starts_in_first_green() -> None:
    ctrl = _phase_ctrl()
    ((kind, index),) = ctrl.reset(100.0)
    assert kind == "set_phase"
    assert ctrl.program[int(index)] == (pytest.approx(1e6), "GGgrrr")
    assert ctrl.current == 0 and ctrl.time_in_green(107.0) == 7.0


def test_phase_mode_min_and_max_green_masks() -> None:
    ctrl = _phase_ctrl()  # 3 greens, action space padded to 4
    ctrl.reset(0.0)
    assert ctrl.mask(0.0).tolist() == [True, False, False, False]
    assert ctrl.mask(9.9).tolist() == [True, False, False, False]  # min green
    assert ctrl.mask(10.0).tolist() == [True, True, True, False]  # free choice; padding never
    assert ctrl.mask(29.9).tolist() == [True, True, True, False]
    assert ctrl.mask(30.0).tolist() == [False, True, True, False]  # max green: must change


def test_phase_mode_change_restarts_green_after_the_transition() -> None:
    ctrl = _phase_ctrl()
    ctrl.reset(0.0)
    ctrl.apply(2, now=15.0)
    assert ctrl.current == 2
    assert ctrl.time_in_green(15.0) == -4.0  # the 4 s yellow runs first
    # During the yellow and the new min green only the target green is allowed.
    assert ctrl.mask(15.0).tolist() == [False, False, True, False]
    assert ctrl.mask(19.0 + 9.9).tolist() == [False, False, True, False]
    assert ctrl.mask(19.0 + 10.0).tolist() == [True, True, True, False]


def test_phase_mode_keeping_the_green_issues_no_command() -> None:
    ctrl = _phase_ctrl()
    ctrl.reset(0.0)
    assert ctrl.apply(0, now=15.0) == ([], 0)
    assert ctrl.time_in_green(20.0) == 20.0


def test_masked_action_is_replaced_by_the_closest_allowed_and_reported() -> None:
    ctrl = _phase_ctrl()
    ctrl.reset(0.0)
    # During min green: keep the current green.
    assert ctrl.apply(1, now=5.0) == ([], 0)
    # A padded action (in the space, never allowed) keeps the current green too.
    assert ctrl.apply(3, now=15.0) == ([], 0)
    # After max green: the current green is masked; the next green in cycle order is applied.
    commands, applied = ctrl.apply(0, now=30.0)
    assert applied == 1 and commands and commands[0][0] == "set_phase"
    assert ctrl.current == 1


def test_max_green_override_wraps_around_the_cycle() -> None:
    ctrl = _phase_ctrl()
    ctrl.reset(0.0)
    ctrl.apply(2, now=10.0)  # green 2 from t=14
    assert ctrl.apply(2, now=14.0 + 30.0)[1] == 0


def test_strict_masked_action_raises() -> None:
    ctrl = _phase_ctrl()
    ctrl.reset(0.0)
    with pytest.raises(InvalidActionError, match=r"'J'.*action 1.*allowed now: \[0\]"):
        ctrl.apply(1, now=5.0, strict=True)
    with pytest.raises(InvalidActionError):
        ctrl.apply(3, now=15.0, strict=True)  # padded action
    assert ctrl.apply(1, now=15.0, strict=True)[1] == 1  # allowed: fine


@pytest.mark.parametrize("action", [-1, 4, 99, "x", None])
def test_out_of_space_action_raises_even_when_not_strict(action: object) -> None:
    ctrl = _phase_ctrl()
    ctrl.reset(0.0)
    with pytest.raises(InvalidActionError, match="action space: 0..3"):
        ctrl.apply(action, now=15.0)


def test_numpy_integer_actions_are_accepted() -> None:
    ctrl = _phase_ctrl()
    ctrl.reset(0.0)
    assert ctrl.apply(np.int64(2), now=15.0)[1] == 2


# ----------------------------------------------------------------------------- duration mode
DURATIONS = (5.0, 10.0, 20.0, 30.0, 50.0)


def _commit(result: tuple[list, int]) -> tuple[float, int]:
    """``(remaining green seconds, applied action)`` of a duration commit.

    A commit may also re-select the running green (``set_phase``) before setting its duration; if
    it does, that phase must be the held green the controller believes is running.
    """
    commands, applied = result
    kinds = [k for k, _ in commands]
    assert kinds in (["set_duration"], ["set_phase", "set_duration"]), commands
    return commands[-1][1], applied


def _duration_ctrl(program=WITH_ALL_RED, **timing) -> SignalController:
    t = SignalTiming(
        **{
            "delta_time": 6.0,
            "min_green": 10.0,
            "max_green": 40.0,
            "action_mode": "duration",
            "green_durations": DURATIONS,
            **timing,
        }
    )
    return SignalController(PhaseSet.from_program("J", program), t, len(t.green_durations))


def test_duration_mode_program_keeps_the_static_cycle() -> None:
    ctrl = _duration_ctrl(THREE_GREENS, delta_time=5.0)
    prog = ctrl.program
    assert [s for _, s in prog] == ["GGgrrr", "yygrrr", "rrGGrr", "rryyrr", "rrrrGG", "rrrryy"]
    assert [d for d, _ in prog][1::2] == [4.0, 4.0, 4.0]  # the set's yellow time
    assert all(d >= FOREVER for d in [d for d, _ in prog][0::2])


def test_duration_mode_mask_allows_only_durations_within_min_max_and_not_yet_passed() -> None:
    ctrl = _duration_ctrl()
    ctrl.reset(0.0)
    assert ctrl.mask(0.0).tolist() == [False, True, True, True, False]
    assert ctrl.mask(12.0).tolist() == [False, False, True, True, False]


def test_duration_mode_commits_and_ends_the_green_exactly() -> None:
    ctrl = _duration_ctrl()
    ctrl.reset(0.0)
    assert _commit(ctrl.apply(2, now=1.0)) == (19.0, 2)  # green 0 ends at t=20 exactly
    # While the committed green runs, only that duration is allowed; other actions change nothing.
    assert ctrl.mask(7.0).tolist() == [False, False, True, False, False]
    assert ctrl.apply(3, now=7.0) == ([], 2)
    with pytest.raises(InvalidActionError):
        ctrl.apply(3, now=13.0, strict=True)
    # Green ends at 20, then 3 s yellow + 2 s all-red: green 1 starts at t=25.
    assert ctrl.current == 0 and ctrl.time_in_green(24.9) == pytest.approx(24.9)
    assert ctrl.time_in_green(25.0) == 0.0 and ctrl.current == 1
    assert ctrl.mask(25.0).tolist() == [False, True, True, True, False]
    # Committed at t=31 (6 s into the green): 10 s of green means 4 s remaining.
    assert _commit(ctrl.apply(1, now=31.0)) == (4.0, 1)
    # Then the cycle wraps to green 0 at 35 + 5 = 40.
    assert ctrl.time_in_green(40.0) == 0.0 and ctrl.current == 0


def test_duration_commit_exactly_when_the_transition_ends_selects_the_new_green() -> None:
    """At t = green end + transition SUMO has not switched yet (it switches during the next step):
    setPhaseDuration alone would stretch the yellow, so the commit must select the green first
    (or wait for the next decision)."""
    ctrl = _duration_ctrl()
    ctrl.reset(0.0)
    ctrl.apply(1, now=0.0)  # green 0 until 10, yellow 10-13, all-red 13-15
    commands, applied = ctrl.apply(1, now=15.0)
    green1 = ctrl.program.index((pytest.approx(1e6), "rrGGrrGG"))
    if commands:  # committed now: SUMO must be put into green 1 explicitly
        assert commands[0] == ("set_phase", float(green1)), commands
        assert commands[-1] == ("set_duration", 10.0)
    else:  # or the controller still treats t=15 as the transition and commits at the next decision
        assert ctrl.current == 0


def test_duration_mode_masked_duration_becomes_the_nearest_allowed() -> None:
    ctrl = _duration_ctrl()
    ctrl.reset(0.0)
    # 12 s into the green: 10 s is no longer possible, 20 s is the nearest allowed; 50 s > max green.
    assert _commit(ctrl.apply(1, now=12.0)) == (8.0, 2)
    ctrl.reset(0.0)
    assert ctrl.apply(4, now=0.0)[1] == 3  # 50 -> 30 (max green 40)
    ctrl.reset(0.0)
    with pytest.raises(InvalidActionError):
        ctrl.apply(4, now=0.0, strict=True)
    with pytest.raises(InvalidActionError):
        ctrl.apply(5, now=0.0)


def test_duration_mode_without_any_duration_in_range_still_allows_one_action() -> None:
    ctrl = _duration_ctrl(green_durations=(5.0, 8.0), min_green=10.0, max_green=40.0)
    ctrl.reset(0.0)
    assert ctrl.mask(0.0).tolist() == [False, True]


# ----------------------------------------------------------------------------- max_red (starvation guard)
def test_max_red_makes_a_waiting_phase_due_and_the_only_choice() -> None:
    ctrl = _phase_ctrl(max_red=40.0)  # min green 10, max green 30, 3 greens padded to 4
    ctrl.reset(0.0)
    calls = np.array([False, False, True])
    for now in (0.0, 5.0, 10.0, 15.0, 20.0):  # green 2 has halting vehicles from t=0 ...
        ctrl.observe_calls(now, calls)
        ctrl.apply(0, now)  # ... while the agent keeps green 0
    ctrl.apply(1, now=25.0)  # green 1 from t=29 (4 s yellow): green 2 still waits
    for now in (30.0, 35.0):
        ctrl.observe_calls(now, calls)
        assert ctrl.mask(now).tolist() == [False, True, False, False]  # min green of green 1
    ctrl.observe_calls(40.0, calls)
    assert ctrl.due(40.0).tolist() == [False, False, True]
    assert ctrl.mask(40.0).tolist() == [False, False, True, False]  # min green done: only green 2
    assert ctrl.apply(0, now=40.0)[1] == 2  # the agent's pick is overridden by the due phase
    ctrl.observe_calls(45.0, calls)
    assert not ctrl.due(45.0).any()  # served: its clock is cleared


def test_a_due_green_is_held_until_its_queue_clears() -> None:
    ctrl = _phase_ctrl(max_red=20.0)  # min green 10, max green 30; 4-s yellow before green 1
    ctrl.reset(0.0)
    ctrl.observe_calls(0.0, np.array([True, True, False]))
    ctrl.observe_calls(20.0, np.array([True, True, False]))
    assert ctrl.apply(2, now=20.0)[1] == 1  # green 1 is due: the agent's pick is overridden
    for now in (24.0, 34.0, 44.0):  # min green is over at 34, but its queue has not cleared
        ctrl.observe_calls(now, np.array([False, True, False]))
        assert ctrl.mask(now).tolist() == [False, True, False, False]
    ctrl.observe_calls(46.0, np.array([False, False, False]))  # queue gone: free choice again
    assert ctrl.mask(46.0).tolist() == [True, True, True, False]
    ctrl.apply(0, now=46.0)  # an ordinary switch (not due) is not held
    ctrl.observe_calls(60.0, np.array([True, True, False]))
    assert ctrl.mask(60.0).tolist() == [True, True, True, False]


def test_a_due_green_is_released_at_max_green() -> None:
    ctrl = _phase_ctrl(max_red=20.0)
    ctrl.reset(0.0)
    ctrl.observe_calls(0.0, np.array([True, True, False]))
    ctrl.apply(1, now=20.0)  # due; green 1 from t=24
    ctrl.observe_calls(53.0, np.array([True, True, False]))
    assert ctrl.mask(53.0).tolist() == [False, True, False, False]
    ctrl.observe_calls(54.0, np.array([True, True, False]))
    assert ctrl.mask(54.0).tolist() == [True, False, True, False]  # 30 s max green


def test_max_red_clock_restarts_when_the_call_goes_away() -> None:
    ctrl = _phase_ctrl(max_red=40.0)
    ctrl.reset(0.0)
    ctrl.observe_calls(0.0, np.array([False, True, False]))
    ctrl.observe_calls(20.0, np.array([False, False, False]))  # e.g. the vehicle turned right on red
    ctrl.observe_calls(25.0, np.array([False, True, False]))
    assert not ctrl.due(60.0).any() and ctrl.due(65.0).tolist() == [False, True, False]
    assert ctrl.mask(64.0).tolist() == [False, True, True, False]  # max green: any other green


def test_without_max_red_a_phase_can_wait_forever() -> None:
    ctrl = _phase_ctrl()
    ctrl.reset(0.0)
    ctrl.observe_calls(0.0, np.array([False, False, True]))
    assert not ctrl.due(1e4).any()
    assert ctrl.mask(20.0).tolist() == [True, True, True, False]


def test_max_red_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_red"):
        SignalTiming(max_red=0.0)
