"""Autoscaling: the manifest block, the pure plan around [min, max], and the operator on the sandbox."""
from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest
from pydantic import ValidationError

from fleetctl.controller.autoscaling import AUTOSCALING_TAG
from fleetctl.controller.manifest.models import AutoscalingSpec, ServiceSpec
from fleetctl.controller.plan import (
    ConfigureAutoscalingAction,
    CreateServiceAction,
    RemoveAutoscalingAction,
    ScaleServiceAction,
    plan,
)
from fleetctl.controller.render import render
from tests.controller.test_operator_production import desired, operating, until
from tests.controller.test_plan import FLEET, observed_for

pytestmark = pytest.mark.timeout(300)

SCALING = {"min": 2, "max": 6, "targetTracking": [
    {"metric": "cpu", "target": 60},
    {"metric": "custom", "target": 100, "custom": {"namespace": "Gaming/Queues", "metricName": "Backlog",
                                                   "dimensions": {"queue": "quests"}}},
]}


def autoscaled_fleet():
    services = [s.model_copy(update={"autoscaling": AutoscalingSpec.model_validate(SCALING)}) if s.name == "quest" else s
                for s in FLEET.spec.services]
    return FLEET.model_copy(update={"spec": FLEET.spec.model_copy(update={"services": services})})


def test_manifest_rejects_desired_count_with_autoscaling_and_bad_bounds():
    base = {"name": "quest", "image": "r/quest@sha256:" + "0" * 64}
    with pytest.raises(ValidationError, match="desiredCount: not with autoscaling"):
        ServiceSpec.model_validate({**base, "desiredCount": 3, "autoscaling": SCALING})
    with pytest.raises(ValidationError, match="min .* is above max"):
        ServiceSpec.model_validate({**base, "autoscaling": {**SCALING, "min": 7}})
    with pytest.raises(ValidationError, match="custom: required with metric: custom"):
        ServiceSpec.model_validate({**base, "autoscaling": {**SCALING, "targetTracking": [{"metric": "custom", "target": 5}]}})
    with pytest.raises(ValidationError, match="percentage"):
        ServiceSpec.model_validate({**base, "autoscaling": {**SCALING, "targetTracking": [{"metric": "cpu", "target": 150}]}})


