"""A service runs for real: tasks RUNNING, counts, waiters, logs, rolling deployments."""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import Any

from tests.sandbox.conftest import describe_task, log_messages, repo_root, unique, wait_for, wait_stopped


def service(ecs: Any, cluster: str, name: str) -> dict[str, Any]:
    return dict(ecs.describe_services(cluster=cluster, services=[name])["services"][0])


def test_desired_two_reaches_two_running_tasks(sandbox, ecs, logs, register, create_service):
    name = unique("steady")
    td = register(name, "import time\nprint('ready', flush=True)\ntime.sleep(3600)")
    created = create_service(name, td, desired=2)
    assert created["pendingCount"] == 0 and created["runningCount"] == 0

    ecs.get_waiter("services_stable").wait(
        cluster=sandbox.cluster, services=[name], WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    svc = service(ecs, sandbox.cluster, name)
    assert (svc["desiredCount"], svc["runningCount"], svc["pendingCount"]) == (2, 2, 0)
    [deployment] = svc["deployments"]
    assert deployment["status"] == "PRIMARY" and deployment["rolloutState"] == "COMPLETED"
    assert (deployment["runningCount"], deployment["pendingCount"], deployment["failedTasks"]) == (2, 0, 0)
    messages = [e["message"] for e in svc["events"]]
    assert messages[0] == f"(service {name}) has reached a steady state."
    assert f"(service {name}) (deployment {deployment['id']}) deployment completed." in messages
    assert any(m.startswith(f"(service {name}) has started 2 tasks: (task ") for m in messages)

    arns = ecs.list_tasks(cluster=sandbox.cluster, serviceName=name)["taskArns"]
    assert len(arns) == 2
    tasks = ecs.describe_tasks(cluster=sandbox.cluster, tasks=arns)["tasks"]
    for task in tasks:
        assert task["lastStatus"] == "RUNNING" and task["desiredStatus"] == "RUNNING"
        assert task["group"] == f"service:{name}"
        assert task["startedBy"] == deployment["id"]
        assert task["containers"][0]["lastStatus"] == "RUNNING"
        assert "exitCode" not in task["containers"][0]
        assert wait_for(lambda t=task: log_messages(sandbox, logs, t["taskArn"]) == ["ready"])


def test_awsvpc_tasks_get_their_own_loopback_address(sandbox, ecs, register, run_task):
    td = register(unique("ip"), "import time; time.sleep(3600)")
    arns = [run_task(td), run_task(td)]
    addresses = []
    for arn in arns:
        task = wait_for(lambda a=arn: (t := describe_task(sandbox, ecs, a))["lastStatus"] == "RUNNING" and t)
        details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
        address = details["privateIPv4Address"]
        assert ipaddress.ip_address(address).is_loopback
        assert task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] == address
        eni = sandbox.client("ec2").describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])
        assert eni["NetworkInterfaces"][0]["PrivateIpAddress"] == address
        addresses.append(address)
    assert len(set(addresses)) == 2
    for arn in arns:
        ecs.stop_task(cluster=sandbox.cluster, task=arn)


def test_task_environment_is_the_task_definition_plus_path_and_the_metadata_endpoint(sandbox, ecs, logs, register, run_task):
    code = "import os, sys; print(sorted(os.environ)); print(sys.executable); print(os.getcwd())"
    arn = run_task(register(unique("env"), code, environment=[{"name": "GREETING", "value": "hi"}]))
    wait_stopped(sandbox, ecs, arn)
    names, executable, cwd = log_messages(sandbox, logs, arn)
    # Python itself may add LC_CTYPE when it coerces the C locale; the ECS agent gives every
    # container ECS_CONTAINER_METADATA_URI_V4.
    assert set(eval(names)) - {"LC_CTYPE"} == {"GREETING", "PATH", "ECS_CONTAINER_METADATA_URI_V4"}
    assert os.path.dirname(executable) == os.path.dirname(sys.executable)
    assert cwd == str(repo_root())


def test_ip_env_label_passes_the_task_address(sandbox, ecs, logs, register, run_task):
    code = "import os; print(os.environ['HOST_IP'])"
    arn = run_task(register(unique("hostip"), code, dockerLabels={"fleetctl.sandbox/ip-env": "HOST_IP"}))
    task = wait_stopped(sandbox, ecs, arn)
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert log_messages(sandbox, logs, arn) == [details["privateIPv4Address"]]


