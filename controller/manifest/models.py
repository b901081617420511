"""The fleet manifest (`apiVersion: fleetctl/v1`, `kind: Fleet`) as pydantic models.

Field names are snake_case in Python and camelCase in YAML. `*Spec` is desired state.
The JSON Schema in manifests/fleet.schema.json is generated from these models.
"""
from __future__ import annotations

import re
import weakref
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from fleetctl.controller import redact
from fleetctl.controller.manifest.interpolate import UNRESOLVED_TF

SERVICE_NAME = r"^[a-z][a-z0-9_-]{0,62}$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _listify(value: Any) -> Any:
    # `${tf:private_subnet_ids}` left unresolved is one string standing for a list.
    return [value] if isinstance(value, str) else value


def _env_value(value: Any) -> Any:
    # ECS environment values are strings; accept YAML scalars the way people write them.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


StrList = Annotated[list[str], BeforeValidator(_listify, json_schema_input_type=list[str] | str)]
EnvValue = Annotated[str, BeforeValidator(_env_value, json_schema_input_type=str | int | float | bool)]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        str_strip_whitespace=False,
    )


class TargetSpec(Model):
    """Where the fleet runs: real AWS, or the local sandbox reached through an endpoint URL."""

    kind: Literal["aws", "sandbox"] = Field("aws", description="`aws` for real AWS, `sandbox` for the embedded sandbox")
    region: str = Field(description="AWS region, e.g. us-east-1")
    cluster: str = Field(min_length=1, max_length=255, description="ECS cluster name or ARN")
    endpoint: str | None = Field(None, description="AWS API endpoint URL (the sandbox's, or any AWS-compatible one)")
    profile: str | None = Field(None, description="AWS shared-config profile to use")
    credentials_file: str | None = Field(
        None, description="`sandbox` only: the sandbox's generated AWS credentials (written 0600 by `sandbox up`; "
                          "default: credentials.json in the sandbox's state directory, see `fleetctl sandbox status`)")

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not UNRESOLVED_TF.search(v) and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", v):
            raise ValueError(f"expected an AWS region like us-east-1, got {redact.text(v)!r}")
        return v

    @model_validator(mode="after")
    def _endpoint(self) -> "TargetSpec":
        # Requests to the endpoint carry the access key id, the session token and whole task
        # definitions: in clear text only to this machine.
        if self.kind == "aws" and self.endpoint and not UNRESOLVED_TF.search(self.endpoint):
            parsed = urlsplit(self.endpoint)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError("endpoint: expected an https:// URL")
            if parsed.scheme == "http" and not _loopback(parsed.hostname):
                raise ValueError("endpoint: a kind: aws endpoint must use https:// (plain http:// only to a "
                                 "loopback address: 127.0.0.0/8, ::1, localhost)")
        return self


def _loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SecretRef(Model):
    value_from: str = Field(description="ARN of a Secrets Manager secret or SSM parameter")


class NatsCredentialsSpec(SecretRef):
    format: Literal["creds", "password-per-service"] = Field(
        "creds",
        description="`creds`: the secret holds a NATS .creds file (NATS_CREDS); `password-per-service`: a JSON "
                    "secret {service: password}, each task gets NATS_USER=<service> and only its own key as NATS_PASSWORD",
    )


class NatsTlsSpec(Model):
    enabled: bool = True
    server_name: str | None = Field(None, description="name to verify in the server certificate")
    ca_from: str | None = Field(None, description="Secrets Manager/SSM ARN holding the CA bundle (PEM)")
    ca_file: str | None = Field(None, description="path of the CA bundle inside the image")


