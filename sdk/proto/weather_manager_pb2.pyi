from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Weather(_message.Message):
    __slots__ = ("region", "day", "hour", "condition", "temperature_c", "wind_kph")
    REGION_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    WIND_KPH_FIELD_NUMBER: _ClassVar[int]
    region: str
    day: int
    hour: int
    condition: str
    temperature_c: int
    wind_kph: int
    def __init__(self, region: _Optional[str] = ..., day: _Optional[int] = ..., hour: _Optional[int] = ..., condition: _Optional[str] = ..., temperature_c: _Optional[int] = ..., wind_kph: _Optional[int] = ...) -> None: ...

class CurrentRequest(_message.Message):
    __slots__ = ("region",)
    REGION_FIELD_NUMBER: _ClassVar[int]
    region: str
    def __init__(self, region: _Optional[str] = ...) -> None: ...

class CurrentResponse(_message.Message):
    __slots__ = ("weather",)
    WEATHER_FIELD_NUMBER: _ClassVar[int]
    weather: Weather
    def __init__(self, weather: _Optional[_Union[Weather, _Mapping]] = ...) -> None: ...

class ForecastRequest(_message.Message):
    __slots__ = ("region", "hours")
    REGION_FIELD_NUMBER: _ClassVar[int]
    HOURS_FIELD_NUMBER: _ClassVar[int]
    region: str
    hours: int
    def __init__(self, region: _Optional[str] = ..., hours: _Optional[int] = ...) -> None: ...

class ForecastResponse(_message.Message):
    __slots__ = ("periods",)
    PERIODS_FIELD_NUMBER: _ClassVar[int]
    periods: _containers.RepeatedCompositeFieldContainer[Weather]
    def __init__(self, periods: _Optional[_Iterable[_Union[Weather, _Mapping]]] = ...) -> None: ...
