"""Every broken manifest fixture exits 2 with one line naming the offending path."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, run_cli

BROKEN = sorted((FIXTURES / "manifests" / "broken").glob("*.yaml"))


def _expectations(path: Path) -> tuple[str, str]:
    text = path.read_text()
    return (re.search(r"^# expect-path: ?(.*)$", text, re.M).group(1).strip(),
            re.search(r"^# expect-message: (.*)$", text, re.M).group(1).strip())


def test_there_is_a_fixture_per_rule():
    assert len(BROKEN) >= 15


def test_the_base_of_the_fixtures_is_valid():
    result = run_cli("validate", str(FIXTURES / "manifests" / "small.yaml"))
    assert result.code == 0, result.stderr
    assert "valid (fleet small, 3 services)" in result.stdout


@pytest.mark.parametrize("fixture", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_manifest_exits_2_naming_the_path(fixture: Path):
    expected_path, expected_message = _expectations(fixture)
    rel = str(fixture.relative_to(REPO))
    result = run_cli("validate", rel)
    assert result.code == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), result.stderr
    assert "Traceback" not in result.stderr
    matching = [line for line in lines if expected_message in line]
    assert matching, f"no line mentions {expected_message!r}:\n{result.stderr}"
    line = matching[0]
    assert line.startswith(f"error: {rel}"), line
    if expected_path:
        assert f": {expected_path}: " in line, line
        assert re.match(rf"error: {re.escape(rel)}:\d+: ", line), "line number missing: " + line


def test_broken_manifest_json_output_lists_errors():
    result = run_cli("validate", "tests/fixtures/manifests/broken/depends-unknown.yaml", "-o", "json")
    assert result.code == 2
    import json

    body = json.loads(result.stdout)
    assert body["valid"] is False
    assert body["errors"][0]["path"] == "spec.services[1].dependsOn[0]"
    assert body["errors"][0]["line"] == 34


@pytest.mark.parametrize("kind", ["missing", "directory", "binary", "latin1"])
def test_unreadable_inputs_exit_2_with_one_line(tmp_path: Path, kind: str):
    target = tmp_path / "fleet.yaml"
    expected = {"missing": "no such file", "directory": "is a directory", "binary": "binary file",
                "latin1": "not UTF-8"}[kind]
    if kind == "directory":
        target.mkdir()
    elif kind == "binary":
        target.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)))
    elif kind == "latin1":
        target.write_bytes("apiVersion: fleetctl/v1\nkind: Fleet # caf\xe9\n".encode("latin-1"))
    result = run_cli("validate", str(target))
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr


def test_secret_values_never_appear_in_errors():
    result = run_cli("validate", "tests/fixtures/manifests/broken/secret-literal-env.yaml")
    assert "hunter2" not in result.stderr + result.stdout
    result = run_cli("validate", "tests/fixtures/manifests/broken/secret-not-arn.yaml")
    assert "s3cr3t-value" not in result.stderr + result.stdout
    result = run_cli("validate", "tests/fixtures/manifests/broken/tf-output-sensitive.yaml")
    assert "not-for-printing" not in result.stderr + result.stdout


def test_yaml11_coercions_are_refused_each_with_its_line_and_path():
    rel = "tests/fixtures/manifests/broken/yaml11-coercion.yaml"
    result = run_cli("validate", rel)
    assert result.code == 2
    text = (REPO / rel).read_text().splitlines()
    for key, shown in (("COUNTRY", "false"), ("UMASK", "493"), ("RELEASE", "1.1")):
        line = next(i for i, t in enumerate(text, 1) if t.strip().startswith(f"{key}:"))
        assert any(f"{rel}:{line}: spec.services[0].environment.{key}: " in e and f"or write {shown}" in e
                   for e in result.stderr.splitlines()), (key, result.stderr)
    quoted = (REPO / rel).read_text().replace("NO\n", '"NO"\n').replace("0755", "'0755'").replace("1.10", '"1.10"')
    fixed = REPO / "tests" / "fixtures" / "manifests" / "yaml11-quoted.tmp.yaml"
    try:
        fixed.write_text(quoted)
        ok = run_cli("render", str(fixed.relative_to(REPO)), "-o", "json")
    finally:
        fixed.unlink()
    assert ok.code == 0, ok.stderr
    env = {e["name"]: e["value"] for e in __import__("json").loads(ok.stdout)[0]["registerTaskDefinition"]
           ["containerDefinitions"][0]["environment"]}
    assert (env["COUNTRY"], env["UMASK"], env["RELEASE"]) == ("NO", "0755", "1.10")
