from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvokeRequest(_message.Message):
    __slots__ = ("task", "prompt", "max_output_tokens")
    TASK_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    task: str
    prompt: str
    max_output_tokens: int
    def __init__(self, task: _Optional[str] = ..., prompt: _Optional[str] = ..., max_output_tokens: _Optional[int] = ...) -> None: ...

class InvokeResponse(_message.Message):
    __slots__ = ("model_id", "provider", "input_tokens", "max_output_tokens", "estimated_cost_micros", "request_json", "route_reason")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_JSON_FIELD_NUMBER: _ClassVar[int]
    ROUTE_REASON_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    provider: str
    input_tokens: int
    max_output_tokens: int
    estimated_cost_micros: int
    request_json: str
    route_reason: str
    def __init__(self, model_id: _Optional[str] = ..., provider: _Optional[str] = ..., input_tokens: _Optional[int] = ..., max_output_tokens: _Optional[int] = ..., estimated_cost_micros: _Optional[int] = ..., request_json: _Optional[str] = ..., route_reason: _Optional[str] = ...) -> None: ...

class ProvidersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Provider(_message.Message):
    __slots__ = ("name", "models", "tasks")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    name: str
    models: int
    tasks: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., models: _Optional[int] = ..., tasks: _Optional[_Iterable[str]] = ...) -> None: ...

class ProvidersResponse(_message.Message):
    __slots__ = ("providers",)
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[Provider]
    def __init__(self, providers: _Optional[_Iterable[_Union[Provider, _Mapping]]] = ...) -> None: ...
