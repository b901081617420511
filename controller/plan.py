"""plan(desired, observed) -> Plan. Pure: no I/O, no clock, no AWS.

A Plan is a frozen value: per service, the typed actions that bring ECS to the manifest.
A dry run is a Plan that is rendered and not applied.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Union

import yaml

from fleetctl.controller import normalize
from fleetctl.controller.autoscaling import resource_id
from fleetctl.controller.aws import ecs_requests
from fleetctl.controller.errors import FleetError
from fleetctl.controller.render import RenderedService
from fleetctl.controller.settings import API_NAME, UPDATABLE, ServiceSettings, TaskDefinition
from fleetctl.controller.state import ObservedFleet, ServiceState, family_revision
from fleetctl.controller.tags import AUTOSCALING_TAG, FLEET_TAG, PREVIOUS_TAG, TASK_DEF_TAG, TD_HASH_TAG  # noqa: F401


@dataclass(frozen=True)
class RegisterTaskDefinitionAction:
    service: str
    task_definition: TaskDefinition
    diff: str
    # a revision that may already hold this content (the one fleetctl gave the service before a
    # rollback, or the family's latest for a new service): reused instead of registering again
    reuse_candidate: str | None = None

    kind = "register-task-definition"

    def summary(self) -> str:
        return f"register {self.task_definition.family}"


@dataclass(frozen=True)
class CreateServiceAction:
    service: str
    settings: ServiceSettings
    diff: str

    kind = "create-service"

    def summary(self) -> str:
        return f"create service (desired {self.settings.desired_count})"


@dataclass(frozen=True)
class UpdateServiceAction:
    service: str
    # what changes, by API name, old -> new as the request carries it (for the plan's reader);
    # "taskDefinition"'s new value is the revision the same plan registers, known at apply time
    changes: dict[str, tuple[Any, Any]]
    settings: ServiceSettings    # the wanted settings: the update sends `fields` of them
    fields: tuple[str, ...]      # the settings that change (controller.settings.UPDATABLE names)
    uses_new_task_definition: bool

    kind = "update-service"

    def summary(self) -> str:
        return "update " + ", ".join(sorted(self.changes))


@dataclass(frozen=True)
class ScaleServiceAction:
    service: str
    old: int
    new: int

    kind = "scale"

    def summary(self) -> str:
        return f"scale {self.old} -> {self.new}"


@dataclass(frozen=True)
class ConfigureAutoscalingAction:
    """Register the scalable target and its policies (after the service exists), record the hash."""

    service: str
    arn: str | None          # None: the service is created by the same plan
    scaling: Any             # controller.autoscaling.RenderedScaling

    kind = "configure-autoscaling"

    def summary(self) -> str:
        return f"autoscaling {self.scaling.min}..{self.scaling.max}"


@dataclass(frozen=True)
class RemoveAutoscalingAction:
    service: str
    arn: str
    resource_id: str

    kind = "remove-autoscaling"

    def summary(self) -> str:
        return "remove autoscaling"


@dataclass(frozen=True)
class TagServiceAction:
    """Record what the service was given: fleet, spec hash, revision and the one before it.

    Written once the rollout holds (or at once without waiting), in a single TagResource.
    """

    service: str
    arn: str
    td_hash: str
    # family:revision the service runs after this plan; None when the plan registers a new one
    task_definition: str | None
    previous: str | None = None

    kind = "tag"

    def summary(self) -> str:
        return f"record task definition {self.td_hash}"

    def tags(self, fleet_name: str, registered: str | None) -> dict[str, str]:
        tags = {FLEET_TAG: fleet_name, TD_HASH_TAG: self.td_hash}
        td = self.task_definition or registered
        if td:
            tags[TASK_DEF_TAG] = family_revision(td)
        if self.previous:
            tags[PREVIOUS_TAG] = self.previous
        return tags


@dataclass(frozen=True)
class AdoptServiceAction:
    """Take over a service that is untagged or tagged as another fleet's (`--adopt`): tag it as
    this fleet's before anything else, so every later write is on a service this fleet owns."""

    service: str
    arn: str
    owner: str | None   # the fleet that owned it, None when untagged

    kind = "adopt"

    def summary(self) -> str:
        return f"adopt (owned by fleet {self.owner})" if self.owner else "adopt (untagged)"


@dataclass(frozen=True)
class OwnershipConflict:
    """A service the manifest names that exists and is not this fleet's: plan/apply leave it alone."""

    service: str
    owner: str | None   # its fleetctl.io/fleet tag, None when untagged

    def message(self) -> str:
        whose = f"owned by fleet {self.owner!r}" if self.owner else f"not tagged {FLEET_TAG}"
        return (f"service {self.service} exists and is {whose}; not touched "
                f"(take it over with --adopt {self.service})")

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "owner": self.owner, "message": self.message()}


