"""SumoConnection: backends, several simulations per process, failures and process hygiene.

Every test checks the SUMO child processes of this Python process with psutil, so a leak fails the
test that caused it rather than a later one.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil
import pytest
from leaks import no_sumo_leak
from leaks import sumo_processes as sumo_children

from core.errors import ConfigError, SimulationError, TSCError
from envs.connection import SumoConnection, libsumo_in_use


@pytest.fixture(autouse=True)
def no_leak():
    with no_sumo_leak():
        yield


def gone(pid: int) -> bool:
    """The process has exited and was reaped (or is at least a zombie nobody will reuse)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_libsumo_is_the_default_backend(single_scenario) -> None:
    with SumoConnection(single_scenario) as conn:
        assert conn.backend == "libsumo" and conn.pid is None
        assert libsumo_in_use()
        assert not sumo_children()  # in-process: no child
        conn.simulation_step(10.0)
        assert conn.time() == 10.0
        assert conn.sim_step_seconds > 0.0
    assert not libsumo_in_use()


def test_traci_backend_runs_a_child_process(single_scenario) -> None:
    with SumoConnection(single_scenario, backend="traci") as conn:
        assert conn.backend == "traci"
        assert [p.pid for p in sumo_children()] == [conn.pid]
        conn.simulation_step(10.0)
        assert conn.time() == 10.0
        assert conn.traffic_light_ids()
        pid = conn.pid
    assert gone(pid)


def test_two_traci_simulations_and_libsumo_in_one_process(single_scenario, core_scenario) -> None:
    a = SumoConnection(single_scenario, backend="traci")
    b = SumoConnection(core_scenario, backend="traci")
    c = SumoConnection(core_scenario, backend="libsumo")
    try:
        assert a.pid != b.pid and len(sumo_children()) == 2
        a.simulation_step(7.0)
        b.simulation_step(3.0)
        c.simulation_step(5.0)
        assert (a.time(), b.time(), c.time()) == (7.0, 3.0, 5.0)
        assert set(a.traffic_light_ids()) != set(b.traffic_light_ids())
        assert b.traffic_light_ids() == c.traffic_light_ids()
    finally:
        for conn in (a, b, c):
            conn.close()


def test_auto_falls_back_to_traci_while_libsumo_is_busy(single_scenario) -> None:
    first = SumoConnection(single_scenario, backend="auto")
    try:
        assert first.backend == "libsumo"
        with SumoConnection(single_scenario, backend="auto") as second:
            assert second.backend == "traci" and second.pid is not None
            second.simulation_step(5.0)
            assert second.time() == 5.0
    finally:
        first.close()
    with SumoConnection(single_scenario, backend="auto") as third:
        assert third.backend == "libsumo"  # libsumo is free again


def test_explicit_libsumo_while_busy_is_a_simulation_error(single_scenario) -> None:
    with SumoConnection(single_scenario, backend="libsumo") as first:
        with pytest.raises(SimulationError, match="one simulation per process.*traci"):
            SumoConnection(single_scenario, backend="libsumo")
        first.simulation_step(3.0)  # the running one is untouched
        assert first.time() == 3.0


def test_unknown_backend_is_a_config_error(single_scenario) -> None:
    with pytest.raises(ConfigError, match="backend='sumo'"):
        SumoConnection(single_scenario, backend="sumo")  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["libsumo", "traci"])
def test_close_is_idempotent_and_calls_after_close_fail_cleanly(single_scenario, backend) -> None:
    conn = SumoConnection(single_scenario, backend=backend)
    conn.close()
    conn.close()
    assert conn.closed
    with pytest.raises(SimulationError, match="closed"):
        conn.simulation_step(5.0)
    with pytest.raises(SimulationError, match="closed"):
        conn.time()


def test_no_process_leaked_after_an_exception(single_scenario) -> None:
    pid = None
    with pytest.raises(RuntimeError):
        with SumoConnection(single_scenario, backend="traci") as conn:
            pid = conn.pid
            raise RuntimeError("user code failed")
    assert pid is not None and gone(pid)


@pytest.mark.parametrize("backend", ["libsumo", "traci"])
def test_no_process_leaked_after_garbage_collection(single_scenario, backend) -> None:
    conn = SumoConnection(single_scenario, backend=backend)
    conn.simulation_step(2.0)
    pid = conn.pid
    del conn
    gc.collect()
    if pid is not None:
        assert gone(pid)
    assert not libsumo_in_use()
    with SumoConnection(single_scenario, backend=backend) as again:  # the backend is usable again
        again.simulation_step(1.0)


def test_killed_sumo_child_raises_simulation_error_not_a_hang(single_scenario) -> None:
    conn = SumoConnection(single_scenario, backend="traci")
    conn.simulation_step(2.0)
    os.kill(conn.pid, signal.SIGKILL)
    # Let the kernel finish the kill (zombie, not reaped) so the error can say what happened.
    psutil.wait_procs([psutil.Process(conn.pid)], timeout=5, callback=None)
    t0 = time.perf_counter()
    with pytest.raises(SimulationError, match="died"):
        conn.simulation_step(10.0)
    assert time.perf_counter() - t0 < 10.0
    assert conn.closed
    conn.close()  # still idempotent


def _broken(tmp_path: Path, scenario, text: str):
    net = tmp_path / "broken.net.xml"
    net.write_text(text)
    return replace(scenario, name="broken", net_file=net)


