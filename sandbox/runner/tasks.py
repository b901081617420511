"""One ECS task on this host: a state machine over its container processes.

Methods named ``sync_*`` run with the backend lock held and write the task's observable
state into moto's task object; ``step`` runs without the lock and only touches processes.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any

from fleetctl.sandbox.deployments import now as utcnow
from fleetctl.sandbox.procs import ProcRef
from fleetctl.sandbox.runner.containers import ContainerProcess
from fleetctl.sandbox.runner.logs import LogShipper, ensure_stream
from fleetctl.sandbox.runner.preflight import TaskStartError, prepare


class Phase(enum.Enum):
    NEW = "new"  # preflight pending
    SPAWN = "spawn"  # checks passed, processes not started yet
    STARTING = "starting"  # processes up, not yet RUNNING
    RUNNING = "running"
    STOPPING = "stopping"  # SIGTERM sent (or a container exited); waiting for the rest
    DONE = "done"  # every process exited; STOPPED not yet published
    FINISHED = "finished"  # STOPPED published


@dataclass(frozen=True)
class StopCause:
    code: str
    reason: str
    failed: bool  # counts as a failed task for the deployment and the circuit breaker


ESSENTIAL_EXITED = StopCause("EssentialContainerExited", "Essential container in task exited", True)
HEALTH_FAILED = StopCause("ServiceSchedulerInitiated", "Task failed container health checks", True)


@dataclass(frozen=True)
class RunnerSettings:
    workdir: str
    startup_grace: float
    default_stop_timeout: float
    health_interval_max: float = 0.0
    health_start_interval: float = 0.0


class TaskRuntime:
    def __init__(self, task: Any, settings: RunnerSettings, shipper: LogShipper) -> None:
        self.arn: str = task.task_arn
        self.task_id: str = task.id
        self.cluster: str = task.cluster_name
        self.group: str = task.group or ""
        self.started_by: str = task.started_by or ""
        self.settings = settings
        self.shipper = shipper
        self.phase = Phase.NEW
        self.containers: list[ContainerProcess] = []
        self.start_error: TaskStartError | None = None
        self.cause: StopCause | None = None
        self.spawned_at = 0.0
        self.ip: str | None = None
        self.reached_running = False

    # ---- with the backend lock held -------------------------------------------------------

    def sync_preflight(self, task: Any, task_definition: Any, ip: str | None) -> None:
        """Run ECS's pre-start checks; on success the task is PENDING and ready to spawn."""
        self.ip = ip
        task.health_status = "UNKNOWN"
        if ip is not None:
            _assign_ip(task, ip)
        if task.desired_status == "STOPPED":  # stopped before it started
            self.cause = StopCause(task.stop_code or "UserInitiated", task.stopped_reason or "", False)
            self.phase = Phase.DONE
            return
        task.pull_started_at = utcnow()
        try:
            specs = prepare(task_definition, self.task_id, ip, self.settings.default_stop_timeout,
                            self.settings.health_interval_max, self.settings.health_start_interval)
        except TaskStartError as exc:
            self._fail_to_start(task, exc)
            return
        task.pull_stopped_at = utcnow()
        for spec in specs:
            if spec.log is not None:
                ensure_stream(spec.log)
        self.containers = [ContainerProcess(s, self.settings.workdir, self.shipper) for s in specs]
        for entry, spec in zip(task.containers, specs):
            if spec.image_digest:
                entry["imageDigest"] = spec.image_digest
        task.last_status = "PENDING"
        task.connectivity = "CONNECTED"
        task.connectivity_at = utcnow()
        self.phase = Phase.SPAWN

    def _fail_to_start(self, task: Any, exc: TaskStartError) -> None:
        self.start_error = exc
        self.cause = StopCause("TaskFailedToStart", exc.reason, True)
        self.phase = Phase.DONE

    def sync(self, task: Any) -> None:
        """Publish what ``step`` observed: RUNNING, stopping, exit codes, STOPPED."""
        if self.phase is Phase.FINISHED:
            return
        if task.desired_status == "STOPPED" and self.cause is None:
            # StopTask (the moto fix recorded code and reason) or the scheduler asked.
            self.cause = StopCause(task.stop_code or "UserInitiated", task.stopped_reason or "", False)
            self.begin_stop()
        if self.phase is Phase.RUNNING and task.last_status != "RUNNING":
            task.last_status = "RUNNING"
            task.started_at = utcnow()
            self.reached_running = True
        for entry, proc in zip(task.containers, self.containers):
            if proc.runtime_id:
                entry["runtimeId"] = proc.runtime_id
            if proc.exit_code is not None:
                entry["lastStatus"] = "STOPPED"
                entry["exitCode"] = proc.exit_code
            elif self.phase is Phase.RUNNING or (self.phase is Phase.STOPPING and self.reached_running):
                entry["lastStatus"] = "RUNNING"
            if proc.health is not None:
                entry["healthStatus"] = proc.health.status
        task.health_status = _task_health(self.containers)
        task._health_checked = any(p.health is not None and p.spec.essential for p in self.containers)
        if self.phase is Phase.STOPPING:
            if task.last_status not in ("DEACTIVATING", "STOPPING"):
                task.last_status = "DEACTIVATING" if self.reached_running else "STOPPING"
                task.desired_status = "STOPPED"
                task.stopping_at = getattr(task, "stopping_at", None) or utcnow()
            elif task.last_status == "DEACTIVATING":
                task.last_status = "STOPPING"
        if self.phase is Phase.DONE:
            self._publish_stopped(task)

    def _publish_stopped(self, task: Any) -> None:
        self.shipper.flush()  # the last lines are in the stream before STOPPED is visible
        cause = self.cause or ESSENTIAL_EXITED
        stamp = utcnow()
        task.desired_status = "STOPPED"
        task.stop_code = cause.code
        task.stopped_reason = cause.reason
        task.stopping_at = getattr(task, "stopping_at", None) or stamp
        task.execution_stopped_at = stamp
        task.stopped_at = stamp
        task.last_status = "STOPPED"
        for entry in task.containers:
            entry["lastStatus"] = "STOPPED"
            error = self.start_error
            if error is not None and error.container in (None, entry.get("name")):
                entry["reason"] = error.reason
        _release_eni(task)
        self.phase = Phase.FINISHED

    # ---- without the lock ------------------------------------------------------------------

    def begin_stop(self, cause: StopCause | None = None) -> None:
        if cause is not None and self.cause is None:
            self.cause = cause
        if self.phase in (Phase.NEW, Phase.SPAWN):
            self.phase = Phase.DONE
        elif self.phase in (Phase.STARTING, Phase.RUNNING):
            self.phase = Phase.STOPPING
            now = time.monotonic()
            for proc in self.containers:
                proc.terminate(now)

    def step(self) -> None:
        now = time.monotonic()
        if self.phase is Phase.SPAWN:
            self._spawn(now)
            return
        if self.phase not in (Phase.STARTING, Phase.RUNNING, Phase.STOPPING):
            return
        for proc in self.containers:
            proc.step(now)
        if self.phase is not Phase.STOPPING:
            for proc in self.containers:
                if proc.spec.essential and proc.poll() is not None:
                    self.begin_stop(ESSENTIAL_EXITED)
                    break
                if (
                    proc.spec.essential
                    and proc.health is not None
                    and proc.health.status == "UNHEALTHY"
                    and self.group.startswith("service:")
                ):
                    self.begin_stop(HEALTH_FAILED)
                    break
        if self.phase is Phase.STARTING and self._ready(now):
            self.phase = Phase.RUNNING
        if self.phase is Phase.STOPPING and all(p.exited for p in self.containers):
            for proc in self.containers:
                proc.reap()  # output fully read before STOPPED is published
            self.phase = Phase.DONE

    def _spawn(self, now: float) -> None:
        try:
            for proc in self.containers:
                proc.start()
        except TaskStartError as exc:
            self.start_error = exc
            self.cause = StopCause("TaskFailedToStart", exc.reason, True)
            self.phase = Phase.STOPPING
            for proc in self.containers:
                proc.terminate(now)
            return
        self.spawned_at = now
        self.phase = Phase.STARTING

    def _ready(self, now: float) -> bool:
        """RUNNING once every container is up (ECS does not wait for health: the task's
        healthStatus says that, and the service scheduler waits for HEALTHY instead)."""
        return now - self.spawned_at >= self.settings.startup_grace

    def refs(self) -> list[ProcRef]:
        return [ref for proc in self.containers for ref in proc.refs()]


