"""Roll a service back to its previous completed task definition."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from fleetctl.controller.aws import ecs
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.errors import FleetError
from fleetctl.controller.outcome import StoppedTaskSummary, stopped_tasks, summarize_stopped
from fleetctl.controller.policy import Policy
from fleetctl.controller.rollout import Reporter, SilentReporter
from fleetctl.controller.tags import PREVIOUS_TAG
from fleetctl.controller.state import family_of, family_revision


@dataclass
class RollbackResult:
    service: str
    from_revision: str
    to_revision: str
    ok: bool
    message: str
    stopped: list[StoppedTaskSummary]


async def previous_revision(aws: Aws, cluster: str, service: str) -> tuple[str, str]:
    """(current, previous) family:revision of a service."""
    found = await ecs.describe_services(aws, cluster, [service])
    svc = found.get(service)
    if svc is None or svc.status != "ACTIVE":
        raise FleetError(f"service {service!r} not found in cluster {cluster!r}")
    current = family_revision(svc.task_definition)
    recorded = svc.tags.get(PREVIOUS_TAG)
    if recorded and recorded != current:
        return current, recorded
    family, _, rev = current.partition(":")
    arns = await ecs.list_task_definition_arns(aws, family)
    older = [family_revision(a) for a in arns
             if family_of(a) == family and rev.isdigit() and int(family_revision(a).split(":")[1]) < int(rev)]
    if not older:
        raise FleetError(f"{service}: no earlier revision of {family} to roll back to")
    return current, older[0]


async def rollback(aws: Aws, cluster: str, service: str, *, to: str | None = None, wait: bool = True,
                   timeout: float = 600, poll_interval: float = 2.0,
                   reporter: Reporter | None = None, gate: Any = None, min_ready: float = 0.0,
                   fleet: Any = None) -> RollbackResult:
    """Put `service` on `to` (default: its previous completed revision) and wait for the rollout
    gate: ECS, container health, minReadySeconds and, with `gate`, NATS showing that revision's
    image digest on every declared subject."""
    current, previous = await previous_revision(aws, cluster, service)
    target = family_revision(to) if to else previous
    if target == current:
        raise FleetError(f"{service} already runs {current}")
    await ecs.update_service(aws, cluster, service, task_definition=target)
    if not wait:
        return RollbackResult(service, current, target, True, "rollback submitted; not waiting", [])
    import asyncio

    definition = await ecs.describe_task_definition(aws, target)
    container = (definition.get("containerDefinitions") or [{}])[0]
    gate_target = None
    if fleet is not None and gate is not None:
        from fleetctl.controller.gate import GateTarget
        from fleetctl.controller.probe import expected_version

        spec = next((s for s in fleet.spec.services if s.name == service), None)
        if spec is not None:
            gate_target = GateTarget(service, spec.desired_count, expected_version(container.get("image", "")),
                                     tuple(sub.subject for sub in spec.subjects))
    policy = Policy(min_ready=min_ready, deadline=timeout, gate=gate, fleet=fleet)
    watcher = policy.watcher(aws, cluster, reporter or SilentReporter(), poll_interval)
    stop = asyncio.Event()
    runner = asyncio.create_task(watcher.run(stop))
    try:
        ok, message = await watcher.watch(service, target, policy.deadline, datetime.now(timezone.utc), gate_target=gate_target,
                                          health_checked=bool(container.get("healthCheck"))).done
    finally:
        stop.set()
        watcher.wake()
        await runner
    stopped: list[StoppedTaskSummary] = []
    if not ok:
        stopped = summarize_stopped(await stopped_tasks(aws, cluster, service))
    return RollbackResult(service, current, target, ok, message, stopped)
