"""One canary secret planted in every input path never comes out of any command.

Inputs: an environment variable the manifest interpolates (allowed name and credential name),
a literal secret in the manifest's environment, NATS URL userinfo, a .creds file, the probe's
password, a sensitive terraform output, AWS credentials in the environment. Commands: validate,
render, plan, diff, apply, status, probe, diagnose, logs, rollback and `controller run` — on a
manifest that is refused and on one that works against the sandbox. Commands may fail; none
may print the canary (stdout and stderr)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from tests.conftest import REPO, run_cli

CANARY = "Canary7f3e9c2b1aZ"
ENV = {
    "BUILD_LABEL": CANARY,          # interpolated by the working manifest (an ordinary name)
    "FLEET_API_TOKEN": CANARY,      # interpolated by the refused manifest (a credential name)
    "NATS_PASSWORD": CANARY,        # the probe's password (--password's environment variable)
    "AWS_SECRET_ACCESS_KEY": CANARY,
    "AWS_SESSION_TOKEN": CANARY,
}
CREDS = f"""-----BEGIN NATS USER JWT-----
ey{CANARY}
------END NATS USER JWT------

-----BEGIN USER NKEY SEED-----
SU{CANARY}
------END USER NKEY SEED------
"""


def _check(results: dict[str, object]) -> None:
    leaks = [name for name, r in results.items() if CANARY in r.stdout + r.stderr]
    assert not leaks, "canary printed by: " + ", ".join(leaks) + "\n" + "\n".join(
        f"--- {n}\n{results[n].stdout}\n{results[n].stderr}" for n in leaks)
    for name, r in results.items():
        assert "Traceback" not in r.stderr, f"{name}:\n{r.stderr}"


def _run_all(commands: dict[str, list[str]]) -> dict[str, object]:
    with ThreadPoolExecutor(4) as pool:
        futures = {name: pool.submit(run_cli, *args, env=ENV, timeout=120) for name, args in commands.items()}
        return {name: f.result() for name, f in futures.items()}


def _commands(manifest: str, outputs: str, creds: str, service: str) -> dict[str, list[str]]:
    tf = ["--tf-outputs", outputs]
    return {
        "validate": ["validate", manifest, *tf, "-o", "json"],
        "render": ["render", manifest, *tf],
        "render-json": ["render", manifest, *tf, "-o", "json"],
        "plan": ["plan", manifest, *tf],
        "plan-json": ["plan", manifest, *tf, "-o", "json"],
        "diff": ["diff", manifest, *tf],
        "status": ["status", manifest, *tf, "-o", "json"],
        "probe-password": ["probe", manifest, *tf, "--user", "fleetctl", "--timeout", "1s"],
        "probe-creds": ["probe", manifest, *tf, "--creds", creds, "--timeout", "1s", "-o", "json"],
        "diagnose": ["diagnose", manifest, *tf, "--creds", creds, "-o", "json"],
        "logs": ["logs", service, "-m", manifest, *tf],
        "rollback": ["rollback", service, "-m", manifest, *tf, "--no-wait"],
    }


def _controller_run(manifest: str, outputs: str) -> object:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetctl.cli", "controller", "run", manifest, "--tf-outputs", outputs,
         "--interval", "1s", "--health-port", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **ENV},
    )
    seen = ""
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            line = proc.stderr.readline()
            seen += line
            if "health endpoints" in line or "controller started" in line:
                time.sleep(2)  # a pass or two
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, seen + err)


def _planted(make_fleet, tmp_path):
    fleet = make_fleet(["settings"])
    outputs = json.loads(fleet.outputs.read_text())
    outputs["db_password"] = {"value": CANARY, "sensitive": True, "type": "string"}
    fleet.outputs.write_text(json.dumps(outputs))
    creds = tmp_path / "fleetctl.creds"
    creds.write_text(CREDS)
    return fleet, creds


@pytest.mark.timeout(480)  # ~14 CLI processes each; minutes on a loaded 2-core machine
def test_a_refused_manifest_prints_no_planted_secret(make_fleet, tmp_path):
    fleet, creds = _planted(make_fleet, tmp_path)
    # every path a secret can enter through at once
    refused = json.loads(json.dumps(fleet.doc))
    svc = refused["spec"]["services"][0]
    svc["environment"] = {"HARMLESS": "${FLEET_API_TOKEN}", "DB_PASSWORD": CANARY}
    svc["secrets"] = {"DB": "${tf:db_password}"}
    refused["spec"]["nats"]["urls"] = [f"nats://fleetctl:{CANARY}@127.0.0.1:4222"]
    refused_path = tmp_path / "refused.yaml"
    refused_path.write_text(yaml.safe_dump(refused, sort_keys=False))
    results = _run_all(_commands(str(refused_path), str(fleet.outputs), str(creds), "settings"))
    results["apply"] = run_cli("apply", str(refused_path), "--tf-outputs", str(fleet.outputs), env=ENV)
    results["controller run"] = _controller_run(str(refused_path), str(fleet.outputs))
    for name, r in results.items():
        assert getattr(r, "code", getattr(r, "returncode", None)) == 2, (name, r)
    _check(results)


@pytest.mark.timeout(480)  # ~14 CLI processes each; minutes on a loaded 2-core machine
def test_a_working_fleet_prints_no_planted_secret(make_fleet, tmp_path):
    fleet, creds = _planted(make_fleet, tmp_path)
    # the canary travels as an interpolated environment value into the task definition
    fleet.service("settings")["environment"] = {"BUILD_LABEL": "${BUILD_LABEL}"}
    fleet.write()
    args = [str(fleet.manifest), "--tf-outputs", str(fleet.outputs)]
    applied = {"apply": run_cli("apply", *args, "--no-wait", env=ENV, timeout=120)}
    assert applied["apply"].code == 0, applied["apply"].stderr
    results = _run_all(_commands(str(fleet.manifest), str(fleet.outputs), str(creds), "settings"))
    results.update(applied)
    results["controller run"] = _controller_run(str(fleet.manifest), str(fleet.outputs))
    _check(results)
    # the variable is in the rendered task definition, its value masked
    assert results["render"].code == 0 and "name: BUILD_LABEL" in results["render"].stdout
