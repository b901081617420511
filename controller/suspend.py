"""Suspend and resume the operator's reconcile, with the state on AWS so every controller sees it.

A suspended service carries the tag `fleetctl.io/suspended` (its value says who suspended it
and when); a suspended fleet is the tag `fleetctl.io/suspended/<fleet>` on its cluster. The
operator reads both every pass (the service tags come with DescribeServices; the cluster's
cost one DescribeClusters) and leaves suspended services alone while it keeps healing the rest.
`apply` and `rollback` are explicit commands and are not held back by a suspension.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from fleetctl.controller.aws import ecs
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.errors import FleetError
from fleetctl.controller.state import ServiceState
from fleetctl.controller.tags import SUSPEND_TAG, fleet_suspend_key as fleet_key  # noqa: F401  (imported from here too)


def marker(by: str) -> str:
    """A tag value: who suspended and when, e.g. `rollback 2026-01-02T03:04:05Z`."""
    return f"{by} {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}"


@dataclass(frozen=True)
class Suspension:
    fleet: str | None = None                          # the fleet marker's value when the whole fleet is suspended
    services: dict[str, str] = field(default_factory=dict)   # service -> marker

    def of(self, service: str) -> str | None:
        """Why `service` is suspended (its own marker first), or None."""
        if service in self.services:
            return self.services[service]
        return f"fleet: {self.fleet}" if self.fleet is not None else None


def service_suspension(services: dict[str, ServiceState]) -> dict[str, str]:
    return {name: s.tags[SUSPEND_TAG] for name, s in services.items()
            if s.status == "ACTIVE" and SUSPEND_TAG in s.tags}


async def observe_suspension(aws: Aws, cluster: str, fleet_name: str,
                             services: dict[str, ServiceState]) -> Suspension:
    found = await ecs.describe_cluster(aws, cluster)
    fleet = found[1].get(fleet_key(fleet_name)) if found else None
    return Suspension(fleet, service_suspension(services))


async def _services(aws: Aws, cluster: str, names: list[str]) -> dict[str, ServiceState]:
    found = {n: s for n, s in (await ecs.describe_services(aws, cluster, names)).items() if s.status == "ACTIVE"}
    missing = [n for n in names if n not in found]
    if missing:
        raise FleetError(f"no service {', '.join(missing)} in cluster {cluster!r} (create it first: `fleetctl apply`)")
    return found


async def _cluster_arn(aws: Aws, cluster: str) -> tuple[str, dict[str, str]]:
    found = await ecs.describe_cluster(aws, cluster)
    if found is None:
        raise FleetError(f"cluster {cluster!r} not found")
    return found


async def suspend(aws: Aws, cluster: str, fleet_name: str, services: list[str] | None, *, by: str) -> list[str]:
    """Suspend `services`, or the whole fleet when None. Returns what was newly suspended
    (already suspended keeps its original marker: a repeat is a no-op)."""
    if services is None:
        arn, tags = await _cluster_arn(aws, cluster)
        if fleet_key(fleet_name) in tags:
            return []
        await ecs.tag_resource(aws, arn, {fleet_key(fleet_name): marker(by)})
        return [f"fleet {fleet_name}"]
    changed = []
    for name, svc in (await _services(aws, cluster, services)).items():
        if SUSPEND_TAG not in svc.tags:
            await ecs.tag_resource(aws, svc.arn, {SUSPEND_TAG: marker(by)})
            changed.append(name)
    return changed


async def resume(aws: Aws, cluster: str, fleet_name: str, services: list[str] | None,
                 all_services: list[str] | None = None) -> list[str]:
    """Resume `services`; None resumes the fleet marker and every suspended service in
    `all_services`. Returns what was resumed; a repeat is a no-op."""
    changed = []
    if services is None:
        arn, tags = await _cluster_arn(aws, cluster)
        if fleet_key(fleet_name) in tags:
            await ecs.untag_resource(aws, arn, [fleet_key(fleet_name)])
            changed.append(f"fleet {fleet_name}")
        live = await ecs.describe_services(aws, cluster, all_services or [])
        targets = {n: s for n, s in live.items() if s.status == "ACTIVE"}
    else:
        targets = await _services(aws, cluster, services)
    for name, svc in targets.items():
        if SUSPEND_TAG in svc.tags:
            await ecs.untag_resource(aws, svc.arn, [SUSPEND_TAG])
            changed.append(name)
    return changed
