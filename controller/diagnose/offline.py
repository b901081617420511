"""Diagnose from files: the JSON `aws ecs describe-tasks` prints, and an optional log tail."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from fleetctl.controller.diagnose.classify import TaskEvidence, classify
from fleetctl.controller.diagnose.findings import Finding, group
from fleetctl.controller.errors import FleetError
from fleetctl.controller.state import ContainerState, TaskState


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, (int, float)):
        from datetime import timezone

        return datetime.fromtimestamp(value, timezone.utc)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def task_from_json(raw: dict[str, Any]) -> TaskState:
    group_name = raw.get("group")
    return TaskState(
        arn=raw.get("taskArn", "?"),
        service=group_name.split(":", 1)[1] if group_name and group_name.startswith("service:") else None,
        task_definition=raw.get("taskDefinitionArn", ""),
        last_status=raw.get("lastStatus", ""),
        desired_status=raw.get("desiredStatus", ""),
        stop_code=raw.get("stopCode"),
        stopped_reason=raw.get("stoppedReason"),
        containers=tuple(ContainerState(c.get("name", ""), c.get("exitCode"), c.get("reason"), c.get("lastStatus"))
                         for c in raw.get("containers", [])),
        created_at=_time(raw.get("createdAt")),
        started_at=_time(raw.get("startedAt")),
        stopped_at=_time(raw.get("stoppedAt")),
        group=group_name,
    )


def read_tasks(path: Path) -> list[TaskState]:
    """Tasks from `describe-tasks` (or `run-task`) JSON; `failures` become tasks that failed to start."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FleetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise FleetError(f"{path}: not JSON: {exc}") from None
    if isinstance(doc, list):
        doc = {"tasks": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("tasks", []), list) or (
            "tasks" not in doc and "failures" not in doc):
        raise FleetError(f"{path}: expected the output of `aws ecs describe-tasks`: {{\"tasks\": [...]}}")
    tasks = [task_from_json(t) for t in doc.get("tasks", []) if isinstance(t, dict)]
    for failure in doc.get("failures", []) or []:
        tasks.append(TaskState(arn=failure.get("arn", "?"), service=None, task_definition="", last_status="",
                               desired_status="", stop_code="TaskFailedToStart",
                               stopped_reason=failure.get("reason", "") + (f": {failure['detail']}" if failure.get("detail") else ""),
                               containers=()))
    return tasks


def read_log(path: Path) -> list[str]:
    """One event per line; `aws logs get-log-events` / `filter-log-events` JSON is accepted too."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FleetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    stripped = text.lstrip()
    if stripped.startswith("{") and '"events"' in stripped[:200]:
        try:
            doc = json.loads(text)
            return [str(e.get("message", "")).rstrip("\n") for e in doc.get("events", [])]
        except ValueError:
            pass
    return text.splitlines()


def diagnose_files(tasks_path: Path, log_path: Path | None = None) -> tuple[list[Finding], list[str]]:
    """Findings for the stopped tasks in a file, and notes about what was assumed."""
    tasks = [t for t in read_tasks(tasks_path)
             if t.stop_code or t.stopped_reason or "STOPPED" in (t.desired_status, t.last_status)]
    notes: list[str] = []
    log = read_log(log_path) if log_path is not None else None
    newest = max(tasks, key=lambda t: t.stopped_at.timestamp() if t.stopped_at else 0.0, default=None)
    if log is not None and len(tasks) > 1 and newest is not None:
        notes.append(f"{log_path}: applied to the most recently stopped task, {newest.id}")
    evidence = [TaskEvidence.from_task(t, log if t is newest else None) for t in tasks]
    return group((ev, classify(ev)) for ev in evidence), notes
