from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class IssueRequest(_message.Message):
    __slots__ = ("subject", "scopes", "ttl_seconds")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    ttl_seconds: int
    def __init__(self, subject: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class IssueResponse(_message.Message):
    __slots__ = ("token", "expires_at")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: int
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[int] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("token", "required_scope")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SCOPE_FIELD_NUMBER: _ClassVar[int]
    token: str
    required_scope: str
    def __init__(self, token: _Optional[str] = ..., required_scope: _Optional[str] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("valid", "subject", "scopes", "expires_at", "reason")
    VALID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    subject: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    expires_at: int
    reason: str
    def __init__(self, valid: _Optional[bool] = ..., subject: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., expires_at: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...
