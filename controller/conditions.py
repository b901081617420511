"""Per-service conditions (Kubernetes API conventions): Ready, Progressing, Degraded.

Each has a status, a CamelCase reason, a human message and the time it last flipped. The
transition time moves only when the status flips; `ConditionTracker` keeps that memory across
observations, and a one-shot observation takes it from the ECS deployment timestamps.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from fleetctl.controller.state import DeploymentState, ServiceState, family_revision


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: bool | None  # None: Unknown
    reason: str
    message: str
    last_transition_time: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "status": {True: "True", False: "False", None: "Unknown"}[self.status],
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": self.last_transition_time.isoformat() if self.last_transition_time else None,
        }


def _active(svc: ServiceState) -> list[DeploymentState]:
    return [d for d in svc.deployments if d.status in ("PRIMARY", "ACTIVE")]


def deployment_verdict(svc: ServiceState, target: str | None = None) -> tuple[bool, str]:
    """ECS's service-level half of readiness, the one rule `is_ready`, `status` and the rollout gate
    share: (done, what holds or what is missing). Done: the PRIMARY deployment (of `target`, when
    given) COMPLETED and alone, and running == desired. Task health is the gate's to add."""
    primary = svc.primary
    if primary is None:
        return svc.running == svc.desired, f"{svc.running}/{svc.desired} running"
    if target and family_revision(primary.task_definition) != family_revision(target):
        return False, f"PRIMARY is {family_revision(primary.task_definition)}, not {target}"
    if primary.rollout_state not in (None, "COMPLETED") or len(_active(svc)) > 1:
        return False, f"{primary.rollout_state or 'deploying'}: {svc.running}/{svc.desired} running, {svc.pending} pending"
    if primary.running != svc.desired or svc.running != svc.desired:
        return False, f"{svc.running}/{svc.desired} running"
    return True, f"{svc.running}/{svc.desired} tasks running"


def is_ready(svc: ServiceState | None, expected_task_definition: str | None = None) -> bool:
    return svc is not None and svc.status == "ACTIVE" and deployment_verdict(svc, expected_task_definition)[0]


def serving_condition(verdict: Any) -> Condition:
    """`Serving` from the NATS gate's verdict (controller.gate.ServingVerdict); None: not checked."""
    if verdict is None:
        return Condition("Serving", None, "NotChecked", "NATS was not checked")
    return Condition("Serving", verdict.status, verdict.reason, verdict.message)


