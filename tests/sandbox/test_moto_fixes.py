"""Each fix in sandbox.moto_fixes, against moto served over HTTP without the task runner."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from fleetctl.sandbox import moto_fixes
from fleetctl.sandbox.auth import Credentials
from fleetctl.sandbox.backends import backend
from fleetctl.sandbox.server import BACKEND_LOCK, AwsServer


CREDENTIALS = Credentials.generate()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    moto_fixes.apply()
    server = AwsServer(CREDENTIALS)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1",
        **CREDENTIALS.client_kwargs(),
    )  # fmt: skip


@pytest.fixture(scope="module")
def world(endpoint: str) -> dict[str, Any]:
    ec2, ecs = client(endpoint, "ec2"), client(endpoint, "ecs")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="fixes", Description="fixes", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName="fixes")

    def register(command: str = "1") -> str:
        return str(
            ecs.register_task_definition(
                family="fixes",
                networkMode="awsvpc",
                requiresCompatibilities=["FARGATE"],
                cpu="256",
                memory="512",  # task-level memory only, as Fargate allows
                containerDefinitions=[
                    {"name": "a", "image": "img", "command": ["python", "-c", command]},
                    {"name": "b", "image": "img", "essential": False},
                ],
            )["taskDefinition"]["taskDefinitionArn"]
        )

    return {
        "ecs": ecs,
        "register": register,
        "network": {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg]}},
    }


def create_service(world: dict[str, Any], name: str, **extra: Any) -> dict[str, Any]:
    return dict(
        world["ecs"].create_service(
            cluster="fixes", serviceName=name, taskDefinition=world["register"](), desiredCount=2,
            launchType="FARGATE", networkConfiguration=world["network"], **extra,
        )["service"]
    )  # fmt: skip


def test_create_service_keeps_deployment_configuration_and_tags(world):
    config = {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 150,
        "minimumHealthyPercent": 50,
    }
    created = create_service(world, "keeps", deploymentConfiguration=config, tags=[{"key": "team", "value": "core"}])
    described = world["ecs"].describe_services(cluster="fixes", services=["keeps"], include=["TAGS"])["services"][0]
    for svc in (created, described):
        assert svc["deploymentConfiguration"] == config
        assert svc["tags"] == [{"key": "team", "value": "core"}]
        [deployment] = svc["deployments"]
        assert deployment["status"] == "PRIMARY" and deployment["rolloutState"] == "IN_PROGRESS"
        assert deployment["taskDefinition"] == svc["taskDefinition"]
        assert (svc["runningCount"], svc["pendingCount"], deployment["pendingCount"]) == (0, 0, 0)
    tags = world["ecs"].list_tags_for_resource(resourceArn=created["serviceArn"])["tags"]
    assert tags == [{"key": "team", "value": "core"}]


def test_create_service_fills_ecs_default_deployment_configuration(world):
    created = create_service(world, "defaults")
    assert created["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }


def test_create_service_is_idempotent_per_client_token(world):
    """ECS_Idempotency: the same token and parameters return the service created; anything else
    that would create an existing service is InvalidParameterException, as ECS answers."""
    ecs = world["ecs"]
    params = dict(cluster="fixes", serviceName="tokened", taskDefinition=world["register"](), desiredCount=1,
                  launchType="FARGATE", networkConfiguration=world["network"], clientToken="fleet-tokened-1")
    first = ecs.create_service(**params)["service"]
    retried = ecs.create_service(**params)["service"]  # a retry after a lost reply
    assert retried["serviceArn"] == first["serviceArn"] and retried["createdAt"] == first["createdAt"]
    assert [d["id"] for d in retried["deployments"]] == [d["id"] for d in first["deployments"]]  # no new deployment

    refused = [
        {**params, "desiredCount": 2},                       # same token, other parameters
        {**params, "clientToken": "fleet-tokened-2"},        # another token for a service that exists
        {k: v for k, v in params.items() if k != "clientToken"},
        {**params, "serviceName": "tokened-other"},          # the token reused for another service
    ]
    for attempt in refused:
        with pytest.raises(ClientError) as error:
            ecs.create_service(**attempt)
        assert error.value.response["Error"]["Code"] == "InvalidParameterException"
        assert error.value.response["Error"]["Message"] == "Creation of service was not idempotent."
    [svc] = ecs.describe_services(cluster="fixes", services=["tokened"])["services"]
    assert svc["desiredCount"] == 1 and len(svc["deployments"]) == 1  # nothing was replaced
    assert ecs.describe_services(cluster="fixes", services=["tokened-other"])["failures"]

    # once deleted (INACTIVE) the name may be created again, with a new token
    ecs.delete_service(cluster="fixes", service="tokened", force=True)
    again = ecs.create_service(**{**params, "clientToken": "fleet-tokened-3"})["service"]
    assert again["status"] == "ACTIVE" and again["createdAt"] >= first["createdAt"]


def test_update_service_with_new_task_definition_starts_a_deployment(world):
    created = create_service(world, "deploys")
    family_rev = world["register"]("2").split("/")[-1]  # "fixes:N", as a user may pass it
    updated = world["ecs"].update_service(cluster="fixes", service="deploys", taskDefinition=family_rev, desiredCount=3)[
        "service"
    ]
    assert updated["taskDefinition"].startswith("arn:aws:ecs:") and updated["taskDefinition"].endswith(family_rev)
    primary, previous = updated["deployments"]
    assert (primary["status"], previous["status"]) == ("PRIMARY", "ACTIVE")
    assert previous["id"] == created["deployments"][0]["id"]
    assert primary["taskDefinition"] == updated["taskDefinition"]
    assert primary["desiredCount"] == 3
    assert updated["runningCount"] == 0  # moto would fake runningCount = desiredCount


def test_update_service_desired_count_only_keeps_the_deployment(world):
    created = create_service(world, "scales")
    updated = world["ecs"].update_service(cluster="fixes", service="scales", desiredCount=5)["service"]
    assert [d["id"] for d in updated["deployments"]] == [created["deployments"][0]["id"]]
    assert updated["deployments"][0]["desiredCount"] == 5
    assert updated["runningCount"] == 0


def test_force_new_deployment_starts_a_deployment(world):
    created = create_service(world, "forced")
    updated = world["ecs"].update_service(cluster="fixes", service="forced", forceNewDeployment=True)["service"]
    assert len(updated["deployments"]) == 2
    assert updated["deployments"][1]["id"] == created["deployments"][0]["id"]


def run(world: dict[str, Any], group: str | None = None) -> dict[str, Any]:
    kwargs = {"group": group} if group else {}
    return dict(
        world["ecs"].run_task(
            cluster="fixes", taskDefinition=world["register"](), launchType="FARGATE",
            networkConfiguration=world["network"], **kwargs,
        )["tasks"][0]
    )  # fmt: skip


def test_list_tasks_filters_by_service_name(world):
    mine = run(world, "service:alpha")["taskArn"]
    other = run(world, "service:beta")["taskArn"]
    alpha = world["ecs"].list_tasks(cluster="fixes", serviceName="alpha")["taskArns"]
    assert alpha == [mine]
    assert other not in alpha
    arn_form = world["ecs"].list_tasks(cluster="fixes", serviceName="arn:aws:ecs:us-east-1:123456789012:service/fixes/beta")
    assert arn_form["taskArns"] == [other]


def test_list_tasks_defaults_to_desired_status_running(world):
    arn = run(world, "service:gamma")["taskArn"]
    world["ecs"].stop_task(cluster="fixes", task=arn)
    assert world["ecs"].list_tasks(cluster="fixes", serviceName="gamma")["taskArns"] == []
    stopped = world["ecs"].list_tasks(cluster="fixes", serviceName="gamma", desiredStatus="STOPPED")
    assert stopped["taskArns"] == [arn]


def test_run_task_starts_provisioning_with_every_container(world):
    task = run(world)
    assert task["lastStatus"] == "PROVISIONING" and task["desiredStatus"] == "RUNNING"
    assert [c["name"] for c in task["containers"]] == ["a", "b"]
    for container in task["containers"]:
        assert container["taskArn"] == task["taskArn"]
        assert "exitCode" not in container
        assert container["containerArn"].split("/")[-2] == task["taskArn"].split("/")[-1]
    assert "stoppedReason" not in task
    # moto's own auto-advance would move it on DescribeTasks; the fix keeps it where it is
    # only together with the frozen state manager, so check the stored status directly.
    with BACKEND_LOCK:
        stored = backend("ecs").tasks["fixes"][task["taskArn"]]
        assert stored.containers[0]["lastStatus"] == "PENDING"


def test_stop_task_only_requests_the_stop(world):
    task = run(world)
    answer = world["ecs"].stop_task(cluster="fixes", task=task["taskArn"], reason="please")["task"]
    assert answer["desiredStatus"] == "STOPPED"
    assert answer["lastStatus"] == "PROVISIONING"  # the task runner stops it, not StopTask
    assert answer["stopCode"] == "UserInitiated"
    assert answer["stoppedReason"] == "please"
    assert "stoppingAt" in answer


def test_stop_task_default_reason(world):
    task = run(world)
    answer = world["ecs"].stop_task(cluster="fixes", task=task["taskArn"])["task"]
    assert answer["stoppedReason"] == "Task stopped by user"


def test_task_level_memory_is_enough_for_run_task(world):
    # The task definition's containers have no memory of their own; moto alone returns 500.
    assert run(world)["memory"] == "512"


def test_requests_wait_while_an_in_process_writer_holds_the_lock(world):
    """Every HTTP request runs under BACKEND_LOCK, so a writer holding it is never raced."""
    ecs = world["ecs"]
    done = threading.Event()

    def request() -> None:
        ecs.list_clusters()
        done.set()

    with BACKEND_LOCK:
        thread = threading.Thread(target=request)
        thread.start()
        assert not done.wait(0.5), "a request ran while the backends were locked"
    assert done.wait(10)
    thread.join()
