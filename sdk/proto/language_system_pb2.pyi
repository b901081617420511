from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class TranslateRequest(_message.Message):
    __slots__ = ("text", "source", "target")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    text: str
    source: str
    target: str
    def __init__(self, text: _Optional[str] = ..., source: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class TranslateResponse(_message.Message):
    __slots__ = ("text", "source", "unknown_words")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_WORDS_FIELD_NUMBER: _ClassVar[int]
    text: str
    source: str
    unknown_words: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, text: _Optional[str] = ..., source: _Optional[str] = ..., unknown_words: _Optional[_Iterable[str]] = ...) -> None: ...

class DetectRequest(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class DetectResponse(_message.Message):
    __slots__ = ("language", "confidence")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    language: str
    confidence: float
    def __init__(self, language: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...
