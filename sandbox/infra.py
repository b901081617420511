"""The sandbox's infrastructure, playing terraform's part, and its ``terraform output -json``.

Created through the AWS API of the sandbox itself, as terraform would create it.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from fleetctl.sandbox import aws
from fleetctl.sandbox.auth import Credentials
from fleetctl.sandbox.config import ACCOUNT_ID, CLUSTER_NAME, LOG_GROUP_NAME, REGION, ecr_registry
from fleetctl.sandbox.state import StatePaths, read_json, write_json

NAME = "gaming-system"
ASSUME_ECS_TASKS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)

EXECUTION_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                           "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:gaming/*",
            },
        ],
    }
)


def output(value: Any) -> dict[str, Any]:
    """One entry of ``terraform output -json``."""
    if isinstance(value, list):
        kind: Any = ["tuple", ["string"] * len(value)]
    else:
        kind = "string"
    return {"sensitive": False, "type": kind, "value": value}


def is_present(endpoint_url: str, credentials: Credentials, outputs_path: Path) -> bool:
    """True if the outputs file describes infrastructure that still exists in moto."""
    outputs = read_json(outputs_path)
    if not outputs or outputs.get("aws_endpoint_url", {}).get("value") != endpoint_url:
        return False
    clusters = aws.client("ecs", endpoint_url, credentials).describe_clusters(clusters=[CLUSTER_NAME])["clusters"]
    return any(c["status"] == "ACTIVE" for c in clusters)


def create(
    endpoint_url: str, credentials: Credentials, nats_port: int, paths: StatePaths, nats_passwords: dict[str, str]
) -> dict[str, Any]:
    """Create the network, cluster, logs, roles, NLB and secrets; write the outputs file.

    The NATS passwords are stored as production stores them: one JSON secret
    ``{service: password}`` (manifest ``nats.credentials.format: password-per-service``) and
    the fleetctl user's password in a secret of its own.
    """
    from fleetctl.controller.natsperms import PROBE_USER

    def client(service: str) -> Any:
        return aws.client(service, endpoint_url, credentials)

    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": NAME}]}],
    )["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{i + 1}.0/24", AvailabilityZone=f"{REGION}{zone}")[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate("ab")
    ]
    tasks_sg = ec2.create_security_group(
        GroupName=f"{NAME}-tasks", Description="fleet tasks", VpcId=vpc_id
    )["GroupId"]
    nats_sg = ec2.create_security_group(
        GroupName=f"{NAME}-nats", Description="NATS clients from fleet tasks", VpcId=vpc_id
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=nats_sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": nats_port,
                "ToPort": nats_port,
                "UserIdGroupPairs": [{"GroupId": tasks_sg, "Description": "NATS clients"}],
            }
        ],
    )

    client("ecs").create_cluster(
        clusterName=CLUSTER_NAME,
        settings=[{"name": "containerInsights", "value": "disabled"}],
        tags=[{"key": "Name", "value": NAME}],
    )
    client("logs").create_log_group(logGroupName=LOG_GROUP_NAME)

    iam = client("iam")
    role_arns = {}
    for key, role in (("execution", f"{NAME}-task-execution"), ("task", f"{NAME}-task")):
        try:
            role_arns[key] = iam.create_role(RoleName=role, AssumeRolePolicyDocument=ASSUME_ECS_TASKS)[
                "Role"
            ]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            role_arns[key] = iam.get_role(RoleName=role)["Role"]["Arn"]
    # what ECS needs from the execution role: pull images, write logs, read the fleet's secrets
    iam.put_role_policy(RoleName=f"{NAME}-task-execution", PolicyName="task-execution",
                        PolicyDocument=EXECUTION_POLICY)

    elb = client("elbv2")
    nlb_arn = elb.create_load_balancer(
        Name="gaming-nats", Subnets=subnet_ids, Scheme="internal", Type="network"
    )["LoadBalancers"][0]
    target_group_arn = elb.create_target_group(
        Name="gaming-nats-client", Protocol="TCP", Port=nats_port, VpcId=vpc_id, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=target_group_arn, Targets=[{"Id": "127.0.0.1", "Port": nats_port}])
    elb.create_listener(
        LoadBalancerArn=nlb_arn["LoadBalancerArn"],
        Protocol="TCP",
        Port=4222,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group_arn}],
    )

    sm = client("secretsmanager")
    secret_arns = {}
    for key, name in (("auth", "gaming/auth/signing-key"), ("payment", "gaming/payment/ledger-key")):
        try:
            secret_arns[key] = sm.create_secret(Name=name, SecretString=secrets.token_urlsafe(32))["ARN"]
        except sm.exceptions.ResourceExistsException:
            secret_arns[key] = sm.describe_secret(SecretId=name)["ARN"]

    services_json = json.dumps({u: pw for u, pw in nats_passwords.items() if u != PROBE_USER}, sort_keys=True)
    for key, name, value in (
        ("nats", "gaming/nats/fleet-creds", services_json),
        ("nats_fleetctl", "gaming/nats/fleetctl-password", nats_passwords[PROBE_USER]),
    ):
        try:
            secret_arns[key] = sm.create_secret(Name=name, SecretString=value)["ARN"]
        except sm.exceptions.ResourceExistsException:
            secret_arns[key] = sm.put_secret_value(SecretId=name, SecretString=value)["ARN"]
    lock_table = ensure_lock_table(endpoint_url, credentials)

    outputs = {
        "aws_endpoint_url": output(endpoint_url),
        "aws_region": output(REGION),
        "aws_account_id": output(ACCOUNT_ID),
        "ecs_cluster_name": output(CLUSTER_NAME),
        "ecr_registry": output(ecr_registry()),
        "vpc_id": output(vpc_id),
        "private_subnet_ids": output(subnet_ids),
        "tasks_security_group_id": output(tasks_sg),
        "nats_security_group_id": output(nats_sg),
        "nats_url": output(f"nats://127.0.0.1:{nats_port}"),
        "nats_nlb_dns_name": output(nlb_arn["DNSName"]),
        "nats_target_group_arn": output(target_group_arn),
        "log_group_name": output(LOG_GROUP_NAME),
        "task_execution_role_arn": output(role_arns["execution"]),
        "task_role_arn": output(role_arns["task"]),
        "auth_signing_key_secret_arn": output(secret_arns["auth"]),
        "payment_ledger_key_secret_arn": output(secret_arns["payment"]),
        "nats_credentials_secret_arn": output(secret_arns["nats"]),
        "nats_fleetctl_password_secret_arn": output(secret_arns["nats_fleetctl"]),
        "sandbox_credentials_file": output(str(paths.credentials)),
        "fleet_lock_table_name": output(lock_table),
    }
    write_json(paths.outputs, outputs)
    return outputs


LOCK_TABLE_NAME = "fleetctl-locks"


def ensure_lock_table(endpoint_url: str, credentials: Credentials, name: str = LOCK_TABLE_NAME) -> str:
    """The DynamoDB table of fleet leases (controller/lease.py), as terraform creates it. Idempotent."""
    ddb = aws.client("dynamodb", endpoint_url, credentials)
    try:
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "fleet", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "fleet", "AttributeType": "S"}],
        )
    except ddb.exceptions.ResourceInUseException:
        pass
    return name


def ensure(
    endpoint_url: str, credentials: Credentials, nats_port: int, paths: StatePaths, nats_passwords: dict[str, str]
) -> bool:
    """Create the infrastructure unless it exists; True if it was created now."""
    if is_present(endpoint_url, credentials, paths.outputs):
        return False
    create(endpoint_url, credentials, nats_port, paths, nats_passwords)
    return True
