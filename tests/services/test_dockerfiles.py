"""Each image's Dockerfile runs the right module from code it copies out of this repository."""

from __future__ import annotations

import json
import re

import pytest

from fleet_support import manifest_services
from sdk.testing import ROOT

SERVICES = sorted(manifest_services())


def instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile(name: str) -> None:
    steps = instructions((ROOT / "services" / name / "Dockerfile").read_text())
    keywords = [keyword for keyword, _ in steps]
    base = dict(steps)["FROM"]
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base)
    cmd = json.loads(dict(steps)["CMD"])  # exec form is a JSON array
    assert cmd == ["python", "-m", f"services.{name}"]
    env = " ".join(rest for keyword, rest in steps if keyword == "ENV")
    assert dict(steps)["WORKDIR"] == "/app" and "PYTHONPATH=/app" in env
    user = [rest for keyword, rest in steps if keyword == "USER"]
    assert user and user[-1] not in ("root", "0") and keywords.index("USER") > keywords.index("RUN")
    copies = [rest.split() for keyword, rest in steps if keyword == "COPY"]
    for source, destination in copies:
        assert (ROOT / source).exists(), f"{name}: COPY source {source} is missing"
        if source != "sdk":  # the SDK is installed as its own distribution, below
            assert destination == "/app/" + source, f"{name}: {source} must land at /app/{source} for python -m to find it"
    copied = dict(copies)
    assert {"sdk", "services/__init__.py", f"services/{name}", "services/requirements.txt"} <= set(copied)
    runs = " ".join(rest for keyword, rest in steps if keyword == "RUN")
    assert f"pip install --no-cache-dir {copied['sdk']} -r /app/services/requirements.txt" in runs
    assert (ROOT / "sdk" / "pyproject.toml").is_file()
    assert (ROOT / "services" / name / "__main__.py").is_file()
    if name == "gateway":
        assert "GATEWAY_HOST=0.0.0.0" in env
