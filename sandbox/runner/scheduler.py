"""The ECS service scheduler: deployments, counts, rollouts, circuit breaker, events.

Runs with the backend lock held. It changes only moto's objects (it starts tasks with
RunTask and asks for stops by setting desiredStatus), so everything it does is visible
through the AWS API exactly as ECS would show it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from fleetctl.sandbox import deployments as dep
from fleetctl.sandbox.runner.tasks import HEALTH_FAILED, TaskRuntime

log = logging.getLogger("sandbox.scheduler")
STARTING = ("PROVISIONING", "PENDING", "ACTIVATING")


def failure_threshold(desired: int) -> int:
    """ECS's deployment circuit breaker threshold: half the desired count, 3 to 200."""
    return max(3, min(200, math.ceil(desired / 2)))


@dataclass
class ServiceMemory:
    """What the scheduler remembers about one service between ticks."""

    service: Any
    primary_id: str | None = None
    failures: int = 0
    next_launch_at: float = 0.0
    steady: bool = False
    completed_task_definition: str | None = None
    completed_deployment_id: str | None = None


def short_id(task: Any) -> str:
    return str(task.id)


def _running(tasks: list[Any]) -> list[Any]:
    return [t for t in tasks if t.last_status == "RUNNING" and t.desired_status == "RUNNING"]


def _healthy(tasks: list[Any]) -> list[Any]:
    """Running tasks the scheduler counts as healthy: with a container health check, only
    once the task's healthStatus is HEALTHY (ECS: "the service scheduler waits for the task
    to reach a healthy status before counting it toward the minimum healthy percent")."""
    return [t for t in _running(tasks) if not getattr(t, "_health_checked", False)
            or getattr(t, "health_status", "UNKNOWN") == "HEALTHY"]


def _pending(tasks: list[Any]) -> list[Any]:
    return [t for t in tasks if t.last_status in STARTING and t.desired_status == "RUNNING"]


def _request_stop(task: Any, code: str, reason: str) -> None:
    task.desired_status = "STOPPED"
    task.stop_code = code
    task.stopped_reason = reason
    task.stopping_at = dep.now()


