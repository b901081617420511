"""W3C traceparent: parsed, continued in handlers, and carried on outgoing requests."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client

from sdk import tracing
from sdk.peers import Peers
from sdk.proto import language_system_pb2 as pb

INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_parse() -> None:
    span = tracing.parse(INCOMING)
    assert span is not None and span.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and span.span_id == "00f067aa0ba902b7"
    assert tracing.parse("00-" + "0" * 32 + "-00f067aa0ba902b7-01") is None
    assert tracing.parse("garbage") is None and tracing.parse(None) is None


def test_server_span_continues_the_caller_trace() -> None:
    with tracing.server_span("x", {"Traceparent": INCOMING}) as span:
        assert span.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and span.span_id != "00f067aa0ba902b7"
        headers: dict[str, str] = {}
        tracing.inject(headers)
        outgoing = tracing.parse(headers["traceparent"])
        assert outgoing is not None and outgoing.trace_id == span.trace_id
    assert tracing.current() is None


async def test_peer_requests_carry_the_trace(sdk_client: Client) -> None:
    seen: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def answer(msg) -> None:
        if not seen.done():
            seen.set_result((msg.headers or {}).get("traceparent", ""))
        await msg.respond(pb.DetectResponse(language="common").SerializeToString())

    subscription = await sdk_client.subscribe("language_system.detect", cb=answer)
    await sdk_client.flush()
    try:
        with tracing.server_span("caller", {"traceparent": INCOMING}):
            await Peers(sdk_client).call("language_system.detect", pb.DetectRequest(text="hi"))
        received = tracing.parse(await seen)
        assert received is not None and received.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    finally:
        await subscription.unsubscribe()
