"""Findings: classified tasks grouped by what is wrong, with a fleet-level view of NATS causes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from fleetctl.controller.diagnose.classify import Classification, TaskEvidence
from fleetctl.controller.diagnose.rules import NATS_CATEGORIES, Severity

FLEET = "*"


@dataclass
class Finding:
    service: str
    category: str
    rule: str
    severity: Severity
    summary: str
    hint: str
    evidence: list[str]
    tasks: list[str] = field(default_factory=list)        # task ARNs, newest first
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    services: list[str] = field(default_factory=list)     # for a fleet-level finding
    checks: list[Any] = field(default_factory=list)       # network checks (NetCheck) run for it
    explain: list[str] = field(default_factory=list)      # which evidence decided (rule, parsed reason, exception)

    @property
    def scope(self) -> str:
        return "fleet" if self.service == FLEET else "service"

    def add(self, ev: TaskEvidence) -> None:
        self.tasks.append(ev.task_arn)
        if ev.stopped_at is not None:
            self.first_seen = min(self.first_seen or ev.stopped_at, ev.stopped_at)
            self.last_seen = max(self.last_seen or ev.stopped_at, ev.stopped_at)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "taskArn": self.tasks[0] if self.tasks else None,
            "service": self.service,
            "scope": self.scope,
            "category": self.category,
            "rule": self.rule,
            "severity": self.severity.value,
            "summary": self.summary,
            "hint": self.hint,
            "evidence": self.evidence,
            "tasksAffected": len(self.tasks),
            "tasks": self.tasks,
            "firstSeen": self.first_seen.isoformat() if self.first_seen else None,
            "lastSeen": self.last_seen.isoformat() if self.last_seen else None,
        }
        if self.services:
            out["services"] = self.services
        if self.checks:
            out["checks"] = [c.as_dict() for c in self.checks]
        if self.explain:
            out["explain"] = self.explain
        return out


def group(classified: Iterable[tuple[TaskEvidence, Classification]]) -> list[Finding]:
    """One finding per (service, rule, hint); the newest task's evidence represents the group.

    When two or more services fail with the same NATS-side cause, a fleet-level finding naming
    them comes first. Informational findings (planned stops) come last.
    """
    pairs = sorted(classified, key=lambda p: p[0].stopped_at.timestamp() if p[0].stopped_at else 0.0, reverse=True)
    by_key: dict[tuple[str, str, str], Finding] = {}
    for ev, c in pairs:
        service = ev.service or "?"
        key = (service, c.rule.id, c.hint)
        if key not in by_key:
            by_key[key] = Finding(service, c.category, c.rule.id, c.severity, c.summary, c.hint, list(c.evidence),
                                  explain=list(c.explain))
        by_key[key].add(ev)
    findings = list(by_key.values())

    fleet: list[Finding] = []
    nats: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.category in NATS_CATEGORIES:
            nats.setdefault((f.rule, f.hint.replace(f.service, "{service}")), []).append(f)
    for (_rule, _hint), members in nats.items():
        services = sorted({m.service for m in members})
        if len(services) < 2:
            continue
        first = members[0]
        shared = Finding(FLEET, first.category, first.rule, first.severity,
                         f"{len(services)} services: {first.summary}", first.hint.replace(first.service, "each service"),
                         list(first.evidence), services=services, explain=list(first.explain))
        for m in members:
            for arn in m.tasks:
                shared.tasks.append(arn)
            for seen in (m.first_seen, m.last_seen):
                if seen is not None:
                    shared.first_seen = min(shared.first_seen or seen, seen)
                    shared.last_seen = max(shared.last_seen or seen, seen)
        fleet.append(shared)

    order = {Severity.error: 0, Severity.warning: 1, Severity.info: 2}
    findings.sort(key=lambda f: (order[f.severity], f.service, -len(f.tasks)))
    return fleet + findings


def has_problems(findings: list[Finding]) -> bool:
    return any(f.severity is not Severity.info for f in findings)
