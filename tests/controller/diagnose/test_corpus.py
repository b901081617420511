"""The whole diagnose corpus (tests/fixtures/diagnose/corpus): accuracy thresholds, coverage,
sources, and rules that do not lean on names from the corpus."""
from __future__ import annotations

import re

import pytest

from fleetctl.controller.diagnose import CATEGORIES, RULES
from fleetctl.controller.diagnose.evaluate import evaluate, load_corpus
from tests.conftest import FIXTURES

CORPUS = FIXTURES / "diagnose" / "corpus"


@pytest.fixture(scope="module")
def cases():
    return load_corpus(CORPUS)


@pytest.fixture(scope="module")
def report(cases):
    return evaluate(cases)


def _misses(tally) -> str:
    return "\n".join(f"{c.id}: expected {c.category} {list(c.fix)}, got {r.category}/{r.rule.id}: {r.hint}"
                     for c, r in tally.misses[:15])


def test_corpus_is_big_and_sourced(cases) -> None:
    assert len(cases) >= 200
    assert all(c.source.strip() for c in cases)
    assert {c.category for c in cases} == set(CATEGORIES)
    assert all(c.fix for c in cases), [c.id for c in cases if not c.fix]


def test_category_accuracy_and_fix_words(report) -> None:
    o = report.overall
    assert o.category_rate >= 0.97, _misses(o)
    assert o.fix_rate >= 0.90, _misses(o)


def test_held_out_slice_is_reported(report) -> None:
    # the held-out slice is measured, not tuned on; it must exist and be of a useful size
    assert report.by_split["holdout"].n >= 50


_NAMES = re.compile(r"[a-z0-9][a-z0-9-]{2,}")


def test_no_rule_depends_on_names_from_the_corpus(cases) -> None:
    """Service names, account ids and image/repository names of the corpus appear in no rule."""
    accounts = set()
    names = set()
    for c in cases:
        text = " ".join(filter(None, [c.reason, c.container_reason]))
        accounts.update(re.findall(r"\b\d{12}\b", text))
        for ref in re.findall(r"(?:dkr\.ecr\.[\w-]+\.amazonaws\.com|docker\.io)/([\w./-]+)", text):
            names.update(p for p in re.split(r"[/:@]", ref) if len(p) > 3)
        names.update(re.findall(r"service \[?([\w-]{6,})\]?", text))
        names.update(re.findall(r"target-group/([\w-]+)/", text))
    names -= {"library", "latest", "manifests", "blobs", "python"}  # "python": the base image is also the language
    assert accounts and names
    for rule in RULES:
        data = " ".join(filter(None, [rule.stop_code, rule.reason, rule.log, rule.phase, rule.exc, rule.origin,
                                      rule.msg, rule.code, rule.summary, rule.hint]))
        for account in accounts:
            assert account not in data, (rule.id, account)
        for name in names:
            assert not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", data), (rule.id, name)


def test_accuracy_bench_reports_every_category_and_speed() -> None:
    """bench/diagnose_accuracy.py end to end (small task count; the timing itself is the bench's job)."""
    import json
    import subprocess
    import sys

    from tests.conftest import REPO

    proc = subprocess.run([sys.executable, str(REPO / "bench" / "diagnose_accuracy.py"), "--tasks", "300", "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert set(out["categories"]) == set(CATEGORIES)
    assert {"dev", "holdout", "fresh"} <= set(out["splits"])
    assert out["category"] >= 0.97 and out["fix"] >= 0.90
    assert out["speed"]["tasks"] == 300 and out["speed"]["wall_s"] > 0
