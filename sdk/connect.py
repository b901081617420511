"""Connecting to NATS with bounded attempts, an overall deadline and one log line per failure.

nats-py on its own retries inside `connect`, logs a traceback per failed attempt and ends
with a `NoServersError` that hides the cause. Here every attempt is a fresh client raced
against the first error its `error_cb` reports, so a failure is known at once, logged once
with its cause, and nothing can outlive the deadline. Once connected, nats-py's own
reconnect loop takes over and each disconnect/reconnect is logged once.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

from nats import errors as nats_errors
from nats.aio.client import Client, RawCredentials

from sdk.errors import ConfigError, ConnectError
from sdk.log import EventLogger
from sdk.settings import Settings, format_creds, parse_creds, redact_url

RECONNECT_WAIT = 1.0
"""Seconds between reconnect attempts to one server after a connection was lost."""

_CLEANUP_GRACE = 1.0


def classify(error: BaseException) -> str:
    """A stable name for why a connection attempt failed."""
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


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.uses_tls:
        return None
    try:
        context = ssl.create_default_context(
            cafile=str(settings.nats_tls_ca_file) if settings.nats_tls_ca_file else None,
            cadata=settings.nats_tls_ca,
        )
    except (ssl.SSLError, ValueError):
        variable = "NATS_TLS_CA_FILE" if settings.nats_tls_ca_file else "NATS_TLS_CA"
        raise ConfigError(variable, "is not a readable PEM certificate bundle") from None
    if settings.nats_tls_cert_file and settings.nats_tls_key_file:
        try:
            context.load_cert_chain(str(settings.nats_tls_cert_file), str(settings.nats_tls_key_file))
        except (ssl.SSLError, ValueError):
            raise ConfigError("NATS_TLS_CERT_FILE", "certificate and key do not load as a pair") from None
    return context


def _auth_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if settings.nats_creds is not None:
        # Re-laid out so that nats-py's line-based reader gets exactly the JWT and the seed.
        options["user_credentials"] = RawCredentials(format_creds(*parse_creds(settings.nats_creds.get_secret_value())))
    elif settings.nats_creds_file is not None:
        options["user_credentials"] = str(settings.nats_creds_file)
    if settings.nats_user is not None:
        options["user"] = settings.nats_user
        if settings.nats_password is not None:
            options["password"] = settings.nats_password.get_secret_value()
    if settings.nats_token is not None:
        options["token"] = settings.nats_token.get_secret_value()
    return options


@dataclass
class ConnectionEvents:
    """The callbacks handed to nats-py, for the life of one client.

    While the first connect is in progress, the first error is captured for the attempt
    loop; afterwards, events are logged once each.
    """

    log: EventLogger
    first_error: asyncio.Future[BaseException] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    established: bool = False
    client: Client | None = None
    _outage_causes: set[str] = field(default_factory=set)

    def _url(self) -> str:
        server = self.client._current_server if self.client else None
        return redact_url(server.uri.geturl()) if server is not None else ""

    async def on_error(self, error: Exception) -> None:
        if not self.established:
            if not self.first_error.done():
                self.first_error.set_result(error)
            return
        cause = classify(error)
        if self.client is not None and self.client.is_reconnecting:
            level = "debug" if cause in self._outage_causes else "warning"
            self._outage_causes.add(cause)
            self.log.log(level, "nats_reconnect_failed", describe(error), cause=cause, url=self._url())
            return
        self.log.warning("nats_error", describe(error), cause=cause, url=self._url())

    async def on_disconnected(self) -> None:
        if self.established and not self.closed.is_set() and not (self.client and self.client.is_closed):
            self._outage_causes.clear()
            self.log.warning("nats_disconnected", "connection to NATS lost; reconnecting", url=self._url())

    async def on_reconnected(self) -> None:
        self.log.info("nats_reconnected", "reconnected to NATS", url=self._url())

    async def on_closed(self) -> None:
        if self.established:
            self.closed.set()


async def _settle(task: asyncio.Future[Any]) -> None:
    """Cancel a task and give it a moment to finish, without ever waiting longer."""
    if not task.done():
        task.cancel()
    await asyncio.wait({task}, timeout=_CLEANUP_GRACE)
    if task.done() and not task.cancelled():
        task.exception()


async def _discard(client: Client) -> None:
    await _settle(asyncio.ensure_future(client.close()))


class _AttemptFailed(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


async def _attempt(servers: list[str], timeout: float, options: dict[str, Any], log: EventLogger) -> tuple[Client, ConnectionEvents]:
    events = ConnectionEvents(log=log)
    client = Client()
    events.client = client
    connecting = asyncio.ensure_future(
        client.connect(
            servers=servers,
            error_cb=events.on_error,
            disconnected_cb=events.on_disconnected,
            reconnected_cb=events.on_reconnected,
            closed_cb=events.on_closed,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=RECONNECT_WAIT,
            connect_timeout=max(timeout, 0.1),
            dont_randomize=True,
            **options,
        )
    )
    done, _ = await asyncio.wait({connecting, events.first_error}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if connecting in done and connecting.exception() is None and client.is_connected:
        events.established = True
        return client, events
    if events.first_error.done():
        error: BaseException = events.first_error.result()
    elif connecting.done() and connecting.exception() is not None:
        error = connecting.exception()  # type: ignore[assignment]
    else:
        error = TimeoutError(f"no connection within {timeout:.1f}s")
    await _settle(connecting)
    await _discard(client)
    raise _AttemptFailed(error)


@dataclass
class Connection:
    client: Client
    events: ConnectionEvents

    @property
    def closed(self) -> asyncio.Event:
        """Set when the client closed for good (not by a reconnect)."""
        return self.events.closed


async def connect(settings: Settings, log: EventLogger, name: str) -> Connection:
    """Connect within NATS_CONNECT_TIMEOUT seconds and NATS_CONNECT_ATTEMPTS attempts, or raise ConnectError."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.nats_connect_timeout
    options = {"name": name, "tls": tls_context(settings), "inbox_prefix": settings.inbox_prefix, **_auth_options(settings)}
    if settings.nats_tls_server_name:
        options["tls_hostname"] = settings.nats_tls_server_name
    servers = settings.servers
    attempts = settings.nats_connect_attempts
    last: ConnectError | None = None
    for attempt in range(1, attempts + 1):
        index = (attempt - 1) % len(servers)
        ordered = servers[index:] + servers[:index]
        url = redact_url(ordered[0])
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            client, events = await _attempt(ordered, remaining, options, log)
        except _AttemptFailed as failure:
            cause = classify(failure.error)
            detail = describe(failure.error)
            last = ConnectError(cause=cause, url=url, detail=detail, attempts=attempt)
            log.error("nats_connect_failed", detail, cause=cause, url=url, attempt=attempt, attempts=attempts)
            if attempt < attempts:
                await asyncio.sleep(max(0.0, min(0.2 * 2 ** (attempt - 1), 2.0, deadline - loop.time())))
            continue
        log.info(
            "nats_connected",
            "connected to NATS",
            url=url,
            attempt=attempt,
            server_version=client._server_info.get("version", ""),
        )
        return Connection(client, events)
    if last is None:
        last = ConnectError(
            cause="timeout", url=redact_url(servers[0]), detail="connect deadline passed before an attempt", attempts=0
        )
    raise last
