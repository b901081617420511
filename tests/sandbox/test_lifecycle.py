"""`up` / `status` / `down` through the real CLI, checked by pid and by listening socket."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from fleetctl.sandbox.auth import Credentials
from fleetctl.sandbox.procs import ProcRef
from tests.sandbox.conftest import repo_root, wait_for


def cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetctl.sandbox", *args], cwd=repo_root(), capture_output=True, text=True, timeout=timeout
    )


def listening(pids: set[int]) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state owned by one of ``pids``."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except (FileNotFoundError, PermissionError):
            continue
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:
                continue
            hex_addr, hex_port = local.split(":")
            raw = bytes.fromhex(hex_addr)
            if family == socket.AF_INET:
                address = socket.inet_ntop(family, raw[::-1])
            else:
                address = socket.inet_ntop(family, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
            found.append((address, int(hex_port, 16)))
    return found


def is_loopback(address: str) -> bool:
    return address.startswith("127.") or address in ("::1", "::ffff:127.0.0.1")


def start_a_task(outputs: dict[str, Any]) -> str:
    """A service task with a listening socket of its own, started through the AWS API."""
    kw = dict(endpoint_url=outputs["aws_endpoint_url"], region_name="us-east-1",
              **Credentials.load(Path(outputs["sandbox_credentials_file"])).client_kwargs())  # fmt: skip
    ecr, ecs = boto3.client("ecr", **kw), boto3.client("ecs", **kw)
    ecr.create_repository(repositoryName="tests/lifecycle")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "layers": [{"digest": "sha256:" + "ef" * 32}]}  # fmt: skip
    ecr.put_image(repositoryName="tests/lifecycle", imageManifest=json.dumps(manifest), imageTag="latest")
    code = (
        "import os, socket, time\n"
        "s = socket.socket(); s.bind((os.environ['HOST_IP'], 0)); s.listen()\n"
        "time.sleep(3600)"
    )
    td = ecs.register_task_definition(
        family="lifecycle", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{
            "name": "app", "image": f"{outputs['ecr_registry']}/tests/lifecycle:latest",
            "command": ["python", "-c", code], "dockerLabels": {"fleetctl.sandbox/ip-env": "HOST_IP"},
        }],
    )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
    network = {"awsvpcConfiguration": {"subnets": outputs["private_subnet_ids"],
                                       "securityGroups": [outputs["tasks_security_group_id"]]}}  # fmt: skip
    ecs.create_service(cluster=outputs["ecs_cluster_name"], serviceName="lifecycle", taskDefinition=td,
                       desiredCount=1, launchType="FARGATE", networkConfiguration=network)  # fmt: skip
    ecs.get_waiter("services_stable").wait(
        cluster=outputs["ecs_cluster_name"], services=["lifecycle"], WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return str(ecs.list_tasks(cluster=outputs["ecs_cluster_name"], serviceName="lifecycle")["taskArns"][0])


def our_processes(state_dir: Path) -> set[ProcRef]:
    state = json.loads((state_dir / "state.json").read_text())
    children = json.loads((state_dir / "children.json").read_text())
    return {ProcRef(state["pid"], state["pid_start"])} | {ProcRef.from_json(c) for c in children}


def test_up_status_down_leaves_nothing_behind(tmp_path):
    state_dir = tmp_path / "state"
    up = cli("up", "--dir", str(state_dir))
    assert up.returncode == 0, up.stderr
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in up.stdout
    again = cli("up", "--dir", str(state_dir))
    assert again.returncode == 0 and "already running" in again.stderr

    status = cli("status", "--dir", str(state_dir), "-o", "json")
    assert status.returncode == 0
    report = json.loads(status.stdout)
    assert report["running"] is True and report["crashed"] is False
    outputs = {k: v["value"] for k, v in json.loads(Path(report["info"]["outputs_path"]).read_text()).items()}
    assert outputs["aws_endpoint_url"] == report["info"]["endpoint_url"]

    # only this user can read the state: credentials, logs, outputs
    assert state_dir.stat().st_mode & 0o777 == 0o700
    files = [p for p in state_dir.rglob("*") if p.is_file()]
    assert files and {p.name: p.stat().st_mode & 0o777 for p in files} == {p.name: 0o600 for p in files}
    assert [p for p in state_dir.rglob("*") if p.is_dir() and p.stat().st_mode & 0o077] == []

    start_a_task(outputs)
    processes = wait_for(lambda: len(p := our_processes(state_dir)) >= 3 and p)  # daemon, nats, task
    sockets = listening({p.pid for p in processes})
    ports = {port for _, port in sockets}
    assert int(outputs["aws_endpoint_url"].rsplit(":", 1)[1]) in ports
    assert int(outputs["nats_url"].rsplit(":", 1)[1]) in ports
    assert any(a.startswith("127.1.") for a, _ in sockets)  # the task's own loopback address
    assert [s for s in sockets if not is_loopback(s[0])] == []

    down = cli("down", "--dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert [p for p in processes if p.alive()] == []
    stopped = cli("status", "--dir", str(state_dir))
    assert stopped.returncode == 1 and "stopped" in stopped.stdout


def test_status_detects_a_crashed_daemon_and_down_cleans_up(tmp_path):
    state_dir = tmp_path / "state"
    assert cli("up", "--dir", str(state_dir)).returncode == 0
    processes = our_processes(state_dir)
    daemon_pid = json.loads((state_dir / "state.json").read_text())["pid"]
    os.kill(daemon_pid, signal.SIGKILL)
    wait_for(lambda: not ProcRef.of(daemon_pid).alive())

    status = cli("status", "--dir", str(state_dir))
    assert status.returncode == 1
    assert "crashed" in status.stdout and f"daemon (pid {daemon_pid}) is not running" in status.stdout
    leftovers = [p for p in processes if p.alive()]
    assert leftovers, "nats-server outlives a killed daemon until `down`"

    assert cli("down", "--dir", str(state_dir)).returncode == 0
    assert [p for p in processes if p.alive()] == []


@pytest.mark.parametrize("command", ["status", "build"])
def test_commands_fail_cleanly_when_not_running(tmp_path, command):
    result = cli(command, "--dir", str(tmp_path / "none"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
