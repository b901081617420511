"""Autoscaling of a service: its Application Auto Scaling target and policies, and how they are applied.

A service with `autoscaling` gets one scalable target (`ecs:service:DesiredCount`, min/max)
and a target-tracking policy per metric, named `fleetctl-<metric>`. What was configured is
recorded as a content hash in the service tag `fleetctl.io/autoscaling`, so a no-op pass reads
nothing from Application Auto Scaling: a changed hash (or a missing tag) reconfigures, a tag
without `autoscaling` in the manifest removes the target and fleetctl's policies.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fleetctl.controller.manifest.models import AutoscalingSpec, TargetTrackingSpec
from fleetctl.controller.tags import AUTOSCALING_TAG  # noqa: F401  (imported from here too)

POLICY_PREFIX = "fleetctl-"


@dataclass(frozen=True)
class RenderedScaling:
    min: int
    max: int
    resource_id: str
    register_scalable_target: dict[str, Any]
    put_scaling_policies: tuple[dict[str, Any], ...]
    hash: str

    def clamp(self, count: int) -> int:
        """The count plan wants: the live one when inside [min, max], else the nearest bound."""
        return min(max(count, self.min), self.max)

    def as_dict(self) -> dict[str, Any]:
        return {"registerScalableTarget": self.register_scalable_target,
                "putScalingPolicy": list(self.put_scaling_policies)}


def resource_id(cluster: str, service: str) -> str:
    return f"service/{cluster.rsplit('/', 1)[-1]}/{service}"


def policy_name(t: TargetTrackingSpec) -> str:
    if t.custom is None:
        return POLICY_PREFIX + t.metric
    return POLICY_PREFIX + "custom-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{t.custom.namespace}-{t.custom.metric_name}")


def render_scaling(cluster: str, service: str, spec: AutoscalingSpec) -> RenderedScaling:
    """The requests (built by the AWS seam, controller/aws/autoscaling.py) and their content hash."""
    from fleetctl.controller.aws import autoscaling as aas
    from fleetctl.controller.render import content_hash

    rid = resource_id(cluster, service)
    target = aas.scalable_target_request(rid, spec.min, spec.max)
    policies = tuple(aas.scaling_policy_request(rid, policy_name(t), t) for t in spec.target_tracking)
    return RenderedScaling(spec.min, spec.max, rid, target, policies,
                           content_hash({"target": target, "policies": list(policies)}))


async def configure(aws: Any, scaling: RenderedScaling, arn: str) -> None:
    """Register the target, upsert the policies, drop fleetctl's stale ones, then record the hash."""
    from fleetctl.controller.aws import autoscaling as aas, ecs

    await aas.register_scalable_target(aws, scaling.register_scalable_target)
    existing = await aas.policy_names(aws, scaling.resource_id)
    for policy in scaling.put_scaling_policies:
        await aas.put_scaling_policy(aws, policy)
    wanted = {p["PolicyName"] for p in scaling.put_scaling_policies}
    for name in existing:
        if name.startswith(POLICY_PREFIX) and name not in wanted:
            await aas.delete_scaling_policy(aws, scaling.resource_id, name)
    await ecs.tag_resource(aws, arn, {AUTOSCALING_TAG: scaling.hash})


async def remove(aws: Any, rid: str, arn: str) -> None:
    """Remove fleetctl's policies and the scalable target; the count stays where it is."""
    from fleetctl.controller.aws import autoscaling as aas, ecs

    for name in await aas.policy_names(aws, rid):
        if name.startswith(POLICY_PREFIX):
            await aas.delete_scaling_policy(aws, rid, name)
    await aas.deregister_scalable_target(aws, rid)
    await ecs.untag_resource(aws, arn, [AUTOSCALING_TAG])
