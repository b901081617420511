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
from typing import Any

from fleetctl.controller.aws import ecs
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.canary import canary_action
from fleetctl.controller.conditions import is_ready
from fleetctl.controller.errors import CloudError
from fleetctl.controller.execute import execute_service_plan, write_tags
from fleetctl.controller.rollout import (  # noqa: F401  (Reporter and friends are imported from here too)
    Reporter,
    RolloutResult,
    RolloutRow,
    RolloutWatcher,
    SilentReporter,
    explain_stopped,
    roll_back,
)
from fleetctl.controller.policy import dependency_gates
from fleetctl.controller.plan import DeleteServiceAction, OwnershipError, Plan, ServicePlan, TagServiceAction
from fleetctl.controller.state import ServiceState, TaskState, family_revision


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
    diagnosis: list[dict[str, Any]] = field(default_factory=list)   # category, summary, fix per failure
    serving: dict[str, Any] | None = None                           # the NATS gate's last verdict
    rolled_back_to: str | None = None
    gate_seconds: float | None = None   # the gate's own wait after ECS was done (minReadySeconds, NATS)
    # the account of a service's actions: what was done, what was not (summaries, in order)
    done: list[str] = field(default_factory=list)
    not_done: list[str] = field(default_factory=list)
    canary: dict[str, Any] | None = None   # the canary's record and verdict (controller/canary_run.py)

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "skipped")

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "status": self.status, "message": self.message,
                "durationSeconds": round(self.duration, 2),
                "done": list(self.done), "notDone": list(self.not_done),
                "stoppedTasks": [s.__dict__ for s in self.stopped_tasks],
                "diagnosis": self.diagnosis, "serving": self.serving, "rolledBackTo": self.rolled_back_to,
                "gateSeconds": round(self.gate_seconds, 3) if self.gate_seconds is not None else None,
                "canary": self.canary}

    def explanation(self) -> list[str]:
        """The failure explained inline: diagnosed causes of stopped tasks, then what NATS showed."""
        lines = [f"{d['category']} ({d['tasks']} task{'s' if d['tasks'] != 1 else ''}): {d['summary']}"
                 f"\n      fix: {d['fix']}" for d in self.diagnosis]
        if self.serving is not None and self.serving.get("serving") is False:
            lines.append(f"NATS {self.serving['reason']}: {self.serving['message']}")
        from fleetctl.controller.canary import evidence_lines

        return lines + evidence_lines(self.canary)


@dataclass
class ApplyResult:
    outcomes: dict[str, ServiceOutcome]
    polls: int = 0          # rollout polls (each: DescribeServices batches, task reads, one NATS round)
    nats_rounds: int = 0    # batched NATS rounds the gate made

    @property
    def ok(self) -> bool:
        return not any(o.failed for o in self.outcomes.values())

    @property
    def changed(self) -> bool:
        """Whether any write completed (a failed apply that changed nothing can say so)."""
        return any(o.done for o in self.outcomes.values())


@dataclass
class ApplyOptions:
    wait: bool = True
    timeout: float = 600.0          # per service rollout
    overall_timeout: float = 1800.0
    fail_fast: bool = False
    poll_interval: float = 2.0
    concurrency: int = 8
    min_ready: float = 0.0            # spec.rollout.minReadySeconds
    gate: Any = None                  # controller.gate.NatsGate, opened; None: ECS and health only
    rollback_on_failure: bool = True  # roll a service whose rollout failed back (if its breaker rolls back)
    fleet: Any = None                 # the resolved Fleet: gate targets, health checks, diagnosis
    canary_stats: Any = None          # where canaries read $SRV.STATS (default: the gate's NATS connection)


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
    return sorted(groups.values(), key=lambda g: (_deliberate(g), -g.count))[:limit]


def _deliberate(g: StoppedTaskSummary) -> bool:
    """Stopped on purpose (a deployment replaced it, someone stopped it): listed after real failures."""
    return g.stop_code in ("ServiceSchedulerInitiated", "UserInitiated") and "health check" not in (g.reason or "")


async def stopped_tasks(aws: Aws, cluster: str, service: str, limit: int = 100) -> list[TaskState]:
    arns = await ecs.list_task_arns(aws, cluster, service, desired_status="STOPPED")
    if not arns:
        return []
    tasks = await ecs.describe_tasks(aws, cluster, arns[:limit])
    return [t for t in tasks if t.service in (None, service)]


