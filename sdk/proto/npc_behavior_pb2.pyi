from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Needs(_message.Message):
    __slots__ = ("hunger", "energy", "safety")
    HUNGER_FIELD_NUMBER: _ClassVar[int]
    ENERGY_FIELD_NUMBER: _ClassVar[int]
    SAFETY_FIELD_NUMBER: _ClassVar[int]
    hunger: float
    energy: float
    safety: float
    def __init__(self, hunger: _Optional[float] = ..., energy: _Optional[float] = ..., safety: _Optional[float] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("npc_id", "action", "score", "scores", "hour", "danger")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    DANGER_FIELD_NUMBER: _ClassVar[int]
    npc_id: str
    action: str
    score: float
    scores: _containers.ScalarMap[str, float]
    hour: int
    danger: float
    def __init__(self, npc_id: _Optional[str] = ..., action: _Optional[str] = ..., score: _Optional[float] = ..., scores: _Optional[_Mapping[str, float]] = ..., hour: _Optional[int] = ..., danger: _Optional[float] = ...) -> None: ...

class DecideRequest(_message.Message):
    __slots__ = ("npc_id", "region", "needs")
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    NEEDS_FIELD_NUMBER: _ClassVar[int]
    npc_id: str
    region: str
    needs: Needs
    def __init__(self, npc_id: _Optional[str] = ..., region: _Optional[str] = ..., needs: _Optional[_Union[Needs, _Mapping]] = ...) -> None: ...

class DecideResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("npc_id",)
    NPC_ID_FIELD_NUMBER: _ClassVar[int]
    npc_id: str
    def __init__(self, npc_id: _Optional[str] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ...) -> None: ...
