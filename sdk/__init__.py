"""The SDK every fleet service is built on.

    from sdk import Service, endpoint, run_service
    from sdk.proto import auth_pb2 as pb

    class Auth(Service):
        name = "auth"

        @endpoint
        async def issue(self, request: pb.IssueRequest) -> pb.IssueResponse: ...

    run_service(Auth)  # in services/auth/__main__.py
"""

from sdk.errors import (
    CircuitOpenError,
    ConfigError,
    ConnectError,
    RemoteError,
    ServiceError,
    bad_request,
    conflict,
    not_found,
    require,
    unavailable,
)
from sdk.main import run, run_service
from sdk.service import Runtime, Service, endpoint, serve
from sdk.settings import EnvSettings, Settings

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
