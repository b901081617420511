"""Weather as a pure function of (region, day, 3-hour period)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PERIOD_HOURS = 3
_DIURNAL = {0: -4, 1: -5, 2: -2, 3: 2, 4: 5, 5: 6, 6: 3, 7: -1}  # by period of the day
_CONDITIONS = (("clear", 35), ("cloudy", 25), ("rain", 18), ("fog", 8), ("storm", 6), ("drizzle", 8))


@dataclass(frozen=True)
class Reading:
    region: str
    day: int
    hour: int
    condition: str
    temperature_c: int
    wind_kph: int


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\n".join(str(part) for part in parts).encode()).digest()


def at(region: str, day: int, hour: int) -> Reading:
    period = (hour % 24) // PERIOD_HOURS
    climate = _digest(region)
    base = -5 + climate[0] % 26  # a region's mean temperature, -5..20 C
    roll = _digest(region, day, period)
    pick = roll[0] % 100
    for condition, share in _CONDITIONS:
        if pick < share:
            break
        pick -= share
    temperature = base + _DIURNAL[period] + (roll[1] % 5) - 2
    if condition in ("rain", "drizzle", "storm") and temperature <= 0:
        condition = "snow"
    wind = roll[2] % 25 + (40 if condition == "storm" else 0)
    return Reading(region, day, period * PERIOD_HOURS, condition, temperature, wind)


def forecast(region: str, day: int, hour: int, hours: int) -> list[Reading]:
    """The periods after the current one that start within `hours` hours."""
    start = (hour // PERIOD_HOURS + 1) * PERIOD_HOURS
    readings = []
    for offset in range(start, hour + hours + 1, PERIOD_HOURS):
        readings.append(at(region, day + offset // 24, offset % 24))
    return readings
