"""NATS subject matching: `*` matches exactly one token, `>` one or more trailing tokens."""
from __future__ import annotations


def overlap(a: str, b: str) -> bool:
    """True when some concrete subject matches both patterns."""
    ta, tb = a.split("."), b.split(".")
    for i in range(max(len(ta), len(tb))):
        x = ta[i] if i < len(ta) else None
        y = tb[i] if i < len(tb) else None
        if x is None or y is None:
            return False
        if x == ">" or y == ">":
            return True
        if x != y and x != "*" and y != "*":
            return False
    return True


def matches(pattern: str, subject: str) -> bool:
    """True when the concrete `subject` is matched by `pattern`."""
    tp, ts = pattern.split("."), subject.split(".")
    for i, t in enumerate(tp):
        if t == ">":
            return len(ts) > i
        if i >= len(ts) or (t != "*" and t != ts[i]):
            return False
    return len(tp) == len(ts)