class Scheduler:
    def __init__(self, backoff_base: float, backoff_max: float) -> None:
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._memory: dict[int, ServiceMemory] = {}

    def forget(self) -> None:
        self._memory.clear()

    def _remember(self, service: Any) -> ServiceMemory:
        memory = self._memory.get(id(service))
        if memory is None or memory.service is not service:
            memory = self._memory[id(service)] = ServiceMemory(service)
        return memory

    def reconcile(self, ecs: Any, finished: list[TaskRuntime], now: float) -> None:
        live: dict[tuple[str, str], list[Any]] = {}
        for cluster, tasks in ecs.tasks.items():
            for task in tasks.values():
                if task.last_status != "STOPPED" and (task.group or "").startswith("service:"):
                    live.setdefault((cluster, task.group), []).append(task)
        services = {(s.cluster_name, f"service:{s.name}"): s for s in ecs.services.values()}
        for runtime in finished:
            service = services.get((runtime.cluster, runtime.group))
            if service is not None and runtime.cause is not None and runtime.cause.failed:
                if runtime.cause == HEALTH_FAILED:
                    dep.add_event(service, f"(service {service.name}) (task {runtime.task_id}) failed container "
                                           "health checks.")
                self._record_failure(service, runtime.started_by, now)
        for key, service in services.items():
            try:
                self._reconcile_service(ecs, service, live.get(key, []), now)
            except Exception:
                log.exception("reconciling service %s failed", service.name)
        alive = {id(s) for s in services.values()}
        for key in [k for k in self._memory if k not in alive]:
            del self._memory[key]

    def _record_failure(self, service: Any, deployment_id: str, now: float) -> None:
        for deployment in service.deployments:
            if deployment["id"] == deployment_id:
                deployment["failedTasks"] = deployment.get("failedTasks", 0) + 1
                deployment["updatedAt"] = dep.now()
        memory = self._remember(service)
        if memory.primary_id == deployment_id or memory.primary_id is None:
            memory.failures += 1
            delay = min(self.backoff_base * 2 ** (memory.failures - 1), self.backoff_max)
            memory.next_launch_at = now + delay

    def _reconcile_service(self, ecs: Any, service: Any, tasks: list[Any], now: float) -> None:
        name = service.name
        if service.status != "ACTIVE":
            for task in tasks:
                if task.desired_status != "STOPPED":
                    _request_stop(task, "ServiceSchedulerInitiated", "Service deleted")
            service.running_count = len(_running(tasks))
            service.pending_count = 0
            return
        if not service.deployments:
            return
        memory = self._remember(service)
        primary = service.deployments[0]
        if memory.primary_id != primary["id"]:
            memory.primary_id, memory.failures, memory.next_launch_at = primary["id"], 0, 0.0
        config = dep.deployment_configuration(service)
        desired = int(service.desired_count or 0)

        primary = self._circuit_breaker(service, memory, config, desired) or primary
        by_deployment = {d["id"]: [t for t in tasks if t.started_by == d["id"]] for d in service.deployments}
        known = set(by_deployment)
        scaling_reason = f"Scaling activity initiated by (deployment {primary['id']})"
        stopped: list[Any] = []
        for task in tasks:  # tasks of a deployment that no longer exists
            if task.started_by not in known and task.desired_status != "STOPPED":
                _request_stop(task, "ServiceSchedulerInitiated", scaling_reason)
                stopped.append(task)

        # Scale in the primary deployment: starting tasks first, then the newest.
        mine = by_deployment[primary["id"]]
        excess = len(_running(mine)) + len(_pending(mine)) - desired
        for task in (_pending(mine) + sorted(_running(mine), key=lambda t: t.created_at, reverse=True))[: max(excess, 0)]:
            _request_stop(task, "ServiceSchedulerInitiated", scaling_reason)
            stopped.append(task)

        # Launch for the primary deployment within maximumPercent, after any backoff.
        old = [d for d in service.deployments[1:]]
        alive_total = len(tasks)  # every task not yet STOPPED, draining ones included
        need = desired - len(_running(mine)) - len(_pending(mine))
        if old:
            ceiling = max(desired, math.floor(desired * config["maximumPercent"] / 100))
            need = min(need, ceiling - alive_total)
        # A deployment the circuit breaker failed (without rollback) launches no more tasks.
        if need > 0 and now >= memory.next_launch_at and primary.get("rolloutState") != "FAILED":
            self._launch(ecs, service, primary, need, now)

        # Drain older deployments while keeping minimumHealthyPercent running.
        floor_running = math.ceil(desired * config["minimumHealthyPercent"] / 100)
        total_running = sum(len(_healthy(v)) for v in by_deployment.values())
        for deployment in old:
            theirs = by_deployment[deployment["id"]]
            for task in _pending(theirs):
                _request_stop(task, "ServiceSchedulerInitiated", scaling_reason)
                stopped.append(task)
            for task in sorted(_running(theirs), key=lambda t: t in _healthy(theirs)):
                if task in _healthy(theirs) and total_running - 1 < floor_running:
                    break
                _request_stop(task, "ServiceSchedulerInitiated", scaling_reason)
                stopped.append(task)
                total_running -= 1
        running_stopped = [t for t in stopped if t.last_status == "RUNNING"]
        if running_stopped:
            ids = " ".join(f"(task {short_id(t)})" for t in running_stopped)
            dep.add_event(service, f"(service {name}) has stopped {len(running_stopped)} running tasks: {ids}.")

        self._count(service, by_deployment, tasks)
        self._complete(service, memory, desired, tasks)

    def _circuit_breaker(
        self, service: Any, memory: ServiceMemory, config: dict[str, Any], desired: int
    ) -> dict[str, Any] | None:
        """Fail the PRIMARY deployment past ECS's threshold; roll back if asked to."""
        breaker = config["deploymentCircuitBreaker"]
        primary = service.deployments[0]
        if not breaker.get("enable") or primary.get("rolloutState") != "IN_PROGRESS":
            return None
        if primary.get("failedTasks", 0) < failure_threshold(desired):
            return None
        primary["rolloutState"] = "FAILED"
        primary["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
        primary["updatedAt"] = dep.now()
        dep.add_event(
            service,
            f"(service {service.name}) (deployment {primary['id']}) deployment failed: "
            "tasks failed to start.",
        )
        if not breaker.get("rollback") or memory.completed_task_definition is None:
            return None
        rollback = dep.start_deployment(
            service,
            memory.completed_task_definition,
            reason="ECS deployment circuit breaker: rolling back to deploymentId "
            f"{memory.completed_deployment_id}.",
        )
        memory.primary_id, memory.failures, memory.next_launch_at = rollback["id"], 0, 0.0
        return rollback

    def _launch(self, ecs: Any, service: Any, primary: dict[str, Any], count: int, now: float) -> None:
        network = service.network_configuration or None
        tags = service.tags if service.propagate_tags == "SERVICE" else None
        try:
            # Every task runs on this host, so it is placed like a Fargate task whatever
            # the service's launch type; the task then reports the service's launch type.
            tasks = ecs.run_task(
                service.cluster_name,
                primary["taskDefinition"],
                count,
                None,
                primary["id"],
                tags,
                "FARGATE",
                network,
                f"service:{service.name}",
                service.platform_version,
                None,
            )
        except Exception as exc:
            log.warning("service %s: cannot start tasks: %s", service.name, exc)
            dep.add_event(service, f"(service {service.name}) was unable to place a task. Reason: {exc}.")
            memory = self._remember(service)
            memory.failures += 1
            memory.next_launch_at = now + min(self.backoff_base * 2**memory.failures, self.backoff_max)
            return
        for task in tasks:
            task.launch_type = service.launch_type or "FARGATE"
        ids = " ".join(f"(task {short_id(t)})" for t in tasks)
        dep.add_event(service, f"(service {service.name}) has started {len(tasks)} tasks: {ids}.")

    def _count(self, service: Any, by_deployment: dict[str, list[Any]], tasks: list[Any]) -> None:
        for deployment in list(service.deployments):
            theirs = by_deployment.get(deployment["id"], [])
            running, pending = len(_running(theirs)), len(_pending(theirs))
            if deployment["status"] == "PRIMARY":
                desired = service.desired_count
            else:
                desired = sum(1 for t in theirs if t.desired_status == "RUNNING")
                if not any(t.last_status != "STOPPED" for t in theirs):
                    service.deployments.remove(deployment)  # drained
                    continue
            counts = {"runningCount": running, "pendingCount": pending, "desiredCount": desired}
            if any(deployment.get(k) != v for k, v in counts.items()):
                deployment.update(counts)
                deployment["updatedAt"] = dep.now()
        service.running_count = len(_running(tasks))
        service.pending_count = len(_pending(tasks))

    def _complete(self, service: Any, memory: ServiceMemory, desired: int, tasks: list[Any]) -> None:
        primary = service.deployments[0]
        mine = [t for t in tasks if t.started_by == primary["id"]]
        settled = (
            len(service.deployments) == 1
            and primary["runningCount"] == desired
            and len(_healthy(mine)) == desired  # RUNNING, and HEALTHY where a check is defined
            and (desired == 0 or primary["runningCount"] > 0)
            and primary["pendingCount"] == 0
            and all(t.desired_status == "RUNNING" for t in tasks)
        )
        if settled and primary.get("rolloutState") == "IN_PROGRESS":
            primary["rolloutState"] = "COMPLETED"
            primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
            primary["updatedAt"] = dep.now()
            dep.add_event(service, f"(service {service.name}) (deployment {primary['id']}) deployment completed.")
        if settled and primary.get("rolloutState") == "COMPLETED":
            memory.completed_task_definition = primary["taskDefinition"]
            memory.completed_deployment_id = primary["id"]
            memory.failures = 0
        if settled and not memory.steady:
            dep.add_event(service, f"(service {service.name}) has reached a steady state.")
        memory.steady = settled
