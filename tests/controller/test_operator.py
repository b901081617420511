"""The operator embedded in a test (stop/ready events) and as a real process (SIGTERM)."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from fleetctl.controller.operator import Operator
from tests.conftest import REPO
from tests.controller.operator_clock import PollTimes


async def _until(predicate, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(predicate)  # blocking clients must not stall the operator's loop
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError("condition not reached in time")


def _desired(ecs, cluster: str, name: str) -> int:
    return ecs.describe_services(cluster=cluster, services=[name])["services"][0]["desiredCount"]


async def test_operator_creates_heals_drift_and_follows_manifest_edits(make_fleet, sandbox_handle):
    fleet = make_fleet(["settings", "time_manager"])
    ecs = sandbox_handle.client("ecs")
    op = Operator(fleet.manifest, tf_outputs=fleet.outputs, interval=1.5, progress_interval=0.5, health_port=0,
                  backoff_base=1.0)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(op.run(stop, ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        times = PollTimes(op)
        # from nothing: the operator creates both services and they become Ready
        await _until(lambda: all(
            s["runningCount"] == 1 for s in ecs.describe_services(cluster=fleet.cluster, services=["settings", "time_manager"])["services"]
        ) and len(ecs.describe_services(cluster=fleet.cluster, services=["settings", "time_manager"])["services"]) == 2, 40)
        await _until(lambda: not op._in_flight, 30)  # both rollouts passed the gate (health, minReadySeconds, NATS)

        def get(path: str) -> tuple[int, dict]:
            with urllib.request.urlopen(f"{op.health_url}{path}", timeout=5) as r:
                return r.status, json.loads(r.read())

        assert (await asyncio.to_thread(get, "/healthz"))[0] == 200
        assert (await asyncio.to_thread(get, "/readyz"))[1]["ready"] is True

        # drift: someone scales a service by hand; the next pass, at most one interval after the last
        # (timed on the operator's clock, not the test's), restores it
        healed = op.stats.drift_healed
        await asyncio.to_thread(ecs.update_service, cluster=fleet.cluster, service="time_manager", desiredCount=3)
        drifted_at = time.monotonic()
        await _until(lambda: _desired(ecs, fleet.cluster, "time_manager") == 1, 10, 0.1)
        times.assert_drift_seen_by_the_next_pass(drifted_at, healed, 1.5)
        assert op.stats.drift_healed >= 1

        # an invalid edit is reported and ignored; the last good spec stays in force
        good = fleet.manifest.read_text()
        fleet.manifest.write_text(good.replace("desiredCount: 1", "desiredCount: -4", 1))
        await _until(lambda: op.stats.manifest_rejected == 1, 10)
        assert op.loaded.fleet.service("settings").desired_count == 1

        # a valid edit takes effect
        fleet.service("settings")["desiredCount"] = 2
        fleet.write()
        await _until(lambda: _desired(ecs, fleet.cluster, "settings") == 2, 15)
        assert op.stats.manifest_reloads >= 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def test_controller_process_stops_cleanly_on_sigterm(make_fleet):
    fleet = make_fleet(["language_system"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetctl.cli", "controller", "run", str(fleet.manifest), "--tf-outputs", str(fleet.outputs),
         "--interval", "1s", "--health-port", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 30
        seen = ""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen += line
            if "create service" in line:
                break
        assert "controller started" in seen, seen
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        rest = proc.stderr.read()
        assert code == 0, seen + rest
        assert "controller stopped" in rest and "Traceback" not in rest
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.timeout(300)
async def test_a_rollout_that_does_not_hold_is_retried_with_backoff_and_no_new_revisions(make_fleet, sandbox_handle):
    fleet = make_fleet(["settings"])
    ecs = sandbox_handle.client("ecs")
    op = Operator(fleet.manifest, tf_outputs=fleet.outputs, interval=1.0, progress_interval=0.3, health_port=None,
                  backoff_base=1.0)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(op.run(stop, ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        await _until(lambda: ecs.describe_services(cluster=fleet.cluster, services=["settings"])["services"]
                     and ecs.describe_services(cluster=fleet.cluster, services=["settings"])["services"][0]["runningCount"] == 1, 30)
        fleet.service("settings")["command"] = ["python", "-m", "services.settings_typo"]
        fleet.write()
        # a second UpdateService means the failed rollout was retried; how soon depends on the host
        await _until(lambda: op.stats.calls.get("ecs.UpdateService", 0) >= 2, 150)
        await asyncio.sleep(3)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    family = f"{fleet.name}-settings"
    revisions = ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
    assert len([a for a in revisions if a.rsplit("/", 1)[-1].split(":")[0] == family]) == 2  # retries reuse rev 2
    updates = op.stats.calls.get("ecs.UpdateService", 0)
    assert 2 <= updates <= 5, op.stats.calls  # retried, but backing off (1s, 2s, 4s, ...)
    svc = ecs.describe_services(cluster=fleet.cluster, services=["settings"])["services"][0]
    assert svc["taskDefinition"].endswith(f"{family}:1")  # the circuit breaker keeps the good revision
