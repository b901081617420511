"""The controller's IAM policy covers every AWS operation fleetctl's code calls."""
from __future__ import annotations

import fnmatch
import textwrap

import pytest

from fleetctl.controller.render import FLEET_TAG
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


# Checked by AWS on the caller during another call, never called by the code: iam:PassRole
# (a task definition naming roles), the alarms of a target-tracking policy (PutScalingPolicy,
# DeleteScalingPolicy) and the autoscaling service-linked role (first RegisterScalableTarget).
IMPLIED = {"iam:PassRole", "iam:CreateServiceLinkedRole",
           "cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms",
           "s3:GetObjectVersion"}  # GetObject of a given version (an S3 manifest source)


def test_every_service_the_seam_addresses_is_scanned():
    assert awsops.seam_services(SCANNED) <= set(awsops.CLIENTS)


def test_every_granted_action_is_called_by_the_code(policy_actions):
    called = {op.iam_action for op in awsops.scan_paths(SCANNED)}
    unused = sorted(a for a in policy_actions - IMPLIED if not any(allowed(c, {a}) for c in called))
    assert not unused, "granted in terraform/iam_controller.tf but never called under controller/ or cli/: " + ", ".join(unused)


def test_policy_grants_exactly_the_called_actions(policy_actions):
    called = {op.iam_action for op in awsops.scan_paths(SCANNED)}
    assert policy_actions == called | IMPLIED


def _conditions(statement: dict) -> dict[tuple[str, str], list[str]]:
    cfg = tfconfig.load()
    out = {}
    for c in statement.get("condition", []):
        variable = c["variable"].replace("${local.fleet_tag}", cfg.locals["fleet_tag"])
        out[(c["test"], variable)] = c["values"]
    return out


FLEET = "${local.name}"
SERVICES = "${local.fleet_services_arn}"
TASK_DEFS = "${local.fleet_task_defs_arn}"


def test_the_arn_locals_scope_this_cluster_and_this_fleets_families():
    cfg = tfconfig.load()
    assert cfg.locals["fleet_tag"] == FLEET_TAG
    assert cfg.locals["fleet_services_arn"] == "${local.ecs_arn_prefix}:service/${aws_ecs_cluster.main.name}/*"
    assert cfg.locals["fleet_task_defs_arn"] == "${local.ecs_arn_prefix}:task-definition/${local.name}-*:*"


def test_service_writes_are_scoped_by_the_fleet_tag(policy_statements):
    tag = FLEET_TAG
    by_action: dict[str, list[dict]] = {}
    for st in policy_statements:
        assert st.get("effect", "Allow") == "Allow"
        for action in st["actions"]:
            by_action.setdefault(action, []).append(st)
    # a new service must be created with this fleet's tag
    (create,) = by_action["ecs:CreateService"]
    assert create["resources"] == [SERVICES]
    assert _conditions(create)[("StringEquals", f"aws:RequestTag/{tag}")] == [FLEET]
    # updates and deletes only on services that carry it
    for action in ("ecs:UpdateService", "ecs:DeleteService"):
        (st,) = by_action[action]
        assert st["resources"] == [SERVICES]
        assert _conditions(st)[("StringEquals", f"aws:ResourceTag/{tag}")] == [FLEET]
    # task definitions: this fleet's families, with this fleet's tag
    (register,) = by_action["ecs:RegisterTaskDefinition"]
    assert register["resources"] == [TASK_DEFS]
    assert _conditions(register)[("StringEquals", f"aws:RequestTag/{tag}")] == [FLEET]
    # tags: on create (with this fleet's tag), or fleetctl.io/* keys on services that are this
    # fleet's or untagged (adoption), never another fleet's
    for st in by_action["ecs:TagResource"] + by_action["ecs:UntagResource"]:
        cond = _conditions(st)
        assert "*" not in st["resources"]
        if ("StringEquals", "ecs:CreateAction") in cond:
            assert sorted(cond[("StringEquals", "ecs:CreateAction")]) == ["CreateService", "RegisterTaskDefinition"]
            assert cond[("StringEquals", f"aws:RequestTag/{tag}")] == [FLEET]
            assert sorted(st["resources"]) == sorted([SERVICES, TASK_DEFS])
        else:
            assert cond[("StringEqualsIfExists", f"aws:ResourceTag/{tag}")] == [FLEET]
            assert cond[("StringEqualsIfExists", f"aws:RequestTag/{tag}")] == [FLEET]
            assert cond[("ForAllValues:StringLike", "aws:TagKeys")] == ["fleetctl.io/*"]
            assert sorted(st["resources"]) == sorted([SERVICES, "${aws_ecs_cluster.main.arn}"])


def test_policy_is_least_privilege(policy_statements, policy_actions):
    for action in policy_actions:
        assert "*" not in action, f"wildcard action {action}"
        prefix, _, name = action.partition(":")
        assert prefix in set(awsops.IAM_PREFIX.values()) | {"iam"}, action
    writes = {"ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService", "ecs:RegisterTaskDefinition",
              "ecs:TagResource", "ecs:UntagResource"}
    for statement in policy_statements:
        if statement["actions"] == ["iam:PassRole"]:
            assert statement["resources"] == ["${aws_iam_role.task_execution.arn}", "${aws_iam_role.task.arn}"]
            assert statement["condition"][0]["variable"] == "iam:PassedToService"
            assert statement["condition"][0]["values"] == ["ecs-tasks.amazonaws.com"]
        # The lease: item reads and conditional updates on the lease table only.
        if any(a.startswith("dynamodb:") for a in statement["actions"]):
            assert sorted(statement["actions"]) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
            assert statement["resources"] == ["${aws_dynamodb_table.fleet_lock.arn}"]
            continue
        if writes & set(statement["actions"]):
            assert statement["resources"] != ["*"] and statement.get("condition"), statement["sid"]
        if statement["resources"] == ["*"]:
            # only reads that have no resource-level permissions
            assert all(a.split(":")[1].startswith(("Describe", "List")) for a in statement["actions"]), statement["sid"]


