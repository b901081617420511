"""CloudWatch Logs reads: a stream's tail, streams by prefix, events since a time."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from fleetctl.controller.aws.client import Aws
from fleetctl.controller.errors import CloudError


@dataclass(frozen=True)
class LogEvent:
    timestamp: datetime
    message: str
    stream: str = ""


def _event(raw: dict[str, Any], stream: str) -> LogEvent:
    return LogEvent(datetime.fromtimestamp(raw.get("timestamp", 0) / 1000, timezone.utc),
                    str(raw.get("message", "")).rstrip("\n"), stream)


async def tail(aws: Aws, group: str, stream: str, limit: int = 50) -> list[LogEvent] | None:
    """The last `limit` events of a stream, oldest first; None when the group or stream does not exist."""
    try:
        resp = await aws.call("logs", "get_log_events", logGroupName=group, logStreamName=stream,
                              limit=limit, startFromHead=False)
    except CloudError as exc:
        if exc.code == "ResourceNotFoundException":
            return None
        raise
    return [_event(e, stream) for e in resp.get("events", [])]


async def events(aws: Aws, group: str, stream: str, *, start: datetime | None = None,
                 next_token: str | None = None, limit: int = 10000) -> tuple[list[LogEvent], str | None]:
    """Events of one stream from `start` (or after `next_token`), oldest first, and the token to follow on."""
    params: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True, "limit": limit}
    if next_token:
        params["nextToken"] = next_token
    elif start is not None:
        params["startTime"] = int(start.timestamp() * 1000)
    try:
        resp = await aws.call("logs", "get_log_events", **params)
    except CloudError as exc:
        if exc.code == "ResourceNotFoundException":
            return [], next_token
        raise
    return [_event(e, stream) for e in resp.get("events", [])], resp.get("nextForwardToken") or next_token
