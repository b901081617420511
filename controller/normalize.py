"""Bring what AWS returns and what fleetctl would send into one shape before comparing.

Read-only fields go, lists whose order AWS does not keep are sorted, defaults that AWS fills in
server-side are filled on both sides, and empty values are dropped. Task definitions are compared
as request-shaped dicts; a service's settings as `controller.settings` values. A diff of two normalised
definitions shows only real differences.
"""
from __future__ import annotations

import copy
from typing import Any

from fleetctl.controller.settings import CircuitBreaker, Deployment, Network
from fleetctl.controller.state import ServiceState

TASK_DEF_READ_ONLY = {
    "taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
    "registeredAt", "registeredBy", "deregisteredAt", "tags",
}


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _container(c: dict[str, Any]) -> dict[str, Any]:
    c = dict(c)
    c.setdefault("essential", True)
    if c.get("cpu") == 0:
        c.pop("cpu")
    for key in ("environment", "secrets"):
        if key in c:
            c[key] = sorted(c[key], key=lambda e: e["name"])
    if "portMappings" in c:
        ports = []
        for p in c["portMappings"]:
            p = dict(p)
            p.setdefault("protocol", "tcp")
            if p.get("hostPort") == p.get("containerPort"):
                p.pop("hostPort", None)
            ports.append(p)
        c["portMappings"] = sorted(ports, key=lambda p: (p["containerPort"], p["protocol"]))
    for key in ("mountPoints", "volumesFrom", "systemControls", "environmentFiles", "ulimits"):
        if c.get(key) == []:
            c.pop(key)
    return c


def task_definition(td: dict[str, Any]) -> dict[str, Any]:
    """Normalise a RegisterTaskDefinition input or a DescribeTaskDefinition result."""
    td = {k: copy.deepcopy(v) for k, v in td.items() if k not in TASK_DEF_READ_ONLY}
    td["containerDefinitions"] = sorted((_container(c) for c in td.get("containerDefinitions", [])),
                                        key=lambda c: c["name"])
    for key in ("cpu", "memory"):
        if key in td and td[key] is not None:
            td[key] = str(td[key])
    if "requiresCompatibilities" in td:
        td["requiresCompatibilities"] = sorted(td["requiresCompatibilities"])
    if td.get("volumes") == []:
        td.pop("volumes")
    if td.get("placementConstraints") == []:
        td.pop("placementConstraints")
    return _prune(td)


def service_settings(state: ServiceState) -> dict[str, Any]:
    """A live service's updatable settings (`controller.settings.UPDATABLE`) as typed values, in
    the shape fleetctl renders them: AWS's server-side defaults filled in, lists sorted."""
    dep = state.deployment_configuration or {}
    breaker = dep.get("deploymentCircuitBreaker") or {}
    vpc = (state.network or {}).get("awsvpcConfiguration") or {}
    return {
        "desired_count": state.desired,
        "deployment": Deployment(CircuitBreaker(bool(breaker.get("enable", False)), bool(breaker.get("rollback", False))),
                                 int(dep.get("maximumPercent", 200)), int(dep.get("minimumHealthyPercent", 100))),
        "network": (Network(tuple(sorted(vpc.get("subnets") or [])), tuple(sorted(vpc.get("securityGroups") or [])),
                            (vpc.get("assignPublicIp") or "DISABLED") == "ENABLED")
                    if state.network else None),
    }
