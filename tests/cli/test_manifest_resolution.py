"""One manifest resolution for every verb, and follow-up commands that run as printed."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fleetctl.cli.context import DEFAULT_NAMES, ENV_MANIFEST, Invocation, ManifestNotFound, find_manifest
from tests.conftest import REPO, run_cli


def test_argument_then_environment_then_default_file(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_MANIFEST, raising=False)
    with pytest.raises(ManifestNotFound):
        find_manifest(None, cwd=tmp_path)
    (tmp_path / "fleetctl.yaml").write_text("x")
    assert find_manifest(None, cwd=tmp_path) == tmp_path / "fleetctl.yaml"
    (tmp_path / "fleet.yaml").write_text("x")
    assert find_manifest(None, cwd=tmp_path) == tmp_path / "fleet.yaml"  # the first default name wins
    monkeypatch.setenv(ENV_MANIFEST, "from-env.yaml")
    assert find_manifest(None, cwd=tmp_path) == Path("from-env.yaml")
    assert find_manifest("given.yaml", cwd=tmp_path) == Path("given.yaml")
    assert DEFAULT_NAMES[0] == "fleet.yaml"


def _run_in(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    full.pop(ENV_MANIFEST, None) if env is None or ENV_MANIFEST not in env else None
    return subprocess.run([sys.executable, "-m", "fleetctl.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=full, timeout=60)


@pytest.mark.timeout(300)  # a dozen CLI processes; slow on a loaded machine
def test_every_verb_finds_the_default_file_and_the_environment(tmp_path):
    shutil.copy(REPO / "manifests" / "prod.yaml", tmp_path / "fleet.yaml")
    tf = str(REPO / "tests" / "fixtures" / "prod-tf-outputs.json")
    out = _run_in(tmp_path, "validate")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("fleet.yaml: valid")
    out = _run_in(tmp_path, "render", "-s", "auth", "-o", "json", "--tf-outputs", tf)
    assert out.returncode == 0, out.stderr
    other = tmp_path / "elsewhere"
    other.mkdir()
    out = _run_in(other, "validate", env={ENV_MANIFEST: str(tmp_path / "fleet.yaml")})
    assert out.returncode == 0 and "valid" in out.stdout
    none = _run_in(other, "validate")
    assert none.returncode == 2 and "FLEETCTL_MANIFEST" in none.stderr and "fleet.yaml" in none.stderr
    for verb in (["plan"], ["status"], ["wait"], ["diagnose"], ["probe"], ["logs", "auth"], ["rollback", "auth"],
                 ["verify"], ["controller", "run"], ["controller", "suspend", "auth"]):
        out = _run_in(other, *verb)
        assert out.returncode == 2 and "no manifest" in out.stderr, (verb, out.stderr)
    (other / "fleetctl.yaml").write_text("apiVersion: fleetctl/v1\nkind: Fleet\n")
    bad = _run_in(other, "controller", "run", "--health-port", "0")
    assert bad.returncode == 2 and "fleetctl.yaml:1: spec: missing required key 'spec'" in bad.stderr


def test_printed_commands_are_completed_with_the_manifest():
    inv = Invocation(Path("dir with space/fleet.yaml"), "tf.json")
    text = "read `fleetctl logs auth --previous`; then `fleetctl diagnose --service auth`; `fleetctl sandbox up`"
    done = inv.complete(text)
    assert "`fleetctl logs auth --previous -m 'dir with space/fleet.yaml' --tf-outputs tf.json`" in done
    assert "`fleetctl diagnose 'dir with space/fleet.yaml' --service auth --tf-outputs tf.json`" in done
    assert "`fleetctl sandbox up`" in done
    assert inv.complete(done) == done  # already complete: unchanged
    assert shlex.split(inv.command("logs", "auth", manifest_flag=True))[-4:] == [
        "-m", "dir with space/fleet.yaml", "--tf-outputs", "tf.json"]


def test_logs_and_rollback_take_the_manifest_as_m_not_f():
    logs = run_cli("logs", "--help")
    assert "-f, --follow" in logs.stdout and "-m, --manifest" in logs.stdout
    assert "-f, --manifest" not in run_cli("rollback", "--help").stdout
