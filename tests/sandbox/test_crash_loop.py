"""Containers that fail for real: exit codes, tracebacks in the logs, the circuit breaker."""

from __future__ import annotations

from tests.sandbox.conftest import describe_task, log_messages, unique, wait_for


def test_failing_import_crash_loops_with_real_exit_code_and_traceback(sandbox, ecs, logs, register, create_service):
    name = unique("crash")
    create_service(name, register(name, "import nonexistent_module"), desired=1)

    def stopped() -> list[str]:
        arns = ecs.list_tasks(cluster=sandbox.cluster, serviceName=name, desiredStatus="STOPPED")["taskArns"]
        return [a for a in arns if describe_task(sandbox, ecs, a)["lastStatus"] == "STOPPED"]

    arns = wait_for(lambda: len(s := stopped()) >= 2 and s)  # replaced, and failed again
    for arn in arns:
        task = describe_task(sandbox, ecs, arn)
        assert task["stopCode"] == "EssentialContainerExited"
        assert task["stoppedReason"] == "Essential container in task exited"
        assert task["containers"][0]["exitCode"] == 1
        assert task["containers"][0]["lastStatus"] == "STOPPED"
        lines = log_messages(sandbox, logs, arn)
        assert lines[0] == "Traceback (most recent call last):"
        assert lines[-1] == "ModuleNotFoundError: No module named 'nonexistent_module'"
    svc = ecs.describe_services(cluster=sandbox.cluster, services=[name])["services"][0]
    assert svc["deployments"][0]["failedTasks"] >= 2
    assert svc["runningCount"] == 0


def test_wrong_pythonpath_fails_with_the_real_error(sandbox, ecs, logs, register, run_task):
    arn = run_task(
        register(
            unique("pythonpath"),
            command=["python", "-m", "services_that_do_not_exist.main"],
            environment=[{"name": "PYTHONPATH", "value": "/nowhere"}],
        )
    )
    task = wait_for(lambda: (t := describe_task(sandbox, ecs, arn))["lastStatus"] == "STOPPED" and t)
    assert task["containers"][0]["exitCode"] == 1
    assert "(ModuleNotFoundError: No module named 'services_that_do_not_exist')" in log_messages(sandbox, logs, arn)[-1]


def test_circuit_breaker_fails_the_deployment_and_rolls_back(sandbox, ecs, logs, register, create_service):
    name = unique("breaker")
    good = register(name, "import time; time.sleep(3600)")
    create_service(name, good, desired=1, breaker=True)
    ecs.get_waiter("services_stable").wait(cluster=sandbox.cluster, services=[name], WaiterConfig={"Delay": 1})
    first_id = ecs.describe_services(cluster=sandbox.cluster, services=[name])["services"][0]["deployments"][0]["id"]

    bad = register(name, "import nonexistent_module")
    failing_id = ecs.update_service(cluster=sandbox.cluster, service=name, taskDefinition=bad)["service"][
        "deployments"
    ][0]["id"]

    def rolled_back() -> dict | None:
        svc = ecs.describe_services(cluster=sandbox.cluster, services=[name])["services"][0]
        primary = svc["deployments"][0]
        return svc if primary["id"] not in (first_id, failing_id) else None

    svc = wait_for(rolled_back, timeout=30)
    primary = svc["deployments"][0]
    assert primary["taskDefinition"] == good
    assert primary["rolloutStateReason"] == f"ECS deployment circuit breaker: rolling back to deploymentId {first_id}."
    assert f"(service {name}) (deployment {failing_id}) deployment failed: tasks failed to start." in [
        e["message"] for e in svc["events"]
    ]
    assert svc["taskDefinition"] == good

    ecs.get_waiter("services_stable").wait(cluster=sandbox.cluster, services=[name], WaiterConfig={"Delay": 1})
    svc = ecs.describe_services(cluster=sandbox.cluster, services=[name])["services"][0]
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert svc["deployments"][0]["taskDefinition"] == good


def test_circuit_breaker_without_rollback_leaves_the_deployment_failed(sandbox, ecs, register, create_service):
    name = unique("breaker-only")
    create_service(name, register(name, "import time; time.sleep(3600)"), desired=1)
    ecs.get_waiter("services_stable").wait(cluster=sandbox.cluster, services=[name], WaiterConfig={"Delay": 1})
    ecs.update_service(
        cluster=sandbox.cluster,
        service=name,
        taskDefinition=register(name, "raise SystemExit(3)"),
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}},
    )

    def failed() -> dict | None:
        svc = ecs.describe_services(cluster=sandbox.cluster, services=[name])["services"][0]
        return svc if svc["deployments"][0]["rolloutState"] == "FAILED" else None

    svc = wait_for(failed, timeout=30)
    primary, previous = svc["deployments"]
    assert primary["failedTasks"] == 3  # ECS's threshold for a desired count of 1
    assert primary["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert f"(service {name}) (deployment {primary['id']}) deployment failed: tasks failed to start." == svc[
        "events"
    ][0]["message"]
    # minimumHealthyPercent 100 kept the old task running throughout.
    assert previous["runningCount"] == 1 and svc["runningCount"] == 1


def test_circuit_breaker_threshold_is_ecs_formula():
    from fleetctl.sandbox.runner.scheduler import failure_threshold

    assert [failure_threshold(n) for n in (0, 1, 6, 7, 10, 399, 400, 1000)] == [3, 3, 3, 4, 5, 200, 200, 200]
