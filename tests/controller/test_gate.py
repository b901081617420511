"""The rollout gate end to end: sandbox (moto + task runner) and the real nats-server behind it."""
from __future__ import annotations

import pytest

import json

from tests.conftest import run_cli
from tests.controller.conftest import push_image

SLEEP = ["python", "-c", "import time; time.sleep(1e9)"]
# the real service, pointed at a dead NATS port: the SDK gives up after its connect attempts (≥ 2 s)
def dead_nats(service: str) -> list[str]:
    return ["sh", "-c", f"NATS_URL=nats://127.0.0.1:9 NATS_CONNECT_ATTEMPTS=2 exec python -m services.{service}"]

pytestmark = pytest.mark.timeout(300)  # sandbox rollouts on a shared 2-core machine


DEAD_NATS = dead_nats("settings")


def _fast(fleet, **rollout):
    fleet.doc["spec"]["rollout"] = {"minReadySeconds": 1, "progressDeadlineSeconds": 60, **rollout}
    fleet.write()


def _apply(fleet, *extra):
    out = run_cli("apply", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "-o", "json", *extra,
                  timeout=150)
    body = json.loads(out.stdout) if out.stdout.strip() else {}
    return out, body


def _service(sandbox_handle, fleet, name):
    ecs = sandbox_handle.client("ecs")
    return ecs.describe_services(cluster=fleet.cluster, services=[name])["services"][0]


def _status(fleet):
    out = run_cli("status", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "-o", "json", timeout=90)
    return out, {s["service"]: {c["type"]: c for c in s["conditions"]} for s in json.loads(out.stdout)["services"]}


def test_unreachable_service_and_version_that_never_connects_fail_the_gate_and_are_rolled_back(make_fleet,
                                                                                                sandbox_handle):
    """One apply, two failures NATS tells apart: settings starts and stays up but never joins NATS
    (NoResponders); language_system's new image never connects while its old task keeps serving
    (VersionSkew). Both go back to their previous revision."""
    fleet = make_fleet(["settings", "language_system"])
    _fast(fleet)
    out, body = _apply(fleet)
    assert out.code == 0, out.stderr
    assert body["natsGate"] == "checked"
    good = {name: _service(sandbox_handle, fleet, name)["taskDefinition"] for name in ("settings", "language_system")}

    # no container health check on settings: only NATS can tell
    fleet.service("settings").update(command=SLEEP, healthCheck=False)
    # language_system's health check never passes, so ECS keeps the old task serving
    digest = push_image(sandbox_handle, "language_system", "never-connects")
    image = fleet.service("language_system")["image"].rsplit(":", 1)[0] + ":never-connects"
    fleet.service("language_system").update(image=image, command=SLEEP)
    _fast(fleet, progressDeadlineSeconds=12)
    out, body = _apply(fleet)
    assert out.code == 1, out.stderr
    outcomes = {s["service"]: s for s in body["services"]}

    outcome = outcomes["settings"]
    assert outcome["status"] == "failed"
    assert outcome["serving"]["reason"] == "NoResponders"
    declared = {s if isinstance(s, str) else s["subject"] for s in fleet.service("settings")["subjects"]}
    assert set(outcome["serving"]["missingSubjects"]) == declared
    assert "progress deadline" in outcome["message"] and "no responder on settings." in outcome["message"]
    assert outcome["rolledBackTo"] == good["settings"].rsplit("/", 1)[-1]
    assert "rolled back to" in outcome["message"]
    assert outcome["durationSeconds"] < 12 + 30

    outcome = outcomes["language_system"]
    assert outcome["serving"]["reason"] == "VersionSkew", outcome
    assert digest not in outcome["serving"]["otherVersions"] and outcome["serving"]["otherVersions"]
    assert "still answering" in outcome["message"]
    assert outcome["rolledBackTo"] == good["language_system"].rsplit("/", 1)[-1]

    for name, revision in good.items():
        svc = _service(sandbox_handle, fleet, name)
        assert svc["taskDefinition"] == revision and svc["deployments"][0]["rolloutState"] == "COMPLETED", name


def test_task_exiting_after_two_seconds_is_diagnosed_and_crash_loops(make_fleet, sandbox_handle):
    fleet = make_fleet(["settings"], settings={"command": DEAD_NATS, "healthCheck": False})
    fleet.doc["spec"]["nats"]["urls"] = ["nats://127.0.0.1:9"]  # unreachable from here too: `off` never connects
    _fast(fleet, minReadySeconds=30, progressDeadlineSeconds=120)  # the exit comes late on a busy host
    out, body = _apply(fleet, "--nats-gate", "off")
    assert out.code == 1, out.stderr
    assert body["natsGate"] == "off" and "NATS gate" not in out.stderr
    outcome = body["services"][0]
    assert "stopped within minReadySeconds" in outcome["message"], outcome["message"]
    categories = {d["category"]: d for d in outcome["diagnosis"]}
    assert "nats_unreachable" in categories, outcome["diagnosis"]
    assert categories["nats_unreachable"]["fix"]
    assert "nats_unreachable" in out.stderr and "fix:" in out.stderr  # explained inline, not a pointer

    # nothing to roll back to: the tasks keep stopping after ECS completed the deployment
    def crash_loop():
        status, conds = _status(fleet)
        return conds["settings"]["Degraded"]["reason"] == "CrashLoop" and conds["settings"]

    from tests.sandbox.conftest import wait_for

    conds = wait_for(crash_loop, timeout=40, interval=1.0)
    assert conds["Degraded"]["status"] == "True"
    assert "nats_unreachable" in conds["Degraded"]["message"]
    assert conds["Ready"]["status"] == "False"


def test_nats_gate_modes_when_nats_is_unreachable_from_here(make_fleet, sandbox_handle):
    fleet = make_fleet(["settings"], settings={"command": SLEEP, "healthCheck": False})
    fleet.doc["spec"]["nats"]["urls"] = ["nats://127.0.0.1:9"]  # nothing listens: unreachable from here
    _fast(fleet)

    out, body = _apply(fleet, "--nats-gate", "required")
    assert out.code == 1
    assert out.stderr.count("NATS gate required") == 1 and "127.0.0.1:9" in out.stderr
    assert "settings" not in [s["serviceName"] for s in sandbox_handle.client("ecs").describe_services(
        cluster=fleet.cluster, services=["settings"])["services"]]  # nothing was changed

    out, body = _apply(fleet)  # auto, from the manifest
    assert out.code == 0, out.stderr
    assert body["natsGate"] == "skipped"
    assert out.stderr.count("NATS gate skipped") == 1
    # `off` with NATS unreachable: test_task_exiting_after_two_seconds_is_diagnosed_and_crash_loops
