"""checkov over terraform/ through terraform/check.sh (it installs checkov on first use: here into the
tool cache outside the checkout, tests/toolcache.py, through CHECKOV_VENV)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.terraform import tfconfig
from tests.toolcache import tool_venv

CHECK_SH = tfconfig.TF_DIR / "check.sh"
SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")
CHECKOV_VERSION = re.search(r'^CHECKOV_VERSION="([^"]+)"', CHECK_SH.read_text(), re.M).group(1)


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    venv = os.environ.get("CHECKOV_VENV") or str(tool_venv("checkov", CHECKOV_VERSION))  # check.sh locks its install
    return subprocess.run(
        ["bash", str(CHECK_SH), *args],
        cwd=tfconfig.REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "CHECKOV_VENV": venv},
    )


@pytest.mark.timeout(900)
def test_checkov_passes():
    proc = run_check()
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"checkov failed (exit {proc.returncode}):\n{output[-8000:]}"
    assert re.search(r"Passed checks: [1-9]\d*, Failed checks: 0", output), output[-4000:]


@pytest.mark.timeout(900)
def test_checkov_gate_fails_on_a_violation(tmp_path):
    # Same configuration with one deliberate violation: mutable image tags.
    copy = tmp_path / "terraform"
    shutil.copytree(tfconfig.TF_DIR, copy, ignore=shutil.ignore_patterns(".terraform", "outputs.json"))
    ecr = copy / "ecr.tf"
    text = ecr.read_text()
    assert 'image_tag_mutability = "IMMUTABLE"' in text
    ecr.write_text(text.replace('image_tag_mutability = "IMMUTABLE"', 'image_tag_mutability = "MUTABLE"'))
    proc = run_check(str(copy))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-4000:]
    assert "CKV_AWS_51" in output, output[-4000:]


def test_every_suppression_is_inline_with_a_reason():
    skips = []
    for path in sorted(tfconfig.TF_DIR.rglob("*.tf")):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            m = SKIP.search(line)
            if m:
                skips.append((path.name, lineno, m.group(1), (m.group(2) or "").strip()))
    assert skips, "expected the documented suppressions"
    for name, lineno, check_id, reason in skips:
        assert len(reason) >= 30, f"{name}:{lineno}: {check_id} suppressed without a real reason"
    config = (tfconfig.TF_DIR / ".checkov.yaml").read_text()
    assert not re.search(r"^\s*(skip-check|soft-fail:\s*true|skip-path)", config, re.M), (
        "suppressions belong inline next to the resource, not in .checkov.yaml"
    )
