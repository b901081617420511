"""Every fixture under tests/fixtures/diagnose is classified as its expected.json says."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetctl.controller.diagnose import CATEGORIES
from fleetctl.controller.diagnose.offline import diagnose_files
from tests.conftest import FIXTURES

CASES = sorted(p for p in (FIXTURES / "diagnose").iterdir() if (p / "expected.json").is_file())


def test_every_category_has_a_fixture() -> None:
    covered = {json.loads((c / "expected.json").read_text())["category"] for c in CASES}
    assert covered == set(CATEGORIES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fixture_is_classified(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text())
    log = case / "log.txt"
    findings, _notes = diagnose_files(case / "tasks.json", log if log.exists() else None)
    assert len(findings) == 1, [f.as_dict() for f in findings]
    finding = findings[0]
    assert (finding.category, finding.rule) == (expected["category"], expected["rule"]), finding.as_dict()
    assert 1 <= len(finding.evidence) <= 3
    assert any(expected["evidence"] in line for line in finding.evidence), finding.evidence
    assert finding.hint and "{" not in finding.hint and "{" not in finding.summary
