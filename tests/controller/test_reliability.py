"""Reliability against the sandbox through the fault-injecting proxy (bench/faults/proxy.py).

Lost replies add no revision, a crash at any write leaves a re-run that finishes the job without a
second rollout, a failure after changes is exit 1 with a per-service account, and one writer at a
time holds a fleet.
"""
from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from bench.faults import harness
from bench.faults.proxy import start as start_proxy
from fleetctl.controller.plan import TASK_DEF_TAG
from tests.controller.conftest import delete_services, new_fleet

SERVICES = ["settings", "time_manager", "weather_manager", "event_bus"]


@pytest.fixture
def proxied(sandbox_handle):
    proxy, url = start_proxy(sandbox_handle.endpoint_url)
    yield url
    proxy.shutdown()
    proxy.server_close()


@pytest.fixture(scope="module")
def shared(sandbox_handle, tmp_path_factory):
    """One fleet per service list for the whole module, handed from test to test: each test starts
    with an apply that converges it (a no-op after the test before), so a fleet is created once."""
    fleets: dict[tuple[str, ...], Any] = {}

    def get(services: list[str] = SERVICES):
        key = tuple(services)
        if key not in fleets:
            fleets[key] = new_fleet(sandbox_handle, tmp_path_factory.mktemp("reliability"), services)
        return fleets[key]

    yield get
    delete_services(sandbox_handle, [f.cluster for f in fleets.values()])


def _fleet(shared, proxy_url, services=SERVICES):
    fleet = shared(services)
    harness.point_outputs_at(fleet.outputs, proxy_url)
    return fleet


def _change_all(fleet, run: str) -> None:
    for s in fleet.doc["spec"]["services"]:
        s["environment"] = {**s.get("environment", {}), "RELIABILITY_RUN": run}
    fleet.write()


def _apply(fleet, *extra: str, timeout: float = 240) -> harness.Run:
    return harness.run_fleetctl("apply", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "-o", "json",
                                "--timeout", "90s", *extra, timeout=timeout)


def _plan(fleet) -> harness.Run:
    return harness.run_fleetctl("plan", str(fleet.manifest), "--tf-outputs", str(fleet.outputs), "-o", "json")


def _families(fleet) -> list[str]:
    return [f"{fleet.name}-{s['name']}" for s in fleet.doc["spec"]["services"]]


@pytest.mark.timeout(300)  # several real applies through the proxy; ~4x slower on a loaded 2-core box
def test_dropped_replies_add_no_revision(shared, sandbox_handle, proxied):
    fleet = _fleet(shared, proxied)  # the module's first use of it: created by the faulted apply below
    # a fifth of all calls: the server acts, the reply is lost
    harness.configure(proxied, rate=0.2, kinds=["drop_after"], seed=14)
    first = _apply(fleet)
    assert first.code == 0, first.stderr[-2000:]
    _change_all(fleet, "2")
    second = _apply(fleet)
    assert second.code == 0, second.stderr[-2000:]
    stats = harness.control(proxied, "stats")
    assert stats["faults"].get("drop_after", 0) >= 3, stats["faults"]
    assert not first.traceback and not second.traceback
    harness.configure(proxied)
    assert harness.duplicate_revisions(sandbox_handle.client("ecs"), _families(fleet)) == 0
    assert _plan(fleet).code == 0  # converged


@pytest.mark.timeout(300)
@pytest.mark.parametrize("after_writes", [6])  # bench/faults/run.py tries five points
def test_sigkill_mid_apply_then_rerun_finishes_without_a_second_rollout(shared, sandbox_handle, proxied,
                                                                         after_writes):
    fleet = _fleet(shared, proxied)
    assert _apply(fleet).code == 0
    _change_all(fleet, f"crash-{after_writes}")
    harness.control(proxied, "reset")
    killed = harness.run_with_kill(proxied, after_writes, "apply", str(fleet.manifest), "--tf-outputs",
                                   str(fleet.outputs), "-o", "json", "--timeout", "90s")
    assert killed.code == -signal.SIGKILL, (killed.code, killed.stderr[-1000:])
    rerun = _apply(fleet)  # takes over the dead process's lease at once (same host, pid gone)
    assert rerun.code == 0, rerun.stderr[-2000:]
    writes = harness.control(proxied, "stats")["writes"]
    # one rollout per service over both runs: services the killed run updated are only tagged now
    assert set(harness.rollouts(writes).values()) == {1}, harness.rollouts(writes)
    assert set(harness.registrations(writes).values()) == {1}, harness.registrations(writes)
    assert harness.duplicate_revisions(sandbox_handle.client("ecs"), _families(fleet)) == 0
    assert _plan(fleet).code == 0
    ecs = sandbox_handle.client("ecs")
    for svc in ecs.describe_services(cluster=fleet.cluster, services=SERVICES, include=["TAGS"])["services"]:
        tags = {t["key"]: t["value"] for t in svc["tags"]}
        assert tags[TASK_DEF_TAG] == svc["taskDefinition"].rsplit("/", 1)[-1]


