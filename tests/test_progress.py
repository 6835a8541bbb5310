"""What ``train.py`` shows a person: stage lines, and a bar whose ETA follows the binding budget."""

from __future__ import annotations

import pytest

from agents.progress import Progress


def test_a_wall_clock_budget_that_binds_sets_the_share_and_the_time_left() -> None:
    # 20-min run, 2M agent-steps, 10 min in, training since minute 5 at 1,000 steps/s: the steps
    # would take ~28 more minutes, the clock ends in 10, so the bar is at 50 % with 10 min left.
    p = Progress(False, 2_000_000, deadline=1200.0, started=0.0)
    p._steps0, p._t0 = 0, 300.0
    frac, left, binding = p.eta(300_000, now=600.0)
    assert binding == "time" and frac == pytest.approx(0.5) and left == pytest.approx(600.0)


def test_a_step_budget_that_binds_sets_the_share_and_the_time_left() -> None:
    # The same run at 10,000 steps/s: 1.7M steps left take 170 s, before the clock's 600 s.
    p = Progress(False, 2_000_000, deadline=1200.0, started=0.0)
    p._steps0, p._t0 = 0, 570.0
    frac, left, binding = p.eta(300_000, now=600.0)
    assert binding == "steps" and frac == pytest.approx(0.15) and left == pytest.approx(170.0)


def test_without_a_deadline_the_steps_set_the_eta() -> None:
    p = Progress(False, 1000, deadline=None, started=0.0)
    p._steps0, p._t0 = 0, 0.0
    assert p.eta(250, now=10.0) == (0.25, pytest.approx(30.0), "steps")


def test_stage_lines_say_when_and_what(capsys: pytest.CaptureFixture[str]) -> None:
    Progress(True, 10, None, started=0.0).stage("warm start 1/3: teacher")
    assert "warm start 1/3: teacher" in capsys.readouterr().err
    Progress(False, 10, None).stage("hidden")
    assert capsys.readouterr().err == ""
