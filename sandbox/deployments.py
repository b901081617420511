"""ECS deployments as moto stores them: plain dicts in ``service.deployments``, PRIMARY first."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timezone
from typing import Any

DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
MAX_EVENTS = 100


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_deployment_id() -> str:
    return f"ecs-svc/{random.randint(10**18, 10**19 - 1)}"


def deployment_configuration(service: Any) -> dict[str, Any]:
    """The service's deploymentConfiguration with ECS's server-side defaults filled in."""
    return fill_deployment_configuration(getattr(service, "deployment_configuration", None))


def fill_deployment_configuration(stored: dict[str, Any] | None) -> dict[str, Any]:
    """``stored`` with the defaults ECS fills server-side."""
    stored = stored or {}
    merged = {**DEFAULT_DEPLOYMENT_CONFIGURATION, **stored}
    breaker = {**DEFAULT_DEPLOYMENT_CONFIGURATION["deploymentCircuitBreaker"]}
    breaker.update(stored.get("deploymentCircuitBreaker") or {})
    merged["deploymentCircuitBreaker"] = breaker
    return merged


def primary(service: Any) -> dict[str, Any] | None:
    return next((d for d in service.deployments if d["status"] == "PRIMARY"), None)


def start_deployment(
    service: Any, task_definition_arn: str, reason: str | None = None
) -> dict[str, Any]:
    """Make a new PRIMARY deployment; the previous PRIMARY becomes ACTIVE and drains."""
    for deployment in service.deployments:
        if deployment["status"] == "PRIMARY":
            deployment["status"] = "ACTIVE"
            deployment["updatedAt"] = now()
    deployment_id = new_deployment_id()
    network = getattr(service, "network_configuration", None) or None
    launch_type = getattr(service, "launch_type", None)
    deployment = {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": task_definition_arn,
        "desiredCount": service.desired_count,
        "pendingCount": 0,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now(),
        "updatedAt": now(),
        "launchType": launch_type,
        "platformVersion": getattr(service, "platform_version", None)
        or ("LATEST" if launch_type == "FARGATE" else None),
        "platformFamily": "Linux" if launch_type == "FARGATE" else None,
        "networkConfiguration": network,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": reason or f"ECS deployment {deployment_id} in progress.",
    }
    service.deployments.insert(0, {k: v for k, v in deployment.items() if v is not None})
    service.task_definition = task_definition_arn
    return service.deployments[0]


def add_event(service: Any, message: str) -> None:
    """Record a service event, newest first, as DescribeServices shows them."""
    events = service.events
    events.insert(0, {"id": str(uuid.uuid4()), "createdAt": now(), "message": message})
    del events[MAX_EVENTS:]
