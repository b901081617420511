"""examples/github-actions/fleet.yml: parsed, and its `run:` scripts executed as GitHub would
(bash -eo pipefail) with `fleetctl` on PATH, the sandbox as AWS and the terraform state in its S3."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from fleetctl.sandbox.auth import Credentials

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.timeout(300)  # many CLI processes against the sandbox on a shared 2-core machine

WORKFLOW = REPO / "examples" / "github-actions" / "fleet.yml"


def _workflow() -> dict:
    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def test_workflow_shape():
    doc = _workflow()
    assert set(doc["on"]) == {"pull_request", "push"} and doc["on"]["push"]["branches"] == ["main"]
    assert doc["permissions"]["id-token"] == "write" and doc["defaults"]["run"]["shell"] == "bash"
    gate, apply = doc["jobs"]["gate"], doc["jobs"]["apply"]
    assert "pull_request" in gate["if"] and "refs/heads/main" in apply["if"]
    for job, role in ((gate, "FLEETCTL_PLAN_ROLE_ARN"), (apply, "FLEETCTL_DEPLOY_ROLE_ARN")):
        creds = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials"))
        assert role in creds["with"]["role-to-assume"]
    assert apply["concurrency"]["cancel-in-progress"] is False


class Runner:
    """Runs one job's `run:` steps in order, as GitHub's bash shell does."""

    def __init__(self, tmp: Path, env: dict[str, str]):
        bin_dir = tmp / "bin"
        bin_dir.mkdir(exist_ok=True)
        shim = bin_dir / "fleetctl"
        shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m fleetctl.cli \"$@\"\n")
        shim.chmod(0o755)
        self.summary = tmp / "summary.md"
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{bin_dir}:{os.environ['PATH']}",
                    "GITHUB_STEP_SUMMARY": str(self.summary), **env}
        self.env.pop("FLEETCTL_SANDBOX_DIR", None)
        self.cwd = tmp

    def job(self, doc: dict, name: str) -> dict[str, subprocess.CompletedProcess[str]]:
        out = {}
        for step in doc["jobs"][name]["steps"]:
            if "run" not in step or step["run"].strip().startswith("pip install"):
                continue  # actions and the install: the shim is fleetctl here
            out[step["name"]] = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                                               cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=300)
            if out[step["name"]].returncode != 0:
                break  # a failed step ends the job
        return out


def test_gate_and_apply_jobs_against_the_sandbox(make_fleet, sandbox_handle, tmp_path):
    fleet = make_fleet(["settings", "time_manager"])
    # the state terraform's S3 backend would hold: format 4, the outputs the manifest reads
    state = {"version": 4, "terraform_version": "1.9.5", "serial": 7, "lineage": "0d1c", "resources": [],
             "outputs": json.loads(fleet.outputs.read_text())}
    s3 = sandbox_handle.client("s3")
    bucket = f"tfstate-{fleet.cluster}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="gaming-system/terraform.tfstate", Body=json.dumps(state).encode())
    doc = _workflow()
    assert doc["env"]["TF_STATE"].startswith("s3://${{ vars.TF_STATE_BUCKET }}/")
    env = {**{k: str(v) for k, v in doc["env"].items()},
           "FLEETCTL_MANIFEST": str(fleet.manifest),
           "TF_STATE": re.sub(r"\$\{\{ vars.TF_STATE_BUCKET \}\}", bucket, doc["env"]["TF_STATE"]),
           "AWS_ENDPOINT_URL": sandbox_handle.endpoint_url,
           # what configure-aws-credentials exports; here the sandbox's own keys
           **Credentials.load(sandbox_handle.state_dir / "credentials.json").env()}
    ci = Runner(tmp_path, env)

    gate = ci.job(doc, "gate")
    assert [s.returncode for s in gate.values()] == [0, 0, 0], {k: v.stdout + v.stderr for k, v in gate.items()}
    assert "changes pending" in gate["Plan"].stdout          # plan exit 1 is shown, not a failure
    summary = ci.summary.read_text()
    assert "### fleetctl plan" in summary and "create service" in summary.lower()
    assert " NG " not in summary

    applied = ci.job(doc, "apply")
    assert [s.returncode for s in applied.values()] == [0, 0], {k: v.stdout + v.stderr for k, v in applied.items()}
    assert "2/2 services Ready" in applied["Status"].stdout

    again = ci.job(doc, "gate")
    assert again["Plan"].returncode == 0 and "in sync" in again["Plan"].stdout

    # a manifest error fails the gate at the first step with exit 2; a missing secret fails verify
    fleet.service("settings")["desiredCont"] = 1
    fleet.write()
    broken = ci.job(doc, "gate")
    assert list(broken) == ["Validate"] and broken["Validate"].returncode == 2
    assert "desiredCont" in broken["Validate"].stderr
    del fleet.service("settings")["desiredCont"]
    fleet.service("settings")["secrets"] = {"X_KEY": "arn:aws:secretsmanager:us-east-1:123456789012:secret:gaming/none-AbCdEf"}
    fleet.write()
    missing = ci.job(doc, "gate")
    assert missing["Verify"].returncode == 1 and "Plan" not in missing
    assert re.search(r"^secret .* NG ", missing["Verify"].stdout, re.M), missing["Verify"].stdout
