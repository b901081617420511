"""apply(plan): execute a Plan against ECS, then wait for each rollout.

Services run concurrently under a bound, in waves that respect dependsOn: a service's actions
start once every dependency is Ready. A deployment that fails or is rolled back by the circuit
breaker is a failure, never a success.
"""
from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from controller import autoscaling, normalize
from controller.aws import ecs
from controller.aws.client import Aws
from controller.conditions import is_ready
from controller.errors import CloudError
from controller.plan import (
    TASK_DEF_TAG,
    AdoptServiceAction,
    ConfigureAutoscalingAction,
    OwnershipError,
    CreateServiceAction,
    DeleteServiceAction,
    Plan,
    RegisterTaskDefinitionAction,
    RemoveAutoscalingAction,
    ScaleServiceAction,
    ServicePlan,
    TagServiceAction,
    UpdateServiceAction,
)
from controller.render import FLEET_TAG
from controller.state import ServiceState, TaskState, family_revision


@dataclass
class StoppedTaskSummary:
    count: int
    stop_code: str | None
    reason: str | None
    exit_codes: list[int | None]
    container_reason: str | None
    last_task: str

    def line(self) -> str:
        known = sorted({c for c in self.exit_codes if c is not None})
        codes = f"exit code {','.join(map(str, known))}" if known else "no exit code"
        extra = (f" ({self.container_reason})"
                 if self.container_reason and self.container_reason not in (self.reason or "") else "")
        return f"{self.count}x {self.stop_code or '-'}: {self.reason or '-'}; {codes}{extra} (last task {self.last_task})"


@dataclass
class ServiceOutcome:
    service: str
    status: str  # ready | failed | applied | unchanged | deleted | skipped
    message: str = ""
    stopped_tasks: list[StoppedTaskSummary] = field(default_factory=list)
    duration: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "skipped")

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "status": self.status, "message": self.message,
                "durationSeconds": round(self.duration, 2),
                "stoppedTasks": [s.__dict__ for s in self.stopped_tasks]}


@dataclass
class ApplyResult:
    outcomes: dict[str, ServiceOutcome]

    @property
    def ok(self) -> bool:
        return not any(o.failed for o in self.outcomes.values())


@dataclass
class RolloutRow:
    service: str
    desired: int
    running: int
    pending: int
    failed: int
    rollout: str
    phase: str


class Reporter(Protocol):
    def action(self, service: str, summary: str) -> None: ...
    def event(self, service: str, when: datetime | None, message: str) -> None: ...
    def progress(self, rows: list[RolloutRow]) -> None: ...
    def finished(self, outcome: ServiceOutcome) -> None: ...


class SilentReporter:
    def action(self, service: str, summary: str) -> None: ...
    def event(self, service: str, when: datetime | None, message: str) -> None: ...
    def progress(self, rows: list[RolloutRow]) -> None: ...
    def finished(self, outcome: ServiceOutcome) -> None: ...


@dataclass
class ApplyOptions:
    wait: bool = True
    timeout: float = 600.0          # per service rollout
    overall_timeout: float = 1800.0
    fail_fast: bool = False
    poll_interval: float = 2.0
    concurrency: int = 8


async def execute_service_plan(aws: Aws, cluster: str, fleet_name: str, sp: ServicePlan, *,
                               tag: bool = True) -> tuple[str | None, dict[str, str] | None]:
    """Run one service's actions in order.

    Returns the family:revision the service should now run, and the tags still to write when
    `tag` is False (the caller writes them once the rollout holds).
    """
    registered: str | None = None
    created_arn: str = ""
    target: str | None = None
    pending: dict[str, str] | None = None
    for action in sp.actions:
        if isinstance(action, AdoptServiceAction):  # first: every later write is on an owned service
            await ecs.tag_resource(aws, action.arn, {FLEET_TAG: fleet_name})
        elif isinstance(action, RegisterTaskDefinitionAction):
            registered = await register_if_changed(aws, action.input, action.reuse_candidate)
            target = registered
        elif isinstance(action, CreateServiceAction):
            params = dict(action.input)
            if registered:
                params["taskDefinition"] = registered
            params["tags"] = [*params.get("tags", []), {"key": TASK_DEF_TAG, "value": family_revision(params["taskDefinition"])}]
            svc = await ecs.create_service(aws, params)
            created_arn = svc.arn
            target = family_revision(svc.task_definition or params["taskDefinition"])
        elif isinstance(action, UpdateServiceAction):
            params = dict(action.input)
            if action.uses_new_task_definition:
                assert registered is not None
                params["taskDefinition"] = registered
            await ecs.update_service(aws, params)
        elif isinstance(action, ScaleServiceAction):
            await ecs.update_service(aws, {"cluster": cluster, "service": action.service, "desiredCount": action.new})
        elif isinstance(action, TagServiceAction):
            tags = action.tags(fleet_name, registered)
            target = target or tags.get(TASK_DEF_TAG)
            if tag:
                await ecs.tag_resource(aws, action.arn, tags)
            else:
                pending = {"arn": action.arn, **tags}
        elif isinstance(action, DeleteServiceAction):
            await ecs.delete_service(aws, cluster, action.service)
        elif isinstance(action, ConfigureAutoscalingAction):
            await autoscaling.configure(aws, action.scaling, action.arn or created_arn)
        elif isinstance(action, RemoveAutoscalingAction):
            await autoscaling.remove(aws, action.resource_id, action.arn)
    return (family_revision(target) if target else None), pending


