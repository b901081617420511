"""What fleetctl shares with the services' SDK: its JSON log lines and its NATS connect causes.

The SDK (`sdk/`, the `fleetctl-sdk` distribution) is built into the service images; fleetctl
does not install it, so that an operator's environment holds neither the game's contracts nor a
generic top-level `sdk` package. fleetctl still speaks the SDK's formats: the operator logs the
same JSON lines as a service, and `probe` renders a failed NATS connection as the SDK logs one
(`nats_connect_failed` with a `cause`), which the diagnose rules then classify. The definitions
below are those of `sdk/log.py`, `sdk/connect.py` and `sdk/settings.py`;
tests/packaging/test_sdk_contract.py holds both sides to the same output.
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import time
import traceback
from typing import Any
from urllib.parse import urlparse

_LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning", logging.ERROR: "error"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: `ts`, `level`, `event`, the static and bound fields, `msg`, `exc`."""

    def __init__(self, static: dict[str, Any] | None = None) -> None:
        super().__init__()
        self._static = static or {}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": _LEVEL_NAMES.get(record.levelno, record.levelname.lower()),
            "event": getattr(record, "event", None) or "log",
        }
        line.update(self._static)
        line.update(getattr(record, "fields", None) or {})
        line["msg"] = record.getMessage()
        if record.name and not hasattr(record, "event"):
            line["logger"] = record.name
        if record.exc_info:
            line["exc"] = "".join(traceback.format_exception(*record.exc_info)).strip()
        return json.dumps(line, separators=(",", ":"), default=str)


def connect_cause(error: BaseException) -> str:
    """A stable name for why a NATS connection attempt failed (the SDK's `cause` field)."""
    from nats import errors as nats_errors

    text = str(error)
    if isinstance(error, ssl.SSLCertVerificationError):
        if "hostname" in text.lower() or "IP address mismatch" in text:
            return "tls_hostname_mismatch"
        return "tls_verification_failed"
    if isinstance(error, ssl.SSLError):
        return "tls_error"
    if isinstance(error, socket.gaierror):
        return "dns_failure"
    if isinstance(error, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(error, ConnectionResetError):
        return "connection_reset"
    if isinstance(error, nats_errors.AuthorizationError) or "Authorization Violation" in text:
        return "authorization_violation"
    if "Authentication" in text or "User Authentication Expired" in text:
        return "authentication_failed"
    if isinstance(error, (nats_errors.SecureConnRequiredError, nats_errors.SecureConnWantedError)):
        return "tls_mismatch"
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(error, OSError):
        if error.errno in (101, 113):
            return "host_unreachable"
        if "Connect call failed" in text:
            return "connection_refused"
        return "network_error"
    return "connection_error"


def describe(error: BaseException) -> str:
    """The original error text, with its class when the text alone says little."""
    text = str(error).strip()
    name = type(error).__name__
    return f"{name}: {text}" if text else name


def redact_url(url: str) -> str:
    """The URL without any user or password in it, fit for a log line."""
    parsed = urlparse(url)
    if parsed.username is None and parsed.password is None:
        return url
    host = parsed.hostname or ""
    netloc = f"{host}:{parsed.port}" if parsed.port else host
    return parsed._replace(netloc=netloc).geturl()
