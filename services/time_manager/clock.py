"""The game clock as a pure value: an anchor (real time, game time) and a speed."""

from __future__ import annotations

from dataclasses import dataclass

DAY = 24 * 3600
MAX_SPEED = 3600.0
DEFAULT_SPEED = 60.0
START_SECONDS = 8 * 3600  # a new world starts at 08:00 on day 0


@dataclass(frozen=True)
class Clock:
    anchor_real: float
    anchor_game: float
    speed: float

    def game_seconds(self, real_now: float) -> float:
        return self.anchor_game + max(0.0, real_now - self.anchor_real) * self.speed

    def with_speed(self, speed: float, real_now: float) -> Clock:
        return Clock(real_now, self.game_seconds(real_now), speed)


def phase(hour: int) -> str:
    if hour < 5 or hour >= 21:
        return "night"
    if hour < 8:
        return "dawn"
    if hour < 18:
        return "day"
    return "dusk"


def reading(game_seconds: float) -> tuple[int, int, int, int]:
    """(whole game seconds, day, hour, minute)."""
    total = int(game_seconds)
    day, rest = divmod(total, DAY)
    return total, day, rest // 3600, (rest % 3600) // 60