MALFORMED = {"truncated": "<net><edge id='e'", "not-xml": "this is not xml", "empty": ""}

# libsumo runs SUMO inside this process: a SUMO crash on a bad file would kill the whole test
# session, so the libsumo case runs in a child interpreter and a crash fails only this test.
_LIBSUMO_PROBE = """
import sys
from pathlib import Path
from scenarios.scenario import Scenario
from envs.connection import SumoConnection, libsumo_in_use
from core.errors import SimulationError
bad = Scenario("broken", Path(sys.argv[1]), (), end=10)
try:
    SumoConnection(bad, backend="libsumo")
except SimulationError as exc:
    print("RAISED:", exc)
else:
    print("NO ERROR")
assert not libsumo_in_use()
good = Scenario("good", Path(sys.argv[2]), (), end=10)
with SumoConnection(good, backend="libsumo") as ok:  # a failed start leaves libsumo usable
    ok.simulation_step(1.0)
print("REUSED OK")
"""


@pytest.mark.parametrize("content", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_net_file_libsumo_is_a_project_error_naming_the_file(
    tmp_path, single_scenario, content
) -> None:
    bad = _broken(tmp_path, single_scenario, content)
    proc = subprocess.run(
        [sys.executable, "-c", _LIBSUMO_PROBE, str(bad.net_file), str(single_scenario.net_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"libsumo probe crashed (rc={proc.returncode}): {proc.stderr[-500:]}"
    assert "RAISED:" in proc.stdout and "broken.net.xml" in proc.stdout, proc.stdout
    assert "REUSED OK" in proc.stdout


@pytest.mark.parametrize("content", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_net_file_traci_is_a_project_error_at_start(tmp_path, single_scenario, content) -> None:
    bad = _broken(tmp_path, single_scenario, content)
    t0 = time.perf_counter()
    conn = None
    try:
        with pytest.raises(SimulationError, match="broken.net.xml") as err:
            conn = SumoConnection(bad, backend="traci")
    finally:
        if conn is not None:
            conn.close()
    assert isinstance(err.value, TSCError)
    assert time.perf_counter() - t0 < 30.0


def test_missing_net_file_is_a_project_error(tmp_path, single_scenario) -> None:
    bad = replace(single_scenario, name="missing", net_file=tmp_path / "nowhere.net.xml")
    with pytest.raises(TSCError, match="nowhere.net.xml"):
        SumoConnection(bad, backend="libsumo")


def test_stats_and_trip_stats_have_the_documented_keys(core_scenario) -> None:
    with SumoConnection(core_scenario) as conn:
        conn.simulation_step(120.0)
        stats = conn.stats()
        assert set(stats) == {"loaded", "inserted", "running", "arrived", "waiting", "teleports"}
        assert stats["inserted"] > 0 and stats["arrived"] == stats["inserted"] - stats["running"]
        assert set(conn.trip_stats()) == {"count", "duration", "time_loss", "waiting_time", "depart_delay"}


@pytest.mark.parametrize("backend", ["libsumo", "traci"])
def test_lane_subscription_returns_all_lanes_in_one_call(core_scenario, backend) -> None:
    with SumoConnection(core_scenario, backend=backend) as conn:
        tls = conn.traffic_light_ids()[0]
        lanes = sorted({link[0] for group in conn.controlled_links(tls) for link in group})
        conn.subscribe_lanes(lanes)
        conn.simulation_step(60.0)
        values = conn.lane_values()
        assert set(values) == set(lanes)
        for count, halting, occupancy, speed, waiting in values.values():
            assert 0 <= halting <= count and 0.0 <= occupancy <= 100.0 and speed >= 0 and waiting >= 0


def test_controlled_junctions_are_the_same_over_traci_as_in_libsumo(core_scenario, mixed_external) -> None:
    """TraCI's client lacks ``getControlledJunctions``: the approach zones (the ``approach`` and
    ``movement`` observations) once failed over TraCI with an AttributeError."""
    for scenario in (core_scenario, mixed_external):
        with SumoConnection(scenario, backend="libsumo") as a, SumoConnection(scenario, backend="traci") as b:
            ids = a.traffic_light_ids()
            assert ids and all(a.controlled_junctions(t) == b.controlled_junctions(t) for t in ids)


def test_reading_only_busy_edges_gives_every_lane_value(core_scenario) -> None:
    """libsumo lanes on edges without vehicles are not read (their values are known: 0, and the
    speed limit as mean speed); the matrix equals reading every lane, step after step."""
    with SumoConnection(core_scenario, backend="libsumo", seed=2) as conn:
        lanes = [
            lane
            for t in conn.traffic_light_ids()
            for group in conn.controlled_links(t)
            for lane in group[0][:2]
            if lane
        ]
        conn.subscribe_lanes(list(dict.fromkeys(lanes)))
        busy_and_idle = set()
        for t in range(30, 301, 30):
            conn.simulation_step(float(t))
            got = conn.lane_matrix()
            full = np.zeros_like(got)
            for j, get in conn._lane_getters:
                full[:, j] = [get(lane) for lane in conn._lanes]
            np.testing.assert_array_equal(got, full)
            busy_and_idle |= {bool(x) for x in got[:, 0] > 0}
        assert busy_and_idle == {True, False}  # both kinds of lanes were seen
