"""A service's CloudWatch Logs, task by task (newest task first), and following them live."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from fleetctl.controller.aws import ecs
from fleetctl.controller.aws import logs as cwlogs
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.aws.logs import LogEvent
from fleetctl.controller.diagnose.classify import culprit
from fleetctl.controller.diagnose.online import LogLocation, log_location
from fleetctl.controller.errors import FleetError
from fleetctl.controller.state import TaskState
from fleetctl.controller.concurrency import gather


@dataclass
class TaskLog:
    task: TaskState
    location: LogLocation | None
    events: list[LogEvent] = field(default_factory=list)
    token: str | None = None

    @property
    def header(self) -> str:
        t = self.task
        state = t.last_status or "?"
        if t.stop_code or t.stopped_reason:
            c = culprit(t)
            exit_code = f", exit {c.exit_code}" if c and c.exit_code is not None else ""
            state += f" ({t.stop_code or '-'}: {t.stopped_reason or '-'}{exit_code})"
        where = f"{self.location.group} {self.location.stream}" if self.location else "no awslogs configuration"
        return f"==> task {t.id} {state} [{where}]"


def _when(t: TaskState) -> datetime:
    return t.started_at or t.created_at or datetime.min.replace(tzinfo=timezone.utc)


async def select_tasks(aws: Aws, cluster: str, service: str, *, task: str | None = None,
                       previous: bool = False) -> list[TaskState]:
    """The service's running tasks newest first; `previous`: the last stopped one; `task`: that one."""
    running, stopped = await gather(
        ecs.list_task_arns(aws, cluster, service, desired_status="RUNNING"),
        ecs.list_task_arns(aws, cluster, service, desired_status="STOPPED"),
    )
    arns = [a for a in running + stopped if task is None or a.rsplit("/", 1)[-1].startswith(task) or a == task]
    tasks = [t for t in await ecs.describe_tasks(aws, cluster, arns) if t.service == service]
    if task is not None:
        if not tasks:
            raise FleetError(f"{service}: no task {task!r} in cluster {cluster}")
        return tasks[:1]
    if previous:
        done = [t for t in tasks if t.last_status == "STOPPED"]
        if not done:
            raise FleetError(f"{service}: no stopped task to show (ECS keeps stopped tasks for about an hour)")
        return [max(done, key=lambda t: t.stopped_at or _when(t))]
    live = [t for t in tasks if t.last_status != "STOPPED"]
    return sorted(live or tasks[:1], key=_when, reverse=True)


async def read(aws: Aws, cluster: str, service: str, *, since: float | None = 600.0, task: str | None = None,
               previous: bool = False, container: str | None = None) -> list[TaskLog]:
    """`container`: that container's stream instead of the essential (or failed) one."""
    tasks = await select_tasks(aws, cluster, service, task=task, previous=previous)
    definitions = {arn: await ecs.describe_task_definition(aws, arn) for arn in {t.task_definition for t in tasks}}
    if container is not None:
        for arn, td in definitions.items():
            names = [cd.get("name") for cd in td.get("containerDefinitions", [])]
            if container not in names:
                raise FleetError(f"{service}: no container {container!r} in {arn.rsplit('/', 1)[-1]} "
                                 f"(containers: {', '.join(str(n) for n in names)})")
    # a chosen task is shown whole; the window applies to the live view
    start = None if (task or previous or since is None) else datetime.now(timezone.utc) - timedelta(seconds=since)

    async def one(t: TaskState) -> TaskLog:
        c = culprit(t)
        name = container if container is not None else (c.name if c else None)
        location = log_location(definitions[t.task_definition], name, t.id)
        out = TaskLog(t, location)
        if location is not None:
            out.events, out.token = await cwlogs.events(aws, location.group, location.stream, start=start)
        return out

    return list(await gather(*(one(t) for t in tasks)))


async def follow(aws: Aws, logs: list[TaskLog], emit: Callable[[TaskLog, LogEvent], None], stop: asyncio.Event,
                 interval: float = 1.0) -> None:
    """Poll each stream from where `read` left off until `stop` is set."""
    while not stop.is_set():
        for log in logs:
            if log.location is None:
                continue
            events, log.token = await cwlogs.events(aws, log.location.group, log.location.stream, next_token=log.token)
            for e in events:
                emit(log, e)
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except asyncio.TimeoutError:
            pass
