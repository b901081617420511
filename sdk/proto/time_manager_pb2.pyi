from sdk.proto import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NowRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NowResponse(_message.Message):
    __slots__ = ("clock",)
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    clock: _common_pb2.GameClock
    def __init__(self, clock: _Optional[_Union[_common_pb2.GameClock, _Mapping]] = ...) -> None: ...

class SetSpeedRequest(_message.Message):
    __slots__ = ("speed",)
    SPEED_FIELD_NUMBER: _ClassVar[int]
    speed: float
    def __init__(self, speed: _Optional[float] = ...) -> None: ...

class SetSpeedResponse(_message.Message):
    __slots__ = ("clock",)
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    clock: _common_pb2.GameClock
    def __init__(self, clock: _Optional[_Union[_common_pb2.GameClock, _Mapping]] = ...) -> None: ...

class ClockAnchor(_message.Message):
    __slots__ = ("anchor_real", "anchor_game", "speed")
    ANCHOR_REAL_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_GAME_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    anchor_real: float
    anchor_game: float
    speed: float
    def __init__(self, anchor_real: _Optional[float] = ..., anchor_game: _Optional[float] = ..., speed: _Optional[float] = ...) -> None: ...
