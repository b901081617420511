"""What the ECS agent checks before a container starts: secrets, image, logger.

Each check reads moto's backends in-process (call with the backend lock held) and fails
with the stoppedReason ECS gives for the same fault.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

from fleetctl.sandbox.backends import backend
from fleetctl.sandbox.config import ecr_registry
from fleetctl.sandbox.runner.logs import LogTarget

COMMAND_ANNOTATION = "org.fleetctl.sandbox.command"
IP_ENV_LABEL = "fleetctl.sandbox/ip-env"


class TaskStartError(Exception):
    """The task cannot start; ``reason`` is ECS's stoppedReason, ``container`` the culprit."""

    def __init__(self, reason: str, container: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.container = container


@dataclass(frozen=True)
class HealthCheck:
    argv: list[str]
    interval: float
    timeout: float
    retries: int
    start_period: float
    start_interval: float = 0.0  # until the first pass (0: the interval)


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to run one container as a local process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    essential: bool
    stop_timeout: float
    image_digest: str | None
    log: LogTarget | None
    health: HealthCheck | None = None
    secret_names: list[str] = field(default_factory=list)


def base_env() -> dict[str, str]:
    """The only variable a container gets besides its task definition's: PATH, with this
    interpreter's directory first so ``python`` is the sandbox's python."""
    inherited = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    return {"PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{inherited}"}


def parse_image(image: str) -> tuple[str, str, str | None, str | None]:
    """``registry/repo:tag`` or ``registry/repo@digest`` → (registry, repo, tag, digest)."""
    name, _, digest_part = image.partition("@")
    digest = digest_part or None
    tag = None
    if digest is None:
        head, _, last = name.rpartition("/")
        if ":" in last:
            last, tag = last.split(":", 1)
        name = f"{head}/{last}" if head else last
        tag = tag or "latest"
    registry, _, repo = name.partition("/")
    if "." not in registry and ":" not in registry:  # no registry host: Docker Hub
        registry, repo = "docker.io", name
    return registry, repo, tag, digest


def resolve_image(image: str) -> tuple[str, list[str] | None]:
    """The digest of ``image`` in the sandbox ECR and the command the image stands for."""
    failure = TaskStartError(
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        f"failed to resolve ref {image}: {image}: not found"
    )
    registry, repo, tag, digest = parse_image(image)
    if registry != ecr_registry():
        raise failure
    repository = backend("ecr").repositories.get(repo)
    if repository is None:
        raise failure
    for candidate in repository.images:
        if (digest and candidate.image_digest == digest) or (
            tag and tag in (candidate.image_tags or [])
        ):
            try:
                annotations = json.loads(candidate.image_manifest).get("annotations", {})
                command = json.loads(annotations[COMMAND_ANNOTATION])
            except (ValueError, KeyError, TypeError):
                command = None
            return candidate.image_digest, command
    raise failure


def resolve_secret(value_from: str) -> str:
    """A secret's value from Secrets Manager (ARN, optional JSON key) or SSM (ARN or name)."""
    if value_from.startswith("arn:") and ":secretsmanager:" in value_from:
        parts = value_from.split(":")
        secret_arn, json_key = ":".join(parts[:7]), (parts[7] if len(parts) > 7 else "")
        stage = parts[8] if len(parts) > 8 and parts[8] else None
        version = parts[9] if len(parts) > 9 and parts[9] else None
        try:
            value = backend("secretsmanager").get_secret_value(secret_arn, version, stage)
            text = value.get("SecretString") or ""
            return str(json.loads(text)[json_key]) if json_key else text
        except Exception as exc:
            raise TaskStartError(
                "ResourceInitializationError: unable to pull secrets or registry auth: "
                "execution resource retrieval failed: unable to retrieve secret from asm: "
                "service call has been retried 1 time(s): failed to fetch secret "
                f"{secret_arn} from secrets manager: ResourceNotFoundException: Secrets "
                "Manager can't find the specified secret. status code: 400, request id: "
                f"{uuid.uuid4()}"
            ) from exc
    try:
        parameter = backend("ssm").get_parameter(value_from)
    except Exception:
        parameter = None
    if parameter is None:
        name = value_from.split(":parameter", 1)[-1] if value_from.startswith("arn:") else value_from
        raise TaskStartError(
            "ResourceInitializationError: unable to pull secrets or registry auth: "
            "execution resource retrieval failed: unable to retrieve secrets from ssm: "
            f"service call has been retried 1 time(s): invalid ssm parameters: {name}"
        )
    return str(parameter.decrypt(parameter.value) if parameter.parameter_type == "SecureString" else parameter.value)


def log_target(cd: dict[str, Any], task_id: str) -> LogTarget | None:
    """The awslogs group/stream of a container; creates the group only if asked to."""
    config = cd.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None
    options = config.get("options") or {}
    group = options.get("awslogs-group", "")
    prefix = options.get("awslogs-stream-prefix")
    stream = f"{prefix}/{cd['name']}/{task_id}" if prefix else f"{cd['name']}/{task_id}"
    logs = backend("logs")
    if group not in logs.groups:
        if str(options.get("awslogs-create-group", "")).lower() == "true":
            logs.create_log_group(group, {})
        else:
            raise TaskStartError(
                "ResourceInitializationError: failed to validate logger args: create stream "
                "has been retried 1 times: failed to create Cloudwatch log stream: "
                "ResourceNotFoundException: The specified log group does not exist. "
                ": exit status 1",
                cd["name"],
            )
    return LogTarget(group, stream)


def health_check(cd: dict[str, Any], interval_max: float = 0.0, start_interval: float = 0.0) -> HealthCheck | None:
    """The container's healthCheck with ECS's defaults (interval 30, timeout 5, retries 3, startPeriod 0);
    `interval_max` > 0 caps the interval; `start_interval` > 0 is the interval until the first pass."""
    raw = cd.get("healthCheck")
    if not raw or not raw.get("command"):
        return None
    command = list(raw["command"])
    if command[0] == "CMD-SHELL":
        argv = ["/bin/sh", "-c", " ".join(command[1:])]
    elif command[0] == "CMD":
        argv = command[1:]
    else:
        argv = command
    interval = float(raw.get("interval", 30))
    return HealthCheck(
        argv=argv,
        interval=min(interval, interval_max) if interval_max > 0 else interval,
        timeout=float(raw.get("timeout", 5)),
        retries=int(raw.get("retries", 3)),
        start_period=float(raw.get("startPeriod", 0)),
        start_interval=start_interval,
    )


def prepare(
    task_definition: Any, task_id: str, task_ip: str | None, default_stop_timeout: float,
    health_interval_max: float = 0.0,
    health_start_interval: float = 0.0,
) -> list[ContainerSpec]:
    """Check and resolve every container of a task in ECS's order: secrets, image, logger."""
    specs = []
    for cd in task_definition.container_definitions:
        env = base_env()
        # the agent gives every container its own task metadata endpoint
        env["ECS_CONTAINER_METADATA_URI_V4"] = f"http://169.254.170.2/v4/{task_id}-{cd['name']}"
        env.update({e["name"]: str(e.get("value", "")) for e in cd.get("environment") or []})
        secret_names = []
        for secret in cd.get("secrets") or []:
            try:
                env[secret["name"]] = resolve_secret(secret["valueFrom"])
            except TaskStartError as exc:
                exc.container = cd["name"]
                raise
            secret_names.append(secret["name"])
        try:
            digest, image_command = resolve_image(cd.get("image", ""))
        except TaskStartError as exc:
            exc.container = cd["name"]
            raise
        log = log_target(cd, task_id)
        ip_env = (cd.get("dockerLabels") or {}).get(IP_ENV_LABEL)
        if ip_env and task_ip:
            env[ip_env] = task_ip
        argv = list(cd.get("entryPoint") or []) + list(cd.get("command") or [])
        if not argv:
            argv = image_command or []
        specs.append(
            ContainerSpec(
                name=cd["name"],
                argv=argv,
                env=env,
                essential=cd.get("essential", True),
                stop_timeout=float(cd.get("stopTimeout") or default_stop_timeout),
                image_digest=digest,
                log=log,
                health=health_check(cd, health_interval_max, health_start_interval),
                secret_names=secret_names,
            )
        )
    return specs