async def write_tags(aws: Aws, pending: dict[str, str] | None) -> None:
    if pending:
        arn = pending["arn"]
        await ecs.tag_resource(aws, arn, {k: v for k, v in pending.items() if k != "arn"})


async def register_if_changed(aws: Aws, params: dict[str, Any], candidate: str | None) -> str:
    """Register a task definition unless `candidate` (a revision or a family's latest) holds this content."""
    if candidate is None:
        return await ecs.register_task_definition(aws, params)
    try:
        latest = await ecs.describe_task_definition(aws, candidate)
    except CloudError as exc:
        if exc.code not in ("ClientException", "InvalidParameterException", "ResourceNotFoundException"):
            raise
        latest = None
    if latest is not None and normalize.task_definition(latest) == normalize.task_definition(params):
        return latest["taskDefinitionArn"]
    return await ecs.register_task_definition(aws, params)


_REQUEST_ID = re.compile(r"(request id|RequestId|requestId)[:=]\s*[0-9a-fA-F-]{8,}")


def _generic(reason: str | None) -> str | None:
    """A stop reason without the per-request noise, so equal failures group together."""
    return _REQUEST_ID.sub(r"\1: …", reason) if reason else reason


def summarize_stopped(tasks: list[TaskState], limit: int = 5) -> list[StoppedTaskSummary]:
    groups: dict[tuple[Any, ...], StoppedTaskSummary] = {}
    for t in sorted(tasks, key=lambda t: t.stopped_at or t.created_at or datetime.min.replace(tzinfo=timezone.utc),
                    reverse=True):
        c = t.containers[0] if t.containers else None
        key = (t.stop_code, _generic(t.stopped_reason), _generic(c.reason if c else None))
        if key not in groups:
            groups[key] = StoppedTaskSummary(0, t.stop_code, t.stopped_reason, [], c.reason if c else None, t.id)
        g = groups[key]
        g.count += 1
        g.exit_codes.append(c.exit_code if c else None)
    return sorted(groups.values(), key=lambda g: -g.count)[:limit]


class _Rollout:
    def __init__(self, service: str, target: str | None, timeout: float, since: datetime):
        self.service = service
        self.target = target
        self.deadline = time.monotonic() + timeout
        self.started = time.monotonic()
        self.since = since
        self.seen_target = False
        self.done: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()
        self.seen_events: set[str] = set()

    def settle(self, ok: bool, message: str) -> None:
        if not self.done.done():
            self.done.set_result((ok, message))


