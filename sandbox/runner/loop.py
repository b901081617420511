"""The task runner's loop: processes outside the lock, moto's state inside it."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from fleetctl.sandbox.backends import backend, freeze_task_auto_advance
from fleetctl.sandbox.config import SandboxConfig
from fleetctl.sandbox.guard import guarded_loop
from fleetctl.sandbox.procs import ProcRef
from fleetctl.sandbox.runner.logs import LogShipper
from fleetctl.sandbox.runner.scheduler import Scheduler
from fleetctl.sandbox.runner.tasks import Phase, RunnerSettings, StopCause, TaskRuntime
from fleetctl.sandbox.server import BACKEND_LOCK

log = logging.getLogger("sandbox.runner")
PRUNE_PERIOD = 5.0


class LoopbackPool:
    """Hands each awsvpc task its own 127.x.y.z address (127.1.0.1 upwards)."""

    def __init__(self) -> None:
        self._next = int(ipaddress.IPv4Address("127.1.0.1"))
        self._in_use: set[str] = set()

    def take(self) -> str:
        while True:
            address = ipaddress.IPv4Address(self._next)
            self._next += 1
            if self._next >= int(ipaddress.IPv4Address("127.254.255.255")):
                self._next = int(ipaddress.IPv4Address("127.1.0.1"))
            text = str(address)
            if text.endswith((".0", ".255")) or text in self._in_use:
                continue
            self._in_use.add(text)
            return text

    def give_back(self, address: str | None) -> None:
        if address is not None:
            self._in_use.discard(address)


class TaskRunner:
    def __init__(
        self,
        config: SandboxConfig,
        on_children: Callable[[list[ProcRef]], None] = lambda refs: None,
    ) -> None:
        self.config = config
        self.settings = RunnerSettings(config.workdir, config.startup_grace, config.default_stop_timeout,
                                       config.health_check_interval_max, config.health_check_start_interval)
        self.shipper = LogShipper()
        self.scheduler = Scheduler(config.backoff_base, config.backoff_max)
        self.pool = LoopbackPool()
        self.runtimes: dict[str, TaskRuntime] = {}
        self.on_children = on_children
        self._ecs: Any = None
        self._last_prune = 0.0
        self._children: set[ProcRef] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = guarded_loop("task-runner", self.tick, self.config.tick, self._stop)

    def tick(self) -> None:
        for runtime in list(self.runtimes.values()):
            runtime.step()
        now = time.monotonic()
        with BACKEND_LOCK:
            ecs = backend("ecs")
            if ecs is not self._ecs:
                self._on_reset(ecs)
            self.shipper.flush()
            finished = self._sync_all(ecs)
            self.scheduler.reconcile(ecs, finished, now)
            self._adopt(ecs)
            if now - self._last_prune > min(PRUNE_PERIOD, max(self.config.stopped_task_retention / 2, 0.5)):
                self._prune(ecs)
                self._last_prune = now
        self._report_children()

    def _on_reset(self, ecs: Any) -> None:
        """First tick, or moto was reset: tasks we run no longer exist; stop them."""
        if self._ecs is not None:
            log.warning("moto was reset; stopping %d local tasks", len(self.runtimes))
        for runtime in self.runtimes.values():
            runtime.begin_stop(StopCause("ServiceSchedulerInitiated", "Backend reset", False))
        self.scheduler.forget()
        freeze_task_auto_advance()
        self._ecs = ecs

    def _task(self, ecs: Any, runtime: TaskRuntime) -> Any:
        return ecs.tasks.get(runtime.cluster, {}).get(runtime.arn)

    def _sync_all(self, ecs: Any) -> list[TaskRuntime]:
        finished = []
        for arn, runtime in list(self.runtimes.items()):
            task = self._task(ecs, runtime)
            if task is None:  # gone from moto (reset or pruned): just end the processes
                runtime.begin_stop()
                if runtime.phase is Phase.DONE:
                    runtime.phase = Phase.FINISHED
            else:
                runtime.sync(task)
            if runtime.phase is Phase.FINISHED:
                del self.runtimes[arn]
                self.pool.give_back(runtime.ip)
                finished.append(runtime)
        return finished

    def _adopt(self, ecs: Any) -> None:
        """Take on every task still PROVISIONING: the scheduler's and RunTask's alike."""
        for tasks in ecs.tasks.values():
            for arn, task in tasks.items():
                if task.last_status != "PROVISIONING" or arn in self.runtimes:
                    continue
                runtime = TaskRuntime(task, self.settings, self.shipper)
                self.runtimes[arn] = runtime
                has_eni = any(a.get("type") == "ElasticNetworkInterface" for a in task.attachments)
                try:
                    task_definition = ecs.describe_task_definition(task.task_definition_arn)
                    runtime.sync_preflight(task, task_definition, self.pool.take() if has_eni else None)
                except Exception:
                    log.exception("preparing task %s failed", arn)
                    runtime.begin_stop(StopCause("TaskFailedToStart", "InternalError: sandbox task runner failed", True))
                runtime.sync(task)

    def _prune(self, ecs: Any) -> None:
        """Forget STOPPED tasks older than the retention period, as ECS does after ~1 hour."""
        from fleetctl.sandbox.deployments import now

        cutoff = now().timestamp() - self.config.stopped_task_retention
        for tasks in ecs.tasks.values():
            for arn, task in list(tasks.items()):
                if task.last_status != "STOPPED" or arn in self.runtimes:
                    continue
                stopped_at = getattr(task, "stopped_at", None)
                if stopped_at is None:
                    task.stopped_at = now()
                elif stopped_at.timestamp() < cutoff:
                    del tasks[arn]

    def children(self) -> list[ProcRef]:
        """Every process the runner has started that is still alive."""
        return sorted(self._children, key=lambda r: r.pid)

    def _report_children(self) -> None:
        refs = {ref for runtime in self.runtimes.values() for ref in runtime.refs()}
        if refs != self._children:
            self._children = refs
            self.on_children(sorted(refs, key=lambda r: r.pid))

    def shutdown(self, timeout: float) -> None:
        """Stop the loop, then every container: SIGTERM, SIGKILL after ``timeout``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for runtime in self.runtimes.values():
            runtime.begin_stop(StopCause("ServiceSchedulerInitiated", "Sandbox shutting down", False))
            for proc in runtime.containers:
                proc.kill_at = time.monotonic() + min(timeout, proc.spec.stop_timeout)
        deadline = time.monotonic() + timeout + 1
        while time.monotonic() < deadline and any(
            not p.exited for r in self.runtimes.values() for p in r.containers
        ):
            for runtime in self.runtimes.values():
                runtime.step()
            time.sleep(0.05)
        for runtime in self.runtimes.values():
            for proc in runtime.containers:
                proc.reap(timeout=0.5)
                if proc.health:
                    proc.health.stop()
