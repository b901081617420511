"""Compact HMAC-SHA256 tokens: `v1.<payload>.<signature>`, both parts base64url without padding.

The payload is JSON `{"sub": ..., "scp": [...], "iat": ..., "exp": ...}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

PREFIX = "v1"


@dataclass(frozen=True)
class Claims:
    subject: str
    scopes: tuple[str, ...]
    issued_at: int
    expires_at: int


class InvalidToken(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, signed_part: str) -> str:
    return _b64(hmac.new(key, signed_part.encode(), hashlib.sha256).digest())


def issue(key: bytes, claims: Claims) -> str:
    payload = {"sub": claims.subject, "scp": list(claims.scopes), "iat": claims.issued_at, "exp": claims.expires_at}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    signed_part = f"{PREFIX}.{body}"
    return f"{signed_part}.{_sign(key, signed_part)}"


def verify(key: bytes, token: str, now: int, required_scope: str = "") -> Claims:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise InvalidToken("malformed")
    signed_part = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(key, signed_part), parts[2]):
        raise InvalidToken("bad_signature")
    try:
        payload = json.loads(_unb64(parts[1]))
        claims = Claims(str(payload["sub"]), tuple(payload["scp"]), int(payload["iat"]), int(payload["exp"]))
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("malformed") from None
    if now >= claims.expires_at:
        raise InvalidToken("expired")
    if required_scope and required_scope not in claims.scopes:
        raise InvalidToken("missing_scope")
    return claims
