from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProviderEntry(_message.Message):
    __slots__ = ("provider_id", "subject", "capacity")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    subject: str
    capacity: int
    def __init__(self, provider_id: _Optional[str] = ..., subject: _Optional[str] = ..., capacity: _Optional[int] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("provider_id", "subject", "capacity", "capabilities")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    subject: str
    capacity: int
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, provider_id: _Optional[str] = ..., subject: _Optional[str] = ..., capacity: _Optional[int] = ..., capabilities: _Optional[_Iterable[str]] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("capabilities",)
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, capabilities: _Optional[_Iterable[str]] = ...) -> None: ...

class LookupRequest(_message.Message):
    __slots__ = ("capability",)
    CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    capability: str
    def __init__(self, capability: _Optional[str] = ...) -> None: ...

class LookupResponse(_message.Message):
    __slots__ = ("providers",)
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[ProviderEntry]
    def __init__(self, providers: _Optional[_Iterable[_Union[ProviderEntry, _Mapping]]] = ...) -> None: ...
