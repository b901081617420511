"""W3C trace context carried in NATS headers.

Each handled request runs in a span whose parent comes from the incoming `traceparent`
header; each outgoing request carries a `traceparent` for the current span. With
opentelemetry-api installed, spans and propagation go through it. Without it, the same
header is parsed and produced here with a few string operations and no other cost.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping, MutableMapping

try:  # opentelemetry-api is optional
    from opentelemetry import propagate as _otel_propagate
    from opentelemetry import trace as _otel_trace
except ImportError:  # pragma: no cover - depends on the environment
    _otel_propagate = None
    _otel_trace = None

TRACEPARENT = "traceparent"
_FORMAT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class SpanContext:
    trace_id: str
    span_id: str
    flags: str = "01"

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> SpanContext:
        return SpanContext(self.trace_id, secrets.token_hex(8), self.flags)


_current: contextvars.ContextVar[SpanContext | None] = contextvars.ContextVar("sdk_span", default=None)


def parse(header: str | None) -> SpanContext | None:
    match = _FORMAT.match(header.strip().lower()) if header else None
    if match is None or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
        return None
    return SpanContext(match.group(1), match.group(2), match.group(3))


def current() -> SpanContext | None:
    return _current.get()


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


@contextmanager
def server_span(name: str, headers: Mapping[str, str] | None) -> Iterator[SpanContext]:
    """Run the body as a span that continues the caller's trace, or starts a new one."""
    if _otel_trace is not None and _otel_propagate is not None:
        parent = _otel_propagate.extract(dict(headers or {}))
        tracer = _otel_trace.get_tracer("sdk")
        with tracer.start_as_current_span(name, context=parent, kind=_otel_trace.SpanKind.SERVER) as span:
            ctx = span.get_span_context()
            local = SpanContext(f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", f"{int(ctx.trace_flags):02x}")
            token = _current.set(local)
            try:
                yield local
            finally:
                _current.reset(token)
        return
    incoming = parse(_header(headers, TRACEPARENT))
    local = incoming.child() if incoming else SpanContext(secrets.token_hex(16), secrets.token_hex(8))
    token = _current.set(local)
    try:
        yield local
    finally:
        _current.reset(token)


def inject(headers: MutableMapping[str, str]) -> None:
    """Add the `traceparent` for an outgoing request made inside the current span."""
    if _otel_propagate is not None:
        _otel_propagate.inject(headers)
        if TRACEPARENT in headers:
            return
    span = _current.get()
    outgoing = span.child() if span else SpanContext(secrets.token_hex(16), secrets.token_hex(8))
    headers[TRACEPARENT] = outgoing.traceparent
