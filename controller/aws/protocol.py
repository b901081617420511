"""What the controller needs from an AWS connection: `AwsApi`.

`controller.aws.client.Aws` (aiobotocore) is the production implementation; the in-memory ECS
of the unit tests (`tests/fakes/ecs.py`) is the other. Code above `controller/aws/` should ask
for an `AwsApi`, never for botocore itself: every request dict is built in `controller/aws/`,
and `call`/`paginate` are the only way out.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class AwsApi(Protocol):
    region: str
    endpoint_url: str | None
    max_attempts: int
    # API operations issued, by "service.Operation" (e.g. "ecs.DescribeServices")
    calls: Counter[str]
    # told each call's outcome: observer("ecs.UpdateService", "ok" | AWS error code | error class)
    observers: list[Callable[[str, str], None]]

    @property
    def write_calls(self) -> int: ...

    async def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        """`operation` in snake_case; raises controller.errors.CloudError on failure."""
        ...

    async def paginate(self, service: str, operation: str, key: str, /, **params: Any) -> list[Any]:
        """Every item under `key` of a List/Describe operation, read page by page."""
        ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> None: ...
