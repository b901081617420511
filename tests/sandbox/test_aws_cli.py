"""The AWS CLI pointed at the sandbox (--endpoint-url) sees what fleetctl's clients see.

The CLI is the pinned awscli of bench/requirements.txt, in a virtualenv of its own like .venv-bench
(it pins a botocore of its own, so it cannot share fleetctl's); the fixture creates it when missing,
in the tool cache outside the checkout (tests/toolcache.py).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.conftest import log_messages, unique, wait_for
from tests.toolcache import installing, tool_venv

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def aws_cli() -> Path:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from harness import REQUIREMENTS, ensure_bench_venv
    finally:
        sys.path.remove(str(REPO / "bench"))
    venv = tool_venv("bench", REQUIREMENTS.read_text())
    with installing(venv):
        ensure_bench_venv(log=lambda *_: None, venv=venv)
    return venv / "bin" / "aws"


def aws(cli: Path, endpoint: str, credentials: dict[str, str], *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(credentials, AWS_DEFAULT_REGION="us-east-1")
    out = subprocess.run([str(cli), "--endpoint-url", endpoint, "--output", "json", *args],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_aws_cli_sees_the_same_services_tasks_and_log_events(sandbox, ecs, logs, register, create_service, aws_cli):
    name = unique("cli")
    td = register(name, "print('hello from the sandbox', flush=True)\nimport time\ntime.sleep(3600)")
    create_service(name, td, desired=1)
    tasks = wait_for(lambda: ecs.list_tasks(cluster=sandbox.cluster, serviceName=name)["taskArns"])
    wait_for(lambda: "hello from the sandbox" in log_messages(sandbox, logs, tasks[0]))
    endpoint = sandbox.info.endpoint_url
    creds = sandbox.info.credentials().env()

    listed = aws(aws_cli, endpoint, creds, "ecs", "list-services", "--cluster", sandbox.cluster)["serviceArns"]
    assert sorted(listed) == sorted(ecs.list_services(cluster=sandbox.cluster)["serviceArns"])

    described = aws(aws_cli, endpoint, creds, "ecs", "describe-services", "--cluster", sandbox.cluster, "--services", name)
    (svc,) = described["services"]
    assert svc["runningCount"] == 1 and svc["deployments"][0]["rolloutState"] == "COMPLETED"

    cli_tasks = aws(aws_cli, endpoint, creds, "ecs", "list-tasks", "--cluster", sandbox.cluster, "--service-name", name)
    assert cli_tasks["taskArns"] == tasks
    (task,) = aws(aws_cli, endpoint, creds, "ecs", "describe-tasks", "--cluster", sandbox.cluster, "--tasks", tasks[0])["tasks"]
    assert task["lastStatus"] == "RUNNING" and task["group"] == f"service:{name}"

    stream = f"ecs/app/{tasks[0].rsplit('/', 1)[-1]}"
    events = aws(aws_cli, endpoint, creds, "logs", "get-log-events", "--log-group-name", sandbox.outputs["log_group_name"],
                 "--log-stream-name", stream)["events"]
    assert "hello from the sandbox" in [e["message"] for e in events]
