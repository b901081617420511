"""Classify one stopped task from what ECS said and what its log printed. Pure: no I/O."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from fleetctl.controller.diagnose.ecsreason import Reason, parse_reason
from fleetctl.controller.diagnose.rules import RULES, Rule, Severity, Stage, placement_fix
from fleetctl.controller.diagnose.tracebacks import Exc, Record, parse_log
from fleetctl.controller.state import TaskState

MAX_EVIDENCE_CHARS = 400
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_NEUTRAL = {
    "service": "the service", "memory": "its current value", "stop_timeout": "its current value", "exit_code": "?", "url": "the NATS URL",
    "secret": "the referenced secret", "parameter": "the referenced parameter", "action": "the denied action",
    "image": "the image", "exe": "the command", "module": "the module", "variable": "the variable",
    "log_group": "the log group", "gencode": "the gencode version", "runtime": "older",
    "nats_credentials_format": "creds or password-per-service",
    "subject": "the subject", "bad_url": "an empty host or port", "field": "the failing field",
    "model": "the settings class", "field_error": "", "shadow": "the local file with the library's name",
    "python_needed": "3.11", "grpc_needed": "the version the stubs name", "grpc_installed": "the installed version",
    "name": "the imported name", "exc_type": "exception", "exc_module": "the application",
    "exc_message": "see the log", "path": "the path", "action": "the denied action", "cmd": "the command",
    "placement_fix": "add capacity or lower cpu/memory of the service",
    "package": "the package providing the module", "imported": "the module", "file": "the file",
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
    explain: tuple[str, ...] = ()   # which evidence decided, for `diagnose --explain`

    @property
    def category(self) -> str:
        return self.rule.category

    @property
    def severity(self) -> Severity:
        return self.rule.severity


def _reasons(ev: TaskEvidence) -> list[tuple[str, Reason]]:
    out = []
    for label, text in (("container reason", ev.container_reason), ("stopped reason", ev.stopped_reason)):
        parsed = parse_reason(text)
        if parsed is not None:
            out.append((label, parsed))
    return out


def _match_platform(rule: Rule, ev: TaskEvidence, reasons: list[tuple[str, Reason]]
                    ) -> tuple[list[str], dict[str, str], list[str]] | None:
    if rule.log is not None or rule.structured:
        return None
    codes, phases = rule.stop_codes, rule.phases  # type: ignore[attr-defined]
    if codes is not None and ev.stop_code not in codes:
        return None
    if rule.exit_codes is not None and ev.exit_code not in rule.exit_codes:
        return None
    if phases is not None and not any(parsed.phase in phases for _, parsed in reasons):
        return None
    values: dict[str, str] = {}
    evidence: list[str] = []
    why: list[str] = []
    stop_code = rule.rx_stop_code
    if stop_code is not None:
        if not stop_code.fullmatch(ev.stop_code or ""):
            return None
        why.append(f"stop code {ev.stop_code}")
    if rule.exit_codes is not None:
        if ev.exit_code not in rule.exit_codes:
            return None
        why.append(f"exit code {ev.exit_code}")
    phase, reason_rx = rule.rx_phase, rule.rx_reason
    if phase is not None or reason_rx is not None:
        for label, parsed in reasons:
            if phase is not None and not phase.fullmatch(parsed.phase):
                continue
            if reason_rx is not None:
                m = reason_rx.search(parsed.raw) or reason_rx.search(parsed.text)
                if m is None:
                    continue
                values.update({k: v for k, v in m.groupdict().items() if v})
                why.append(f"{label} matched {m.group(0)[:80]!r}")
            evidence.append(parsed.raw)
            why.insert(0, f"{label} parsed: {parsed.describe()}")
            if rule.id == "placement":
                values["placement_fix"] = placement_fix(parsed.raw)
            break
        else:
            return None
    return evidence, values, why


def _match_record(rule: Rule, rec: Record) -> re.Match[str] | bool | None:
    """A match (or True) when the rule explains this log record."""
    exc = rec.exc
    if rule.structured:
        if exc is None:
            return None
        found: re.Match[str] | bool = True
        t = rule.rx_exc
        if t is not None and not (t.fullmatch(exc.name) or t.fullmatch(exc.type)):
            return None
        o = rule.rx_origin
        if o is not None and not (o.match(exc.module) or o.match(exc.origin)
                                  or any(o.match(f.module) for f in exc.frames)):
            return None
        c = rule.rx_code
        if c is not None and not any(c.search(f.source) for f in exc.frames if f.source):
            return None
        mrx = rule.rx_msg
        if mrx is not None:
            m = mrx.search(exc.message)
            if m is None:
                return None
            found = m
        if rule.when is not None and not _WHEN[rule.when](exc, found):
            return None
        lrx = rule.rx_log
        if lrx is not None:
            m = lrx.search(rec.text)
            if m is None:
                return None
            found = m
        return found
    lrx = rule.rx_log
    if lrx is None:
        return None
    pre = rule.prefilter  # type: ignore[attr-defined]
    if pre is not None:
        words, ignore_case = pre
        text = rec.text.lower() if ignore_case else rec.text
        if not any(w in text for w in words):
            return None
    m = lrx.search(rec.text)
    if m is not None and rule.when is not None and rec.exc is not None and not _WHEN[rule.when](rec.exc, m):
        return None
    return m


def _importing_itself(exc: Exc, m: "re.Match[str] | bool") -> bool:
    """`module 'a' has no attribute 'b'` raised while a/b.py is still running its import."""
    if not isinstance(m, re.Match):
        return False
    target = f"{m.group('module')}.{m.group('attr')}"
    return any(f.func == "<module>" and f.module.endswith(target) for f in exc.frames)


def _not_a_dict_lookup(exc: Exc, m: "re.Match[str] | bool") -> bool:
    """A KeyError from os.environ, or one printed without frames; not `payload["ORDER_ID"]` in app code."""
    if exc.name != "KeyError" or not exc.frames:
        return True
    return exc.frames[-1].module == "os" or any(_ENV_IN_CODE.search(f.source or "") or "environ" in (f.source or "")
                                               for f in exc.frames)


def _not_a_request(exc: Exc, m: "re.Match[str] | bool") -> bool:
    """A timeout while connecting, not a request/flush that nobody answered in time."""
    return not any(f.func in ("request", "_request_new_style", "_request_old_style", "flush", "timed_request")
                   for f in exc.frames)


_WHEN = {"importing-itself": _importing_itself, "not-a-dict-lookup": _not_a_dict_lookup,
         "not-a-request": _not_a_request}

# import name -> the distribution to install, where they differ
_PACKAGES = {
    "google.protobuf": "protobuf", "yaml": "PyYAML", "cv2": "opencv-python-headless", "PIL": "Pillow",
    "sklearn": "scikit-learn", "dateutil": "python-dateutil", "jwt": "PyJWT", "nats": "nats-py",
    "dotenv": "python-dotenv", "grpc": "grpcio", "grpc_tools": "grpcio-tools", "attr": "attrs",
    "bs4": "beautifulsoup4", "Crypto": "pycryptodome", "magic": "python-magic", "psycopg2": "psycopg2-binary",
    "MySQLdb": "mysqlclient", "zmq": "pyzmq", "serial": "pyserial", "OpenSSL": "pyOpenSSL", "jose": "python-jose",
    "multipart": "python-multipart", "pydantic_settings": "pydantic-settings", "google.cloud": "google-cloud-*",
    "redis_om": "redis-om", "pythonjsonlogger": "python-json-logger", "nkeys": "nkeys (nats-py[nkeys])",
    "google.api_core": "google-api-core", "snappy": "python-snappy", "Levenshtein": "python-Levenshtein",
    "slugify": "python-slugify", "ldap": "python-ldap", "docx": "python-docx", "telegram": "python-telegram-bot", "aiobotocore": "aiobotocore", "boto3": "boto3", "redis": "redis",
}


def _package_for(imported: str) -> str:
    for name in sorted(_PACKAGES, key=len, reverse=True):
        if imported == name or imported.startswith(name + "."):
            return _PACKAGES[name]
    return "the package providing " + imported.split(".", 1)[0]

_ENV_IN_CODE = re.compile(r"""(?:environ(?:\.get)?\s*[\[(]\s*|getenv\s*\(\s*)['"](?P<v>[A-Za-z_][A-Za-z0-9_]*)['"]""")


def _exc_values(exc: Exc, chain: list[Exc] | None = None) -> dict[str, str]:
    first = exc.message.split("\n", 1)[0].strip()
    out = {"exc_type": exc.name, "exc_module": exc.module or "the application",
           "exc_message": (first[:117] + "…") if len(first) > 120 else (first or "no message")}
    frames = [f for e in [exc, *[c for c in (chain or []) if c is not exc]] for f in reversed(e.frames)]
    for frame in frames:
        m = _ENV_IN_CODE.search(frame.source or "")
        if m:
            out["variable"] = m.group("v")
            break
    m = re.match(r"^'([A-Z][A-Z0-9_]{2,})'$", first)
    if exc.name == "KeyError" and m:
        out["variable"] = m.group(1)
    m = re.search(r"No module named '([\w.]+)'", first)
    if m:
        out["module"] = imported = m.group(1)
        for frame in reversed(exc.frames):
            stmt = re.match(r"(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", frame.source or "")
            if stmt and (stmt.group(1) or stmt.group(2) or "").split(".")[0] == imported.split(".")[0]:
                imported = stmt.group(1) or stmt.group(2)
                break
        out["imported"] = imported
        out["package"] = _package_for(imported)
    if exc.name == "ValidationError":
        lines = exc.message.split("\n")
        fields = [ln.strip() for ln in lines[1:] if ln.strip() and not ln.startswith((" ", "\t"))
                  and re.fullmatch(r"[\w.\[\]-]+", ln.strip())]
        if fields:
            out["field"] = fields[0]
            out.setdefault("variable", fields[0].split(".", 1)[0].upper())
            error = next((ln.strip() for ln in lines[lines.index(next(x for x in lines if x.strip() == fields[0])) + 1:]
                          if ln.strip()), "")
            error = re.sub(r"\s*\[type=.*|\s*\(type=.*", "", error)
            if error:
                out["field_error"] = f": {error}"
    m = re.search(r'error parsing value for field "(\w+)"', first)
    if m:
        out["field"] = m.group(1)
        out["variable"] = m.group(1).upper()
    return out


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


def _line_values(line: str) -> dict[str, str]:
    out: dict[str, str] = {}
    url = re.search(r'"url":"([^"]+)"|\b((?:nats|tls|wss?)://[^\s"\',)]+)', line)
    if url:
        out["url"] = url.group(1) or url.group(2)
    variable = re.search(r'"variable":"([A-Z0-9_]+)"', line)
    if variable:
        out["variable"] = variable.group(1)
    return out


def _values(ev: TaskEvidence, found: Mapping[str, str]) -> dict[str, str]:
    out = {k: str(v) for k, v in ev.context.items() if v is not None}
    if ev.service:
        out["service"] = ev.service
    if ev.exit_code is not None:
        out["exit_code"] = str(ev.exit_code)
    for key, value in found.items():
        out[key.rstrip("_")] = value  # `image_` is an alternative group for `image`
    return out


def _result(rule: Rule, ev: TaskEvidence, evidence: list[str], values: dict[str, str],
            why: list[str]) -> Classification:
    lines = [_clip(e) for e in evidence if e]
    ecs = _ecs_line(ev, [e for e in evidence if e])
    if ecs and (ecs != ev.stop_code or not lines):
        lines.append(_clip(ecs))
    summary = _fill(rule.summary, values)
    if rule.stage is Stage.FALLBACK and ev.log is None and rule.category == "health_check_failed":
        summary = ("the container failed its health checks; no log was read, and an application that hangs "
                   "(for example in a TLS handshake to NATS) looks the same")
    explain = (f"rule {rule.id} ({rule.stage.name.lower()} stage) -> {rule.category}", *why)
    return Classification(rule, summary, _fill(rule.hint, values), tuple(dict.fromkeys(lines))[:3], values, explain)


def _chain_text(records: list[Record], rec: Record) -> str:
    exc = rec.exc
    if exc is None:
        return ""
    chain = [r.exc for r in records if r.exc is not None and r.exc.chain == exc.chain]
    if len(chain) < 2:
        return ""
    return " <- ".join(f"{e.name}" for e in reversed(chain))


@dataclass(frozen=True)
class _Decision:
    rule: Rule
    evidence: tuple[str, ...]
    found: Mapping[str, str]          # values from the matched text (before the task's own context)
    why: tuple[str, ...]
    records: int


def _decide(rules: tuple[Rule, ...], stop_code: str | None, stopped_reason: str | None,
            container_reason: str | None, exit_code: int | None, log: tuple[str, ...] | None) -> _Decision:
    ev = TaskEvidence("", None, stop_code, stopped_reason, None, exit_code, container_reason, log)
    reasons = _reasons(ev)
    for rule in rules:
        if rule.stage is Stage.PLATFORM:
            matched = _match_platform(rule, ev, reasons)
            if matched is not None:
                evidence, found, why = matched
                return _Decision(rule, tuple(evidence), found, ("ECS's verdict decides", *why), 0)

    records = parse_log(log) if log else []
    best: tuple[int, int, int, Rule, Record, Any] | None = None  # (weight, record, order, rule, record, match)
    if records:
        # by weight, then table order: the first weight that matches anything decides; within it the
        # earliest record, then the earlier rule
        best_index = len(records)
        best_weight = None
        for weight, order, rule in _log_rules(rules):
            if best_weight is not None and weight > best_weight:
                break
            for rec in records:
                if rec.index >= best_index:
                    break
                hit = _match_record(rule, rec)
                if hit:
                    best_index, best_weight = rec.index, weight
                    best = (weight, rec.index, order, rule, rec, hit)
                    break
    if best is not None:
        weight, _, _, rule, rec, hit = best
        found = {k: v for k, v in hit.groupdict().items() if v} if isinstance(hit, re.Match) else {}
        values: dict[str, str] = {}
        if rec.exc is not None:
            values = _exc_values(rec.exc, [r.exc for r in records if r.exc is not None and r.exc.chain == rec.exc.chain])
        values.update(_line_values(rec.text))
        values.update({k.rstrip("_"): v for k, v in found.items()})
        if "module" in values and "package" not in values:
            values["imported"] = values["module"]
            values["package"] = _package_for(values["module"])
        why = [f"log record {rec.index + 1} of {len(records)} ({'exception' if rec.exc else 'line'}): {_clip(rec.text)[:160]}"]
        if rec.exc is not None:
            e = rec.exc
            chain = _chain_text(records, rec)
            why.append(f"exception {e.type} raised in {e.module or '?'} (package {e.origin or '?'})"
                       + (f", position {e.depth + 1} in the chain {chain}" if chain else "")
                       + (", member of an exception group" if e.group_member else ""))
        why.append(f"weight {weight}: " + ("names a cause" if weight == 0 else "a symptom" if weight == 1 else "generic")
                   + "; among equal weights the earliest record wins")
        text = rec.text if rec.exc is None else rec.exc.text
        return _Decision(rule, (text,), values, tuple(why), len(records))

    for rule in rules:
        if rule.stage is Stage.FALLBACK:
            matched = _match_platform(rule, ev, reasons)
            if matched is not None:
                evidence, found, why = matched
                why.append("no log" if log is None else f"the log ({len(records)} records) names no cause")
                return _Decision(rule, tuple(evidence), found, tuple(why), len(records))
    raise AssertionError("the last rule matches every task")


_LOG_RULES: dict[int, list[tuple[int, int, Rule]]] = {}


def _log_rules(rules: tuple[Rule, ...]) -> list[tuple[int, int, Rule]]:
    found = _LOG_RULES.get(id(rules))
    if found is None:
        found = sorted((r.weight, i, r) for i, r in enumerate(rules) if r.stage is Stage.LOG)  # type: ignore[misc]
        if rules is RULES:
            _LOG_RULES[id(rules)] = found
    return found


_CACHE: dict[tuple[Any, ...], _Decision] = {}
_CACHE_MAX = 4096


def classify(ev: TaskEvidence, rules: tuple[Rule, ...] = RULES) -> Classification:
    """The one rule that explains a stopped task (the last rule always matches).

    The decision depends only on what ECS said and the log, so tasks that failed the same way
    (a crash loop, one failure across a service's tasks) are decided once."""
    key = (ev.stop_code, ev.stopped_reason, ev.container_reason, ev.exit_code, ev.log)
    decision = _CACHE.get(key) if rules is RULES else None
    if decision is None:
        decision = _decide(rules, *key)
        if rules is RULES:
            if len(_CACHE) >= _CACHE_MAX:
                _CACHE.clear()
            _CACHE[key] = decision
    values = _values(ev, decision.found)
    return _result(decision.rule, ev, list(decision.evidence), values, list(decision.why))


def classify_task(task: TaskState, log: Iterable[str] | None = None,
                  context: Mapping[str, str] | None = None) -> Classification:
    """Classify one stopped task (a TaskState) with its log lines, if any, into a finding:
    `.category`, `.summary`, `.hint` (the fix), `.evidence` and `.explain`."""
    return classify(TaskEvidence.from_task(task, log, context))
