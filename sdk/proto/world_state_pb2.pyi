from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Region(_message.Message):
    __slots__ = ("name", "facts", "danger", "revision")
    class FactsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    DANGER_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    name: str
    facts: _containers.ScalarMap[str, str]
    danger: float
    revision: int
    def __init__(self, name: _Optional[str] = ..., facts: _Optional[_Mapping[str, str]] = ..., danger: _Optional[float] = ..., revision: _Optional[int] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("region",)
    REGION_FIELD_NUMBER: _ClassVar[int]
    region: str
    def __init__(self, region: _Optional[str] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("region", "found")
    REGION_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    region: Region
    found: bool
    def __init__(self, region: _Optional[_Union[Region, _Mapping]] = ..., found: _Optional[bool] = ...) -> None: ...

class UpdateRequest(_message.Message):
    __slots__ = ("region", "set_facts", "remove_facts", "danger")
    class SetFactsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REGION_FIELD_NUMBER: _ClassVar[int]
    SET_FACTS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FACTS_FIELD_NUMBER: _ClassVar[int]
    DANGER_FIELD_NUMBER: _ClassVar[int]
    region: str
    set_facts: _containers.ScalarMap[str, str]
    remove_facts: _containers.RepeatedScalarFieldContainer[str]
    danger: float
    def __init__(self, region: _Optional[str] = ..., set_facts: _Optional[_Mapping[str, str]] = ..., remove_facts: _Optional[_Iterable[str]] = ..., danger: _Optional[float] = ...) -> None: ...

class UpdateResponse(_message.Message):
    __slots__ = ("region", "event_sequence")
    REGION_FIELD_NUMBER: _ClassVar[int]
    EVENT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    region: Region
    event_sequence: int
    def __init__(self, region: _Optional[_Union[Region, _Mapping]] = ..., event_sequence: _Optional[int] = ...) -> None: ...
