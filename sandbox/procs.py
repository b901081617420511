"""Process helpers that identify a process by (pid, start time) so a reused pid is never hit."""

from __future__ import annotations

import errno
import os
import signal
import socket
import time
from dataclasses import dataclass


def start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited; only its parent's wait is missing
        return None
    return int(fields[19])


@dataclass(frozen=True)
class ProcRef:
    """A process as recorded in the state directory."""

    pid: int
    start: int | None

    @classmethod
    def of(cls, pid: int) -> "ProcRef":
        return cls(pid, start_time(pid))

    def alive(self) -> bool:
        current = start_time(self.pid)
        return current is not None and (self.start is None or current == self.start)

    def signal_group(self, sig: int) -> None:
        """Signal the process group led by this process (and the process itself)."""
        if not self.alive():
            return
        for target in (lambda: os.killpg(self.pid, sig), lambda: os.kill(self.pid, sig)):
            try:
                target()
            except OSError as exc:
                if exc.errno not in (errno.ESRCH, errno.EPERM):
                    raise

    def to_json(self) -> list[int | None]:
        return [self.pid, self.start]

    @classmethod
    def from_json(cls, raw: list[int | None]) -> "ProcRef":
        return cls(int(raw[0] or 0), raw[1])


def terminate(refs: list[ProcRef], timeout: float) -> list[ProcRef]:
    """SIGTERM each process group, SIGKILL what is left after ``timeout``; return survivors."""
    for ref in refs:
        ref.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(r.alive() for r in refs):
        time.sleep(0.05)
    for ref in refs:
        ref.signal_group(signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(r.alive() for r in refs):
        time.sleep(0.05)
    return [r for r in refs if r.alive()]


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
