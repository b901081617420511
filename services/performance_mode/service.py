"""performance_mode: the rendering profile per scope; the chosen mode is stored in settings."""

from __future__ import annotations

from sdk import Service, bad_request, endpoint
from sdk.proto import performance_mode_pb2 as pb
from sdk.proto import settings_pb2 as settings_pb

DEFAULT_MODE = "balanced"
PROFILES = {
    "quality": dict(target_fps=30, draw_distance_m=2000, shadows="high", render_scale=1.0),
    "balanced": dict(target_fps=60, draw_distance_m=1200, shadows="medium", render_scale=0.85),
    "performance": dict(target_fps=120, draw_distance_m=600, shadows="off", render_scale=0.67),
}


def profile(scope: str, mode: str) -> pb.Profile:
    return pb.Profile(scope=scope, mode=mode, **PROFILES[mode])


def setting_key(scope: str) -> str:
    return f"performance_mode.{scope or 'global'}"


class PerformanceMode(Service):
    name = "performance_mode"
    description = "Rendering profiles per scope"

    @endpoint
    async def get(self, request: pb.GetRequest) -> pb.GetResponse:
        stored = await self.rt.call("settings.get", settings_pb.GetRequest(key=setting_key(request.scope)))
        if not stored.found or stored.value not in PROFILES:
            return pb.GetResponse(profile=profile(request.scope, DEFAULT_MODE), is_default=True)
        return pb.GetResponse(profile=profile(request.scope, stored.value), is_default=False)

    @endpoint
    async def set(self, request: pb.SetRequest) -> pb.SetResponse:
        if request.mode not in PROFILES:
            raise bad_request(f"field 'mode' must be one of {', '.join(PROFILES)}")
        await self.rt.call("settings.set", settings_pb.SetRequest(key=setting_key(request.scope), value=request.mode))
        return pb.SetResponse(profile=profile(request.scope, request.mode))
