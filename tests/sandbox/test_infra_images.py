"""`up`'s infrastructure and terraform-shaped outputs; `build`'s content-addressed images."""

from __future__ import annotations

import json
from pathlib import Path

from fleetctl.sandbox import images
from fleetctl.sandbox.config import ecr_registry

REQUIRED_OUTPUTS = {
    "aws_endpoint_url", "ecs_cluster_name", "ecr_registry", "private_subnet_ids",
    "tasks_security_group_id", "nats_security_group_id", "nats_url", "nats_target_group_arn",
    "log_group_name", "task_execution_role_arn", "task_role_arn",
    "auth_signing_key_secret_arn", "payment_ledger_key_secret_arn",
}  # fmt: skip


def test_outputs_file_is_shaped_like_terraform_output_json(sandbox):
    raw = json.loads(sandbox.info.outputs_path.read_text())
    assert REQUIRED_OUTPUTS <= set(raw)
    for name, entry in raw.items():
        assert set(entry) == {"sensitive", "type", "value"}, name
        assert entry["sensitive"] is False
        assert entry["type"] == "string" or entry["type"][0] == "tuple"
    outputs = sandbox.outputs
    assert outputs["aws_endpoint_url"] == sandbox.info.endpoint_url
    assert outputs["nats_url"] == sandbox.info.nats_url
    assert outputs["ecs_cluster_name"] == "gaming-system-cluster"
    assert outputs["log_group_name"] == "/ecs/gaming-system-nats"
    assert outputs["ecr_registry"] == ecr_registry() == "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert len(outputs["private_subnet_ids"]) == 2


def test_infrastructure_exists_behind_the_outputs(sandbox):
    outputs = sandbox.outputs
    ec2 = sandbox.client("ec2")
    vpc_id = outputs["vpc_id"]
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    subnets = ec2.describe_subnets(SubnetIds=outputs["private_subnet_ids"])["Subnets"]
    assert {s["VpcId"] for s in subnets} == {vpc_id}
    nats_port = int(outputs["nats_url"].rsplit(":", 1)[1])
    [nats_sg] = ec2.describe_security_groups(GroupIds=[outputs["nats_security_group_id"]])["SecurityGroups"]
    [rule] = nats_sg["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"]) == (nats_port, nats_port)
    assert rule["UserIdGroupPairs"][0]["GroupId"] == outputs["tasks_security_group_id"]

    elb = sandbox.client("elbv2")
    health = elb.describe_target_health(TargetGroupArn=outputs["nats_target_group_arn"])["TargetHealthDescriptions"]
    assert [(h["Target"]["Id"], h["Target"]["Port"]) for h in health] == [("127.0.0.1", nats_port)]

    ecs = sandbox.client("ecs")
    assert ecs.describe_clusters(clusters=[outputs["ecs_cluster_name"]])["clusters"][0]["status"] == "ACTIVE"
    groups = sandbox.client("logs").describe_log_groups(logGroupNamePrefix=outputs["log_group_name"])["logGroups"]
    assert [g["logGroupName"] for g in groups] == [outputs["log_group_name"]]
    sm = sandbox.client("secretsmanager")
    for key in ("auth_signing_key_secret_arn", "payment_ledger_key_secret_arn"):
        assert len(sm.get_secret_value(SecretId=outputs[key])["SecretString"]) >= 32
    iam = sandbox.client("iam")
    assert iam.get_role(RoleName="gaming-system-task")["Role"]["Arn"] == outputs["task_role_arn"]


def _service(root: Path, name: str, body: str = "print('hi')\n") -> Path:
    directory = root / "services" / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "__main__.py").write_text(body)
    return directory


def test_build_registers_one_image_per_service_and_is_idempotent(sandbox, tmp_path):
    _service(tmp_path, "alpha")
    _service(tmp_path, "beta")
    (tmp_path / "services" / "not_a_service").mkdir()
    (tmp_path / "sdk").mkdir()
    (tmp_path / "sdk" / "codec.py").write_text("X = 1\n")

    first = images.build(sandbox.info.endpoint_url, sandbox.info.credentials(), tmp_path)
    assert [(r.service, r.repository, r.changed) for r in first] == [
        ("alpha", "gaming/alpha", True),
        ("beta", "gaming/beta", True),
    ]
    again = images.build(sandbox.info.endpoint_url, sandbox.info.credentials(), tmp_path)
    assert [(r.digest, r.changed) for r in again] == [(r.digest, False) for r in first]

    # Changing the service, or the shared sdk, gives a new digest.
    _service(tmp_path, "alpha", "print('changed')\n")
    changed = {r.service: r for r in images.build(sandbox.info.endpoint_url, sandbox.info.credentials(), tmp_path)}
    assert changed["alpha"].changed and changed["alpha"].digest != first[0].digest
    assert not changed["beta"].changed
    (tmp_path / "sdk" / "codec.py").write_text("X = 2\n")
    assert all(r.changed for r in images.build(sandbox.info.endpoint_url, sandbox.info.credentials(), tmp_path))

    ecr = sandbox.client("ecr")
    [detail] = ecr.describe_images(repositoryName="gaming/beta", imageIds=[{"imageTag": "latest"}])["imageDetails"]
    manifest = json.loads(
        ecr.batch_get_image(repositoryName="gaming/beta", imageIds=[{"imageTag": "latest"}])["images"][0]["imageManifest"]
    )
    assert manifest["annotations"]["org.fleetctl.sandbox.command"] == json.dumps(["python", "-m", "services.beta"])
    assert detail["imageDigest"].startswith("sha256:")


def test_build_without_services_directory_builds_nothing(sandbox, tmp_path):
    assert images.build(sandbox.info.endpoint_url, sandbox.info.credentials(), tmp_path) == []


def test_image_without_command_runs_the_program_it_stands_for(sandbox, ecs, logs, register, run_task, tmp_path):
    """A task definition with no command runs the image's recorded program."""
    from tests.sandbox.conftest import log_messages, unique, wait_stopped

    ecr = sandbox.client("ecr")
    ecr.create_repository(repositoryName="tests/program")
    manifest = json.loads(images.manifest("x", "cd" * 32))
    manifest["annotations"]["org.fleetctl.sandbox.command"] = json.dumps(["python", "-c", "print('from the image')"])
    ecr.put_image(repositoryName="tests/program", imageManifest=json.dumps(manifest), imageTag="latest")
    td = register(unique("imagecmd"), image=f"{sandbox.outputs['ecr_registry']}/tests/program:latest")
    defn = ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]["containerDefinitions"][0]
    defn.pop("command")
    td = ecs.register_task_definition(
        family=unique("imagecmd"), networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512", containerDefinitions=[defn],
    )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
    arn = run_task(td)
    wait_stopped(sandbox, ecs, arn)
    assert log_messages(sandbox, logs, arn) == ["from the image"]
