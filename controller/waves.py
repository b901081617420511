"""The wave scheduler of `apply`: services run concurrently under the policy's bound, in waves that
respect dependsOn (a service's actions start once every dependency that gates it is Ready), each
rollout waited for through one `RolloutWatcher`; a failed one is rolled back and explained."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from fleetctl.controller.aws.protocol import AwsApi
from fleetctl.controller.canary import canary_action
from fleetctl.controller.conditions import is_ready
from fleetctl.controller.errors import CloudError
from fleetctl.controller.execute import PendingTags, execute_service_plan, write_tags
from fleetctl.controller.outcome import ServiceOutcome, stopped_tasks, summarize_stopped
from fleetctl.controller.plan import DeleteServiceAction, Plan, ServicePlan, TagServiceAction
from fleetctl.controller.policy import Policy
from fleetctl.controller.rollout import Reporter, RolloutResult, explain_stopped, roll_back
from fleetctl.controller.state import ServiceState


class Waves:
    """One apply of a plan: `run()` returns every service's outcome."""

    def __init__(self, plan: Plan, aws: AwsApi, *, fleet_name: str, dependencies: dict[str, list[str]],
                 observed: dict[str, ServiceState], options: Any, reporter: Reporter, since: datetime) -> None:
        """`options`: controller.apply.ApplyOptions (its `policy()` is the rules)."""
        self.plan, self.aws, self.fleet_name = plan, aws, fleet_name
        self.cluster = plan.cluster
        self.dependencies, self.observed = dependencies, observed
        self.options, self.reporter, self.since, self.wait = options, reporter, since, options.wait
        self.policy: Policy = options.policy()
        policy, poll_interval = self.policy, options.poll_interval
        self.outcomes: dict[str, ServiceOutcome] = {}
        self.accounts: dict[str, list[str]] = {}  # per service, the actions done so far
        self.sem = asyncio.Semaphore(policy.concurrency)
        self.watcher = policy.watcher(aws, self.cluster, reporter, poll_interval)
        loop = asyncio.get_running_loop()
        self.ready: dict[str, asyncio.Future[bool]] = {name: loop.create_future() for name in dependencies}
        self.failed_any = asyncio.Event()

    def finish(self, outcome: ServiceOutcome) -> None:
        self.outcomes[outcome.service] = outcome
        fut = self.ready.get(outcome.service)
        if fut is not None and not fut.done():
            fut.set_result(outcome.status in ("ready", "unchanged", "applied"))
        if outcome.failed:
            self.failed_any.set()
        self.reporter.finished(outcome)

    # -- one service ------------------------------------------------------------------------
    async def _dependencies_ready(self, sp: ServicePlan) -> bool:
        """Wait for the dependencies that gate `sp`; False (and `sp` skipped) when one failed."""
        deps = [d for d in self.dependencies.get(sp.service, []) if d in self.ready]
        deps = self.policy.held_back_by(self.plan, self.observed, deps)
        if not self.wait or not deps:
            return True
        results = await asyncio.gather(*(asyncio.shield(self.ready[d]) for d in deps))
        bad = [d for d, ok in zip(deps, results) if not ok]
        if bad:
            self.finish(ServiceOutcome(sp.service, "skipped", f"dependency not Ready: {', '.join(bad)}",
                                       not_done=[a.summary() for a in sp.actions]))
        return not bad

    async def run_service(self, sp: ServicePlan) -> None:
        started = time.monotonic()
        if not await self._dependencies_ready(sp):
            return
        done: list[str] = []
        self.accounts[sp.service] = done
        async with self.sem:
            for a in sp.actions:
                self.reporter.action(sp.service, a.summary())
            try:
                target, pending = await execute_service_plan(
                    self.aws, self.cluster, self.fleet_name, sp, tag=not (self.wait and self.policy.tag_after_hold),
                    done=done)
            except CloudError as exc:
                self.finish(ServiceOutcome(sp.service, "failed", str(exc), duration=time.monotonic() - started,
                                           done=done, not_done=[a.summary() for a in sp.actions][len(done):]))
                return
        if await self._canary(sp, target, done, started):
            return
        if any(isinstance(a, DeleteServiceAction) for a in sp.actions):
            self.finish(ServiceOutcome(sp.service, "deleted", "service deleted", duration=time.monotonic() - started,
                                       done=done))
        elif not self.wait:
            self.finish(ServiceOutcome(sp.service, "applied", "changes applied; not waiting",
                                       duration=time.monotonic() - started, done=done))
        else:
            await self._hold(sp, target, pending, done, started)

    async def _canary(self, sp: ServicePlan, target: str | None, done: list[str], started: float) -> bool:
        """A canary instead of an in-place rollout (controller/canary_run.py); True when it decided the outcome."""
        canary = canary_action(sp)
        if canary is None or not self.wait:
            return False
        from fleetctl.controller.canary_run import apply_canary

        outcome = await apply_canary(self.aws, self.options, self.watcher, self.reporter, canary, target, done)
        if outcome is None:  # None: only a canary nobody needs was deleted; the rest goes on as usual
            return False
        outcome.duration = time.monotonic() - started
        self.finish(outcome)
        return True

    async def _hold(self, sp: ServicePlan, target: str | None, pending: PendingTags | None, done: list[str],
                    started: float) -> None:
        """Wait for the rollout to pass the gate; then record the spec, or roll back and explain."""
        watched = target if sp.rolls_out or target else None
        rollout = self.watcher.watch(sp.service, watched, self.policy.deadline, self.since,
                                     gate_target=self.policy.gate_target(sp.service) if watched else None,
                                     health_checked=self.policy.health_checked(sp.service))
        result = await rollout.done
        outcome = ServiceOutcome(sp.service, "ready" if result.ok else "failed", result.message, done=done,
                                 serving=result.serving.as_dict() if result.serving else None,
                                 gate_seconds=result.gate_seconds)
        tag_summary = next((a.summary() for a in sp.actions if isinstance(a, TagServiceAction)), None)
        if result.ok:
            try:
                await write_tags(self.aws, pending)  # the spec is recorded once it holds
                if tag_summary and pending is not None:
                    done.append(tag_summary)
            except CloudError as exc:
                outcome.status = "failed"
                outcome.message += f" (could not record the applied spec: {exc})"
        outcome.not_done = [f"rollout to {target}"] if not result.ok and target else []
        if tag_summary and tag_summary not in done:
            outcome.not_done.append(tag_summary)
        if not result.ok:
            await self._fail(outcome, result, watched, time.monotonic() - started)
        outcome.duration = time.monotonic() - started
        self.finish(outcome)

    async def _fail(self, outcome: ServiceOutcome, result: RolloutResult, watched: str | None, elapsed: float) -> None:
        """Roll back (when the service's circuit breaker rolls back), wait, and explain the failure."""
        name, before = outcome.service, self.observed.get(outcome.service)
        try:
            if self.policy.rolls_back(name, before):
                outcome.rolled_back_to, note = await roll_back(
                    self.aws, self.cluster, name, result, watched, before, self.watcher, self.policy.deadline,
                    self.policy.health_checked(name))
                outcome.message += f"; {note}"
        except CloudError as exc:
            outcome.message += f"; rollback failed: {exc}"
        try:
            outcome.stopped_tasks = summarize_stopped(await stopped_tasks(self.aws, self.cluster, name))
            if self.policy.fleet is not None and (outcome.stopped_tasks or result.stopped):
                outcome.diagnosis = await explain_stopped(self.aws, self.policy.fleet, name, elapsed + 60)
        except CloudError as exc:
            outcome.message += f" (stopped tasks unavailable: {exc})"

    async def watch_unchanged(self, name: str) -> None:
        """A service without changes still gates its dependents: it must be Ready."""
        if is_ready(self.observed.get(name)):
            self.finish(ServiceOutcome(name, "unchanged", "in sync and Ready"))
            return
        if not self.wait:
            self.finish(ServiceOutcome(name, "unchanged", "in sync"))
            return
        rollout = self.watcher.watch(name, None, self.policy.deadline, self.since,
                                     health_checked=self.policy.health_checked(name), min_ready=0.0)
        ok, message = await rollout.done
        self.finish(ServiceOutcome(name, "unchanged" if ok else "failed", message if ok else f"not Ready: {message}"))

    # -- the whole plan ---------------------------------------------------------------------
    async def run(self, *, overall_timeout: float, fail_fast: bool) -> dict[str, ServiceOutcome]:
        stop_watch = asyncio.Event()
        watch_task = asyncio.create_task(self.watcher.run(stop_watch), name="rollout-watcher")
        tasks = [asyncio.create_task(self.run_service(sp) if sp.actions else self.watch_unchanged(sp.service))
                 for sp in self.plan.services]
        try:
            await self._until_done(tasks, overall_timeout, fail_fast)
        finally:
            stop_watch.set()
            self.watcher.wake()
            await asyncio.gather(watch_task, return_exceptions=True)
        return self.outcomes

    async def _until_done(self, tasks: list[asyncio.Task[None]], overall_timeout: float, fail_fast: bool) -> None:
        """Every service finished; or the overall timeout, or (fail-fast) a failure: the rest is stopped."""
        gathered = asyncio.gather(*tasks)
        waiters: list[asyncio.Future[Any]] = [gathered]
        ff = asyncio.create_task(self.failed_any.wait()) if fail_fast else None
        if ff:
            waiters.append(ff)
        try:
            finished, _ = await asyncio.wait(waiters, timeout=overall_timeout, return_when=asyncio.FIRST_COMPLETED)
            if gathered in finished:
                gathered.result()
                return
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            reason = "stopped: another service failed (--fail-fast)" if ff in finished else "overall timeout reached"
            for sp in self.plan.services:
                if sp.service not in self.outcomes:
                    done = self.accounts.get(sp.service, [])
                    self.finish(ServiceOutcome(sp.service, "failed", reason, done=list(done),
                                               not_done=[a.summary() for a in sp.actions][len(done):]))
        finally:
            if ff:
                ff.cancel()
