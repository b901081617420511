"""Protobuf on the wire, JSON on request, and a 400 for payloads that do not decode."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk import ServiceError, codec
from sdk.proto import auth_pb2


@given(subject=st.text(), scopes=st.lists(st.text()), ttl=st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_round_trip_in_both_encodings(subject: str, scopes: list[str], ttl: int) -> None:
    message = auth_pb2.IssueRequest(subject=subject, scopes=scopes, ttl_seconds=ttl)
    for kind in (codec.PROTOBUF, codec.JSON):
        assert codec.decode(codec.encode(message, kind), auth_pb2.IssueRequest, kind) == message


def test_content_type_header_selects_json() -> None:
    assert codec.content_type({"Content-Type": "application/json; charset=utf-8"}) == codec.JSON
    assert codec.content_type({"content-type": "application/json"}) == codec.JSON
    assert codec.content_type({"Content-Type": "application/protobuf"}) == codec.PROTOBUF
    assert codec.content_type(None) == codec.PROTOBUF


@pytest.mark.parametrize(
    ("data", "kind", "needle"),
    [
        (b"\xff\xff\xff", codec.PROTOBUF, "invalid protobuf IssueRequest"),
        (b'{"subject": 5', codec.JSON, "invalid JSON IssueRequest"),
        (b'{"ttl_seconds": "soon"}', codec.JSON, "ttl_seconds"),
        (b'{"colour": "red"}', codec.JSON, "colour"),
    ],
)
def test_undecodable_payload_is_a_400(data: bytes, kind: str, needle: str) -> None:
    with pytest.raises(ServiceError) as error:
        codec.decode(data, auth_pb2.IssueRequest, kind)
    assert error.value.code == "400" and needle in error.value.description


def test_from_dict_names_the_field() -> None:
    with pytest.raises(ServiceError) as error:
        codec.from_dict({"scopes": "admin"}, auth_pb2.IssueRequest)
    assert "scopes" in error.value.description
