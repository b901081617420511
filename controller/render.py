"""Render the ECS API inputs for each service of a fleet.

These dicts are exactly what fleetctl sends: RegisterTaskDefinition, CreateService and
UpdateService parameters. Pure functions of the manifest; no AWS calls.
"""
from __future__ import annotations

from collections.abc import Collection

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from fleetctl.controller.manifest.effective import EffectiveService, effective
from fleetctl.controller.manifest.lint import parse_image
from fleetctl.controller.manifest.models import Fleet, ServiceSpec

FLEET_TAG = "fleetctl.io/fleet"
# hash of the rendered task definition the service's recorded revision was registered from
TD_HASH_TAG = "fleetctl.io/task-definition-hash"


@dataclass(frozen=True)
class RenderedService:
    name: str
    register_task_definition: dict[str, Any]
    create_service: dict[str, Any]
    update_service: dict[str, Any]
    spec_hash: str   # task definition and service settings
    td_hash: str     # task definition alone
    autoscaling: Any = None   # controller.autoscaling.RenderedScaling when the service autoscales

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.name,
            "specHash": self.spec_hash,
            "taskDefinitionHash": self.td_hash,
            "registerTaskDefinition": self.register_task_definition,
            "createService": self.create_service,
            "updateService": self.update_service,
            **({"autoscaling": self.autoscaling.as_dict()} if self.autoscaling is not None else {}),
        }


def family(fleet: Fleet, service: str) -> str:
    return f"{fleet.metadata.name}-{service}"


def nats_environment(fleet: Fleet, service: str) -> tuple[dict[str, str], dict[str, str]]:
    """Environment and secrets a container gets from spec.nats (contract of sdk.settings)."""
    nats = fleet.spec.nats
    env = {"NATS_URL": ",".join(nats.urls)}
    secrets: dict[str, str] = {}
    if nats.credentials is not None:
        if nats.credentials.format == "password-per-service":
            # a JSON key of a Secrets Manager secret: <arn>:<json-key>:<version-stage>:<version-id>
            env["NATS_USER"] = service
            secrets["NATS_PASSWORD"] = f"{nats.credentials.value_from}:{service}::"
        else:
            secrets["NATS_CREDS"] = nats.credentials.value_from
    if nats.tls is not None and nats.tls.enabled:
        env["NATS_TLS"] = "true"
        if nats.tls.server_name:
            env["NATS_TLS_SERVER_NAME"] = nats.tls.server_name
        if nats.tls.ca_file:
            env["NATS_TLS_CA_FILE"] = nats.tls.ca_file
        if nats.tls.ca_from:
            secrets["NATS_TLS_CA"] = nats.tls.ca_from
    return env, secrets


def image_version(image: str) -> str:
    """What the service reports as its version: the digest, or the tag until it is resolved."""
    _repo, tag, digest = parse_image(image)
    return digest or tag or "latest"


def container_definition(fleet: Fleet, svc: EffectiveService) -> dict[str, Any]:
    nats_env, nats_secrets = nats_environment(fleet, svc.name)
    env = {**svc.environment, **nats_env, "SERVICE_NAME": svc.name, "SERVICE_VERSION": image_version(svc.image)}
    secrets = {**svc.secrets, **nats_secrets}
    container: dict[str, Any] = {
        "name": svc.name,
        "image": svc.image,
        "essential": True,
    }
    if svc.entry_point:
        container["entryPoint"] = list(svc.entry_point)
    if svc.command:
        container["command"] = list(svc.command)
    container["environment"] = [{"name": k, "value": env[k]} for k in sorted(env)]
    if secrets:
        container["secrets"] = [{"name": k, "valueFrom": secrets[k]} for k in sorted(secrets)]
    if svc.docker_labels:
        container["dockerLabels"] = dict(sorted(svc.docker_labels.items()))
    if svc.ports:
        container["portMappings"] = [{"containerPort": p, "protocol": "tcp"} for p in sorted(svc.ports)]
    if svc.logs is not None:
        options = {
            "awslogs-group": svc.logs.group,
            "awslogs-region": fleet.spec.target.region,
            "awslogs-stream-prefix": svc.logs.stream_prefix,
        }
        if svc.logs.create_group:
            options["awslogs-create-group"] = "true"
        container["logConfiguration"] = {"logDriver": "awslogs", "options": options}
    if svc.health_check is not None:
        hc = svc.health_check
        container["healthCheck"] = {
            "command": list(hc.command),
            "interval": hc.interval,
            "timeout": hc.timeout,
            "retries": hc.retries,
            "startPeriod": hc.start_period,
        }
    container["stopTimeout"] = svc.deployment.stop_timeout
    return container


