"""What the fault suite measures, shared by its tests and `bench/faults/run.py`.

- `run_fleetctl`: the real CLI in its own process, pointed at the sandbox through a proxy.
- `run_with_kill`: a crash-point runner: the proxy SIGKILLs the process right after the Nth write
  call was answered upstream (the server acted; the process never saw the reply).
- `duplicate_revisions`: ACTIVE revisions of a family whose content another revision already has.
- `rollouts`: UpdateService calls that changed a service's task definition, per service.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


def control(proxy_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{proxy_url}/_faults/{path}", data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def point_outputs_at(outputs: Path, proxy_url: str) -> None:
    """Make a terraform-outputs file send the fleet's AWS calls through the proxy."""
    doc = json.loads(outputs.read_text())
    doc["aws_endpoint_url"]["value"] = proxy_url
    outputs.write_text(json.dumps(doc))


def _cmd(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "fleetctl.cli", *args]


def _env(env: dict[str, str] | None) -> dict[str, str]:
    base = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(REPO)}
    return {**base, **(env or {})}


def run_fleetctl(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> Run:
    started = time.monotonic()
    proc = subprocess.run(_cmd(list(args)), cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env=_env(env))
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def start_fleetctl(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(_cmd(list(args)), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(env))


def run_with_kill(proxy_url: str, after_writes: int, *args: str, timeout: float = 300,
                  env: dict[str, str] | None = None) -> Run:
    """Run fleetctl; SIGKILL it right after its `after_writes`-th write call was answered upstream.

    Returns the run (code -9 when the kill happened; the process may also finish first)."""
    started = time.monotonic()
    proc = start_fleetctl(*args, env=env)
    control(proxy_url, "config", {**control_config(proxy_url), "kill_pid": proc.pid,
                                  "kill_after_writes": after_writes})
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        control(proxy_url, "config", {**control_config(proxy_url), "kill_pid": None, "kill_after_writes": None})
    return Run(proc.returncode, out, err, time.monotonic() - started)


_configs: dict[str, dict[str, Any]] = {}


def configure(proxy_url: str, **config: Any) -> None:
    """Set the proxy's faults (kept, so a crash-point run can add its kill to them)."""
    _configs[proxy_url] = config
    control(proxy_url, "config", config)


def control_config(proxy_url: str) -> dict[str, Any]:
    return dict(_configs.get(proxy_url, {}))


def _normalised(td: dict[str, Any]) -> str:
    from fleetctl.controller import normalize

    return json.dumps(normalize.task_definition(td), sort_keys=True)


def duplicate_revisions(ecs: Any, families: list[str]) -> int:
    """ACTIVE revisions whose content an earlier ACTIVE revision of the same family already has."""
    dup = 0
    for family in families:
        arns = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
        contents = Counter(_normalised(ecs.describe_task_definition(taskDefinition=a)["taskDefinition"])
                           for a in arns if a.rsplit("/", 1)[-1].split(":")[0] == family)
        dup += sum(n - 1 for n in contents.values())
    return dup


def rollouts(writes: list[list[Any]] | list[tuple[Any, ...]]) -> Counter[str]:
    """Successful UpdateService calls per service (from the proxy's write log)."""
    return Counter(name for op, name, status in writes if op == "ecs.UpdateService" and status < 300)


def rollouts_started(updates: list[list[Any]] | list[tuple[Any, ...]]) -> Counter[str]:
    """Rollouts per service from the proxy's UpdateService log: distinct task definitions asked for.
    A retried UpdateService whose first reply was lost names the same revision and starts nothing
    (ECS starts a deployment only for a new task definition)."""
    return Counter(service for service, _td in {tuple(u) for u in updates})


def registrations(writes: list[list[Any]] | list[tuple[Any, ...]]) -> Counter[str]:
    return Counter(name for op, name, status in writes if op == "ecs.RegisterTaskDefinition" and status < 300)
