"""Large reads are bounded: at most READS_IN_FLIGHT describe requests at once, so a List paged
beside them is not queued behind hundreds of them (under rate limits) and a fleet's answers are
not all in memory together."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fleetctl.controller.aws import ecs
from fleetctl.controller.concurrency import gather, gather_limited
from tests.fakes.ecs import FakeAws


class CountingAws(FakeAws):
    """The in-memory ECS, recording each call's start and how many describes were in flight."""

    def __init__(self) -> None:
        super().__init__(latency=0.002)
        self.order: list[str] = []
        self.in_flight = 0
        self.peak = 0

    async def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        self.order.append(operation)
        if not operation.startswith("describe_"):
            return await super().call(service, operation, **params)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await super().call(service, operation, **params)
        finally:
            self.in_flight -= 1


async def test_describes_of_a_large_fleet_are_bounded_and_lists_interleave() -> None:
    aws = CountingAws()
    names = [f"svc-{i:04d}" for i in range(1_000)]
    aws.ecs_register_task_definition(family="f", containerDefinitions=[{"name": "c", "image": "i"}])
    for name in names[:250]:   # three List pages of 100
        aws.ecs_create_service("fleet", name, "f")
    found, listed = await gather(ecs.describe_services(aws, "fleet", names), ecs.list_service_names(aws, "fleet"))
    assert aws.calls["ecs.DescribeServices"] == 100
    assert aws.peak == ecs.READS_IN_FLIGHT
    lists = [i for i, op in enumerate(aws.order) if op == "list_services"]
    # every List page went out while describes were still to come, not after all 100 of them
    assert lists and lists[-1] < len(aws.order) - 1
    assert len(found) == len(listed) == 250


async def test_gather_limited_keeps_order_bounds_concurrency_and_raises_the_first_error() -> None:
    running = peak = 0

    async def work(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(0.001 * (i % 3))
        finally:
            running -= 1
        if i == 7:
            raise ValueError("seven")
        return i * 2

    assert await gather_limited(3, work, range(7)) == [0, 2, 4, 6, 8, 10, 12]
    assert peak == 3
    with pytest.raises(ValueError, match="seven"):
        await gather_limited(3, work, range(20))
    await asyncio.sleep(0.01)
    assert running == 0   # the rest were cancelled, none left running


def test_epoch_timestamps_parse_to_the_same_instant_as_botocore() -> None:
    from botocore.utils import parse_timestamp as botocore_parse

    from fleetctl.controller.aws.client import parse_timestamp

    for value in (1_700_000_000, 1_700_000_000.123, "1700000000.5", "2026-11-30T07:00:00Z", "2026-11-30T07:00:00.5+02:00"):
        ours, theirs = parse_timestamp(value), botocore_parse(value)
        assert ours == theirs and ours.tzinfo is not None
