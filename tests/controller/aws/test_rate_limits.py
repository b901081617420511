"""Client-side rate limits and real pagination, against moto over HTTP behind bench/throttleproxy.py
(AWS's documented token buckets: refuses with ThrottlingException; pages lists like ECS)."""
from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bench.throttleproxy import ThrottleProxy
from fleetctl.controller.aws import ecs, ratelimit
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.aws.ratelimit import Rate, RateLimitSettings, TokenBucket

REGION = "us-east-1"
SERVICES = 300


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # seed the cluster in-process (moto's backend is what its server serves): seconds instead of a minute of HTTP
    from moto.backends import get_backend

    backend = get_backend("ecs")["123456789012"][REGION]
    backend.create_cluster("scale")
    for i in range(SERVICES):
        backend.create_service("scale", f"svc-{i:04d}", 0)
    yield url
    server.stop()


class Running:
    def __init__(self, proxy: ThrottleProxy) -> None:
        self.proxy = proxy
        self.url = f"http://127.0.0.1:{proxy.server_address[1]}"

    def get(self, path: str) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.url}/_bench/{path}", timeout=10) as resp:
            return json.loads(resp.read())

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/_bench/reset", method="POST"), timeout=10).read()


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[Running]:
    p = ThrottleProxy(0, moto_endpoint, share=SHARE)
    t = threading.Thread(target=p.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    ratelimit.reset()
    yield Running(p)
    p.shutdown()
    p.server_close()


# a quarter of AWS's rates on both sides keeps the test short: service reads burst 25, 5/s
SHARE = 0.25


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> str:
    from fleetctl.sandbox.auth import Credentials

    path = tmp_path_factory.mktemp("creds") / "credentials.json"   # plain moto checks no signature
    Credentials.generate().save(path)
    return str(path)


async def observe_all(url: str, settings: RateLimitSettings, credentials: str) -> tuple[int, dict[str, int]]:
    async with Aws(REGION, endpoint_url=url, sandbox_credentials=credentials, rate_limits=settings) as aws:
        names = await ecs.list_service_names(aws, "scale")
        found = await ecs.describe_services(aws, "scale", names)
        return len(found), dict(aws.calls)


def test_lists_are_read_page_by_page(proxy: Running, credentials: str) -> None:
    n, calls = asyncio.run(observe_all(proxy.url, RateLimitSettings(share=SHARE), credentials))
    assert n == SERVICES
    counts, throttled = proxy.get("counts"), proxy.get("throttled")
    served = {op: n - throttled.get(op, 0) for op, n in counts.items()}   # retries of throttled calls aside
    assert served["ecs.ListServices"] == -(-SERVICES // 100)  # maxResults=100, not ECS's default of 10
    assert served["ecs.DescribeServices"] == -(-SERVICES // 10)


def test_paced_calls_are_never_throttled_and_keep_to_the_rate(proxy: Running, credentials: str) -> None:
    t0 = time.perf_counter()
    # a larger reserve than the default tenth: on a machine shared by many test runs a request
    # can wait seconds between leaving the bucket and reaching the proxy
    n, _ = asyncio.run(observe_all(proxy.url, RateLimitSettings(share=SHARE, reserve=0.4), credentials))
    elapsed = time.perf_counter() - t0
    assert n == SERVICES
    assert proxy.get("throttled") == {}
    calls = -(-SERVICES // 100) + -(-SERVICES // 10)
    floor = (calls - 100 * SHARE) / (20 * SHARE)   # burst first, then the refill rate
    assert elapsed >= floor * 0.9


def test_unpaced_calls_are_throttled(proxy: Running, credentials: str) -> None:
    # the same reads all at once: the proxy does throttle, so the test above could fail
    n, _ = asyncio.run(observe_all(proxy.url, RateLimitSettings(enabled=False), credentials))
    assert n == SERVICES  # botocore's retries got there in the end
    assert proxy.get("throttled").get("ecs.DescribeServices", 0) > 0


def test_bucket_hands_out_burst_then_rate() -> None:
    b = TokenBucket(Rate(burst=5, per_second=100))
    waits = [b.reserve() for _ in range(25)]
    assert waits[:5] == [0, 0, 0, 0, 0]
    assert waits[5:] == sorted(waits[5:]) and 0.19 <= waits[-1] <= 0.21


def test_settings_from_the_environment() -> None:
    from fleetctl.controller.errors import FleetError

    assert RateLimitSettings.from_env(default_enabled=True, env={}).enabled
    assert not RateLimitSettings.from_env(default_enabled=False, env={}).enabled
    on = RateLimitSettings.from_env(default_enabled=False, env={"FLEETCTL_RATE_LIMITS": "on",
                                                               "FLEETCTL_RATE_SHARE": "0.5"})
    # half the rate; half the burst less a tenth kept in reserve for jitter on the way
    assert on.enabled and on.rate_for("ecs.DescribeServices") == ("ecs:service-read", Rate(45, 10))
    assert on.rate_for("ecs.ListServices")[0] == "ecs:service-read"   # one bucket per AWS category
    assert on.rate_for("ecr.DescribeImages") is None
    assert replace(on, enabled=False).rate_for("ecs.DescribeServices") is None
    for bad in ({"FLEETCTL_RATE_LIMITS": "maybe"}, {"FLEETCTL_RATE_SHARE": "2"}, {"FLEETCTL_RATE_SHARE": "x"}):
        with pytest.raises(FleetError):
            RateLimitSettings.from_env(default_enabled=True, env=bad)
