"""The sandbox's AWS credentials and the gate in front of moto that checks them.

``sandbox up`` generates one random AWS-style key pair per daemon and stores it 0600 in the
state directory; every HTTP request to the AWS endpoint must carry a SigV4 signature made
with it. The gate recomputes the signature with botocore's signer from the request's
canonical parts (method, raw path, query, the headers the client says it signed, the body)
and compares in constant time. It also refuses what a browser or another local user could
send: a ``Host`` that is not loopback (DNS rebinding), any ``Origin`` (cross-origin pages),
and ``/moto-api/*`` (moto's unauthenticated admin API; in-process code reaches moto's
backends directly). moto's CORS headers are stripped from every answer.

Refusals look like AWS's: HTTP 403 with ``UnrecognizedClientException`` (unknown key),
``InvalidSignatureException`` (bad or expired signature) or
``MissingAuthenticationTokenException`` (unsigned) for JSON protocols, and the XML error of
the query protocols (``InvalidClientTokenId`` / ``SignatureDoesNotMatch`` /
``MissingAuthenticationToken``; EC2's ``AuthFailure``).

Only the standard library is imported at module level: the CLI reads credentials without
loading botocore.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from hashlib import sha256
from io import BytesIO
from pathlib import Path
from typing import Any

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 15 * 60  # what AWS allows between X-Amz-Date and its clock
_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*$"
)


class CredentialsError(Exception):
    """The sandbox's credentials file is missing or unreadable."""


def nats_password() -> str:
    """48 letters, as terraform generates them: nats-server parses a substituted
    ``$NATS_PASSWORD_<USER>`` as a value, so digits could turn it into a number."""
    import string

    return "".join(secrets.choice(string.ascii_letters) for _ in range(48))


@dataclass(frozen=True)
class Credentials:
    """The sandbox's AWS key pair, and the NATS operations user (``fleetctl``) for probes."""

    access_key_id: str
    secret_access_key: str
    nats_user: str = ""
    nats_password: str = ""

    @classmethod
    def generate(cls, nats_user: str = "", nats_password: str = "") -> "Credentials":
        """An AWS-shaped pair: ``AKIA`` + 16 base32 characters, 40 characters of secret."""
        key_id = "AKIA" + base64.b32encode(secrets.token_bytes(10)).decode()
        secret = base64.b64encode(secrets.token_bytes(30)).decode()
        return cls(key_id, secret, nats_user, nats_password)

    @classmethod
    def load(cls, path: Path) -> "Credentials":
        try:
            raw = json.loads(Path(path).read_text())
            return cls(str(raw["aws_access_key_id"]), str(raw["aws_secret_access_key"]),
                       str(raw.get("nats_user", "")), str(raw.get("nats_password", "")))
        except FileNotFoundError:
            raise CredentialsError(f"no sandbox credentials at {path}: start the sandbox with `fleetctl sandbox up`") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CredentialsError(f"cannot read sandbox credentials {path}: {type(exc).__name__}") from None

    def save(self, path: Path) -> None:
        """Write the pair readable by this user only (0600), atomically."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({**self.client_kwargs(), "nats_user": self.nats_user, "nats_password": self.nats_password}, fh, indent=2)
            fh.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for boto3/aiobotocore ``client(...)``."""
        return {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}

    def env(self) -> dict[str, str]:
        """Environment variables for the AWS CLI and SDKs (an empty token clears a stale one)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": "",
        }

    def __repr__(self) -> str:  # never print the secret by accident
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key='***', nats_user={self.nats_user!r})"


# -- refusals, shaped like AWS's --------------------------------------------------------------

@dataclass(frozen=True)
class Refusal:
    kind: str  # "unknown_key" | "bad_signature" | "missing" | "forbidden" | "not_found"
    message: str
    status: int = 403


_JSON_CODES = {
    "unknown_key": "UnrecognizedClientException",
    "bad_signature": "InvalidSignatureException",
    "missing": "MissingAuthenticationTokenException",
    "forbidden": "AccessDeniedException",
    "not_found": "UnknownOperationException",
}
_QUERY_CODES = {
    "unknown_key": "InvalidClientTokenId",
    "bad_signature": "SignatureDoesNotMatch",
    "missing": "MissingAuthenticationToken",
    "forbidden": "AccessDenied",
    "not_found": "InvalidAction",
}
_EC2_CODES = {
    "unknown_key": "AuthFailure",
    "bad_signature": "AuthFailure",
    "missing": "AuthFailure",
    "forbidden": "UnauthorizedOperation",
    "not_found": "InvalidAction",
}
UNKNOWN_KEY_MESSAGE = "The security token included in the request is invalid."
BAD_SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method."
)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def error_response(refusal: Refusal, environ: dict[str, Any], body: bytes, service: str | None) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and body of the refusal in the request's protocol."""
    request_id = str(uuid.uuid4())
    status = f"{refusal.status} {'Forbidden' if refusal.status == 403 else 'Not Found'}"
    content_type = environ.get("CONTENT_TYPE", "")
    is_json = "HTTP_X_AMZ_TARGET" in environ or "json" in content_type
    if is_json:
        code = _JSON_CODES[refusal.kind]
        payload = json.dumps({"__type": code, "message": refusal.message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                   ("x-amzn-RequestId", request_id)]  # fmt: skip
        return status, headers, payload
    if service == "ec2" or b"Version=2016-11-15" in body:
        code = _EC2_CODES[refusal.kind]
        xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
               f"<Message>{_xml_escape(refusal.message)}</Message></Error></Errors>"
               f"<RequestID>{request_id}</RequestID></Response>")  # fmt: skip
    else:
        code = _QUERY_CODES[refusal.kind]
        xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
               f"<Code>{code}</Code><Message>{_xml_escape(refusal.message)}</Message></Error>"
               f"<RequestId>{request_id}</RequestId></ErrorResponse>")  # fmt: skip
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()


