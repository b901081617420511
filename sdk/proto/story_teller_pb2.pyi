from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class TellRequest(_message.Message):
    __slots__ = ("quest_id", "language")
    QUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    quest_id: str
    language: str
    def __init__(self, quest_id: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class TellResponse(_message.Message):
    __slots__ = ("text", "language", "lore_ids")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    LORE_IDS_FIELD_NUMBER: _ClassVar[int]
    text: str
    language: str
    lore_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, text: _Optional[str] = ..., language: _Optional[str] = ..., lore_ids: _Optional[_Iterable[str]] = ...) -> None: ...