def conditions(svc: ServiceState | None, serving: Any = None, crash_loop: str | None = None) -> list[Condition]:
    """Conditions from one observation, with transition times from ECS's own timestamps.

    `serving` is the NATS gate's verdict for the service (None: not checked); Ready requires it not
    to be False. `crash_loop` says that tasks of the current revision keep stopping after the
    rollout completed (Degraded, reason CrashLoop)."""
    serving_c = serving_condition(serving)
    if svc is None or svc.status != "ACTIVE":
        status = "missing" if svc is None else svc.status.lower()
        return [
            Condition("Ready", False, "ServiceNotFound", f"service is {status}"),
            Condition("Progressing", False, "ServiceNotFound", f"service is {status}"),
            Condition("Degraded", False, "ServiceNotFound", f"service is {status}"),
            serving_c,
        ]
    primary = svc.primary
    active = _active(svc)
    p_created = primary.created_at if primary else svc.created_at
    p_updated = primary.updated_at if primary else svc.created_at

    if is_ready(svc) and crash_loop is not None:
        ready = Condition("Ready", False, "CrashLoop", crash_loop, p_updated)
    elif is_ready(svc) and serving_c.status is False:
        ready = Condition("Ready", False, "NotServing", f"ECS says done, NATS does not agree: {serving_c.reason}: "
                          f"{serving_c.message}", p_updated)
    elif is_ready(svc):
        ready = Condition("Ready", True, "RolloutComplete",
                          f"{svc.running}/{svc.desired} tasks running on {family_revision(svc.task_definition)}"
                          + ("" if serving_c.status else " (NATS not checked)"), p_updated)
    elif primary is not None and primary.rollout_state == "FAILED":
        ready = Condition("Ready", False, "RolloutFailed", primary.rollout_reason or "deployment failed", p_updated)
    elif len(active) > 1 or (primary is not None and primary.rollout_state == "IN_PROGRESS"):
        ready = Condition("Ready", False, "RolloutInProgress",
                          f"{svc.running}/{svc.desired} running, {svc.pending} pending", p_created)
    else:
        ready = Condition("Ready", False, "TasksNotRunning", f"{svc.running}/{svc.desired} tasks running", p_updated)

    if primary is not None and primary.rollout_state == "FAILED":
        progressing = Condition("Progressing", False, "RolloutFailed",
                                "the deployment failed; ECS is not making progress toward it", p_updated)
    elif primary is not None and primary.rollout_state == "IN_PROGRESS":
        progressing = Condition("Progressing", True, "NewDeployment",
                                f"deployment {primary.id} rolling out {family_revision(primary.task_definition)}", p_created)
    elif len(active) > 1:
        progressing = Condition("Progressing", True, "Draining", f"{len(active) - 1} old deployment(s) draining", p_created)
    elif svc.running != svc.desired:
        progressing = Condition("Progressing", True, "Scaling", f"{svc.running} -> {svc.desired} tasks", p_updated)
    else:
        progressing = Condition("Progressing", False, "Stable", "no deployment in progress", p_updated)

    failed = sum(d.failed_tasks for d in active)
    rolled_back = any("rolling back" in e.message or "rolled back" in e.message for e in svc.events[:5])
    if crash_loop is not None:
        degraded = Condition("Degraded", True, "CrashLoop", crash_loop, p_updated)
    elif primary is not None and primary.rollout_state == "FAILED":
        degraded = Condition("Degraded", True, "RolloutFailed", primary.rollout_reason or "deployment failed", p_updated)
    elif rolled_back and (primary is None or primary.rollout_state != "COMPLETED" or failed):
        degraded = Condition("Degraded", True, "RolledBack", svc.events[0].message, svc.events[0].created_at)
    elif failed:
        degraded = Condition("Degraded", True, "TasksFailing",
                             f"{failed} task(s) failed to start or exited in the current deployment", p_updated)
    else:
        degraded = Condition("Degraded", False, "Healthy", "no failed tasks in the current deployment", p_created)
    return [ready, progressing, degraded, serving_c]


class ConditionTracker:
    """Keeps condition transition times stable across observations (they move only on a flip).

    Per service, the last conditions by type: a look-up per service does not scan the fleet,
    and a condition observed again unchanged keeps its object (a steady fleet allocates none)."""

    def __init__(self) -> None:
        self._last: dict[str, dict[str, Condition]] = {}

    def update(self, service: str, observed: list[Condition], *, now: datetime | None = None) -> list[Condition]:
        now = now or datetime.now(timezone.utc)
        last = self._last.setdefault(service, {})
        out = []
        for c in observed:
            prev = last.get(c.type)
            if prev is None:
                c = replace(c, last_transition_time=c.last_transition_time or now)
            elif prev.status == c.status:
                c = prev if (prev.reason, prev.message) == (c.reason, c.message) else replace(
                    c, last_transition_time=prev.last_transition_time)
            else:
                c = replace(c, last_transition_time=now)
            last[c.type] = c
            out.append(c)
        return out

    def last(self, service: str) -> dict[str, Condition]:
        """The service's conditions as last observed, by type (a copy)."""
        return dict(self._last.get(service, {}))

    def snapshot(self, service: str) -> dict[str, bool | None]:
        return {t: c.status for t, c in self._last.get(service, {}).items()}

    def forget(self, keep: set[str]) -> None:
        """Drop the conditions of services no longer declared."""
        for name in [n for n in self._last if n not in keep]:
            del self._last[name]
