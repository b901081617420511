"""Structured logs: one JSON object per line on stdout.

Every line has `ts`, `level`, `event` (a stable snake_case name that tools grep for) and
`msg` (human text). Fields bound to a logger or passed per call are added as keys.
Library records that come through the standard `logging` module are rendered the same way,
with any traceback folded into the single line under `exc`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from typing import Any

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning", logging.ERROR: "error"}


def _json_default(value: object) -> str:
    return str(value)


class JsonFormatter(logging.Formatter):
    def __init__(self, static: dict[str, Any] | None = None) -> None:
        super().__init__()
        self._static = static or {}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": _NAMES.get(record.levelno, record.levelname.lower()),
            "event": getattr(record, "event", None) or "log",
        }
        line.update(self._static)
        line.update(getattr(record, "fields", None) or {})
        line["msg"] = record.getMessage()
        if record.name and not hasattr(record, "event"):
            line["logger"] = record.name
        if record.exc_info:
            line["exc"] = "".join(traceback.format_exception(*record.exc_info)).strip()
        return json.dumps(line, separators=(",", ":"), default=_json_default)


class EventLogger:
    """A thin front for `logging.Logger`: `log.info("event_name", "human text", key=value)`."""

    def __init__(self, logger: logging.Logger, fields: dict[str, Any] | None = None) -> None:
        self._logger = logger
        self._fields = fields or {}

    def bind(self, **fields: Any) -> EventLogger:
        return EventLogger(self._logger, {**self._fields, **fields})

    def is_enabled(self, level: str) -> bool:
        return self._logger.isEnabledFor(LEVELS[level])

    def log(self, level: str, event: str, msg: str = "", exc_info: bool = False, **fields: Any) -> None:
        self._logger.log(
            LEVELS[level],
            msg or event.replace("_", " "),
            extra={"event": event, "fields": {**self._fields, **fields}},
            exc_info=exc_info,
        )

    def debug(self, event: str, msg: str = "", **fields: Any) -> None:
        self.log("debug", event, msg, **fields)

    def info(self, event: str, msg: str = "", **fields: Any) -> None:
        self.log("info", event, msg, **fields)

    def warning(self, event: str, msg: str = "", **fields: Any) -> None:
        self.log("warning", event, msg, **fields)

    def error(self, event: str, msg: str = "", **fields: Any) -> None:
        self.log("error", event, msg, **fields)

    def exception(self, event: str, msg: str = "", **fields: Any) -> None:
        self.log("error", event, msg, exc_info=True, **fields)


def configure(level: str = "info", **static: Any) -> EventLogger:
    """Route all logging to stdout as JSON lines, with `static` keys on every line."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(static))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(level, logging.INFO))
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    return get_logger("sdk")


def get_logger(name: str, **fields: Any) -> EventLogger:
    return EventLogger(logging.getLogger(name), fields)
