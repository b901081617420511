"""Faults stop tasks the way ECS reports them: images, secrets, logger, StopTask."""

from __future__ import annotations

import hashlib

import pytest

from tests.sandbox.conftest import describe_task, log_messages, unique, wait_for, wait_stopped


def test_unknown_image_digest_cannot_be_pulled(sandbox, ecs, register, run_task, image):
    repository = image.rsplit(":", 1)[0]
    missing = f"{repository}@sha256:{'0' * 64}"
    arn = run_task(register(unique("pull"), image=missing))
    task = wait_stopped(sandbox, ecs, arn)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"] == (
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        f"failed to resolve ref {missing}: {missing}: not found"
    )
    assert task["containers"][0]["reason"] == task["stoppedReason"]
    assert "exitCode" not in task["containers"][0]


def test_image_by_digest_runs(sandbox, ecs, register, run_task, image):
    ecr = sandbox.client("ecr")
    repository = image.split("/", 1)[1].rsplit(":", 1)[0]
    digest = ecr.describe_images(repositoryName=repository)["imageDetails"][0]["imageDigest"]
    pinned = f"{image.rsplit(':', 1)[0]}@{digest}"
    arn = run_task(register(unique("digest"), image=pinned))
    task = wait_for(lambda: (t := describe_task(sandbox, ecs, arn))["lastStatus"] == "RUNNING" and t)
    assert task["containers"][0]["imageDigest"] == digest
    ecs.stop_task(cluster=sandbox.cluster, task=arn)


def test_image_outside_the_sandbox_registry_cannot_be_pulled(sandbox, ecs, register, run_task):
    arn = run_task(register(unique("hub"), image="python:3.11-slim"))
    task = wait_stopped(sandbox, ecs, arn)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError: ")


def test_missing_secret_fails_resource_initialization(sandbox, ecs, register, run_task):
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gaming/nope-AbCdEf"
    arn = run_task(register(unique("secret"), secrets=[{"name": "KEY", "valueFrom": missing}]))
    task = wait_stopped(sandbox, ecs, arn)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: "
        "execution resource retrieval failed: unable to retrieve secret from asm: "
        f"service call has been retried 1 time(s): failed to fetch secret {missing} "
        "from secrets manager: ResourceNotFoundException: Secrets Manager can't find the "
        "specified secret."
    )


def test_missing_ssm_parameter_fails_resource_initialization(sandbox, ecs, register, run_task):
    arn = run_task(register(unique("ssm"), secrets=[{"name": "KEY", "valueFrom": "/gaming/missing"}]))
    task = wait_stopped(sandbox, ecs, arn)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].endswith("unable to retrieve secrets from ssm: service call has been "
                                          "retried 1 time(s): invalid ssm parameters: /gaming/missing")


@pytest.mark.parametrize("source", ["secretsmanager", "ssm"])
def test_secrets_reach_the_container_environment(sandbox, ecs, logs, register, run_task, source):
    if source == "secretsmanager":
        value_from = sandbox.outputs["auth_signing_key_secret_arn"]
        value = sandbox.client("secretsmanager").get_secret_value(SecretId=value_from)["SecretString"]
    else:
        value, value_from = "parameter-value", f"/tests/{unique('param')}"
        sandbox.client("ssm").put_parameter(Name=value_from, Value=value, Type="SecureString")
    # The container prints a hash, so the secret itself never reaches a log.
    code = "import hashlib, os; print(hashlib.sha256(os.environ['KEY'].encode()).hexdigest())"
    arn = run_task(register(unique("secret-ok"), code, secrets=[{"name": "KEY", "valueFrom": value_from}]))
    wait_stopped(sandbox, ecs, arn)
    assert log_messages(sandbox, logs, arn) == [hashlib.sha256(value.encode()).hexdigest()]


def _log_config(group: str, create: bool) -> dict:
    options = {"awslogs-group": group, "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"}
    if create:
        options["awslogs-create-group"] = "true"
    return {"logDriver": "awslogs", "options": options}