def _task_health(containers: list[ContainerProcess]) -> str:
    statuses = [p.health.status for p in containers if p.spec.essential and p.health]
    if not statuses:
        return "UNKNOWN"
    if "UNHEALTHY" in statuses:
        return "UNHEALTHY"
    return "HEALTHY" if all(s == "HEALTHY" for s in statuses) else "UNKNOWN"


def _assign_ip(task: Any, ip: str) -> None:
    """Expose the task's loopback address as its ENI's private IP, as awsvpc tasks show."""
    from fleetctl.sandbox.backends import backend

    for attachment in task.attachments:
        if attachment.get("type") != "ElasticNetworkInterface":
            continue
        details = {d["name"]: d for d in attachment["details"]}
        details["privateIPv4Address"]["value"] = ip
        details["privateDnsName"]["value"] = f"ip-{ip.replace('.', '-')}.ec2.internal"
        eni_id = details["networkInterfaceId"]["value"]
        eni = backend("ec2").enis.get(eni_id)
        if eni is not None:
            eni.private_ip_address = ip
        for entry in task.containers:
            entry["networkInterfaces"] = [
                {"attachmentId": attachment["id"], "privateIpv4Address": ip}
            ]


def _release_eni(task: Any) -> None:
    from fleetctl.sandbox.backends import backend

    for attachment in task.attachments:
        if attachment.get("type") != "ElasticNetworkInterface":
            continue
        attachment["status"] = "DELETED"
        for detail in attachment["details"]:
            if detail["name"] == "networkInterfaceId":
                try:
                    backend("ec2").delete_network_interface(detail["value"])
                except Exception:
                    pass

