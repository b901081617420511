"""diagnose, probe and logs against the sandbox over HTTP, with real failing tasks and nats-server."""
from __future__ import annotations

import asyncio
import json
import shutil
import time

import pytest

from fleetctl.controller.apply import ApplyOptions, apply
from fleetctl.controller.aws import Aws
from fleetctl.controller.manifest import load_manifest
from fleetctl.controller.reconcile import dependencies, reconcile_plan
from sdk.testing import free_port
from tests.conftest import run_cli

MISSING_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gaming/auth/no-such-key-AbCdEf"


async def _submit(fleet) -> None:
    loaded = load_manifest(fleet.manifest, tf_outputs=fleet.outputs)
    async with Aws.for_target(loaded.fleet.spec.target) as aws:
        rec = await reconcile_plan(aws, loaded.fleet)
        result = await apply(rec.plan, aws, fleet_name=loaded.fleet.metadata.name,
                             dependencies=dependencies(loaded.fleet), observed=rec.observed.services,
                             options=ApplyOptions(wait=False, poll_interval=0.3))
        assert result.ok


async def _wait_for_stopped(sandbox_handle, cluster: str, services: set[str], timeout: float = 60) -> None:
    ecs = sandbox_handle.client("ecs")
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        arns = ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
        if arns:
            for t in ecs.describe_tasks(cluster=cluster, tasks=arns[:100])["tasks"]:
                if t.get("lastStatus") == "STOPPED" and t.get("stopCode"):
                    seen.add(t.get("group", "").removeprefix("service:"))
        if services <= seen:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"no stopped task for {services - seen} within {timeout}s")


def _copy(fleet, tmp_path, name):
    """Keep a fleet's files apart: make_fleet writes the same paths each time it is called."""
    manifest, outputs = tmp_path / f"{name}.yaml", tmp_path / f"{name}-outputs.json"
    shutil.copy(fleet.outputs, outputs)
    fleet.manifest, fleet.outputs = manifest, outputs
    fleet.write()
    return fleet


@pytest.fixture
async def broken_fleet(make_fleet, sandbox_handle, tmp_path):
    fleet = make_fleet(["settings", "time_manager", "auth"],
                       time_manager={"command": ["python", "-c", "import services.no_such_module"]},
                       auth={"secrets": {"AUTH_SIGNING_KEY": MISSING_SECRET}})
    fleet = _copy(fleet, tmp_path, "broken")
    await _submit(fleet)
    await _wait_for_stopped(sandbox_handle, fleet.cluster, {"time_manager", "auth"})
    return fleet


async def test_diagnose_names_each_broken_service(broken_fleet):
    out = run_cli("diagnose", str(broken_fleet.manifest), "--tf-outputs", str(broken_fleet.outputs), "-o", "json")
    assert out.code == 1, out.stdout + out.stderr
    body = json.loads(out.stdout)
    by_service = {f["service"]: f for f in body["findings"] if f["severity"] != "info"}
    assert set(by_service) == {"time_manager", "auth"}, body["findings"]

    imports = by_service["time_manager"]
    assert imports["category"] == "python_import_error"
    assert "No module named 'services.no_such_module'" in imports["evidence"][0]
    assert "requirements" in imports["hint"] and "PYTHONPATH" in imports["hint"]

    secret = by_service["auth"]
    assert secret["category"] == "secrets_or_registry_auth"
    assert MISSING_SECRET in secret["hint"] and "ResourceNotFoundException" in secret["evidence"][0]
    assert secret["tasksAffected"] >= 1 and secret["firstSeen"] and secret["lastSeen"]
    assert body["logsRead"] >= 1 and not body["checks"]  # no NATS cause: no network checks

    text = run_cli("diagnose", str(broken_fleet.manifest), "--tf-outputs", str(broken_fleet.outputs),
                   "--service", "auth")
    assert text.code == 1 and "auth: secrets_or_registry_auth" in text.stdout and "time_manager" not in text.stdout


async def test_probe_reports_missing_responders(broken_fleet):
    out = run_cli("probe", str(broken_fleet.manifest), "--tf-outputs", str(broken_fleet.outputs), "-o", "json")
    assert out.code == 1, out.stdout + out.stderr
    body = json.loads(out.stdout)
    assert body["server"]["version"] and body["jetstream"]["enabled"] and body["rttMs"] > 0
    services = {s["service"]: s for s in body["services"]}
    assert services["settings"]["ok"] and services["settings"]["instances"] >= 1
    assert all(c["status"] == "ok" for c in services["settings"]["subjects"])
    missing = {(m["service"], m["subject"]) for m in body["missing"]}
    assert ("auth", "auth.issue") in missing and ("auth", "auth.verify") in missing
    assert {s for s, _ in missing} == {"auth", "time_manager"}
    assert services["auth"]["instances"] == 0


async def test_logs_previous_shows_the_traceback(broken_fleet):
    out = run_cli("logs", "time_manager", "-m", str(broken_fleet.manifest), "--tf-outputs", str(broken_fleet.outputs),
                  "--previous")
    assert out.code == 0, out.stderr
    assert "Traceback (most recent call last)" in out.stdout
    assert "ModuleNotFoundError: No module named 'services.no_such_module'" in out.stdout
    assert "==> task" in out.stderr and "STOPPED" in out.stderr


async def test_wrong_nats_port_is_unreachable_with_network_checks(make_fleet, sandbox_handle, tmp_path):
    fleet = make_fleet(["weather_manager"])
    closed = free_port()
    fleet.doc["spec"]["nats"]["urls"] = [f"nats://127.0.0.1:{closed}"]
    fleet = _copy(fleet, tmp_path, "wrong-port")
    await _submit(fleet)
    await _wait_for_stopped(sandbox_handle, fleet.cluster, {"weather_manager"})

    out = run_cli("diagnose", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "-o", "json")
    assert out.code == 1, out.stdout + out.stderr
    body = json.loads(out.stdout)
    finding = body["findings"][0]
    assert (finding["service"], finding["category"]) == ("weather_manager", "nats_unreachable")
    assert any("connection_refused" in e for e in finding["evidence"])
    assert f":{closed}" in finding["hint"]
    checks = {c["check"]: c for c in body["checks"]}
    assert checks["task-egress"]["ok"] is True
    assert checks["nats-ingress"]["ok"] is False and f"not on {closed}" in checks["nats-ingress"]["detail"]
    assert checks["nlb-targets"]["ok"] is True
    assert checks["dns"]["ok"] is True
    assert checks["probe"]["ok"] is False and "nats_unreachable" in checks["probe"]["detail"]

    probe = run_cli("probe", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "-o", "json")
    assert probe.code == 1
    assert json.loads(probe.stdout)["error"]["category"] == "nats_unreachable"
