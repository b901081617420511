"""The one place ECS write requests are built: botocore request dicts from typed settings.

RegisterTaskDefinition, CreateService, UpdateService and TagResource inputs are made here and
nowhere else, from `controller.settings` values. `render` prints what these functions return;
`controller/aws/ecs.py` sends what they return. Pure: no I/O.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fleetctl.controller.settings import (
    API_NAME,
    UPDATABLE,
    Container,
    Deployment,
    Network,
    ServiceSettings,
    TaskDefinition,
)
from fleetctl.controller.tags import TASK_DEF_TAG


def _tags(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in pairs]


def container_definition(c: Container) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name, "image": c.image, "essential": True}
    if c.entry_point:
        out["entryPoint"] = list(c.entry_point)
    if c.command:
        out["command"] = list(c.command)
    out["environment"] = [{"name": k, "value": v} for k, v in c.environment]
    if c.secrets:
        out["secrets"] = [{"name": k, "valueFrom": v} for k, v in c.secrets]
    if c.docker_labels:
        out["dockerLabels"] = dict(c.docker_labels)
    if c.ports:
        out["portMappings"] = [{"containerPort": p, "protocol": "tcp"} for p in c.ports]
    if c.logs is not None:
        options = {"awslogs-group": c.logs.group, "awslogs-region": c.logs.region,
                   "awslogs-stream-prefix": c.logs.stream_prefix}
        if c.logs.create_group:
            options["awslogs-create-group"] = "true"
        out["logConfiguration"] = {"logDriver": "awslogs", "options": options}
    if c.health_check is not None:
        hc = c.health_check
        out["healthCheck"] = {"command": list(hc.command), "interval": hc.interval, "timeout": hc.timeout,
                              "retries": hc.retries, "startPeriod": hc.start_period}
    out["stopTimeout"] = c.stop_timeout
    return out


def register_task_definition(td: TaskDefinition) -> dict[str, Any]:
    """RegisterTaskDefinition's input."""
    out: dict[str, Any] = {
        "family": td.family,
        "networkMode": "awsvpc",
        "containerDefinitions": [container_definition(td.container)],
        "cpu": str(td.cpu),
        "memory": str(td.memory),
    }
    if td.launch_type in ("FARGATE", "EC2"):
        out["requiresCompatibilities"] = [td.launch_type]
    if td.task_role_arn:
        out["taskRoleArn"] = td.task_role_arn
    if td.execution_role_arn:
        out["executionRoleArn"] = td.execution_role_arn
    out["tags"] = _tags(td.tags)
    return out


def deployment_configuration(d: Deployment) -> dict[str, Any]:
    return {
        "deploymentCircuitBreaker": {"enable": d.circuit_breaker.enable, "rollback": d.circuit_breaker.rollback},
        "maximumPercent": d.maximum_percent,
        "minimumHealthyPercent": d.minimum_healthy_percent,
    }


def network_configuration(n: Network) -> dict[str, Any]:
    return {"awsvpcConfiguration": {
        "subnets": list(n.subnets),
        "securityGroups": list(n.security_groups),
        "assignPublicIp": "ENABLED" if n.assign_public_ip else "DISABLED",
    }}


def api_value(name: str, value: Any) -> Any:
    """An updatable setting (`controller.settings.UPDATABLE`) as the request carries it."""
    if value is None:
        return None
    if name == "deployment":
        return deployment_configuration(value)
    if name == "network":
        return network_configuration(value)
    return value


def service_fields(s: ServiceSettings, names: Iterable[str] = UPDATABLE) -> dict[str, Any]:
    """The updatable settings `names` (those set) under their API names, in request order."""
    wanted = set(names)
    return {API_NAME[n]: api_value(n, getattr(s, n)) for n in UPDATABLE
            if n in wanted and getattr(s, n) is not None}


def create_service(s: ServiceSettings, task_definition: str, *, recorded: str | None = None) -> dict[str, Any]:
    """CreateService's input on `task_definition` (a family, or the revision registered for it);
    `recorded`: the revision also recorded in the service's `fleetctl.io/task-definition` tag."""
    tags = list(s.tags) + ([(TASK_DEF_TAG, recorded)] if recorded else [])
    return {
        "cluster": s.cluster,
        "serviceName": s.name,
        "taskDefinition": task_definition,
        "launchType": s.launch_type,
        **service_fields(s),
        "enableECSManagedTags": True,
        "propagateTags": "SERVICE",
        "tags": _tags(tags),
        # a repeated CreateService (lost reply) of the same fleet, service and content is one create
        "clientToken": s.client_token,
    }


def update_service(cluster: str, service: str, *, task_definition: str | None = None,
                   settings: ServiceSettings | None = None, fields: Iterable[str] = (),
                   desired_count: int | None = None) -> dict[str, Any]:
    """UpdateService's input: a new task definition, the settings `fields` of `settings`, or a
    bare desiredCount (scaling down before a delete)."""
    out: dict[str, Any] = {"cluster": cluster, "service": service}
    if task_definition is not None:
        out["taskDefinition"] = task_definition
    if settings is not None:
        out.update(service_fields(settings, fields))
    if desired_count is not None:
        out["desiredCount"] = desired_count
    return out


def tag_resource(arn: str, tags: Mapping[str, str]) -> dict[str, Any]:
    """TagResource's input."""
    return {"resourceArn": arn, "tags": _tags(tags.items())}
