"""An in-memory ECS behind the `AwsApi` protocol (controller/aws/protocol.py): a fast test seam.

`FakeAws` answers `call`/`paginate` the way aiobotocore's client does for the ECS operations the
controller uses, with ECS's semantics where the controller depends on them:

- RegisterTaskDefinition: revisions numbered per family from 1, tags kept per ARN;
  DescribeTaskDefinition (family = latest ACTIVE revision, `include=["TAGS"]`); ListTaskDefinitions.
- CreateService: a PRIMARY deployment IN_PROGRESS; the same clientToken returns the same service,
  another create of a live name is an InvalidParameterException.
- UpdateService: a new task definition (or forceNewDeployment) starts a new PRIMARY deployment
  IN_PROGRESS and the old PRIMARY becomes ACTIVE (draining); a desiredCount change alone scales
  the PRIMARY deployment.
- DescribeServices: at most 10 names, tags only with `include=["TAGS"]`, unknown names in
  `failures` (MISSING); a deleted service is INACTIVE. ListServices pages by 100.
- TagResource/UntagResource, DeleteService (force), ListTasks/DescribeTasks (at most 100),
  DescribeClusters (with tags).

Deployments advance only when told to, so tests are deterministic: `step()` advances every
deployment in progress by one phase (tasks start → RUNNING and HEALTHY → COMPLETED, old
deployments drained); `complete()` steps until nothing moves. With `auto_step=True` each
DescribeServices steps first, so a poller (apply's rollout watcher) sees progress poll by poll.
`fail_rollout(service)` makes the deployment in progress (else the next) fail: its tasks stop
(EssentialContainerExited, exit code 1), rolloutState FAILED and, when the service's circuit
breaker has `rollback: true`, a new PRIMARY deployment of the last COMPLETED revision.

Errors: `inject(operation, code, ...)` makes the next matching call(s) raise the CloudError the
real client would raise, before the call takes effect or (`applied=True`, a lost reply) after. Measurement: `calls` counts operations as botocore does (every page is
a call), `max_in_flight_writes` is the most writes seen at once (with `latency` > 0 a call stays in
flight for that long), `log` lists every call in order.

Extending: the controller changes under other work (idempotent writes, a DynamoDB lease, rate
limits, a rollout gate). A new operation is a method named `<service>_<operation>` (e.g.
`dynamodb_put_item`) taking the request's keyword arguments and returning the response dict, on
a subclass or added here; unknown operations raise a CloudError "UnknownOperation" naming
themselves, so a test never passes by silently ignoring a call. Keyword arguments the real
client does not send to AWS (those starting with `_`, e.g. `_retries`) are dropped.
"""
from __future__ import annotations

import asyncio
import copy
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from fleetctl.controller.aws.client import PAGE_SIZES
from fleetctl.controller.errors import CloudError

ACCOUNT = "123456789012"
READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Filter")


def _camel(operation: str) -> str:
    return "".join(p.capitalize() for p in operation.split("_"))


@dataclass
class Injected:
    operation: str                  # "ecs.update_service" (snake_case, as called)
    code: str
    message: str
    times: int = 1                  # -1: every matching call
    when: Callable[[dict[str, Any]], bool] | None = None   # only calls whose params match
    retryable: bool = False
    applied: bool = False           # the call takes effect, then fails: a reply lost on the way back


@dataclass
class FakeTask:
    arn: str
    service: str
    task_definition: str
    deployment: str
    last_status: str = "PROVISIONING"
    desired_status: str = "RUNNING"
    health: str = "UNKNOWN"
    stop_code: str | None = None
    stopped_reason: str | None = None
    exit_code: int | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None

    def raw(self, cluster_arn: str) -> dict[str, Any]:
        out = {
            "taskArn": self.arn, "clusterArn": cluster_arn, "taskDefinitionArn": self.task_definition,
            "group": f"service:{self.service}", "startedBy": self.deployment, "lastStatus": self.last_status,
            "desiredStatus": self.desired_status, "healthStatus": self.health, "createdAt": self.created_at,
            "containers": [{"name": "app", "lastStatus": self.last_status, "exitCode": self.exit_code,
                            "reason": self.stopped_reason if self.stop_code else None, "healthStatus": self.health}],
        }
        for k, v in (("startedAt", self.started_at), ("stoppedAt", self.stopped_at), ("stopCode", self.stop_code),
                     ("stoppedReason", self.stopped_reason)):
            if v is not None:
                out[k] = v
        return out


