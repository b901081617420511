"""A daemon with a short retention: STOPPED tasks are pruned; a moto reset ends local tasks."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from sandbox import api
from sandbox.procs import ProcRef
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


def test_moto_reset_stops_local_tasks_and_the_runner_carries_on(short_lived):
    ecs = short_lived.client("ecs")
    arn = _run(short_lived, "import time; time.sleep(3600)")
    wait_for(lambda: ecs.describe_tasks(cluster=short_lived.cluster, tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING")
    children = json.loads((short_lived.info.state_dir / "children.json").read_text())
    nats = ProcRef.from_json(children[-1])
    task_processes = [ProcRef.from_json(c) for c in children[:-1]]
    assert task_processes

    request = urllib.request.Request(f"{short_lived.info.endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).read()
    wait_for(lambda: not any(p.alive() for p in task_processes), timeout=10)
    assert nats.alive()

    # The runner uses the new backends: a task in a new cluster runs (no VPC exists now).
    ecs.create_cluster(clusterName="after-reset")
    arn = str(
        ecs.run_task(cluster="after-reset", taskDefinition=_task_definition(short_lived, "print(1)", "bridge"),
                     launchType="FARGATE")["tasks"][0]["taskArn"]
    )  # fmt: skip
    task = wait_for(lambda: (t := ecs.describe_tasks(cluster="after-reset", tasks=[arn])["tasks"][0])["lastStatus"] == "STOPPED" and t)
    assert task["containers"][0]["exitCode"] == 0
