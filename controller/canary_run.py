"""Carrying out a canary (controller/canary.py's state machine) against ECS and NATS.

One implementation for `apply`, the operator and `fleetctl rollout promote|abort`: `drive` reads
the canary's record from its tags, asks `canary.next_step` what to do, does it, writes the new
record, and loops until the canary is promoted, aborted, waits for a person, or `stop` is set.
Everything it needs to go on is on AWS after each step, so a process killed at any point is
resumed by the next one (no second canary service, no bake started over).

Cost per canary: one DescribeServices (main and canary together) per step, CreateService and
one TagResource per phase change; the serving gate's polls for the canary and for the promotion
(controller/rollout.py); and exactly two `$SRV.STATS` rounds (the bake's start and end), one
request to `$SRV.STATS.<service>` each, answered by every instance of both sides.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Protocol

from fleetctl.controller import canary as c
from fleetctl.controller.aws import ecs
from fleetctl.controller.errors import FleetError
from fleetctl.controller.gate import GateTarget, targets_for
from fleetctl.controller.manifest.models import Fleet
from fleetctl.controller.render import client_token
from fleetctl.controller.rollout import Reporter, RolloutResult, RolloutWatcher
from fleetctl.controller.state import ServiceState, family_revision

BAKE_SLICE = 10.0
"""Seconds between looks at the canary's record while it bakes: a person's promote or abort is seen this fast."""


class StatsSource(Protocol):
    rounds: int

    @property
    def available(self) -> bool: ...

    async def sample(self, service: str, expected: int) -> list[c.InstanceStats]: ...


class NatsStats:
    """`$SRV.STATS.<service>` over the serving gate's connection: one request, every instance answers."""

    def __init__(self, gate: Any) -> None:
        self.gate = gate
        self.rounds = 0

    @property
    def available(self) -> bool:
        return self.gate is not None and self.gate.active

    async def sample(self, service: str, expected: int) -> list[c.InstanceStats]:
        self.rounds += 1
        return c.parse_stats(await self.gate.collect(f"$SRV.STATS.{service}", expected), service)


@dataclass
class CanaryContext:
    aws: Any
    fleet: Fleet                      # image tags resolved
    watcher: RolloutWatcher
    stats: StatsSource | None
    reporter: Reporter
    stop: asyncio.Event
    timeout: float                    # bound on each rollout (the canary's and the promotion's)
    min_ready: float
    clock: Callable[[], float] = time.time

    @property
    def cluster(self) -> str:
        return self.fleet.spec.target.cluster


@dataclass
class CanaryResult:
    status: str                       # promoted | aborted | waiting | blocked | failed | stopped | cleaned
    message: str
    record: c.CanaryRecord | None = None
    verdict: c.Verdict | None = None
    done: list[str] = field(default_factory=list)
    serving: dict[str, Any] | None = None
    rolled_back_to: str | None = None
    stats_rounds: int = 0             # $SRV.STATS rounds this run made

    @property
    def ok(self) -> bool:
        """Nothing failed: promoted, cleaned up, or passed and waiting for `rollout promote`."""
        return self.status in ("promoted", "cleaned") or (
            self.status == "waiting" and self.record is not None and self.record.phase == c.AWAITING)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message,
                "record": self.record.as_dict() if self.record else None,
                "verdict": self.verdict.as_dict() if self.verdict else None, "statsRounds": self.stats_rounds}


async def observe_canaries(aws: Any, fleet: Fleet, names: list[str]) -> dict[str, ServiceState]:
    """The live canary services of the canary-strategy services in `names` (⌈N/10⌉ DescribeServices, none
    when no service uses canaries)."""
    wanted = [c.canary_name(n) for n in names if c.rollout_of(fleet, n).strategy == "canary"]
    if not wanted:
        return {}
    found = await ecs.describe_services(aws, fleet.spec.target.cluster, wanted)
    return {n: s for n, s in found.items() if s.status == "ACTIVE"
            and s.tags.get(c.FLEET_TAG) == fleet.metadata.name and c.CANARY_OF in s.tags}


async def drive(ctx: CanaryContext, action: c.CanaryAction, revision: str | None = None) -> CanaryResult:
    """Run the canary of `action` until it is promoted, aborted, waits for a person, or ctx.stop is set.
    `revision`: the family:revision registered for the new task definition (when no record names it)."""
    if action.cleanup:
        await ecs.delete_service(ctx.aws, ctx.cluster, action.name)
        return CanaryResult("cleaned", f"deleted {action.name}", done=[action.summary()])
    if action.blocked:
        return CanaryResult("blocked", action.summary())
    return await _Run(ctx, action, revision).go()


