from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from fleetctl.controller.manifest.schema import fleet_schema
from tests.conftest import FIXTURES, REPO

SCHEMA_FILE = REPO / "manifests" / "fleet.schema.json"


def test_checked_in_schema_is_current():
    assert json.loads(SCHEMA_FILE.read_text()) == fleet_schema(), (
        "manifests/fleet.schema.json is stale: run `fleetctl schema > manifests/fleet.schema.json`"
    )


@pytest.mark.parametrize("path", [REPO / "manifests" / "prod.yaml", REPO / "manifests" / "local.yaml",
                                  FIXTURES / "manifests" / "small.yaml"])
def test_manifests_validate_against_the_schema(path):
    jsonschema.Draft202012Validator(fleet_schema()).validate(yaml.safe_load(path.read_text()))


def test_schema_rejects_unknown_keys():
    doc = yaml.safe_load((FIXTURES / "manifests" / "small.yaml").read_text())
    doc["spec"]["services"][0]["replicas"] = 3
    with pytest.raises(jsonschema.ValidationError, match="replicas"):
        jsonschema.Draft202012Validator(fleet_schema()).validate(doc)
