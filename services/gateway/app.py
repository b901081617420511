"""gateway: `POST /v1/{service}/{endpoint}` with a JSON body becomes a protobuf NATS request.

Status mapping: 200 reply; 400 body that does not fit the contract (naming the field);
404 unknown service or endpoint; an error reply passes its 4xx/5xx code through;
503 no responders or NATS not connected; 504 no reply in time.
`/healthz` answers while the process runs, `/readyz` only while NATS is connected.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats.micro
from aiohttp import web
from nats import errors as nats_errors
from nats.aio.client import Client
from nats.micro.request import ERROR_CODE_HEADER, ERROR_HEADER
from pydantic import Field

from sdk import EnvSettings, ServiceError, contracts, tracing
from sdk import codec, health
from sdk.connect import connect
from sdk.errors import EXIT_CONNECT, EXIT_OK
from sdk.log import get_logger
from sdk.settings import Settings

NAME = "gateway"
CLIENT = web.AppKey("nats_client", Client)
TIMEOUT = web.AppKey("timeout", float)
log = get_logger(NAME)


class GatewayConfig(EnvSettings):
    gateway_port: int = Field(default=8080, ge=1, le=65535)
    gateway_host: str = "127.0.0.1"
    gateway_request_timeout: float = Field(default=5.0, gt=0, le=120)


def _error(status: int, code: str, message: str, subject: str = "") -> web.Response:
    body = {"code": code, "message": message}
    if subject:
        body["subject"] = subject
    return web.json_response(body, status=status)


def _status_for(code: str) -> int:
    return int(code) if code.isdigit() and 400 <= int(code) <= 599 else 502


async def handle_call(request: web.Request) -> web.Response:
    service, name = request.match_info["service"], request.match_info["endpoint"]
    try:
        contract = contracts.endpoint(f"{service}.{name}")
    except contracts.UnknownContract as error:
        return _error(404, "not_found", str(error))
    try:
        payload: Any = json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "bad_request", "body is not valid JSON", contract.subject)
    if not isinstance(payload, dict):
        return _error(400, "bad_request", "body must be a JSON object", contract.subject)
    try:
        message = codec.from_dict(payload, contract.request)
    except ServiceError as error:
        return _error(400, "bad_request", error.description, contract.subject)
    client = request.app[CLIENT]
    if not client.is_connected:
        return _error(503, "unavailable", "not connected to NATS", contract.subject)
    with tracing.server_span(f"POST {request.path}", dict(request.headers)):
        headers: dict[str, str] = {}
        tracing.inject(headers)
        try:
            reply = await client.request(contract.subject, codec.encode(message), timeout=request.app[TIMEOUT], headers=headers)
        except nats_errors.NoRespondersError:
            return _error(503, "no_responders", f"no instance of {service} is serving", contract.subject)
        except (nats_errors.TimeoutError, asyncio.TimeoutError):
            return _error(504, "timeout", f"no reply within {request.app[TIMEOUT]:g}s", contract.subject)
        except (nats_errors.ConnectionClosedError, nats_errors.ConnectionReconnectingError):
            return _error(503, "unavailable", "NATS connection is not available", contract.subject)
    code = (reply.headers or {}).get(ERROR_CODE_HEADER)
    if code:
        return _error(_status_for(code), code, (reply.headers or {}).get(ERROR_HEADER, ""), contract.subject)
    try:
        response = codec.decode(reply.data, contract.response)
    except ServiceError as error:
        return _error(502, "bad_reply", error.description, contract.subject)
    return web.Response(text=codec.to_json(response), content_type="application/json")


async def handle_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def handle_ready(request: web.Request) -> web.Response:
    if request.app[CLIENT].is_connected:
        return web.json_response({"status": "ready"})
    return web.json_response({"status": "not_ready", "reason": "NATS not connected"}, status=503)


def create_app(client: Client, timeout: float) -> web.Application:
    app = web.Application(client_max_size=1 << 20)
    app[CLIENT] = client
    app[TIMEOUT] = timeout
    app.router.add_post("/v1/{service}/{endpoint}", handle_call)
    app.router.add_get("/healthz", handle_health)
    app.router.add_get("/readyz", handle_ready)
    return app


async def serve(settings: Settings, config: GatewayConfig, stop: asyncio.Event) -> int:
    connection = await connect(settings, log, NAME)
    client = connection.client
    await nats.micro.add_service(
        client, name=NAME, version=settings.micro_version, metadata={"service_version": settings.service_version}
    )
    runner = web.AppRunner(create_app(client, config.gateway_request_timeout), access_log=None, handle_signals=False)
    await runner.setup()
    heartbeat: health.Heartbeat | None = None
    try:
        site = web.TCPSite(runner, config.gateway_host, config.gateway_port)
        await site.start()
        # the container health check reads the same predicate /readyz answers with
        heartbeat = await health.Heartbeat(lambda: (client.is_connected, "ready" if client.is_connected
                                                    else "NATS not connected")).start()
        log.info("service_started", f"gateway listening on {config.gateway_host}:{config.gateway_port}",
                 host=config.gateway_host, port=config.gateway_port, version=settings.service_version)
        closed = asyncio.ensure_future(connection.closed.wait())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        stopping.cancel()
    finally:
        if heartbeat is not None:
            await heartbeat.stop()
        await runner.cleanup()
        if not client.is_closed:
            await asyncio.wait({asyncio.ensure_future(client.drain())}, timeout=5.0)
    return EXIT_OK if stop.is_set() else EXIT_CONNECT
