"""ECS container health semantics in the task runner: health status, stops, deployments, breaker."""

from __future__ import annotations

from tests.sandbox.conftest import describe_task, unique, wait_for


def _service(ecs, sandbox, name):
    return ecs.describe_services(cluster=sandbox.cluster, services=[name])["services"][0]


def test_deployment_completes_only_once_tasks_are_healthy(sandbox, ecs, register, create_service, tmp_path):
    marker = tmp_path / "serving"
    health = {"command": ["CMD-SHELL", f"test -f {marker}"], "interval": 5, "timeout": 2, "retries": 3,
              "startPeriod": 60}
    name = unique("healthgate")
    create_service(name, register(name, "import time; time.sleep(3600)", healthCheck=health), desired=1)
    wait_for(lambda: _service(ecs, sandbox, name)["runningCount"] == 1)
    arn = ecs.list_tasks(cluster=sandbox.cluster, serviceName=name)["taskArns"][0]
    task = describe_task(sandbox, ecs, arn)
    assert (task["lastStatus"], task["healthStatus"]) == ("RUNNING", "UNKNOWN")
    primary = _service(ecs, sandbox, name)["deployments"][0]
    assert primary["runningCount"] == 1 and primary["rolloutState"] == "IN_PROGRESS"  # running is not enough
    marker.touch()
    svc = wait_for(lambda: (s := _service(ecs, sandbox, name))["deployments"][0]["rolloutState"] == "COMPLETED" and s)
    assert svc["deployments"][0]["runningCount"] == 1
    assert describe_task(sandbox, ecs, arn)["healthStatus"] == "HEALTHY"


def test_unhealthy_task_is_stopped_and_counts_toward_the_circuit_breaker(sandbox, ecs, register, create_service):
    # fails every check; no start period: after `retries` failures the container is UNHEALTHY
    health = {"command": ["CMD", "false"], "interval": 5, "timeout": 2, "retries": 2, "startPeriod": 0}
    name = unique("unhealthy")
    create_service(name, register(name, "import time; time.sleep(3600)", healthCheck=health), desired=1, breaker=True)

    def stopped():
        arns = ecs.list_tasks(cluster=sandbox.cluster, serviceName=name, desiredStatus="STOPPED")["taskArns"]
        tasks = [describe_task(sandbox, ecs, a) for a in arns]
        return [t for t in tasks if t["lastStatus"] == "STOPPED"]

    tasks = wait_for(lambda: len(s := stopped()) >= 3 and s, timeout=40)
    for task in tasks:
        assert task["stopCode"] == "ServiceSchedulerInitiated"
        assert task["stoppedReason"] == "Task failed container health checks"
        assert task["healthStatus"] == "UNHEALTHY"
        assert task["containers"][0]["healthStatus"] == "UNHEALTHY"
    svc = wait_for(lambda: (s := _service(ecs, sandbox, name))["deployments"][0]["rolloutState"] == "FAILED" and s)
    assert svc["deployments"][0]["failedTasks"] >= 3
    assert svc["deployments"][0]["rolloutState"] != "COMPLETED"
    messages = [e["message"] for e in svc["events"]]
    assert any(m.endswith("failed container health checks.") for m in messages), messages


def test_start_period_failures_do_not_count_until_a_check_passed(sandbox, ecs, register, run_task, tmp_path):
    # the check passes once, then fails: failures count from then on, start period or not
    marker = tmp_path / "ok"
    marker.touch()
    health = {"command": ["CMD-SHELL", f"test -f {marker}"], "interval": 5, "timeout": 2, "retries": 2,
              "startPeriod": 300}
    arn = run_task(register(unique("startperiod"), "import time; time.sleep(3600)", healthCheck=health))
    wait_for(lambda: describe_task(sandbox, ecs, arn).get("healthStatus") == "HEALTHY")
    marker.unlink()
    task = wait_for(lambda: (t := describe_task(sandbox, ecs, arn))["healthStatus"] == "UNHEALTHY" and t, timeout=30)
    # a standalone task (RunTask, no service) keeps running whatever its health
    assert task["lastStatus"] == "RUNNING"
    ecs.stop_task(cluster=sandbox.cluster, task=arn)
