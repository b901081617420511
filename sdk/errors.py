"""The SDK's error family.

`SdkError` is the root. `ConfigError` and `ConnectError` end a process at start with one
line and a documented exit code; `ServiceError` is what a handler raises to send a micro
error reply; `RemoteError` is what a caller sees when a peer replied with one.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_CONFIG = 1
"""A setting is missing or malformed."""
EXIT_CONNECT = 3
"""NATS could not be reached within the connect deadline, or the connection closed for good."""


class SdkError(Exception):
    """Root of every error the SDK raises on purpose."""


@dataclass
class ConfigError(SdkError):
    variable: str
    reason: str

    def __str__(self) -> str:
        return f"invalid setting {self.variable}: {self.reason}"


@dataclass
class ConnectError(SdkError):
    cause: str
    url: str
    detail: str
    attempts: int

    def __str__(self) -> str:
        return f"could not connect to NATS after {self.attempts} attempt(s): {self.cause} ({self.url}): {self.detail}"


@dataclass
class ServiceError(SdkError):
    """Raised by a handler; becomes a micro error reply with this code and description.

    Codes follow HTTP status numbers as strings so that the gateway can pass them through.
    """

    code: str
    description: str

    def __str__(self) -> str:
        return f"{self.code}: {self.description}"


def bad_request(description: str) -> ServiceError:
    return ServiceError("400", description)


def not_found(description: str) -> ServiceError:
    return ServiceError("404", description)


def conflict(description: str) -> ServiceError:
    return ServiceError("409", description)


def unavailable(description: str) -> ServiceError:
    return ServiceError("503", description)


@dataclass
class RemoteError(SdkError):
    """A peer service answered with a micro error reply, or did not answer at all."""

    subject: str
    code: str
    description: str

    @property
    def is_server_fault(self) -> bool:
        """True for failures that say the peer is unhealthy (5xx, timeouts), not that we asked badly."""
        return not self.code.startswith("4")

    def __str__(self) -> str:
        return f"{self.subject}: {self.code} {self.description}"


class CircuitOpenError(RemoteError):
    """Raised without sending a request while the circuit to a peer is open."""


def require(**fields: object) -> None:
    """Raise `ServiceError("400")` naming the first field that is empty."""
    for name, value in fields.items():
        if value in (None, "", 0, b"") or (isinstance(value, (list, tuple)) and not value):
            raise bad_request(f"field '{name}' is required")
