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
                 share: float = 1.0) -> None:
        super().__init__(port, upstream)
        self.throttle = throttle
        self.paging = paging
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
        if path == "/_bench/reset":
            self.throttled.clear()
            self.buckets.clear()
            return None
        if path == "/_bench/throttled":
            return dict(self.throttled)
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--no-throttle", action="store_true", help="page, but never throttle")
    ap.add_argument("--no-paging", action="store_true", help="throttle, but pass lists through whole")
    ap.add_argument("--share", type=float, default=1.0, help="fraction of AWS's rates to allow (tests)")
    args = ap.parse_args()
    serve(ThrottleProxy(args.port, args.upstream, throttle=not args.no_throttle, paging=not args.no_paging,
                        share=args.share))


if __name__ == "__main__":
    main()
