"""The reconcile pipeline the CLI and the operator share: resolve → render → observe → plan."""
from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from fleetctl.controller.aws.client import Aws
from fleetctl.controller.canary import canary_status, plan_canaries, rollout_of
from fleetctl.controller.canary_run import observe_canaries
from fleetctl.controller.errors import FleetError
from fleetctl.controller.conditions import Condition, conditions
from fleetctl.controller.manifest.lint import parse_image
from fleetctl.controller.manifest.models import Fleet
from fleetctl.controller.observe import TaskDefinitionCache, observe_fleet, read_services, resolve_image_tags
from fleetctl.controller.plan import Plan, plan, recorded_as_desired
from fleetctl.controller.render import RenderedService, render_service, selected
from fleetctl.controller.state import ObservedFleet, family_revision


@dataclass(frozen=True)
class Reconciliation:
    fleet: Fleet                 # with image tags resolved to digests
    rendered: list[RenderedService]
    observed: ObservedFleet
    plan: Plan


async def reconcile_plan(
    aws: Aws,
    fleet: Fleet,
    *,
    prune: bool = False,
    only: str | Collection[str] | None = None,
    cache: TaskDefinitionCache | None = None,
    read_task_definitions: bool = True,
    adopt: frozenset[str] = frozenset(),
) -> Reconciliation:
    """`read_task_definitions=False` skips reading live revisions the tags already show as
    changed: apply needs to know that they differ, only plan/diff need to show how."""
    unknown = sorted(set(adopt) - {s.name for s in fleet.spec.services})
    if unknown:
        raise FleetError(f"--adopt {unknown[0]}: the manifest has no such service")
    # the service reads need only the names: they start first and keep their pace (the rate
    # limits') while the services are rendered
    names = [s.name for s in selected(fleet, only)]
    reads = asyncio.ensure_future(read_services(aws, fleet.spec.target.cluster, names, find_orphans=only is None))
    try:
        resolved = await resolve_image_tags(aws, fleet) if fleet.spec.allow_image_tags else fleet
        rendered = await _render_beside_reads(resolved, only)
    except BaseException:
        reads.cancel()
        await asyncio.gather(reads, return_exceptions=True)
        raise
    observed = await observe_fleet(aws, fleet.spec.target.cluster, fleet.metadata.name, rendered,
                                   cache=cache, find_orphans=only is None,
                                   read_task_definitions=read_task_definitions, reads=reads)
    planned = plan(rendered, observed, fleet_name=fleet.metadata.name, prune=prune, adopt=adopt)
    canaries = await observe_canaries(aws, fleet, [r.name for r in rendered])
    if canaries or any(rollout_of(fleet, r.name).strategy == "canary" for r in rendered):
        planned = plan_canaries(planned, resolved, rendered, observed, canaries)
    return Reconciliation(resolved, rendered, observed, planned)


RENDER_TURN = 50
"""Services rendered between two turns of the event loop (≈ 10 ms): reads under way keep going."""


async def _render_beside_reads(fleet: Fleet, only: str | Collection[str] | None) -> list[RenderedService]:
    out = []
    for i, spec in enumerate(selected(fleet, only), 1):
        out.append(render_service(fleet, spec))
        if i % RENDER_TURN == 0:
            await asyncio.sleep(0)
    return out


def dependencies(fleet: Fleet) -> dict[str, list[str]]:
    return {s.name: list(s.depends_on) for s in fleet.spec.services}


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    desired: int
    running: int
    pending: int
    rollout: str
    task_definition: str
    manifest_image: str
    running_image: str | None
    conditions: list[Condition]
    suspended: str | None = None   # why the operator leaves it alone (`fleetctl controller suspend`)
    canary: dict[str, Any] | None = None   # its canary's progress (controller/canary.py), when one runs

    @property
    def image_matches(self) -> bool:
        return self.running_image is not None and _digest(self.running_image) == _digest(self.manifest_image)

    def condition(self, type_: str) -> Condition:
        return next(c for c in self.conditions if c.type == type_)

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "desired": self.desired,
            "running": self.running,
            "pending": self.pending,
            "rolloutState": self.rollout,
            "taskDefinition": self.task_definition,
            "manifestDigest": _digest(self.manifest_image),
            "runningDigest": _digest(self.running_image) if self.running_image else None,
            "imageMatches": self.image_matches,
            "conditions": [c.as_dict() for c in self.conditions],
            "suspended": self.suspended is not None,
            "suspendedBy": self.suspended,
            "canary": self.canary,
        }


def _digest(image: str) -> str | None:
    return parse_image(image)[2]


async def fleet_status(aws: Aws, fleet: Fleet, *, cache: TaskDefinitionCache | None = None,
                       only: Collection[str] | None = None,
                       gate: Any = None) -> tuple[Reconciliation, list[ServiceStatus]]:
    """`gate` (an opened controller.gate.NatsGate): one NATS round for the Serving condition."""
    from fleetctl.controller.gate import crash_loops, targets_for
    from fleetctl.controller.suspend import observe_suspension

    cache = cache or TaskDefinitionCache()
    rec = await reconcile_plan(aws, fleet, cache=cache, only=only)
    suspension = await observe_suspension(aws, fleet.spec.target.cluster, fleet.metadata.name, rec.observed.services)
    verdicts = (await gate.round(list(targets_for(rec.fleet, list(only) if only else None).values()))
                if gate is not None else {})
    loops = await crash_loops(aws, rec.fleet, rec.observed.services)
    out = []
    for r in rec.rendered:
        svc = rec.observed.services.get(r.name)
        manifest_image = r.register_task_definition["containerDefinitions"][0]["image"]
        running_image = None
        if svc is not None and svc.status == "ACTIVE":
            td = rec.observed.task_definitions.get(svc.task_definition)
            if recorded_as_desired(r, svc):
                running_image = manifest_image
            elif td:
                running_image = td["containerDefinitions"][0]["image"]
        primary = svc.primary if svc else None
        out.append(ServiceStatus(
            service=r.name,
            desired=svc.desired if svc else 0,
            running=svc.running if svc else 0,
            pending=svc.pending if svc else 0,
            rollout=(primary.rollout_state or "-") if primary else "-",
            task_definition=family_revision(svc.task_definition) if svc else "-",
            manifest_image=manifest_image,
            running_image=running_image,
            conditions=conditions(svc, verdicts.get(r.name), loops.get(r.name)),
            suspended=suspension.of(r.name),
            canary=canary_status(rec.plan, r.name),
        ))
    return rec, out
