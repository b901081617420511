"""A service's settings after `spec.defaults` are applied: what render and lint work from."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from fleetctl.controller.manifest.models import (
    DeploymentSpec,
    Fleet,
    HealthCheckSpec,
    LogsSpec,
    NetworkSpec,
    ServiceSpec,
    SubjectSpec,
)


@dataclass(frozen=True)
class EffectiveService:
    name: str
    image: str
    desired_count: int
    command: list[str] | None
    entry_point: list[str] | None
    environment: dict[str, str]
    secrets: dict[str, str]
    subjects: list[SubjectSpec]
    depends_on: list[str]
    ports: list[int]
    health_check: HealthCheckSpec | None
    docker_labels: dict[str, str]
    launch_type: str
    cpu: int
    memory: int
    network: NetworkSpec | None
    execution_role_arn: str | None
    task_role_arn: str | None
    logs: LogsSpec | None
    deployment: DeploymentSpec


class Placement(NamedTuple):
    """Where and how large a service's tasks run, after `spec.defaults`: what lint checks."""

    launch_type: str
    cpu: int
    memory: int
    network: NetworkSpec | None
    execution_role_arn: str | None
    logs: LogsSpec | None


def placement(fleet: Fleet, svc: ServiceSpec) -> Placement:
    d = fleet.spec.defaults
    return Placement(
        svc.launch_type or d.launch_type,
        svc.cpu if svc.cpu is not None else d.cpu,
        svc.memory if svc.memory is not None else d.memory,
        svc.network or d.network,
        svc.execution_role_arn or d.execution_role_arn,
        svc.logs or d.logs,
    )


def effective(fleet: Fleet, svc: ServiceSpec) -> EffectiveService:
    d = fleet.spec.defaults
    where = placement(fleet, svc)
    return EffectiveService(
        name=svc.name,
        image=svc.image,
        desired_count=svc.desired_count,
        command=svc.command,
        entry_point=svc.entry_point,
        environment={**d.environment, **svc.environment},
        secrets=dict(svc.secrets),
        subjects=list(svc.subjects),
        depends_on=list(svc.depends_on),
        ports=list(svc.ports),
        health_check=_health_check(svc.health_check, d.health_check),
        docker_labels=dict(svc.docker_labels),
        launch_type=where.launch_type,
        cpu=where.cpu,
        memory=where.memory,
        network=where.network,
        execution_role_arn=where.execution_role_arn,
        task_role_arn=svc.task_role_arn or d.task_role_arn,
        logs=where.logs,
        deployment=svc.deployment or d.deployment,
    )


def _health_check(own: HealthCheckSpec | bool | None, default: HealthCheckSpec | bool) -> HealthCheckSpec | None:
    """The service's own check, `false` for none, or unset: the fleet default (which may be `false`)."""
    chosen = default if own is None else own
    return chosen if isinstance(chosen, HealthCheckSpec) else None
