"""Watching rollouts until they serve: one poller for every service being waited on.

Each poll costs ⌈N/10⌉ DescribeServices for the services still waited on, one ListTasks per
service whose deployment ECS already calls COMPLETED (from 5 such services one paginated
ListTasks for the cluster) plus one DescribeTasks per 100 of their tasks (their health and the
stability window), and one batched NATS round for all of them (`controller.gate`). The task
read of services already in their stability window goes out first, beside the NATS round and
before the DescribeServices, so the poll that ends a window settles after one round trip that
waits behind no other request of the poll.
`apply`, `rollback` and the operator all wait through `RolloutWatcher`.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from fleetctl.controller.aws import ecs
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.conditions import is_ready
from fleetctl.controller.errors import CloudError
from fleetctl.controller.gate import EcsVerdict, GateTarget, NatsGate, ServingVerdict, Stability, ecs_verdict
from fleetctl.controller.state import ServiceState, TaskState, family_revision


CLUSTER_LIST_FROM = 5
"""From this many services reading tasks in one poll, list the cluster's tasks once instead."""


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
    def finished(self, outcome: Any) -> None: ...


class SilentReporter:
    def action(self, service: str, summary: str) -> None: ...
    def event(self, service: str, when: datetime | None, message: str) -> None: ...
    def progress(self, rows: list[RolloutRow]) -> None: ...
    def finished(self, outcome: Any) -> None: ...


@dataclass
class RolloutResult:
    ok: bool
    message: str
    cause: str = ""                 # ecs_failed | rolled_back | task_stopped | deadline | not_found | ""
    stopped: list[str] = field(default_factory=list)     # new-revision task ARNs that stopped in the window
    serving: ServingVerdict | None = None                # the last NATS verdict
    gate_seconds: float | None = None   # from ECS done (COMPLETED, tasks healthy) to passing the whole gate

    def __iter__(self):  # (ok, message), as callers unpack it
        return iter((self.ok, self.message))


class Rollout:
    def __init__(self, service: str, target: str | None, timeout: float, since: datetime, *,
                 gate_target: GateTarget | None, health_checked: bool, min_ready: float):
        self.service = service
        self.target = target
        self.deadline = time.monotonic() + timeout
        self.started = time.monotonic()
        self.since = since
        self.seen_target = False
        self.gate_target = gate_target
        self.health_checked = health_checked
        self.stability = Stability(min_ready)
        self.ecs: EcsVerdict | None = None
        self.ecs_done_at: float | None = None
        self.serving: ServingVerdict | None = None
        self.tasks: list[TaskState] | None = None
        self.done: asyncio.Future[RolloutResult] = asyncio.get_running_loop().create_future()
        self.seen_events: set[str] = set()

    def settle(self, ok: bool, message: str, cause: str = "", stopped: list[str] | None = None) -> None:
        if not self.done.done():
            waited = time.monotonic() - self.ecs_done_at if self.ecs_done_at is not None else None
            self.done.set_result(RolloutResult(ok, message, cause, stopped or [], self.serving, waited))


