from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Rule(_message.Message):
    __slots__ = ("task", "provider", "max_price_micros_per_1k_tokens", "min_context_window")
    TASK_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MAX_PRICE_MICROS_PER_1K_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MIN_CONTEXT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    task: str
    provider: str
    max_price_micros_per_1k_tokens: int
    min_context_window: int
    def __init__(self, task: _Optional[str] = ..., provider: _Optional[str] = ..., max_price_micros_per_1k_tokens: _Optional[int] = ..., min_context_window: _Optional[int] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ("task", "context_tokens")
    TASK_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    task: str
    context_tokens: int
    def __init__(self, task: _Optional[str] = ..., context_tokens: _Optional[int] = ...) -> None: ...

class RouteResponse(_message.Message):
    __slots__ = ("model_id", "provider", "price_micros_per_1k_tokens", "reason")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PRICE_MICROS_PER_1K_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    provider: str
    price_micros_per_1k_tokens: int
    reason: str
    def __init__(self, model_id: _Optional[str] = ..., provider: _Optional[str] = ..., price_micros_per_1k_tokens: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class SetRuleRequest(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: Rule
    def __init__(self, rule: _Optional[_Union[Rule, _Mapping]] = ...) -> None: ...

class SetRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: Rule
    def __init__(self, rule: _Optional[_Union[Rule, _Mapping]] = ...) -> None: ...
