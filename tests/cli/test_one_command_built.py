"""`fleetctl VERB ...` builds the options of that verb only; groups and typos behave as before."""
from __future__ import annotations

from tests.conftest import run_cli


def test_a_named_group_runs_and_helps_as_before() -> None:
    group = run_cli("controller", "--help")
    assert group.code == 0 and "Usage: fleetctl controller" in group.stdout and "run" in group.stdout


def test_a_typo_still_gets_the_whole_application_and_a_suggestion() -> None:
    result = run_cli("validat", "fleet.yaml")
    assert result.code == 2 and "Did you mean 'validate'" in result.stderr
