"""Classify one stopped task from what ECS said and what its log printed. Pure: no I/O."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from controller.diagnose.rules import RULES, Rule, Severity, Stage
from controller.state import TaskState

MAX_EVIDENCE_CHARS = 400
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_NEUTRAL = {
    "service": "the service", "memory": "its current value", "stop_timeout": "its current value", "exit_code": "?", "url": "the NATS URL",
    "secret": "the referenced secret", "parameter": "the referenced parameter", "action": "the denied action",
    "image": "the image", "exe": "the command", "module": "the module", "variable": "the variable",
    "log_group": "the log group", "gencode": "the gencode version", "runtime": "older",
    "nats_credentials_format": "creds or password-per-service",
}


@dataclass(frozen=True)
class TaskEvidence:
    """Everything known about one stopped task; `log` is None when no log was read."""

    task_arn: str
    service: str | None
    stop_code: str | None
    stopped_reason: str | None
    container: str | None
    exit_code: int | None
    container_reason: str | None
    log: tuple[str, ...] | None = None
    stopped_at: datetime | None = None
    task_definition: str = ""
    context: Mapping[str, str] = field(default_factory=dict)  # memory, stop_timeout, log_group, ...

    @property
    def task_id(self) -> str:
        return self.task_arn.rsplit("/", 1)[-1]

    @classmethod
    def from_task(cls, task: TaskState, log: Iterable[str] | None = None,
                  context: Mapping[str, str] | None = None) -> "TaskEvidence":
        container = culprit(task)
        return cls(
            task_arn=task.arn,
            service=task.service or _family(task.task_definition),
            stop_code=task.stop_code,
            stopped_reason=task.stopped_reason,
            container=container.name if container else None,
            exit_code=container.exit_code if container else None,
            container_reason=container.reason if container else None,
            log=tuple(log) if log is not None else None,
            stopped_at=task.stopped_at,
            task_definition=task.task_definition,
            context=dict(context or {}),
        )

    def with_log(self, log: Iterable[str] | None, **context: str) -> "TaskEvidence":
        from dataclasses import replace

        return replace(self, log=tuple(log) if log is not None else None, context={**self.context, **context})


def culprit(task: TaskState) -> Any:
    """The container that explains the stop: one with a reason, else a non-zero exit, else the first."""
    for test in (lambda c: c.reason, lambda c: c.exit_code not in (None, 0)):
        for c in task.containers:
            if test(c):
                return c
    return task.containers[0] if task.containers else None


def _family(task_definition: str) -> str | None:
    if not task_definition:
        return None
    return task_definition.rsplit("/", 1)[-1].split(":", 1)[0]


@dataclass(frozen=True)
class Classification:
    rule: Rule
    summary: str
    hint: str
    evidence: tuple[str, ...]
    values: Mapping[str, str]

    @property
    def category(self) -> str:
        return self.rule.category

    @property
    def severity(self) -> Severity:
        return self.rule.severity


def _match_platform(rule: Rule, ev: TaskEvidence) -> tuple[list[str], dict[str, str]] | None:
    if rule.log is not None:
        return None
    values: dict[str, str] = {}
    evidence: list[str] = []
    if rule.stop_code is not None and not re.fullmatch(rule.stop_code, ev.stop_code or ""):
        return None
    if rule.exit_codes is not None and ev.exit_code not in rule.exit_codes:
        return None
    if rule.reason is not None:
        texts = [t for t in (ev.stopped_reason, ev.container_reason) if t]
        for text in texts:
            m = re.search(rule.reason, text)
            if m:
                values.update({k: v for k, v in m.groupdict().items() if v})
                evidence.append(text)
                break
        else:
            return None
    return evidence, values


def _log_matches(rule: Rule, lines: tuple[str, ...]) -> tuple[int, re.Match[str]] | None:
    assert rule.log is not None
    pattern = re.compile(rule.log)
    for index, line in enumerate(lines):
        if line[:1].isspace():  # a traceback's frames and source lines: code, not errors
            continue
        m = pattern.search(line)
        if m:
            return index, m
    return None


def _ecs_line(ev: TaskEvidence, shown: list[str]) -> str:
    """What ECS said, without repeating a reason already shown as evidence."""
    def new(text: str | None) -> bool:
        return bool(text) and not any(text[:80] in line or line[:80] in text for line in shown)

    head = ": ".join(p for p in (ev.stop_code, ev.stopped_reason if new(ev.stopped_reason) else None) if p)
    extra = []
    if ev.exit_code is not None:
        extra.append(f"exit code {ev.exit_code}")
    if new(ev.container_reason) and ev.container_reason != ev.stopped_reason:
        extra.append(f"{ev.container}: {ev.container_reason}")
    return head + (f" ({'; '.join(extra)})" if extra else "")


def _clip(line: str) -> str:
    line = line.strip()
    return line if len(line) <= MAX_EVIDENCE_CHARS else line[:MAX_EVIDENCE_CHARS - 1] + "…"


def _fill(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1)) or _NEUTRAL.get(m.group(1), m.group(1)), template)


def _values(ev: TaskEvidence, found: Mapping[str, str], line: str | None = None) -> dict[str, str]:
    out = {k: str(v) for k, v in ev.context.items() if v is not None}
    if ev.service:
        out["service"] = ev.service
    if ev.exit_code is not None:
        out["exit_code"] = str(ev.exit_code)
    if line:
        url = re.search(r'"url":"([^"]+)"|\b((?:nats|tls|wss?)://[^\s"\',)]+)', line)
        if url:
            out["url"] = url.group(1) or url.group(2)
        variable = re.search(r'"variable":"([A-Z0-9_]+)"', line)
        if variable:
            out["variable"] = variable.group(1)
    for key, value in found.items():
        out[key.rstrip("_")] = value  # `image_` is an alternative group for `image`
    return out


def _result(rule: Rule, ev: TaskEvidence, evidence: list[str], values: dict[str, str]) -> Classification:
    lines = [_clip(e) for e in evidence if e]
    ecs = _ecs_line(ev, [e for e in evidence if e])
    if ecs and (ecs != ev.stop_code or not lines):
        lines.append(_clip(ecs))
    summary = _fill(rule.summary, values)
    if rule.stage is Stage.FALLBACK and ev.log is None and rule.category == "health_check_failed":
        summary = ("the container failed its health checks; no log was read, and an application that hangs "
                   "(for example in a TLS handshake to NATS) looks the same")
    return Classification(rule, summary, _fill(rule.hint, values), tuple(dict.fromkeys(lines))[:3], values)


def classify(ev: TaskEvidence, rules: tuple[Rule, ...] = RULES) -> Classification:
    """The one rule that explains a stopped task (the last rule always matches)."""
    for rule in rules:
        if rule.stage is Stage.PLATFORM:
            matched = _match_platform(rule, ev)
            if matched is not None:
                evidence, found = matched
                return _result(rule, ev, evidence, _values(ev, found))

    lines = ev.log or ()
    best: tuple[int, int, int, Rule, re.Match[str]] | None = None  # (generic, line, order, rule, match)
    for order, rule in enumerate(rules):
        if rule.stage is not Stage.LOG or not lines:
            continue
        hit = _log_matches(rule, lines)
        if hit is None:
            continue
        key = (int(rule.generic), hit[0], order, rule, hit[1])
        if best is None or key[:3] < best[:3]:
            best = key
    if best is not None:
        _, index, _, rule, m = best
        line = lines[index]
        found = {k: v for k, v in m.groupdict().items() if v}
        return _result(rule, ev, [line], _values(ev, found, line))

    for rule in rules:
        if rule.stage is Stage.FALLBACK:
            matched = _match_platform(rule, ev)
            if matched is not None:
                evidence, found = matched
                return _result(rule, ev, evidence, _values(ev, found))
    raise AssertionError("the last rule matches every task")
