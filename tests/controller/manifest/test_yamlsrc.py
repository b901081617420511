"""The located YAML reader: data as PyYAML's SafeLoader builds it, plus lines, duplicates and
YAML 1.1 coercions, built from libyaml's events without recursion."""
from __future__ import annotations

import pytest
import yaml

from fleetctl.controller.manifest.yamlsrc import MAX_DEPTH, YamlSyntaxError, load_located
from tests.conftest import FIXTURES


@pytest.mark.parametrize("path", sorted((FIXTURES / "manifests").rglob("*.yaml")), ids=lambda p: p.name)
def test_data_equals_safe_load(path):
    text = path.read_text()
    try:
        expected = yaml.safe_load(text)
    except yaml.YAMLError:
        with pytest.raises(YamlSyntaxError):
            load_located(text)
        return
    try:
        got = load_located(text).data
    except YamlSyntaxError as exc:  # PyYAML accepts what the reader refuses on purpose
        assert "nested deeper" in str(exc) or "alias" in str(exc)
        return
    assert got == expected


def test_lines_of_keys_items_and_aliases():
    text = "a:\n  b: &x [1, {c: d}]\n  e:\n    - f\n    - *x\n"
    loc = load_located(text)
    assert loc.data == {"a": {"b": [1, {"c": "d"}], "e": ["f", [1, {"c": "d"}]]}}
    assert loc.line_of(("a", "b", 1, "c")) == 2
    assert loc.line_of(("a", "e", 0)) == 4
    assert loc.line_of(("a", "e", 1)) == 5
    assert loc.line_of(("a", "e", 1, 1, "c")) == 5  # inside an alias: the alias's line


def test_merge_keys_follow_yaml_and_overrides_are_not_duplicates():
    text = "b1: &b1 {x: 1, y: 1}\nb2: &b2 {y: 2, z: 2}\nm:\n  <<: [*b1, *b2]\n  z: 3\n  z: 4\n"
    loc = load_located(text)
    assert loc.data["m"] == {"x": 1, "y": 1, "z": 4}
    without_duplicate = text.replace("  z: 4\n", "")
    assert load_located(without_duplicate).data == yaml.safe_load(without_duplicate)
    assert [(p, line) for p, line in loc.duplicates] == [(("m", "z"), 6)]


@pytest.mark.parametrize("text, message", [
    ("a: &x [*x]\n", "its own ancestor"),
    ("a: *nope\n", "undefined alias"),
    ("a: &x 1\nb: &x 2\n", "duplicate anchor"),
    ("- 1\n---\n- 2\n", "another document"),
    ("a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n", "nested deeper"),
])
def test_refusals_are_one_message_with_a_line(text, message):
    with pytest.raises(YamlSyntaxError) as exc:
        load_located(text)
    assert message in str(exc.value)
    assert exc.value.line is not None


def test_coerced_keys_keep_their_text():
    loc = load_located("env:\n  NO: x\n  v: 0755\n")
    assert loc.data == {"env": {"NO": "x", "v": 493}}
    assert [(p, line) for p, line, _ in loc.coerced] == [(("env", "NO"), 2), (("env", "v"), 3)]
