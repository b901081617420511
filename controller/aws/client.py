"""aiobotocore clients for one target: opened once, closed by an AsyncExitStack, calls counted."""
from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import AsyncExitStack, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

from fleetctl.controller.aws.ratelimit import RateLimitSettings, bucket
from fleetctl.controller.errors import CloudError

SERVICES = ("ecs", "logs", "ecr", "ec2", "elbv2")
READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Filter", "Head")

# The largest page each List operation returns, passed as maxResults so that every list is
# read page by page the way the real API serves it (moto returns everything at once).
PAGE_SIZES: dict[tuple[str, str], int] = {
    ("ecs", "list_services"): 100,
    ("ecs", "list_tasks"): 100,
    ("ecs", "list_task_definitions"): 100,
    ("ecs", "list_task_definition_families"): 100,
    ("ecs", "list_clusters"): 100,
    ("logs", "describe_log_streams"): 50,
    ("logs", "describe_log_groups"): 50,
}


class Aws:
    """AWS API access for one region/endpoint.

    `calls` counts API operations (`ecs.DescribeServices` -> n) as botocore issues them;
    `observers` are told each call's outcome: `observer(operation, outcome)` with outcome
    "ok", the AWS error code, or the transport error's class name.

    Every HTTP request (retries included) first takes a token from the process-wide bucket
    of its throttling category (controller.aws.ratelimit), so the documented rates are
    never exceeded; botocore's adaptive retry mode slows down further if AWS throttles
    anyway (other clients of the same account).
    """

    def __init__(
        self,
        region: str,
        *,
        endpoint_url: str | None = None,
        profile: str | None = None,
        sandbox_credentials: str | None = None,
        max_attempts: int = 5,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        call_timeout: float = 120,
        max_pool_connections: int = 32,
        retry_mode: str = "adaptive",
        rate_limits: RateLimitSettings | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.profile = profile
        self.sandbox_credentials = sandbox_credentials
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.call_timeout = call_timeout
        self.max_pool_connections = max_pool_connections
        self.retry_mode = retry_mode
        self.rate_limits = rate_limits or RateLimitSettings()
        self.calls: Counter[str] = Counter()
        self.observers: list[Callable[[str, str], None]] = []
        # awaited just before each write request (every retry too) is sent; may raise to refuse
        # it: the operator's leader fence (controller/leader.py). DynamoDB (the lease) is exempt.
        self.write_guard: Callable[[str], Awaitable[None]] | None = None
        self._clients: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._stack: AsyncExitStack | None = None
        self._session: Any = None

    @classmethod
    def for_target(cls, target: Any, **kwargs: Any) -> "Aws":
        """An Aws for a manifest's `spec.target` (TargetSpec).

        A sandbox target is always signed with the sandbox's own generated credentials, whatever
        AWS credentials or profile the environment holds.
        """
        sandbox = target.kind == "sandbox"
        if sandbox:
            from fleetctl.sandbox.config import default_state_dir

            credentials = target.credentials_file or str(default_state_dir() / "credentials.json")
        kwargs.setdefault("rate_limits", RateLimitSettings.from_env(default_enabled=target.kind == "aws"))
        return cls(
            target.region,
            endpoint_url=target.endpoint,
            profile=None if sandbox else target.profile,
            sandbox_credentials=credentials if sandbox else None,
            **kwargs,
        )

    async def __aenter__(self) -> "Aws":
        from aiobotocore.session import get_session

        self._stack = AsyncExitStack()
        # the sandbox's own keys: $AWS_PROFILE is not even looked up
        self._session = get_session({"profile": (None, None, None, None)} if self.sandbox_credentials else None)
        if self.profile:
            self._session.set_config_variable("profile", self.profile)
        self._session.register("before-call", self._count_call)
        self._session.register("before-send", self._take_token)
        self._session.register("before-send", self._guard_write)  # after the token: right before sending
        self._session.register("after-call", self._call_done)
        self._session.register("after-call-error", self._call_failed)
        self._session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
        from botocore.exceptions import BotoCoreError

        # a session that cannot make its data loader (a profile that does not exist) is left as it
        # is: its first call raises the same error inside the error mapping, as one line
        with suppress(BotoCoreError):
            slim_data(self._session.get_component("data_loader"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._clients.clear()

    def _count_call(self, model: Any, context: Any = None, **_: Any) -> None:
        op = f"{model.service_model.service_name}.{model.name}"
        self.calls[op] += 1
        if isinstance(context, dict):
            context["fleetctl_operation"] = op

    async def _take_token(self, event_name: str = "", **_: Any) -> None:
        # event_name: before-send.<service id>.<Operation>
        _, service_id, operation = event_name.split(".", 2)
        service = {"cloudwatch-logs": "logs"}.get(service_id, service_id)
        found = self.rate_limits.rate_for(f"{service}.{operation}")
        if found is not None:
            name, rate = found
            await bucket((self.endpoint_url or "aws", self.region), name, rate).acquire()

    async def _guard_write(self, event_name: str = "", **_: Any) -> None:
        if self.write_guard is None:
            return
        _, service_id, operation = event_name.split(".", 2)
        if service_id != "dynamodb" and not operation.startswith(READ_PREFIXES):
            await self.write_guard(f"{service_id}.{operation}")

    def _call_done(self, model: Any, http_response: Any = None, parsed: Any = None, **_: Any) -> None:
        if not self.observers:
            return
        status = getattr(http_response, "status_code", 200)
        outcome = "ok" if status < 300 else str((parsed or {}).get("Error", {}).get("Code") or status)
        self._notify(f"{model.service_model.service_name}.{model.name}", outcome)

    def _call_failed(self, exception: BaseException, context: Any = None, event_name: str = "", **_: Any) -> None:
        if self.observers:
            op = context.get("fleetctl_operation") if isinstance(context, dict) else None
            self._notify(op or event_name.split(".", 1)[-1], type(exception).__name__)

    def _notify(self, operation: str, outcome: str) -> None:
        for observer in self.observers:
            observer(operation, outcome)


    @property
    def write_calls(self) -> int:
        return sum(n for op, n in self.calls.items() if not op.split(".", 1)[1].startswith(READ_PREFIXES))

    async def client(self, service: str, *, retries: bool = True) -> Any:
        """The client for `service`; `retries=False`: one without botocore's retries, for writes
        whose repetition the caller makes idempotent itself (a look-up before each attempt)."""
        key = service if retries else f"{service}/once"
        if key in self._clients:
            return self._clients[key]
        async with self._lock:
            if key not in self._clients:
                from aiobotocore.config import AioConfig

                assert self._stack is not None, "use `async with Aws(...)`"
                config = AioConfig(
                    region_name=self.region,
                    retries={"mode": self.retry_mode, "total_max_attempts": self.max_attempts if retries else 1},
                    connect_timeout=self.connect_timeout,
                    read_timeout=self.read_timeout,
                    max_pool_connections=self.max_pool_connections,
                )
                kwargs: dict[str, Any] = {"config": config, "region_name": self.region}
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                if self.sandbox_credentials:
                    kwargs.update(_sandbox_credentials(service, self.sandbox_credentials))
                self._clients[key] = await self._stack.enter_async_context(
                    self._session.create_client(service, **kwargs)
                )
        return self._clients[key]

    async def call(self, service: str, operation: str, /, *, _retries: bool = True, **params: Any) -> dict[str, Any]:
        """Call `operation` (snake_case) with botocore retries (unless `_retries=False`) and a
        bound on total time."""
        try:
            client = await self.client(service, retries=_retries)
            return await asyncio.wait_for(getattr(client, operation)(**params), self.call_timeout)
        except asyncio.TimeoutError:
            raise CloudError(_op_name(service, operation), "Timeout",
                             f"no answer within {self.call_timeout:.0f}s from {self.endpoint_url or 'AWS'}",
                             retryable=True) from None
        except Exception as exc:  # botocore errors are mapped to one FleetError
            raise _cloud_error(service, operation, exc, self.endpoint_url) from None

    async def paginate(self, service: str, operation: str, key: str, /, **params: Any) -> list[Any]:
        """Every item of a List operation, read page by page at the API's largest page size."""
        out: list[Any] = []
        size = PAGE_SIZES.get((service, operation))
        config = {"PaginationConfig": {"PageSize": size}} if size else {}
        try:
            client = await self.client(service)
            async for page in client.get_paginator(operation).paginate(**params, **config):
                out.extend(page.get(key, []))
        except Exception as exc:
            raise _cloud_error(service, operation, exc, self.endpoint_url) from None
        return out


# Endpoint prefixes of the services fleetctl calls (ecr: api.ecr, elbv2: elasticloadbalancing),
# and those whose endpoints carry a signing scope of their own (global iam, sts). Another
# service resolves through its partition's defaults, as botocore does for a new service.
ENDPOINT_PREFIXES = frozenset({
    "ecs", "logs", "api.ecr", "ecr", "ec2", "elasticloadbalancing", "application-autoscaling", "dynamodb",
    "s3", "iam", "sts", "secretsmanager", "ssm",
})


def slim_data(loader: Any) -> None:
    """botocore's data, minus what fleetctl never reads, as it is loaded: every Region's endpoint
    of every AWS service (`endpoints`: ≈ 4–7 MB of Python objects, kept by the endpoint resolver
    for the process's life) narrowed to the services above, and the documentation strings of
    service models (≈ 40 % of ECS's model)."""
    original = loader.load_data_with_path
    done: set[int] = set()

    def load_data_with_path(name: str) -> Any:
        data, path = original(name)
        if id(data) not in done and isinstance(data, dict):
            done.add(id(data))
            if name == "endpoints":
                for partition in data.get("partitions", []):
                    services = partition.get("services", {})
                    partition["services"] = {k: v for k, v in services.items() if k in ENDPOINT_PREFIXES}
            elif name.endswith("/service-2"):
                for shape in (*data.get("shapes", {}).values(), *data.get("operations", {}).values()):
                    _drop_documentation(shape)
        return data, path

    loader.load_data_with_path = load_data_with_path


def _drop_documentation(node: dict[str, Any]) -> None:
    node.pop("documentation", None)
    node.pop("documentationUrl", None)
    for member in (node.get("members") or {}).values():
        if isinstance(member, dict):
            member.pop("documentation", None)
    for key in ("input", "output", "member", "key", "value"):
        if isinstance(node.get(key), dict):
            node[key].pop("documentation", None)


def parse_timestamp(value: Any) -> datetime:
    """botocore's timestamp parsing, without a new local-timezone object per value for the epoch
    numbers the JSON APIs return (a third of the CPU of reading 5,000 services): the same
    instant, in UTC. Anything else is botocore's to parse."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, timezone.utc)
        except (OverflowError, OSError, ValueError):
            pass
    from botocore.utils import parse_timestamp as botocore_parse

    return botocore_parse(value)


def _sandbox_credentials(service: str, path: str) -> dict[str, str]:
    from fleetctl.sandbox.auth import CredentialsError, Credentials

    try:
        return Credentials.load(Path(path)).client_kwargs()
    except CredentialsError as exc:
        raise CloudError(service, "SandboxCredentials", str(exc)) from None


RETRYABLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestLimitExceeded",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestThrottledException",
    "ServerException", "InternalFailure", "InternalError", "ServiceUnavailable", "ServiceUnavailableException",
    "RequestTimeout", "RequestTimeoutException",
})


def _op_name(service: str, operation: str) -> str:
    return f"{service}:{''.join(p.capitalize() for p in operation.split('_'))}"


def _cloud_error(service: str, operation: str, exc: Exception, endpoint: str | None) -> CloudError:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
    )

    op = _op_name(service, operation)
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code", "ClientError")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return CloudError(op, code, err.get("Message", str(exc)),
                          retryable=status >= 500 or status == 429 or code in RETRYABLE_CODES)
    if isinstance(exc, EndpointConnectionError):
        return CloudError(op, "EndpointConnectionError", f"cannot reach {endpoint or 'the AWS endpoint'}: {exc}",
                          retryable=True)
    if isinstance(exc, NoCredentialsError):
        return CloudError(op, "NoCredentials", "no AWS credentials found (environment, profile or instance role)")
    if isinstance(exc, NoRegionError):
        return CloudError(op, "NoRegion", "no AWS region configured")
    if isinstance(exc, ParamValidationError):
        return CloudError(op, "ParamValidation", " ".join(str(exc).split()))
    if isinstance(exc, CloudError):
        return exc
    from aiohttp import ClientError as HttpClientError
    from botocore.exceptions import BotoCoreError

    # aiohttp's own errors escape botocore's mapping while a response body is read (a
    # connection dropped mid-body: ClientPayloadError, ServerDisconnectedError)
    if isinstance(exc, (BotoCoreError, OSError, HttpClientError)):
        # connection closed/reset, read timeouts: the server may or may not have acted
        return CloudError(op, type(exc).__name__, str(exc), retryable=True)
    raise exc
