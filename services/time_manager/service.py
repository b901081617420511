"""time_manager: serves the game clock; its anchor lives in the `clock` bucket so replicas agree."""

from __future__ import annotations

import time

from sdk import Service, bad_request, endpoint, unavailable
from sdk.proto import common_pb2, time_manager_pb2 as pb
from sdk.store import Bucket, RevisionConflict

from services.time_manager.clock import DEFAULT_SPEED, MAX_SPEED, START_SECONDS, Clock, phase, reading

KEY = "anchor"


def game_clock(clock: Clock, real_now: float) -> common_pb2.GameClock:
    seconds, day, hour, minute = reading(clock.game_seconds(real_now))
    return common_pb2.GameClock(game_seconds=seconds, day=day, hour=hour, minute=minute, speed=clock.speed, phase=phase(hour))


class TimeManager(Service):
    name = "time_manager"
    description = "The game clock"

    async def setup(self) -> None:
        self.bucket: Bucket = await self.rt.bucket("clock")

    async def _anchor(self) -> tuple[Clock, int]:
        """The stored clock and its revision; the first reader stores a new one."""
        stored = await self.bucket.get(KEY, pb.ClockAnchor)
        if stored is not None:
            anchor, revision = stored
            return Clock(anchor.anchor_real, anchor.anchor_game, anchor.speed), revision
        clock = Clock(time.time(), START_SECONDS, DEFAULT_SPEED)
        try:
            revision = await self.bucket.put(KEY, _to_anchor(clock), revision=0)
        except RevisionConflict:
            return await self._anchor()
        return clock, revision

    @endpoint
    async def now(self, request: pb.NowRequest) -> pb.NowResponse:
        clock, _ = await self._anchor()
        return pb.NowResponse(clock=game_clock(clock, time.time()))

    @endpoint
    async def set_speed(self, request: pb.SetSpeedRequest) -> pb.SetSpeedResponse:
        if not 0 <= request.speed <= MAX_SPEED:
            raise bad_request(f"speed must be between 0 and {MAX_SPEED:g}")
        for _ in range(5):
            clock, revision = await self._anchor()
            now = time.time()
            changed = clock.with_speed(request.speed, now)
            try:
                await self.bucket.put(KEY, _to_anchor(changed), revision=revision)
            except RevisionConflict:
                continue
            return pb.SetSpeedResponse(clock=game_clock(changed, now))
        raise unavailable("clock kept changing concurrently; try again")


def _to_anchor(clock: Clock) -> pb.ClockAnchor:
    return pb.ClockAnchor(anchor_real=clock.anchor_real, anchor_game=clock.anchor_game, speed=clock.speed)
