"""What fleetctl never prints: secrets and values taken from the environment.

One registry per process. Code that learns a secret registers it — the manifest loader every
value it interpolated from the environment, the probe its password and the lines of a .creds
file, the CLI the AWS credentials of its environment — and every way out (the CLI's stdout and
stderr, log lines, error messages) goes through `text()`, which replaces each known secret and
the user/password part of any URL.

Messages are written not to need this (errors name the place, not the value); the registry is
the backstop for values that travel further than intended (an error text from a library, a
task definition shown by `render`).
"""
from __future__ import annotations

import io
import json
import os
import re
import threading
from collections.abc import Iterable
from typing import Any

# shorter values are too likely to occur by chance ("info", "true", "8080")
MIN_LENGTH = 6
MASK = "***"

_lock = threading.Lock()
_secrets: dict[str, str] = {}          # value -> what to print instead
_pattern: re.Pattern[str] | None = None

# scheme://user:password@host, scheme://token@host
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s'\"]+)@")


def secret_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential."""
    upper = name.upper()
    if upper in _AWS_CREDENTIALS:
        return True
    if any(word in upper for word in _SECRET_WORDS):
        return True
    return any(token in _SECRET_TOKENS for token in re.split(r"[^A-Z0-9]+", upper))


_AWS_CREDENTIALS = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"})
# anywhere in the name: GITHUB_TOKEN, DBPASSWORD, AWS_SECRET_ACCESS_KEY, GOOGLE_CREDENTIALS
_SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE_KEY", "PRIVATEKEY", "APIKEY")
# whole words only: API_KEY, SIGNING_KEY, NATS_CREDS, DB_PASS (not KEYCLOAK_URL or MONKEY)
_SECRET_TOKENS = frozenset({"KEY", "KEYS", "PASS", "CREDS", "SEED", "JWT", "NKEY"})


def register(value: Any, label: str | None = None) -> None:
    """Never print `value` again in this process; print `label` (default ***) instead."""
    if not isinstance(value, str):
        return
    value = value.strip()
    if len(value) < MIN_LENGTH:
        return
    global _pattern
    with _lock:
        forms = {value, json.dumps(value)[1:-1], repr(value)[1:-1]}
        changed = False
        for form in forms:
            if form and form not in _secrets:
                _secrets[form] = label or MASK
                changed = True
        if changed:
            # longest first, so a secret that contains another is replaced whole
            keys = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(k) for k in keys))


def register_lines(text: str, label: str | None = None) -> None:
    """Register every line (and every whitespace-separated word) of a multi-line secret."""
    for line in text.splitlines():
        register(line, label)
        for word in line.split():
            register(word, label)


def register_environment(env: dict[str, str] | None = None) -> None:
    """Register the values of the credential-named variables of the environment."""
    for name, value in (os.environ if env is None else env).items():
        if secret_name(name):
            register(value)


def url(value: str) -> str:
    """A URL without its user/password part."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", value)


def text(value: Any) -> str:
    """`value` as text with every registered secret and URL userinfo masked."""
    out = value if isinstance(value, str) else str(value)
    pattern = _pattern
    if pattern is not None:
        out = pattern.sub(lambda m: _secrets.get(m.group(0), MASK), out)
    if "@" in out:
        out = url(out)
    return out


def known() -> Iterable[str]:
    return tuple(_secrets)


def clear() -> None:
    """Forget every registered value (tests)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


class RedactingStream(io.TextIOBase):
    """A text stream that masks secrets in whatever is written through it.

    Writes are held until a line ends (or the stream is flushed), so a secret written in pieces
    is still seen whole.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._pending = ""

    def write(self, s: Any) -> int:  # type: ignore[override]
        if not isinstance(s, str):
            return self._inner.write(s)  # bytes: let the text stream refuse them as it does
        self._pending += s
        if "\n" in self._pending:
            head, _, self._pending = self._pending.rpartition("\n")
            self._inner.write(text(head + "\n"))
        return len(s)

    def flush(self) -> None:
        if self._pending:
            self._inner.write(text(self._pending))
            self._pending = ""
        self._inner.flush()

    def close(self) -> None:
        self.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "errors", None) or "strict"

    @property
    def buffer(self) -> Any:
        return self._inner.buffer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install_on_std_streams() -> None:
    """Route sys.stdout and sys.stderr through `text()` for the rest of the process."""
    import atexit
    import sys

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingStream):
            wrapped = RedactingStream(stream)
            setattr(sys, name, wrapped)
            atexit.register(wrapped.flush)
