"""`fleetctl diagnose --explain` shows which evidence decided; JSON carries it as `explain`."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import FIXTURES, REPO

CASE = FIXTURES / "diagnose" / "nats_auth_raw_nats_py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "fleetctl.cli.main", "diagnose", "--tasks-file", str(CASE / "tasks.json"),
                           "--log-file", str(CASE / "log.txt"), *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=60)


def test_explain_text_and_json() -> None:
    text = _run("--explain")
    assert text.returncode == 1, text.stderr
    assert "why: rule nats-auth (log stage) -> nats_auth" in text.stdout
    assert "why: exception nats.errors.Error raised in nats.errors (package nats)" in text.stdout
    plain = _run()
    assert "why:" not in plain.stdout
    body = json.loads(_run("-o", "json").stdout)
    assert body["findings"][0]["explain"][0].startswith("rule nats-auth")
