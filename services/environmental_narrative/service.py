"""environmental_narrative: a description of a region from weather, time of day and world facts."""

from __future__ import annotations

from sdk import Service, endpoint, require
from sdk.proto import environmental_narrative_pb2 as pb
from sdk.proto import time_manager_pb2 as time_pb
from sdk.proto import weather_manager_pb2 as weather_pb
from sdk.proto import world_state_pb2 as world_pb

SKY = {
    "clear": "under a clear sky",
    "cloudy": "under a grey, cloudy sky",
    "rain": "in steady rain",
    "drizzle": "in a light drizzle",
    "storm": "as a storm rolls over",
    "fog": "wrapped in fog",
    "snow": "under falling snow",
}
LIGHT = {"night": "Night lies over", "dawn": "Dawn breaks over", "day": "Daylight fills", "dusk": "Dusk settles on"}


def compose(region: str, phase: str, weather: weather_pb.Weather, facts: dict[str, str], danger: float) -> str:
    text = f"{LIGHT.get(phase, 'Time passes in')} {region} {SKY.get(weather.condition, weather.condition)}, {weather.temperature_c} degrees"
    if weather.wind_kph >= 30:
        text += f", with strong winds of {weather.wind_kph} km/h"
    text += "."
    if danger >= 0.7:
        text += " The place feels dangerous."
    elif danger >= 0.3:
        text += " Travellers keep their guard up here."
    for key in sorted(facts):
        text += f" {key.replace('_', ' ').capitalize()}: {facts[key]}."
    return text


class EnvironmentalNarrative(Service):
    name = "environmental_narrative"
    description = "Describes regions"

    @endpoint
    async def describe(self, request: pb.DescribeRequest) -> pb.DescribeResponse:
        require(region=request.region)
        weather = await self.rt.call("weather_manager.current", weather_pb.CurrentRequest(region=request.region))
        now = await self.rt.call("time_manager.now", time_pb.NowRequest())
        world = await self.rt.call("world_state.get", world_pb.GetRequest(region=request.region))
        facts = dict(world.region.facts)
        return pb.DescribeResponse(
            text=compose(request.region, now.clock.phase, weather.weather, facts, world.region.danger),
            phase=now.clock.phase,
            condition=weather.weather.condition,
            temperature_c=weather.weather.temperature_c,
            facts=[f"{key}={facts[key]}" for key in sorted(facts)],
        )