class NatsSpec(Model):
    urls: StrList = Field(description="NATS server URLs (nats://, tls://, ws://, wss://)")
    credentials: NatsCredentialsSpec | None = Field(None, description="NATS credentials stored as a secret; never inline")
    tls: NatsTlsSpec | None = None
    target_group_arn: str | None = Field(None, description="NLB target group in front of NATS (diagnose checks its health)")
    security_groups: StrList = Field(default_factory=list, description="security groups of the NATS servers")

    @field_validator("urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        if not urls:
            raise ValueError("missing NATS URL: give at least one server URL")
        for url in urls:
            if UNRESOLVED_TF.fullmatch(url):
                continue
            url = UNRESOLVED_TF.sub("tf-ref", url)
            m = re.fullmatch(r"(nats|tls|ws|wss)://(?:[^@/\s]+@)?(?P<host>[^:/\s]+)(?::(?P<port>\d+))?/?", url)
            if not m:
                raise ValueError(f"expected a URL like nats://host:4222, got {redact.text(url)!r}")
            if m.group("port") and not 0 < int(m.group("port")) < 65536:
                raise ValueError(f"port out of range in {redact.text(url)!r}")
            if "@" in url:
                raise ValueError("credentials in a NATS URL would be stored in plain text; use nats.credentials")
        return urls


class NetworkSpec(Model):
    subnets: StrList = Field(min_length=1)
    security_groups: StrList = Field(default_factory=list)
    assign_public_ip: bool = False


class LogsSpec(Model):
    group: str = Field(min_length=1, max_length=512)
    stream_prefix: str = Field("ecs", min_length=1)
    create_group: bool = Field(False, description="let the awslogs driver create the group (needs logs:CreateLogGroup)")


class CircuitBreakerSpec(Model):
    enable: bool = True
    rollback: bool = True


class DeploymentSpec(Model):
    circuit_breaker: CircuitBreakerSpec = Field(default_factory=CircuitBreakerSpec)
    minimum_healthy_percent: int = Field(100, ge=0, le=100)
    maximum_percent: int = Field(200, ge=100, le=400)
    stop_timeout: int = Field(30, ge=2, le=120, description="seconds between SIGTERM and SIGKILL")


class HealthCheckSpec(Model):
    """An ECS container healthCheck (ECS's limits). The default runs the SDK's heartbeat check."""

    command: list[str] = Field(default_factory=lambda: list(SDK_HEALTH_COMMAND), min_length=1,
                               description="e.g. [CMD, python, -m, sdk.health] or [CMD-SHELL, 'curl -f http://localhost:8080/readyz']")
    interval: int = Field(5, ge=5, le=300, description="seconds between checks")
    timeout: int = Field(5, ge=2, le=60, description="seconds before a check counts as failed")
    retries: int = Field(3, ge=1, le=10, description="consecutive failures that make the container UNHEALTHY")
    start_period: int = Field(30, ge=0, le=300, description="seconds of grace after start in which failures do not "
                              "count (until a check passes)")


SDK_HEALTH_COMMAND = ("CMD", "python", "-m", "sdk.health")
HealthCheckSetting = Annotated[
    HealthCheckSpec | Literal[False] | None,
    Field(description="container health check; `false` opts out; unset takes spec.defaults.healthCheck"),
]


class RolloutSpec(Model):
    """When a rollout counts as done: ECS, container health, stability and NATS (the serving gate)."""

    min_ready_seconds: float = Field(5, ge=0, le=3600, description="seconds every new task must stay up (RUNNING and "
                                     "HEALTHY, none stopped) after ECS completes the deployment")
    progress_deadline_seconds: float = Field(600, gt=0, le=86400, description="a rollout not serving by then fails "
                                             "and is rolled back")
    nats_gate: Literal["auto", "required", "off"] = Field(
        "auto", description="`auto`: check NATS when reachable from here, else skip with a warning; `required`: "
                            "fail when NATS cannot be reached; `off`: ECS and container health only")


def _seconds(value: Any) -> Any:
    """A duration in seconds: a number, or text like `90s`, `5m`, `1h30m` (units s, m, h)."""
    if isinstance(value, str):
        parts = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?\s*", value)
        if not parts or not any(parts.groups()):
            raise ValueError("expected seconds or a duration like 90s, 5m, 1h30m")
        h, m, s = (float(g) if g else 0.0 for g in parts.groups())
        return h * 3600 + m * 60 + s
    return value


Seconds = Annotated[float, BeforeValidator(_seconds, json_schema_input_type=float | str)]


class CanarySpec(Model):
    """A canary: N tasks of the new revision beside the stable ones, judged by NATS `$SRV.STATS`."""

    instances: int = Field(1, ge=1, le=100, description="tasks of the new revision in `<name>-canary`")
    bake_time: Seconds = Field(300, gt=0, le=86400, description="how long the canary serves real traffic before "
                               "the verdict (seconds, or 90s, 5m, 1h30m)")
    min_requests: int = Field(100, ge=1, description="canary requests the bake needs for a verdict; fewer: "
                              "inconclusive")
    max_error_rate: float = Field(0.01, ge=0, le=1, description="highest canary error rate (errors / requests, "
                                  "0-1) that passes")
    max_mean_processing_time_ratio: float | None = Field(
        None, gt=0, description="highest canary mean processing time as a multiple of the stable one's (unset: "
                                "not judged)")
    on_verdict: Literal["promote", "wait"] = Field(
        "promote", description="after a passing verdict: `promote` at once, or `wait` for `fleetctl rollout promote`")
    on_inconclusive: Literal["wait", "abort"] = Field(
        "wait", description="too little traffic: `wait` (keep the canary for `fleetctl rollout promote|abort`) or "
                            "`abort`")


class ServiceRolloutSpec(Model):
    """How a service's new revision reaches it: in place (rolling), or through a canary first."""

    strategy: Literal["rolling", "canary"] = Field("rolling", description="`rolling`: ECS's rolling update; "
                                                   "`canary`: a canary judged by NATS first")
    canary: CanarySpec = Field(default_factory=CanarySpec, description="the canary's settings (strategy: canary)")


LaunchType = Literal["FARGATE", "EC2", "EXTERNAL"]


class Overridable(Model):
    """Settings a service may take from `spec.defaults` or set for itself."""

    launch_type: LaunchType | None = None
    cpu: int | None = Field(None, ge=128, description="task CPU units (Fargate: 256, 512, 1024, ...)")
    memory: int | None = Field(None, ge=128, description="task memory in MiB")
    network: NetworkSpec | None = None
    execution_role_arn: str | None = None
    task_role_arn: str | None = None
    logs: LogsSpec | None = None
    deployment: DeploymentSpec | None = None
    rollout: ServiceRolloutSpec | None = Field(None, description="rolling (default) or canary; unset takes "
                                               "spec.defaults.rollout")


class DefaultsSpec(Overridable):
    launch_type: LaunchType = "FARGATE"
    cpu: int = Field(256, ge=128)
    memory: int = Field(512, ge=128)
    deployment: DeploymentSpec = Field(default_factory=DeploymentSpec)
    environment: dict[Annotated[str, Field(pattern=ENV_NAME)], EnvValue] = Field(default_factory=dict)
    health_check: HealthCheckSpec | Literal[False] = Field(
        default_factory=HealthCheckSpec, description="every service's container health check (default: the SDK "
        "heartbeat, `python -m sdk.health`); `false`: none")


_WHITESPACE = re.compile(r"\s")  # what str.isspace() calls whitespace, found without a loop per character


class SubjectSpec(Model):
    subject: str = Field(description="NATS subject; `*` matches one token, `>` the rest")
    queue: str | None = Field(None, description="queue group; services sharing one may serve overlapping subjects")

    @field_validator("subject")
    @classmethod
    def _subject(cls, v: str) -> str:
        head = v[:-2] if v.endswith(".>") else v  # the usual subject, checked without splitting it:
        if head and head[0] != "." and head[-1] != "." and ".." not in head and "*" not in head \
                and ">" not in head and " " not in head and head.isprintable():  # printable: no whitespace
            return v
        tokens = v.split(".")
        if not v or "" in tokens or _WHITESPACE.search(v):
            raise ValueError(f"invalid NATS subject {redact.text(v)!r}: tokens must be non-empty and contain no spaces")
        for i, t in enumerate(tokens):
            if t == ">" and i != len(tokens) - 1:
                raise ValueError(f"invalid NATS subject {redact.text(v)!r}: '>' must be the last token")
            if (">" in t or "*" in t) and t not in (">", "*"):
                raise ValueError(f"invalid NATS subject {redact.text(v)!r}: wildcards must be whole tokens")
        return v


def _subject_item(value: Any) -> Any:
    return {"subject": value} if isinstance(value, str) else value


class CustomMetricSpec(Model):
    namespace: str = Field(min_length=1, description="CloudWatch namespace, e.g. Gaming/Queues")
    metric_name: str = Field(min_length=1)
    statistic: Literal["Average", "Minimum", "Maximum", "SampleCount", "Sum"] = "Average"
    dimensions: dict[str, str] = Field(default_factory=dict)
    unit: str | None = None


class TargetTrackingSpec(Model):
    """One target-tracking policy: keep `metric` near `target` (percent for cpu/memory)."""

    metric: Literal["cpu", "memory", "custom"]
    target: float = Field(gt=0, description="target value: percent for cpu/memory, the metric's unit for custom")
    custom: CustomMetricSpec | None = Field(None, description="the CloudWatch metric, with metric: custom")
    scale_in_cooldown: int = Field(300, ge=0, le=3600, description="seconds")
    scale_out_cooldown: int = Field(60, ge=0, le=3600, description="seconds")
    disable_scale_in: bool = False

    @model_validator(mode="after")
    def _custom(self) -> "TargetTrackingSpec":
        if (self.metric == "custom") != (self.custom is not None):
            raise ValueError("custom: required with metric: custom, and only then")
        if self.metric != "custom" and self.target > 100:
            raise ValueError(f"target: {self.metric} utilisation is a percentage (at most 100)")
        return self


class AutoscalingSpec(Model):
    """ECS Application Auto Scaling instead of a fixed desiredCount: fleetctl registers the
    scalable target and its target-tracking policies; plan and drift leave the count alone
    within [min, max] and bring it back inside when it is outside."""

    min: int = Field(ge=0, le=1000)
    max: int = Field(ge=1, le=1000)
    target_tracking: list[TargetTrackingSpec] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _bounds(self) -> "AutoscalingSpec":
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        names = [t.metric if t.custom is None else f"custom:{t.custom.namespace}/{t.custom.metric_name}"
                 for t in self.target_tracking]
        if len(set(names)) != len(names):
            raise ValueError("targetTracking: one policy per metric")
        return self


class ServiceSpec(Overridable):
    name: str = Field(pattern=SERVICE_NAME, description="ECS service and container name")
    image: str = Field(min_length=1, description="repository@sha256:<digest>; repository:tag only with spec.allowImageTags")
    desired_count: int = Field(1, ge=0, le=1000)
    command: list[str] | None = None
    entry_point: list[str] | None = None
    environment: dict[Annotated[str, Field(pattern=ENV_NAME)], EnvValue] = Field(default_factory=dict)
    secrets: dict[Annotated[str, Field(pattern=ENV_NAME)], str] = Field(
        default_factory=dict, description="environment name -> Secrets Manager/SSM ARN (valueFrom)"
    )
    subjects: list[Annotated[SubjectSpec, BeforeValidator(_subject_item, json_schema_input_type=str | SubjectSpec)]] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(default_factory=list)
    health_check: HealthCheckSetting = None
    docker_labels: dict[str, str] = Field(default_factory=dict, description="container dockerLabels")
    autoscaling: AutoscalingSpec | None = Field(None, description="Application Auto Scaling instead of desiredCount")

    @model_validator(mode="after")
    def _count_or_autoscaling(self) -> "ServiceSpec":
        if self.autoscaling is not None and "desired_count" in self.model_fields_set:
            raise ValueError("desiredCount: not with autoscaling (autoscaling.min..max decides the count)")
        return self

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, v: dict[str, str]) -> dict[str, str]:
        for name, ref in v.items():
            if not ref.startswith("arn:") and not UNRESOLVED_TF.search(ref):
                raise ValueError(f"secret {name}: valueFrom must be a Secrets Manager or SSM ARN, not a value")
        return v