class RolloutWatcher:
    """One poller for every service being waited on, gated on health, stability and NATS."""

    def __init__(self, aws: Aws, cluster: str, reporter: Reporter, poll_interval: float, *,
                 gate: NatsGate | None = None, min_ready: float = 0.0):
        self.aws = aws
        self.cluster = cluster
        self.reporter = reporter
        self.poll_interval = poll_interval
        self.gate = gate
        self.min_ready = min_ready
        self.rollouts: dict[str, Rollout] = {}
        self.last: dict[str, ServiceState] = {}
        self.polls = 0
        self.last_poll_seconds = 0.0   # how long the last poll took
        self._wake = asyncio.Event()

    def watch(self, service: str, target: str | None, timeout: float, since: datetime, *,
              gate_target: GateTarget | None = None, health_checked: bool = False,
              min_ready: float | None = None) -> Rollout:
        r = Rollout(service, target, timeout, since, gate_target=gate_target, health_checked=health_checked,
                    min_ready=self.min_ready if min_ready is None else min_ready)
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
                await self.poll(pending)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self._next_poll_in())
            except asyncio.TimeoutError:
                pass
        for r in self.rollouts.values():  # nobody waits forever on a watcher that stopped
            r.settle(False, "stopped before the rollout finished", "stopped")

    def _next_poll_in(self) -> float:
        """The poll interval, or the end of a stability window when it comes sooner — or not much
        later: a poll that began shortly before a window ended cannot hold it, and the poll right
        after it would add a second poll's duration to the gate's wait."""
        now, wait = time.monotonic(), self.poll_interval
        ends = [r.stability.since + r.stability.min_ready - now for r in self.rollouts.values()
                if not r.done.done() and r.stability.since is not None]
        if ends:
            first = max(min(ends), 0.0) + 0.01
            if first <= wait + self.last_poll_seconds:
                wait = first
        return wait

    async def poll(self, pending: list[Rollout]) -> None:
        """One poll. The NATS round starts first; the tasks of rollouts already in their stability
        window are read next, alone on the API, and windows that held (or broke) settle from that
        read; then DescribeServices for the rest, and the tasks of rollouts ECS just completed."""
        self.polls += 1
        began = time.monotonic()
        try:
            await self._poll(pending)
        finally:
            self.last_poll_seconds = time.monotonic() - began

    async def _poll(self, pending: list[Rollout]) -> None:
        gated = [r for r in pending if r.gate_target is not None] if self.gate is not None and self.gate.active else []
        nats = asyncio.ensure_future(self.gate.round([r.gate_target for r in gated]) if gated  # type: ignore[union-attr, misc]
                                     else _nothing())
        try:
            await self._poll_with(pending, gated, nats)
        finally:
            nats.cancel()  # a no-op once it is done; never left running past a cancelled poll

    async def _poll_with(self, pending: list[Rollout], gated: list[Rollout],
                         nats: asyncio.Future[dict[str, ServingVerdict]]) -> None:
        holding = [r for r in pending if r.stability.since is not None]
        reads: dict[int, tuple[float, float]] = {}
        error: CloudError | None = None
        if holding:
            # The windows first, alone on the API with the NATS round: the read that ends a window is
            # not queued behind this poll's DescribeServices, and a window that held settles now.
            error, read_from, read_at = await self._read_tasks_timed(holding)
            _take_serving(gated, await nats)
            reads = {id(r): (read_from, read_at) for r in holding}
            if error is None:
                for r in holding:
                    self._decide(r, read_from, read_at, final=False)
        rest = [r for r in pending if not r.done.done()]
        described = await self._describe([r.service for r in rest]) if rest else {}
        if not holding:
            _take_serving(gated, await nats)
        if isinstance(described, CloudError):
            for r in rest:
                if time.monotonic() > r.deadline:
                    r.settle(False, f"timed out; last error: {described}", "deadline")
            return
        self.last.update(described)
        settled_by_ecs = [r for r in rest if self._ecs_step(r, described.get(r.service))]
        live = [r for r in rest if r not in settled_by_ecs and not r.done.done()]
        fresh = [r for r in live if id(r) not in reads and r.ecs is not None and r.ecs.completed]
        if fresh:
            more, began, done = await self._read_tasks_timed(fresh)
            error = error or more
            reads.update({id(r): (began, done) for r in fresh})
        if error is not None:
            for r in live:
                r.ecs = EcsVerdict(False, message=f"cannot read tasks: {error}")
        now = time.monotonic()
        for r in live:
            self._decide(r, *reads.get(id(r), (now, now)))
        self.reporter.progress(self.rows())

    async def _describe(self, services: list[str]) -> dict[str, ServiceState] | CloudError:
        try:
            return await ecs.describe_services(self.aws, self.cluster, services)
        except CloudError as exc:
            return exc

    async def _read_tasks_timed(self, rollouts: list[Rollout]) -> tuple[CloudError | None, float, float]:
        """(the error reading tasks, or None; when the read began; when it was complete)."""
        began = time.monotonic()
        try:
            await self._read_tasks(rollouts)
        except CloudError as exc:
            return exc, began, time.monotonic()
        return None, began, time.monotonic()

    def _ecs_step(self, r: Rollout, svc: ServiceState | None) -> bool:
        """Stream events; settle failures ECS itself reports. True when `r` is settled (or waits for a service)."""
        if svc is not None:
            for e in reversed(svc.events):
                if e.id not in r.seen_events:
                    r.seen_events.add(e.id)
                    if e.created_at is None or e.created_at >= r.since:
                        self.reporter.event(r.service, e.created_at, e.message)
        if svc is None or svc.status != "ACTIVE":
            if time.monotonic() > r.deadline:
                r.settle(False, "service not found", "not_found")
            return True
        if r.target:
            mine = [d for d in svc.deployments if family_revision(d.task_definition) == r.target]
            failed = next((d for d in mine if d.rollout_state == "FAILED"), None)
            if failed is not None:
                back = svc.primary
                where = (f"; ECS rolled back to {family_revision(back.task_definition)}"
                         if back and family_revision(back.task_definition) != r.target else "")
                r.settle(False, f"deployment failed: {failed.rollout_reason or 'circuit breaker tripped'}{where}",
                         "ecs_failed")
                return True
            if mine:
                r.seen_target = True
            primary = svc.primary
            if r.seen_target and not mine and primary and family_revision(primary.task_definition) != r.target:
                r.settle(False, f"rolled back to {family_revision(primary.task_definition)}", "rolled_back")
                return True
        r.ecs = ecs_verdict(svc, r.target, r.tasks, r.health_checked)
        return False

    async def _read_tasks(self, rollouts: list[Rollout]) -> None:
        """Live tasks of each rollout's revision, DescribeTasks in batches of 100. A rollout in its
        stability window is read by the ARNs the window holds (no ListTasks round trip first: a task
        that stopped answers STOPPED, or is missing, and breaks the window either way); the others
        are listed first, per service or, for many services, once for the cluster."""
        if not rollouts:
            return
        known = [r for r in rollouts if r.stability.since is not None and r.stability.seen]
        listed = [r for r in rollouts if r.stability.since is None or not r.stability.seen]
        every = [arn for r in known for arn in sorted(r.stability.seen)]
        if len(listed) >= CLUSTER_LIST_FROM:  # many services at once: one paginated ListTasks for the cluster
            every += await ecs.list_task_arns(self.aws, self.cluster)
        elif listed:
            arns = await asyncio.gather(*(ecs.list_task_arns(self.aws, self.cluster, r.service) for r in listed))
            every += [a for chunk in arns for a in chunk]
        every = list(dict.fromkeys(every))
        tasks = await ecs.describe_tasks(self.aws, self.cluster, every) if every else []
        for r in rollouts:
            svc = self.last.get(r.service)
            revision = r.target or (family_revision(svc.task_definition) if svc else None)
            r.tasks = [t for t in tasks if t.service == r.service
                       and (revision is None or family_revision(t.task_definition) == revision)]
            if svc is not None:
                r.ecs = ecs_verdict(svc, r.target, r.tasks, r.health_checked)

    def _decide(self, r: Rollout, read_from: float, read_at: float, final: bool = True) -> None:
        """Settle `r` from this poll; its tasks were read between `read_from` and `read_at`. Not
        `final`: from the window's own read, before this poll's DescribeServices (the ECS verdict is
        the last poll's with these tasks), settling only a window that held or broke."""
        assert r.ecs is not None
        now = time.monotonic()
        if r.ecs.done and r.ecs_done_at is None:
            r.ecs_done_at = now
        held, gone = r.stability.observe(r.ecs.done, r.tasks or [], read_at, read_from)
        if gone:
            r.settle(False, f"{len(gone)} task(s) of {r.target or 'the revision'} stopped within "
                            f"minReadySeconds ({r.stability.min_ready:g}s) after the deployment completed",
                     "task_stopped", gone)
            return
        serving_ok = r.serving is None or r.serving.status is not False
        if r.ecs.done and held and serving_ok:
            note = f"; NATS: {r.serving.message}" if r.serving is not None and r.serving.status else ""
            r.settle(True, f"{r.ecs.message}" + (f" on {r.target}" if r.target else "") + note)
        elif final and now > r.deadline:
            parts = [f"progress deadline ({now - r.started:.0f}s) passed"]
            if not r.ecs.done:
                parts.append(f"ECS: {r.ecs.message}")
            elif not held:
                parts.append("minReadySeconds not yet held")
            if r.serving is not None and r.serving.status is False:
                parts.append(f"NATS {r.serving.reason}: {r.serving.message}")
            r.settle(False, "; ".join(parts), "deadline")

    def rows(self) -> list[RolloutRow]:
        rows = []
        for name, r in self.rollouts.items():
            s = self.last.get(name)
            if not r.done.done():
                phase = "waiting"
                if r.ecs is not None and r.ecs.done:
                    phase = "holding" if r.serving is None or r.serving.status is not False else "nats"
            else:
                phase = "ready" if r.done.result().ok else "failed"
            if s is None:
                rows.append(RolloutRow(name, 0, 0, 0, 0, "-", phase))
                continue
            p = s.primary
            rows.append(RolloutRow(name, s.desired, s.running, s.pending, p.failed_tasks if p else 0,
                                   (p.rollout_state or "-") if p else "-", phase))
        return rows