@pytest.mark.timeout(300)  # several real applies through the proxy; ~4x slower on a loaded 2-core box
def test_failure_after_changes_is_exit_1_with_an_account_and_a_rerun_converges(shared, sandbox_handle, proxied):
    fleet = _fleet(shared, proxied)
    assert _apply(fleet).code == 0
    _change_all(fleet, "half")
    # half of the writes (and revision look-ups) fail; one service's UpdateService always does
    harness.configure(proxied, rate=0.5, kinds=["throttle", "500", "503", "drop_before", "drop_after"], seed=7,
                      ops=r"^ecs\.(RegisterTaskDefinition|UpdateService|TagResource|DescribeTaskDefinition)$",
                      rules=[{"op": r"UpdateService$", "body": r'"service":\s*"weather_manager"', "kind": "500"}])
    failed = _apply(fleet)
    assert failed.code == 1, (failed.code, failed.stderr[-2000:])
    assert not failed.traceback
    doc = failed.json()
    assert doc["ok"] is False and doc["changed"] is True
    account = {s["service"]: s for s in doc["services"]}
    wm = account["weather_manager"]
    assert wm["status"] == "failed"
    assert wm["done"] and wm["done"][0].startswith("register ")
    assert wm["notDone"][0].startswith("update ")
    for name in set(SERVICES) - {"weather_manager"}:
        # under 50 % faults a service may also run out of retries: then it too says what was not done
        assert account[name]["status"] == "ready" or account[name]["notDone"], account[name]
    # the same account in text, on stdout
    harness.configure(proxied, rules=[{"op": r"UpdateService$", "body": r'"service":\s*"weather_manager"',
                                       "kind": "500"}])
    text = harness.run_fleetctl("apply", str(fleet.manifest), "--tf-outputs", str(fleet.outputs))
    assert text.code == 1 and not text.traceback
    assert "per service (done / not done):" in text.stdout
    assert "weather_manager: done: register" in text.stdout and "/ not done: update" in text.stdout
    harness.configure(proxied)
    again = _apply(fleet)
    assert again.code == 0, again.stderr[-2000:]
    assert _plan(fleet).code == 0
    assert harness.duplicate_revisions(sandbox_handle.client("ecs"), _families(fleet)) == 0


@pytest.mark.timeout(300)  # several real applies through the proxy; ~4x slower on a loaded 2-core box
def test_second_apply_waits_for_or_names_the_holder(shared, sandbox_handle, proxied):
    fleet = _fleet(shared, proxied, ["settings", "time_manager"])
    assert _apply(fleet).code == 0
    _change_all(fleet, "two")
    # the first apply holds the lease through a slow UpdateService (20 s each)
    harness.configure(proxied, latency=20.0, rules=[{"op": r"UpdateService$", "kind": "latency"}])
    first = harness.start_fleetctl("apply", str(fleet.manifest), "--tf-outputs", str(fleet.outputs),
                                   "--timeout", "90s")
    ddb = sandbox_handle.client("dynamodb")
    waited = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            item = ddb.get_item(TableName="fleetctl-locks", Key={"fleet": {"S": fleet.name}}).get("Item")
            if item and item["pid"]["N"] == str(first.pid) and float(item["expires"]["N"]) > time.time():
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the first apply never held the lease")
        waited = harness.start_fleetctl("apply", str(fleet.manifest), "--tf-outputs", str(fleet.outputs),
                                        "--lock-timeout", "3m")
        refused = harness.run_fleetctl("apply", str(fleet.manifest), "--tf-outputs", str(fleet.outputs),
                                       "--lock-timeout", "1s")
        assert refused.code == 2, refused.stderr
        assert "is locked" in refused.stderr and f"pid {first.pid}" in refused.stderr and "apply" in refused.stderr
        assert not refused.traceback
        assert first.wait(timeout=120) == 0
        out, err = waited.communicate(timeout=120)
        assert waited.returncode == 0, err[-2000:]
        assert "waiting up to" in err
        assert "in sync" in err  # it planned after the first writer finished: nothing left to do
    finally:
        harness.configure(proxied)
        for p in (first, waited):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.timeout(300)  # several real applies through the proxy; ~4x slower on a loaded 2-core box