def test_missing_log_group_fails_logger_validation(sandbox, ecs, register, run_task):
    arn = run_task(register(unique("nolog"), logConfiguration=_log_config("/ecs/does-not-exist", False)))
    task = wait_stopped(sandbox, ecs, arn)
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"] == (
        "ResourceInitializationError: failed to validate logger args: create stream has been "
        "retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: "
        "The specified log group does not exist. : exit status 1"
    )


def test_awslogs_create_group_creates_it(sandbox, ecs, logs, register, run_task):
    group = f"/ecs/{unique('created')}"
    arn = run_task(register(unique("mklog"), "print('made it')", logConfiguration=_log_config(group, True)))
    wait_stopped(sandbox, ecs, arn)
    stream = f"ecs/app/{arn.split('/')[-1]}"
    events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    assert [e["message"] for e in events] == ["made it"]


def test_missing_executable_cannot_start(sandbox, ecs, register, run_task):
    arn = run_task(register(unique("noexec"), command=["no-such-program-anywhere"]))
    task = wait_stopped(sandbox, ecs, arn)
    assert task["stopCode"] == "TaskFailedToStart"
    assert 'exec: "no-such-program-anywhere": executable file not found in $PATH' in task["stoppedReason"]


def test_stop_task_sends_sigterm_exit_143(sandbox, ecs, register, run_task):
    arn = run_task(register(unique("stop"), "import time; print('up', flush=True); time.sleep(3600)"))
    wait_for(lambda: describe_task(sandbox, ecs, arn)["lastStatus"] == "RUNNING")
    answer = ecs.stop_task(cluster=sandbox.cluster, task=arn, reason="testing stop")["task"]
    assert answer["desiredStatus"] == "STOPPED" and answer["lastStatus"] == "RUNNING"
    ecs.get_waiter("tasks_stopped").wait(cluster=sandbox.cluster, tasks=[arn], WaiterConfig={"Delay": 1})
    task = describe_task(sandbox, ecs, arn)
    assert task["stopCode"] == "UserInitiated"
    assert task["stoppedReason"] == "testing stop"
    assert task["containers"][0]["exitCode"] == 143
    assert task["stoppedAt"] >= task["stoppingAt"] >= task["startedAt"]


def test_sigterm_ignored_is_killed_after_stop_timeout_exit_137(sandbox, ecs, register, run_task):
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ignoring SIGTERM', flush=True)\n"
        "time.sleep(3600)"
    )
    arn = run_task(register(unique("stubborn"), code, stopTimeout=2))
    wait_for(lambda: describe_task(sandbox, ecs, arn)["lastStatus"] == "RUNNING")
    ecs.stop_task(cluster=sandbox.cluster, task=arn)
    wait_for(lambda: describe_task(sandbox, ecs, arn)["lastStatus"] in ("DEACTIVATING", "STOPPING"), timeout=2)
    task = wait_stopped(sandbox, ecs, arn, timeout=10)
    assert task["containers"][0]["exitCode"] == 137
    assert (task["stoppedAt"] - task["stoppingAt"]).total_seconds() >= 1.9
    assert task["stopCode"] == "UserInitiated"


def test_health_check_reports_health_beside_running(sandbox, ecs, register, run_task, tmp_path):
    marker = tmp_path / "healthy"
    code = f"import pathlib, time; time.sleep(1.5); pathlib.Path({str(marker)!r}).touch(); time.sleep(3600)"
    health = {"command": ["CMD-SHELL", f"test -f {marker}"], "interval": 1, "timeout": 1, "retries": 3, "startPeriod": 5}
    arn = run_task(register(unique("health"), code, healthCheck=health))
    # ECS: RUNNING once the container started; the health check is reported beside it
    task = wait_for(lambda: (t := describe_task(sandbox, ecs, arn))["lastStatus"] == "RUNNING" and t)
    assert not marker.exists()
    assert task["healthStatus"] == "UNKNOWN"
    task = wait_for(lambda: (t := describe_task(sandbox, ecs, arn))["healthStatus"] == "HEALTHY" and t)
    assert marker.exists()
    assert task["containers"][0]["healthStatus"] == "HEALTHY"
    ecs.stop_task(cluster=sandbox.cluster, task=arn)
