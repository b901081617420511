"""boto3 clients pointed at the sandbox endpoint, with dummy credentials."""

from __future__ import annotations

from typing import Any

from sandbox.config import DUMMY_CREDENTIALS, REGION


def client(service: str, endpoint_url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=REGION,
        config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30),
        **DUMMY_CREDENTIALS,
    )
