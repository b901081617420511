"""The stability window on the in-memory ECS: read by the ARNs it holds, broken by a task that stops."""
from __future__ import annotations

from typing import Any

from fleetctl.controller.apply import ApplyOptions, apply
from fleetctl.controller.reconcile import dependencies, reconcile_plan
from fleetctl.controller.rollout import RolloutWatcher, SilentReporter
from tests.controller.unit.conftest import fleet_doc, load
from tests.fakes.ecs import FakeAws


async def _apply(fake: FakeAws, doc: dict[str, Any], min_ready: float = 0.0):
    fleet = load(doc).fleet
    rec = await reconcile_plan(fake, fleet)
    return await apply(rec.plan, fake, fleet_name=fleet.metadata.name, dependencies=dependencies(fleet),
                       observed=rec.observed.services,
                       options=ApplyOptions(poll_interval=0.01, timeout=10, overall_timeout=20, min_ready=min_ready))


async def test_a_window_is_read_by_the_arns_it_holds_not_listed_again(fake: FakeAws) -> None:
    result = await _apply(fake, fleet_doc({"api": [], "db": []}), min_ready=0.1)
    assert result.ok, {n: o.message for n, o in result.outcomes.items()}
    # one listing per service when ECS is first seen done; every read inside the window is by ARN
    assert fake.calls["ecs.ListTasks"] == 2
    assert fake.calls["ecs.DescribeTasks"] >= 2


async def test_a_task_stopping_inside_the_window_fails_the_rollout(fake: FakeAws) -> None:
    result = await _apply(fake, fleet_doc({"api": []}))
    assert result.ok
    describe = fake.ecs_describe_tasks
    reads = 0

    def stop_before_the_second_read(**params: Any) -> Any:
        nonlocal reads
        reads += 1
        if reads == 2:  # the window holds the task's ARN now; it exits before the window ends
            task = fake.tasks[params["tasks"][0]]
            fake._stop(task, "EssentialContainerExited", "Essential container in task exited", 1)
        return describe(**params)
    fake.ecs_describe_tasks = stop_before_the_second_read  # type: ignore[method-assign]

    import asyncio
    from datetime import datetime, timezone

    watcher = RolloutWatcher(fake, "fleet", SilentReporter(), 0.01, min_ready=0.2)
    stop = asyncio.Event()
    runner = asyncio.create_task(watcher.run(stop))
    svc = fake.service("api")
    target = svc["taskDefinition"].rsplit("/", 1)[-1]
    outcome = await asyncio.wait_for(watcher.watch("api", target, 10, datetime.now(timezone.utc)).done, 10)
    stop.set()
    watcher.wake()
    await runner
    assert not outcome.ok and outcome.cause == "task_stopped", outcome
    assert "stopped within minReadySeconds" in outcome.message
    assert fake.calls["ecs.ListTasks"] == 2   # apply's one listing, and the watcher's first read; then by ARN


async def test_the_poll_due_just_before_a_window_ends_waits_for_its_end(fake: FakeAws) -> None:
    import time
    from datetime import datetime, timezone

    watcher = RolloutWatcher(fake, "fleet", SilentReporter(), 1.0, min_ready=2.0)
    r = watcher.watch("api", None, 10, datetime.now(timezone.utc))
    assert watcher._next_poll_in() == 1.0                     # no window yet: the interval
    r.stability.since = time.monotonic() - 0.7                # the window ends in 1.3 s
    watcher.last_poll_seconds = 0.1
    assert watcher._next_poll_in() == 1.0                     # a regular poll still fits before a later one
    watcher.last_poll_seconds = 0.5                           # a poll at 1.0 s would still run at 1.3 s
    assert 1.25 < watcher._next_poll_in() <= 1.32
    r.stability.since = time.monotonic() - 1.5                # ends in 0.5 s: sooner than the interval
    assert 0.45 < watcher._next_poll_in() <= 0.52


async def test_a_window_that_held_settles_from_its_own_read_not_behind_the_polls_describes(fake: FakeAws) -> None:
    import asyncio
    from datetime import datetime, timezone

    assert (await _apply(fake, fleet_doc({"api": []}))).ok
    watcher = RolloutWatcher(fake, "fleet", SilentReporter(), 0.01, min_ready=0.2)
    stop = asyncio.Event()
    runner = asyncio.create_task(watcher.run(stop))
    target = fake.service("api")["taskDefinition"].rsplit("/", 1)[-1]
    rollout = watcher.watch("api", target, 10, datetime.now(timezone.utc))
    while rollout.stability.since is None:   # ECS done, healthy tasks seen: the window is open
        await asyncio.sleep(0.005)

    call, order = fake.call, []

    async def slow_describes(service: str, operation: str, /, **params: Any) -> Any:
        order.append(operation)
        if operation == "describe_services":
            await asyncio.sleep(1.0)   # a loaded API: each poll's DescribeServices take a second
        return await call(service, operation, **params)
    fake.call = slow_describes  # type: ignore[method-assign]
    try:
        outcome = await asyncio.wait_for(rollout.done, 10)
    finally:
        runner.cancel()
    assert outcome.ok, outcome
    assert order[0] == "describe_tasks"      # the window's read went out before the poll's describes
    # the window ends inside the poll whose describes take 1 s; the next poll settles it from its
    # first read (≈ 1 s), instead of after that poll's describes as well (≈ 2 s)
    assert outcome.gate_seconds is not None and 0.2 <= outcome.gate_seconds < 1.5, outcome.gate_seconds