class RolloutWatcher:
    """One poller for every service being waited on: DescribeServices in batches of 10."""

    def __init__(self, aws: Aws, cluster: str, reporter: Reporter, poll_interval: float):
        self.aws = aws
        self.cluster = cluster
        self.reporter = reporter
        self.poll_interval = poll_interval
        self.rollouts: dict[str, _Rollout] = {}
        self.last: dict[str, ServiceState] = {}
        self._wake = asyncio.Event()

    def watch(self, service: str, target: str | None, timeout: float, since: datetime) -> _Rollout:
        r = _Rollout(service, target, timeout, since)
        self.rollouts[service] = r
        self.wake()
        return r

    def wake(self) -> None:
        """Poll now instead of at the next interval (a new rollout, or stopping)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            pending = [r for r in self.rollouts.values() if not r.done.done()]
            if pending:
                try:
                    states = await ecs.describe_services(self.aws, self.cluster, [r.service for r in pending])
                except CloudError as exc:
                    for r in pending:
                        if time.monotonic() > r.deadline:
                            r.settle(False, f"timed out; last error: {exc}")
                else:
                    self.last.update(states)
                    for r in pending:
                        self._evaluate(r, states.get(r.service))
                    self.reporter.progress(self.rows())
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass

    def rows(self) -> list[RolloutRow]:
        rows = []
        for name, r in self.rollouts.items():
            s = self.last.get(name)
            phase = "waiting" if not r.done.done() else ("ready" if r.done.result()[0] else "failed")
            if s is None:
                rows.append(RolloutRow(name, 0, 0, 0, 0, "-", phase))
                continue
            p = s.primary
            rows.append(RolloutRow(name, s.desired, s.running, s.pending, p.failed_tasks if p else 0,
                                   (p.rollout_state or "-") if p else "-", phase))
        return rows

    def _evaluate(self, r: _Rollout, svc: ServiceState | None) -> None:
        if svc is not None:
            for e in reversed(svc.events):
                if e.id not in r.seen_events:
                    r.seen_events.add(e.id)
                    if e.created_at is None or e.created_at >= r.since:
                        self.reporter.event(r.service, e.created_at, e.message)
        if svc is None or svc.status != "ACTIVE":
            if time.monotonic() > r.deadline:
                r.settle(False, "service not found")
            return
        if r.target:
            mine = [d for d in svc.deployments if family_revision(d.task_definition) == r.target]
            if any(d.rollout_state == "FAILED" for d in mine):
                d = next(d for d in mine if d.rollout_state == "FAILED")
                back = svc.primary
                where = (f"; rolled back to {family_revision(back.task_definition)}"
                         if back and family_revision(back.task_definition) != r.target else "")
                r.settle(False, f"deployment failed: {d.rollout_reason or 'circuit breaker tripped'}{where}")
                return
            if mine:
                r.seen_target = True
            primary = svc.primary
            if r.seen_target and not mine and primary and family_revision(primary.task_definition) != r.target:
                r.settle(False, f"rolled back to {family_revision(primary.task_definition)}")
                return
        if is_ready(svc, r.target):
            r.settle(True, f"{svc.running}/{svc.desired} tasks running" +
                     (f" on {r.target}" if r.target else ""))
        elif time.monotonic() > r.deadline:
            r.settle(False, f"timed out after {time.monotonic() - r.started:.0f}s: {svc.running}/{svc.desired} running, "
                            f"{svc.pending} pending")


async def stopped_tasks(aws: Aws, cluster: str, service: str, limit: int = 100) -> list[TaskState]:
    arns = await ecs.list_task_arns(aws, cluster, service, desired_status="STOPPED")
    if not arns:
        return []
    tasks = await ecs.describe_tasks(aws, cluster, arns[:limit])
    return [t for t in tasks if t.service in (None, service)]


async def apply(
    plan: Plan,
    aws: Aws,
    *,
    fleet_name: str,
    dependencies: dict[str, list[str]],
    observed: dict[str, ServiceState],
    options: ApplyOptions | None = None,
    reporter: Reporter | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> ApplyResult:
    if plan.conflicts:  # another fleet's or an untagged service, not adopted: write nothing
        raise OwnershipError(plan.conflicts)
    options = options or ApplyOptions()
    reporter = reporter or SilentReporter()
    cluster = plan.cluster
    since = clock()
    outcomes: dict[str, ServiceOutcome] = {}
    sem = asyncio.Semaphore(options.concurrency)
    watcher = RolloutWatcher(aws, cluster, reporter, options.poll_interval)
    stop_watch = asyncio.Event()
    ready: dict[str, asyncio.Future[bool]] = {
        name: asyncio.get_running_loop().create_future() for name in dependencies
    }
    failed_any = asyncio.Event()

    def finish(outcome: ServiceOutcome) -> None:
        outcomes[outcome.service] = outcome
        fut = ready.get(outcome.service)
        if fut is not None and not fut.done():
            fut.set_result(outcome.status in ("ready", "unchanged", "applied"))
        if outcome.failed:
            failed_any.set()
        reporter.finished(outcome)

    def must_wait_for(dep: str) -> bool:
        """A dependency gates its dependents while it is not serving: being created, not Ready now,
        or being replaced with no healthy minimum. A rolling update of a Ready service keeps it
        serving throughout, so dependents roll in the same wave."""
        dp = plan.for_service(dep)
        current = observed.get(dep)
        if dp is None or not dp.actions:
            return not is_ready(current)
        if any(isinstance(a, (CreateServiceAction, DeleteServiceAction)) for a in dp.actions) or not is_ready(current):
            return True
        floor = (current.deployment_configuration or {}).get("minimumHealthyPercent", 100) if current else 100
        return any(isinstance(a, UpdateServiceAction) for a in dp.actions) and floor == 0

    async def run_service(sp: ServicePlan) -> None:
        started = time.monotonic()
        deps = [d for d in dependencies.get(sp.service, []) if d in ready and must_wait_for(d)]
        if options.wait and deps:
            results = await asyncio.gather(*(asyncio.shield(ready[d]) for d in deps))
            bad = [d for d, ok in zip(deps, results) if not ok]
            if bad:
                finish(ServiceOutcome(sp.service, "skipped", f"dependency not Ready: {', '.join(bad)}"))
                return
        async with sem:
            for a in sp.actions:
                reporter.action(sp.service, a.summary())
            try:
                target, pending_tags = await execute_service_plan(aws, cluster, fleet_name, sp, tag=not options.wait)
            except CloudError as exc:
                finish(ServiceOutcome(sp.service, "failed", str(exc), duration=time.monotonic() - started))
                return
        if any(isinstance(a, DeleteServiceAction) for a in sp.actions):
            finish(ServiceOutcome(sp.service, "deleted", "service deleted", duration=time.monotonic() - started))
            return
        if not options.wait:
            finish(ServiceOutcome(sp.service, "applied", "changes applied; not waiting",
                                  duration=time.monotonic() - started))
            return
        rollout = watcher.watch(sp.service, target if sp.rolls_out or target else None, options.timeout, since)
        ok, message = await rollout.done
        outcome = ServiceOutcome(sp.service, "ready" if ok else "failed", message, duration=time.monotonic() - started)
        if ok:
            try:
                await write_tags(aws, pending_tags)  # the spec is recorded once it holds
            except CloudError as exc:
                outcome.status = "failed"
                outcome.message += f" (could not record the applied spec: {exc})"
        if not ok:
            try:
                outcome.stopped_tasks = summarize_stopped(await stopped_tasks(aws, cluster, sp.service))
            except CloudError as exc:
                outcome.message += f" (stopped tasks unavailable: {exc})"
        finish(outcome)

    async def watch_unchanged(name: str) -> None:
        """A service without changes still gates its dependents: it must be Ready."""
        if is_ready(observed.get(name)):
            finish(ServiceOutcome(name, "unchanged", "in sync and Ready"))
            return
        if not options.wait:
            finish(ServiceOutcome(name, "unchanged", "in sync"))
            return
        rollout = watcher.watch(name, None, options.timeout, since)
        ok, message = await rollout.done
        finish(ServiceOutcome(name, "unchanged" if ok else "failed", message if ok else f"not Ready: {message}"))

    jobs = []
    for sp in plan.services:
        jobs.append(run_service(sp) if sp.actions else watch_unchanged(sp.service))
    watch_task = asyncio.create_task(watcher.run(stop_watch), name="rollout-watcher")
    tasks = [asyncio.create_task(j) for j in jobs]

    async def fail_fast() -> None:
        await failed_any.wait()

    try:
        gathered = asyncio.gather(*tasks)
        waiters: list[asyncio.Future[Any]] = [gathered]
        ff = asyncio.create_task(fail_fast()) if options.fail_fast else None
        if ff:
            waiters.append(ff)
        done, _ = await asyncio.wait(waiters, timeout=options.overall_timeout, return_when=asyncio.FIRST_COMPLETED)
        if gathered not in done:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            reason = "stopped: another service failed (--fail-fast)" if ff in done else "overall timeout reached"
            for sp in plan.services:
                if sp.service not in outcomes:
                    finish(ServiceOutcome(sp.service, "failed", reason))
        else:
            gathered.result()
        if ff:
            ff.cancel()
    finally:
        stop_watch.set()
        watcher.wake()
        await asyncio.gather(watch_task, return_exceptions=True)
    return ApplyResult(outcomes)
