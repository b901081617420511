"""fleetctl does not install the SDK but speaks its formats (controller/sdkcontract.py): the same
JSON log lines, connect-failure causes and redacted URLs as sdk/log.py, sdk/connect.py and
sdk/settings.py."""
from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import ssl
import sys

import pytest
from nats import errors as nats_errors

from fleetctl.controller import sdkcontract
from sdk import connect, log, settings

ERRORS = [
    ssl.SSLCertVerificationError("certificate verify failed: Hostname mismatch"),
    ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate"),
    ssl.SSLError("wrong version number"),
    socket.gaierror(-2, "Name or service not known"),
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
    nats_errors.AuthorizationError(),
    Exception("nats: 'Authorization Violation'"),
    Exception("User Authentication Expired"),
    nats_errors.SecureConnRequiredError(),
    nats_errors.SecureConnWantedError(),
    asyncio.TimeoutError(),
    TimeoutError("timed out"),
    OSError(errno.ENETUNREACH, "Network is unreachable"),
    OSError(errno.EHOSTUNREACH, "No route to host"),
    OSError(None, "Connect call failed ('127.0.0.1', 4222)"),
    OSError(errno.EPIPE, "Broken pipe"),
    RuntimeError(""),
    ValueError("something else"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__ + ":" + str(e)[:30])
def test_connect_causes_and_descriptions_are_the_sdks(error):
    assert sdkcontract.connect_cause(error) == connect.classify(error)
    assert sdkcontract.describe(error) == connect.describe(error)


@pytest.mark.parametrize("url", ["nats://127.0.0.1:4222", "nats://user:secret@nats.internal:4222",
                                 "tls://:token@host", "nats://user@host", "wss://a:b@host:443/path"])
def test_redacted_urls_are_the_sdks(url):
    assert sdkcontract.redact_url(url) == settings.redact_url(url)


def _record(**extra) -> logging.LogRecord:
    record = logging.LogRecord("fleetctl.operator", logging.WARNING, __file__, 1, "pass %d done", (3,), None)
    record.__dict__.update(extra)
    return record


def test_json_log_lines_are_the_sdks():
    try:
        raise KeyError("boom")
    except KeyError:
        exc_info = sys.exc_info()
    records = [
        _record(),
        _record(event="reconcile_pass", fields={"changed": 2, "path": object()}),
        _record(exc_info=exc_info),
    ]
    static = {"component": "controller"}
    for record in records:
        ours = sdkcontract.JsonFormatter(static).format(record)
        assert ours == log.JsonFormatter(static).format(record)
        assert json.loads(ours)["level"] == "warning"
