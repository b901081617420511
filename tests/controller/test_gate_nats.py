"""The gate's NATS round against a real nats-server that stops answering or goes away.

Unreachable servers must read `NatsUnreachable`: nothing is known about responders then, which is
not `NoResponders`. A lost connection is opened again at a later round.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import nats
import nats.micro
import pytest

from fleetctl.controller.gate import NATS_UNREACHABLE, NO_RESPONDERS, SERVING, GateTarget, NatsGate
from fleetctl.controller.manifest import load_manifest
from sdk.testing import NatsServer
from tests.controller.test_probe import DIGEST, _manifest

QUEST = GateTarget("quest", 1, DIGEST, ("quest.get",))


@pytest.fixture
def own_nats(tmp_path):
    server = NatsServer(tmp_path / "nats").start()
    yield server
    if server.process is not None:
        server.process.send_signal(signal.SIGCONT)
    server.stop()


def _wait_stopped(pid: int) -> None:
    """Until every thread of `pid` is stopped: SIGSTOP reaches a running thread only when it next yields."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        states = [Path(f"/proc/{pid}/task/{t}/stat").read_text().rsplit(")", 1)[1].split()[0]
                  for t in os.listdir(f"/proc/{pid}/task")]
        if all(state == "T" for state in states):
            return
        time.sleep(0.01)
    raise AssertionError(f"nats-server {pid} did not stop")


async def _answer(request) -> None:
    await request.respond(b"ok")


async def _gate(tmp_path, url: str) -> NatsGate:
    path = _manifest(tmp_path, url, [{"name": "quest", "image": f"r.example/quest@{DIGEST}", "desiredCount": 1,
                                      "subjects": ["quest.get"]}])
    gate = NatsGate(load_manifest(path).fleet, "required", connect_timeout=2.0, request_timeout=0.5,
                    reconnect_every=0.0)
    assert await gate.open() == "on"
    return gate


async def test_a_server_that_stops_answering_or_dies_reads_nats_unreachable(own_nats, tmp_path) -> None:
    gate = await _gate(tmp_path, own_nats.url)
    try:
        verdict = (await gate.round([QUEST]))["quest"]
        assert verdict.reason == NO_RESPONDERS  # reachable, and nobody subscribed

        own_nats.process.send_signal(signal.SIGSTOP)  # the connection stays up; nothing answers
        _wait_stopped(own_nats.process.pid)
        try:
            verdict = (await gate.round([QUEST]))["quest"]
        finally:
            own_nats.process.send_signal(signal.SIGCONT)
        assert (verdict.status, verdict.reason) == (False, NATS_UNREACHABLE), verdict
        assert "did not answer" in verdict.message and verdict.missing_subjects == ()

        own_nats.kill()  # a dead port
        verdict = (await gate.round([QUEST]))["quest"]
        assert (verdict.status, verdict.reason) == (False, NATS_UNREACHABLE), verdict
        verdict = (await gate.round([QUEST]))["quest"]  # the connection is gone by now: reconnecting fails
        assert (verdict.status, verdict.reason) == (False, NATS_UNREACHABLE), verdict
        assert "nats_unreachable" in verdict.message  # the connect failure, classified

        # the server is back on the same port: the next round connects again and judges
        own_nats.start()
        client = await nats.connect(own_nats.url)
        svc = await nats.micro.add_service(client, name="quest", version="0.0.0",
                                           metadata={"service_version": DIGEST})
        await svc.add_endpoint(name="get", subject="quest.get", handler=_answer)
        await client.flush()
        try:
            verdict = (await gate.round([QUEST]))["quest"]
        finally:
            await svc.stop()
            await client.close()
        assert (verdict.status, verdict.reason) == (True, SERVING), verdict
    finally:
        await gate.close()
