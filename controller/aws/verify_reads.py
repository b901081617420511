"""Reads for `fleetctl verify`: does each resource a task definition names exist, and what do
the roles allow. Each returns fleetctl's own values; "missing" is None or False, never an error."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from fleetctl.controller.aws.client import Aws
from fleetctl.controller.errors import CloudError

_MISSING = {"ImageNotFoundException", "RepositoryNotFoundException", "NoSuchEntity", "ResourceNotFoundException",
            "ParameterNotFound", "ClusterNotFoundException", "InvalidSubnetID.NotFound", "InvalidGroup.NotFound"}


def _missing(exc: CloudError) -> bool:
    return exc.code in _MISSING


async def image_exists(aws: Aws, repository: str, *, digest: str | None = None, tag: str | None = None) -> bool:
    """Whether ECR holds the image (by digest, else by tag) in `repository`."""
    image_id = {"imageDigest": digest} if digest else {"imageTag": tag or "latest"}
    try:
        resp = await aws.call("ecr", "describe_images", repositoryName=repository, imageIds=[image_id])
    except CloudError as exc:
        if _missing(exc):
            return False
        raise
    return bool(resp.get("imageDetails"))


@dataclass(frozen=True)
class RoleState:
    arn: str
    name: str
    trust: dict[str, Any]
    policies: list[dict[str, Any]] = field(default_factory=list)   # identity policy documents, inline and attached


def _document(doc: Any) -> dict[str, Any]:
    if isinstance(doc, str):
        doc = json.loads(unquote(doc))
    return doc if isinstance(doc, dict) else {}


async def describe_role(aws: Aws, arn: str) -> RoleState | None:
    """The role with its trust policy and every identity policy document; None if it does not exist."""
    name = arn.rsplit("/", 1)[-1]
    try:
        role = (await aws.call("iam", "get_role", RoleName=name))["Role"]
    except CloudError as exc:
        if _missing(exc):
            return None
        raise
    policies: list[dict[str, Any]] = []
    for pname in await aws.paginate("iam", "list_role_policies", "PolicyNames", RoleName=name):
        doc = (await aws.call("iam", "get_role_policy", RoleName=name, PolicyName=pname))["PolicyDocument"]
        policies.append(_document(doc))
    for attached in await aws.paginate("iam", "list_attached_role_policies", "AttachedPolicies", RoleName=name):
        policy = (await aws.call("iam", "get_policy", PolicyArn=attached["PolicyArn"]))["Policy"]
        version = await aws.call("iam", "get_policy_version", PolicyArn=attached["PolicyArn"],
                                 VersionId=policy["DefaultVersionId"])
        policies.append(_document(version["PolicyVersion"]["Document"]))
    return RoleState(role["Arn"], role["RoleName"], _document(role.get("AssumeRolePolicyDocument", {})), policies)


async def secret_exists(aws: Aws, value_from: str) -> bool:
    """A Secrets Manager secret (ARN, optionally with a JSON key suffix) or an SSM parameter (ARN or
    name) exists. Its value is never read."""
    if value_from.startswith("arn:") and ":secretsmanager:" in value_from:
        try:
            await aws.call("secretsmanager", "describe_secret", SecretId=secret_arn(value_from))
        except CloudError as exc:
            if _missing(exc):
                return False
            raise
        return True
    name = parameter_name(value_from)
    resp = await aws.call("ssm", "describe_parameters",
                          ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])
    return bool(resp.get("Parameters"))


def secret_arn(value_from: str) -> str:
    """The secret's ARN without ECS's `:json-key:version-stage:version-id` suffix."""
    return ":".join(value_from.split(":")[:7])


def parameter_name(value_from: str) -> str:
    if value_from.startswith("arn:"):
        rest = value_from.split(":parameter", 1)[-1]      # "/name" or "/path/name"
        return rest[1:] if rest.count("/") == 1 else rest
    return value_from


async def cluster_status(aws: Aws, cluster: str) -> str | None:
    resp = await aws.call("ecs", "describe_clusters", clusters=[cluster])
    found = resp.get("clusters", [])
    return found[0].get("status") if found else None


async def log_group_exists(aws: Aws, group: str) -> bool:
    resp = await aws.call("logs", "describe_log_groups", logGroupNamePrefix=group)
    return any(g.get("logGroupName") == group for g in resp.get("logGroups", []))


async def existing_subnets(aws: Aws, subnet_ids: list[str]) -> set[str]:
    """The subnets of `subnet_ids` that exist (a filter, so one missing id does not hide the others)."""
    if not subnet_ids:
        return set()
    resp = await aws.call("ec2", "describe_subnets", Filters=[{"Name": "subnet-id", "Values": sorted(set(subnet_ids))}])
    return {s["SubnetId"] for s in resp.get("Subnets", [])}


async def existing_security_groups(aws: Aws, group_ids: list[str]) -> set[str]:
    if not group_ids:
        return set()
    resp = await aws.call("ec2", "describe_security_groups",
                          Filters=[{"Name": "group-id", "Values": sorted(set(group_ids))}])
    return {g["GroupId"] for g in resp.get("SecurityGroups", [])}