@dataclass
class FakeService:
    raw: dict[str, Any]             # the DescribeServices shape, tags kept apart
    client_token: str | None = None
    fail_next: int = 0              # deployments still to fail
    events: list[dict[str, Any]] = field(default_factory=list)


class FakeAws:
    """In-memory ECS (one account, one region) with the `AwsApi` interface."""

    def __init__(self, region: str = "us-east-1", *, clusters: tuple[str, ...] = ("fleet",), auto_step: bool = True,
                 latency: float = 0.0, clock: Callable[[], datetime] | None = None) -> None:
        self.region = region
        self.endpoint_url: str | None = None
        self.max_attempts = 3
        self.calls: Counter[str] = Counter()
        self.observers: list[Callable[[str, str], None]] = []
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.auto_step = auto_step
        self.latency = latency
        self.in_flight_writes = 0
        self.max_in_flight_writes = 0
        self.injected: list[Injected] = []
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._ids = itertools.count(1)
        self.task_definitions: dict[str, list[dict[str, Any]]] = {}   # family -> revisions (index = revision-1)
        self.tags: dict[str, dict[str, str]] = {}                     # resource ARN -> tags
        self.clusters: dict[str, dict[str, FakeService]] = {}
        self.tasks: dict[str, FakeTask] = {}
        for c in clusters:
            self.add_cluster(c)

    # -- AwsApi -------------------------------------------------------------------------
    async def __aenter__(self) -> "FakeAws":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    @property
    def write_calls(self) -> int:
        return sum(n for op, n in self.calls.items() if not op.split(".", 1)[1].startswith(READ_PREFIXES))

    async def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        params = {k: v for k, v in params.items() if not k.startswith("_")}
        name = f"{service}.{_camel(operation)}"
        self.calls[name] += 1
        self.log.append((name, copy.deepcopy(params)))
        write = not _camel(operation).startswith(READ_PREFIXES)
        if write:
            self.in_flight_writes += 1
            self.max_in_flight_writes = max(self.max_in_flight_writes, self.in_flight_writes)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            else:
                await asyncio.sleep(0)  # a real call always yields to the loop
            inj = self._injected(service, operation, params)
            if inj is not None and not inj.applied:
                raise self.error(service, operation, inj.code, inj.message, inj.retryable)
            handler = getattr(self, f"{service.replace('-', '_')}_{operation}", None)
            if handler is None:
                raise self.error(service, operation, "UnknownOperation",
                                 f"the in-memory fake does not implement {name}")
            result = handler(**copy.deepcopy(params))
            if inj is not None:
                raise self.error(service, operation, inj.code, inj.message, inj.retryable)
        except CloudError as exc:
            self._notify(name, exc.code)
            raise
        finally:
            if write:
                self.in_flight_writes -= 1
        self._notify(name, "ok")
        return copy.deepcopy(result)

    async def paginate(self, service: str, operation: str, key: str, /, **params: Any) -> list[Any]:
        out: list[Any] = []
        size = PAGE_SIZES.get((service, operation))
        token: str | None = None
        while True:
            page_params = dict(params)
            if size:
                page_params["maxResults"] = size
            if token:
                page_params["nextToken"] = token
            page = await self.call(service, operation, **page_params)
            out.extend(page.get(key, []))
            token = page.get("nextToken")
            if not token:
                return out

    # -- test controls ------------------------------------------------------------------
    def inject(self, operation: str, code: str, message: str = "injected", *, times: int = 1,
               when: Callable[[dict[str, Any]], bool] | None = None, retryable: bool = False,
               applied: bool = False) -> Injected:
        """The next `times` calls (-1: all) of `operation` ("ecs.update_service") whose params
        satisfy `when` raise CloudError(code, message), as the real client would; with
        `applied=True` the call takes effect first (the reply was lost)."""
        inj = Injected(operation, code, message, times, when, retryable, applied)
        self.injected.append(inj)
        return inj

    def error(self, service: str, operation: str, code: str, message: str, retryable: bool = False) -> CloudError:
        exc = CloudError(f"{service}:{_camel(operation)}", code, message)
        if hasattr(exc, "retryable") or retryable:
            exc.retryable = retryable  # type: ignore[attr-defined]
        return exc

    def add_cluster(self, name: str, tags: dict[str, str] | None = None) -> str:
        self.clusters.setdefault(name, {})
        arn = self._cluster_arn(name)
        self.tags.setdefault(arn, dict(tags or {}))
        return arn

    def service(self, name: str, cluster: str | None = None) -> dict[str, Any]:
        """The live DescribeServices shape (with tags) of a service, for assertions."""
        svc = self._service(cluster or next(iter(self.clusters)), name, op="describe_services", active=False)
        return {**svc.raw, "tags": self._tag_list(svc.raw["serviceArn"])}

    def service_tags(self, name: str, cluster: str | None = None) -> dict[str, str]:
        svc = self._service(cluster or next(iter(self.clusters)), name, op="describe_services", active=False)
        return dict(self.tags.get(svc.raw["serviceArn"], {}))

    def fail_rollout(self, service: str, cluster: str | None = None, times: int = 1) -> None:
        """The service's deployment in progress, else its next one, fails (tasks stop, the circuit
        breaker trips); `times` deployments in all."""
        svc = self._service(cluster or next(iter(self.clusters)), service, op="update_service")
        primary = svc.raw["deployments"][0] if svc.raw["deployments"] else None
        if primary is not None and primary["rolloutState"] == "IN_PROGRESS" and not primary["_fails"]:
            primary["_fails"] = True
            times -= 1
        svc.fail_next += times

    def step(self) -> bool:
        """Advance every deployment in progress by one phase. True when something moved."""
        moved = False
        for cluster, services in self.clusters.items():
            for svc in services.values():
                moved = self._step_service(cluster, svc) or moved
        return moved

    def complete(self, limit: int = 20) -> None:
        """Step until every deployment is settled."""
        for _ in range(limit):
            if not self.step():
                return
        raise AssertionError("the fake's deployments did not settle")

    # -- ECS: task definitions ----------------------------------------------------------
    def ecs_register_task_definition(self, family: str, tags: list[dict[str, str]] | None = None,
                                     **params: Any) -> dict[str, Any]:
        if not params.get("containerDefinitions"):
            raise self.error("ecs", "register_task_definition", "ClientException",
                             "Container definitions are required")
        revisions = self.task_definitions.setdefault(family, [])
        arn = f"arn:aws:ecs:{self.region}:{ACCOUNT}:task-definition/{family}:{len(revisions) + 1}"
        td = {"family": family, **params, "taskDefinitionArn": arn, "revision": len(revisions) + 1,
              "status": "ACTIVE", "registeredAt": self._clock()}
        revisions.append(td)
        self.tags[arn] = {t["key"]: t["value"] for t in tags or []}
        return {"taskDefinition": td, "tags": self._tag_list(arn)}

    def ecs_describe_task_definition(self, taskDefinition: str, include: list[str] | None = None) -> dict[str, Any]:
        td = self._task_definition(taskDefinition, "describe_task_definition")
        out: dict[str, Any] = {"taskDefinition": td}
        if include and "TAGS" in include:
            out["tags"] = self._tag_list(td["taskDefinitionArn"])
        return out

    def ecs_list_task_definitions(self, familyPrefix: str | None = None, status: str = "ACTIVE", sort: str = "ASC",
                                  maxResults: int = 100, nextToken: str | None = None) -> dict[str, Any]:
        arns = [td["taskDefinitionArn"] for fam, tds in sorted(self.task_definitions.items())
                if familyPrefix is None or fam.startswith(familyPrefix) for td in tds if td["status"] == status]
        if sort == "DESC":
            arns.reverse()
        return self._page(arns, "taskDefinitionArns", maxResults, nextToken)

    def ecs_deregister_task_definition(self, taskDefinition: str) -> dict[str, Any]:
        td = self._task_definition(taskDefinition, "deregister_task_definition")
        td["status"] = "INACTIVE"
        return {"taskDefinition": td}

    # -- ECS: services ------------------------------------------------------------------
    def ecs_create_service(self, cluster: str, serviceName: str, taskDefinition: str, desiredCount: int = 0,
                           clientToken: str | None = None, tags: list[dict[str, str]] | None = None,
                           **params: Any) -> dict[str, Any]:
        services = self._cluster(cluster, "create_service")
        existing = services.get(serviceName)
        if existing is not None and existing.raw["status"] != "INACTIVE":
            if clientToken and existing.client_token == clientToken:
                return {"service": self._describe(existing, tags=True)}
            raise self.error("ecs", "create_service", "InvalidParameterException",
                             "Creation of service was not idempotent.")
        td = self._task_definition(taskDefinition, "create_service")["taskDefinitionArn"]
        arn = f"arn:aws:ecs:{self.region}:{ACCOUNT}:service/{cluster}/{serviceName}"
        now = self._clock()
        raw = {
            "serviceArn": arn, "serviceName": serviceName, "clusterArn": self._cluster_arn(cluster),
            "status": "ACTIVE", "taskDefinition": td, "desiredCount": desiredCount, "runningCount": 0,
            "pendingCount": 0, "launchType": params.get("launchType"),
            "networkConfiguration": params.get("networkConfiguration"),
            "deploymentConfiguration": params.get("deploymentConfiguration") or {
                "minimumHealthyPercent": 100, "maximumPercent": 200,
                "deploymentCircuitBreaker": {"enable": False, "rollback": False}},
            "deployments": [], "events": [], "createdAt": now,
            **{k: v for k, v in params.items() if k not in ("launchType", "networkConfiguration",
                                                            "deploymentConfiguration")},
        }
        svc = FakeService(raw, client_token=clientToken)
        services[serviceName] = svc
        self.tags[arn] = {t["key"]: t["value"] for t in tags or []}
        self._deploy(cluster, svc, td)
        return {"service": self._describe(svc, tags=True)}

    def ecs_update_service(self, cluster: str, service: str, desiredCount: int | None = None,
                           taskDefinition: str | None = None, forceNewDeployment: bool = False,
                           **params: Any) -> dict[str, Any]:
        svc = self._service(cluster, service, op="update_service")
        raw = svc.raw
        td = self._task_definition(taskDefinition, "update_service")["taskDefinitionArn"] if taskDefinition else None
        if desiredCount is not None:
            raw["desiredCount"] = desiredCount
            for d in raw["deployments"]:
                if d["status"] == "PRIMARY":
                    d["desiredCount"] = desiredCount
        for k, v in params.items():
            raw[k] = v
        if (td and td != raw["taskDefinition"]) or forceNewDeployment or "networkConfiguration" in params:
            self._deploy(cluster, svc, td or raw["taskDefinition"])
        return {"service": self._describe(svc, tags=False)}

    def ecs_delete_service(self, cluster: str, service: str, force: bool = False) -> dict[str, Any]:
        svc = self._service(cluster, service, op="delete_service")
        if svc.raw["desiredCount"] > 0 and not force:
            raise self.error("ecs", "delete_service", "InvalidParameterException",
                             "The service cannot be stopped while it is scaled above 0.")
        svc.raw.update(status="INACTIVE", desiredCount=0, runningCount=0, pendingCount=0, deployments=[])
        for t in self.tasks.values():
            if t.service == service and t.desired_status == "RUNNING":
                self._stop(t, "ServiceSchedulerInitiated", "Service deleted", 0)
        return {"service": self._describe(svc, tags=False)}

    def ecs_describe_services(self, cluster: str, services: list[str],
                              include: list[str] | None = None) -> dict[str, Any]:
        if len(services) > 10:
            raise self.error("ecs", "describe_services", "InvalidParameterException",
                             "services can have at most 10 items.")
        known = self._cluster(cluster, "describe_services")
        if self.auto_step:
            self.step()
        found, failures = [], []
        for name in services:
            svc = known.get(name.rsplit("/", 1)[-1])
            if svc is None:
                failures.append({"arn": f"arn:aws:ecs:{self.region}:{ACCOUNT}:service/{cluster}/{name}",
                                 "reason": "MISSING"})
            else:
                found.append(self._describe(svc, tags=bool(include and "TAGS" in include)))
        return {"services": found, "failures": failures}

    def ecs_list_services(self, cluster: str, maxResults: int = 10, nextToken: str | None = None,
                          **_: Any) -> dict[str, Any]:
        if maxResults > 100:
            raise self.error("ecs", "list_services", "InvalidParameterException", "maxResults must be at most 100")
        arns = [s.raw["serviceArn"] for s in self._cluster(cluster, "list_services").values()
                if s.raw["status"] == "ACTIVE"]
        return self._page(arns, "serviceArns", maxResults, nextToken)

    # -- ECS: tags, clusters, tasks -----------------------------------------------------
    def ecs_tag_resource(self, resourceArn: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        self._resource(resourceArn, "tag_resource").update({t["key"]: t["value"] for t in tags})
        return {}

    def ecs_untag_resource(self, resourceArn: str, tagKeys: list[str]) -> dict[str, Any]:
        held = self._resource(resourceArn, "untag_resource")
        for k in tagKeys:
            held.pop(k, None)
        return {}

    def ecs_list_tags_for_resource(self, resourceArn: str) -> dict[str, Any]:
        self._resource(resourceArn, "list_tags_for_resource")
        return {"tags": self._tag_list(resourceArn)}

    def ecs_describe_clusters(self, clusters: list[str], include: list[str] | None = None) -> dict[str, Any]:
        found, failures = [], []
        for c in clusters:
            name = c.rsplit("/", 1)[-1]
            if name not in self.clusters:
                failures.append({"arn": self._cluster_arn(name), "reason": "MISSING"})
                continue
            raw: dict[str, Any] = {"clusterArn": self._cluster_arn(name), "clusterName": name, "status": "ACTIVE"}
            if include and "TAGS" in include:
                raw["tags"] = self._tag_list(self._cluster_arn(name))
            found.append(raw)
        return {"clusters": found, "failures": failures}

    def ecs_list_tasks(self, cluster: str, serviceName: str | None = None, desiredStatus: str = "RUNNING",
                       maxResults: int = 100, nextToken: str | None = None, **_: Any) -> dict[str, Any]:
        self._cluster(cluster, "list_tasks")
        arns = [t.arn for t in self.tasks.values() if t.arn.split("/")[-2] == cluster
                and (serviceName is None or t.service == serviceName) and t.desired_status == desiredStatus]
        return self._page(arns, "taskArns", maxResults, nextToken)

    def ecs_describe_tasks(self, cluster: str, tasks: list[str], **_: Any) -> dict[str, Any]:
        if len(tasks) > 100:
            raise self.error("ecs", "describe_tasks", "InvalidParameterException", "tasks can have at most 100 items.")
        found, failures = [], []
        for arn in tasks:
            t = self.tasks.get(arn) or next((t for t in self.tasks.values() if t.arn.endswith("/" + arn)), None)
            if t is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(t.raw(self._cluster_arn(cluster)))
        return {"tasks": found, "failures": failures}

    # -- internals ----------------------------------------------------------------------
    def _injected(self, service: str, operation: str, params: dict[str, Any]) -> Injected | None:
        for inj in self.injected:
            if inj.times != 0 and inj.operation == f"{service}.{operation}" and (inj.when is None or inj.when(params)):
                if inj.times > 0:
                    inj.times -= 1
                return inj
        return None

    def _notify(self, operation: str, outcome: str) -> None:
        for observer in self.observers:
            observer(operation, outcome)

    def _cluster_arn(self, name: str) -> str:
        return f"arn:aws:ecs:{self.region}:{ACCOUNT}:cluster/{name}"

    def _cluster(self, cluster: str, op: str) -> dict[str, FakeService]:
        found = self.clusters.get(cluster.rsplit("/", 1)[-1])
        if found is None:
            raise self.error("ecs", op, "ClusterNotFoundException", "Cluster not found.")
        return found

    def _service(self, cluster: str, name: str, *, op: str, active: bool = True) -> FakeService:
        svc = self._cluster(cluster, op).get(name.rsplit("/", 1)[-1])
        if svc is None:
            raise self.error("ecs", op, "ServiceNotFoundException", "Service not found.")
        if active and svc.raw["status"] != "ACTIVE":
            raise self.error("ecs", op, "ServiceNotActiveException", "Service was not ACTIVE.")
        return svc

    def _task_definition(self, ref: str, op: str) -> dict[str, Any]:
        name = ref.rsplit("/", 1)[-1]
        family, _, rev = name.partition(":")
        revisions = self.task_definitions.get(family, [])
        if rev:
            td = revisions[int(rev) - 1] if rev.isdigit() and 0 < int(rev) <= len(revisions) else None
        else:
            td = next((t for t in reversed(revisions) if t["status"] == "ACTIVE"), None)
        if td is None:
            raise self.error("ecs", op, "ClientException", "Unable to describe task definition.")
        return td

    def _resource(self, arn: str, op: str) -> dict[str, str]:
        if arn not in self.tags:
            raise self.error("ecs", op, "InvalidParameterException", f"The specified resource is not found: {arn}")
        return self.tags[arn]

    def _tag_list(self, arn: str) -> list[dict[str, str]]:
        return [{"key": k, "value": v} for k, v in self.tags.get(arn, {}).items()]

    @staticmethod
    def _page(items: list[str], key: str, size: int, token: str | None) -> dict[str, Any]:
        start = int(token or 0)
        out: dict[str, Any] = {key: items[start:start + size]}
        if start + size < len(items):
            out["nextToken"] = str(start + size)
        return out

    def _describe(self, svc: FakeService, *, tags: bool) -> dict[str, Any]:
        raw = dict(svc.raw)
        live = [{k: v for k, v in d.items() if not k.startswith("_")} for d in raw["deployments"]]
        raw["deployments"] = live
        raw["runningCount"] = sum(d["runningCount"] for d in live)
        raw["pendingCount"] = sum(d["pendingCount"] for d in live)
        raw["events"] = list(reversed(svc.events))[:100]  # newest first, as ECS lists them
        if tags:
            raw["tags"] = self._tag_list(raw["serviceArn"])
        return raw

    def _event(self, svc: FakeService, message: str) -> None:
        svc.events.append({"id": f"ev-{next(self._ids)}", "createdAt": self._clock(),
                           "message": f"(service {svc.raw['serviceName']}) {message}"})

    def _deploy(self, cluster: str, svc: FakeService, td: str, *, rollback_of: str | None = None) -> None:
        raw = svc.raw
        now = self._clock()
        for d in raw["deployments"]:
            if d["status"] == "PRIMARY":
                d["status"] = "ACTIVE"
        raw["taskDefinition"] = td
        raw["deployments"].insert(0, {
            "id": f"ecs-svc/{next(self._ids):016d}", "status": "PRIMARY", "taskDefinition": td,
            "desiredCount": raw["desiredCount"], "runningCount": 0, "pendingCount": 0, "failedTasks": 0,
            "rolloutState": "IN_PROGRESS", "rolloutStateReason": "ECS deployment in progress.",
            "createdAt": now, "updatedAt": now, "_phase": 0, "_fails": False, "_cluster": cluster,
        })
        if svc.fail_next > 0 and rollback_of is None:
            svc.fail_next -= 1
            raw["deployments"][0]["_fails"] = True

    def _step_service(self, cluster: str, svc: FakeService) -> bool:
        raw = svc.raw
        if raw["status"] != "ACTIVE" or not raw["deployments"]:
            return False
        primary = raw["deployments"][0]
        moved = False
        if primary["rolloutState"] == "IN_PROGRESS":
            moved = True
            if primary["_fails"] and primary["_phase"] == 1:
                self._fail(cluster, svc, primary)
            elif primary["_phase"] == 0:   # tasks are placed
                self._scale(cluster, svc, primary, pending=True)
                primary["_phase"] = 1
            else:                          # tasks run and pass health checks; old deployments drain
                self._scale(cluster, svc, primary, pending=False)
                for d in raw["deployments"][1:]:
                    self._drain(d)
                raw["deployments"] = [primary]
                primary.update(rolloutState="COMPLETED", rolloutStateReason="ECS deployment completed.",
                               updatedAt=self._clock())
                self._event(svc, "has reached a steady state.")
        elif primary["rolloutState"] == "COMPLETED" and (
                primary["runningCount"] != raw["desiredCount"] or primary["desiredCount"] != raw["desiredCount"]):
            primary["desiredCount"] = raw["desiredCount"]
            self._scale(cluster, svc, primary, pending=False)  # a scale outside a deployment
            moved = True
        return moved

    def _fail(self, cluster: str, svc: FakeService, d: dict[str, Any]) -> None:
        raw = svc.raw
        for _ in range(max(d["desiredCount"], 1)):
            t = self._new_task(cluster, svc, d)
            self._stop(t, "EssentialContainerExited", "Essential container in task exited", 1)
        d["failedTasks"] += max(d["desiredCount"], 1)
        d.update(rolloutState="FAILED", rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.",
                 runningCount=0, pendingCount=0, updatedAt=self._clock())
        self._event(svc, f"deployment {d['id']} deployment failed: tasks failed to start.")
        breaker = (raw.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
        previous = next((o for o in raw["deployments"][1:] if o["rolloutState"] == "COMPLETED"), None)
        if breaker.get("rollback") and previous is not None:
            self._event(svc, f"deployment {d['id']} rolling back to {previous['taskDefinition']}")
            self._deploy(cluster, svc, previous["taskDefinition"], rollback_of=d["id"])
            # the failed deployment stays listed (ACTIVE, FAILED) until the rollback completes
            raw["deployments"][0]["_phase"] = 1

    def _new_task(self, cluster: str, svc: FakeService, d: dict[str, Any]) -> FakeTask:
        arn = f"arn:aws:ecs:{self.region}:{ACCOUNT}:task/{cluster}/{next(self._ids):032x}"
        t = FakeTask(arn, svc.raw["serviceName"], d["taskDefinition"], d["id"], created_at=self._clock())
        self.tasks[arn] = t
        return t

    def _tasks_of(self, d: dict[str, Any]) -> list[FakeTask]:
        return [t for t in self.tasks.values() if t.deployment == d["id"] and t.desired_status == "RUNNING"]

    def _stop(self, t: FakeTask, code: str, reason: str, exit_code: int | None) -> None:
        t.desired_status, t.last_status = "STOPPED", "STOPPED"
        t.stop_code, t.stopped_reason, t.exit_code = code, reason, exit_code
        t.stopped_at = self._clock()

    def _scale(self, cluster: str, svc: FakeService, d: dict[str, Any], *, pending: bool) -> None:
        tasks = self._tasks_of(d)
        while len(tasks) < d["desiredCount"]:
            tasks.append(self._new_task(cluster, svc, d))
        for t in tasks[d["desiredCount"]:]:
            self._stop(t, "ServiceSchedulerInitiated", "Scaling activity initiated by deployment", 0)
        tasks = tasks[:d["desiredCount"]]
        for t in tasks:
            if pending:
                t.last_status = "PENDING"
            else:
                t.last_status, t.health = "RUNNING", "HEALTHY"
                t.started_at = t.started_at or self._clock() - timedelta(seconds=3600)
        d["pendingCount"] = len(tasks) if pending else 0
        d["runningCount"] = 0 if pending else len(tasks)
        d["updatedAt"] = self._clock()

    def _drain(self, d: dict[str, Any]) -> None:
        for t in self._tasks_of(d):
            self._stop(t, "ServiceSchedulerInitiated", "Deployment replaced", 0)
        d.update(status="INACTIVE", runningCount=0, pendingCount=0)
