"""The service base every fleet service builds on.

A service is a subclass of `Service` with a `name` and one `@endpoint` method per rpc in
its contract (`sdk/proto/<name>.proto`). Each method takes the decoded request message and
returns the response message. `serve` runs it on `nats.micro` (so `$SRV.PING/INFO/STATS`
answer) with every endpoint on subject `<name>.<endpoint>` in queue group `<name>`.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, ClassVar, TypeVar

import nats.micro
from google.protobuf.message import Message
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.micro.request import Request
from nats.micro.request import ServiceError as MicroError
from pydantic_settings import BaseSettings

from sdk import codec, contracts, health, tracing
from sdk.connect import Connection, connect
from sdk.errors import CircuitOpenError, RemoteError, ServiceError
from sdk.log import EventLogger, get_logger
from sdk.peers import Peers
from sdk.settings import Settings
from sdk.store import Bucket, open_bucket

DRAIN_TIMEOUT = 5.0
"""Seconds a stopping service may spend finishing requests it already received."""

H = TypeVar("H", bound=Callable[..., Awaitable[Message]])


def endpoint(method: H) -> H:
    """Mark a method of a `Service` as the handler of the rpc with the same name."""
    method.__sdk_endpoint__ = True  # type: ignore[attr-defined]
    return method


@dataclass
class Runtime:
    """What a running service reaches the world through."""

    settings: Settings
    client: Client
    js: JetStreamContext
    log: EventLogger
    peers: Peers
    config: Any = None
    _buckets: dict[str, Bucket] = field(default_factory=dict)

    async def call(self, subject: str, request: Message, timeout: float | None = None) -> Any:
        return await self.peers.call(subject, request, timeout)

    @property
    def uses_buckets(self) -> bool:
        return bool(self._buckets)

    async def bucket(self, name: str) -> Bucket:
        if name not in self._buckets:
            self._buckets[name] = await open_bucket(self.js, name)
        return self._buckets[name]


class Service:
    name: ClassVar[str]
    description: ClassVar[str] = ""
    config: ClassVar[type[BaseSettings] | None] = None
    """Extra settings (secrets and the like) read from the environment at start."""
    jetstream: ClassVar[bool | None] = None
    """Whether the service depends on JetStream, so that its health includes JetStream's. None: it
    does when `setup` opened a bucket (`self.rt.bucket`); a service using `self.rt.js` directly says so."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.log = runtime.log

    async def setup(self) -> None:
        """Prepare state (open buckets, streams) before the endpoints subscribe."""

    async def teardown(self) -> None:
        """Release what `setup` took, after the subscriptions drained."""

    @classmethod
    def handlers(cls) -> dict[str, str]:
        """Endpoint name -> method name, for the methods marked with `@endpoint`."""
        return {name: name for name in dir(cls) if getattr(getattr(cls, name, None), "__sdk_endpoint__", False)}

    @classmethod
    def check_contract(cls) -> dict[str, contracts.Endpoint]:
        declared = contracts.endpoints(cls.name)
        implemented = set(cls.handlers())
        if implemented != set(declared):
            missing = sorted(set(declared) - implemented)
            extra = sorted(implemented - set(declared))
            raise TypeError(f"{cls.__name__} does not match {cls.name}.proto: missing {missing}, not in contract {extra}")
        return declared


