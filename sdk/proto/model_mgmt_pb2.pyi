from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Model(_message.Message):
    __slots__ = ("id", "provider", "tasks", "context_window", "price_micros_per_1k_tokens")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    PRICE_MICROS_PER_1K_TOKENS_FIELD_NUMBER: _ClassVar[int]
    id: str
    provider: str
    tasks: _containers.RepeatedScalarFieldContainer[str]
    context_window: int
    price_micros_per_1k_tokens: int
    def __init__(self, id: _Optional[str] = ..., provider: _Optional[str] = ..., tasks: _Optional[_Iterable[str]] = ..., context_window: _Optional[int] = ..., price_micros_per_1k_tokens: _Optional[int] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("model", "created")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    model: Model
    created: bool
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("task", "provider")
    TASK_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    task: str
    provider: str
    def __init__(self, task: _Optional[str] = ..., provider: _Optional[str] = ...) -> None: ...

class ListResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ...) -> None: ...