# -- checks -----------------------------------------------------------------------------------

def is_loopback_host(host: str) -> bool:
    """True for ``Host`` values naming this machine's loopback: 127.0.0.0/8, ::1, localhost."""
    host = host.strip()
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else ""
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _timestamp_age(amz_date: str) -> float | None:
    try:
        parsed = time.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return None
    import calendar

    return abs(time.time() - calendar.timegm(parsed))


def verify(
    environ: dict[str, Any], body: bytes, credentials: Credentials
) -> tuple[Refusal | None, str | None]:
    """Check the request's SigV4 signature; (None, service) when it is valid."""
    headers = _request_headers(environ)
    query = environ.get("QUERY_STRING", "")
    if "X-Amz-Signature=" in query or "X-Amz-Credential=" in query:
        return Refusal("missing", "Presigned requests are not accepted by the sandbox; sign the Authorization header."), None
    authorization = headers.get("authorization", "")
    if not authorization:
        return Refusal("missing", "Missing Authentication Token"), None
    match = _AUTH_RE.match(authorization.strip())
    if not match:
        return Refusal("missing", "Authorization header requires a SigV4 (AWS4-HMAC-SHA256) signature."), None
    scope = match["credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return Refusal("bad_signature", "Credential should be scoped to a valid region, service and aws4_request."), None
    key_id, date, region, service = scope[:4]
    if not hmac.compare_digest(key_id.encode(), credentials.access_key_id.encode()):
        return Refusal("unknown_key", UNKNOWN_KEY_MESSAGE), service
    amz_date = headers.get("x-amz-date", "")
    age = _timestamp_age(amz_date)
    if age is None or amz_date[:8] != date:
        return Refusal("bad_signature", BAD_SIGNATURE_MESSAGE), service
    if age > MAX_SKEW_SECONDS:
        return Refusal("bad_signature", f"Signature expired: {amz_date} is more than 15 minutes from the server's time."), service
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and declared != sha256(body).hexdigest():
        return Refusal("bad_signature", "The provided x-amz-content-sha256 header does not match the body."), service
    signed = [h for h in match["signed"].lower().split(";") if h]
    if "host" not in signed or any(h not in headers for h in signed):
        return Refusal("bad_signature", BAD_SIGNATURE_MESSAGE), service
    expected = _signature(environ, headers, signed, body, credentials, amz_date, region, service)
    if not hmac.compare_digest(expected.encode(), match["signature"].lower().encode()):
        return Refusal("bad_signature", BAD_SIGNATURE_MESSAGE), service
    return None, service


def _signature(
    environ: dict[str, Any], headers: dict[str, str], signed: list[str], body: bytes,
    credentials: Credentials, amz_date: str, region: str, service: str,
) -> str:  # fmt: skip
    """Recompute the signature with botocore's signer over exactly the signed headers."""
    from botocore.awsrequest import AWSRequest, HTTPHeaders
    from botocore.credentials import Credentials as BotoCredentials

    chosen = HTTPHeaders()
    for name in signed:
        chosen[name] = headers[name]

    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    path = raw_uri.split("?", 1)[0] if "://" not in raw_uri else "/" + raw_uri.split("://", 1)[1].split("/", 1)[-1].split("?", 1)[0]
    query = environ.get("QUERY_STRING", "")
    url = f"http://{headers['host']}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"), url=url, data=body)
    request.context["timestamp"] = amz_date
    signer = _verifier_class()(BotoCredentials(credentials.access_key_id, credentials.secret_access_key), service, region)
    signer.chosen_headers = chosen
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


_VERIFIER: Any = None


def _verifier_class() -> Any:
    """botocore's SigV4 signer, told which headers the client signed instead of choosing them."""
    global _VERIFIER
    if _VERIFIER is None:
        from botocore.auth import SigV4Auth

        class Verifier(SigV4Auth):  # type: ignore[misc]
            chosen_headers: Any = None

            def headers_to_sign(self, request: Any) -> Any:
                return self.chosen_headers

        _VERIFIER = Verifier
    return _VERIFIER


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        return bytes(stream.read(length))
    if environ.get("wsgi.input_terminated"):
        return bytes(stream.read())
    return b""


class SigV4Gate:
    """WSGI middleware: only loopback, same-origin, SigV4-signed requests reach ``app``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], credentials: Credentials) -> None:
        self.app = app
        self.credentials = credentials

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = _read_body(environ)
        refusal, service = self._check(environ, body)
        if refusal is not None:
            status, headers, payload = error_response(refusal, environ, body, service)
            start_response(status, headers + [("Content-Length", str(len(payload)))])
            return [payload]
        environ["wsgi.input"] = BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))

        def no_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
            return start_response(status, kept, exc_info) if exc_info else start_response(status, kept)

        return self.app(environ, no_cors)

    def _check(self, environ: dict[str, Any], body: bytes) -> tuple[Refusal | None, str | None]:
        if not is_loopback_host(environ.get("HTTP_HOST", "")):
            return Refusal("forbidden", "The sandbox answers only to a loopback Host (127.0.0.1, ::1, localhost)."), None
        if "HTTP_ORIGIN" in environ:
            return Refusal("forbidden", "Cross-origin requests are refused by the sandbox."), None
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return Refusal("not_found", "The moto admin API is not served by the sandbox.", 404), None
        return verify(environ, body, self.credentials)
