"""Targeted runs, waiting and watching, output formats and terraform values from state or stdin,
through the real CLI against the sandbox."""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import yaml

import pytest

from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.timeout(300)  # many CLI processes against the sandbox on a shared 2-core machine


def _state(outputs: dict, sensitive: tuple[str, ...] = ()) -> str:
    outs = {k: {**v, "sensitive": k in sensitive} for k, v in outputs.items()}
    return json.dumps({"version": 4, "terraform_version": "1.9.5", "serial": 3, "lineage": "ab12",
                       "outputs": outs, "resources": []})


def test_select_services_wait_and_watch(make_fleet, tmp_path):
    fleet = make_fleet(["settings", "time_manager"])
    tf = ["--tf-outputs", str(fleet.outputs)]
    m = str(fleet.manifest)

    plan = run_cli("plan", m, *tf, "-s", "settings", "-o", "json")
    assert plan.code == 1, plan.stderr
    assert [s["service"] for s in json.loads(plan.stdout)["services"]] == ["settings"]
    assert run_cli("plan", m, *tf, "-s", "settings", "-s", "nope").code == 2
    assert run_cli("apply", m, *tf, "-s", "settings", "--prune").code == 2

    assert run_cli("apply", m, *tf, "-s", "settings", "--no-wait").code == 0
    waited = run_cli("wait", m, *tf, "-s", "settings", "--timeout", "1m30s", timeout=120)
    assert waited.code == 0, waited.stdout + waited.stderr
    assert "settings: ready" in waited.stderr and waited.stdout.startswith("wait finished: 1 ready")
    everything = run_cli("wait", m, *tf, "--timeout", "30s", "-o", "json")
    assert everything.code == 1  # time_manager was never applied: nothing to wait for is a failure
    by = {s["service"]: s for s in json.loads(everything.stdout)["services"]}
    assert by["settings"]["status"] == "ready" and "not found" in by["time_manager"]["message"]

    status = run_cli("status", m, *tf, "-s", "settings", "-o", "yaml")
    assert status.code == 0, status.stderr
    rows = yaml.safe_load(status.stdout)["services"]
    assert [r["service"] for r in rows] == ["settings"] and rows[0]["desired"] == rows[0]["running"] == 1
    diff = run_cli("diff", m, *tf, "-s", "settings", "-o", "yaml")
    body = yaml.safe_load(diff.stdout)
    assert diff.code == 0 and body["inSync"] is True and body["unchanged"] == ["settings"]

    # status --watch: the live view on stderr until Ctrl-C, then the table on stdout
    proc = subprocess.Popen([sys.executable, "-m", "fleetctl.cli", "status", m, *tf, "-s", "settings", "--watch",
                             "--interval", "500ms"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=os.environ.copy())
    try:
        line = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "settings:" not in line:
            line = proc.stderr.readline()
        assert "settings: desired 1 running 1" in line and line.rstrip().endswith("ready"), line
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0
        assert out.splitlines()[-1] == "1/1 services Ready"
    finally:
        if proc.poll() is None:
            proc.kill()

    # terraform values: a v4 state file, and `terraform output -json` on stdin
    outputs = json.loads(fleet.outputs.read_text())
    state = tmp_path / "terraform.tfstate"
    state.write_text(_state(outputs))
    assert run_cli("plan", m, "--tf-outputs", str(state), "-s", "settings").code == 0
    piped = subprocess.run([sys.executable, "-m", "fleetctl.cli", "plan", m, "--tf-outputs", "-", "-s", "settings"],
                           cwd=REPO, input=json.dumps(outputs), capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    state.write_text(_state(outputs, sensitive=("ecs_cluster_name",)))
    refused = run_cli("validate", m, "--tf-outputs", str(state))
    assert refused.code == 2 and "sensitive" in refused.stderr and fleet.cluster not in refused.stderr
    old = tmp_path / "old.tfstate"
    old.write_text(json.dumps({"version": 3, "serial": 1, "lineage": "x", "modules": [], "outputs": {}}))
    assert "version 3" in run_cli("validate", m, "--tf-outputs", str(old)).stderr
    empty = subprocess.run([sys.executable, "-m", "fleetctl.cli", "validate", m, "--tf-outputs", "-"], cwd=REPO, input="",
                           capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "nothing on stdin" in empty.stderr


def test_next_steps_printed_by_diagnose_run_as_printed(make_fleet):
    crash = ["python", "-c", "print('starting', flush=True)\nraise RuntimeError('boom at start')"]
    fleet = make_fleet(["time_manager"], time_manager={"command": crash, "healthCheck": False})
    tf = ["--tf-outputs", str(fleet.outputs)]
    assert run_cli("apply", str(fleet.manifest), *tf, "--no-wait").code == 0
    hint = None
    deadline = time.monotonic() + 60
    while hint is None and time.monotonic() < deadline:
        out = run_cli("diagnose", str(fleet.manifest), *tf, "-s", "time_manager", "--no-network", "-o", "json")
        for f in json.loads(out.stdout or "{}").get("findings", []):
            if "`fleetctl logs" in f["hint"]:
                hint = f["hint"]
        time.sleep(0.5)
    assert hint, "no finding with a logs command"
    command = re.search(r"`(fleetctl logs [^`]*)`", hint).group(1)
    words = shlex.split(command)
    assert words[-4:] == ["-m", str(fleet.manifest), "--tf-outputs", str(fleet.outputs)]
    shown = run_cli(*words[1:])
    assert shown.code == 0, shown.stderr
    assert "RuntimeError: boom at start" in shown.stdout
