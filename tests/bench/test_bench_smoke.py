"""Smoke test of bench/run.py: every benchmark at a tiny size, one repetition.

Not a timed test: it checks that each benchmark runs end to end on the sandbox and reports
the numbers the README table is made of. Competitors are switched off explicitly
(`--competitors no`), and the output must say they were skipped.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


RUN_TIMEOUT = 480   # a hang guard: the run takes 2–4 min on an idle machine, several times that under load
# the first test also pays for the run; the margin is room to report a run that timed out
# (pytest-timeout firing while pytest formats that failure ends the whole session)
pytestmark = pytest.mark.timeout(RUN_TIMEOUT + 120)


def number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench-results")
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--competitors", "no",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "quick.json").read_text()), (out / "quick.md").read_text()


def test_noop_reconcile_counts_calls_on_the_server_side(quick_run: tuple[dict, str]) -> None:
    results, _ = quick_run
    rows = results["noop_reconcile"]
    assert [r["services"] for r in rows] == [3, 20]
    for row in rows:
        fc = row["tools"]["fleetctl"]
        assert number(fc["seconds"]["median"]) and fc["seconds"]["median"] > 0
        # the proxy saw exactly the calls botocore made: nothing lost, nothing invented
        assert fc["calls"] == fc["client_side_calls"] > 0
        assert fc["calls_by_operation"].get("ecs.DescribeServices", 0) >= 1
        assert row["target_calls"] == -(-row["services"] // 10) + 2
        assert isinstance(row["target_met"], bool)
        assert set(row["tools"]) == {"fleetctl"} and row["competitors"] == "skipped"


def test_image_bump_rolls_out_and_reports_time_and_calls(quick_run: tuple[dict, str]) -> None:
    bump = quick_run[0]["image_bump"]
    assert bump["services"] == 3
    for tool in ("fleetctl", "fleetctl-one"):
        t = bump["tools"][tool]
        assert number(t["seconds"]["median"]) and t["seconds"]["median"] > 0
        assert t["calls_by_operation"]["ecs.RegisterTaskDefinition"] == (3 if tool == "fleetctl" else 1)
        assert t["calls_by_operation"]["ecs.UpdateService"] == (3 if tool == "fleetctl" else 1)
    assert number(bump["fleet_vs_one_service"])
    assert set(bump["targets"]) == {"fleet_vs_one_service<=1.5", "calls<=70"}
    cheap = quick_run[0]["image_bump_cheap"]   # near-free containers, minReadySeconds 1 with --quick
    assert cheap["services"] == 3 and number(cheap["fleet_vs_one_service"])
    assert cheap["where_time_goes"]["min_ready_seconds"] == 1 and cheap["where_time_goes"]["dependency_depth"] >= 2


def test_startup_cold_start_memory_and_external_benchmarks(quick_run: tuple[dict, str]) -> None:
    results, _ = quick_run
    for cmd in ("fleetctl --help", "fleetctl validate manifests/prod.yaml"):
        s = results["cli_startup"][cmd]["seconds"]
        assert s["n"] == 3 and 0 < s["min"] <= s["median"] <= s["max"]
    cold = results["sandbox_cold_start"]
    assert cold["services"] == 3 and cold["seconds"]["median"] > 0
    mem = results["controller_memory"]
    assert mem["services"] == 20 and mem["passes"] >= 2 and mem["exit_code"] == 0
    assert 0 < mem["rss_mib"] <= mem["hwm_mib"]
    for name in ("diagnose", "probe"):
        e = results[name]
        assert e["available"] is False and e["note"] == "not available" or "ok" in e


def test_table_has_every_benchmark_and_says_competitors_were_skipped(quick_run: tuple[dict, str]) -> None:
    results, md = quick_run
    assert results["competitors"] == "skipped (--competitors no)"
    assert "| benchmark | fleetctl | ecs-deploy | aws CLI loop |" in md
    for label in ("no-op reconcile, 3 services: AWS calls", "no-op reconcile, 20 services: wall time",
                  "image bump, 3 services: wall time", "whole fleet ÷ one service alone", "diagnose 20 stopped tasks",
                  "probe the whole fleet", "`fleetctl --help`", "sandbox cold start", "`controller run` memory"):
        assert label in md, label
    bump_row = next(line for line in md.splitlines() if line.startswith("| image bump, 3 services: wall time"))
    assert bump_row.split("|")[3].strip() == "skipped"


def test_scale_benchmarks_run_at_a_tiny_size(quick_run: tuple[dict, str]) -> None:
    results, md = quick_run
    sc = results["scale"]
    assert sc["ok"], sc.get("stderr")
    assert [r["services"] for r in sc["validate_render"]] == [20, 120]
    for r in sc["plan"]["sizes"]:   # lists paged like ECS, one DescribeServices per 10 services
        assert r["calls"] == r["target_calls"] == -(-r["services"] // 10) + -(-r["services"] // 100)
    th = sc["plan"]["throttled"]
    assert th["paced"]["throttling_errors"] == 0 and number(th["paced"]["wall_s"])
    mem = sc["controller_memory"][0]
    assert mem["services"] == 20 and len(mem["passes"]) == 4 and mem["exit_code"] == 0
    d = sc["diagnose"]
    assert d["stopped_tasks"] == 250 and d["by_operation"]["ecs.DescribeTasks"] == 3
    for label in ("`fleetctl validate`, 120 services", "no-op `fleetctl plan`, 120 services",
                  "behind a proxy throttling at AWS's rates", "`controller run` memory, 20 services",
                  "250 stopped tasks"):
        assert label in md, label
