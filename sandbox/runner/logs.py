"""Ships container output into CloudWatch Logs (moto's backend, in-process), line by line."""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from typing import IO

from fleetctl.sandbox.backends import backend


@dataclass(frozen=True)
class LogTarget:
    group: str
    stream: str


class LogShipper:
    """Reader threads enqueue lines; the runner flushes them under the backend lock."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[LogTarget, int, str]] = queue.SimpleQueue()

    def pump(self, pipe: IO[bytes], target: LogTarget) -> None:
        """Read ``pipe`` to EOF, enqueueing one event per line (runs in a reader thread)."""
        with pipe:
            for raw in iter(pipe.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                self._queue.put((target, int(time.time() * 1000), line))

    def flush(self) -> None:
        """Write queued lines to their streams; call with the backend lock held."""
        batches: dict[LogTarget, list[dict[str, object]]] = {}
        while True:
            try:
                target, timestamp, message = self._queue.get_nowait()
            except queue.Empty:
                break
            batches.setdefault(target, []).append({"timestamp": timestamp, "message": message})
        if not batches:
            return
        logs = backend("logs")
        for target, events in batches.items():
            group = logs.groups.get(target.group)
            if group is None:  # deleted while the task ran: ECS drops the output too
                continue
            if target.stream not in group.streams:
                group.create_log_stream(target.stream)
            events.sort(key=lambda e: e["timestamp"])  # type: ignore[arg-type, return-value]
            logs.put_log_events(target.group, target.stream, events)


def ensure_stream(target: LogTarget) -> None:
    """Create the task's log stream as the awslogs driver does at container start."""
    group = backend("logs").groups[target.group]
    if target.stream not in group.streams:
        group.create_log_stream(target.stream)
