"""event_bus: publishes to and replays from the JetStream stream EVENTS (file storage).

A publish is answered only after JetStream acknowledged the message, so an answered
publish survives a server restart. A message id de-duplicates retries within two minutes.
"""

from __future__ import annotations

import re

from nats.js import errors as js_errors
from nats.js.api import StorageType, StreamConfig

from sdk import Service, bad_request, endpoint, require
from sdk.proto import event_bus_pb2 as pb

STREAM = "EVENTS"
PREFIX = "events"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_TOPIC = re.compile(r"^[A-Za-z0-9_=-]+(\.[A-Za-z0-9_=-]+)*$")
_PATTERN = re.compile(r"^([A-Za-z0-9_=*-]+\.)*([A-Za-z0-9_=*-]+|>)$")


class EventBus(Service):
    name = "event_bus"
    description = "Durable events on JetStream"
    jetstream = True  # uses the stream through self.rt.js, not a bucket

    async def setup(self) -> None:
        config = StreamConfig(name=STREAM, subjects=[f"{PREFIX}.>"], storage=StorageType.FILE, duplicate_window=120)
        try:
            await self.rt.js.stream_info(STREAM)
        except js_errors.NotFoundError:
            await self.rt.js.add_stream(config)

    @endpoint
    async def publish(self, request: pb.PublishRequest) -> pb.PublishResponse:
        require(topic=request.topic)
        if not _TOPIC.match(request.topic):
            raise bad_request("field 'topic' must be dot-separated tokens of letters, digits, '-', '_' or '='")
        headers = {"Nats-Msg-Id": request.message_id} if request.message_id else None
        ack = await self.rt.js.publish(f"{PREFIX}.{request.topic}", request.payload, stream=STREAM, headers=headers)
        return pb.PublishResponse(sequence=ack.seq, duplicate=bool(ack.duplicate))

    @endpoint
    async def replay(self, request: pb.ReplayRequest) -> pb.ReplayResponse:
        pattern = request.topic or ">"
        if not _PATTERN.match(pattern):
            raise bad_request("field 'topic' must be a topic, optionally with '*' tokens or a final '>'")
        limit = request.limit or DEFAULT_LIMIT
        if not 0 < limit <= MAX_LIMIT:
            raise bad_request(f"field 'limit' must be between 1 and {MAX_LIMIT}")
        sequence = max(request.from_sequence, 1)
        events = []
        while len(events) < limit:
            try:
                message = await self.rt.js.get_msg(STREAM, seq=sequence, subject=f"{PREFIX}.{pattern}", next=True)
            except js_errors.NotFoundError:
                break
            headers = message.headers or {}
            events.append(
                pb.Event(
                    sequence=message.seq or 0,
                    topic=(message.subject or "").removeprefix(f"{PREFIX}."),
                    payload=message.data or b"",
                    message_id=headers.get("Nats-Msg-Id", ""),
                    published_at_ms=int(message.time.timestamp() * 1000) if message.time else 0,
                )
            )
            sequence = (message.seq or sequence) + 1
        return pb.ReplayResponse(events=events, next_sequence=sequence)
