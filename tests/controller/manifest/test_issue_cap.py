"""A manifest with very many issues: every issue is kept, the message lists a screenful."""
from __future__ import annotations

import yaml

from fleetctl.controller.errors import ManifestError
from fleetctl.controller.manifest import parse_manifest
from tests.conftest import FIXTURES


def test_message_lists_at_most_fifty_issues_and_counts_the_rest():
    doc = yaml.safe_load((FIXTURES / "manifests" / "small.yaml").read_text())
    doc["spec"]["services"] *= 40  # over a hundred duplicate names and overlapping subjects
    try:
        parse_manifest(yaml.safe_dump(doc), source="m.yaml", env={})
    except ManifestError as exc:
        lines = str(exc).splitlines()
        assert len(exc.issues) > ManifestError.SHOWN
        assert len(lines) == ManifestError.SHOWN + 1
        assert lines[-1] == f"... and {len(exc.issues) - ManifestError.SHOWN} more issue(s)"
        assert lines[0] == str(exc.issues[0]) and "duplicate service name" in lines[0]
    else:
        raise AssertionError("accepted")


def test_an_issue_quoting_a_huge_value_is_cut_to_one_readable_line():
    doc = yaml.safe_load((FIXTURES / "manifests" / "small.yaml").read_text())
    doc["spec"]["services"][0]["image"] = "bad image " * 5000
    try:
        parse_manifest(yaml.safe_dump(doc), source="m.yaml", env={})
    except ManifestError as exc:
        [line] = [x for x in str(exc).splitlines() if "image" in x]
        assert len(line) < ManifestError.WIDTH + 40 and line.endswith(f"({len(str(exc.issues[0]))} characters)")
        assert line.startswith("m.yaml:") and "spec.services[0].image" in line
    else:
        raise AssertionError("accepted")
