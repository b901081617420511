"""Random mutations of the prod manifest never make validate crash: ok or ManifestError only."""
from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from fleetctl.controller.errors import ManifestError
from fleetctl.controller.manifest import parse_manifest
from tests.conftest import PROD_TF_OUTPUTS, REPO

PROD = yaml.safe_load((REPO / "manifests" / "prod.yaml").read_text())

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.text(max_size=30), st.sampled_from(["${tf:nope}", "${UNSET_VAR_XYZ}", "${", "nats://", "sha256:", "*", ">", "a.>.b"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=10), inner, max_size=3)),
                      max_leaves=6)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


ALL_PATHS = [p for p in _paths(PROD) if p]


@st.composite
def mutated(draw) -> str:
    doc = copy.deepcopy(PROD)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            key = path[-1]
            action = draw(st.sampled_from(["replace", "delete", "add", "dup"]))
            if action == "replace":
                parent[key] = draw(values)
            elif action == "delete":
                del parent[key]
            elif action == "add" and isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
            elif action == "dup" and isinstance(parent, list):
                parent.append(copy.deepcopy(parent[key]))
        except (KeyError, IndexError, TypeError):
            continue
    text = yaml.safe_dump(doc, sort_keys=False)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from(["", ":", "\t", "- [", "{", "\x00", "&a *a", " !!int x", " !!timestamp 2020-99", " !!binary %%", "\n? [a]\n: 1\n"])) + text[cut:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.booleans())
def test_validate_never_crashes(text, with_outputs):
    try:
        loaded = parse_manifest(text, source="prod.yaml", base_dir=REPO / "manifests",
                                tf_outputs=PROD_TF_OUTPUTS if with_outputs else None,
                                require_tf_outputs=with_outputs)
    except ManifestError as exc:
        assert exc.issues
        for issue in exc.issues:
            line = str(issue)
            assert "\n" not in line and line.startswith("prod.yaml")
    else:
        assert loaded.fleet.spec.services
