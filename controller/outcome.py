"""What an apply reports: per service, its outcome and the account of what was and was not done;
for a failed rollout, its stopped tasks grouped by cause."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from fleetctl.controller.aws import ecs
from fleetctl.controller.aws.protocol import AwsApi
from fleetctl.controller.state import TaskState


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


async def stopped_tasks(aws: AwsApi, cluster: str, service: str, limit: int = 100) -> list[TaskState]:
    arns = await ecs.list_task_arns(aws, cluster, service, desired_status="STOPPED")
    if not arns:
        return []
    tasks = await ecs.describe_tasks(aws, cluster, arns[:limit])
    return [t for t in tasks if t.service in (None, service)]
