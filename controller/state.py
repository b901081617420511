"""Observed state (`*State`): what AWS reports, in our own shapes, never botocore dicts."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DeploymentState:
    id: str
    status: str  # PRIMARY | ACTIVE | INACTIVE
    task_definition: str
    desired: int
    running: int
    pending: int
    failed_tasks: int
    rollout_state: str | None  # IN_PROGRESS | COMPLETED | FAILED
    rollout_reason: str | None
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class ServiceEvent:
    id: str
    created_at: datetime | None
    message: str


@dataclass(frozen=True)
class ServiceState:
    name: str
    arn: str
    status: str  # ACTIVE | DRAINING | INACTIVE
    task_definition: str
    desired: int
    running: int
    pending: int
    launch_type: str | None
    network: dict[str, Any] | None
    deployment_configuration: dict[str, Any]
    tags: dict[str, str]
    deployments: tuple[DeploymentState, ...] = ()
    events: tuple[ServiceEvent, ...] = ()
    created_at: datetime | None = None

    @property
    def primary(self) -> DeploymentState | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)


@dataclass(frozen=True)
class TaskState:
    arn: str
    service: str | None
    task_definition: str
    last_status: str
    desired_status: str
    stop_code: str | None
    stopped_reason: str | None
    containers: tuple["ContainerState", ...]
    created_at: datetime | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    group: str | None = None
    health_status: str | None = None  # HEALTHY | UNHEALTHY | UNKNOWN (no check, or not yet checked)

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ContainerState:
    name: str
    exit_code: int | None
    reason: str | None
    last_status: str | None


@dataclass(frozen=True)
class ObservedFleet:
    """The live state of a fleet's services: those the manifest names, and owned extras."""

    cluster: str
    services: dict[str, ServiceState] = field(default_factory=dict)
    # task definition ARN (or family:revision) -> RegisterTaskDefinition-shaped dict
    task_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # services tagged as owned by this fleet that the manifest does not list
    orphans: dict[str, ServiceState] = field(default_factory=dict)


def family_revision(task_definition: str) -> str:
    """`arn:...:task-definition/fam:3` or `fam:3` -> `fam:3`."""
    return task_definition.rsplit("/", 1)[-1]


def family_of(task_definition: str) -> str:
    return family_revision(task_definition).split(":", 1)[0]
