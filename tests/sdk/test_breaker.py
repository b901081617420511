"""The circuit breaker, alone with a controllable clock and in front of a real NATS peer."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client

from sdk import CircuitOpenError, RemoteError
from sdk.breaker import BreakerState, CircuitBreaker
from sdk.peers import Peers
from sdk.proto import language_system_pb2 as pb


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_and_probes_after_cool_down() -> None:
    clock = Clock()
    breaker = CircuitBreaker("peer", failure_threshold=3, reset_timeout=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() and not breaker.allow(), "half-open lets exactly one probe through"
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 10
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.metrics.as_dict() == {"requests": 5, "successes": 1, "failures": 4, "rejected": 2, "opened": 2}


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker("peer", failure_threshold=2)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


async def test_peers_open_on_no_responders_then_recover(sdk_client: Client) -> None:
    peers = Peers(sdk_client, timeout=0.5, failure_threshold=2, reset_timeout=0.3)
    request = pb.DetectRequest(text="mellon")
    for _ in range(2):
        with pytest.raises(RemoteError) as error:
            await peers.call("language_system.detect", request)
        assert error.value.code == "503"
    with pytest.raises(CircuitOpenError):
        await peers.call("language_system.detect", request)
    assert peers.breaker("language_system").metrics.rejected == 1

    async def answer(msg) -> None:
        await msg.respond(pb.DetectResponse(language="elvish", confidence=1.0).SerializeToString())

    subscription = await sdk_client.subscribe("language_system.detect", cb=answer)
    await sdk_client.flush()
    try:
        await asyncio.sleep(0.35)
        response = await peers.call("language_system.detect", request)
        assert response.language == "elvish"
        assert peers.breaker("language_system").state is BreakerState.CLOSED
    finally:
        await subscription.unsubscribe()


async def test_client_errors_do_not_open_the_circuit(sdk_client: Client) -> None:
    peers = Peers(sdk_client, failure_threshold=1)

    async def reject(msg) -> None:
        await sdk_client.publish(msg.reply, b"", headers={"Nats-Service-Error-Code": "400", "Nats-Service-Error": "bad"})

    subscription = await sdk_client.subscribe("language_system.translate", cb=reject)
    await sdk_client.flush()
    try:
        for _ in range(3):
            with pytest.raises(RemoteError) as error:
                await peers.call("language_system.translate", pb.TranslateRequest(text="x", target="elvish"))
            assert error.value.code == "400" and not isinstance(error.value, CircuitOpenError)
    finally:
        await subscription.unsubscribe()