class Faults:
    """Errors injected on purpose (FAULT_ERROR_RATE): exactly `rate` of the requests, evenly spread."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.seen = 0

    def fire(self) -> bool:
        if self.rate <= 0:
            return False
        self.seen += 1
        return int(self.seen * self.rate) > int((self.seen - 1) * self.rate)


def _handler(service: Service, contract: contracts.Endpoint, log: EventLogger,
             faults: Faults | None = None) -> Callable[[Request], Awaitable[None]]:
    method = getattr(service, contract.name)

    async def handle(request: Request) -> None:
        kind = codec.content_type(request.headers)
        started = time.perf_counter()
        with tracing.server_span(contract.subject, request.headers) as span:
            fields = {"subject": contract.subject, "trace_id": span.trace_id}
            if faults is not None and faults.fire():
                raise MicroError("500", "injected fault (FAULT_ERROR_RATE)")
            try:
                message = codec.decode(request.data, contract.request, kind)
                response = await method(message)
                if not isinstance(response, contract.response):
                    raise TypeError(f"{contract.subject} returned {type(response).__name__}, not {contract.response.__name__}")
                await request.respond(codec.encode(response, kind), headers={codec.CONTENT_TYPE: kind})
            except ServiceError as error:
                log.info("request_rejected", error.description, code=error.code, **fields)
                raise MicroError(error.code, error.description) from None
            except CircuitOpenError as error:
                log.warning("peer_unavailable", str(error), code="503", peer=error.subject, **fields)
                raise MicroError("503", str(error)) from None
            except RemoteError as error:
                code = "503" if error.code in ("503", "504") else "502"
                log.warning("peer_failed", str(error), code=code, peer=error.subject, **fields)
                raise MicroError(code, f"{error.subject} failed: {error.code} {error.description}") from None
            except Exception:
                log.exception("request_failed", "handler raised", code="500", **fields)
                raise MicroError("500", "internal error") from None
            log.debug("request_served", elapsed_ms=round((time.perf_counter() - started) * 1000, 2), **fields)

    return handle


@dataclass
class Running:
    service: Service
    micro: nats.micro.service.Service
    connection: Connection

    @property
    def closed(self) -> asyncio.Event:
        return self.connection.closed


@asynccontextmanager
async def serve(cls: type[Service], settings: Settings, config: Any = None) -> AsyncIterator[Running]:
    """Connect, set the service up and serve its endpoints until the block exits; then drain."""
    contract = cls.check_contract()
    log = get_logger(cls.name)
    connection = await connect(settings, log, cls.name)
    client = connection.client
    service: Service | None = None
    heartbeat: health.Heartbeat | None = None
    try:
        runtime = Runtime(settings, client, client.jetstream(), log, Peers(client), config)
        service = cls(runtime)
        await service.setup()
        micro = await nats.micro.add_service(
            client,
            name=cls.name,
            version=settings.micro_version,
            description=cls.description or None,
            metadata={"service_version": settings.service_version},
            queue_group=cls.name,
        )
        faults = Faults(settings.fault_error_rate) if settings.fault_error_rate > 0 else None
        if faults is not None:
            log.warning("faults_injected", f"FAULT_ERROR_RATE={settings.fault_error_rate}: that share of requests "
                        "fails on purpose")
        for name, endpoint_contract in contract.items():
            await micro.add_endpoint(
                name=name,
                subject=endpoint_contract.subject,
                queue_group=cls.name,
                handler=_handler(service, endpoint_contract, log, faults),
            )
        await client.flush()
        subscribed = len(contract)

        uses_jetstream = cls.jetstream if cls.jetstream is not None else runtime.uses_buckets

        async def serving() -> tuple[bool, str]:
            if not client.is_connected:
                return False, "NATS not connected"
            missing = len(contract) - subscribed
            if missing:
                return False, f"{missing} endpoints not subscribed"
            if uses_jetstream and (problem := await health.jetstream_problem(client)) is not None:
                return False, problem
            return True, f"{subscribed} endpoints subscribed" + (", JetStream answers" if uses_jetstream else "")

        heartbeat = await health.Heartbeat(serving).start()
        log.info("service_started", f"{cls.name} serving {', '.join(e.subject for e in contract.values())}",
                 version=settings.service_version, endpoints=len(contract))
        yield Running(service, micro, connection)
    finally:
        if heartbeat is not None:
            await heartbeat.stop()
        await _drain(client, log)
        if service is not None:
            await service.teardown()


async def _drain(client: Client, log: EventLogger) -> None:
    if client.is_closed:
        return
    try:
        await asyncio.wait_for(client.drain(), DRAIN_TIMEOUT)
    except Exception as error:
        log.warning("drain_incomplete", f"drain did not finish cleanly: {error!r}")
        await asyncio.wait({asyncio.ensure_future(client.close())}, timeout=1.0)
