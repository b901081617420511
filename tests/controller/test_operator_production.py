"""The operator in production: /metrics, JSON logs, suspend, autoscaling, manifest sources."""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import urllib.request
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fleetctl.controller.operator import Operator

pytestmark = pytest.mark.timeout(300)  # sandbox tests on a shared 2-core machine: waits are condition-based


async def until(predicate, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(predicate)  # blocking clients must not stall the operator's loop
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError("condition not reached in time")


def scrape(op: Operator) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics parsed by prometheus_client's own parser: {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"{op.health_url}/metrics", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        text = r.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def sample(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def total(metrics: dict, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and want <= set(ls))


def desired(ecs, cluster: str, name: str) -> int:
    return ecs.describe_services(cluster=cluster, services=[name])["services"][0]["desiredCount"]


def running(ecs, cluster: str, names: list[str]) -> bool:
    found = ecs.describe_services(cluster=cluster, services=names)["services"]
    return len(found) == len(names) and all(s["runningCount"] == s["desiredCount"] and s["desiredCount"] > 0
                                            for s in found)


@asynccontextmanager
async def operating(manifest: Any, tf_outputs: Any = None, **kwargs: Any):
    kwargs = {"interval": 1.0, "progress_interval": 0.4, "health_port": 0, "backoff_base": 1.0, **kwargs}
    op = Operator(manifest, tf_outputs=tf_outputs, **kwargs)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(op.run(stop, ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        yield op
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def test_metrics_parse_and_move_as_the_fleet_changes(make_fleet, sandbox_handle):
    fleet = make_fleet(["settings", "time_manager"])
    ecs = sandbox_handle.client("ecs")
    async with operating(fleet.manifest, fleet.outputs) as op:
        await until(lambda: running(ecs, fleet.cluster, ["settings", "time_manager"]), 40)
        await until(lambda: sample(scrape(op), "fleetctl_service_condition", service="time_manager",
                                   condition="Ready") == 1, 30)
        m = await asyncio.to_thread(scrape, op)
        assert sample(m, "fleetctl_reconcile_passes_total", outcome="ok") >= 1
        assert sample(m, "fleetctl_reconcile_duration_seconds_count") >= 1
        assert sample(m, "fleetctl_aws_calls_total", operation="ecs.CreateService", outcome="ok") == 2
        assert sample(m, "fleetctl_aws_calls_total", operation="ecs.DescribeServices", outcome="ok") >= 1
        assert sample(m, "fleetctl_services") == 2
        assert sample(m, "fleetctl_leader") == 1
        assert sample(m, "fleetctl_service_condition", service="settings", condition="Degraded") == 0
        await until(lambda: sample(scrape(op), "fleetctl_rollouts_total", service="time_manager",
                                   outcome="succeeded") == 1, 30)

        # drift: scaled by hand, healed, counted
        passes = sample(m, "fleetctl_reconcile_passes_total", outcome="ok")
        await asyncio.to_thread(ecs.update_service, cluster=fleet.cluster, service="time_manager", desiredCount=2)
        await until(lambda: sample(scrape(op), "fleetctl_drift_healed_total", service="time_manager") == 1, 30)
        await until(lambda: desired(ecs, fleet.cluster, "time_manager") == 1, 30)
        m = await asyncio.to_thread(scrape, op)
        assert sample(m, "fleetctl_reconcile_passes_total", outcome="ok") > passes
        assert sample(m, "fleetctl_aws_calls_total", operation="ecs.UpdateService", outcome="ok") >= 1

        # a failed AWS call is counted under its error code
        await asyncio.to_thread(ecs.delete_service, cluster=fleet.cluster, service="settings", force=True)
        await until(lambda: sample(scrape(op), "fleetctl_aws_calls_total", operation="ecs.CreateService",
                                   outcome="ok") == 3, 30)

        # an invalid manifest edit keeps the last good spec and shows up in metrics
        good = fleet.manifest.read_text()
        fleet.manifest.write_text(good.replace("desiredCount: 1", "desiredCount: -4", 1))
        await until(lambda: sample(scrape(op), "fleetctl_source_reads_total", source="manifest",
                                   outcome="invalid") >= 1, 30)
        assert sample(await asyncio.to_thread(scrape, op), "fleetctl_source_ok", source="manifest") == 0
        fleet.manifest.write_text(good)
        await until(lambda: sample(scrape(op), "fleetctl_source_ok", source="manifest") == 1, 30)


@pytest.fixture
def fleetctl_logger():
    """The `fleetctl` logger as `controller run` configures it, put back afterwards: later tests
    read its records through pytest's caplog, which a logger that does not propagate hides."""
    logger = logging.getLogger("fleetctl")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


async def test_operator_json_logs_carry_tracebacks(fleetctl_logger):
    """`log.exception` in the operator keeps its traceback in the one JSON line."""
    import io

    from fleetctl.cli.operator import TextOrJson, configure_logging

    configure_logging(TextOrJson.json)
    stream = io.StringIO()
    fleetctl_logger.handlers[0].setStream(stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("fleetctl.controller").exception("settings: reconcile crashed")
    line = json.loads(stream.getvalue().strip())
    assert line["level"] == "error" and line["msg"] == "settings: reconcile crashed"
    assert line["logger"] == "fleetctl.controller" and line["component"] == "controller"
    assert "Traceback (most recent call last)" in line["exc"] and "RuntimeError: boom" in line["exc"]
    assert set(line) >= {"ts", "level", "event", "msg"}  # the SDK's fields: one format for services and fleetctl


def cli_args(fleet) -> list[str]:
    return ["-m", str(fleet.manifest), "--tf-outputs", str(fleet.outputs)]


@pytest.mark.timeout(600)  # nine CLI runs: each a fresh Python process
async def test_suspended_services_are_left_alone_while_drift_on_others_is_healed(make_fleet, sandbox_handle, cli):
    cli = functools.partial(cli, timeout=180)  # CLI start-up on a loaded shared machine
    fleet = make_fleet(["settings", "time_manager"])
    ecs = sandbox_handle.client("ecs")
    both = ["settings", "time_manager"]
    async with operating(fleet.manifest, fleet.outputs) as op:
        await until(lambda: running(ecs, fleet.cluster, both), 40)
        r = await asyncio.to_thread(cli, "controller", "suspend", "time_manager", *cli_args(fleet))
        assert r.code == 0 and "suspended: time_manager" in r.stdout, r
        again = await asyncio.to_thread(cli, "controller", "suspend", "time_manager", *cli_args(fleet))
        assert again.code == 0 and "already suspended: time_manager" in again.stdout, again
        await until(lambda: op.suspension.of("time_manager"), 30)

        for name in both:
            await asyncio.to_thread(ecs.update_service, cluster=fleet.cluster, service=name, desiredCount=2)
        await until(lambda: desired(ecs, fleet.cluster, "settings") == 1, 10)   # healed
        passes = op.stats.passes
        await until(lambda: op.stats.passes >= passes + 2, 30)
        assert desired(ecs, fleet.cluster, "time_manager") == 2                 # left alone
        m = await asyncio.to_thread(scrape, op)
        assert sample(m, "fleetctl_service_suspended", service="time_manager") == 1
        assert sample(m, "fleetctl_service_suspended", service="settings") == 0

        status = await asyncio.to_thread(cli, "status", str(fleet.manifest), "--tf-outputs", str(fleet.outputs),
                                         "-o", "json")
        rows = {s["service"]: s for s in json.loads(status.stdout)["services"]}
        assert rows["time_manager"]["suspended"] is True and rows["time_manager"]["suspendedBy"].startswith("manual ")
        assert rows["settings"]["suspended"] is False
        text = await asyncio.to_thread(cli, "status", str(fleet.manifest), "--tf-outputs", str(fleet.outputs))
        assert "suspended" in text.stdout and "time_manager (manual" in text.stdout, text.stdout

        r = await asyncio.to_thread(cli, "controller", "resume", "time_manager", *cli_args(fleet))
        assert r.code == 0 and "resumed: time_manager" in r.stdout, r
        await until(lambda: desired(ecs, fleet.cluster, "time_manager") == 1, 30)

        # the whole fleet: a marker on the cluster
        r = await asyncio.to_thread(cli, "controller", "suspend", "--all", *cli_args(fleet))
        assert r.code == 0 and f"suspended: fleet {fleet.name}" in r.stdout, r
        await until(lambda: op.suspension.fleet is not None, 30)
        await asyncio.to_thread(ecs.update_service, cluster=fleet.cluster, service="settings", desiredCount=2)
        passes = op.stats.passes
        await until(lambda: op.stats.passes >= passes + 2, 30)
        assert desired(ecs, fleet.cluster, "settings") == 2
        assert sample(await asyncio.to_thread(scrape, op), "fleetctl_fleet_suspended") == 1
        r = await asyncio.to_thread(cli, "controller", "resume", "--all", *cli_args(fleet))
        assert r.code == 0 and f"resumed: fleet {fleet.name}" in r.stdout, r
        await until(lambda: desired(ecs, fleet.cluster, "settings") == 1, 30)

        bad = await asyncio.to_thread(cli, "controller", "suspend", "nosuch", *cli_args(fleet))
        assert bad.code == 2 and "nosuch" in bad.stderr and "Traceback" not in bad.stderr


async def test_rollback_suspends_the_service_so_the_controller_does_not_roll_forward(make_fleet, sandbox_handle, cli):
    cli = functools.partial(cli, timeout=180)
    fleet = make_fleet(["settings"])
    ecs = sandbox_handle.client("ecs")
    family = f"{fleet.name}-settings"

    def on(rev: int) -> bool:
        found = ecs.describe_services(cluster=fleet.cluster, services=["settings"])["services"]
        svc = found[0] if found else {"taskDefinition": "", "runningCount": 0}
        return svc["taskDefinition"].endswith(f"{family}:{rev}") and svc["runningCount"] == 1

    async with operating(fleet.manifest, fleet.outputs) as op:
        await until(lambda: on(1), 40)
        fleet.service("settings").setdefault("environment", {})["FEATURE"] = "on"
        fleet.write()
        await until(lambda: on(2), 40)
        r = await asyncio.to_thread(cli, "rollback", "settings", *cli_args(fleet), "--to", f"{family}:1",
                                    "--timeout", "40s")
        assert r.code == 0, r
        assert "suspended settings" in r.stderr and "controller resume settings" in r.stderr
        passes = op.stats.passes
        await until(lambda: op.stats.passes >= passes + 3, 30)
        assert on(1)  # not rolled forward
        r = await asyncio.to_thread(cli, "controller", "resume", "settings", *cli_args(fleet))
        assert r.code == 0
        await until(lambda: on(2), 40)  # resumed: back to the manifest
