"""Bring what AWS returns and what fleetctl would send into one shape before comparing.

Read-only fields go, lists whose order AWS does not keep are sorted, defaults that AWS fills in
server-side are filled on both sides, and empty values are dropped. A diff of two normalised
definitions shows only real differences.
"""
from __future__ import annotations

import copy
from typing import Any

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


def network(cfg: dict[str, Any] | None) -> dict[str, Any] | None:
    if not cfg:
        return None
    vpc = dict(cfg.get("awsvpcConfiguration") or {})
    return {"awsvpcConfiguration": {
        "subnets": sorted(vpc.get("subnets") or []),
        "securityGroups": sorted(vpc.get("securityGroups") or []),
        "assignPublicIp": vpc.get("assignPublicIp") or "DISABLED",
    }}


def deployment_configuration(cfg: dict[str, Any] | None) -> dict[str, Any]:
    cfg = cfg or {}
    breaker = cfg.get("deploymentCircuitBreaker") or {}
    return {
        "deploymentCircuitBreaker": {"enable": bool(breaker.get("enable", False)),
                                     "rollback": bool(breaker.get("rollback", False))},
        "maximumPercent": int(cfg.get("maximumPercent", 200)),
        "minimumHealthyPercent": int(cfg.get("minimumHealthyPercent", 100)),
    }
