"""One container as a local process: spawn, log pump, health probe, SIGTERM/SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

from fleetctl.sandbox.guard import guarded_thread
from fleetctl.sandbox.procs import ProcRef
from fleetctl.sandbox.runner.logs import LogShipper
from fleetctl.sandbox.runner.preflight import ContainerSpec, TaskStartError


def exit_code_of(returncode: int) -> int:
    """Docker's convention: a process killed by signal N exits with 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


class HealthProbe:
    """Runs a container health check command on its interval, as the ECS agent does."""

    def __init__(self, spec: ContainerSpec, workdir: str) -> None:
        assert spec.health is not None
        self.check = spec.health
        self.spec = spec
        self.workdir = workdir
        self.status = "UNKNOWN"
        self.failures = 0
        self.passed_once = False
        self.started = time.monotonic()
        self.next_at = self.started
        self.probe: subprocess.Popen[bytes] | None = None
        self.probe_deadline = 0.0

    def step(self, now: float) -> None:
        if self.probe is not None:
            code = self.probe.poll()
            if code is None and now < self.probe_deadline:
                return
            if code is None:
                ProcRef.of(self.probe.pid).signal_group(signal.SIGKILL)
                self.probe.wait()
            self._record(now, code == 0)
            self.probe = None
            self.next_at = now + self._interval()
        if now >= self.next_at:
            try:
                self.probe = subprocess.Popen(
                    self.check.argv,
                    cwd=self.workdir or None,  # no fleet checkout named: the runner's own directory
                    env=self.spec.env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                self.probe_deadline = now + self.check.timeout
            except OSError:
                self._record(now, False)
                self.next_at = now + self._interval()

    def _interval(self) -> float:
        start = self.check.start_interval
        return start if start > 0 and not self.passed_once else self.check.interval

    def _record(self, now: float, ok: bool) -> None:
        """ECS: failures within startPeriod do not count until a check has passed once; then
        `retries` consecutive failures (a timeout is one) make the container UNHEALTHY."""
        if ok:
            self.status, self.failures, self.passed_once = "HEALTHY", 0, True
            return
        if not self.passed_once and now - self.started < self.check.start_period:
            return
        self.failures += 1
        if self.failures >= self.check.retries:
            self.status = "UNHEALTHY"

    def stop(self) -> None:
        if self.probe is not None and self.probe.poll() is None:
            ProcRef.of(self.probe.pid).signal_group(signal.SIGKILL)
            self.probe.wait()

    def refs(self) -> list[ProcRef]:
        return [ProcRef.of(self.probe.pid)] if self.probe and self.probe.poll() is None else []


class ContainerProcess:
    """A running container: its own process group, output pumped to the log shipper."""

    def __init__(self, spec: ContainerSpec, workdir: str, shipper: LogShipper) -> None:
        self.spec = spec
        self.workdir = workdir
        self.shipper = shipper
        self.popen: subprocess.Popen[bytes] | None = None
        self.reader: threading.Thread | None = None
        self.ref: ProcRef | None = None
        self.exit_code: int | None = None
        self.kill_at: float | None = None
        self.health = HealthProbe(spec, workdir) if spec.health else None

    def start(self) -> None:
        try:
            self.popen = subprocess.Popen(
                self.spec.argv,
                cwd=self.workdir or None,  # no fleet checkout named: the runner's own directory
                env=self.spec.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except (OSError, IndexError) as exc:
            executable = self.spec.argv[0] if self.spec.argv else ""
            detail = (
                f'exec: "{executable}": executable file not found in $PATH'
                if isinstance(exc, FileNotFoundError) or not self.spec.argv
                else f'exec: "{executable}": {exc.strerror or exc}'
            )
            raise TaskStartError(
                "CannotStartContainerError: ResourceInitializationError: failed to create "
                "new container runtime task: failed to create shim task: OCI runtime create "
                "failed: runc create failed: unable to start container process: "
                f"{detail}: unknown",
                self.spec.name,
            ) from exc
        self.ref = ProcRef.of(self.popen.pid)
        assert self.popen.stdout is not None
        pipe, target = self.popen.stdout, self.spec.log
        if target is None:
            self.reader = guarded_thread(f"drain-{self.popen.pid}", lambda: _drain(pipe))
        else:
            self.reader = guarded_thread(
                f"log-{self.popen.pid}", lambda: self.shipper.pump(pipe, target)
            )

    @property
    def runtime_id(self) -> str | None:
        return f"pid-{self.popen.pid}" if self.popen else None

    def poll(self) -> int | None:
        """The container's exit code once it has exited, else None."""
        if self.exit_code is None and self.popen is not None:
            code = self.popen.poll()
            if code is not None:
                self.exit_code = exit_code_of(code)
                if self.health:
                    self.health.stop()
        return self.exit_code

    @property
    def exited(self) -> bool:
        return self.popen is None or self.poll() is not None

    def terminate(self, now: float) -> None:
        """`docker stop`: SIGTERM the main process, SIGKILL the group after stopTimeout."""
        if self.kill_at is not None or self.exited:
            return
        assert self.popen is not None
        try:
            os.kill(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.kill_at = now + self.spec.stop_timeout

    def step(self, now: float) -> None:
        if self.exited:
            return
        if self.kill_at is not None and now >= self.kill_at and self.ref is not None:
            self.ref.signal_group(signal.SIGKILL)
        elif self.health is not None and self.kill_at is None:
            self.health.step(now)

    def reap(self, timeout: float = 2.0) -> None:
        """After exit: kill leftovers of the process group and wait for the output to end."""
        if self.ref is not None:
            try:
                os.killpg(self.ref.pid, signal.SIGKILL)
            except OSError:
                pass
        if self.reader is not None:
            self.reader.join(timeout)

    def refs(self) -> list[ProcRef]:
        live = [self.ref] if self.ref is not None and not self.exited else []
        return live + (self.health.refs() if self.health else [])


def _drain(pipe: object) -> None:
    with pipe:  # type: ignore[attr-defined]
        while pipe.read(65536):  # type: ignore[attr-defined]
            pass
