"""Application Auto Scaling operations for ECS services (the scalable target and its policies)."""
from __future__ import annotations

from typing import Any

from fleetctl.controller.aws.client import Aws
from fleetctl.controller.errors import CloudError

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"


async def register_scalable_target(aws: Aws, params: dict[str, Any]) -> None:
    """Create or update (min/max) the target: RegisterScalableTarget is an upsert."""
    await aws.call("application-autoscaling", "register_scalable_target", **params)


async def put_scaling_policy(aws: Aws, params: dict[str, Any]) -> None:
    """Create or replace a policy by name: PutScalingPolicy is an upsert."""
    await aws.call("application-autoscaling", "put_scaling_policy", **params)


async def policy_names(aws: Aws, resource_id: str) -> list[str]:
    policies = await aws.paginate("application-autoscaling", "describe_scaling_policies", "ScalingPolicies",
                                  ServiceNamespace=NAMESPACE, ResourceId=resource_id, ScalableDimension=DIMENSION)
    return [p["PolicyName"] for p in policies if p.get("ResourceId") == resource_id]


async def delete_scaling_policy(aws: Aws, resource_id: str, name: str) -> None:
    try:
        await aws.call("application-autoscaling", "delete_scaling_policy", PolicyName=name,
                       ServiceNamespace=NAMESPACE, ResourceId=resource_id, ScalableDimension=DIMENSION)
    except CloudError as exc:
        if exc.code not in ("ObjectNotFoundException", "ValidationException"):  # already gone
            raise


async def deregister_scalable_target(aws: Aws, resource_id: str) -> None:
    try:
        await aws.call("application-autoscaling", "deregister_scalable_target", ServiceNamespace=NAMESPACE,
                       ResourceId=resource_id, ScalableDimension=DIMENSION)
    except CloudError as exc:
        if exc.code not in ("ObjectNotFoundException", "ValidationException"):  # already gone
            raise
