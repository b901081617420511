"""The SDK every fleet service is built on.

    from sdk import Service, endpoint, run_service
    from sdk.proto import auth_pb2 as pb

    class Auth(Service):
        name = "auth"

        @endpoint
        async def issue(self, request: pb.IssueRequest) -> pb.IssueResponse: ...

    run_service(Auth)  # in services/auth/__main__.py
"""

from typing import TYPE_CHECKING, Any

# Imported on first use, so that `python -m sdk.health` (the container health check, run every
# few seconds) starts without loading nats, pydantic and protobuf.
_EXPORTS = {
    "CircuitOpenError": "sdk.errors", "ConfigError": "sdk.errors", "ConnectError": "sdk.errors",
    "RemoteError": "sdk.errors", "ServiceError": "sdk.errors", "bad_request": "sdk.errors",
    "conflict": "sdk.errors", "not_found": "sdk.errors", "require": "sdk.errors", "unavailable": "sdk.errors",
    "run": "sdk.main", "run_service": "sdk.main",
    "Runtime": "sdk.service", "Service": "sdk.service", "endpoint": "sdk.service", "serve": "sdk.service",
    "EnvSettings": "sdk.settings", "Settings": "sdk.settings",
}

if TYPE_CHECKING:
    from sdk.errors import (CircuitOpenError, ConfigError, ConnectError, RemoteError, ServiceError, bad_request,
                            conflict, not_found, require, unavailable)
    from sdk.main import run, run_service
    from sdk.service import Runtime, Service, endpoint, serve
    from sdk.settings import EnvSettings, Settings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sdk' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CircuitOpenError",
    "ConfigError",
    "ConnectError",
    "EnvSettings",
    "RemoteError",
    "Runtime",
    "Service",
    "ServiceError",
    "Settings",
    "bad_request",
    "conflict",
    "endpoint",
    "not_found",
    "require",
    "run",
    "run_service",
    "serve",
    "unavailable",
]