class _ServicePolicies:
    """Per-service rollout settings from the resolved fleet (when apply was given one)."""

    def __init__(self, fleet: Any) -> None:
        from fleetctl.controller.gate import targets_for
        from fleetctl.controller.manifest.effective import effective

        self.fleet = fleet
        self.targets = targets_for(fleet) if fleet is not None else {}
        self.effective = {s.name: effective(fleet, s) for s in fleet.spec.services} if fleet is not None else {}

    def gate_target(self, service: str) -> Any:
        return self.targets.get(service)

    def health_checked(self, service: str) -> bool:
        e = self.effective.get(service)
        return e is not None and e.health_check is not None

    def rolls_back(self, service: str, before: ServiceState | None) -> bool:
        e = self.effective.get(service)
        if e is not None:
            return e.deployment.circuit_breaker.enable and e.deployment.circuit_breaker.rollback
        breaker = ((before.deployment_configuration if before else None) or {}).get("deploymentCircuitBreaker") or {}
        return bool(breaker.get("rollback", True))


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
    accounts: dict[str, list[str]] = {}  # per service, the actions done so far
    sem = asyncio.Semaphore(options.concurrency)
    watcher = RolloutWatcher(aws, cluster, reporter, options.poll_interval, gate=options.gate,
                             min_ready=options.min_ready)
    policy = _ServicePolicies(options.fleet)
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
        return dependency_gates(plan, observed, dep)

    async def run_service(sp: ServicePlan) -> None:
        started = time.monotonic()
        deps = [d for d in dependencies.get(sp.service, []) if d in ready and must_wait_for(d)]
        if options.wait and deps:
            results = await asyncio.gather(*(asyncio.shield(ready[d]) for d in deps))
            bad = [d for d, ok in zip(deps, results) if not ok]
            if bad:
                finish(ServiceOutcome(sp.service, "skipped", f"dependency not Ready: {', '.join(bad)}",
                                      not_done=[a.summary() for a in sp.actions]))
                return
        done: list[str] = []
        accounts[sp.service] = done
        async with sem:
            for a in sp.actions:
                reporter.action(sp.service, a.summary())
            try:
                target, pending_tags = await execute_service_plan(aws, cluster, fleet_name, sp, tag=not options.wait,
                                                                  done=done)
            except CloudError as exc:
                finish(ServiceOutcome(sp.service, "failed", str(exc), duration=time.monotonic() - started,
                                      done=done, not_done=[a.summary() for a in sp.actions][len(done):]))
                return
        canary = canary_action(sp)
        if canary is not None and options.wait:
            from fleetctl.controller.canary_run import apply_canary

            outcome = await apply_canary(aws, options, watcher, reporter, canary, target, done)
            if outcome is not None:  # None: only a canary nobody needs was deleted; the rest goes on as usual
                outcome.duration = time.monotonic() - started
                finish(outcome)
                return
        if any(isinstance(a, DeleteServiceAction) for a in sp.actions):
            finish(ServiceOutcome(sp.service, "deleted", "service deleted", duration=time.monotonic() - started,
                                  done=done))
            return
        if not options.wait:
            finish(ServiceOutcome(sp.service, "applied", "changes applied; not waiting",
                                  duration=time.monotonic() - started, done=done))
            return
        watched = target if sp.rolls_out or target else None
        rollout = watcher.watch(sp.service, watched, options.timeout, since,
                                gate_target=policy.gate_target(sp.service) if watched else None,
                                health_checked=policy.health_checked(sp.service))
        result = await rollout.done
        ok, message = result.ok, result.message
        outcome = ServiceOutcome(sp.service, "ready" if ok else "failed", message, duration=time.monotonic() - started,
                                 done=done, serving=result.serving.as_dict() if result.serving else None,
                                 gate_seconds=result.gate_seconds)
        tag_summary = next((a.summary() for a in sp.actions if isinstance(a, TagServiceAction)), None)
        if ok:
            try:
                await write_tags(aws, pending_tags)  # the spec is recorded once it holds
                if tag_summary:
                    done.append(tag_summary)
            except CloudError as exc:
                outcome.status = "failed"
                outcome.message += f" (could not record the applied spec: {exc})"
        outcome.not_done = [f"rollout to {target}"] if not ok and target else []
        if tag_summary and tag_summary not in done:
            outcome.not_done.append(tag_summary)
        if not ok:
            await _fail(outcome, result, watched, time.monotonic() - started)
        outcome.duration = time.monotonic() - started
        finish(outcome)

    async def _fail(outcome: ServiceOutcome, result: RolloutResult, watched: str | None, elapsed: float) -> None:
        """Roll back (when the service's circuit breaker rolls back), wait, and explain the failure."""
        name = outcome.service
        try:
            if options.rollback_on_failure and policy.rolls_back(name, observed.get(name)):
                outcome.rolled_back_to, note = await roll_back(
                    aws, cluster, name, result, watched, observed.get(name), watcher, options.timeout,
                    policy.health_checked(name))
                outcome.message += f"; {note}"
        except CloudError as exc:
            outcome.message += f"; rollback failed: {exc}"
        try:
            outcome.stopped_tasks = summarize_stopped(await stopped_tasks(aws, cluster, name))
            if options.fleet is not None and (outcome.stopped_tasks or result.stopped):
                outcome.diagnosis = await explain_stopped(aws, options.fleet, name, elapsed + 60)
        except CloudError as exc:
            outcome.message += f" (stopped tasks unavailable: {exc})"

    async def watch_unchanged(name: str) -> None:
        """A service without changes still gates its dependents: it must be Ready."""
        if is_ready(observed.get(name)):
            finish(ServiceOutcome(name, "unchanged", "in sync and Ready"))
            return
        if not options.wait:
            finish(ServiceOutcome(name, "unchanged", "in sync"))
            return
        rollout = watcher.watch(name, None, options.timeout, since, health_checked=policy.health_checked(name),
                                min_ready=0.0)
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
                    done = accounts.get(sp.service, [])
                    finish(ServiceOutcome(sp.service, "failed", reason, done=list(done),
                                          not_done=[a.summary() for a in sp.actions][len(done):]))
        else:
            gathered.result()
        if ff:
            ff.cancel()
    finally:
        stop_watch.set()
        watcher.wake()
        await asyncio.gather(watch_task, return_exceptions=True)
    return ApplyResult(outcomes, watcher.polls, options.gate.rounds if options.gate is not None else 0)