async def _nothing() -> dict[str, ServingVerdict]:
    return {}


def _take_serving(gated: list[Rollout], verdicts: dict[str, ServingVerdict]) -> None:
    """This poll's NATS verdict for each gated rollout."""
    for r in gated:
        r.serving = verdicts.get(r.gate_target.service)  # type: ignore[union-attr]


__all__ = ["Reporter", "RolloutResult", "RolloutRow", "RolloutWatcher", "SilentReporter", "is_ready"]


# -- the failure path: roll back, wait, explain (apply and the operator) --------------------------

def previous_completed(before: ServiceState | None, target: str | None) -> str | None:
    """The revision to go back to: what the service ran, completed, before this rollout."""
    if before is None or before.status != "ACTIVE" or not is_ready(before):
        return None
    previous = family_revision(before.task_definition)
    return previous if previous != target else None


async def roll_back(aws: Aws, cluster: str, service: str, result: RolloutResult, target: str | None,
                    before: ServiceState | None, watcher: RolloutWatcher, timeout: float,
                    health_checked: bool) -> tuple[str | None, str]:
    """After a failed rollout: wait for ECS's own rollback, or roll back to the previous completed
    revision ourselves. Returns (revision rolled back to, what happened)."""
    if result.cause in ("ecs_failed", "rolled_back"):
        svc = watcher.last.get(service)
        back = family_revision(svc.primary.task_definition) if svc is not None and svc.primary else None
        if back is None or back == target:
            return None, "no completed revision to roll back to"
    else:
        back = previous_completed(before, target)
        if back is None:
            return None, "no previous completed revision to roll back to"
        await ecs.update_service(aws, cluster, service, task_definition=back)
    from datetime import timezone

    waited = await watcher.watch(service, back, timeout, datetime.now(timezone.utc), health_checked=health_checked,
                                 min_ready=0.0).done
    done = "ECS's rollback completed" if result.cause in ("ecs_failed", "rolled_back") else f"rolled back to {back}"
    return back, (done if waited.ok else f"rollback to {back} did not complete: {waited.message}")


async def explain_stopped(aws: Aws, fleet: Any, service: str, since: float) -> list[dict[str, Any]]:
    """The diagnose engine's verdict on a service's recently stopped tasks: category, summary, fix."""
    from fleetctl.controller.diagnose.online import diagnose

    diagnosis = await diagnose(aws, fleet, service=service, since=since, network=False)
    out = []
    for f in diagnosis.findings:
        if f.category in ("user_or_deploy_stopped", "spot_or_scale_in"):
            continue  # tasks we or the scheduler stopped on purpose explain nothing
        out.append({"category": f.category, "summary": f.summary, "fix": f.hint, "tasks": len(f.tasks)})
    return out