def test_new_task_definition_rolls_out_a_new_deployment(sandbox, ecs, register, create_service):
    name = unique("roll")
    first = register(name, "import time; time.sleep(3600)")
    create_service(name, first, desired=1)
    ecs.get_waiter("services_stable").wait(cluster=sandbox.cluster, services=[name], WaiterConfig={"Delay": 1})
    old_arns = ecs.list_tasks(cluster=sandbox.cluster, serviceName=name)["taskArns"]

    second = register(name, "import time; time.sleep(3601)")
    updated = ecs.update_service(cluster=sandbox.cluster, service=name, taskDefinition=second)["service"]
    assert [d["status"] for d in updated["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert updated["deployments"][0]["taskDefinition"] == second
    assert updated["deployments"][0]["rolloutState"] == "IN_PROGRESS"

    # minimumHealthyPercent 100: the old task keeps running until the new one runs.
    def observed() -> tuple[int, int]:
        svc = service(ecs, sandbox.cluster, name)
        assert svc["runningCount"] >= 1
        return svc

    wait_for(lambda: len((s := observed())["deployments"]) == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED")
    ecs.get_waiter("services_stable").wait(cluster=sandbox.cluster, services=[name], WaiterConfig={"Delay": 1})
    [arn] = ecs.list_tasks(cluster=sandbox.cluster, serviceName=name)["taskArns"]
    assert describe_task(sandbox, ecs, arn)["taskDefinitionArn"] == second
    old = describe_task(sandbox, ecs, old_arns[0])
    assert old["lastStatus"] == "STOPPED"
    assert old["stopCode"] == "ServiceSchedulerInitiated"
    assert old["stoppedReason"].startswith("Scaling activity initiated by (deployment ecs-svc/")
    assert old["containers"][0]["exitCode"] == 143


def test_scaling_in_stops_tasks_and_counts_follow(sandbox, ecs, register, create_service):
    name = unique("scale")
    create_service(name, register(name), desired=3)
    ecs.get_waiter("services_stable").wait(cluster=sandbox.cluster, services=[name], WaiterConfig={"Delay": 1})
    updated = ecs.update_service(cluster=sandbox.cluster, service=name, desiredCount=1)["service"]
    assert updated["runningCount"] == 3  # real counts, not desiredCount
    ecs.get_waiter("services_stable").wait(cluster=sandbox.cluster, services=[name], WaiterConfig={"Delay": 1})
    svc = service(ecs, sandbox.cluster, name)
    assert (svc["runningCount"], svc["deployments"][0]["runningCount"]) == (1, 1)
    running = ecs.list_tasks(cluster=sandbox.cluster, serviceName=name, desiredStatus="RUNNING")["taskArns"]
    assert len(running) == 1


def test_deleting_a_service_stops_its_tasks(sandbox, ecs, register, create_service):
    name = unique("delete")
    create_service(name, register(name), desired=1)
    ecs.get_waiter("services_stable").wait(cluster=sandbox.cluster, services=[name], WaiterConfig={"Delay": 1})
    arns = ecs.list_tasks(cluster=sandbox.cluster, serviceName=name)["taskArns"]
    ecs.delete_service(cluster=sandbox.cluster, service=name, force=True)
    ecs.get_waiter("tasks_stopped").wait(cluster=sandbox.cluster, tasks=arns, WaiterConfig={"Delay": 1})


def test_non_essential_container_exit_keeps_the_task_running(sandbox, ecs, logs, register, run_task, image):
    sidecar = {
        "name": "sidecar",
        "image": image,
        "essential": False,
        "command": ["python", "-c", "print('sidecar done')"],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": sandbox.outputs["log_group_name"], "awslogs-stream-prefix": "ecs"},
        },
    }
    td_arn = register(unique("sidecar"), "import time; time.sleep(3600)")
    definition = ecs.describe_task_definition(taskDefinition=td_arn)["taskDefinition"]
    td = ecs.register_task_definition(
        family=definition["family"], networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512", containerDefinitions=[definition["containerDefinitions"][0], sidecar],
    )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
    arn = run_task(td)

    def sidecar_stopped() -> dict[str, Any] | None:
        task = describe_task(sandbox, ecs, arn)
        side = next(c for c in task["containers"] if c["name"] == "sidecar")
        return task if side["lastStatus"] == "STOPPED" and task["lastStatus"] == "RUNNING" else None

    task = wait_for(sidecar_stopped)
    app, side = sorted(task["containers"], key=lambda c: c["name"])
    assert (app["lastStatus"], side["exitCode"]) == ("RUNNING", 0)
    assert log_messages(sandbox, logs, arn, container="sidecar") == ["sidecar done"]
    ecs.stop_task(cluster=sandbox.cluster, task=arn)
    task = wait_stopped(sandbox, ecs, arn)
    assert {c["name"]: c["exitCode"] for c in task["containers"]} == {"app": 143, "sidecar": 0}
