"""The gateway end to end: HTTP in, protobuf over NATS, JSON out, and its status mapping."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

import aiohttp
import nats
import pytest

from fleet_support import Fleet, service_env, wait_for_ping
from sdk.testing import NatsServer, ServiceProcess, free_port, wait_for_port


async def post(port: int, path: str, body: object | bytes) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
        async with session.post(f"http://127.0.0.1:{port}{path}", **kwargs) as response:
            return response.status, await response.json()


async def get(port: int, path: str) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}{path}") as response:
            return response.status


async def test_200_json_in_json_out(fleet: Fleet) -> None:
    status, body = await post(fleet.gateway_port, "/v1/language_system/translate", {"text": "good day", "target": "dwarvish"})
    assert status == 200, body
    assert body == {"text": "ruk ninz", "source": "common", "unknown_words": []}


async def test_400_names_the_field(fleet: Fleet) -> None:
    status, body = await post(fleet.gateway_port, "/v1/time_manager/set_speed", {"speed": "fast"})
    assert status == 400 and "speed" in body["message"]
    status, body = await post(fleet.gateway_port, "/v1/auth/issue", {"subject": "p", "colour": "red"})
    assert status == 400 and "colour" in body["message"]
    status, body = await post(fleet.gateway_port, "/v1/auth/issue", b"{not json")
    assert status == 400 and body["message"] == "body is not valid JSON"


async def test_service_error_codes_pass_through(fleet: Fleet) -> None:
    status, body = await post(fleet.gateway_port, "/v1/auth/issue", {})
    assert status == 400 and body["message"] == "field 'subject' is required"
    status, body = await post(fleet.gateway_port, "/v1/model_mgmt/get", {"id": "missing-model"})
    assert status == 404 and body["subject"] == "model_mgmt.get"


async def test_404_for_unknown_routes(fleet: Fleet) -> None:
    assert (await post(fleet.gateway_port, "/v1/nosuch/thing", {}))[0] == 404
    assert (await post(fleet.gateway_port, "/v1/auth/nosuch", {}))[0] == 404


async def test_health_and_ready(fleet: Fleet) -> None:
    assert await get(fleet.gateway_port, "/healthz") == 200
    assert await get(fleet.gateway_port, "/readyz") == 200


@pytest.fixture(scope="module")
async def lonely_gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[int, NatsServer]]:
    """A gateway on its own nats-server where no service runs."""
    server = NatsServer(tmp_path_factory.mktemp("lonely-nats")).start()
    port = free_port()
    env = service_env(server.url, "gateway", GATEWAY_PORT=str(port), GATEWAY_REQUEST_TIMEOUT="1")
    gateway = ServiceProcess("gateway", env, tmp_path_factory.mktemp("lonely") / "gateway.log").start()
    try:
        # Connections are per test: one kept for the module would not answer the server's PINGs
        # while synchronous tests run, and one test restarts this server.
        client = await nats.connect(server.url)
        try:
            await wait_for_ping(client, "gateway", time.monotonic() + 20)
        finally:
            await client.close()
        wait_for_port(port, 10)
        yield port, server
    finally:
        gateway.terminate()
        server.stop()


async def test_503_without_responders(lonely_gateway: tuple[int, NatsServer]) -> None:
    port, _ = lonely_gateway
    status, body = await post(port, "/v1/auth/issue", {"subject": "p"})
    assert status == 503 and body["code"] == "no_responders"


async def test_504_when_nobody_answers_in_time(lonely_gateway: tuple[int, NatsServer]) -> None:
    port, server = lonely_gateway
    client = await nats.connect(server.url)
    received = asyncio.Event()

    async def silent(msg: nats.aio.msg.Msg) -> None:
        received.set()

    subscription = await client.subscribe("time_manager.now", cb=silent)
    await client.flush()
    try:
        started = time.monotonic()
        status, body = await post(port, "/v1/time_manager/now", {})
        assert status == 504 and body["code"] == "timeout"
        assert received.is_set() and time.monotonic() - started < 3
    finally:
        await subscription.unsubscribe()
        await client.close()


async def test_readyz_follows_the_nats_connection(lonely_gateway: tuple[int, NatsServer]) -> None:
    port, server = lonely_gateway
    assert await get(port, "/readyz") == 200
    server.kill()
    try:
        deadline = time.monotonic() + 5
        while await get(port, "/readyz") != 503:
            assert time.monotonic() < deadline, "readyz stayed 200 without NATS"
            await asyncio.sleep(0.1)
        assert await get(port, "/healthz") == 200
    finally:
        server.start()
    deadline = time.monotonic() + 5
    while await get(port, "/readyz") != 200:
        assert time.monotonic() < deadline, "readyz did not recover after NATS came back"
        await asyncio.sleep(0.1)
