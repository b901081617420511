"""boto3 clients pointed at the sandbox endpoint, signed with the sandbox's credentials."""

from __future__ import annotations

from typing import Any

from fleetctl.sandbox.auth import Credentials
from fleetctl.sandbox.config import REGION


def client(service: str, endpoint_url: str, credentials: Credentials) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=REGION,
        config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30),
        **credentials.client_kwargs(),
    )
