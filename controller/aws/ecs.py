"""ECS and ECR operations, batched as the APIs allow, returning controller.state values."""
from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Mapping
from typing import Any

from fleetctl.controller import normalize
from fleetctl.controller.aws import ecs_requests
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.concurrency import gather_limited
from fleetctl.controller.settings import ServiceSettings, TaskDefinition
from fleetctl.controller.state import (
    ContainerState,
    DeploymentState,
    ServiceEvent,
    ServiceState,
    TaskState,
    family_revision,
)
from fleetctl.controller.tags import TD_HASH_TAG

DESCRIBE_SERVICES_BATCH = 10
DESCRIBE_TASKS_BATCH = 100
READS_IN_FLIGHT = 16
"""Describe requests of one read running at once: a second of service reads at AWS's rate
(20/s) with room for latency; lists paged beside them get their turn between them."""


def _chunks(items: list[str], n: int) -> list[list[str]]:
    return [items[i:i + n] for i in range(0, len(items), n)]


async def describe_services(aws: Aws, cluster: str, names: list[str]) -> dict[str, ServiceState]:
    """DescribeServices in batches of 10, READS_IN_FLIGHT at a time. Missing services are absent."""
    async def batch(chunk: list[str]) -> list[ServiceState]:
        resp = await aws.call("ecs", "describe_services", cluster=cluster, services=chunk, include=["TAGS"])
        # kept as ServiceState at once: a large fleet's raw descriptions never pile up
        return [service_state(raw) for raw in resp.get("services", [])]

    results = await gather_limited(READS_IN_FLIGHT, batch, _chunks(names, DESCRIBE_SERVICES_BATCH))
    out: dict[str, ServiceState] = {}
    for page in results:
        for svc in page:
            # an INACTIVE (deleted) service shadows nothing if a live one of the same name exists
            if svc.name not in out or out[svc.name].status == "INACTIVE":
                out[svc.name] = svc
    return out


async def list_service_names(aws: Aws, cluster: str) -> list[str]:
    arns = await aws.paginate("ecs", "list_services", "serviceArns", cluster=cluster)
    return [a.rsplit("/", 1)[-1] for a in arns]


async def describe_task_definition(aws: Aws, task_definition: str) -> dict[str, Any]:
    resp = await aws.call("ecs", "describe_task_definition", taskDefinition=task_definition)
    return resp["taskDefinition"]


