"""Each service reads its replies under its own inbox prefix, as the fleet's NATS permissions require."""
from __future__ import annotations

import logging

import pytest

from sdk import Settings
from sdk import settings as settings_module
from sdk.connect import connect
from sdk.errors import ConfigError
from sdk.log import EventLogger
from sdk.testing import NatsServer


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key in ("SERVICE_NAME", "NATS_INBOX_PREFIX"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return settings_module.load(Settings)


def test_the_prefix_is_the_service_name_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "nats://127.0.0.1:4222"
    assert load(monkeypatch, NATS_URL=url, SERVICE_NAME="payment").inbox_prefix == "_INBOX.payment"
    assert load(monkeypatch, NATS_URL=url, SERVICE_NAME="payment", NATS_INBOX_PREFIX="_R.pay").inbox_prefix == "_R.pay"
    assert load(monkeypatch, NATS_URL=url).inbox_prefix == "_INBOX"
    for bad in ("_INBOX.>", "_INBOX.*", "a..b", "has space"):
        with pytest.raises(ConfigError) as exc:
            load(monkeypatch, NATS_URL=url, NATS_INBOX_PREFIX=bad)
        assert exc.value.variable == "NATS_INBOX_PREFIX"


async def _request(client, subject: str):
    """The request, asked again while the server reports no responders (for at most 5 s): what is
    checked here is where the reply arrives, not how soon the responder's interest is known."""
    import asyncio
    import time

    from nats.errors import NoRespondersError

    deadline = time.monotonic() + 5
    while True:
        try:
            return await client.request(subject, b"", timeout=2)
        except NoRespondersError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_requests_are_answered_on_the_services_own_inbox(sdk_nats: NatsServer, sdk_client, monkeypatch) -> None:
    settings = load(monkeypatch, NATS_URL=sdk_nats.url, SERVICE_NAME="payment")
    connection = await connect(settings, EventLogger(logging.getLogger("test")), "payment")

    async def answer(msg) -> None:
        await msg.respond(msg.reply.encode())

    sub = await sdk_client.subscribe("inbox.echo", cb=answer)
    await sdk_client.flush()  # the server has the subscription before the request goes out
    try:
        reply = await _request(connection.client, "inbox.echo")
        assert reply.data.decode().startswith("_INBOX.payment.")
    finally:
        await sub.unsubscribe()
        await connection.client.close()
