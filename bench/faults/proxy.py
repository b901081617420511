"""A fault-injecting reverse proxy for the sandbox's AWS endpoint, on loopback.

    python -m bench.faults.proxy --upstream http://127.0.0.1:PORT [--rate 0.2] [--kinds drop_after]

Prints `listening http://127.0.0.1:<port>` first. Requests are forwarded byte for byte (method,
path, headers including Host and Authorization, body), so SigV4 signatures stay valid. With
probability `rate` a request (whose operation matches `ops`) gets one fault, drawn from `kinds`:

    throttle      400 ThrottlingException, upstream not called
    500 / 503     InternalFailure / ServiceUnavailable, upstream not called
    latency       `latency` seconds of delay, then forwarded
    drop_before   the connection is closed before forwarding: the server never acted
    drop_after    forwarded and answered upstream, then the connection is closed before the
                  reply: the server acted, the client never learns it

`rules` add deterministic faults: {"op": regex, "body": regex, "kind": ..., "rate": 1.0}.
`kill_pid` + `kill_after_writes: N`: after the Nth write call was answered upstream, the proxy
SIGKILLs that process before relaying the reply (a crash at a chosen moment).

Control endpoints (not forwarded):
    POST /_faults/config  JSON: rate, kinds, ops, latency, seed, rules, kill_pid, kill_after_writes
    GET  /_faults/stats   {"forwarded": {op: n}, "faults": {kind: n}, "writes": [[op, name, status], ...],
                           "updates": [[service, family:revision], ...]}
    POST /_faults/reset   zero the stats
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from bench.countproxy import HOP_BY_HOP, operation  # noqa: E402

KINDS = ("throttle", "500", "503", "latency", "drop_before", "drop_after")
READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Filter")
ERRORS = {
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "500": (500, "InternalFailure", "injected internal failure"),
    "503": (503, "ServiceUnavailable", "injected: service unavailable"),
}


def is_write(op: str) -> bool:
    return not op.split(".", 1)[-1].startswith(READ_PREFIXES) and not op.endswith(".?")


def resource_name(body: bytes) -> str:
    """The service or family a JSON request is about (for the write log)."""
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    for key in ("serviceName", "service", "family", "resourceArn", "TableName"):
        if isinstance(doc.get(key), str):
            return doc[key].rsplit("/", 1)[-1]
    return ""


def task_definition(body: bytes) -> str:
    """The task definition an UpdateService request asks for ("" for a scale-only update)."""
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        return ""
    value = doc.get("taskDefinition") if isinstance(doc, dict) else None
    return value.rsplit("/", 1)[-1] if isinstance(value, str) else ""


@dataclass
class Config:
    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS
    ops: str = ""                       # regex on "service.Operation"; empty: every operation
    latency: float = 0.5
    seed: int | None = None
    rules: list[dict[str, Any]] = field(default_factory=list)
    kill_pid: int | None = None
    kill_after_writes: int | None = None


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int, upstream: str, config: Config | None = None) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        parts = urllib.parse.urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.lock = threading.Lock()
        self.local = threading.local()
        self.configure(config or Config())
        self.reset()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that vanished mid-request (a killed process, a dropped connection)

    def configure(self, config: Config) -> None:
        with self.lock:
            self.config = config
            self.rng = random.Random(config.seed)
            self.ops = re.compile(config.ops) if config.ops else None
            self.writes_answered = 0

    def reset(self) -> None:
        with self.lock:
            self.forwarded: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.writes: list[tuple[str, str, int]] = []
            # answered UpdateService calls that name a task definition: (service, task definition)
            self.updates: list[tuple[str, str]] = []

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"forwarded": dict(self.forwarded), "faults": dict(self.faults), "writes": list(self.writes),
                    "updates": list(self.updates)}

    def choose(self, op: str, body: bytes) -> str | None:
        with self.lock:
            for rule in self.config.rules:
                if re.search(rule.get("op", ""), op) and re.search(rule.get("body", "").encode(), body):
                    if self.rng.random() < rule.get("rate", 1.0):
                        return rule["kind"]
            if self.config.rate <= 0 or (self.ops is not None and not self.ops.search(op)):
                return None
            if self.rng.random() >= self.config.rate:
                return None
            return self.rng.choice(self.config.kinds)

    def upstream_conn(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = self.local.conn = http.client.HTTPConnection(*self.upstream, timeout=120)
        return conn


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultProxy

    def log_message(self, *args: object) -> None:
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

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _control(self, body: bytes) -> bool:
        if not self.path.startswith("/_faults/"):
            return False
        if self.path == "/_faults/config":
            doc = json.loads(body or b"{}")
            if "kinds" in doc:
                doc["kinds"] = tuple(doc["kinds"])
            self.server.configure(Config(**doc))
            out: Any = {"ok": True}
        elif self.path == "/_faults/reset":
            self.server.reset()
            out = {"ok": True}
        else:
            out = self.server.stats()
        self._reply(200, json.dumps(out).encode(), [("Content-Type", "application/json")])
        return True

    def _error(self, kind: str, json_protocol: bool) -> None:
        status, code, message = ERRORS[kind]
        if json_protocol:
            body = json.dumps({"__type": code, "message": message}).encode()
            self._reply(status, body, [("Content-Type", "application/x-amz-json-1.1")])
        else:
            body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
                    f"</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>").encode()
            self._reply(status, body, [("Content-Type", "text/xml")])

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self._control(body):
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        op = operation(headers, body)
        kind = self.server.choose(op, body)
        if kind is not None:
            with self.server.lock:
                self.server.faults[kind] += 1
        if kind in ERRORS:
            self._error(kind, "x-amz-target" in headers)
            return
        if kind == "drop_before":
            self._drop()
            return
        if kind == "latency":
            time.sleep(self.server.config.latency)
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
        kill = None
        with self.server.lock:
            self.server.forwarded[op] += 1
            if is_write(op):
                self.server.writes.append((op, resource_name(body), resp.status))
                if op == "ecs.UpdateService" and resp.status < 300 and (td := task_definition(body)):
                    self.server.updates.append((resource_name(body), td))
                if resp.status < 300:
                    self.server.writes_answered += 1
                    cfg = self.server.config
                    if cfg.kill_pid and cfg.kill_after_writes and self.server.writes_answered == cfg.kill_after_writes:
                        kill = cfg.kill_pid
        if kill is not None:
            try:
                os.kill(kill, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._drop()
            return
        if kind == "drop_after":
            self._drop()
            return
        self._reply(resp.status, data, resp.getheaders())

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward


def start(upstream: str, config: Config | None = None, port: int = 0) -> tuple[FaultProxy, str]:
    """A proxy serving in a background thread (for tests and bench): (proxy, its URL)."""
    proxy = FaultProxy(port, upstream, config)
    threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.2}, name="fault-proxy",
                     daemon=True).start()
    return proxy, f"http://127.0.0.1:{proxy.server_address[1]}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0.0)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--ops", default="")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    config = Config(rate=args.rate, kinds=tuple(args.kinds.split(",")), ops=args.ops, seed=args.seed)
    proxy = FaultProxy(args.port, args.upstream, config)
    print(f"listening http://127.0.0.1:{proxy.server_address[1]}", flush=True)
    try:
        proxy.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
