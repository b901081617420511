"""weather_manager: weather derived from the region and time_manager's clock."""

from __future__ import annotations

from sdk import Service, bad_request, endpoint, require
from sdk.proto import time_manager_pb2 as time_pb
from sdk.proto import weather_manager_pb2 as pb

from services.weather_manager.weather import Reading, at, forecast

MAX_HOURS = 72


def to_message(reading: Reading) -> pb.Weather:
    return pb.Weather(
        region=reading.region,
        day=reading.day,
        hour=reading.hour,
        condition=reading.condition,
        temperature_c=reading.temperature_c,
        wind_kph=reading.wind_kph,
    )


class WeatherManager(Service):
    name = "weather_manager"
    description = "Weather per region"

    @endpoint
    async def current(self, request: pb.CurrentRequest) -> pb.CurrentResponse:
        require(region=request.region)
        now = await self.rt.call("time_manager.now", time_pb.NowRequest())
        return pb.CurrentResponse(weather=to_message(at(request.region, now.clock.day, now.clock.hour)))

    @endpoint
    async def forecast(self, request: pb.ForecastRequest) -> pb.ForecastResponse:
        require(region=request.region, hours=request.hours)
        if not 1 <= request.hours <= MAX_HOURS:
            raise bad_request(f"field 'hours' must be between 1 and {MAX_HOURS}")
        now = await self.rt.call("time_manager.now", time_pb.NowRequest())
        periods = forecast(request.region, now.clock.day, now.clock.hour, request.hours)
        return pb.ForecastResponse(periods=[to_message(reading) for reading in periods])