class OwnershipError(FleetError):
    """apply refuses a plan with ownership conflicts: nothing is written."""

    def __init__(self, conflicts: tuple[OwnershipConflict, ...]):
        self.conflicts = conflicts
        super().__init__("\n".join(c.message() for c in conflicts))


@dataclass(frozen=True)
class DeleteServiceAction:
    service: str
    arn: str
    desired: int

    kind = "delete-service"

    def summary(self) -> str:
        return f"delete (scale {self.desired} -> 0, then delete)"


Action = Union[
    AdoptServiceAction, RegisterTaskDefinitionAction, CreateServiceAction, UpdateServiceAction,
    ScaleServiceAction, TagServiceAction, DeleteServiceAction, ConfigureAutoscalingAction, RemoveAutoscalingAction,
]


@dataclass(frozen=True)
class ServicePlan:
    service: str
    actions: tuple[Action, ...]

    @property
    def rolls_out(self) -> bool:
        """Whether applying this makes ECS start or stop tasks that must be waited for."""
        return any(isinstance(a, (CreateServiceAction, UpdateServiceAction, ScaleServiceAction)) for a in self.actions)


@dataclass(frozen=True)
class Plan:
    cluster: str
    services: tuple[ServicePlan, ...]
    orphans: tuple[str, ...] = ()
    in_sync: tuple[str, ...] = field(default_factory=tuple)
    # services the manifest names that belong to another fleet or to none (not adopted)
    conflicts: tuple[OwnershipConflict, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not any(sp.actions for sp in self.services) and not self.conflicts

    def for_service(self, name: str) -> ServicePlan | None:
        return self._by_service.get(name)

    @cached_property
    def _by_service(self) -> dict[str, ServicePlan]:
        # built once: a look-up per service (dependency gating) does not scan the plan
        index: dict[str, ServicePlan] = {}
        for sp in self.services:
            index.setdefault(sp.service, sp)
        return index

    def as_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "inSync": self.is_empty,
            "services": [
                {
                    "service": sp.service,
                    "actions": [_action_dict(a) for a in sp.actions],
                }
                for sp in self.services if sp.actions
            ],
            "unchanged": list(self.in_sync),
            "orphans": list(self.orphans),
            "conflicts": [c.as_dict() for c in self.conflicts],
        }


def _action_dict(a: Action) -> dict[str, Any]:
    out: dict[str, Any] = {"type": a.kind, "summary": a.summary()}
    if isinstance(a, UpdateServiceAction):
        out["changes"] = {k: {"from": old, "to": new} for k, (old, new) in a.changes.items()}
    if isinstance(a, ScaleServiceAction):
        out["changes"] = {"desiredCount": {"from": a.old, "to": a.new}}
    if isinstance(a, (RegisterTaskDefinitionAction, CreateServiceAction)) and a.diff:
        out["diff"] = a.diff
    return out


def plan(
    desired: list[RenderedService],
    observed: ObservedFleet,
    *,
    fleet_name: str,
    prune: bool = False,
    adopt: frozenset[str] | set[str] = frozenset(),
) -> Plan:
    """Compare each rendered service with what ECS runs and list the actions that close the gap.

    A live service that is not this fleet's (another fleet's tag, or none) is a conflict and
    gets no action, unless it is named in `adopt`: then it is tagged as this fleet's first."""
    services: list[ServicePlan] = []
    in_sync: list[str] = []
    conflicts: list[OwnershipConflict] = []
    for r in desired:
        current = observed.services.get(r.name)
        owner = current.tags.get(FLEET_TAG) if current is not None and current.status != "INACTIVE" else fleet_name
        if owner != fleet_name and r.name not in adopt:
            conflicts.append(OwnershipConflict(r.name, owner))
            services.append(ServicePlan(r.name, ()))
            continue
        actions = plan_service(r, current, observed, fleet_name=fleet_name)
        if owner != fleet_name:
            assert current is not None
            actions.insert(0, AdoptServiceAction(r.name, current.arn, owner))
        services.append(ServicePlan(r.name, tuple(actions)))
        if not actions:
            in_sync.append(r.name)
    orphans = tuple(sorted(observed.orphans))
    if prune:
        for name in orphans:
            s = observed.orphans[name]
            services.append(ServicePlan(name, (DeleteServiceAction(name, s.arn, s.desired),)))
    return Plan(observed.cluster, tuple(services), orphans=orphans, in_sync=tuple(in_sync),
                conflicts=tuple(conflicts))


