"""`fleetctl apply` on a manifest that targets the sandbox starts the sandbox first."""
from __future__ import annotations

import json

import yaml

from tests.conftest import REPO, run_cli


def test_apply_starts_the_sandbox_when_it_is_not_running(tmp_path):
    state = tmp_path / "sandbox"
    doc = yaml.safe_load((REPO / "manifests" / "local.yaml").read_text())
    doc["spec"]["services"] = [s for s in doc["spec"]["services"] if s["name"] == "language_system"]
    manifest = tmp_path / "fleet.yaml"
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    env = {"FLEETCTL_SANDBOX_DIR": str(state)}
    assert run_cli("sandbox", "status", env=env).code == 1
    try:
        out = run_cli("apply", str(manifest), "--timeout", "60s", env=env, timeout=180)
        assert out.code == 0, out.stdout + out.stderr
        assert "starting the sandbox" in out.stderr
        assert "language_system: ready" in out.stderr
        status = run_cli("sandbox", "status", "-o", "json", env=env)
        assert status.code == 0 and json.loads(status.stdout)["running"] is True
        again = run_cli("plan", str(manifest), env=env)
        assert again.code == 0, again.stderr
    finally:
        down = run_cli("sandbox", "down", env=env, timeout=60)
        assert down.code == 0, down.stderr
    assert run_cli("sandbox", "status", env=env).code == 1
