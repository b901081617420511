"""Fixtures: one real sandbox daemon for the session, boto3 clients over HTTP, helpers."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from fleetctl.sandbox import api
from fleetctl.sandbox.config import SandboxConfig

# Short timings keep the suite fast; the behaviour is the same as with the defaults.
TEST_CONFIG = SandboxConfig(
    startup_grace=0.5,
    tick=0.1,
    backoff_base=0.2,
    backoff_max=2.0,
    default_stop_timeout=5.0,
    shutdown_stop_timeout=2.0,
)


@dataclass
class Sandbox:
    info: api.SandboxInfo
    outputs: dict[str, Any]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.info.endpoint_url,
            region_name="us-east-1",
            **self.info.credentials().client_kwargs(),
        )

    @property
    def cluster(self) -> str:
        return str(self.outputs["ecs_cluster_name"])

    @property
    def network(self) -> dict[str, Any]:
        return {
            "awsvpcConfiguration": {
                "subnets": self.outputs["private_subnet_ids"],
                "securityGroups": [self.outputs["tasks_security_group_id"]],
                "assignPublicIp": "DISABLED",
            }
        }


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    state_dir = tmp_path_factory.mktemp("sandbox-state")
    info = api.ensure_running(state_dir, TEST_CONFIG)
    outputs = {k: v["value"] for k, v in json.loads(info.outputs_path.read_text()).items()}
    try:
        yield Sandbox(info, outputs)
    finally:
        report = api.stop(state_dir)
        assert not report.survivors


@pytest.fixture(scope="session")
def ecs(sandbox: Sandbox) -> Any:
    return sandbox.client("ecs")


@pytest.fixture(scope="session")
def logs(sandbox: Sandbox) -> Any:
    return sandbox.client("logs")


@pytest.fixture(scope="session")
def image(sandbox: Sandbox) -> str:
    """A sandbox ECR image (repository:tag) that test task definitions run."""
    ecr = sandbox.client("ecr")
    ecr.create_repository(repositoryName="tests/python")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "layers": [{"digest": "sha256:" + "ab" * 32, "size": 0}],
        }
    )
    ecr.put_image(repositoryName="tests/python", imageManifest=manifest, imageTag="3.11")
    return f"{sandbox.outputs['ecr_registry']}/tests/python:3.11"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def register(sandbox: Sandbox, ecs: Any, image: str) -> Callable[..., str]:
    """Register a one-container awsvpc task definition running ``python -c CODE``."""

    def register(family: str, code: str | None = None, *, command: list[str] | None = None, **container: Any) -> str:
        definition = {
            "name": "app",
            "image": image,
            "command": command or ["python", "-c", code or "import time; time.sleep(3600)"],
            "environment": [{"name": "PYTHONUNBUFFERED", "value": "1"}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": sandbox.outputs["log_group_name"],
                    "awslogs-region": "us-east-1",
                    "awslogs-stream-prefix": "ecs",
                },
            },
        }
        definition.update(container)
        return str(
            ecs.register_task_definition(
                family=family,
                networkMode="awsvpc",
                requiresCompatibilities=["FARGATE"],
                cpu="256",
                memory="512",
                executionRoleArn=sandbox.outputs["task_execution_role_arn"],
                containerDefinitions=[definition],
            )["taskDefinition"]["taskDefinitionArn"]
        )

    return register


@pytest.fixture(scope="session")
def create_service(sandbox: Sandbox, ecs: Any) -> Callable[..., dict[str, Any]]:
    def create(name: str, task_definition: str, desired: int = 1, breaker: bool = False) -> dict[str, Any]:
        return dict(
            ecs.create_service(
                cluster=sandbox.cluster,
                serviceName=name,
                taskDefinition=task_definition,
                desiredCount=desired,
                launchType="FARGATE",
                networkConfiguration=sandbox.network,
                deploymentConfiguration={
                    "deploymentCircuitBreaker": {"enable": breaker, "rollback": breaker},
                    "maximumPercent": 200,
                    "minimumHealthyPercent": 100,
                },
            )["service"]
        )

    return create


@pytest.fixture(scope="session")
def run_task(sandbox: Sandbox, ecs: Any) -> Callable[[str], str]:
    """RunTask a standalone task; returns its ARN."""

    def run(task_definition: str) -> str:
        response = ecs.run_task(
            cluster=sandbox.cluster,
            taskDefinition=task_definition,
            launchType="FARGATE",
            networkConfiguration=sandbox.network,
        )
        return str(response["tasks"][0]["taskArn"])

    return run


def wait_for(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def describe_task(sandbox: Sandbox, ecs: Any, arn: str) -> dict[str, Any]:
    return dict(ecs.describe_tasks(cluster=sandbox.cluster, tasks=[arn])["tasks"][0])


def wait_stopped(sandbox: Sandbox, ecs: Any, arn: str, timeout: float = 20.0) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: (t := describe_task(sandbox, ecs, arn))["lastStatus"] == "STOPPED" and t,
            timeout,
        )
    )


def log_messages(sandbox: Sandbox, logs: Any, task_arn: str, container: str = "app") -> list[str]:
    stream = f"ecs/{container}/{task_arn.split('/')[-1]}"
    events = logs.get_log_events(
        logGroupName=sandbox.outputs["log_group_name"], logStreamName=stream, startFromHead=True
    )["events"]
    return [e["message"] for e in events]


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
