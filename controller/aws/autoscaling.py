"""Application Auto Scaling operations for ECS services (the scalable target and its policies)."""
from __future__ import annotations

from typing import Any

from fleetctl.controller.aws.client import Aws
from fleetctl.controller.errors import CloudError
from fleetctl.controller.manifest.models import TargetTrackingSpec

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"
_PREDEFINED = {"cpu": "ECSServiceAverageCPUUtilization", "memory": "ECSServiceAverageMemoryUtilization"}


def scalable_target_request(resource_id: str, min_capacity: int, max_capacity: int) -> dict[str, Any]:
    """RegisterScalableTarget's input."""
    return {"ServiceNamespace": NAMESPACE, "ResourceId": resource_id, "ScalableDimension": DIMENSION,
            "MinCapacity": min_capacity, "MaxCapacity": max_capacity}


def scaling_policy_request(resource_id: str, name: str, t: TargetTrackingSpec) -> dict[str, Any]:
    """PutScalingPolicy's input: one target-tracking policy."""
    config: dict[str, Any] = {"TargetValue": float(t.target), "ScaleInCooldown": t.scale_in_cooldown,
                              "ScaleOutCooldown": t.scale_out_cooldown, "DisableScaleIn": t.disable_scale_in}
    if t.custom is None:
        config["PredefinedMetricSpecification"] = {"PredefinedMetricType": _PREDEFINED[t.metric]}
    else:
        metric: dict[str, Any] = {
            "MetricName": t.custom.metric_name, "Namespace": t.custom.namespace, "Statistic": t.custom.statistic,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(t.custom.dimensions.items())],
        }
        if t.custom.unit:
            metric["Unit"] = t.custom.unit
        config["CustomizedMetricSpecification"] = metric
    return {"PolicyName": name, "ServiceNamespace": NAMESPACE, "ResourceId": resource_id,
            "ScalableDimension": DIMENSION, "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": config}


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
