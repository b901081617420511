"""`fleetctl verify` against the sandbox: OK on a good fleet, NG naming what is wrong on a broken one."""
from __future__ import annotations

import json

from fleetctl.controller.verify import allows, secret_action, trusts
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.timeout(300)  # many CLI processes against the sandbox on a shared 2-core machine

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gaming/auth/signing-key-AbCdEf"


def test_policy_judgement():
    allow = {"Statement": [{"Effect": "Allow", "Action": "secretsmanager:Get*", "Resource": "arn:aws:secretsmanager:*:*:secret:gaming/*"}]}
    assert allows([allow], "secretsmanager:GetSecretValue", ARN) == (True, False)
    assert allows([allow], "secretsmanager:GetSecretValue", ARN.replace("gaming/", "other/")) == (False, False)
    deny = {"Statement": {"Effect": "Deny", "Action": "*", "Resource": ARN}}
    assert allows([allow, deny], "secretsmanager:GetSecretValue", ARN) == (False, False)
    conditional = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"x": "true"}}}]}
    assert allows([conditional], "ssm:GetParameters", "arn:aws:ssm:us-east-1:1:parameter/a") == (True, True)
    assert secret_action(ARN + ":password::") == ("secretsmanager:GetSecretValue", ARN)
    assert trusts({"Statement": [{"Effect": "Allow", "Principal": {"Service": ["ecs-tasks.amazonaws.com"]},
                                  "Action": "sts:AssumeRole"}]})
    assert not trusts({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                      "Action": "sts:AssumeRole"}]})


def _rows(out):
    return {(c["check"], c["status"]) for c in json.loads(out.stdout)["checks"]}


def test_verify_good_fleet_then_missing_secret_image_role_and_blocked_nats_port(make_fleet, sandbox_handle):
    fleet = make_fleet(["auth", "settings"])
    good = run_cli("verify", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "-o", "json")
    assert good.code == 0, good.stdout + good.stderr
    body = json.loads(good.stdout)
    statuses = {c["check"]: c["status"] for c in body["checks"]}
    assert not [c for c in body["checks"] if c["status"] != "OK"], body
    assert set(statuses) == {"cluster", "subnets", "security-groups", "image", "execution-role", "task-role",
                             "secret", "log-group", "task-egress", "nats-ingress", "nats-reachable"}

    # break it: a secret and an image that do not exist, a task role that does not exist, and a
    # NATS security group that admits nobody on the NATS port
    ec2 = sandbox_handle.client("ec2")
    closed = ec2.create_security_group(GroupName=f"{fleet.cluster}-closed", Description="no ingress",
                                       VpcId=sandbox_handle.value("vpc_id"))["GroupId"]
    outputs = json.loads(fleet.outputs.read_text())
    outputs["nats_security_group_id"]["value"] = closed
    fleet.outputs.write_text(json.dumps(outputs))
    fleet.service("auth")["secrets"] = {"AUTH_SIGNING_KEY": ARN.replace("signing-key", "no-such-key")}
    fleet.service("settings")["image"] = "${tf:ecr_registry}/gaming/settings@sha256:" + "0" * 64
    fleet.service("settings")["taskRoleArn"] = "arn:aws:iam::123456789012:role/no-such-role"
    fleet.write()
    bad = run_cli("verify", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "-o", "json")
    assert bad.code == 1, bad.stdout + bad.stderr
    checks = json.loads(bad.stdout)["checks"]
    ng = {(c["check"], c["subject"].rsplit("/", 1)[-1]): c["detail"] for c in checks if c["status"] == "NG"}
    assert "does not exist" in ng[("secret", "no-such-key-AbCdEf")]
    assert "is not in ECR repository gaming/settings" in ng[("image", "settings@sha256:" + "0" * 64)]
    assert ng[("task-role", "no-such-role")] == "the role does not exist"
    assert "do not admit" in ng[("nats-ingress", closed)]
    assert len(ng) == 4, ng
    assert ("image", "OK") in _rows(bad)  # auth's image is still there

    table = run_cli("verify", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "-s", "auth", "--no-network")
    assert table.code == 1
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "SUBJECT", "STATUS", "DETAIL"]
    assert any(line.startswith("secret ") and " NG " in line for line in lines)
    assert any(line.startswith("nats-reachable ") and " SKIP " in line for line in lines)
    assert "settings" not in table.stdout
    assert lines[-1].endswith("NG, 1 SKIP")
