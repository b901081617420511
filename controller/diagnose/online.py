"""Diagnose a live fleet: stopped tasks and deployment failures from ECS, log tails, network checks."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from fleetctl.controller.aws import ecs
from fleetctl.controller.aws import logs as cwlogs
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.diagnose.classify import TaskEvidence, classify, culprit
from fleetctl.controller.diagnose.findings import Finding, group
from fleetctl.controller.diagnose.netcheck import NetCheck, run_checks
from fleetctl.controller.diagnose.rules import NATS_CATEGORIES, Stage
from fleetctl.controller.manifest.models import Fleet
from fleetctl.controller.state import ServiceState, TaskState
from fleetctl.controller.concurrency import gather

LOG_LINES = 60
LOG_READS = 8          # log streams read at once
PLACEMENT_EVENT = "unable to place a task"


@dataclass
class Diagnosis:
    findings: list[Finding]
    checks: list[NetCheck] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tasks_examined: int = 0
    logs_read: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"findings": [f.as_dict() for f in self.findings], "checks": [c.as_dict() for c in self.checks],
                "deployments": self.deployments, "tasksExamined": self.tasks_examined, "logsRead": self.logs_read,
                "notes": self.notes}


@dataclass(frozen=True)
class LogLocation:
    group: str
    stream: str


def log_location(task_definition: dict[str, Any], container: str | None, task_id: str) -> LogLocation | None:
    """Where awslogs put a container's output: stream `prefix/container/task-id`."""
    for cd in task_definition.get("containerDefinitions", []):
        if container is not None and cd.get("name") != container:
            continue
        config = cd.get("logConfiguration") or {}
        if config.get("logDriver") != "awslogs":
            return None
        options = config.get("options") or {}
        prefix = options.get("awslogs-stream-prefix")
        name = cd.get("name", "")
        stream = f"{prefix}/{name}/{task_id}" if prefix else f"{name}/{task_id}"
        return LogLocation(options.get("awslogs-group", ""), stream)
    return None


def _context(task_definition: dict[str, Any], container: str | None, fleet: Fleet) -> dict[str, str]:
    out: dict[str, str] = {"url": fleet.spec.nats.urls[0]}
    if fleet.spec.nats.credentials is not None:
        out["nats_credentials_format"] = fleet.spec.nats.credentials.format
    if task_definition.get("memory"):
        out["memory"] = f"{task_definition['memory']} MiB"
    for cd in task_definition.get("containerDefinitions", []):
        if container is None or cd.get("name") == container:
            if cd.get("stopTimeout"):
                out["stop_timeout"] = f"{cd['stopTimeout']}s"
            options = (cd.get("logConfiguration") or {}).get("options") or {}
            if options.get("awslogs-group"):
                out["log_group"] = options["awslogs-group"]
            break
    return out


def _failure_key(t: TaskState) -> tuple[Any, ...]:
    c = culprit(t)
    return (t.service, t.task_definition, t.stop_code, t.stopped_reason,
            c.exit_code if c else None, c.reason if c else None)


def _when(t: TaskState) -> datetime:
    return t.stopped_at or t.created_at or datetime.min.replace(tzinfo=timezone.utc)


def placement_evidence(svc: ServiceState, since: datetime) -> list[TaskEvidence]:
    """Service events saying a task could not be placed: failures that never became tasks."""
    out = []
    for e in svc.events:
        if PLACEMENT_EVENT in e.message and (e.created_at is None or e.created_at >= since):
            out.append(TaskEvidence(task_arn=f"{svc.arn or svc.name}/event/{e.id}", service=svc.name,
                                    stop_code=None, stopped_reason=e.message, container=None, exit_code=None,
                                    container_reason=None, stopped_at=e.created_at))
    return out[:1]  # the newest one speaks for the rest


async def diagnose(aws: Aws, fleet: Fleet, *, service: str | None = None, since: float = 3600.0,
                   log_lines: int = LOG_LINES, log_reads: int = LOG_READS, network: bool = True,
                   probe_auth: Any = None) -> Diagnosis:
    cluster = fleet.spec.target.cluster
    names = [service] if service else [s.name for s in fleet.spec.services]
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=since)

    states, arns = await gather(
        ecs.describe_services(aws, cluster, names),
        ecs.list_task_arns(aws, cluster, service, desired_status="STOPPED"),
    )
    tasks = [t for t in await ecs.describe_tasks(aws, cluster, arns)
             if t.service in names and _when(t) >= cutoff]
    diagnosis = Diagnosis([], tasks_examined=len(tasks))

    # one representative (the newest) per distinct failure; only those the platform cannot explain need a log
    groups: dict[tuple[Any, ...], list[TaskState]] = {}
    for t in sorted(tasks, key=_when, reverse=True):
        groups.setdefault(_failure_key(t), []).append(t)

    definitions: dict[str, dict[str, Any]] = {}
    sem = asyncio.Semaphore(log_reads)

    async def definition(arn: str) -> None:
        async with sem:
            definitions[arn] = await ecs.describe_task_definition(aws, arn)

    await gather(*(definition(arn) for arn in {k[1] for k in groups if k[1]}))

    async def read_log(key: tuple[Any, ...], rep: TaskState) -> tuple[tuple[Any, ...], list[str] | None]:
        container = culprit(rep)
        location = log_location(definitions.get(rep.task_definition, {}), container.name if container else None, rep.id)
        if location is None:
            return key, None
        async with sem:
            events = await cwlogs.tail(aws, location.group, location.stream, limit=log_lines)
        return key, None if events is None else [e.message for e in events]

    needs_log = []
    for key, members in groups.items():
        first = TaskEvidence.from_task(members[0])
        if classify(first).rule.stage is not Stage.PLATFORM:
            needs_log.append(read_log(key, members[0]))
    logs = dict(await gather(*needs_log))
    diagnosis.logs_read = sum(1 for v in logs.values() if v is not None)

    classified = []
    for key, members in groups.items():
        log = logs.get(key)
        for t in members:
            container = culprit(t)
            ctx = _context(definitions.get(t.task_definition, {}), container.name if container else None, fleet)
            ev = TaskEvidence.from_task(t, log, ctx)
            classified.append((ev, classify(ev)))

    for name in names:
        svc = states.get(name)
        if svc is None:
            diagnosis.notes.append(f"{name}: no such service in cluster {cluster}")
            continue
        for ev in placement_evidence(svc, cutoff):
            classified.append((ev, classify(ev)))
        for d in svc.deployments:
            if d.rollout_state == "FAILED" or d.failed_tasks:
                diagnosis.deployments.append({"service": name, "deployment": d.id, "status": d.status,
                                              "rolloutState": d.rollout_state, "reason": d.rollout_reason,
                                              "failedTasks": d.failed_tasks, "taskDefinition": d.task_definition})

    diagnosis.findings = group(classified)
    nats_findings = [f for f in diagnosis.findings if f.category in NATS_CATEGORIES]
    if network and nats_findings:
        failing = next((states[f.service] for f in nats_findings if f.service in states), None)
        urls = [c.values.get("url") for _ev, c in classified if c.category in NATS_CATEGORIES]
        url = next((u for u in urls if u), None)
        diagnosis.checks = await run_checks(aws, fleet, failing.network if failing else None, url=url,
                                            probe_auth=probe_auth)
        target = next((f for f in nats_findings if f.scope == "fleet"), None)
        for f in [target] if target else nats_findings:
            f.checks = diagnosis.checks
    return diagnosis
