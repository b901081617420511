"""A daemon with a short retention: STOPPED tasks are pruned; a moto reset ends local tasks."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from fleetctl.sandbox import api
from tests.sandbox.conftest import TEST_CONFIG, Sandbox, wait_for


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    from dataclasses import replace

    state_dir = tmp_path_factory.mktemp("housekeeping")
    info = api.ensure_running(state_dir, replace(TEST_CONFIG, stopped_task_retention=1.0))
    outputs = {k: v["value"] for k, v in json.loads(info.outputs_path.read_text()).items()}
    try:
        yield Sandbox(info, outputs)
    finally:
        assert not api.stop(state_dir).survivors


def _task_definition(sb: Sandbox, code: str, network_mode: str = "awsvpc") -> str:
    ecr, ecs = sb.client("ecr"), sb.client("ecs")
    if not ecr.describe_repositories()["repositories"] or "tests/hk" not in [
        r["repositoryName"] for r in ecr.describe_repositories()["repositories"]
    ]:
        ecr.create_repository(repositoryName="tests/hk")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "layers": [{"digest": "sha256:" + "12" * 32}]}  # fmt: skip
        ecr.put_image(repositoryName="tests/hk", imageManifest=json.dumps(manifest), imageTag="latest")
    return str(
        ecs.register_task_definition(
            family="hk", requiresCompatibilities=["FARGATE"] if network_mode == "awsvpc" else ["EC2"],
            networkMode=network_mode, cpu="256", memory="512",
            containerDefinitions=[{"name": "app", "image": f"{sb.outputs['ecr_registry']}/tests/hk:latest",
                                   "command": ["python", "-c", code]}],
        )["taskDefinition"]["taskDefinitionArn"]
    )  # fmt: skip


def _run(sb: Sandbox, code: str) -> str:
    return str(
        sb.client("ecs").run_task(
            cluster=sb.cluster, taskDefinition=_task_definition(sb, code), launchType="FARGATE",
            networkConfiguration=sb.network,
        )["tasks"][0]["taskArn"]
    )  # fmt: skip


def test_stopped_tasks_are_pruned_after_the_retention(short_lived):
    ecs = short_lived.client("ecs")
    arn = _run(short_lived, "pass")
    wait_for(lambda: ecs.describe_tasks(cluster=short_lived.cluster, tasks=[arn])["tasks"][0]["lastStatus"] == "STOPPED")
    wait_for(lambda: ecs.describe_tasks(cluster=short_lived.cluster, tasks=[arn])["tasks"] == [], timeout=10)
    assert ecs.list_tasks(cluster=short_lived.cluster, desiredStatus="STOPPED")["taskArns"] == []


def test_moto_reset_stops_local_tasks_and_the_runner_carries_on():
    """A reset of moto's backends (in-process only: ``/moto-api/reset`` is not served over
    HTTP) ends the local tasks; the runner goes on with the new backends."""
    from dataclasses import replace

    import boto3
    from moto.moto_api import state_manager
    from moto.moto_api._internal.models import moto_api_backend

    from fleetctl.sandbox import moto_fixes
    from fleetctl.sandbox.auth import Credentials
    from fleetctl.sandbox.runner.loop import TaskRunner
    from fleetctl.sandbox.server import BACKEND_LOCK, AwsServer

    moto_fixes.apply()
    credentials = Credentials.generate()
    server = AwsServer(credentials)
    url = server.start()
    runner = TaskRunner(replace(TEST_CONFIG, stopped_task_retention=60.0))
    runner.start()
    kw = dict(endpoint_url=url, region_name="us-east-1", **credentials.client_kwargs())
    ecs, ecr = boto3.client("ecs", **kw), boto3.client("ecr", **kw)

    def run(cluster: str, code: str) -> str:
        ecs.create_cluster(clusterName=cluster)
        if "tests/hk" not in [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]:
            ecr.create_repository(repositoryName="tests/hk")
            manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "layers": [{"digest": "sha256:" + "12" * 32}]}  # fmt: skip
            ecr.put_image(repositoryName="tests/hk", imageManifest=json.dumps(manifest), imageTag="latest")
        td = ecs.register_task_definition(
            family="hk", requiresCompatibilities=["EC2"], networkMode="bridge", cpu="256", memory="512",
            containerDefinitions=[{"name": "app", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tests/hk:latest",
                                   "command": ["python", "-c", code]}],
        )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
        return str(ecs.run_task(cluster=cluster, taskDefinition=td, launchType="FARGATE")["tasks"][0]["taskArn"])

    def task(cluster: str, arn: str) -> dict:
        return dict(ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0])

    try:
        arn = run("before-reset", "import time; time.sleep(3600)")
        wait_for(lambda: task("before-reset", arn)["lastStatus"] == "RUNNING")
        task_processes = runner.children()
        assert task_processes and all(p.alive() for p in task_processes)

        with BACKEND_LOCK:
            moto_api_backend.reset()
        wait_for(lambda: not any(p.alive() for p in task_processes), timeout=10)

        arn = run("after-reset", "print(1)")
        stopped = wait_for(lambda: (t := task("after-reset", arn))["lastStatus"] == "STOPPED" and t)
        assert stopped["containers"][0]["exitCode"] == 0
    finally:
        runner.shutdown(2.0)
        server.stop()
        state_manager.unset_transition("ecs::task")
        with BACKEND_LOCK:
            moto_api_backend.reset()