def test_controller_holds_the_fleet_and_a_users_apply_is_told(shared, sandbox_handle, proxied):
    fleet = _fleet(shared, proxied, ["settings", "time_manager"])
    controller = harness.start_fleetctl("controller", "run", str(fleet.manifest), "--tf-outputs", str(fleet.outputs),
                                        "--interval", "1s", "--health-port", "0")
    other = fleet.manifest.with_name("other.yaml")
    doc = dict(fleet.doc)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and _plan(fleet).code != 0:
            time.sleep(0.5)
        assert _plan(fleet).code == 0, "controller did not converge the fleet"
        # a user applies another manifest of the same fleet
        import yaml

        changed = yaml.safe_load(yaml.safe_dump(doc))
        for s in changed["spec"]["services"]:
            s["environment"] = {"FROM_USER": "1"}
        other.write_text(yaml.safe_dump(changed))
        harness.control(proxied, "reset")
        user = harness.run_fleetctl("apply", str(other), "--tf-outputs", str(fleet.outputs), "--lock-timeout", "2s")
        assert user.code == 2 and "controller run" in user.stderr, user.stderr
        time.sleep(2.5)  # two more controller passes
        writes = harness.control(proxied, "stats")["writes"]
        assert not harness.rollouts(writes), writes  # nobody flipped anything
    finally:
        controller.send_signal(signal.SIGTERM)
        assert controller.wait(timeout=30) == 0, controller.stderr.read()[-2000:] if controller.stderr else ""
    item = sandbox_handle.client("dynamodb").get_item(TableName="fleetctl-locks",
                                                        Key={"fleet": {"S": fleet.name}})["Item"]
    assert item["expires"]["N"] == "0" and "released" in item  # released on SIGTERM


@pytest.mark.timeout(300)
def test_fuzzed_manifests_never_trace_back():
    from bench.faults.fuzz import fuzz

    report = fuzz(25, seed=1)  # bench/faults/run.py runs thousands
    assert report.tracebacks == [], report.tracebacks[:3]
    assert report.rejected > 5  # the mutations do break manifests


def test_lease_commands_on_a_fresh_fleet(make_fleet, proxied):
    fleet = _fleet(make_fleet, proxied, ["settings"])
    status = harness.run_fleetctl("lock", "status", str(fleet.manifest), "--tf-outputs", str(fleet.outputs))
    assert status.code == 0 and "free (never taken)" in status.stdout
    release = harness.run_fleetctl("lock", "release", str(fleet.manifest), "--tf-outputs", str(fleet.outputs))
    assert release.code == 0 and "already free" in release.stdout


def test_plan_gives_a_service_already_on_the_content_only_its_missing_tag():
    """A run stopped between UpdateService and the tag: the live revision (4) holds the manifest's
    content, the tags still name revision 3. Plan reads it and only records it; no register, no update."""
    import random

    from fleetctl.controller.plan import PREVIOUS_TAG, TagServiceAction, plan
    from fleetctl.controller.render import TD_HASH_TAG
    from fleetctl.controller.state import ObservedFleet
    from tests.controller.test_plan import FLEET, RENDERED, observed_for

    observed = observed_for(RENDERED, trusted=True, rng=random.Random(3), revision=4)
    services = {}
    for name, svc in observed.services.items():
        family = svc.task_definition.rsplit("/", 1)[-1].split(":")[0]
        services[name] = svc.__class__(**{**svc.__dict__, "tags": {**svc.tags, TASK_DEF_TAG: f"{family}:3",
                                                                    TD_HASH_TAG: "0" * 16}})
    stale = ObservedFleet(observed.cluster, services, observed.task_definitions)
    p = plan(RENDERED, stale, fleet_name=FLEET.metadata.name)
    for sp in p.services:
        assert [type(a) for a in sp.actions] == [TagServiceAction], sp
        tags = sp.actions[0].tags(FLEET.metadata.name, None)
        family = f"{FLEET.metadata.name}-{sp.service}"
        assert tags[TASK_DEF_TAG] == f"{family}:4" and tags[PREVIOUS_TAG] == f"{family}:3"
