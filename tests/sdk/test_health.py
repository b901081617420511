"""The SDK's health heartbeat on real nats-servers: JetStream counts for services that use it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdk import Service, endpoint, health, serve
from sdk.proto import language_system_pb2 as pb
from sdk.testing import NatsServer
from tests.sdk.test_service_runtime import settings_for


class Plain(Service):
    name = "language_system"

    @endpoint
    async def detect(self, request: pb.DetectRequest) -> pb.DetectResponse:
        return pb.DetectResponse(language="x")

    @endpoint
    async def translate(self, request: pb.TranslateRequest) -> pb.TranslateResponse:
        return pb.TranslateResponse()


class Stateful(Plain):
    """Opens a bucket in setup: its health includes JetStream without saying so."""

    async def setup(self) -> None:
        await self.rt.bucket("health_test")


class Declared(Plain):
    jetstream = True  # uses self.rt.js directly


@pytest.fixture(scope="module")
def no_js_nats(tmp_path_factory: pytest.TempPathFactory):
    server = NatsServer(tmp_path_factory.mktemp("no-js-nats"), jetstream=False).start()
    yield server
    server.stop()


@pytest.fixture
def beat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "heartbeat.json"
    monkeypatch.setenv(health.HEALTH_FILE_ENV, str(path))
    return path


def _check(path: Path) -> tuple[int, str]:
    """The health command's exit code, and the detail the service wrote."""
    return health.main(["--file", str(path)]), json.loads(path.read_text())["detail"]


async def test_a_bucket_user_is_healthy_while_jetstream_answers(sdk_nats: NatsServer, beat_file: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    async with serve(Stateful, settings_for(sdk_nats, monkeypatch)):
        code, detail = _check(beat_file)
    assert code == 0 and "JetStream answers" in detail
    assert not beat_file.exists()  # removed on stop


async def test_jetstream_unreachable_makes_a_jetstream_service_unhealthy(no_js_nats: NatsServer, beat_file: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    async with serve(Declared, settings_for(no_js_nats, monkeypatch)):
        code, detail = _check(beat_file)
    assert code == 1 and "JetStream is not enabled" in detail
    assert "unhealthy: not serving: JetStream is not enabled" in capsys.readouterr().err


async def test_a_service_without_jetstream_does_not_need_it(no_js_nats: NatsServer, beat_file: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    async with serve(Plain, settings_for(no_js_nats, monkeypatch)):
        code, detail = _check(beat_file)
    assert code == 0 and detail == "2 endpoints subscribed"


async def test_jetstream_that_does_not_answer_or_refuses_is_a_problem(no_js_nats: NatsServer) -> None:
    import nats

    client = await nats.connect(no_js_nats.url)
    try:
        assert await health.jetstream_problem(client) == "JetStream is not enabled on the NATS server"
        silent = await client.subscribe("$JS.API.INFO")  # interest, never an answer
        await client.flush()
        assert await health.jetstream_problem(client, timeout=0.2) == "JetStream did not answer within 0.2s"
        await silent.unsubscribe()

        async def refuse(msg) -> None:
            await msg.respond(json.dumps({"error": {"code": 503, "description": "JetStream system temporarily "
                                                                                 "unavailable"}}).encode())

        await client.subscribe("$JS.API.INFO", cb=refuse)
        await client.flush()
        problem = await health.jetstream_problem(client)
        assert problem == "JetStream unavailable: JetStream system temporarily unavailable"
    finally:
        await client.close()
