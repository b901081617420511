from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetctl.controller.errors import ManifestError
from fleetctl.controller.manifest import parse_manifest
from fleetctl.controller.manifest.interpolate import InterpolationError, Interpolator, TerraformOutputs
from tests.conftest import FIXTURES

SMALL = (FIXTURES / "manifests" / "small.yaml").read_text()


def test_env_references_and_defaults():
    i = Interpolator(env={"A": "x", "EMPTY": ""})
    assert i.value("${A}-${B:-dflt}") == "x-dflt"
    assert i.value("${EMPTY:-fallback}") == "fallback"
    assert i.value("${EMPTY}") == ""
    assert i.value("cost $$5") == "cost $5"
    with pytest.raises(InterpolationError, match="environment variable B is not set"):
        i.value("${B}")
    with pytest.raises(InterpolationError, match="malformed reference"):
        i.value("${not valid}")


def test_terraform_values_keep_their_type_when_whole(tmp_path: Path):
    out = tmp_path / "o.json"
    out.write_text(json.dumps({"subnets": {"value": ["subnet-1", "subnet-2"]}, "port": {"value": 4222}}))
    i = Interpolator(env={}, outputs=TerraformOutputs.read(out))
    assert i.value("${tf:subnets}") == ["subnet-1", "subnet-2"]
    assert i.value("${tf:port}") == 4222
    assert i.value("nats://h:${tf:port}") == "nats://h:4222"
    with pytest.raises(InterpolationError, match="cannot be part of a string"):
        i.value("x-${tf:subnets}")


def test_outputs_file_must_be_terraform_shaped(tmp_path: Path):
    bad = tmp_path / "o.json"
    bad.write_text('{"a": 1}')
    with pytest.raises(InterpolationError, match="not `terraform output -json` output"):
        TerraformOutputs.read(bad)


def test_manifest_takes_values_from_environment():
    text = SMALL.replace("cluster: small-cluster", "cluster: ${CLUSTER:-fallback-cluster}")
    assert parse_manifest(text, env={"CLUSTER": "from-env"}).fleet.spec.target.cluster == "from-env"
    assert parse_manifest(text, env={}).fleet.spec.target.cluster == "fallback-cluster"


def test_tf_option_overrides_manifest_and_lists_fill_list_fields(tmp_path: Path):
    out = tmp_path / "o.json"
    out.write_text(json.dumps({"subnets": {"value": ["subnet-9", "subnet-8"]}}))
    text = SMALL.replace("subnets: [subnet-0aaa, subnet-0bbb]", "subnets: ${tf:subnets}")
    fleet = parse_manifest(text, tf_outputs=out).fleet
    assert fleet.spec.defaults.network.subnets == ["subnet-9", "subnet-8"]


def test_unresolved_terraform_references_fail_only_when_required():
    text = SMALL.replace("subnets: [subnet-0aaa, subnet-0bbb]", "subnets: ${tf:subnets}")
    loaded = parse_manifest(text, require_tf_outputs=False)
    assert loaded.unresolved_tf == {"subnets"} and loaded.note
    with pytest.raises(ManifestError, match="need a terraform outputs file"):
        parse_manifest(text)


def test_unresolved_reference_in_a_typed_field_is_reported_clearly():
    text = SMALL.replace("cpu: 256", "cpu: ${tf:cpu}")
    with pytest.raises(ManifestError, match=r"spec.defaults.cpu: expected an integer.*pass --tf-outputs"):
        parse_manifest(text, require_tf_outputs=False)
