"""The line reader for plain block-style YAML: whatever it returns, libyaml's reader returns too
(data with its types, duplicate keys, coerced scalars, with paths and lines); anything else it
declines (None) and libyaml reads."""
from __future__ import annotations

import random

import pytest

from bench import fleetgen
from fleetctl.controller.manifest.blockyaml import read_block
from fleetctl.controller.manifest.interpolate import Interpolator
from fleetctl.controller.manifest.yamlsrc import YamlSyntaxError, load_located
from tests.conftest import FIXTURES, REPO

CORPUS = {p.name: p.read_text() for p in [*sorted((FIXTURES / "manifests").rglob("*.yaml")),
                                           *sorted((REPO / "manifests").glob("*.yaml"))]}
CORPUS["generated-12.yaml"] = fleetgen.manifest(12)


def same_as_libyaml(text: str) -> bool:
    """True when the line reader read `text`; fails if what it read differs from libyaml's."""
    fast = read_block(text)
    if fast is None:
        return False
    try:
        slow = load_located(text, lines=False)
    except YamlSyntaxError as exc:
        pytest.fail(f"read, but libyaml refuses it ({exc}):\n{text}")
    # repr tells True from 1 and 1.0 from 1, and shows the order of keys
    assert repr((fast.data, fast.duplicates, fast.coerced)) == repr((slow.data, slow.duplicates, slow.coerced)), text
    assert fast.line_of(("spec",)) == slow.line_of(("spec",))
    # references resolved where the reader saw them = the whole tree walked
    walked: list = []
    expected = Interpolator(env={"SET": "v"}, keep_unresolved_tf=True).walk(slow.data, (), walked)
    resolved: list = []
    Interpolator(env={"SET": "v"}, keep_unresolved_tf=True).resolve_at(fast.references.values(), resolved)
    assert repr(fast.data) == repr(expected), text
    assert sorted(resolved) == sorted(walked), text
    return True


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_manifest_is_read_as_libyaml_reads_it(name):
    same_as_libyaml(CORPUS[name])


def test_the_usual_manifests_take_the_fast_path():
    for name in ("generated-12.yaml", "local.yaml", "small.yaml", "duplicate-key.yaml", "yaml11-coercion.yaml"):
        assert same_as_libyaml(CORPUS[name]), name


