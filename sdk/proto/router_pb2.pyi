from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ResolveRequest(_message.Message):
    __slots__ = ("capability", "routing_key")
    CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    ROUTING_KEY_FIELD_NUMBER: _ClassVar[int]
    capability: str
    routing_key: str
    def __init__(self, capability: _Optional[str] = ..., routing_key: _Optional[str] = ...) -> None: ...

class ResolveResponse(_message.Message):
    __slots__ = ("provider_id", "subject", "candidates")
    PROVIDER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    provider_id: str
    subject: str
    candidates: int
    def __init__(self, provider_id: _Optional[str] = ..., subject: _Optional[str] = ..., candidates: _Optional[int] = ...) -> None: ...
