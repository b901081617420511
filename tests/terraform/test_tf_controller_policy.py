"""The controller's IAM policy covers every AWS operation fleetctl's code calls."""
from __future__ import annotations

import fnmatch
import textwrap

import pytest

from tests.terraform import awsops, tfconfig

SCANNED = [tfconfig.REPO / "controller", tfconfig.REPO / "cli"]


@pytest.fixture(scope="module")
def policy_statements() -> list[dict]:
    doc = tfconfig.load().data["aws_iam_policy_document"]["controller"]
    return doc["statement"]


@pytest.fixture(scope="module")
def policy_actions(policy_statements) -> set[str]:
    return {a for s in policy_statements for a in s["actions"]}


def allowed(action: str, actions: set[str]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in actions)


def test_policy_covers_every_operation_the_code_calls(policy_actions):
    ops = awsops.scan_paths(SCANNED)
    missing = sorted({op.iam_action: op for op in ops if not allowed(op.iam_action, policy_actions)}.items())
    assert not missing, "controller policy (terraform/iam_controller.tf) lacks:\n" + "\n".join(
        f"  {action}  (first seen {op.path}:{op.line})" for action, op in missing
    )


def test_policy_has_the_documented_controller_actions(policy_actions):
    # The operations fleetctl is specified to use (deploy, status, logs, pre-flight).
    required = {
        "ecs:DescribeServices", "ecs:ListServices", "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:CreateService",
        "ecs:UpdateService", "ecs:DeleteService", "ecs:TagResource", "ecs:DescribeTasks",
        "ecs:ListTasks", "ecs:StopTask", "ecs:DescribeClusters",
        "logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams",
        "ecr:DescribeImages", "ecr:BatchGetImage",
        "ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:DescribeSubnets",
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeRouteTables", "ec2:DescribeNetworkAcls",
        "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeLoadBalancers",
        "iam:PassRole",
    }
    assert required <= policy_actions, sorted(required - policy_actions)


def test_policy_is_least_privilege(policy_statements, policy_actions):
    for action in policy_actions:
        assert "*" not in action, f"wildcard action {action}"
        prefix, _, name = action.partition(":")
        assert prefix in set(awsops.IAM_PREFIX.values()) | {"iam"}, action
        # Only read, deploy and task-stop verbs; nothing that creates infrastructure.
        assert name.startswith(("Describe", "List", "Get", "Filter", "BatchGet", "Register", "Deregister",
                                "CreateService", "UpdateService", "DeleteService", "TagResource",
                                "StopTask", "PassRole")), action
    for statement in policy_statements:
        assert statement.get("effect", "Allow") == "Allow"
        if statement["actions"] == ["iam:PassRole"]:
            assert statement["resources"] == ["${aws_iam_role.task_execution.arn}", "${aws_iam_role.task.arn}"]
            assert statement["condition"][0]["variable"] == "iam:PassedToService"
            assert statement["condition"][0]["values"] == ["ecs-tasks.amazonaws.com"]
        # Mutating ECS actions are scoped to this cluster's ARNs (or carry a condition).
        mutating = {"ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService", "ecs:StopTask"}
        if mutating & set(statement["actions"]):
            assert statement["resources"] != ["*"]
            assert all("aws_ecs_cluster.main.name" in r for r in statement["resources"])


def test_every_controller_action_is_a_real_api_operation(policy_actions):
    by_prefix = {v: k for k, v in awsops.IAM_PREFIX.items()}
    for action in policy_actions:
        prefix, _, name = action.partition(":")
        if prefix == "iam":
            continue
        service = by_prefix[prefix]
        assert name in awsops.operations_by_method(service).values(), f"{action} is not a {service} operation"


# --- the scanner itself ---------------------------------------------------------------------

SNIPPET = textwrap.dedent(
    '''
    import boto3

    class Aws:
        def __init__(self, session):
            self.ecs = session.client("ecs")
            self._logs = session.client("logs")
            self.elbv2_client = session.client("elbv2")

        def deploy(self, td):
            arn = self.ecs.register_task_definition(**td)["taskDefinition"]["taskDefinitionArn"]
            self.ecs.update_service(cluster="c", service="s", taskDefinition=arn)
            self.ecs.get_waiter("services_stable").wait(cluster="c", services=["s"])
            for page in self.ecs.get_paginator("list_services").paginate(cluster="c"):
                pass

        def tail(self):
            return self._logs.filter_log_events(logGroupName="g")

        def health(self, clients):
            return clients.elbv2.describe_target_health(TargetGroupArn="t")

        def not_aws(self, thing):
            self.ecs.close()                   # not an operation of the ecs model
            thing.describe_services()          # receiver is not a known client
            self.ecs.get_paginator(name)       # not a literal: cannot be resolved
            self.cache.ecs_things()            # unrelated attribute

    async def probe(session):
        async with session.create_client("sts") as sts:
            await sts.get_caller_identity()
        ec2 = session.client("ec2")
        ec2.describe_security_groups(GroupIds=["sg-1"])
        ecr_client = session.client("ecr")
        ecr_client.describe_images(repositoryName="gaming/auth")
    '''
)


def test_scanner_finds_the_calls_in_a_snippet():
    ops = awsops.scan_source(SNIPPET, "snippet.py")
    assert {op.iam_action for op in ops} == {
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "ecs:DescribeServices",  # services_stable waiter polls DescribeServices
        "ecs:ListServices",  # paginator
        "logs:FilterLogEvents",
        "elasticloadbalancing:DescribeTargetHealth",
        "sts:GetCallerIdentity",
        "ec2:DescribeSecurityGroups",
        "ecr:DescribeImages",
    }
    lines = {op.iam_action: op.line for op in ops}
    assert lines["ecs:UpdateService"] == SNIPPET.splitlines().index(
        '        self.ecs.update_service(cluster="c", service="s", taskDefinition=arn)'
    ) + 1


def test_scanner_reports_operations_missing_from_a_policy():
    ops = awsops.scan_source("ecs.create_cluster(clusterName='x')\nssm.get_parameter(Name='p')\n")
    actions = {op.iam_action for op in ops}
    assert actions == {"ecs:CreateCluster", "ssm:GetParameter"}
    policy = {"ecs:Describe*", "ssm:GetParameters"}
    assert [a for a in sorted(actions) if not allowed(a, policy)] == ["ecs:CreateCluster", "ssm:GetParameter"]
    assert allowed("ecs:DescribeServices", policy)


def test_scanner_walks_directories(tmp_path):
    pkg = tmp_path / "controller" / "aws"
    pkg.mkdir(parents=True)
    (pkg / "ecs.py").write_text("def f(c):\n    return c.ecs.describe_tasks(tasks=[])\n")
    (tmp_path / "controller" / "notes.txt").write_text("ecs.delete_cluster()")
    ops = awsops.scan_paths([tmp_path / "controller", tmp_path / "missing"])
    assert [(op.iam_action, op.line) for op in ops] == [("ecs:DescribeTasks", 2)]
