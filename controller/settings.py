"""What fleetctl sets on an ECS service and its task definition: one frozen, typed value.

`service_settings(fleet, spec)` builds a `ServiceSettings` once from the effective manifest
(`spec.defaults` applied) and normalises it once: lists sorted, environment merged and sorted,
defaults filled. Everything downstream reads it: `render` shows it as requests, `plan` compares
it field by field with the live service (read back into the same shape by
`controller.normalize.service_settings`),
and only `controller/aws/ecs_requests.py` turns it into botocore request dicts.

Adding a setting: a field here (with `metadata={"api": ...}` when UpdateService can change it
in place), its value in `service_settings`, its live value in `controller.normalize.service_settings` and its request
shape in `controller/aws/ecs_requests.py`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from fleetctl.controller.manifest.effective import EffectiveService, effective
from fleetctl.controller.manifest.lint import parse_image
from fleetctl.controller.manifest.models import Fleet, ServiceSpec

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CircuitBreaker:
    enable: bool
    rollback: bool


@dataclass(frozen=True)
class Deployment:
    circuit_breaker: CircuitBreaker
    maximum_percent: int
    minimum_healthy_percent: int


@dataclass(frozen=True)
class Network:
    subnets: tuple[str, ...]          # sorted
    security_groups: tuple[str, ...]  # sorted
    assign_public_ip: bool


@dataclass(frozen=True)
class Logs:
    group: str
    region: str
    stream_prefix: str
    create_group: bool


@dataclass(frozen=True)
class HealthCheck:
    command: tuple[str, ...]
    interval: int
    timeout: int
    retries: int
    start_period: int


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    entry_point: tuple[str, ...] | None
    command: tuple[str, ...] | None
    environment: Pairs                 # sorted by name: the manifest's, spec.nats', SERVICE_*
    secrets: Pairs                     # sorted by name: name -> valueFrom
    docker_labels: Pairs               # sorted
    ports: tuple[int, ...]             # sorted, tcp
    logs: Logs | None
    health_check: HealthCheck | None
    stop_timeout: int


@dataclass(frozen=True)
class TaskDefinition:
    family: str
    container: Container
    cpu: int
    memory: int
    launch_type: str
    task_role_arn: str | None
    execution_role_arn: str | None
    tags: Pairs                        # fleet, then the content hash (added once it is known)


@dataclass(frozen=True)
class ServiceSettings:
    """A service as fleetctl sets it. Fields with an `api` name are the ones an UpdateService
    changes in place; plan diffs exactly those (`UPDATABLE`)."""

    cluster: str
    name: str
    task_definition: TaskDefinition
    launch_type: str
    desired_count: int = field(metadata={"api": "desiredCount"})
    deployment: Deployment = field(metadata={"api": "deploymentConfiguration"})
    # None: the manifest sets no network; the live one is left as it is
    network: Network | None = field(metadata={"api": "networkConfiguration"})
    tags: Pairs = ()                   # CreateService's tags (fleet, content hash)
    client_token: str = ""             # CreateService's idempotency token (of fleet, service and content)


UPDATABLE: tuple[str, ...] = tuple(f.name for f in fields(ServiceSettings) if "api" in f.metadata)
"""The settings UpdateService changes in place, in request order."""

API_NAME: dict[str, str] = {f.name: f.metadata["api"] for f in fields(ServiceSettings) if "api" in f.metadata}


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


def _sorted(d: dict[str, str]) -> Pairs:
    return tuple(sorted(d.items()))


def container(fleet: Fleet, svc: EffectiveService) -> Container:
    nats_env, nats_secrets = nats_environment(fleet, svc.name)
    env = {**svc.environment, **nats_env, "SERVICE_NAME": svc.name, "SERVICE_VERSION": image_version(svc.image)}
    hc = svc.health_check
    return Container(
        name=svc.name,
        image=svc.image,
        entry_point=tuple(svc.entry_point) if svc.entry_point else None,
        command=tuple(svc.command) if svc.command else None,
        environment=_sorted(env),
        secrets=_sorted({**svc.secrets, **nats_secrets}),
        docker_labels=_sorted(svc.docker_labels),
        ports=tuple(sorted(svc.ports)),
        logs=(Logs(svc.logs.group, fleet.spec.target.region, svc.logs.stream_prefix, svc.logs.create_group)
              if svc.logs is not None else None),
        health_check=(HealthCheck(tuple(hc.command), hc.interval, hc.timeout, hc.retries, hc.start_period)
                      if hc is not None else None),
        stop_timeout=svc.deployment.stop_timeout,
    )


def deployment(svc: EffectiveService) -> Deployment:
    dep = svc.deployment
    return Deployment(CircuitBreaker(dep.circuit_breaker.enable, dep.circuit_breaker.rollback),
                      dep.maximum_percent, dep.minimum_healthy_percent)


def service_settings(fleet: Fleet, spec: ServiceSpec) -> ServiceSettings:
    """The settings of one service, from the manifest (tags and token are added by render)."""
    from fleetctl.controller.tags import FLEET_TAG

    svc = effective(fleet, spec)
    td = TaskDefinition(
        family=family(fleet, svc.name),
        container=container(fleet, svc),
        cpu=svc.cpu,
        memory=svc.memory,
        launch_type=svc.launch_type,
        task_role_arn=svc.task_role_arn or None,
        execution_role_arn=svc.execution_role_arn or None,
        tags=((FLEET_TAG, fleet.metadata.name),),
    )
    net = svc.network
    return ServiceSettings(
        cluster=fleet.spec.target.cluster,
        name=svc.name,
        task_definition=td,
        launch_type=svc.launch_type,
        # an autoscaled service is created at min; then autoscaling moves it within [min, max]
        desired_count=spec.autoscaling.min if spec.autoscaling is not None else svc.desired_count,
        deployment=deployment(svc),
        network=(Network(tuple(sorted(net.subnets)), tuple(sorted(net.security_groups)), net.assign_public_ip)
                 if net is not None else None),
    )
