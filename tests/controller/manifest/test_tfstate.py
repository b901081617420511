"""Terraform values from `terraform output -json` output or a v4 state file."""
from __future__ import annotations

import io
import json

import pytest

from fleetctl.controller.errors import FleetError
from fleetctl.controller.manifest.interpolate import InterpolationError
from fleetctl.controller.manifest.tfstate import parse_terraform_values, read_terraform_file, read_terraform_values

OUTPUTS = {"cluster": {"value": "c1", "type": "string", "sensitive": False},
           "key": {"value": "s3cr3t", "type": "string", "sensitive": True}}


def test_output_json_and_state_v4_read_alike(tmp_path):
    state = {"version": 4, "terraform_version": "1.9.5", "serial": 1, "lineage": "x", "outputs": OUTPUTS,
             "resources": [{"type": "aws_ecs_cluster"}]}
    for doc in (OUTPUTS, state):
        values = parse_terraform_values(json.dumps(doc), "src")
        assert dict(values.values) == {"cluster": "c1", "key": "s3cr3t"} and values.sensitive == {"key"}
    path = tmp_path / "terraform.tfstate"
    path.write_text(json.dumps(state))
    assert read_terraform_file(path).source == str(path)


@pytest.mark.parametrize("doc, message", [
    ({"version": 3, "serial": 1, "lineage": "x", "outputs": {}}, "version 3 is not supported"),
    ({"cluster": "c1"}, "neither `terraform output -json` output"),
    ([1, 2], "neither"),
])
def test_other_documents_are_refused(doc, message):
    with pytest.raises(InterpolationError, match=message):
        parse_terraform_values(json.dumps(doc), "src")


def test_stdin():
    values = read_terraform_values("-", stdin=io.StringIO(json.dumps(OUTPUTS)))
    assert values.source == "<stdin>" and values.values["cluster"] == "c1"
    with pytest.raises(FleetError, match="nothing on stdin"):
        read_terraform_values("-", stdin=io.StringIO(""))
    with pytest.raises(FleetError, match="not JSON"):
        read_terraform_values("-", stdin=io.StringIO("cluster = c1"))
    with pytest.raises(FleetError, match="expected s3://BUCKET/KEY"):
        read_terraform_values("s3://bucket-only")
