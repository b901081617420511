"""Find the AWS API operations a Python code base calls, by AST scan.

Recognised call shapes, where <client> is one of CLIENTS (optionally spelled with a
leading underscore or a `_client` suffix, e.g. `self._ecs`, `ecs_client`):

    <client>.<operation>(...)            ecs.describe_services(...)
    <anything>.<client>.<operation>(...) self.clients.ecs.update_service(...)
    <client>.get_paginator("<operation>")
    <client>.get_waiter("<waiter>")      mapped to the operation the waiter polls

and the string-addressed form of an AWS seam such as controller/aws/client.py, on any
receiver, where "<service>" is one of CLIENTS:

    <anything>.call("<service>", "<operation>", ...)       aws.call("ecs", "describe_services", ...)
    <anything>.paginate("<service>", "<operation>", ...)   aws.paginate("ecs", "list_tasks", "taskArns", ...)

<operation> must be a snake_case operation of that botocore service model, so helper
methods on the same objects (e.g. a wrapper's `close()`) are not mistaken for API calls.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import botocore.session
from botocore import xform_name

CLIENTS = ("ecs", "logs", "ecr", "ec2", "elbv2", "secretsmanager", "ssm", "sts", "application-autoscaling",
           "cloudwatch", "s3", "iam", "dynamodb")

IAM_PREFIX = {
    "s3": "s3",
    "ecs": "ecs",
    "logs": "logs",
    "ecr": "ecr",
    "ec2": "ec2",
    "elbv2": "elasticloadbalancing",
    "secretsmanager": "secretsmanager",
    "ssm": "ssm",
    "sts": "sts",
    "application-autoscaling": "application-autoscaling",
    "cloudwatch": "cloudwatch",
    "iam": "iam",
    "dynamodb": "dynamodb",
}

_CLIENT_NAME = re.compile(r"^_*(?P<svc>[a-z0-9]+?)(_client)?$")


@dataclass(frozen=True, order=True)
class Operation:
    service: str  # botocore service name, e.g. "elbv2"
    name: str  # API operation name, e.g. "DescribeTargetHealth"
    path: str = ""
    line: int = 0

    @property
    def iam_action(self) -> str:
        return IAM_ACTION.get((self.service, self.name)) or f"{IAM_PREFIX[self.service]}:{self.name}"


# Operations authorised under another action's name.
IAM_ACTION = {("s3", "HeadObject"): "s3:GetObject"}


@lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@lru_cache(maxsize=None)
def operations_by_method(service: str) -> dict[str, str]:
    """snake_case method name -> API operation name for one botocore service."""
    model = _session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


@lru_cache(maxsize=None)
def waiter_operations(service: str) -> dict[str, str]:
    """snake_case waiter name -> API operation the waiter polls."""
    try:
        model = _session().get_waiter_model(service)
    except Exception:  # service without waiters
        return {}
    return {xform_name(name): model.get_waiter(name).operation for name in model.waiter_names}


def _client_service(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        ident = node.id
    elif isinstance(node, ast.Attribute):
        ident = node.attr
    else:
        return None
    m = _CLIENT_NAME.match(ident)
    if m and m.group("svc") in CLIENTS:
        return m.group("svc")
    return None


def _first_str_arg(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    for kw in call.keywords:
        if kw.arg in ("operation_name", "waiter_name") and isinstance(kw.value, ast.Constant):
            return kw.value.value
    return None


SEAM_METHODS = ("call", "paginate")
"""Methods of an AWS seam taking (service, operation, ...) as their first two arguments."""


def _str_constant(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _seam_operation(call: ast.Call) -> tuple[str, str] | None:
    """(service, API operation) of `<x>.call("<service>", "<operation>", ...)` and `.paginate(...)`."""
    if call.func.attr not in SEAM_METHODS or len(call.args) < 2:  # type: ignore[union-attr]
        return None
    service, method = _str_constant(call.args[0]), _str_constant(call.args[1])
    if service not in CLIENTS or method is None:
        return None
    operation = operations_by_method(service).get(method)
    return (service, operation) if operation else None


def scan_source(source: str, path: str = "<string>") -> set[Operation]:
    found: set[Operation] = set()
    for node in ast.walk(ast.parse(source, filename=path)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        seam = _seam_operation(node)
        if seam is not None:
            found.add(Operation(seam[0], seam[1], path, node.lineno))
            continue
        service = _client_service(node.func.value)
        if service is None:
            continue
        method = node.func.attr
        ops = operations_by_method(service)
        if method == "get_paginator":
            arg = _first_str_arg(node)
            if arg in ops:
                found.add(Operation(service, ops[arg], path, node.lineno))
        elif method == "get_waiter":
            arg = _first_str_arg(node)
            waiter_op = waiter_operations(service).get(arg or "")
            if waiter_op:
                found.add(Operation(service, waiter_op, path, node.lineno))
        elif method in ops:
            found.add(Operation(service, ops[method], path, node.lineno))
    return found


def scan_paths(roots: Iterable[Path]) -> set[Operation]:
    found: set[Operation] = set()
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(root.rglob("*.py")):
            found |= scan_source(path.read_text(), str(path))
    return found


def seam_services(roots: Iterable[Path]) -> set[str]:
    """botocore service names addressed through the seam (`.call("<service>", "<op>")`), known or not:
    a service missing from CLIENTS would make its calls invisible to scan_source."""
    available = set(_session().get_available_services())
    found: set[str] = set()
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in SEAM_METHODS and len(node.args) >= 2):
                    service = _str_constant(node.args[0])
                    if service in available and _str_constant(node.args[1]) is not None:
                        found.add(service)
    return found
