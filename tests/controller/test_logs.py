"""`fleetctl logs` against the sandbox: CloudWatch Logs written by real task processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, run_cli

TICKER = ["python", "-c", "import time\nfor i in range(100000):\n    print('tick', i, flush=True)\n    time.sleep(0.2)"]


def _wait_running(ecs, cluster: str, service: str, n: int, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        svc = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
        if svc["runningCount"] >= n:
            return
        time.sleep(0.3)
    raise AssertionError(f"{service} did not reach {n} running tasks")


@pytest.mark.timeout(300)  # many CLI processes on a shared machine
def test_logs_newest_task_first_task_filter_and_follow(make_fleet, sandbox_handle):
    fleet = make_fleet(["language_system"], language_system={"command": TICKER, "desiredCount": 2,
                                                                     "healthCheck": False})  # not an SDK service
    args = ["--tf-outputs", str(fleet.outputs), "-m", str(fleet.manifest)]
    assert run_cli("apply", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "--no-wait").code == 0
    ecs = sandbox_handle.client("ecs")
    _wait_running(ecs, fleet.cluster, "language_system", 2)
    time.sleep(1.0)

    out = run_cli("logs", "language_system", *args)
    assert out.code == 0, out.stderr
    headers = [line for line in out.stderr.splitlines() if line.startswith("==> task ")]
    assert len(headers) == 2 and all("RUNNING" in h for h in headers)
    assert "tick 0" in out.stdout
    tasks = ecs.describe_tasks(cluster=fleet.cluster,
                               tasks=ecs.list_tasks(cluster=fleet.cluster, serviceName="language_system")["taskArns"])["tasks"]
    newest = max(tasks, key=lambda t: t["startedAt"])["taskArn"].rsplit("/", 1)[-1]
    assert headers[0].startswith(f"==> task {newest}")

    other = min(tasks, key=lambda t: t["startedAt"])["taskArn"].rsplit("/", 1)[-1]
    one = run_cli("logs", "language_system", *args, "--task", other[:8])
    assert one.code == 0
    assert [h for h in one.stderr.splitlines() if h.startswith("==> task ")] == [
        h for h in headers if h.startswith(f"==> task {other}")]
    assert {line.split()[1] for line in one.stdout.splitlines()} == {other[:8]}

    assert run_cli("logs", "language_system", *args, "--task", "ffffffff").code == 2
    assert run_cli("logs", "no_such_service", *args).code == 2
    assert run_cli("logs", "language_system").code == 2  # no manifest

    # -o json: one object per event; --container picks a container by name
    lines = run_cli("logs", "language_system", *args, "-o", "json", "--container", "language_system").stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert events and {"time", "task", "container", "stream", "message"} <= set(events[0])
    assert {e["container"] for e in events} == {"language_system"} and any(e["message"].startswith("tick") for e in events)
    wrong = run_cli("logs", "language_system", *args, "--container", "nope")
    assert wrong.code == 2 and "no container 'nope'" in wrong.stderr and "language_system" in wrong.stderr
    assert run_cli("logs", "language_system", *args, "--since", "ten minutes").code == 2

    # -f is --follow (kubectl's, docker's), the manifest is -m
    proc = subprocess.Popen([sys.executable, "-m", "fleetctl.cli", "logs", "language_system", *args, "-f",
                             "--since", "1s"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy())
    try:
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(seen) < 6:
            line = proc.stdout.readline()
            if "tick" in line:
                seen.append(int(line.split()[-1]))
        assert len(seen) >= 6, seen
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