class _Run:
    def __init__(self, ctx: CanaryContext, action: c.CanaryAction, revision: str | None) -> None:
        self.ctx, self.a, self.spec = ctx, action, action.settings
        self.record = action.record
        self.revision = family_revision(revision) if revision else None
        self.arn = action.canary.arn if action.canary is not None else None
        self.verdict: c.Verdict | None = None
        self.done: list[str] = []
        self.serving: dict[str, Any] | None = None

    def result(self, status: str, message: str, **kw: Any) -> CanaryResult:
        rounds = self.ctx.stats.rounds if self.ctx.stats is not None else 0
        return CanaryResult(status, message, self.record, self.verdict, self.done, self.serving, stats_rounds=rounds,
                            **kw)

    async def go(self) -> CanaryResult:
        while not self.ctx.stop.is_set():
            main, canary = await self._read()
            aborted = c.aborted_hash(main)
            step = c.next_step(self.record, want_hash=self.a.td_hash, aborted=aborted[0] if aborted else None,
                               now=self.ctx.clock(), spec=self.spec)
            if step.kind in ("create", "gate", "judge") and not (self.ctx.stats and self.ctx.stats.available):
                return self.result("failed", "a canary is judged by NATS $SRV.STATS, and NATS is not reachable "
                                             "from here (NATS gate off or skipped); nothing was started")
            if step.kind == "blocked":
                return self.result("blocked", self.a.summary())
            if step.kind == "wait":
                return self.result("waiting", step.reason)
            if step.kind == "replace":
                await self._delete(step.reason)
                self.record = None
            elif step.kind == "create":
                if main is None:
                    raise FleetError(f"{self.a.service}: the main service is gone; a canary needs it")
                if not await self._create(main):
                    return await self._promote(main, note="same image digest: rolled without a canary")
            elif step.kind == "gate":
                if await self._gate() and not self.ctx.stop.is_set():
                    await self._start_bake(main)
            elif step.kind == "bake":
                await self._sleep(min(step.until or 0.0, self.ctx.clock() + BAKE_SLICE))
            elif step.kind == "judge":
                await self._judge(main, canary)
            elif step.kind == "promote":
                return await self._promote(main)
            elif step.kind == "abort":
                return await self._abort(main)
        return self.result("stopped", "stopped; the canary's state is on AWS and the next run resumes it")

    async def _read(self) -> tuple[ServiceState | None, ServiceState | None]:
        """The main service and its canary: one DescribeServices. Refreshes the record from the canary's tags."""
        found = await ecs.describe_services(self.ctx.aws, self.ctx.cluster, [self.a.service, self.a.name])
        main, canary = found.get(self.a.service), found.get(self.a.name)
        if canary is not None and canary.status == "ACTIVE" and c.CANARY_OF in canary.tags:
            self.record, self.arn = c.CanaryRecord.from_tags(canary.tags), canary.arn
        else:
            canary, self.record, self.arn = None, None, None
        return (main if main is not None and main.status == "ACTIVE" else None), canary

    async def _save(self, **changes: Any) -> None:
        assert self.record is not None and self.arn is not None
        self.record = replace(self.record, **changes)
        await ecs.tag_resource(self.ctx.aws, self.arn, self.record.tags())

    async def _same_version(self, main: ServiceState) -> bool:
        td = await ecs.describe_task_definition(self.ctx.aws, main.task_definition)
        from fleetctl.controller.probe import expected_version

        return self.a.version is None or expected_version(td["containerDefinitions"][0]["image"]) == self.a.version

    async def _create(self, main: ServiceState) -> bool:
        """Start `<name>-canary` on the new revision. False when the revision keeps the image digest:
        canary instances could not be told apart over NATS."""
        if await self._same_version(main):
            return False
        assert self.revision is not None, "the new revision is registered before a canary starts"
        stable = family_revision(main.task_definition)
        self.record = c.CanaryRecord(self.a.service, c.STARTING, self.a.td_hash, self.revision, stable)
        fleet_name = self.ctx.fleet.metadata.name
        settings = replace(self.a.create, tags=(*self.a.create.tags, *self.record.tags().items()),
                           client_token=client_token(fleet_name, self.a.name, f"{self.a.td_hash}/{stable}"))
        svc = await ecs.create_service(self.ctx.aws, settings, self.revision)
        self.arn = svc.arn
        self.done.append(f"create {self.a.name}: {self.spec.instances} task(s) of {self.revision}")
        self.ctx.reporter.action(self.a.service, f"canary {self.a.name} started: {self.spec.instances} task(s) of "
                                                 f"{self.revision} beside {stable}")
        return True

    def _health_checked(self) -> bool:
        from fleetctl.controller.manifest.effective import effective

        return effective(self.ctx.fleet, self.ctx.fleet.service(self.a.service)).health_check is not None

    async def _until(self, rollout: Any) -> RolloutResult | None:
        stopping = asyncio.ensure_future(self.ctx.stop.wait())
        try:
            await asyncio.wait({rollout.done, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        return rollout.done.result() if rollout.done.done() else None

    async def _gate(self) -> bool:
        """The canary passes the serving gate: ECS, health, minReadySeconds, and NATS showing its instances
        with the new digest. A canary that does not is aborted."""
        assert self.record is not None
        base = targets_for(self.ctx.fleet, [self.a.service])[self.a.service]
        target = GateTarget(self.a.service, self.spec.instances, self.a.version, base.subjects)
        rollout = self.ctx.watcher.watch(self.a.name, self.record.revision, self.ctx.timeout, datetime.now(timezone.utc),
                                         gate_target=target, health_checked=self._health_checked(),
                                         min_ready=self.ctx.min_ready)
        result = await self._until(rollout)
        if result is None:
            return False
        if result.ok:
            return True
        self.serving = result.serving.as_dict() if result.serving else None
        await self._save(phase=c.ABORTING, verdict=f"the canary did not pass the serving gate: {result.message}")
        return False

    async def _start_bake(self, main: ServiceState | None) -> None:
        """The baseline: every instance's counters now (one $SRV.STATS round), with the bake's start."""
        assert self.ctx.stats is not None
        expected = (main.desired if main else 0) + self.spec.instances
        instances = await self.ctx.stats.sample(self.a.service, expected)
        await self._save(phase=c.BAKING, bake_start=self.ctx.clock(), baseline=c.baseline_of(instances))
        self.done.append(f"canary serving; bake {self.spec.bake_time:g}s from a $SRV.STATS baseline of "
                         f"{len(instances)} instance(s)")
        self.ctx.reporter.action(self.a.service, f"canary serving; baking {self.spec.bake_time:g}s")

    async def _sleep(self, until: float) -> None:
        try:
            await asyncio.wait_for(self.ctx.stop.wait(), max(until - self.ctx.clock(), 0.0))
        except asyncio.TimeoutError:
            pass

    async def _judge(self, main: ServiceState | None, canary: ServiceState | None) -> None:
        """The bake is over: compare both sides' $SRV.STATS since the baseline, record the verdict."""
        assert self.ctx.stats is not None and self.record is not None and self.record.baseline is not None
        expected = (main.desired if main else 0) + self.spec.instances
        instances = await self.ctx.stats.sample(self.a.service, expected)
        mine, stable, subjects = c.bake_delta(self.record.baseline, instances, self.a.version or "")
        self.verdict = c.judge(self.spec, mine, stable, subjects)
        if canary is not None and canary.running < canary.desired:
            self.verdict = replace(self.verdict, outcome=c.FAIL, reason=f"canary tasks stopped during the bake "
                                   f"({canary.running}/{canary.desired} running)")
        phase = c.after_verdict(self.spec, self.verdict)
        await self._save(phase=phase, verdict=f"{self.verdict.outcome}: {self.verdict.reason}")
        self.ctx.reporter.action(self.a.service, f"canary verdict: {self.verdict.outcome}: {self.verdict.reason}")
        for line in self.verdict.lines():
            self.ctx.reporter.action(self.a.service, f"  {line}")

    async def _delete(self, why: str) -> None:
        await ecs.delete_service(self.ctx.aws, self.ctx.cluster, self.a.name)
        self.done.append(f"delete {self.a.name} ({why})")

    async def _abort(self, main: ServiceState | None) -> CanaryResult:
        """Record the aborted revision on the main service (first: the decision survives a crash), then
        delete the canary. The main service never left its revision."""
        why = (f"{self.verdict.outcome}: {self.verdict.reason}" if self.verdict is not None
               else (self.record.verdict if self.record else "")) or "aborted"
        if main is not None:
            await ecs.tag_resource(self.ctx.aws, main.arn, c.aborted_tag(self.a.td_hash, why))
        await self._delete("aborted")
        stable = family_revision(main.task_definition) if main else "-"
        revision = self.record.revision if self.record else self.revision
        return self.result("aborted", f"canary of {revision} aborted: {why}; {self.a.service} stays on {stable}")

    async def _promote(self, main: ServiceState | None, note: str = "") -> CanaryResult:
        """Roll the main service to the revision through the serving gate, record it, delete the canary.
        A promotion that fails the gate is rolled back to the stable revision and recorded as aborted."""
        if main is None:
            raise FleetError(f"{self.a.service}: the main service is gone; nothing to promote to")
        revision = self.record.revision if self.record else self.revision
        stable = self.record.stable if self.record else family_revision(main.task_definition)
        assert revision is not None
        if family_revision(main.task_definition) != revision:
            update = self.a.update
            await ecs.update_service(self.ctx.aws, self.ctx.cluster, self.a.service, task_definition=revision,
                                     settings=update.settings if update else None, fields=update.fields if update else ())
            self.done.append(f"update {self.a.service} to {revision}")
        result = await self._until(self.ctx.watcher.watch(
            self.a.service, revision, self.ctx.timeout, datetime.now(timezone.utc),
            gate_target=targets_for(self.ctx.fleet, [self.a.service])[self.a.service],
            health_checked=self._health_checked(), min_ready=self.ctx.min_ready))
        if result is None:
            return self.result("stopped", "stopped during the promotion; the next run resumes it")
        self.serving = result.serving.as_dict() if result.serving else None
        if not result.ok:
            return await self._promotion_failed(main, result, revision, stable)
        tags = self.a.tag.tags(self.ctx.fleet.metadata.name, revision) if self.a.tag else {}
        await ecs.tag_resource(self.ctx.aws, main.arn, tags)
        if self.arn is not None:
            await self._delete("promoted")
        judged = (f"{self.verdict.outcome}: {self.verdict.reason}" if self.verdict is not None
                  else (self.record.verdict if self.record else ""))
        prefix = f"{note}; " if note else (f"canary {judged}; " if judged else "")
        return self.result("promoted", f"{prefix}promoted {revision}: {result.message}")

    async def _promotion_failed(self, main: ServiceState, result: RolloutResult, revision: str,
                                stable: str) -> CanaryResult:
        if result.cause not in ("ecs_failed", "rolled_back") and stable != revision:
            await ecs.update_service(self.ctx.aws, self.ctx.cluster, self.a.service, task_definition=stable)
        back = await self._until(self.ctx.watcher.watch(self.a.service, stable, self.ctx.timeout,
                                                        datetime.now(timezone.utc),
                                                        health_checked=self._health_checked(), min_ready=0.0))
        why = f"the promotion did not pass the serving gate: {result.message}"
        await ecs.tag_resource(self.ctx.aws, main.arn, c.aborted_tag(self.a.td_hash, why))
        if self.arn is not None:
            await self._delete("promotion failed")
        held = back is not None and back.ok
        return self.result("failed", f"{why}; rolled back to {stable}" + ("" if held else " (not yet complete)"),
                           rolled_back_to=stable)


# -- callers: apply, the operator, `fleetctl rollout` -----------------------------------------------

async def apply_canary(aws: Any, options: Any, watcher: RolloutWatcher, reporter: Reporter, action: c.CanaryAction,
                       registered: str | None, done: list[str]) -> Any:
    """apply's canary step: the service's outcome, or None when only an unneeded canary was deleted."""
    from fleetctl.controller.apply import ServiceOutcome

    stats = options.canary_stats or NatsStats(options.gate)
    ctx = CanaryContext(aws, options.fleet, watcher, stats, reporter, asyncio.Event(), options.timeout,
                        options.min_ready)
    result = await drive(ctx, action, registered)
    done.extend(result.done)
    if result.status == "cleaned":
        return None
    status = "ready" if result.status == "promoted" else ("applied" if result.ok else "failed")
    revision = result.record.revision if result.record else registered
    return ServiceOutcome(action.service, status, result.message, done=done, serving=result.serving,
                          rolled_back_to=result.rolled_back_to, canary=result.as_dict(),
                          not_done=[] if result.ok or not revision else [f"rollout to {family_revision(revision)}"])


async def record_decision(aws: Any, fleet: Fleet, service: str, action: c.CanaryAction | None,
                          command: str) -> c.CanaryAction:
    """A person's `promote` or `abort`, recorded on the canary (one TagResource) so whoever drives the
    canary (this command, apply, the operator) carries it out."""
    record = action.record if action is not None else None
    if action is None or record is None or action.canary is None:
        raise FleetError(f"{service}: no canary to {command} (see `fleetctl rollout status {service}`)")
    if record.td_hash != action.td_hash:
        raise FleetError(f"{service}: the canary runs {record.revision}, which the manifest no longer names; "
                         f"`fleetctl apply` replaces it")
    try:
        phase = c.decide(record, command)
    except ValueError as exc:
        raise FleetError(str(exc)) from None
    if phase != record.phase:
        verdict = record.verdict if command == "promote" else f"aborted by `fleetctl rollout abort {service}`"
        record = replace(record, phase=phase, verdict=verdict)
        await ecs.tag_resource(aws, action.canary.arn, record.tags())
    return replace(action, record=record)


async def run_decision(aws: Any, fleet: Fleet, service: str, gate_mode: str | None, auth: Any, reporter: Reporter,
                       *, poll_interval: float) -> CanaryResult:
    """Carry out the canary's recorded decision (promote or abort) from what AWS shows now."""
    from fleetctl.controller.gate import NatsGate, open_gate
    from fleetctl.controller.reconcile import reconcile_plan

    rec = await reconcile_plan(aws, fleet, only=[service], read_task_definitions=False)
    sp = rec.plan.for_service(service)
    action = c.canary_action(sp) if sp is not None else None
    if action is None:
        return CanaryResult("cleaned", "nothing left to do: no canary")
    record = action.record
    needs_nats = record is not None and record.phase == c.PROMOTING
    gate = await open_gate(rec.fleet, gate_mode, auth) if needs_nats else NatsGate(rec.fleet, "off")
    stop = asyncio.Event()
    watcher = RolloutWatcher(aws, fleet.spec.target.cluster, reporter, poll_interval, gate=gate)
    watching = asyncio.create_task(watcher.run(stop))
    try:
        ctx = CanaryContext(aws, rec.fleet, watcher, NatsStats(gate), reporter, asyncio.Event(),
                            fleet.spec.rollout.progress_deadline_seconds, fleet.spec.rollout.min_ready_seconds)
        return await drive(ctx, action)
    finally:
        stop.set()
        watcher.wake()
        await asyncio.gather(watching, return_exceptions=True)
        await gate.close()


async def canary_progress(fleet: Fleet, service: str, action: c.CanaryAction | None, gate_mode: str | None,
                          auth: Any, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """`fleetctl rollout status`: the canary's record, bake progress and, while it bakes, both sides'
    $SRV.STATS since the baseline (one round; skipped when NATS is not reachable from here)."""
    rollout = c.rollout_of(fleet, service)
    out: dict[str, Any] = {"service": service, "strategy": rollout.strategy, "canary": None,
                           "plan": action.summary() if action is not None else None}
    record = action.record if action is not None else None
    if action is None or record is None:
        return out
    spec = action.settings
    out["canary"] = record.as_dict(spec)
    step = c.next_step(record, want_hash=action.td_hash, aborted=None, now=clock(), spec=spec)
    out["next"] = step.reason or {"bake": "the verdict when the bake ends", "judge": "the verdict",
                                  "gate": "the serving gate, then the bake", "promote": "the promotion",
                                  "abort": "deleting the canary", "replace": "a new canary"}.get(step.kind, step.kind)
    if record.bake_start is not None:
        out["bake"] = {"elapsedSeconds": round(min(clock() - record.bake_start, spec.bake_time), 1),
                       "bakeSeconds": spec.bake_time}
    if record.phase == c.BAKING and record.baseline is not None and gate_mode != "off":
        live = await _live_verdict(fleet, service, action, gate_mode, auth)
        if live is not None:
            out["live"], out["liveLines"] = live.as_dict(), live.lines()
    return out


async def _live_verdict(fleet: Fleet, service: str, action: c.CanaryAction, gate_mode: str | None,
                        auth: Any) -> c.Verdict | None:
    from fleetctl.controller.gate import open_gate

    assert action.record is not None and action.record.baseline is not None
    gate = await open_gate(fleet, gate_mode or "auto", auth)
    try:
        if not gate.active:
            return None
        expected = fleet.service(service).desired_count + action.settings.instances
        instances = await NatsStats(gate).sample(service, expected)
    finally:
        await gate.close()
    mine, stable, subjects = c.bake_delta(action.record.baseline, instances, action.version or "")
    return c.judge(action.settings, mine, stable, subjects)
