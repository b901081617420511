"""observe → plan → apply against the sandbox over HTTP (moto + task runner + nats-server)."""
from __future__ import annotations

import json
import re
import shlex
import socket
import threading

import pytest
import yaml

from fleetctl.controller.apply import ApplyOptions, SilentReporter, apply
from fleetctl.controller.aws import Aws
from fleetctl.controller.manifest import load_manifest
from fleetctl.controller.reconcile import dependencies, reconcile_plan
from tests.conftest import REPO, run_cli
from tests.controller.conftest import push_image

FAST = ApplyOptions(timeout=60, overall_timeout=120, poll_interval=0.3)


class Journal(SilentReporter):
    """Records the order in which services' actions start and their outcomes arrive."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []

    def action(self, service: str, summary: str) -> None:
        self.entries.append(("start", service))

    def finished(self, outcome) -> None:
        self.entries.append(("done", outcome.service))


async def _apply(fleet_files, reporter=None, **opts):
    loaded = load_manifest(fleet_files.manifest, tf_outputs=fleet_files.outputs)
    async with Aws.for_target(loaded.fleet.spec.target) as aws:
        rec = await reconcile_plan(aws, loaded.fleet, read_task_definitions=False)  # as `fleetctl apply`
        result = await apply(rec.plan, aws, fleet_name=loaded.fleet.metadata.name,
                             dependencies=dependencies(loaded.fleet), observed=rec.observed.services,
                             options=ApplyOptions(**{**FAST.__dict__, **opts}), reporter=reporter)
        return rec, result, aws


LOCAL_SERVICES = [s["name"] for s in yaml.safe_load((REPO / "manifests" / "local.yaml").read_text())["spec"]["services"]]


@pytest.mark.timeout(300)
async def test_apply_local_fleet_from_empty_then_plan_is_empty_and_reapply_writes_nothing(make_fleet, sandbox_handle):
    assert len(LOCAL_SERVICES) == 23
    fleet = make_fleet(LOCAL_SERVICES)
    rec, result, aws = await _apply(fleet, timeout=120, overall_timeout=240)
    assert result.ok, {k: v.message for k, v in result.outcomes.items() if v.failed}
    assert {o.status for o in result.outcomes.values()} == {"ready"}
    assert len(result.outcomes) == 23
    assert aws.calls["ecs.CreateService"] == 23 and aws.calls["ecs.RegisterTaskDefinition"] == 23
    services = sandbox_handle.client("ecs").describe_services(cluster=fleet.cluster, services=LOCAL_SERVICES[:10])
    assert all(s["runningCount"] == 1 for s in services["services"])

    rec2, result2, aws2 = await _apply(fleet)
    assert rec2.plan.is_empty
    assert result2.ok
    assert aws2.write_calls == 0, aws2.calls
    assert aws2.calls["ecs.DescribeTaskDefinition"] == 0  # spec hash tags spare the reads

    plan = run_cli("plan", str(fleet.manifest), "--tf-outputs", str(fleet.outputs))
    assert plan.code == 0, plan.stdout + plan.stderr
    assert "in sync: 23 services" in plan.stdout

    # Ready means serving: NATS shows every service at its digest with a responder on every subject
    status = run_cli("status", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "-o", "json")
    assert status.code == 0, status.stdout + status.stderr
    body = json.loads(status.stdout)
    assert body["natsGate"] == "checked"
    serving = {s["service"]: next(c for c in s["conditions"] if c["type"] == "Serving") for s in body["services"]}
    assert len(serving) == 23 and all(c["status"] == "True" for c in serving.values()), serving


async def test_new_dependencies_gate_dependents_but_rolling_updates_share_a_wave(make_fleet):
    fleet = make_fleet(["settings", "performance_mode"])  # performance_mode dependsOn settings
    journal = Journal()
    _rec, result, _aws = await _apply(fleet, reporter=journal)
    assert result.ok
    # created from nothing: performance_mode starts only once settings is Ready
    e = journal.entries
    assert e.index(("done", "settings")) < e.index(("start", "performance_mode"))

    for name in ("settings", "performance_mode"):
        fleet.service(name)["environment"] = {"ROLL": "2"}
    fleet.write()
    journal = Journal()
    _rec, result, _aws = await _apply(fleet, reporter=journal)
    assert result.ok
    # settings stays Ready while it rolls (minimumHealthyPercent 100): both roll in one wave
    e = journal.entries
    assert e.index(("start", "performance_mode")) < e.index(("done", "settings"))


async def test_changing_one_image_rolls_only_that_service(make_fleet, sandbox_handle):
    fleet = make_fleet(["settings", "time_manager", "weather_manager"])
    _rec, result, _aws = await _apply(fleet)
    assert result.ok
    digest = push_image(sandbox_handle, "time_manager", "v2")
    assert digest != push_image(sandbox_handle, "time_manager", "v3")
    image = fleet.service("time_manager")["image"].replace(":latest", ":v2")
    fleet.service("time_manager")["image"] = image
    fleet.write()

    out = run_cli("plan", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "-o", "json")
    assert out.code == 1, out.stderr
    body = json.loads(out.stdout)
    assert [s["service"] for s in body["services"]] == ["time_manager"]
    kinds = [a["type"] for a in body["services"][0]["actions"]]
    assert kinds == ["register-task-definition", "update-service", "tag"]
    assert digest in body["services"][0]["actions"][0]["diff"]

    diff = run_cli("diff", str(fleet.manifest), "--tf-outputs", str(fleet.outputs))
    assert diff.code == 1
    registry = sandbox_handle.value("ecr_registry")
    added = [line.strip() for line in diff.stdout.splitlines() if line.strip().startswith("+")]
    assert any(line.endswith(f"image: {registry}/gaming/time_manager@{digest}") for line in added), diff.stdout

    rec, result, aws = await _apply(fleet)
    assert result.ok
    assert result.outcomes["time_manager"].status == "ready"
    assert result.outcomes["settings"].status == "unchanged"
    writes = {op: n for op, n in aws.calls.items() if op.split(".")[1] in
              ("RegisterTaskDefinition", "UpdateService", "TagResource", "CreateService")}
    assert writes == {"ecs.RegisterTaskDefinition": 1, "ecs.UpdateService": 1, "ecs.TagResource": 1}
    # the tags already say the revision differs: only the family's latest revision is read, the
    # look-up before registering that lets a lost reply or a stopped run add no second revision
    assert aws.calls["ecs.DescribeTaskDefinition"] == 1

    again = run_cli("plan", str(fleet.manifest), "--tf-outputs", str(fleet.outputs))
    assert again.code == 0


async def test_broken_command_fails_rolls_back_and_reports_stopped_tasks(make_fleet, sandbox_handle):
    fleet = make_fleet(["settings"])
    _rec, result, _aws = await _apply(fleet)
    assert result.ok
    ecs = sandbox_handle.client("ecs")
    before = ecs.describe_services(cluster=fleet.cluster, services=["settings"])["services"][0]["taskDefinition"]

    fleet.service("settings")["command"] = ["python", "-m", "services.settings_typo"]
    fleet.write()
    out = run_cli("apply", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "--timeout", "90s", timeout=150)
    assert out.code == 1, out.stdout + out.stderr
    assert "settings: failed" in out.stderr
    assert "EssentialContainerExited" in out.stderr and "exit code 1" in out.stderr
    # the next step printed is a complete command: it runs as printed and finds the cause
    step = re.search(r"run `(fleetctl diagnose [^`]*)` for (the cause|the evidence)", out.stderr)
    assert step, out.stderr
    words = shlex.split(step.group(1))
    assert words[:3] == ["fleetctl", "diagnose", str(fleet.manifest)] and "--service" in words
    diagnosed = run_cli(*words[1:], "--no-network", "-o", "json")
    assert diagnosed.code == 1, diagnosed.stderr
    assert any(f["category"] == "python_import_error" for f in json.loads(diagnosed.stdout)["findings"])
    after = ecs.describe_services(cluster=fleet.cluster, services=["settings"])["services"][0]
    assert after["taskDefinition"].rsplit("/", 1)[-1] == before.rsplit("/", 1)[-1]  # rolled back

    # the manifest still differs from what runs: plan says so
    assert run_cli("plan", str(fleet.manifest), "--tf-outputs", str(fleet.outputs)).code == 1


async def test_no_wait_returns_after_submitting(make_fleet):
    fleet = make_fleet(["language_system"])
    _rec, result, aws = await _apply(fleet, wait=False)
    assert result.ok and result.outcomes["language_system"].status == "applied"
    assert aws.calls["ecs.DescribeServices"] == 1  # observe only: no rollout polling


def _credentials_file(tmp_path) -> str:
    from fleetctl.sandbox.auth import Credentials

    path = tmp_path / "credentials.json"
    Credentials.generate().save(path)
    return str(path)


def test_invalid_manifest_makes_no_aws_call(tmp_path):
    hits = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                hits.append(1)
                conn.close()
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    outputs = tmp_path / "o.json"
    from tests.conftest import FIXTURES

    doc = json.loads((FIXTURES / "local-tf-outputs.json").read_text())
    doc["aws_endpoint_url"]["value"] = f"http://127.0.0.1:{port}"
    doc["sandbox_credentials_file"]["value"] = _credentials_file(tmp_path)
    outputs.write_text(json.dumps(doc))
    broken = tmp_path / "fleet.yaml"
    text = (FIXTURES.parent.parent / "manifests" / "local.yaml").read_text()
    broken.write_text(text.replace("dependsOn: [auth, router]", "dependsOn: [auth, nosuch]"))
    try:
        for verb in ("plan", "apply", "status", "diff"):
            out = run_cli(verb, str(broken), "--tf-outputs", str(outputs))
            assert out.code == 2, (verb, out.stderr)
            assert "unknown service 'nosuch'" in out.stderr
        # the same manifest, fixed, does reach the endpoint: the listener is real
        broken.write_text(text)
        assert run_cli("plan", str(broken), "--tf-outputs", str(outputs), timeout=120).code == 2
        assert hits
    finally:
        stop.set()
        t.join()
        server.close()


def test_unreachable_endpoint_is_one_line_exit_2(tmp_path):
    from tests.conftest import FIXTURES

    doc = json.loads((FIXTURES / "local-tf-outputs.json").read_text())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    doc["aws_endpoint_url"]["value"] = f"http://127.0.0.1:{port}"
    doc["sandbox_credentials_file"]["value"] = _credentials_file(tmp_path)
    outputs = tmp_path / "o.json"
    outputs.write_text(json.dumps(doc))
    out = run_cli("plan", "manifests/local.yaml", "--tf-outputs", str(outputs), timeout=120)
    assert out.code == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach" in lines[0] and "Traceback" not in out.stderr


async def test_rollback_returns_to_the_previous_completed_revision(make_fleet, sandbox_handle):
    fleet = make_fleet(["knowledge_base"])
    assert (await _apply(fleet))[1].ok
    fleet.service("knowledge_base")["environment"] = {"KB_FLAVOUR": "second"}
    fleet.write()
    assert (await _apply(fleet))[1].ok
    ecs = sandbox_handle.client("ecs")
    current = ecs.describe_services(cluster=fleet.cluster, services=["knowledge_base"])["services"][0]["taskDefinition"]
    assert current.endswith(":2")

    out = run_cli("rollback", "knowledge_base", "-m", str(fleet.manifest), "--tf-outputs", str(fleet.outputs),
                  "--timeout", "60s")
    assert out.code == 0, out.stdout + out.stderr
    family = f"{fleet.name}-knowledge_base"
    assert f"{family}:2 -> {family}:1: ok" in out.stdout
    svc = ecs.describe_services(cluster=fleet.cluster, services=["knowledge_base"])["services"][0]
    assert svc["taskDefinition"].rsplit("/", 1)[-1] == f"{family}:1"
    assert svc["runningCount"] == 1
    # the manifest still asks for revision 2's content: plan reports the difference
    assert run_cli("plan", str(fleet.manifest), "--tf-outputs", str(fleet.outputs)).code == 1
    assert run_cli("rollback", "nosuch", "-m", str(fleet.manifest), "--tf-outputs", str(fleet.outputs)).code == 2


async def test_prune_deletes_only_owned_services_the_manifest_dropped(make_fleet, sandbox_handle):
    fleet = make_fleet(["settings", "time_manager"])
    assert (await _apply(fleet))[1].ok
    ecs = sandbox_handle.client("ecs")
    td = ecs.describe_services(cluster=fleet.cluster, services=["settings"])["services"][0]["taskDefinition"]
    ecs.create_service(cluster=fleet.cluster, serviceName="hand_made", taskDefinition=td, desiredCount=0)

    fleet.doc["spec"]["services"] = [s for s in fleet.doc["spec"]["services"] if s["name"] != "time_manager"]
    fleet.write()
    args = [str(fleet.manifest), "--tf-outputs", str(fleet.outputs)]
    plan = run_cli("plan", *args, "-o", "json")
    assert plan.code == 0, plan.stderr  # orphans are reported, not changes, without --prune
    assert json.loads(plan.stdout)["orphans"] == ["time_manager"]

    pruned = run_cli("plan", *args, "--prune", "-o", "json")
    assert pruned.code == 1
    body = json.loads(pruned.stdout)
    assert [(s["service"], [a["type"] for a in s["actions"]]) for s in body["services"]] == [
        ("time_manager", ["delete-service"])]

    out = run_cli("apply", *args, "--prune")
    assert out.code == 0, out.stderr
    live = {s["serviceName"]: s["status"] for s in
            ecs.describe_services(cluster=fleet.cluster, services=["time_manager", "hand_made", "settings"])["services"]}
    assert live["settings"] == "ACTIVE" and live["hand_made"] == "ACTIVE"
    assert live.get("time_manager", "INACTIVE") in ("INACTIVE", "DRAINING")
    assert run_cli("plan", *args, "--prune").code == 0


async def test_status_reports_conditions_and_digests(make_fleet):
    fleet = make_fleet(["weather_manager"])
    args = [str(fleet.manifest), "--tf-outputs", str(fleet.outputs)]
    missing = run_cli("status", *args, "-o", "json")
    assert missing.code == 1
    (row,) = json.loads(missing.stdout)["services"]
    assert {c["type"]: c["reason"] for c in row["conditions"]}["Ready"] == "ServiceNotFound"

    assert (await _apply(fleet))[1].ok
    out = run_cli("status", *args, "-o", "json")
    assert out.code == 0, out.stderr
    (row,) = json.loads(out.stdout)["services"]
    assert (row["desired"], row["running"], row["rolloutState"]) == (1, 1, "COMPLETED")
    assert row["imageMatches"] is True and row["runningDigest"].startswith("sha256:")
    conds = {c["type"]: c for c in row["conditions"]}
    assert conds["Ready"]["status"] == "True" and conds["Ready"]["reason"] == "RolloutComplete"
    assert conds["Degraded"]["status"] == "False" and conds["Progressing"]["status"] == "False"
    assert conds["Ready"]["lastTransitionTime"]
    table = run_cli("status", *args)
    assert "weather_manager" in table.stdout and "1/1 services Ready" in table.stdout


def test_missing_credentials_is_one_line_exit_2(tmp_path):
    from tests.conftest import PROD_TF_OUTPUTS

    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
           "AWS_EC2_METADATA_DISABLED": "true",  # never reach for an instance role from a test
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    out = run_cli("plan", "manifests/prod.yaml", "--tf-outputs", str(PROD_TF_OUTPUTS), env=env)
    assert out.code == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "NoCredentials: no AWS credentials found" in lines[0], out.stderr

    out = run_cli("plan", "manifests/prod.yaml", "--tf-outputs", str(PROD_TF_OUTPUTS), env={**env, "AWS_PROFILE": "nope"})
    assert out.code == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "ProfileNotFound" in lines[0] and "nope" in lines[0], out.stderr
