"""Durations as every option takes them: compound forms, and errors that name the option."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from fleetctl.cli.durations import DurationError, format_duration, parse_duration
from tests.conftest import run_cli


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), ("1.5h", 5400),
    ("250ms", 0.25), ("1h1m1s", 3661), ("30", 30), ("0", 0), (" 5m ", 300), ("2D", 172800), ("1m30s500ms", 90.5),
])
def test_compound_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "m", "1x", "10 minutes", "1:30", "-5s", "1m1h", "1s1s", "1h 30m", "5mm", "1.2.3s"])
def test_refused(text):
    with pytest.raises(DurationError):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=10 * 86400))
def test_format_round_trips(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


def test_cli_names_the_option_and_exits_2():
    out = run_cli("diagnose", "--tasks-file", "tests/fixtures/none.json", "--since", "1 hour")
    assert out.code == 2
    assert "'--since'" in out.stderr and "1h30m" in out.stderr
    assert "Traceback" not in out.stderr
    out = run_cli("apply", "manifests/local.yaml", "--timeout", "10x")
    assert out.code == 2 and "'--timeout'" in out.stderr