def plan_service(r: RenderedService, current: ServiceState | None, observed: ObservedFleet, *,
                 fleet_name: str) -> list[Action]:
    if current is None or current.status == "INACTIVE":
        desired_td = normalize.task_definition(r.register_task_definition)
        return [
            RegisterTaskDefinitionAction(r.name, r.settings.task_definition, _diff(None, desired_td),
                                         reuse_candidate=r.settings.task_definition.family),
            CreateServiceAction(r.name, r.settings, _diff(None, _service_view(r.create_service))),
            *([ConfigureAutoscalingAction(r.name, None, r.autoscaling)] if r.autoscaling is not None else []),
        ]

    actions: list[Action] = []
    td_changed = False
    if not recorded_as_desired(r, current):  # normalised only here: a fleet in sync skips it
        desired_td = normalize.task_definition(r.register_task_definition)
        live = observed.task_definitions.get(current.task_definition) or observed.task_definitions.get(
            family_revision(current.task_definition))
        live_td = normalize.task_definition(live) if live is not None else None
        if live is None or live_td != desired_td:
            # not read (apply skips reading what its tags already show as changed): register
            td_changed = True
            diff = _diff(live_td, desired_td) if live is not None else ""
            recorded = current.tags.get(TASK_DEF_TAG)
            candidate = (recorded if recorded and recorded != family_revision(current.task_definition)
                         and current.tags.get(TD_HASH_TAG) == r.td_hash else None)
            actions.append(RegisterTaskDefinitionAction(r.name, r.settings.task_definition, diff, candidate))

    want = r.settings
    if r.autoscaling is not None:  # autoscaling moves the count; only outside [min, max] it is brought back
        want = replace(want, desired_count=r.autoscaling.clamp(current.desired))
    fields = changed_settings(want, current)
    changes: dict[str, tuple[Any, Any]] = {}
    if td_changed:
        changes["taskDefinition"] = (family_revision(current.task_definition), want.task_definition.family + ":<new>")
    for name, (old, new) in fields.items():
        changes[API_NAME[name]] = (ecs_requests.api_value(name, old), ecs_requests.api_value(name, new))

    if not td_changed and set(fields) == {"desired_count"}:
        actions.append(ScaleServiceAction(r.name, current.desired, want.desired_count))
    elif changes:
        actions.append(UpdateServiceAction(r.name, changes, want, tuple(fields), uses_new_task_definition=td_changed))

    live = family_revision(current.task_definition)
    previous = current.tags.get(PREVIOUS_TAG)
    primary = current.primary
    if td_changed and primary is not None and primary.rollout_state in (None, "COMPLETED"):
        previous = live  # what runs now completed its rollout: the revision to go back to
    elif not td_changed and not record_is_current(current) and current.tags.get(TASK_DEF_TAG):
        # the live revision already holds the manifest's content but was never recorded (a run
        # stopped between UpdateService and the tag): the recorded revision is the one before it
        previous = current.tags[TASK_DEF_TAG]
    tag = TagServiceAction(r.name, current.arn, r.td_hash, None if td_changed else live, previous)
    if td_changed or any(current.tags.get(k) != v for k, v in tag.tags(fleet_name, None).items()):
        actions.append(tag)
    recorded_scaling = current.tags.get(AUTOSCALING_TAG)
    if r.autoscaling is not None and recorded_scaling != r.autoscaling.hash:
        actions.append(ConfigureAutoscalingAction(r.name, current.arn, r.autoscaling))
    elif r.autoscaling is None and recorded_scaling is not None:
        actions.append(RemoveAutoscalingAction(r.name, current.arn, resource_id(observed.cluster, r.name)))
    return actions


def changed_settings(want: ServiceSettings, live: ServiceState) -> dict[str, tuple[Any, Any]]:
    """The updatable settings that differ, field by field: name -> (live, wanted). A setting the
    manifest leaves unset (None) is left as it is."""
    have = normalize.service_settings(live)
    out: dict[str, tuple[Any, Any]] = {}
    for name in UPDATABLE:
        wanted = getattr(want, name)
        if wanted is not None and have[name] != wanted:
            out[name] = (have[name], wanted)
    return out


def record_is_current(svc: ServiceState) -> bool:
    """The service's tags describe its live revision (whatever content they record). When they do
    not — missing, or naming another revision — only the live task definition itself can say
    whether it already holds the manifest's content."""
    return (svc.tags.get(TASK_DEF_TAG) == family_revision(svc.task_definition)
            and TD_HASH_TAG in svc.tags)


def recorded_as_desired(r: RenderedService, svc: ServiceState) -> bool:
    """The service's tags show that its live revision holds exactly the rendered task definition."""
    return (svc.tags.get(TASK_DEF_TAG) == family_revision(svc.task_definition)
            and svc.tags.get(TD_HASH_TAG) == r.td_hash)


def _service_view(create: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in create.items() if k not in ("cluster", "tags", "clientToken")}


def _yaml(obj: Any) -> list[str]:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=120).splitlines(keepends=True)


def _diff(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    a = _yaml(old) if old is not None else []
    return "".join(difflib.unified_diff(a, _yaml(new), "live", "manifest", n=3))