class MetadataSpec(Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$", description="fleet name; owns services through tags")
    labels: dict[str, str] = Field(default_factory=dict)


class LockSpec(Model):
    """Where the fleet's lease lives: one writer (apply, rollback, prune, the operator) at a time."""

    table: str = Field("fleetctl-locks", min_length=3, max_length=255,
                       description="DynamoDB table holding one lease item per fleet (terraform output "
                                   "`fleet_lock_table_name`)")


class FleetSpec(Model):
    target: TargetSpec
    lock: LockSpec = Field(default_factory=LockSpec, description="the fleet's lease (one writer at a time)")
    nats: NatsSpec
    defaults: DefaultsSpec = Field(default_factory=DefaultsSpec)
    services: list[ServiceSpec] = Field(min_length=1)
    allow_image_tags: bool = Field(False, description="allow repository:tag images, resolved to digests at plan time")
    terraform_outputs: str | None = Field(
        None, description="`terraform output -json` file for ${tf:name} references, relative to the manifest"
    )
    max_concurrency: int = Field(8, ge=1, le=64, description="services reconciled at once")
    rollout: RolloutSpec = Field(default_factory=RolloutSpec)

    @model_validator(mode="after")
    def _canary_names(self) -> "FleetSpec":
        names = {s.name for s in self.services}
        for s in self.services:
            rollout = s.rollout or self.defaults.rollout
            if rollout is not None and rollout.strategy == "canary" and f"{s.name}-canary" in names:
                raise ValueError(f"services: {s.name}-canary is the name of {s.name}'s canary service "
                                 "(rollout.strategy: canary); rename one")
        return self


class Fleet(Model):
    api_version: Literal["fleetctl/v1"]
    kind: Literal["Fleet"]
    metadata: MetadataSpec
    spec: FleetSpec

    def service(self, name: str) -> ServiceSpec:
        """The service named `name` (KeyError if none); the services are indexed once per
        spec, so a look-up per service does not scan the fleet."""
        spec = self.spec
        found = _SERVICE_INDEXES.get(id(spec))
        if found is None or found[0]() is not spec:
            index: dict[str, ServiceSpec] = {}
            for svc in spec.services:
                index.setdefault(svc.name, svc)
            key = id(spec)
            found = _SERVICE_INDEXES[key] = (weakref.ref(spec, lambda _, k=key: _SERVICE_INDEXES.pop(k, None)), index)
        return found[1][name]


# id(spec) -> (the spec, name -> service). Outside the model (a private attribute would take
# part in ==); an index goes when its spec does.
_SERVICE_INDEXES: dict[int, tuple[weakref.ref[FleetSpec], dict[str, ServiceSpec]]] = {}
