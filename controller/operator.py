"""The operator: a level-triggered reconcile loop that keeps ECS at the manifest.

Every pass reads the manifest and the live state of the whole fleet (batched), plans, and
hands each service that needs changes to a bounded set of workers: at most
`spec.maxConcurrency` at once, and a service waits while a dependency is not serving, as in
apply (controller/policy.py). What woke the loop does not matter: the periodic resync, a
requeue while a rollout progresses, or a manifest edit. A service is never reconciled twice at
once; errors and repeated failed rollouts back off per service, and a terminal error
(`policy.is_terminal`) is not retried until the service's spec changes. The manifest comes
from a source (a path, S3 or Git: controller/sources.py); an edit that does not validate, or a
source that cannot be read, is reported and ignored: the last good spec stays in force.
Suspended services (controller/suspend.py) are left alone. With a `Leadership`
(controller/leader.py) several operators share a fleet: only the one holding the fleet's lease
writes, through its fence; the others observe, and on stop the leader hands the lease over.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetctl.controller.execute import execute_service_plan, write_tags
from fleetctl.controller.rollout import RolloutWatcher, SilentReporter, explain_stopped, roll_back
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.conditions import Condition, ConditionTracker, conditions, is_ready
from fleetctl.controller.errors import FleetError
from fleetctl.controller.leader import Leadership, NotLeader
from fleetctl.controller.manifest import LoadedManifest
from fleetctl.controller.metrics import OperatorMetrics
from fleetctl.controller.sources import Source, SpecLoader
from fleetctl.controller.observe import TaskDefinitionCache
from fleetctl.controller.plan import ScaleServiceAction, ServicePlan
from fleetctl.controller.policy import Backoff, Policy  # noqa: F401  (Backoff is imported from here too)
from fleetctl.controller.reconcile import dependencies, reconcile_plan
from fleetctl.controller.suspend import Suspension, observe_suspension

log = logging.getLogger("fleetctl.controller")


def release_freed_memory() -> None:
    """Give the pages malloc holds free back to the system (glibc's malloc_trim): parsing a
    5,000-service manifest or a pass's answers frees tens of MB that glibc would otherwise
    keep in the process. A no-op where there is no glibc."""
    global _malloc_trim
    if _malloc_trim is None:
        import ctypes

        try:
            _malloc_trim = ctypes.CDLL(None).malloc_trim  # the process's own symbols: libc's
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


@dataclass
class OperatorStats:
    passes: int = 0
    last_pass_ok: bool = False
    last_pass_at: float = 0.0
    applied: int = 0
    errors: int = 0
    drift_healed: int = 0
    manifest_reloads: int = 0
    manifest_rejected: int = 0
    calls: dict[str, int] = field(default_factory=dict)


class Operator:
    def __init__(
        self,
        manifest: "Path | str | Source",
        *,
        tf_outputs: "Path | str | Source | None" = None,
        interval: float = 30.0,
        progress_interval: float = 5.0,
        health_port: int | None = None,
        health_host: str = "127.0.0.1",
        backoff_base: float = 5.0,
        source_aws: Aws | None = None,
        leadership: Leadership | None = None,
        gate_auth: Any = None,
        gate_ca_file: Path | None = None,
        shutdown_grace: float = 20.0,
    ) -> None:
        self.manifest = manifest
        self.tf_outputs = tf_outputs
        self._spec = SpecLoader(manifest, tf_outputs, aws=source_aws)
        self._polled = 0.0
        self.synced = Condition("Synced", False, "NotRead", "the manifest has not been read yet")
        self.interval = interval
        self.progress_interval = progress_interval
        self.health_port = health_port
        self.health_host = health_host
        self.metrics = OperatorMetrics()
        self.backoff_base = backoff_base
        self.shutdown_grace = shutdown_grace   # on stop: the wait for in-flight reconciles, then they are cancelled
        self.stats = OperatorStats()
        self.loaded: LoadedManifest | None = None
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._backoff: dict[str, Backoff] = {}
        self._conflicts: set[str] = set()  # services left alone: another fleet's or untagged
        self._wake = asyncio.Event()
        self._cache = TaskDefinitionCache()
        self.conditions = ConditionTracker()
        self.health_url: str | None = None
        self.suspension = Suspension()
        self.gate: Any = None
        self.serving: dict[str, Any] = {}
        self._watcher: Any = None
        self._stop = asyncio.Event()
        self._policies: list[Policy] = []
        self._canary_waits: dict[str, str] = {}   # service -> why its canary waits (logged once)
        self.leadership = leadership       # None: this operator always writes (embedded, tests)
        self.gate_auth = gate_auth         # the probe's NATS credentials (ProbeAuth) for the serving gate
        self.gate_ca_file = gate_ca_file
        self.metrics.leader.set(0 if leadership is not None else 1)

    # -- manifest -----------------------------------------------------------------------
    async def refresh_spec(self) -> bool:
        """Read the manifest's sources; True when a new valid spec took effect. A source that
        cannot be read or an edit that does not validate keeps the last good spec (logged,
        counted in metrics, and the fleet's `Synced` condition turns False)."""
        first = self.loaded is None
        if not first and self._spec.manifest.remote and self._source_poll_in() > 0:
            return False  # remote sources are polled once per interval
        self._polled = time.monotonic()
        changed = await self._spec.refresh()
        outcome = self._spec.outcome
        self.metrics.source_reads.labels("manifest", outcome).inc()
        if outcome == "unchanged":
            return False
        ok = outcome == "updated"
        self.metrics.source_ok.labels("manifest").set(1 if ok else 0)
        was = self.synced
        self.synced = Condition("Synced", ok, {"updated": "Synced", "invalid": "SpecInvalid"}.get(outcome, "SourceUnreadable"),
                                f"{self._spec.manifest.describe()} at {self._spec.version}" if ok else
                                f"keeping the last good spec: {self._spec.error}",
                                datetime.now(timezone.utc) if was.status != ok or was.last_transition_time is None
                                else was.last_transition_time)
        if not ok:
            if outcome == "invalid":
                self.stats.manifest_rejected += 1
                log.error("manifest edit rejected, keeping the last good spec: %s", self._spec.error)
            else:
                log.error("manifest source unreadable, keeping the last good spec: %s", self._spec.error)
            return False
        self.metrics.source_last_good.set_to_current_time()
        self.loaded = self._spec.loaded
        self._policies = []  # the old spec's are not kept alive
        release_freed_memory()  # what parsing it took and let go
        if not first:
            self.stats.manifest_reloads += 1
            log.info("manifest reloaded from %s (%s): %d services", self._spec.manifest.describe(), self._spec.version,
                     len(self.loaded.fleet.spec.services))
        return changed

    def _source_poll_in(self) -> float:
        """Seconds until a remote manifest source is due again (its poll: once per interval; a
        timer may fire a little early), 0 when due; a local file is read every pass."""
        if not self._spec.manifest.remote:
            return 0.0
        left = self._polled + self.interval - time.monotonic()
        return left if left > 0.05 else 0.0

    # -- loop ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        try:
            await self.refresh_spec()
        except BaseException:
            await self._spec.aclose()
            raise
        assert self.loaded is not None
        health = await self._start_health() if self.health_port is not None else None
        electing: asyncio.Task[None] | None = None
        try:
            async with Aws.for_target(self.loaded.fleet.spec.target) as aws:
                aws.observers.append(self.metrics.aws_call)
                self._stop = stop
                electing = self._elect(aws, stop)
                await self._open_gate()
                self._watcher = RolloutWatcher(aws, self.loaded.fleet.spec.target.cluster, SilentReporter(),
                                               min(self.progress_interval, 2.0), gate=self.gate)
                watching = asyncio.create_task(self._watcher.run(stop), name="rollout-watcher")
                if ready is not None:
                    ready.set()
                while not stop.is_set():
                    next_in = await self._pass(aws)
                    if self._spec.manifest.remote:  # wake for the source's poll, not a whole pass later
                        next_in = min(next_in, self._source_poll_in())
                    release_freed_memory()
                    self.stats.calls = dict(aws.calls)
                    self._wake.clear()
                    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
                    try:
                        await asyncio.wait(waits, timeout=next_in, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for w in waits:
                            w.cancel()
                    if await self.refresh_spec():
                        continue
                await self._hand_over(electing)
                self._watcher.wake()
                await asyncio.gather(watching, return_exceptions=True)
        finally:
            if electing is not None and not electing.done():  # the loop ended by an error
                electing.cancel()
                await asyncio.gather(electing, return_exceptions=True)
            if self.leadership is not None:
                await self.leadership.release()  # idempotent
            if self.gate is not None:
                await self.gate.close()
            await self._spec.aclose()
            if health is not None:
                await health.cleanup()

    @property
    def leads(self) -> bool:
        """This operator may write: it leads the fleet, or runs without leader election."""
        return self.leadership is None or self.leadership.leads

    def _elect(self, aws: Aws, stop: asyncio.Event) -> "asyncio.Task[None] | None":
        """Take part in electing the fleet's writer: each write request of `aws` passes the
        leader's fence first, and becoming the leader starts a pass at once."""
        if self.leadership is None:
            return None
        aws.write_guard = self.leadership.fence
        self.leadership.on_lead = self._wake.set
        return asyncio.create_task(self._lead_until(stop), name="leader-election")

    async def _lead_until(self, stop: asyncio.Event) -> None:
        """Follow or lead until `stop`; then at once, without waiting for a pass in progress (it only
        reads): refuse writes, let in-flight reconciles end (each at its next write, or when its AWS
        call returns; cancelled after `shutdown_grace`) and release the lease for a follower."""
        assert self.leadership is not None
        await self.leadership.run(stop)
        self.leadership.stop_writing()
        await self._drain()
        await self.leadership.release()

    async def _hand_over(self, electing: "asyncio.Task[None] | None") -> None:
        """Stopping: in-flight reconciles end (with leader election, `_lead_until` has started on it)."""
        if electing is None:
            await self._drain()
        else:
            await asyncio.gather(electing, return_exceptions=True)

    def policy(self, fleet: Any = None) -> Policy:
        """apply's policy with the operator's parameters (back-off, shutdown grace), for `fleet` (a
        reconcile's, its image tags resolved) or the spec in force. One per fleet value and gate:
        its per-service look-ups are built once, not once per service reconciled."""
        assert self.loaded is not None
        fleet = fleet or self.loaded.fleet
        for cached in self._policies:
            if cached.fleet is fleet and cached.gate is self.gate:
                return cached
        cached = Policy.for_fleet(fleet, gate=self.gate, backoff_base=self.backoff_base,
                                  shutdown_grace=self.shutdown_grace)
        self._policies = [cached, *self._policies[:1]]  # the spec in force and a reconcile's (tags resolved)
        return cached

    async def _drain(self) -> None:
        """Stopping: in-flight reconciles get `shutdown_grace` seconds to finish, then they are cancelled
        (the next operator reads what is live and finishes the job)."""
        if not self._in_flight:
            return
        tasks = list(self._in_flight.values())
        log.info("stopping: waiting up to %gs for %d in-flight reconcile(s)", self.shutdown_grace, len(tasks))
        _done, pending = await asyncio.wait(tasks, timeout=self.shutdown_grace)
        if pending:
            log.warning("stopping: cancelling %d reconcile(s) still running after %gs", len(pending),
                        self.shutdown_grace)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _pass(self, aws: Aws) -> float:
        """One level-triggered pass over the whole fleet. Returns seconds until the next one."""
        assert self.loaded is not None
        fleet = self.loaded.fleet
        now = time.monotonic()
        try:
            with self.metrics.pass_duration.time():
                rec = await reconcile_plan(aws, fleet, cache=self._cache)
                suspension = await observe_suspension(aws, fleet.spec.target.cluster, fleet.metadata.name,
                                                      rec.observed.services)
        except FleetError as exc:
            self.stats.errors += 1
            self.stats.last_pass_ok = False
            self.metrics.passes.labels("error").inc()
            log.error("observe failed: %s", exc)
            return min(self.interval, self.backoff_base * 2)
        self.metrics.passes.labels("ok").inc()
        self.stats.passes += 1
        self.stats.last_pass_ok = True
        self.stats.last_pass_at = now
        verdicts, loops = await self._serving(aws, rec)
        self._update_conditions(rec, verdicts, loops)
        self._note_suspension(suspension, [r.name for r in rec.rendered])
        conflicts = {c.service: c for c in rec.plan.conflicts}
        for name, c in conflicts.items():
            if name not in self._conflicts:  # once per conflict, not every pass
                log.warning("%s", c.message())
        self._conflicts = set(conflicts)
        progressing = self._schedule(aws, rec, suspension, now)
        return self.progress_interval if progressing or self._in_flight else self.interval

    def _update_conditions(self, rec: Any, verdicts: dict[str, Any], loops: dict[str, str]) -> None:
        """Every service's conditions from this pass; flips (and new Serving/Degraded reasons) are logged."""
        for r in rec.rendered:
            before = self.conditions.last(r.name)
            current = self.conditions.update(r.name, conditions(rec.observed.services.get(r.name),
                                                                verdicts.get(r.name), loops.get(r.name)))
            for c in current:
                # a flip; for Serving and Degraded also a new reason (TasksFailing -> CrashLoop, NoResponders -> VersionSkew)
                was = before.get(c.type)
                if was is not None and (was.status != c.status or (
                        c.type in ("Serving", "Degraded") and was.reason != c.reason)):
                    log.info("%s: %s=%s (%s: %s)", r.name, c.type, c.status, c.reason, c.message)
            self.metrics.set_conditions(r.name, ((c.type, c.status) for c in current))
        self.metrics.services.set(len(rec.rendered))
        declared = {r.name for r in rec.rendered}
        self.metrics.forget_services(declared)
        self.conditions.forget(declared)

    def _schedule(self, aws: Aws, rec: Any, suspension: Suspension, now: float) -> bool:
        """Hand each service that needs changes to a worker, as the policy allows: at most
        `concurrency` at once, dependencies serving first, terminal errors and back-off respected.
        True while something is progressing."""
        policy = self.policy(rec.fleet)
        deps = dependencies(rec.fleet)
        specs = {r.name: r.spec_hash for r in rec.rendered}
        progressing = False
        for sp in rec.plan.services:
            state = rec.observed.services.get(sp.service)
            if state is not None and (state.primary is None or state.primary.rollout_state == "IN_PROGRESS"
                                      or len([d for d in state.deployments if d.status in ("PRIMARY", "ACTIVE")]) > 1):
                progressing = True
            if not sp.actions:
                held = self._backoff.get(sp.service)
                if held is not None and is_ready(state):
                    if held.spec is not None:
                        self.metrics.rollouts.labels(sp.service, "succeeded").inc()
                    held.reset()  # in sync and Ready: the spec holds
                    del self._backoff[sp.service]  # (a steady fleet keeps none)
                continue
            backoff = self._backoff.setdefault(sp.service, policy.backoff())
            if self._canary_waits_for_a_person(sp):
                continue
            if not self.leads or sp.service in self._in_flight or now < backoff.not_before or suspension.of(sp.service):
                continue  # a follower only observes
            spec = specs.get(sp.service)
            if spec is not None and backoff.terminal == spec:
                continue  # failed with a terminal error: waits for a new spec
            # at most `concurrency` services at once, dependencies serving first
            if len(self._in_flight) >= policy.concurrency or policy.held_back_by(
                    rec.plan, rec.observed.services, [d for d in deps.get(sp.service, ()) if d in deps],
                    busy=set(self._in_flight)):
                progressing = True
                continue
            if spec is not None and backoff.spec == spec and not self._retry_due(sp.service, spec, backoff, now):
                continue
            backoff.spec = spec
            self._describe_drift(sp)
            self._in_flight[sp.service] = asyncio.create_task(
                self._reconcile_service(aws, rec.plan.cluster, rec.fleet.metadata.name, sp, rec),
                name=f"reconcile:{sp.service}")
            progressing = True
        return progressing

    def _retry_due(self, service: str, spec: str, backoff: Backoff, now: float) -> bool:
        """A spec applied before comes again: retried once its back-off elapsed."""
        if backoff.waited:
            backoff.waited = False
            return True
        # applied before and did not hold (e.g. the circuit breaker rolled it back)
        delay = backoff.fail(now)
        backoff.waited = True
        self.metrics.rollouts.labels(service, "failed").inc()
        log.warning("%s: spec %s was applied and did not hold; retrying in %.0fs", service, spec, delay)
        return False

    def _note_suspension(self, suspension: Suspension, services: list[str]) -> None:
        """Log suspensions as they start and end; export them as gauges."""
        before = self.suspension
        self.suspension = suspension
        if (suspension.fleet is None) != (before.fleet is None):
            log.info("fleet %s" % (f"suspended ({suspension.fleet}): no service is reconciled"
                                   if suspension.fleet is not None else "resumed"))
        self.metrics.fleet_suspended.set(1 if suspension.fleet is not None else 0)
        for name in services:
            now, then = suspension.services.get(name), before.services.get(name)
            if (now is None) != (then is None):
                log.info("%s: %s", name, f"suspended ({now}): left alone" if now is not None else "resumed")
            self.metrics.set_suspended(name, bool(suspension.of(name)))

    def _describe_drift(self, sp: ServicePlan) -> None:
        for a in sp.actions:
            if isinstance(a, ScaleServiceAction):
                self.stats.drift_healed += 1
                self.metrics.drift_healed.labels(sp.service).inc()
                log.info("%s: desiredCount drifted to %d; restoring %d", sp.service, a.old, a.new)
            else:
                log.info("%s: %s", sp.service, a.summary())

    async def _open_gate(self) -> None:
        """The NATS gate, from spec.rollout.natsGate: auto skips with one warning, required keeps retrying."""
        from fleetctl.controller.gate import GateUnavailable, NatsGate, skip_warning

        assert self.loaded is not None
        if self.gate is None:
            from fleetctl.controller.probe import ProbeTls

            self.gate = NatsGate(self.loaded.fleet, self.loaded.fleet.spec.rollout.nats_gate, self.gate_auth,
                                 ProbeTls.for_fleet(self.loaded.fleet, self.gate_ca_file))
        try:
            await self.gate.open()
        except GateUnavailable as exc:
            log.error("%s", exc)
        if (warning := skip_warning(self.gate)) is not None:
            log.warning("%s", warning)

    async def _serving(self, aws: Aws, rec: Any) -> tuple[dict[str, Any], dict[str, str]]:
        """One NATS round for the whole fleet (the Serving condition) and the services crash-looping."""
        from fleetctl.controller.gate import crash_loops, targets_for

        verdicts: dict[str, Any] = {}
        if self.gate is not None:
            if self.gate.state == "unreachable":
                await self._open_gate()
            verdicts = await self.gate.round(list(targets_for(rec.fleet).values()))
        try:
            loops = await crash_loops(aws, rec.fleet, rec.observed.services)
        except FleetError as exc:
            log.warning("cannot read stopped tasks: %s", exc)
            loops = {}
        self.serving = verdicts
        return verdicts, loops

    async def _reconcile_service(self, aws: Aws, cluster: str, fleet_name: str, sp: ServicePlan,
                                 rec: Any = None) -> None:
        policy = self.policy()
        try:
            # the spec is recorded once the rollout holds (a retry after a rollback still reuses the
            # revision: registration finds it by its content hash)
            target, pending = await execute_service_plan(aws, cluster, fleet_name, sp, tag=not policy.tag_after_hold)
            self.stats.applied += 1
            if await self._canary(aws, sp, target, rec):
                return
            if await self._gate_rollout(aws, cluster, sp, target, rec):
                await write_tags(aws, pending)
        except NotLeader as exc:  # the lease was lost or handed over: the leader takes it from here
            log.info("%s: %s", sp.service, exc)
        except FleetError as exc:
            self.stats.errors += 1
            self.metrics.rollouts.labels(sp.service, "error").inc()
            backoff = self._backoff.setdefault(sp.service, policy.backoff())
            if policy.is_terminal(exc):
                backoff.terminal = backoff.spec
                log.error("%s: %s; not retried until the manifest changes", sp.service, exc)
                return
            delay = backoff.fail(time.monotonic())
            backoff.waited = True  # retry as soon as the back-off elapses
            log.error("%s: %s; retrying in %.0fs", sp.service, exc, delay)
        except Exception:  # a bug: log it with its traceback, keep the operator alive
            self.stats.errors += 1
            log.exception("%s: reconcile crashed", sp.service)
        finally:
            self._in_flight.pop(sp.service, None)
            self._wake.set()

    def _canary_waits_for_a_person(self, sp: ServicePlan) -> bool:
        """A canary that waits for `fleetctl rollout promote|abort` (or an aborted revision): left alone, logged once."""
        from fleetctl.controller.canary import canary_action

        step = canary_action(sp)
        if step is None or not step.waiting:
            self._canary_waits.pop(sp.service, None)
            return False
        if self._canary_waits.get(sp.service) != step.summary():
            self._canary_waits[sp.service] = step.summary()
            log.info("%s: %s", sp.service, step.summary())
        return True

    async def _canary(self, aws: Aws, sp: ServicePlan, target: str | None, rec: Any) -> bool:
        """The canary state machine apply runs (controller/canary_run.py), driven by this operator; its
        state is on AWS, so a restarted operator resumes it. False when the service has no canary step."""
        from fleetctl.controller.canary import canary_action
        from fleetctl.controller.canary_run import CanaryContext, NatsStats, drive

        step = canary_action(sp)
        if step is None or rec is None or self._watcher is None:
            return False
        rollout = rec.fleet.spec.rollout
        result = await drive(CanaryContext(aws, rec.fleet, self._watcher, NatsStats(self.gate), SilentReporter(),
                                           self._stop, rollout.progress_deadline_seconds, rollout.min_ready_seconds),
                             step, target)
        if result.status == "cleaned":
            return False
        log.log(logging.INFO if result.ok or result.status == "stopped" else logging.ERROR, "%s: canary %s: %s",
                sp.service, result.status, result.message)
        for line in (result.verdict.lines() if result.verdict is not None else []):
            log.info("%s:   %s", sp.service, line)
        if result.status in ("promoted", "aborted", "failed"):
            self.metrics.rollouts.labels(sp.service, "succeeded" if result.ok else "failed").inc()
        return True

    async def _gate_rollout(self, aws: Aws, cluster: str, sp: ServicePlan, target: str | None, rec: Any) -> bool:
        """Wait for a rollout this operator started to pass the gate; on failure roll back, explain, back off."""
        from datetime import datetime, timezone

        if rec is None or self._watcher is None or not (sp.rolls_out and target):
            return True
        try:
            rec.fleet.service(sp.service)
        except KeyError:
            return True
        policy = self.policy(rec.fleet)
        health_checked = policy.health_checked(sp.service)
        deadline = policy.deadline
        rollout = self._watcher.watch(sp.service, target, deadline, datetime.now(timezone.utc),
                                      gate_target=policy.gate_target(sp.service), health_checked=health_checked,
                                      min_ready=policy.min_ready)
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({rollout.done, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not rollout.done.done():
            return False  # stopping: the next operator picks the rollout up
        result = rollout.done.result()
        if result.ok:
            log.info("%s: rollout of %s serving: %s", sp.service, target, result.message)
            self.metrics.rollouts.labels(sp.service, "succeeded").inc()
            self._backoff.setdefault(sp.service, policy.backoff()).reset()  # the spec holds
            return True
        self.metrics.rollouts.labels(sp.service, "failed").inc()
        note = ""
        if policy.rolls_back(sp.service):
            _back, note = await roll_back(aws, cluster, sp.service, result, target,
                                          rec.observed.services.get(sp.service), self._watcher, deadline,
                                          health_checked)
        if self._stop.is_set():
            return False
        backoff = self._backoff.setdefault(sp.service, policy.backoff())
        delay = backoff.fail(time.monotonic())
        backoff.waited = True
        log.error("%s: rollout of %s failed the gate: %s%s; retrying in %.0fs", sp.service, target, result.message,
                  f"; {note}" if note else "", delay)
        if result.serving is not None and result.serving.status is False:
            log.error("%s:   NATS %s: %s", sp.service, result.serving.reason, result.serving.message)
        try:
            for d in await explain_stopped(aws, rec.fleet, sp.service, deadline + 60):
                log.error("%s:   %s (%d tasks): %s; fix: %s", sp.service, d["category"], d["tasks"], d["summary"],
                          d["fix"])
        except FleetError as exc:
            log.warning("%s: cannot diagnose stopped tasks: %s", sp.service, exc)
        return False

    # -- health -------------------------------------------------------------------------
    async def _start_health(self) -> Any:
        from aiohttp import web

        async def healthz(_: web.Request) -> web.Response:
            return web.json_response({"ok": True, "passes": self.stats.passes, "leader": self.leads,
                                      "conditions": [self.synced.as_dict()]})

        async def readyz(_: web.Request) -> web.Response:
            fresh = time.monotonic() - self.stats.last_pass_at < 3 * max(self.interval, self.progress_interval)
            ok = self.stats.passes > 0 and self.stats.last_pass_ok and fresh
            return web.json_response({"ready": ok, "passes": self.stats.passes, "errors": self.stats.errors},
                                     status=200 if ok else 503)

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(body=self.metrics.render(), headers={"Content-Type": self.metrics.content_type})

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.health_host, self.health_port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        shown = "127.0.0.1" if self.health_host in ("0.0.0.0", "", "::") else self.health_host
        self.health_url = f"http://{shown}:{port}"
        log.info("health endpoints /healthz, /readyz and /metrics on %s:%d", self.health_host, port)
        return runner