def test_render_shows_the_application_auto_scaling_inputs():
    r = next(r for r in render(autoscaled_fleet()) if r.name == "quest")
    assert r.create_service["desiredCount"] == 2  # created at min
    body = r.as_dict()["autoscaling"]
    assert body["registerScalableTarget"] == {
        "ServiceNamespace": "ecs", "ResourceId": "service/gaming-system-cluster/quest",
        "ScalableDimension": "ecs:service:DesiredCount", "MinCapacity": 2, "MaxCapacity": 6}
    cpu, custom = body["putScalingPolicy"]
    assert cpu["PolicyName"] == "fleetctl-cpu" and cpu["PolicyType"] == "TargetTrackingScaling"
    assert cpu["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
    assert custom["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]["Dimensions"] == [
        {"Name": "queue", "Value": "quests"}]


def _observed_with_count(rendered, count: int, *, scaling_tag: str | None):
    observed = observed_for(rendered, trusted=True, rng=random.Random(1))
    quest = observed.services["quest"]
    tags = dict(quest.tags)
    if scaling_tag is not None:
        tags[AUTOSCALING_TAG] = scaling_tag
    observed.services["quest"] = dataclasses.replace(quest, desired=count, running=count, tags=tags)
    return observed


def test_plan_leaves_the_count_alone_inside_min_max_and_clamps_outside():
    rendered = render(autoscaled_fleet())
    quest = next(r for r in rendered if r.name == "quest")
    for count, want in ((2, None), (4, None), (6, None), (1, 2), (0, 2), (9, 6)):
        p = plan(rendered, _observed_with_count(rendered, count, scaling_tag=quest.autoscaling.hash),
                 fleet_name="gaming-system")
        actions = p.for_service("quest").actions
        if want is None:
            assert p.is_empty, (count, p.as_dict())
        else:
            assert actions == (ScaleServiceAction("quest", count, want),), (count, actions)
    # not configured yet (or configured differently): the target and policies are (re)applied
    p = plan(rendered, _observed_with_count(rendered, 3, scaling_tag="old"), fleet_name="gaming-system")
    assert [type(a) for a in p.for_service("quest").actions] == [ConfigureAutoscalingAction]
    # a new service is created at min, then configured
    p = plan(rendered, _observed_with_count(rendered, 3, scaling_tag=None).__class__(cluster="c"), fleet_name="gaming-system")
    assert [type(a).__name__ for a in p.for_service("quest").actions][-2:] == ["CreateServiceAction",
                                                                               "ConfigureAutoscalingAction"]
    # autoscaling dropped from the manifest: removed, and desiredCount is enforced again
    plain = render(FLEET)
    p = plan(plain, _observed_with_count(plain, 3, scaling_tag="old"), fleet_name="gaming-system")
    kinds = {type(a) for a in p.for_service("quest").actions}
    assert RemoveAutoscalingAction in kinds and ScaleServiceAction in kinds
    assert CreateServiceAction not in kinds


async def test_operator_registers_autoscaling_and_reverts_only_outside_min_max(make_fleet, sandbox_handle):
    fleet = make_fleet(["settings"], settings={"autoscaling": {"min": 1, "max": 3, "targetTracking": [
        {"metric": "cpu", "target": 70}, {"metric": "memory", "target": 80}]}})
    fleet.service("settings").pop("desiredCount", None)
    fleet.write()
    ecs = sandbox_handle.client("ecs")
    aas = sandbox_handle.client("application-autoscaling")
    rid = f"service/{fleet.cluster}/settings"

    def targets():
        return aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])["ScalableTargets"]

    def policies():
        found = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)["ScalingPolicies"]
        return sorted(p["PolicyName"] for p in found if p["ResourceId"] == rid)

    async with operating(fleet.manifest, fleet.outputs) as op:
        await until(lambda: policies() == ["fleetctl-cpu", "fleetctl-memory"], 40)
        t = (await asyncio.to_thread(targets))[0]
        assert (t["MinCapacity"], t["MaxCapacity"]) == (1, 3)
        await until(lambda: ecs.describe_services(cluster=fleet.cluster, services=["settings"])["services"][0]
                    ["runningCount"] == 1, 40)

        # scaled inside [min, max] (as Application Auto Scaling would): left alone
        await asyncio.to_thread(ecs.update_service, cluster=fleet.cluster, service="settings", desiredCount=3)
        passes = op.stats.passes
        await until(lambda: op.stats.passes >= passes + 3, 30)
        assert desired(ecs, fleet.cluster, "settings") == 3
        # outside: brought back to the nearest bound
        await asyncio.to_thread(ecs.update_service, cluster=fleet.cluster, service="settings", desiredCount=5)
        await until(lambda: desired(ecs, fleet.cluster, "settings") == 3, 30)
        await asyncio.to_thread(ecs.update_service, cluster=fleet.cluster, service="settings", desiredCount=0)
        await until(lambda: desired(ecs, fleet.cluster, "settings") == 1, 30)

        # a manifest change of the policies: re-applied, the stale policy removed
        fleet.service("settings")["autoscaling"] = {"min": 1, "max": 4, "targetTracking": [{"metric": "cpu", "target": 50}]}
        fleet.write()
        await until(lambda: targets() and targets()[0]["MaxCapacity"] == 4 and policies() == ["fleetctl-cpu"], 30)
        passes = op.stats.passes
        await until(lambda: op.stats.passes >= passes + 1 and not op._in_flight, 30)
        calls = dict(op.stats.calls)
        passes = op.stats.passes
        await until(lambda: op.stats.passes >= passes + 2, 30)
        # a no-op pass reads nothing from Application Auto Scaling: the tag records what was configured
        assert {k: v for k, v in op.stats.calls.items() if k.startswith("application-autoscaling")} == \
            {k: v for k, v in calls.items() if k.startswith("application-autoscaling")}

        # autoscaling dropped: target and policies removed, desiredCount enforced again
        fleet.service("settings").pop("autoscaling")
        fleet.service("settings")["desiredCount"] = 2
        fleet.write()
        await until(lambda: not targets() and desired(ecs, fleet.cluster, "settings") == 2, 30)
        assert await asyncio.to_thread(policies) == []
