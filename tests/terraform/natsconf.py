"""A small reader for the nats-server configuration format, enough for the fleet's config.

Supports what terraform/templates/nats-server.conf.tftpl uses: `#` and `//` comments,
`key: value`, `key = value`, `key value` and `key { ... }`, maps, arrays (comma or
newline separated), quoted and bare strings, numbers with size suffixes, booleans and
`$VARIABLE` references (returned as Var, never resolved).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Var:
    name: str


_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n,;]+)
  | (?P<comment>(\#|//)[^\n]*)
  | (?P<punct>[{}\[\]])
  | (?P<sep>[:=])
  | (?P<dq>"(?:[^"\\]|\\.)*")
  | (?P<sq>'[^']*')
  | (?P<var>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<bare>[^\s{}\[\],;:=\#"']+(?::[^\s{}\[\],;=\#"']+)*)
    """,
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot tokenize at offset {pos}: {text[pos:pos + 40]!r}")
        kind = m.lastgroup
        val = m.group()
        pos = m.end()
        if kind in ("ws", "comment"):
            # Commas and semicolons are separators, newlines too: all just whitespace here.
            continue
        out.append((kind, val))
    return out


_SIZE = re.compile(r"^(\d+)([KMGT]B?)?$", re.IGNORECASE)
_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _scalar(kind: str, val: str) -> Any:
    if kind == "dq":
        return bytes(val[1:-1], "utf-8").decode("unicode_escape")
    if kind == "sq":
        return val[1:-1]
    if kind == "var":
        return Var(val[1:])
    low = val.lower()
    if low in ("true", "yes", "on", "enabled"):
        return True
    if low in ("false", "no", "off", "disabled"):
        return False
    m = _SIZE.match(val)
    if m:
        n = int(m.group(1))
        unit = (m.group(2) or "").upper()[:1]
        return n * _UNITS.get(unit, 1)
    return val


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse_map_body(self, closing: str | None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            tok = self.peek()
            if tok is None:
                if closing is not None:
                    raise ValueError("unexpected end of input inside a map")
                return result
            if tok == ("punct", "}"):
                if closing != "}":
                    raise ValueError("unbalanced '}'")
                self.take()
                return result
            kind, key = self.take()
            if kind not in ("bare", "dq", "sq"):
                raise ValueError(f"expected a key, got {key!r}")
            key = key.strip("\"'")
            if self.peek() and self.peek()[0] == "sep":
                self.take()
            if key in result:
                raise ValueError(f"duplicate key {key!r}")
            result[key] = self.parse_value()

    def parse_value(self) -> Any:
        kind, val = self.take()
        if (kind, val) == ("punct", "{"):
            return self.parse_map_body("}")
        if (kind, val) == ("punct", "["):
            items = []
            while self.peek() != ("punct", "]"):
                if self.peek() is None:
                    raise ValueError("unexpected end of input inside an array")
                items.append(self.parse_value())
            self.take()
            return items
        if kind == "punct":
            raise ValueError(f"unexpected {val!r}")
        return _scalar(kind, val)


def loads(text: str) -> dict[str, Any]:
    """Parse nats-server configuration text into nested dicts/lists."""
    return _Parser(text).parse_map_body(None)