async def describe_task_definition_tagged(aws: Aws, task_definition: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """A task definition (a family name: its latest ACTIVE revision) and its tags; None if there is none."""
    from fleetctl.controller.errors import CloudError

    try:
        resp = await aws.call("ecs", "describe_task_definition", taskDefinition=task_definition, include=["TAGS"])
    except CloudError as exc:
        if exc.code in ("ClientException", "InvalidParameterException", "ResourceNotFoundException"):
            return None
        raise
    return resp["taskDefinition"], {t["key"]: t["value"] for t in resp.get("tags", []) or []}


async def register_task_definition_once(
    aws: Aws,
    td: TaskDefinition,
    *,
    candidate: str | None = None,
    attempts: int | None = None,
    backoff: float = 0.2,
) -> str:
    """The revision that holds `td`'s content, registered at most once even when replies are lost.

    `candidate` (a family:revision that may hold it, e.g. the one fleetctl gave the service
    before a rollback) is used when it does. Else, before every attempt, the family's latest
    ACTIVE revision is read (with its tags): when it carries `fleetctl.io/task-definition-hash`
    of this content (or its content matches), it is the revision to use — one registered by an
    earlier attempt whose reply was lost, or by a run that stopped before using it.
    RegisterTaskDefinition itself is sent without botocore's retries: a retry inside botocore
    could not look first.
    """
    from fleetctl.controller.errors import CloudError

    params = ecs_requests.register_task_definition(td)
    want = normalize.task_definition(params)
    content_hash = dict(td.tags).get(TD_HASH_TAG, "")
    if candidate is not None and ":" in family_revision(candidate):
        found = await describe_task_definition_tagged(aws, candidate)
        if found is not None and normalize.task_definition(found[0]) == want:
            return found[0]["taskDefinitionArn"]
    attempts = attempts or aws.max_attempts
    for attempt in range(attempts):
        try:
            found = await describe_task_definition_tagged(aws, td.family)
        except CloudError as exc:  # the look-up itself failed transiently: look again before any register
            if not exc.retryable or attempt == attempts - 1:
                raise
            await asyncio.sleep(min(backoff * 2 ** attempt, 5.0) * (0.5 + random.random()))
            continue
        if found is not None:
            live, tags = found
            if tags.get(TD_HASH_TAG) == content_hash or normalize.task_definition(live) == want:
                return live["taskDefinitionArn"]
        try:
            resp = await aws.call("ecs", "register_task_definition", _retries=False, **params)
        except CloudError as exc:
            if not exc.retryable or attempt == attempts - 1:
                raise
            await asyncio.sleep(min(backoff * 2 ** attempt, 5.0) * (0.5 + random.random()))
            continue
        return resp["taskDefinition"]["taskDefinitionArn"]
    raise AssertionError("unreachable")


async def create_service(aws: Aws, settings: ServiceSettings, task_definition: str, *,
                         recorded: str | None = None) -> ServiceState:
    """CreateService of `settings` on `task_definition` (`recorded`: also in the service's
    `fleetctl.io/task-definition` tag), with the settings' clientToken. A retry after a lost
    reply finds the service created: ECS answers the same token with the same service; where an
    endpoint refuses the second create instead, the service is read back when it carries this
    request's tags."""
    from fleetctl.controller.errors import CloudError

    params = ecs_requests.create_service(settings, task_definition, recorded=recorded)
    try:
        resp = await aws.call("ecs", "create_service", **params)
    except CloudError as exc:
        if exc.code not in ("InvalidParameterException", "ClientException"):
            raise
        found = (await describe_services(aws, params["cluster"], [params["serviceName"]])).get(params["serviceName"])
        want = {t["key"]: t["value"] for t in params.get("tags", [])}
        if found is None or found.status != "ACTIVE" or any(found.tags.get(k) != v for k, v in want.items()):
            raise
        return found
    return service_state(resp["service"])


async def update_service(aws: Aws, cluster: str, service: str, *, task_definition: str | None = None,
                         settings: ServiceSettings | None = None, fields: Iterable[str] = (),
                         desired_count: int | None = None) -> ServiceState:
    """UpdateService (the request: `ecs_requests.update_service`)."""
    params = ecs_requests.update_service(cluster, service, task_definition=task_definition, settings=settings,
                                     fields=fields, desired_count=desired_count)
    resp = await aws.call("ecs", "update_service", **params)
    return service_state(resp["service"])


async def tag_resource(aws: Aws, arn: str, tags: Mapping[str, str]) -> None:
    await aws.call("ecs", "tag_resource", **ecs_requests.tag_resource(arn, tags))


async def delete_service(aws: Aws, cluster: str, name: str) -> None:
    await update_service(aws, cluster, name, desired_count=0)
    await aws.call("ecs", "delete_service", cluster=cluster, service=name, force=True)


async def list_task_arns(aws: Aws, cluster: str, service: str | None = None, *,
                         desired_status: str = "RUNNING") -> list[str]:
    params: dict[str, Any] = {"cluster": cluster, "desiredStatus": desired_status}
    if service:
        params["serviceName"] = service
    return await aws.paginate("ecs", "list_tasks", "taskArns", **params)


async def list_task_definition_arns(aws: Aws, family: str, *, newest_first: bool = True) -> list[str]:
    """The ACTIVE revisions of a family (ListTaskDefinitions, every page), newest first by default.
    `familyPrefix` matches by prefix: callers compare the family themselves."""
    return await aws.paginate("ecs", "list_task_definitions", "taskDefinitionArns", familyPrefix=family,
                              status="ACTIVE", sort="DESC" if newest_first else "ASC")


async def describe_tasks(aws: Aws, cluster: str, arns: list[str]) -> list[TaskState]:
    async def batch(chunk: list[str]) -> list[dict[str, Any]]:
        resp = await aws.call("ecs", "describe_tasks", cluster=cluster, tasks=chunk)
        return resp.get("tasks", [])

    pages = await gather_limited(READS_IN_FLIGHT, batch, _chunks(arns, DESCRIBE_TASKS_BATCH))
    return [task_state(t) for page in pages for t in page]


async def resolve_image_tag(aws: Aws, repository: str, tag: str) -> str | None:
    """The digest an ECR tag points at, or None when the tag or repository is unknown."""
    from fleetctl.controller.errors import CloudError

    try:
        resp = await aws.call("ecr", "describe_images", repositoryName=repository, imageIds=[{"imageTag": tag}])
    except CloudError as exc:
        if exc.code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return None
        raise
    details = resp.get("imageDetails", [])
    return details[0].get("imageDigest") if details else None


def service_state(raw: dict[str, Any]) -> ServiceState:
    deployments = tuple(
        DeploymentState(
            id=d.get("id", ""),
            status=d.get("status", ""),
            task_definition=d.get("taskDefinition", ""),
            desired=d.get("desiredCount", 0),
            running=d.get("runningCount", 0),
            pending=d.get("pendingCount", 0),
            failed_tasks=d.get("failedTasks", 0),
            rollout_state=d.get("rolloutState"),
            rollout_reason=d.get("rolloutStateReason"),
            created_at=d.get("createdAt"),
            updated_at=d.get("updatedAt"),
        )
        for d in raw.get("deployments", [])
    )
    return ServiceState(
        name=raw["serviceName"],
        arn=raw.get("serviceArn", ""),
        status=raw.get("status", "ACTIVE"),
        task_definition=raw.get("taskDefinition", ""),
        desired=raw.get("desiredCount", 0),
        running=raw.get("runningCount", 0),
        pending=raw.get("pendingCount", 0),
        launch_type=raw.get("launchType"),
        network=raw.get("networkConfiguration"),
        deployment_configuration=raw.get("deploymentConfiguration") or {},
        tags={t["key"]: t["value"] for t in raw.get("tags", []) or []},
        deployments=deployments,
        events=tuple(ServiceEvent(e.get("id", ""), e.get("createdAt"), e.get("message", ""))
                     for e in raw.get("events", [])),
        created_at=raw.get("createdAt"),
    )


def task_state(raw: dict[str, Any]) -> TaskState:
    group = raw.get("group")
    return TaskState(
        arn=raw["taskArn"],
        service=group.split(":", 1)[1] if group and group.startswith("service:") else None,
        task_definition=raw.get("taskDefinitionArn", ""),
        last_status=raw.get("lastStatus", ""),
        desired_status=raw.get("desiredStatus", ""),
        stop_code=raw.get("stopCode"),
        stopped_reason=raw.get("stoppedReason"),
        containers=tuple(
            ContainerState(c.get("name", ""), c.get("exitCode"), c.get("reason"), c.get("lastStatus"))
            for c in raw.get("containers", [])
        ),
        created_at=raw.get("createdAt"),
        started_at=raw.get("startedAt"),
        stopped_at=raw.get("stoppedAt"),
        group=group,
        health_status=raw.get("healthStatus"),
    )


async def untag_resource(aws: Aws, arn: str, keys: list[str]) -> None:
    await aws.call("ecs", "untag_resource", resourceArn=arn, tagKeys=keys)


async def describe_cluster(aws: Aws, cluster: str) -> tuple[str, dict[str, str]] | None:
    """The cluster's ARN and tags (one DescribeClusters); None when it does not exist."""
    resp = await aws.call("ecs", "describe_clusters", clusters=[cluster], include=["TAGS"])
    for raw in resp.get("clusters", []):
        if raw.get("status", "ACTIVE") != "INACTIVE":
            return raw["clusterArn"], {t["key"]: t["value"] for t in raw.get("tags", [])}
    return None
