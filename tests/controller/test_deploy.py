"""The controller deployable: its image's Dockerfile, its ECS manifest and the terraform it needs."""
from __future__ import annotations

import json
import re

from fleetctl.controller.manifest import load_manifest
from tests.conftest import PROD_TF_OUTPUTS, REPO
from tests.terraform import tfconfig

CONTROLLER_MANIFEST = REPO / "manifests" / "controller.yaml"


def instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_the_image_runs_the_controller_as_pid_1_from_an_installed_fleetctl():
    steps = instructions((REPO / "Dockerfile").read_text())
    keywords = [k for k, _ in steps]
    assert keywords[0] == "FROM" and re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", steps[0][1])
    entrypoint = json.loads(dict(steps)["ENTRYPOINT"])   # exec form: fleetctl gets SIGTERM itself
    assert entrypoint == ["fleetctl", "controller", "run"]
    env = " ".join(rest for k, rest in steps if k == "ENV")
    assert "FLEETCTL_HEALTH_HOST=0.0.0.0" in env and "FLEETCTL_LOG_FORMAT=json" in env
    runs = " ".join(rest for k, rest in steps if k == "RUN")
    assert "pip install --no-cache-dir /app" in runs and " git " in runs    # fleetctl itself; git for Git sources
    for k, rest in steps:
        if k == "COPY":
            *sources, _dest = rest.split()
            for source in sources:
                assert (REPO / source).exists(), f"COPY source {source} is missing"
    # everything `pip install /app` packages is copied
    import tomllib

    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {rest.split()[0] for k, rest in steps if k == "COPY"}
    assert {p.rstrip("*") for p in packages} <= copied
    user = [rest for k, rest in steps if k == "USER"]
    assert user and user[-1] not in ("root", "0") and keywords.index("USER") > max(
        i for i, k in enumerate(keywords) if k == "RUN")
    assert "8089" in dict(steps)["EXPOSE"]


def _outputs(tmp_path):
    doc = json.loads(PROD_TF_OUTPUTS.read_text())
    doc.update({
        "fleet_config_bucket": {"value": "gaming-system-fleet-config-111122223333", "type": "string", "sensitive": False},
        "fleetctl_repository_url": {"value": "111122223333.dkr.ecr.us-east-1.amazonaws.com/gaming/fleetctl",
                                    "type": "string", "sensitive": False},
        "controller_execution_role_arn": {"value": "arn:aws:iam::111122223333:role/gaming-system-fleetctl-execution",
                                          "type": "string", "sensitive": False},
        "controller_role_arn": {"value": "arn:aws:iam::111122223333:role/gaming-system-fleetctl",
                                "type": "string", "sensitive": False},
        "nats_fleetctl_password_secret_arn": {
            "value": "arn:aws:secretsmanager:us-east-1:111122223333:secret:gaming-system/nats/fleetctl-password-AbCdEf",
            "type": "string", "sensitive": False},
    })
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(doc))
    return path, doc


def test_the_controller_service_runs_with_the_controller_role_and_reads_the_fleet_from_s3(tmp_path):
    path, outputs = _outputs(tmp_path)
    fleet = load_manifest(CONTROLLER_MANIFEST, tf_outputs=path).fleet
    (svc,) = fleet.spec.services
    from fleetctl.controller.render import render

    (r,) = render(fleet)
    td = r.register_task_definition
    assert td["taskRoleArn"] == outputs["controller_role_arn"]["value"]
    assert td["executionRoleArn"] == outputs["controller_execution_role_arn"]["value"]
    container = td["containerDefinitions"][0]
    assert container["image"].startswith(outputs["fleetctl_repository_url"]["value"] + "@sha256:")
    bucket = outputs["fleet_config_bucket"]["value"]
    assert container["command"][0] == f"s3://{bucket}/fleets/prod.yaml"   # after the image's ENTRYPOINT
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["FLEETCTL_HEALTH_HOST"] == "0.0.0.0"
    assert "127.0.0.1:8089/healthz" in " ".join(container["healthCheck"]["command"])
    # two replicas electing a leader: new ones start (as followers) before the old ones stop
    dep = r.create_service["deploymentConfiguration"]
    assert dep["minimumHealthyPercent"] == 100 and dep["maximumPercent"] == 200
    assert r.create_service["desiredCount"] == 2
    assert "--lease-ttl" in container["command"] and "--lease-poll" in container["command"]
    assert fleet.spec.rollout.nats_gate == "off"   # not a NATS micro service: nothing to discover
    # the serving gate logs in as the probe user; its password is a secret reference, never a value
    assert env["FLEETCTL_NATS_USER"] == "fleetctl"
    secrets = {e["name"]: e["valueFrom"] for e in container["secrets"]}
    assert secrets["FLEETCTL_NATS_PASSWORD"] == outputs["nats_fleetctl_password_secret_arn"]["value"]
    assert "NATS_TLS_CA" in secrets and "NATS_PASSWORD" not in secrets   # the CA, no service's password


def test_terraform_declares_what_the_controller_service_needs():
    cfg = tfconfig.load()
    refs = set(tfconfig.TF_REF.findall(CONTROLLER_MANIFEST.read_text()))
    assert refs - set(cfg.outputs) == set(), "manifests/controller.yaml uses outputs terraform does not declare"
    assert cfg.resource("aws_s3_bucket_versioning.fleet_config")["versioning_configuration"][0]["status"] == "Enabled"
    # the controller role (trusted by ecs-tasks) reads the manifests, nothing more of the bucket
    statements = cfg.data["aws_iam_policy_document"]["controller"]["statement"]
    (read,) = [st for st in statements if any(a.startswith("s3:") for a in st["actions"])]
    assert read["actions"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert read["resources"] == ["${aws_s3_bucket.fleet_config.arn}/fleets/*"]
    assert cfg.resource("aws_ecr_repository.fleetctl")["image_tag_mutability"] == "IMMUTABLE"
    # the controllers electing the fleet's leader may touch only that fleet's lease item
    (lease,) = [st for st in statements if st.get("sid") == "FleetLease"]
    assert lease["condition"] == [{"test": "ForAllValues:StringEquals", "variable": "dynamodb:LeadingKeys",
                                   "values": ["${local.name}"]}]
    # its execution role injects the probe password and the CA, and no service's NATS password
    injected = [st for st in cfg.data["aws_iam_policy_document"]["controller_execution"]["statement"]
                if "secretsmanager:GetSecretValue" in st["actions"]]
    assert sorted(r for st in injected for r in st["resources"]) == [
        "${aws_secretsmanager_secret.nats_ca.arn}", "${aws_secretsmanager_secret.nats_fleetctl.arn}"]
