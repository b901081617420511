"""Wire codecs: protobuf by default, protobuf's JSON mapping when a header asks for it.

A request carrying `Content-Type: application/json` is decoded as JSON and answered in
JSON; anything else is binary protobuf. A payload that does not decode raises
`ServiceError("400", ...)` naming the problem.
"""

from __future__ import annotations

from typing import Mapping, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from sdk.errors import bad_request

CONTENT_TYPE = "Content-Type"
JSON = "application/json"
PROTOBUF = "application/protobuf"

M = TypeVar("M", bound=Message)


def content_type(headers: Mapping[str, str] | None) -> str:
    if headers:
        for key, value in headers.items():
            if key.lower() == "content-type" and value.split(";")[0].strip().lower() == JSON:
                return JSON
    return PROTOBUF


def decode(data: bytes, message_type: type[M], kind: str = PROTOBUF) -> M:
    message = message_type()
    if kind == JSON:
        try:
            json_format.Parse(data.decode("utf-8") if data else "{}", message)
        except (json_format.ParseError, UnicodeDecodeError) as error:
            raise bad_request(f"invalid JSON {message_type.DESCRIPTOR.name}: {error}") from None
        return message
    try:
        message.ParseFromString(data)
    except DecodeError as error:
        raise bad_request(f"invalid protobuf {message_type.DESCRIPTOR.name}: {error}") from None
    return message


def encode(message: Message, kind: str = PROTOBUF) -> bytes:
    if kind == JSON:
        return to_json(message).encode()
    return message.SerializeToString()


def to_json(message: Message) -> str:
    return json_format.MessageToJson(message, preserving_proto_field_name=True, indent=None, always_print_fields_with_no_presence=True, unquote_int64_if_possible=True)


def from_dict(payload: object, message_type: type[M]) -> M:
    """Build a message from decoded JSON, raising `ServiceError("400")` naming the bad field."""
    message = message_type()
    try:
        json_format.ParseDict(payload, message)
    except json_format.ParseError as error:
        raise bad_request(str(error)) from None
    return message
