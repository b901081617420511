"""Durations as people write them on a command line: `90s`, `10m`, `1h30m`, `2d`, `1.5h`, `250ms`.

A bare number is seconds. Units: ms, s, m, h, d, w; several may follow each other from the
largest to the smallest (Go's time.ParseDuration plus days and weeks, as kubectl and
ecspresso users write them). Anything else is refused, so `10 minutes` or `1:30` never
silently means something else.
"""
from __future__ import annotations

import re

UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|w|d|h|m|s)")
_BARE = re.compile(r"\d+(?:\.\d+)?")
_ORDER = list(UNITS)  # largest first


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> float:
    """Seconds in `text`; DurationError (a ValueError) names what was expected."""
    s = text.strip().lower()
    if _BARE.fullmatch(s):
        return float(s)
    pos, total, last = 0, 0.0, -1
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        rank = _ORDER.index(m.group(2))
        if rank <= last:
            raise DurationError(f"{text!r}: units must go from largest to smallest, each once (e.g. 1h30m)")
        last = rank
        total += float(m.group(1)) * UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise DurationError(f"{text!r} is not a duration: use e.g. 90s, 10m, 1h30m, 2d (units ms s m h d w)")
    return total


def format_duration(seconds: float) -> str:
    """The compact form of `seconds` (`5400` -> `1h30m`), as parse_duration reads it."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    rest, out = int(round(seconds)), ""
    for unit in ("d", "h", "m", "s"):
        n, rest = divmod(rest, int(UNITS[unit]))
        if n:
            out += f"{n}{unit}"
    return out or "0s"
