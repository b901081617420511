"""Any AWS client pointed at the endpoint sees the same state: plain boto3 configured only
by the environment `status` prints (the AWS CLI is not installed), and aiobotocore."""

from __future__ import annotations

import subprocess
import sys

import boto3
from aiobotocore.session import get_session

from tests.sandbox.conftest import log_messages, repo_root, unique, wait_for


def test_plain_boto3_from_the_exported_environment(sandbox, ecs, logs, register, create_service, monkeypatch):
    name = unique("plain")
    create_service(name, register(name, "print('seen by every client', flush=True); import time; time.sleep(3600)"))
    ecs.get_waiter("services_stable").wait(cluster=sandbox.cluster, services=[name], WaiterConfig={"Delay": 1})
    [arn] = ecs.list_tasks(cluster=sandbox.cluster, serviceName=name)["taskArns"]
    wait_for(lambda: log_messages(sandbox, logs, arn))

    status = subprocess.run(
        [sys.executable, "-m", "fleetctl.sandbox", "status", "--dir", str(sandbox.info.state_dir)],
        capture_output=True, text=True, check=True, cwd=repo_root(),
    )  # fmt: skip
    [export] = [line for line in status.stdout.splitlines() if line.startswith("export ")]
    for assignment in export.split()[1:]:
        key, _, value = assignment.partition("=")
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    session = boto3.session.Session()
    plain_ecs, plain_logs = session.client("ecs"), session.client("logs")
    assert plain_ecs.meta.endpoint_url == sandbox.info.endpoint_url

    assert any(a.endswith(f"/{name}") for a in plain_ecs.list_services(cluster=sandbox.cluster)["serviceArns"])
    svc = plain_ecs.describe_services(cluster=sandbox.cluster, services=[name])["services"][0]
    assert svc["runningCount"] == 1
    assert plain_ecs.list_tasks(cluster=sandbox.cluster, serviceName=name)["taskArns"] == [arn]
    stream = f"ecs/app/{arn.split('/')[-1]}"
    events = plain_logs.filter_log_events(
        logGroupName=sandbox.outputs["log_group_name"], logStreamNames=[stream]
    )["events"]
    assert [e["message"] for e in events] == ["seen by every client"]


async def test_aiobotocore_sees_running_tasks(sandbox, ecs, register, create_service):
    name = unique("aio")
    create_service(name, register(name), desired=2)
    async with get_session().create_client(
        "ecs", endpoint_url=sandbox.info.endpoint_url, region_name="us-east-1",
        **sandbox.info.credentials().client_kwargs(),
    ) as client:  # fmt: skip
        waiter = client.get_waiter("services_stable")
        await waiter.wait(cluster=sandbox.cluster, services=[name], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        arns = (await client.list_tasks(cluster=sandbox.cluster, serviceName=name))["taskArns"]
        tasks = (await client.describe_tasks(cluster=sandbox.cluster, tasks=arns))["tasks"]
    assert len(tasks) == 2 and {t["lastStatus"] for t in tasks} == {"RUNNING"}
