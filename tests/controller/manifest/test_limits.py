"""Input limits are checked before parsing: size first, then nesting depth; never a traceback."""
from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from fleetctl.controller.errors import ManifestError
from fleetctl.controller.manifest import load_manifest, parse_manifest
from fleetctl.controller.manifest.load import MAX_BYTES
from fleetctl.controller.manifest.yamlsrc import MAX_DEPTH
from fleetctl.controller.operator import Operator
from tests.conftest import FIXTURES, run_cli

SMALL = (FIXTURES / "manifests" / "small.yaml").read_text()
DEEP = "a: " + "[" * 400 + "]" * 400 + "\n"


def _one_issue(text: str) -> str:
    try:
        parse_manifest(text, source="m.yaml", env={})
    except ManifestError as exc:
        assert len(exc.issues) == 1
        return str(exc.issues[0])
    raise AssertionError("accepted")


def test_deep_nesting_is_one_line_naming_file_and_line():
    line = _one_issue("apiVersion: fleetctl/v1\n" + DEEP)
    assert line == f"m.yaml:2: invalid YAML: nested deeper than {MAX_DEPTH} levels"
    block = "".join("  " * i + "- \n" for i in range(300))
    assert "nested deeper than" in _one_issue(block)
    mapping = "".join("  " * i + f"k{i}:\n" for i in range(300))
    assert "nested deeper than" in _one_issue(mapping)


def test_aliases_cannot_build_depth_the_anchors_did_not_have():
    depth = MAX_DEPTH // 2
    doc = [f"a0: &a0 {'[' * depth}x{']' * depth}"]
    for i in range(1, 40):
        doc.append(f"a{i}: &a{i} {'[' * depth}*a{i - 1}{']' * depth}")
    assert "nested deeper than" in _one_issue("\n".join(doc) + "\n")


def test_the_size_is_checked_before_the_file_is_read(tmp_path: Path):
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:  # 50 MB, sparse: costs nothing to create
        f.truncate(50 * 1024 * 1024)
    started = time.monotonic()
    try:
        load_manifest(big)
    except ManifestError as exc:
        assert "larger than 5 MiB" in str(exc)
    else:
        raise AssertionError("accepted")
    assert time.monotonic() - started < 2  # parsing 50 MB takes ~45 s


def test_cli_validate_and_plan_refuse_deep_and_huge_files_in_one_line(tmp_path: Path):
    deep = tmp_path / "deep.yaml"
    deep.write_text(DEEP)
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    for verb in ("validate", "plan"):
        for path in (deep, big):
            result = run_cli(verb, str(path))
            assert result.code == 2, (verb, path, result.stderr)
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
            assert str(path) in result.stderr and "Traceback" not in result.stderr


async def test_operator_keeps_its_last_good_spec_on_a_deep_or_huge_edit(tmp_path: Path, caplog):
    outputs = tmp_path / "small-outputs.json"
    outputs.write_text((FIXTURES / "manifests" / "small-outputs.json").read_text())
    manifest = tmp_path / "m.yaml"
    manifest.write_text(SMALL)
    op = Operator(manifest)
    try:
        assert await op.refresh_spec()
        good = op.loaded
        manifest.write_text("apiVersion: fleetctl/v1\n" + DEEP)
        assert not await op.refresh_spec()
        assert op.loaded is good and op.stats.manifest_rejected == 1 and not op.synced.status
        assert "nested deeper than" in caplog.text
        with manifest.open("r+b") as f:
            f.truncate(MAX_BYTES + 1)
        assert not await op.refresh_spec()
        assert op.loaded is good and not op.synced.status
        assert "larger than 5 MiB" in caplog.text
        manifest.write_text(SMALL.replace("desiredCount: 2", "desiredCount: 3"))
        assert await op.refresh_spec()
        assert op.loaded.fleet.service("quest").desired_count == 3 and op.synced.status
    finally:
        await op._spec.aclose()


nested = st.recursive(
    st.one_of(st.just("x"), st.integers(), st.just("${tf:a}")),
    lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=2),
                            st.dictionaries(st.sampled_from(["a", "spec", "services"]), inner, min_size=1, max_size=2)),
    max_leaves=400,
)


def _flow(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return str(value) if not isinstance(value, str) or value == "x" else f'"{value}"'


@st.composite
def hostile(draw) -> str:
    kind = draw(st.sampled_from(["brackets", "braces", "block", "flow", "long"]))
    n = draw(st.integers(1, 3000))
    if kind == "brackets":
        return "spec: " + "[" * n + "]" * draw(st.integers(0, n))
    if kind == "braces":
        return "spec: " + "{a: " * n + "1" + "}" * draw(st.integers(0, n))
    if kind == "block":
        return "".join("  " * i + draw(st.sampled_from(["- ", "k: ", "- k: "])) + "\n" for i in range(n % 400))
    if kind == "flow":
        return "spec: " + _flow(draw(nested))
    return "spec: {target: {region: " + "x" * (n * 1000) + "}}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example])
@given(hostile())
def test_hostile_inputs_never_produce_a_traceback(text):
    try:
        parse_manifest(text, source="m.yaml", env={})
    except ManifestError as exc:
        for issue in exc.issues:
            assert "\n" not in str(issue) and str(issue).startswith("m.yaml")
