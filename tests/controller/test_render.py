"""Rendered ECS inputs: botocore's own parameter validation accepts every one of them."""
from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.validate import ParamValidator

from fleetctl.controller.manifest import load_manifest
from fleetctl.controller.render import FLEET_TAG, TD_HASH_TAG, render
from tests.conftest import FIXTURES, PROD_TF_OUTPUTS, REPO, run_cli

LOCAL_TF_OUTPUTS = FIXTURES / "local-tf-outputs.json"
FLEETS = [("prod", PROD_TF_OUTPUTS), ("local", LOCAL_TF_OUTPUTS)]


@pytest.fixture(scope="module")
def ecs_model():
    return botocore.session.get_session().get_service_model("ecs")


def _validate(model, operation: str, params: dict) -> str:
    shape = model.operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    return report.generate_report() if report.has_errors() else ""


@pytest.mark.parametrize("name,outputs", FLEETS)
def test_every_rendered_input_passes_botocore_validation(ecs_model, name, outputs):
    fleet = load_manifest(REPO / "manifests" / f"{name}.yaml", tf_outputs=outputs).fleet
    rendered = render(fleet)
    assert len(rendered) == 23
    for r in rendered:
        assert _validate(ecs_model, "RegisterTaskDefinition", r.register_task_definition) == ""
        assert _validate(ecs_model, "CreateService", r.create_service) == ""
        assert _validate(ecs_model, "UpdateService", r.update_service) == ""


def test_botocore_validation_is_not_vacuous(ecs_model):
    assert "desiredCount" in _validate(ecs_model, "CreateService", {"serviceName": "x", "desiredCount": "two"})


def test_rendered_prod_service_carries_nats_logs_secrets_and_breaker():
    fleet = load_manifest(REPO / "manifests" / "prod.yaml", tf_outputs=PROD_TF_OUTPUTS).fleet
    (auth,) = render(fleet, "auth")
    container = auth.register_task_definition["containerDefinitions"][0]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["NATS_URL"] == "nats://gaming-nats-0123456789abcdef.elb.us-east-1.amazonaws.com:4222"
    assert env["SERVICE_VERSION"] == fleet.service("auth").image.split("@")[1]
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert secrets["AUTH_SIGNING_KEY"].startswith("arn:aws:secretsmanager:")
    assert secrets["NATS_PASSWORD"].endswith("fleet-creds-AbCdEf:auth::")
    assert env["NATS_USER"] == "auth"
    assert container["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/ecs/gaming-system-nats", "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "ecs"},
    }
    assert auth.create_service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert auth.create_service["cluster"] == "gaming-system-cluster"
    tags = {t["key"]: t["value"] for t in auth.create_service["tags"]}
    assert tags == {FLEET_TAG: "gaming-system", TD_HASH_TAG: auth.td_hash}
    assert "launchType" not in auth.update_service


def test_gateway_overrides_defaults():
    fleet = load_manifest(REPO / "manifests" / "prod.yaml", tf_outputs=PROD_TF_OUTPUTS).fleet
    (gw,) = render(fleet, "gateway")
    assert (gw.register_task_definition["cpu"], gw.register_task_definition["memory"]) == ("512", "1024")
    assert gw.register_task_definition["containerDefinitions"][0]["portMappings"] == [{"containerPort": 8080, "protocol": "tcp"}]


def test_task_definition_hash_ignores_service_settings():
    fleet = load_manifest(REPO / "manifests" / "prod.yaml", tf_outputs=PROD_TF_OUTPUTS).fleet
    services = [s.model_copy(update={"desired_count": 9}) for s in fleet.spec.services]
    scaled = fleet.model_copy(update={"spec": fleet.spec.model_copy(update={"services": services})})
    assert [r.td_hash for r in render(fleet)] == [r.td_hash for r in render(scaled)]
    assert [r.spec_hash for r in render(fleet)] != [r.spec_hash for r in render(scaled)]


def test_spec_hash_changes_with_the_spec_and_only_then():
    fleet = load_manifest(REPO / "manifests" / "prod.yaml", tf_outputs=PROD_TF_OUTPUTS).fleet
    first = {r.name: r.spec_hash for r in render(fleet)}
    again = {r.name: r.spec_hash for r in render(fleet)}
    assert first == again
    services = [s.model_copy(update={"desired_count": 5}) if s.name == "quest" else s for s in fleet.spec.services]
    changed = fleet.model_copy(update={"spec": fleet.spec.model_copy(update={"services": services})})
    after = {r.name: r.spec_hash for r in render(changed)}
    assert [n for n in first if first[n] != after[n]] == ["quest"]


def test_render_cli_json_and_service_filter():
    result = run_cli("render", "manifests/prod.yaml", "--tf-outputs", str(PROD_TF_OUTPUTS), "-o", "json", "-s", "payment")
    assert result.code == 0, result.stderr
    (body,) = json.loads(result.stdout)
    assert body["service"] == "payment"
    assert body["registerTaskDefinition"]["family"] == "gaming-system-payment"


def test_render_cli_unknown_service_exits_2():
    result = run_cli("render", "manifests/prod.yaml", "--tf-outputs", str(PROD_TF_OUTPUTS), "-s", "nope")
    assert result.code == 2
    assert "no service 'nope'" in result.stderr and result.stdout == ""


def test_render_needs_terraform_outputs():
    result = run_cli("render", "manifests/prod.yaml")
    assert result.code == 2
    assert "terraform outputs file not found" in result.stderr
