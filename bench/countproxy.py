"""A counting reverse proxy for the sandbox's AWS endpoint, on loopback.

    python bench/countproxy.py --upstream http://127.0.0.1:PORT

Prints `listening http://127.0.0.1:<port>` on its first line, then forwards every request
unchanged to the upstream and counts it by AWS operation (`ecs.DescribeServices`), read from
the `X-Amz-Target` header (JSON protocols) or the `Action` form field (query protocols).
Every tool, whatever language or process it runs in, is counted the same way: on the server
side, one HTTP request = one call (retries count as calls).

    GET  /_bench/counts   -> {"ecs.DescribeServices": 3, ...}
    POST /_bench/reset    -> zero the counters
"""
from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length"}
TARGET_PREFIXES = {
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "Logs_20140328": "logs",
    "secretsmanager": "secretsmanager",
}


def operation(headers: dict[str, str], body: bytes) -> str:
    target = headers.get("x-amz-target")
    if target:
        prefix, _, op = target.partition(".")
        return f"{TARGET_PREFIXES.get(prefix, prefix)}.{op}"
    auth = headers.get("authorization", "")
    service = auth.split("Credential=", 1)[-1].split("/")[3] if "Credential=" in auth else "?"
    if body and "x-www-form-urlencoded" in headers.get("content-type", ""):
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        return f"{service}.{action}"
    return f"{service}.?"


class Proxy(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int, upstream: str) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        parts = urllib.parse.urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.local = threading.local()

    # hooks for proxies built on this one (bench/throttleproxy.py): requests are always
    # forwarded unchanged (they may be signed); a proxy may refuse one or rewrite the answer.
    def refuse(self, op: str) -> tuple[int, bytes, list[tuple[str, str]]] | None:
        """(status, body, headers) to answer instead of forwarding, or None."""
        return None

    def response(self, op: str, request_body: bytes, status: int, data: bytes) -> bytes:
        return data

    def cached(self, op: str, request_body: bytes) -> tuple[int, bytes, list[tuple[str, str]]] | None:
        """The upstream's answer to an identical earlier request, to use instead of forwarding."""
        return None

    def remember(self, op: str, request_body: bytes, status: int, data: bytes, headers: list[tuple[str, str]]) -> None:
        """Told every upstream answer (before `response` rewrites it)."""

    def control(self, path: str) -> dict | None:
        """Extra /_bench/ endpoints: a JSON-able answer, or None for the counts."""
        return None

    def upstream_conn(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = self.local.conn = http.client.HTTPConnection(*self.upstream, timeout=120)
        return conn


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Proxy

    def log_message(self, *args: object) -> None:  # silent
        pass

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response_only(status)
        for k, v in headers:
            if k.lower() not in HOP_BY_HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _control(self) -> bool:
        if not self.path.startswith("/_bench/"):
            return False
        with self.server.lock:
            if self.path == "/_bench/reset":
                self.server.counts.clear()
            extra = self.server.control(self.path)
            body = json.dumps(extra if extra is not None else dict(self.server.counts)).encode()
        self._reply(200, body, [("Content-Type", "application/json")])
        return True

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self._control():
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        op = operation(headers, body)
        with self.server.lock:
            self.server.counts[op] += 1
        refused = self.server.refuse(op)
        if refused is not None:
            self._reply(*refused)
            return
        hit = self.server.cached(op, body)
        if hit is not None:
            status, data, answer_headers = hit
            self._reply(status, self.server.response(op, body, status, data), answer_headers)
            return
        out_headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        out_headers["Content-Length"] = str(len(body))
        for attempt in (0, 1):
            conn = self.server.upstream_conn(fresh=attempt == 1)
            try:
                conn.request(self.command, self.path, body=body, headers=out_headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, OSError):
                if attempt == 1:
                    self._reply(502, b"upstream failed", [])
                    return
        self.server.remember(op, body, resp.status, data, resp.getheaders())
        self._reply(resp.status, self.server.response(op, body, resp.status, data), resp.getheaders())

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward


def serve(proxy: Proxy) -> None:
    print(f"listening http://127.0.0.1:{proxy.server_address[1]}", flush=True)
    try:
        proxy.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    serve(Proxy(args.port, args.upstream))


if __name__ == "__main__":
    main()
