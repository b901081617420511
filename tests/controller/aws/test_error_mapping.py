"""Transport errors become one retryable CloudError, whichever layer raised them."""
from __future__ import annotations

import aiohttp
import pytest
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

from fleetctl.controller.aws.client import _cloud_error
from fleetctl.controller.errors import CloudError


@pytest.mark.parametrize("exc", [
    aiohttp.ClientPayloadError("Response payload is not completed"),   # dropped mid-body
    aiohttp.ServerDisconnectedError(),
    ConnectionClosedError(endpoint_url="http://127.0.0.1:1"),
    ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
    ConnectionResetError(104, "Connection reset by peer"),
])
def test_transport_errors_are_retryable_cloud_errors(exc):
    err = _cloud_error("ecs", "describe_services", exc, "http://127.0.0.1:1")
    assert isinstance(err, CloudError)
    assert err.retryable
    assert err.code == type(exc).__name__


def test_programming_errors_are_not_disguised():
    with pytest.raises(KeyError):
        _cloud_error("ecs", "describe_services", KeyError("taskDefinition"), None)