ACCEPTED = [
    "a:\n- x\n- y\nb: 1\n", "a:\n  - x\n  -  y\n", "a: {x: 1, x: 2}\n", "a: 1\na: 2\n", "a: b #c\n", "a: b#c\n",
    "a:  # c\n  b: 1\n", "a: yes\nb: 0755\nc: 1.10\nd: 12:30\ne: 1e3\nf: 1.0\ng: 190:20:30.15\n", "y: 1\nn: 2\n",
    "a: [-1, +2, 0o7, 0x1f, 1_0, 0b11, 017, .inf, ~]\n", "a: [nats://h:4222, a:b]\n", "a:\n  b:\n    c:\n  d: 1\n",
    "a:\n  - b: 1\n    c:\n      - x\n    d: 2\n", 'a: "b"  # c\n', "a: {}\nb: []\nc: [ ]\nd: { }\n", "a: é\nb: \"é\"\n",
    "a: [\"x, y\", 'z]', w]\n", "a: {k: \"v, w\", l: 'm}'}\n", "a: [a b, c  d ]\n", "a: True\nb: FALSE\nc: Off\nd: oN\n",
    "a:\n  b: 1\n  b:\n    c: 2\n", "s:\n  - n: x\n    e: {A: \"1\"}\n    d: [a, b]\n  - n: y\n", "a: ~\nb: null\nc:\n",
    "# c\n  # c2\na:\n# c3\n    b: 1\n  # c4\n", "a: b", "k: [1:2, 0:30]\n", "fleetctl.io/x: y\n",
    "a: ${SET}\nb: [x$, \"${tf:x}\"]\nc: {k: \"$${SET}\"}\nd:\n  - ${UNSET}\n  - '$$'\n  - {e: \"${SET}-${tf:y}\"}\n",
    "a: ${SET}\na: $$\nb:\n  c: ${SET}\nb: ${SET}\n",
]
DECLINED = [
    "a: b\n  c\n", "- a\n", "a: 'it''s'\n", 'a: "x\\"y"\n', "a: [a, b, ]\n", "a: 2024-01-01\n", "on: 1\n", "a: -1\n",
    "a: [a:, b]\n", "x:\n- a: 1\n   b: 2\n", "a: 'b'x\n", "a: b: c\n", '"a": 1\n', "a: [x]  junk\n", "a: |\n  x\n",
    ("k" * 1100) + ": v\n", "a: {x: [1]}\n", "a: x\n b: y\n", "a b: c\n", "a:\n  -\n    b\n", "a:\n  - - x\n", "<<: {a: 1}\n",
    "a: !x y\n", "a: &x y\nb: *x\n", "a: x\n---\nb: y\n", "%YAML 1.1\n---\na: 1\n", "a: 'x\n  y'\n", "a: [x,\n  y]\n",
    "a:\n\tb: 1\n", "a: b\r\nc: d\r\n", "\ufeffa: b\n", "a: b\u2028c\n", "", "# only a comment\n", "a: =\n", "a: <<\n",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_read(text):
    assert same_as_libyaml(text)


@pytest.mark.parametrize("text", DECLINED)
def test_declined(text):
    assert read_block(text) is None


PIECES = [" ", "  ", "-", "- ", ":", ": ", "#", " #", "'", '"', "[", "]", "{", "}", ",", "\n", "\n  ", "\n- ", "on",
          "NO", "0755", "1.10", "12:30", "~", "&a", "*a", "!!str", "<<", "|", ">", "\\", "x", "-1", "2024-01-01", "?",
          "%", "@", "\t", "é", "—", "\u2028", "...", "---", "a: b", "k:", ".inf", "0x1F", "=", "\r", "a:b", ":,",
          "$", "$$", "${SET}", "${UNSET}", "${tf:x}", "$${SET}"]


def _mutant(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        i, op = rng.randrange(len(lines)), rng.random()
        line = lines[i]
        j = rng.randint(0, len(line))
        if op < 0.4:
            lines[i] = line[:j] + rng.choice(PIECES) + line[j:]
        elif op < 0.55:
            lines[i] = line[:j] + line[rng.randint(j, min(len(line), j + 4)):]
        elif op < 0.7:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op < 0.8:
            del lines[i]
        else:
            lines[i] = rng.choice([" ", "  ", ""]) + (line[rng.randint(0, 2):] if line.startswith("  ") else line)
    return "\n".join(lines)


def test_mutated_manifests_are_read_as_libyaml_reads_them_or_declined():
    rng = random.Random(19)
    sources = [CORPUS["small.yaml"], CORPUS["local.yaml"], CORPUS["generated-12.yaml"], CORPUS["yaml11-coercion.yaml"]]
    read = sum(same_as_libyaml(_mutant(rng, rng.choice(sources))) for _ in range(400))
    assert read > 50  # the fast path was exercised, not only declined


def test_the_size_limit_counts_values_as_libyaml_s_reader_does(monkeypatch):
    from fleetctl.controller.manifest import blockyaml, yamlsrc

    text = CORPUS["small.yaml"]
    outcomes = set()
    for limit in range(20, 400, 3):
        monkeypatch.setattr(yamlsrc, "MAX_NODES", limit)
        monkeypatch.setattr(blockyaml, "MAX_NODES", limit)
        try:
            load_located(text, lines=False)
            refused = False
        except YamlSyntaxError:
            refused = True
        assert (read_block(text) is None) == refused, limit
        outcomes.add(refused)
    assert outcomes == {True, False}
