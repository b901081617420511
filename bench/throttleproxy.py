"""A proxy that behaves like AWS's API limits in front of the sandbox: throttling and paging.

    python bench/throttleproxy.py --upstream http://127.0.0.1:PORT [--no-throttle] [--no-paging]

Built on bench/countproxy.py (every request counted by operation, forwarded unchanged — it may
be signed). On top of that:

- Throttling: one token bucket per ECS/CloudWatch Logs throttling category with AWS's
  documented capacity and refill rate (the table in controller/aws/ratelimit.py, taken from
  the ECS API Reference's "Request throttling" page and the CloudWatch Logs quotas). A request
  that finds its bucket empty is answered `400 ThrottlingException: Rate exceeded`, as ECS
  does, without reaching the sandbox.
- Paging: moto answers ListServices and ListTasks with every ARN at once. The proxy serves the
  answer one page at a time like ECS: `maxResults` items (ECS's defaults when absent:
  ListServices 10, ListTasks 100), with a `nextToken` for the rest.

- Cached reads (`--cache-reads`): moto takes ≈ 50–100 ms of CPU to serialise one
  DescribeServices answer of 10 services, so on this machine it cannot answer 20 a second — it,
  not the rate limit, would set the pace of a large read. With this flag a successful ECS read
  (Describe*/List*) is answered from the upstream's answer to a byte-identical earlier request
  (the same operation and body), after the request has taken its token like any other; any
  other request (a write) empties the cache first. One client reading a state nobody changes
  (a no-op plan) gets exactly the answers moto gave.

    GET /_bench/counts      -> {"ecs.DescribeServices": 3, ...}   (every request, throttled too)
    GET /_bench/throttled   -> {"ecs.DescribeServices": 1, ...}   (answered ThrottlingException)
    POST /_bench/reset      -> zero both, refill every bucket
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.countproxy import Proxy, serve  # noqa: E402
from fleetctl.controller.aws.ratelimit import Rate, default_rates  # noqa: E402

# ECS's page size when the request gives no maxResults
DEFAULT_PAGE = {"ecs.ListServices": (10, "serviceArns"), "ecs.ListTasks": (100, "taskArns")}


class ServerBucket:
    """AWS's side of a token bucket: a request without a token is refused, not delayed."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.level = rate.burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.level = min(self.rate.burst, self.level + (now - self.stamp) * self.rate.per_second)
        self.stamp = now
        if self.level >= 1:
            self.level -= 1
            return True
        return False


class ThrottleProxy(Proxy):
    def __init__(self, port: int, upstream: str, *, throttle: bool = True, paging: bool = True,
                 share: float = 1.0, cache_reads: bool = False) -> None:
        super().__init__(port, upstream)
        self.throttle = throttle
        self.paging = paging
        self.cache_reads = cache_reads
        self.answers: dict[tuple[str, bytes], tuple[int, bytes, list[tuple[str, str]]]] = {}
        self.cache_hits = 0
        self.rates = {op: (name, Rate(rate.burst * share, rate.per_second * share))
                      for op, (name, rate) in default_rates().items()}
        self.buckets: dict[str, ServerBucket] = {}
        self.throttled: Counter[str] = Counter()

    def refuse(self, op: str) -> tuple[int, bytes, list[tuple[str, str]]] | None:
        found = self.rates.get(op) if self.throttle else None
        if found is None:
            return None
        name, rate = found
        with self.lock:
            b = self.buckets.get(name)
            if b is None:
                b = self.buckets[name] = ServerBucket(rate)
            if b.take():
                return None
            self.throttled[op] += 1
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return 400, body, [("Content-Type", "application/x-amz-json-1.1"),
                           ("x-amzn-ErrorType", "ThrottlingException")]

    def cached(self, op: str, request_body: bytes) -> tuple[int, bytes, list[tuple[str, str]]] | None:
        if not self.cache_reads:
            return None
        with self.lock:
            if not _is_ecs_read(op):
                self.answers.clear()   # a write (or anything else) may change what reads answer
                return None
            hit = self.answers.get((op, request_body))
            self.cache_hits += hit is not None
            return hit

    def remember(self, op: str, request_body: bytes, status: int, data: bytes, headers: list[tuple[str, str]]) -> None:
        if self.cache_reads and status == 200 and _is_ecs_read(op):
            with self.lock:
                self.answers[(op, request_body)] = (status, data, headers)

    def response(self, op: str, request_body: bytes, status: int, data: bytes) -> bytes:
        if not self.paging or status != 200 or op not in DEFAULT_PAGE:
            return data
        default, key = DEFAULT_PAGE[op]
        try:
            request = json.loads(request_body or b"{}")
            answer = json.loads(data)
        except ValueError:
            return data
        size = int(request.get("maxResults") or default)
        token = request.get("nextToken")
        start = int(base64.b64decode(token)) if token else 0
        items = answer.get(key, [])
        answer[key] = items[start:start + size]
        if start + size < len(items):
            answer["nextToken"] = base64.b64encode(str(start + size).encode()).decode()
        else:
            answer.pop("nextToken", None)
        return json.dumps(answer).encode()

    def control(self, path: str) -> dict | None:
        if path == "/_bench/reset":   # (cached answers stay: the state they answer did not change)
            self.throttled.clear()
            self.buckets.clear()
            self.cache_hits = 0
            return None
        if path == "/_bench/throttled":
            return dict(self.throttled)
        if path == "/_bench/cache":
            return {"hits": self.cache_hits, "answers": len(self.answers)}
        return None


def _is_ecs_read(op: str) -> bool:
    return op.startswith(("ecs.Describe", "ecs.List"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--no-throttle", action="store_true", help="page, but never throttle")
    ap.add_argument("--no-paging", action="store_true", help="throttle, but pass lists through whole")
    ap.add_argument("--share", type=float, default=1.0, help="fraction of AWS's rates to allow (tests)")
    ap.add_argument("--cache-reads", action="store_true",
                    help="answer an ECS read byte-identical to an earlier one from its answer (writes empty the cache)")
    args = ap.parse_args()
    serve(ThrottleProxy(args.port, args.upstream, throttle=not args.no_throttle, paging=not args.no_paging,
                        share=args.share, cache_reads=args.cache_reads))


if __name__ == "__main__":
    main()
