"""observe_*: read the live state of a fleet with as few AWS calls as the API allows.

A no-op check costs ceil(N/10) DescribeServices (tags included) plus ListServices pages; task
definitions are read only for services whose recorded spec hash or revision does not match,
once per ARN (cached across reconciles).
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from fleetctl.controller.aws import ecs
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.errors import FleetError
from fleetctl.controller.manifest.lint import parse_image
from fleetctl.controller.manifest.models import Fleet
from fleetctl.controller.plan import record_is_current, recorded_as_desired
from fleetctl.controller.render import FLEET_TAG, RenderedService
from fleetctl.controller.state import ObservedFleet, ServiceState, family_revision
from fleetctl.controller.concurrency import gather


class TaskDefinitionCache:
    """Task definitions by ARN/family:revision. Revisions are immutable, so entries never expire."""

    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        return self._items.get(key) or self._items.get(family_revision(key))

    def put(self, td: dict[str, Any]) -> None:
        arn = td.get("taskDefinitionArn")
        if arn:
            self._items[arn] = td
            self._items[family_revision(arn)] = td


ServiceReads = tuple[dict[str, ServiceState], list[str]]


async def read_services(aws: Aws, cluster: str, names: list[str], *, find_orphans: bool = True) -> ServiceReads:
    """The services named (DescribeServices) and, to find orphans, every service name of the
    cluster (ListServices): the reads a plan needs that depend on the manifest's names only,
    so they can start before the services are rendered (`observe_fleet(reads=...)`)."""
    if find_orphans:
        services, listed = await gather(ecs.describe_services(aws, cluster, names), ecs.list_service_names(aws, cluster))
        return services, listed
    return await ecs.describe_services(aws, cluster, names), []


async def observe_fleet(
    aws: Aws,
    cluster: str,
    fleet_name: str,
    desired: list[RenderedService],
    *,
    cache: TaskDefinitionCache | None = None,
    find_orphans: bool = True,
    read_task_definitions: bool = True,
    reads: Awaitable[ServiceReads] | None = None,
) -> ObservedFleet:
    """`reads`: `read_services` of `desired`'s names already under way (same `find_orphans`)."""
    cache = cache or TaskDefinitionCache()
    names = [r.name for r in desired]
    if reads is None:
        reads = read_services(aws, cluster, names, find_orphans=find_orphans)
    services, listed = await reads
    known = set(names)
    extra = [n for n in listed if n not in known]
    orphans: dict[str, ServiceState] = {}
    if extra:
        for name, svc in (await ecs.describe_services(aws, cluster, extra)).items():
            if svc.status == "ACTIVE" and svc.tags.get(FLEET_TAG) == fleet_name:
                orphans[name] = svc

    wanted = {r.name: r for r in desired}
    to_read: set[str] = set()
    for name, svc in services.items():
        if svc.status == "INACTIVE" or recorded_as_desired(wanted[name], svc):
            continue
        # apply skips reading what the tags show as changed, but a missing or stale record says
        # nothing about the live content: read it, so a service already on it is not rolled again
        if not read_task_definitions and record_is_current(svc):
            continue
        if cache.get(svc.task_definition) is None:
            to_read.add(svc.task_definition)

    async def read(td: str) -> None:
        cache.put(await ecs.describe_task_definition(aws, td))

    await gather(*(read(td) for td in sorted(to_read)))
    task_definitions = {svc.task_definition: td for svc in services.values()
                        if (td := cache.get(svc.task_definition)) is not None}
    return ObservedFleet(cluster=cluster, services=services, task_definitions=task_definitions, orphans=orphans)


def ecr_repository(image: str) -> tuple[str, str] | None:
    """(registry, repository) of an ECR image, or None for other registries."""
    repo, _tag, _digest = parse_image(image)
    registry, _, path = repo.partition("/")
    if not path or ".dkr.ecr." not in registry:
        return None
    return registry, path


async def resolve_image_tags(aws: Aws, fleet: Fleet, *, concurrency: int = 8) -> Fleet:
    """Replace `repo:tag` images by `repo@sha256:...` from ECR (only where tags are allowed)."""
    pending = [s for s in fleet.spec.services if parse_image(s.image)[2] is None]
    if not pending:
        return fleet
    sem = asyncio.Semaphore(concurrency)

    async def resolve(image: str) -> str:
        repo, tag, _ = parse_image(image)
        where = ecr_repository(image)
        if where is None:
            raise FleetError(f"cannot resolve tag of {image!r}: only ECR images can be resolved; pin a digest")
        async with sem:
            digest = await ecs.resolve_image_tag(aws, where[1], tag or "latest")
        if digest is None:
            raise FleetError(f"image {image!r}: tag {tag or 'latest'!r} not found in ECR repository {where[1]!r}")
        return f"{repo}@{digest}"

    images = sorted({s.image for s in pending})
    resolved = dict(zip(images, await gather(*(resolve(i) for i in images))))
    services = [s.model_copy(update={"image": resolved[s.image]}) if s.image in resolved else s
                for s in fleet.spec.services]
    return fleet.model_copy(update={"spec": fleet.spec.model_copy(update={"services": services})})
