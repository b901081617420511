"""auth: issues and verifies HMAC-SHA256 signed tokens; the key is the AUTH_SIGNING_KEY secret."""

from __future__ import annotations

import time

from pydantic import Field, SecretStr

from sdk import EnvSettings, Service, bad_request, endpoint, require
from sdk.proto import auth_pb2 as pb

from services.auth import tokens

DEFAULT_TTL = 3600
MAX_TTL = 7 * 24 * 3600


class AuthConfig(EnvSettings):
    auth_signing_key: SecretStr = Field(min_length=16)


class Auth(Service):
    name = "auth"
    description = "Issues and verifies signed tokens"
    config = AuthConfig

    async def setup(self) -> None:
        self.key = self.rt.config.auth_signing_key.get_secret_value().encode()

    @endpoint
    async def issue(self, request: pb.IssueRequest) -> pb.IssueResponse:
        require(subject=request.subject)
        ttl = request.ttl_seconds or DEFAULT_TTL
        if not 0 < ttl <= MAX_TTL:
            raise bad_request(f"field 'ttl_seconds' must be between 1 and {MAX_TTL}")
        now = int(time.time())
        claims = tokens.Claims(request.subject, tuple(sorted(set(request.scopes))), now, now + ttl)
        return pb.IssueResponse(token=tokens.issue(self.key, claims), expires_at=claims.expires_at)

    @endpoint
    async def verify(self, request: pb.VerifyRequest) -> pb.VerifyResponse:
        require(token=request.token)
        try:
            claims = tokens.verify(self.key, request.token, int(time.time()), request.required_scope)
        except tokens.InvalidToken as invalid:
            return pb.VerifyResponse(valid=False, reason=invalid.reason)
        return pb.VerifyResponse(valid=True, subject=claims.subject, scopes=claims.scopes, expires_at=claims.expires_at)