def task_definition(fleet: Fleet, svc: EffectiveService) -> dict[str, Any]:
    td: dict[str, Any] = {
        "family": family(fleet, svc.name),
        "networkMode": "awsvpc",
        "containerDefinitions": [container_definition(fleet, svc)],
        "cpu": str(svc.cpu),
        "memory": str(svc.memory),
    }
    if svc.launch_type in ("FARGATE", "EC2"):
        td["requiresCompatibilities"] = [svc.launch_type]
    if svc.task_role_arn:
        td["taskRoleArn"] = svc.task_role_arn
    if svc.execution_role_arn:
        td["executionRoleArn"] = svc.execution_role_arn
    td["tags"] = [{"key": FLEET_TAG, "value": fleet.metadata.name}]
    return td


def _service_settings(fleet: Fleet, svc: EffectiveService) -> dict[str, Any]:
    dep = svc.deployment
    settings: dict[str, Any] = {
        "desiredCount": svc.desired_count,
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {
                "enable": dep.circuit_breaker.enable,
                "rollback": dep.circuit_breaker.rollback,
            },
            "maximumPercent": dep.maximum_percent,
            "minimumHealthyPercent": dep.minimum_healthy_percent,
        },
    }
    if svc.network is not None:
        settings["networkConfiguration"] = {
            "awsvpcConfiguration": {
                "subnets": sorted(svc.network.subnets),
                "securityGroups": sorted(svc.network.security_groups),
                "assignPublicIp": "ENABLED" if svc.network.assign_public_ip else "DISABLED",
            }
        }
    return settings


def content_hash(body: Any) -> str:
    """Hash of a JSON document, independent of key order."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def client_token(fleet_name: str, service: str, digest: str) -> str:
    """CreateService's idempotency token (at most 36 ASCII characters)."""
    return hashlib.sha256(f"{fleet_name}/{service}/{digest}".encode()).hexdigest()[:32]


def spec_hash(task_def: dict[str, Any], settings: dict[str, Any]) -> str:
    """Content hash of everything a service should be."""
    return content_hash({"taskDefinition": task_def, "service": settings})


def render_service(fleet: Fleet, spec: ServiceSpec) -> RenderedService:
    svc = effective(fleet, spec)
    td = task_definition(fleet, svc)
    settings = _service_settings(fleet, svc)
    scaling = None
    if spec.autoscaling is not None:
        from fleetctl.controller.autoscaling import render_scaling

        scaling = render_scaling(fleet.spec.target.cluster, svc.name, spec.autoscaling)
        settings["desiredCount"] = spec.autoscaling.min  # at creation; then autoscaling moves it within [min, max]
    digest = spec_hash(td, {**settings, **({"autoscaling": scaling.hash} if scaling else {})})
    td_digest = content_hash(td)
    # the revision carries the hash of the content it was registered from: a retry or a re-run
    # finds it instead of registering the same content again (the hash is of the rest)
    td["tags"].append({"key": TD_HASH_TAG, "value": td_digest})
    create: dict[str, Any] = {
        "cluster": fleet.spec.target.cluster,
        "serviceName": svc.name,
        "taskDefinition": td["family"],
        "launchType": svc.launch_type,
        **settings,
        "enableECSManagedTags": True,
        "propagateTags": "SERVICE",
        "tags": [
            {"key": FLEET_TAG, "value": fleet.metadata.name},
            {"key": TD_HASH_TAG, "value": td_digest},
        ],
        # a repeated CreateService (lost reply) of the same fleet, service and content is one create
        "clientToken": client_token(fleet.metadata.name, svc.name, digest),
    }
    update: dict[str, Any] = {
        "cluster": fleet.spec.target.cluster,
        "service": svc.name,
        "taskDefinition": td["family"],
        **settings,
    }
    return RenderedService(svc.name, td, create, update, digest, td_digest, scaling)


def render(fleet: Fleet, only: str | Collection[str] | None = None) -> list[RenderedService]:
    """Every service, or only the one named / the ones listed in `only`."""
    wanted = None if only is None else {only} if isinstance(only, str) else set(only)
    return [render_service(fleet, s) for s in fleet.spec.services if wanted is None or s.name in wanted]
