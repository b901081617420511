"""What fleetctl's modules import matches what its distribution declares (pyproject.toml): no
SDK or service code, the sandbox's libraries only in sandbox/, and every other library a runtime
dependency. A static scan, so it also covers modules the CLI tests never load."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# import name -> distribution, for the libraries fleetctl uses
RUNTIME = {"aiobotocore": "aiobotocore", "botocore": "botocore", "nats": "nats-py", "pydantic": "pydantic",
           "rich": "rich", "typer": "typer", "yaml": "PyYAML", "aiohttp": "aiohttp",
           "prometheus_client": "prometheus-client"}
SANDBOX_ONLY = {"boto3": "boto3", "moto": "moto", "werkzeug": "moto"}  # werkzeug comes with moto[server]
NEVER = {"sdk", "services", "bench", "tests"}


def _imports(folder: str) -> list[tuple[str, str]]:
    """(file:line, top-level module) for every absolute import under `folder`."""
    found = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"
            found += [(where, name.split(".")[0]) for name in names]
    return found


def _declared(extra: str | None) -> str:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return " ".join(project["dependencies"] if extra is None else project["optional-dependencies"][extra]).lower()


@pytest.mark.parametrize("folder", ["controller", "cli", "sandbox"])
def test_every_import_is_fleetctl_the_standard_library_or_a_declared_dependency(folder):
    allowed = dict(RUNTIME, **(SANDBOX_ONLY if folder == "sandbox" else {}))
    wrong = [(where, name) for where, name in _imports(folder)
             if name != "fleetctl" and name not in sys.stdlib_module_names and (name in NEVER or name not in allowed)]
    assert not wrong, f"imports outside fleetctl's dependencies: {wrong}"


def test_the_libraries_are_declared_where_they_are_used():
    runtime, sandbox = _declared(None), _declared("sandbox")
    for dist in RUNTIME.values():
        assert dist.lower() in runtime, dist
    for dist in SANDBOX_ONLY.values():
        assert dist in sandbox and dist not in runtime, dist
