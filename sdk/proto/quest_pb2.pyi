from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QuestRecord(_message.Message):
    __slots__ = ("id", "player_id", "title", "region", "steps", "current_step", "completed")
    ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STEP_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    id: str
    player_id: str
    title: str
    region: str
    steps: _containers.RepeatedScalarFieldContainer[str]
    current_step: int
    completed: bool
    def __init__(self, id: _Optional[str] = ..., player_id: _Optional[str] = ..., title: _Optional[str] = ..., region: _Optional[str] = ..., steps: _Optional[_Iterable[str]] = ..., current_step: _Optional[int] = ..., completed: _Optional[bool] = ...) -> None: ...

class CreateRequest(_message.Message):
    __slots__ = ("player_id", "title", "region", "steps")
    PLAYER_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    player_id: str
    title: str
    region: str
    steps: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, player_id: _Optional[str] = ..., title: _Optional[str] = ..., region: _Optional[str] = ..., steps: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateResponse(_message.Message):
    __slots__ = ("quest",)
    QUEST_FIELD_NUMBER: _ClassVar[int]
    quest: QuestRecord
    def __init__(self, quest: _Optional[_Union[QuestRecord, _Mapping]] = ...) -> None: ...

class AdvanceRequest(_message.Message):
    __slots__ = ("quest_id",)
    QUEST_ID_FIELD_NUMBER: _ClassVar[int]
    quest_id: str
    def __init__(self, quest_id: _Optional[str] = ...) -> None: ...

class AdvanceResponse(_message.Message):
    __slots__ = ("quest",)
    QUEST_FIELD_NUMBER: _ClassVar[int]
    quest: QuestRecord
    def __init__(self, quest: _Optional[_Union[QuestRecord, _Mapping]] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("quest_id",)
    QUEST_ID_FIELD_NUMBER: _ClassVar[int]
    quest_id: str
    def __init__(self, quest_id: _Optional[str] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("quest",)
    QUEST_FIELD_NUMBER: _ClassVar[int]
    quest: QuestRecord
    def __init__(self, quest: _Optional[_Union[QuestRecord, _Mapping]] = ...) -> None: ...
