"""The minReadySeconds window, timed by when tasks were read (pure)."""
from __future__ import annotations

from types import SimpleNamespace

from fleetctl.controller.gate import Stability


def _task(arn: str, last: str = "RUNNING") -> SimpleNamespace:
    return SimpleNamespace(arn=arn, desired_status="RUNNING", last_status=last)


def test_zero_seconds_holds_at_the_first_observation():
    assert Stability(0.0).observe(True, [_task("a")], now=5.0, read_from=4.0) == (True, [])


def test_the_window_runs_from_a_complete_read_to_the_start_of_a_later_one():
    s = Stability(1.0)
    assert s.observe(True, [_task("a")], now=10.5, read_from=10.0) == (False, [])  # seen at 10.5 at the latest
    assert s.observe(True, [_task("a")], now=11.7, read_from=11.4) == (False, [])  # 0.9 s seen: not yet
    assert s.observe(True, [_task("a")], now=11.9, read_from=11.5) == (True, [])


def test_a_task_gone_within_the_window_breaks_it_and_not_done_resets_it():
    s = Stability(30.0)
    s.observe(True, [_task("a"), _task("b")], now=1.0)
    assert s.observe(True, [_task("a"), _task("b", "STOPPED")], now=2.0) == (False, ["b"])
    s = Stability(30.0)
    s.observe(True, [_task("a")], now=1.0)
    assert s.observe(False, [_task("a")], now=2.0) == (False, []) and s.since is None
