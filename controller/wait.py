"""Waiting for rollouts already under way (`apply --no-wait`, the controller, a change by hand).

The same watcher apply uses: one DescribeServices per 10 services per poll, new service events
and per-service progress to the reporter. A service is done when its primary deployment has
COMPLETED and running == desired; it has failed when that deployment FAILED or ECS rolled it back.
"""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

from fleetctl.controller.apply import ApplyResult, Reporter, RolloutWatcher, ServiceOutcome, stopped_tasks, summarize_stopped
from fleetctl.controller.aws import ecs
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.errors import CloudError
from fleetctl.controller.state import family_revision


async def wait_for_services(aws: Aws, cluster: str, services: list[str], *, timeout: float, reporter: Reporter,
                            poll_interval: float = 5.0) -> ApplyResult:
    since = datetime.now(timezone.utc)
    started = time.monotonic()
    current = await ecs.describe_services(aws, cluster, services)
    watcher = RolloutWatcher(aws, cluster, reporter, poll_interval)
    stop = asyncio.Event()
    outcomes: dict[str, ServiceOutcome] = {}

    async def one(name: str) -> None:
        svc = current.get(name)
        if svc is None or svc.status != "ACTIVE":
            outcomes[name] = ServiceOutcome(name, "failed", "service not found in the cluster: nothing to wait for")
            reporter.finished(outcomes[name])
            return
        primary = svc.primary if svc is not None else None
        # the revision being rolled out now: a rollback by the circuit breaker is a failure
        target = family_revision(primary.task_definition) if primary is not None else None
        rollout = watcher.watch(name, target, timeout, since)
        ok, message = await rollout.done
        outcome = ServiceOutcome(name, "ready" if ok else "failed", message, duration=time.monotonic() - started)
        if not ok:
            try:
                outcome.stopped_tasks = summarize_stopped(await stopped_tasks(aws, cluster, name))
            except CloudError as exc:
                outcome.message += f" (stopped tasks unavailable: {exc})"
        outcomes[name] = outcome
        reporter.finished(outcome)

    watch_task = asyncio.create_task(watcher.run(stop), name="rollout-watcher")
    try:
        await asyncio.gather(*(one(n) for n in services))
    finally:
        stop.set()
        watcher.wake()
        await asyncio.gather(watch_task, return_exceptions=True)
    return ApplyResult({n: outcomes[n] for n in services if n in outcomes})
