"""Measure the classifier on a corpus of real cases (tests/fixtures/diagnose/corpus).

A case is what ECS said about one stopped task (stop code, reasons, exit code) and, when there
is one, the container's log as CloudWatch events; it names the expected `category` and `fix`
words the hint must contain. Used by bench/diagnose_accuracy.py and by the corpus test.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from fleetctl.controller.diagnose.classify import Classification, TaskEvidence, classify

HOLDOUT_EVERY = 4   # one case in four (by a hash of its id) is held out


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    category: str
    fix: tuple[str, ...]
    stop_code: str | None
    reason: str | None
    container_reason: str | None
    exit_code: int | None
    log: tuple[str, ...] | None
    variant: str = ""

    @property
    def split(self) -> str:
        if self.id.startswith(("fresh-", "fresh2-")):
            return self.id.split("-", 1)[0]   # scenarios written after the rules (see the corpus README)
        return "holdout" if zlib.crc32(self.id.encode()) % HOLDOUT_EVERY == 0 else "dev"

    def evidence(self, task_id: str | None = None) -> TaskEvidence:
        return TaskEvidence(
            task_arn=f"arn:aws:ecs:us-east-1:000000000000:task/corpus/{task_id or self.id}",
            service="the-service", stop_code=self.stop_code, stopped_reason=self.reason,
            container="app", exit_code=self.exit_code, container_reason=self.container_reason, log=self.log,
        )


def _case(raw: dict[str, Any]) -> Case:
    reason = raw.get("reason")
    if reason and raw.get("truncate"):
        reason = reason[: int(raw["truncate"])]
    log = raw.get("log")
    return Case(
        id=str(raw["id"]), source=str(raw["source"]), category=str(raw["category"]),
        fix=tuple(str(f) for f in raw.get("fix") or ()), stop_code=raw.get("stop_code"), reason=reason,
        container_reason=raw.get("container_reason"), exit_code=raw.get("exit"),
        log=tuple(log) if log is not None else None, variant=str(raw.get("variant", "")),
    )


def load_corpus(directory: Path) -> list[Case]:
    import yaml

    cases: list[Case] = []
    for path in sorted(directory.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text()) or []:
            cases.append(_case(raw))
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                cases.append(_case(json.loads(line)))
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases


def fix_hit(case: Case, result: Classification) -> bool:
    hint = result.hint.lower()
    return all(word.lower() in hint for word in case.fix)


@dataclass
class Tally:
    n: int = 0
    category: int = 0
    fix: int = 0
    misses: list[tuple[Case, Classification]] = field(default_factory=list)

    def add(self, case: Case, result: Classification) -> None:
        self.n += 1
        ok = result.category == case.category
        self.category += ok
        hit = fix_hit(case, result)
        self.fix += hit
        if not ok or not hit:
            self.misses.append((case, result))

    @property
    def category_rate(self) -> float:
        return self.category / self.n if self.n else 1.0

    @property
    def fix_rate(self) -> float:
        return self.fix / self.n if self.n else 1.0


@dataclass
class Report:
    overall: Tally
    by_split: dict[str, Tally]
    by_category: dict[str, Tally]


def evaluate(cases: Iterable[Case]) -> Report:
    report = Report(Tally(), {}, {})
    for case in cases:
        result = classify(case.evidence())
        report.overall.add(case, result)
        report.by_split.setdefault(case.split, Tally()).add(case, result)
        report.by_category.setdefault(case.category, Tally()).add(case, result)
    return report
