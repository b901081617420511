from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Profile(_message.Message):
    __slots__ = ("scope", "mode", "target_fps", "draw_distance_m", "shadows", "render_scale")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FPS_FIELD_NUMBER: _ClassVar[int]
    DRAW_DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    SHADOWS_FIELD_NUMBER: _ClassVar[int]
    RENDER_SCALE_FIELD_NUMBER: _ClassVar[int]
    scope: str
    mode: str
    target_fps: int
    draw_distance_m: int
    shadows: str
    render_scale: float
    def __init__(self, scope: _Optional[str] = ..., mode: _Optional[str] = ..., target_fps: _Optional[int] = ..., draw_distance_m: _Optional[int] = ..., shadows: _Optional[str] = ..., render_scale: _Optional[float] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("scope",)
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    scope: str
    def __init__(self, scope: _Optional[str] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("profile", "is_default")
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    is_default: bool
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ..., is_default: _Optional[bool] = ...) -> None: ...

class SetRequest(_message.Message):
    __slots__ = ("scope", "mode")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    scope: str
    mode: str
    def __init__(self, scope: _Optional[str] = ..., mode: _Optional[str] = ...) -> None: ...

class SetResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ...) -> None: ...
