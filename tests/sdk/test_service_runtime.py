"""The service base in-process on a real nats-server: micro endpoints, codecs, errors, drain."""

from __future__ import annotations

import asyncio
import json

import pytest
from nats.aio.client import Client

from sdk import Service, Settings, bad_request, endpoint, serve
from sdk import settings as settings_module
from sdk.proto import language_system_pb2 as pb
from sdk.testing import NatsServer


class Echo(Service):
    """Serves the language_system contract with behaviour chosen by the test."""

    name = "language_system"

    async def setup(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    @endpoint
    async def detect(self, request: pb.DetectRequest) -> pb.DetectResponse:
        if request.text == "boom":
            raise RuntimeError("secret internals")
        if request.text == "bad":
            raise bad_request("field 'text' is bad")
        if request.text == "slow":
            self.started.set()
            await self.release.wait()
        return pb.DetectResponse(language="echo:" + request.text)

    @endpoint
    async def translate(self, request: pb.TranslateRequest) -> pb.DetectResponse:  # wrong type on purpose
        return pb.DetectResponse()


def settings_for(server: NatsServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NATS_URL", server.url)
    monkeypatch.setenv("SERVICE_VERSION", "sha256:" + "cd" * 32)
    return settings_module.load(Settings)


async def test_endpoints_codecs_and_errors(sdk_nats: NatsServer, sdk_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    async with serve(Echo, settings_for(sdk_nats, monkeypatch)):
        info = json.loads((await sdk_client.request("$SRV.INFO.language_system", b"", timeout=2)).data)
        assert {(e["subject"], e["queue_group"]) for e in info["endpoints"]} == {
            ("language_system.detect", "language_system"),
            ("language_system.translate", "language_system"),
        }
        assert info["version"] == "0.0.0+sha256." + "cd" * 32

        reply = await sdk_client.request("language_system.detect", pb.DetectRequest(text="hi").SerializeToString(), timeout=2)
        assert pb.DetectResponse.FromString(reply.data).language == "echo:hi"

        reply = await sdk_client.request("language_system.detect", b'{"text": "js"}', headers={"Content-Type": "application/json"}, timeout=2)
        assert json.loads(reply.data)["language"] == "echo:js" and reply.headers["Content-Type"] == "application/json"

        cases = [
            (pb.DetectRequest(text="bad").SerializeToString(), "language_system.detect", "400", "field 'text' is bad"),
            (b"\xff\xff", "language_system.detect", "400", "invalid protobuf"),
            (pb.DetectRequest(text="boom").SerializeToString(), "language_system.detect", "500", "internal error"),
            (b"", "language_system.translate", "500", "internal error"),
        ]
        for data, subject, code, text in cases:
            reply = await sdk_client.request(subject, data, timeout=2)
            assert reply.headers["Nats-Service-Error-Code"] == code
            assert text in reply.headers["Nats-Service-Error"] and "secret" not in reply.headers["Nats-Service-Error"]

        stats = json.loads((await sdk_client.request("$SRV.STATS.language_system", b"", timeout=2)).data)
        detect = next(e for e in stats["endpoints"] if e["name"] == "detect")
        assert detect["num_requests"] == 5 and detect["num_errors"] == 3


async def test_stop_drains_a_request_in_flight(sdk_nats: NatsServer, sdk_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    async with serve(Echo, settings_for(sdk_nats, monkeypatch)) as running:
        service = running.service
        pending = asyncio.ensure_future(
            sdk_client.request("language_system.detect", pb.DetectRequest(text="slow").SerializeToString(), timeout=5)
        )
        await asyncio.wait_for(service.started.wait(), 2)
        asyncio.get_running_loop().call_later(0.3, service.release.set)
    reply = await pending
    assert pb.DetectResponse.FromString(reply.data).language == "echo:slow"
    assert running.connection.client.is_closed


def test_contract_mismatch_is_refused() -> None:
    class Incomplete(Service):
        name = "language_system"

        @endpoint
        async def detect(self, request: pb.DetectRequest) -> pb.DetectResponse:
            return pb.DetectResponse()

    with pytest.raises(TypeError, match="missing \\['translate'\\]"):
        Incomplete.check_contract()
