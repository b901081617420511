"""Execute one service's planned actions against ECS, in order (apply and the operator).

Each action is one write through the AWS seam (`controller/aws/ecs.py`, whose requests come from
`controller/aws/ecs_requests.py`). The record of what the service was given (its tags) is
written at once, or handed back to be written once the rollout holds (`Policy.tag_after_hold`).
"""
from __future__ import annotations

from dataclasses import dataclass

from fleetctl.controller import autoscaling
from fleetctl.controller.aws import ecs
from fleetctl.controller.aws.protocol import AwsApi
from fleetctl.controller.canary import CanaryAction
from fleetctl.controller.plan import (
    AdoptServiceAction,
    ConfigureAutoscalingAction,
    CreateServiceAction,
    DeleteServiceAction,
    RegisterTaskDefinitionAction,
    RemoveAutoscalingAction,
    ScaleServiceAction,
    ServicePlan,
    TagServiceAction,
    UpdateServiceAction,
)
from fleetctl.controller.state import family_revision
from fleetctl.controller.tags import FLEET_TAG, TASK_DEF_TAG


@dataclass(frozen=True)
class PendingTags:
    """Tags to write on a service once its rollout holds."""

    arn: str
    tags: dict[str, str]


@dataclass
class _Progress:
    registered: str | None = None    # the revision a RegisterTaskDefinitionAction gave
    created_arn: str = ""
    target: str | None = None        # the revision the service should run
    pending: PendingTags | None = None


async def execute_service_plan(aws: AwsApi, cluster: str, fleet_name: str, sp: ServicePlan, *,
                               tag: bool = True, done: list[str] | None = None) -> tuple[str | None, PendingTags | None]:
    """Run one service's actions in order.

    Returns the family:revision the service should now run, and the tags still to write when
    `tag` is False (the caller writes them once the rollout holds). Each action that completed
    is appended to `done` (its summary), so a failure can say what was and was not done.
    """
    done = done if done is not None else []
    p = _Progress()
    for action in sp.actions:
        if isinstance(action, RegisterTaskDefinitionAction):
            p.registered = p.target = await ecs.register_task_definition_once(
                aws, action.task_definition, candidate=action.reuse_candidate)
            done.append(f"{action.summary()}: {family_revision(p.registered)}")
            continue
        if isinstance(action, CanaryAction):
            continue  # carried out by controller/canary_run.py once the revision is registered
        if isinstance(action, TagServiceAction):
            tags = action.tags(fleet_name, p.registered)
            p.target = p.target or tags.get(TASK_DEF_TAG)
            if not tag:
                p.pending = PendingTags(action.arn, tags)
                continue  # written by the caller once the rollout holds
            await ecs.tag_resource(aws, action.arn, tags)
        else:
            await _write(aws, cluster, fleet_name, action, p)
        done.append(action.summary())
    return (family_revision(p.target) if p.target else None), p.pending


async def _write(aws: AwsApi, cluster: str, fleet_name: str, action: object, p: _Progress) -> None:
    if isinstance(action, AdoptServiceAction):  # first: every later write is on an owned service
        await ecs.tag_resource(aws, action.arn, {FLEET_TAG: fleet_name})
    elif isinstance(action, CreateServiceAction):
        td = p.registered or action.settings.task_definition.family
        svc = await ecs.create_service(aws, action.settings, td, recorded=family_revision(td))
        p.created_arn = svc.arn
        p.target = family_revision(svc.task_definition or p.registered or action.settings.task_definition.family)
    elif isinstance(action, UpdateServiceAction):
        if action.uses_new_task_definition:
            assert p.registered is not None
        await ecs.update_service(aws, cluster, action.service, settings=action.settings, fields=action.fields,
                                 task_definition=p.registered if action.uses_new_task_definition else None)
    elif isinstance(action, ScaleServiceAction):
        await ecs.update_service(aws, cluster, action.service, desired_count=action.new)
    elif isinstance(action, DeleteServiceAction):
        await ecs.delete_service(aws, cluster, action.service)
    elif isinstance(action, ConfigureAutoscalingAction):
        await autoscaling.configure(aws, action.scaling, action.arn or p.created_arn)
    elif isinstance(action, RemoveAutoscalingAction):
        await autoscaling.remove(aws, action.resource_id, action.arn)
    else:
        raise TypeError(f"unknown action {action!r}")


async def write_tags(aws: AwsApi, pending: PendingTags | None) -> None:
    if pending is not None:
        await ecs.tag_resource(aws, pending.arn, pending.tags)