def test_controller_role_can_be_assumed_by_its_operator_task():
    cfg = tfconfig.load()
    doc = cfg.data["aws_iam_policy_document"]["controller_assume"]
    (ecs_tasks,) = [s for s in doc["statement"] if s.get("principals", [{}])[0].get("type") == "Service"]
    assert ecs_tasks["actions"] == ["sts:AssumeRole"]
    assert ecs_tasks["principals"][0]["identifiers"] == ["ecs-tasks.amazonaws.com"]
    assert ecs_tasks["condition"][0]["variable"] == "aws:SourceAccount"
    role = cfg.resource("aws_iam_role.controller")
    assert "count" not in role  # the role exists even when no other principal is trusted
    assert role["assume_role_policy"] == "${data.aws_iam_policy_document.controller_assume.json}"


def test_task_definition_families_match_the_tagging_scope():
    # The EcsTagging statement scopes task definitions to "<local.name>-*"; the controller
    # names families "<fleet name>-<service>" and the fleet's name is the project's name.
    import yaml

    from fleetctl.controller.render import family

    manifest = yaml.safe_load(tfconfig.MANIFEST.read_text())
    project = tfconfig.load().variables["project"]["default"]
    assert manifest["metadata"]["name"] == project

    class _Meta:
        name = manifest["metadata"]["name"]

    class _Fleet:
        metadata = _Meta()

    assert fnmatch.fnmatchcase(family(_Fleet(), "payment"), f"{project}-*")


# IAM actions with no API operation of their own name (GetObject with a VersionId).
IAM_ONLY = {"s3:GetObjectVersion"}


def test_every_controller_action_is_a_real_api_operation(policy_actions):
    by_prefix = {v: k for k, v in awsops.IAM_PREFIX.items()}
    for action in policy_actions:
        prefix, _, name = action.partition(":")
        if prefix == "iam" or action in IAM_ONLY:
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


SEAM_SNIPPET = textwrap.dedent(
    '''
    from fleetctl.controller.aws.client import Aws

    async def deploy(aws: Aws, cluster, params, names):
        await aws.call("ecs", "describe_services", cluster=cluster, services=names, include=["TAGS"])
        arns = await aws.paginate("ecs", "list_services", "serviceArns", cluster=cluster)
        await self.aws.call("ecs", "register_task_definition", **params)
        await ctx.clients.aws.paginate("ecs", "list_tasks", "taskArns", cluster=cluster)
        await aws.call("ecr", "describe_images", repositoryName="gaming/auth", imageIds=[])
        await aws.call("elbv2", "describe_target_health", TargetGroupArn="t")

    async def not_aws(aws, service, operation, rpc):
        await aws.call(service, "describe_services")      # service not a literal
        await aws.call("ecs", operation)                  # operation not a literal
        await aws.call("ecs", "DescribeServices")         # not the snake_case method name
        await aws.call("ecs", "close")                    # not an operation of the ecs model
        await aws.call("sqs", "list_queues")              # not one of the known services
        await aws.call("ecs")                             # too few arguments
        await rpc.call("settings.get", "payload")         # some other .call(str, str)
        await aws.invoke("ecs", "delete_cluster")         # not a seam method
    '''
)


def test_scanner_finds_seam_calls_in_a_snippet():
    ops = awsops.scan_source(SEAM_SNIPPET, "seam.py")
    assert {op.iam_action for op in ops} == {
        "ecs:DescribeServices",
        "ecs:ListServices",
        "ecs:RegisterTaskDefinition",
        "ecs:ListTasks",
        "ecr:DescribeImages",
        "elasticloadbalancing:DescribeTargetHealth",
    }
    lines = {op.iam_action: op.line for op in ops}
    assert lines["ecs:ListServices"] == SEAM_SNIPPET.splitlines().index(
        '    arns = await aws.paginate("ecs", "list_services", "serviceArns", cluster=cluster)'
    ) + 1


def test_scanner_keeps_both_forms_in_one_file():
    source = SNIPPET + SEAM_SNIPPET.replace("from controller.aws.client import Aws", "")
    actions = {op.iam_action for op in awsops.scan_source(source)}
    assert {"logs:FilterLogEvents", "sts:GetCallerIdentity", "ecs:ListTasks", "ecr:DescribeImages"} <= actions


def test_real_scan_finds_the_controller_seam_calls(policy_actions):
    ops = awsops.scan_paths(SCANNED)
    found = {op.iam_action for op in ops}
    # Called only through aws.call/aws.paginate in controller/aws/ (the seam).
    expected = {
        "ecs:DescribeServices", "ecs:RegisterTaskDefinition", "ecs:CreateService", "ecs:UpdateService",
        "ecs:TagResource", "ecs:DeleteService", "ecs:ListTasks", "ecs:DescribeTasks",
        "ecs:DescribeTaskDefinition", "ecs:ListServices", "ecr:DescribeImages",
    }
    assert expected <= found, sorted(expected - found)
    seam = {op.iam_action for op in ops if op.path.endswith("controller/aws/ecs.py")}
    assert expected <= seam, sorted(expected - seam)
    assert all(allowed(action, policy_actions) for action in expected)


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
