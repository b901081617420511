"""The fleet lease on the sandbox's DynamoDB (moto over HTTP): conditional writes, expiry, fencing."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import pytest

from fleetctl.controller import lease as fleet_lease
from fleetctl.controller.aws import Aws
from fleetctl.controller.lease import Lease, LeaseError, LeaseTableMissing

TABLE = "fleetctl-locks"


@pytest.fixture
def aws_factory(sandbox_handle):
    def make() -> Aws:
        return Aws("us-east-1", endpoint_url=sandbox_handle.endpoint_url,
                   sandbox_credentials=str(sandbox_handle.state_dir / "credentials.json"))
    return make


async def test_take_renew_release_and_the_token_only_grows(aws_factory):
    fleet = f"f-{uuid.uuid4().hex[:6]}"
    async with aws_factory() as aws:
        async with Lease(aws, TABLE, fleet, command="apply a.yaml") as first:
            assert first.token == 1
            record = await fleet_lease.read(aws, TABLE, fleet)
            assert record.held() and record.command == "apply a.yaml" and record.token == 1
            assert await first.renew()
        record = await fleet_lease.read(aws, TABLE, fleet)
        assert not record.held() and record.released
        async with Lease(aws, TABLE, fleet, command="apply b.yaml") as second:
            assert second.token == 2  # a later holder always carries a larger fencing token


async def test_a_held_lease_makes_others_wait_then_names_the_holder(aws_factory):
    fleet = f"f-{uuid.uuid4().hex[:6]}"
    async with aws_factory() as aws:
        async with Lease(aws, TABLE, fleet, command="controller run m.yaml"):
            told = []
            other = Lease(aws, TABLE, fleet, command="apply", wait=0.5, poll=0.1, on_wait=told.append)
            with pytest.raises(LeaseError) as err:
                await other.acquire()
            assert "is locked" in str(err.value) and "controller run m.yaml" in str(err.value)
            assert err.value.exit_code == 2 and told and told[0].command == "controller run m.yaml"


async def test_an_abandoned_lease_expires_and_the_old_holder_learns_it_lost(aws_factory):
    fleet = f"f-{uuid.uuid4().hex[:6]}"
    async with aws_factory() as aws:
        old = Lease(aws, TABLE, fleet, command="apply", ttl=0.5)
        await old.acquire()  # never renewed: as if its process hung
        new = Lease(aws, TABLE, fleet, command="apply", wait=5, poll=0.1)
        await new.acquire()
        assert new.token == old.token + 1
        assert not await old.renew() and old.lost.is_set()
        await old.release()  # releasing what is no longer ours changes nothing
        assert (await fleet_lease.read(aws, TABLE, fleet)).held()
        await new.release()


async def test_a_dead_holder_on_this_host_is_taken_over_at_once(aws_factory):
    fleet = f"f-{uuid.uuid4().hex[:6]}"
    async with aws_factory() as aws:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        old = Lease(aws, TABLE, fleet, command="apply", ttl=300)
        await old.acquire()
        # rewrite the item's pid to the child's, then kill the child
        await aws.call("dynamodb", "update_item", TableName=TABLE, Key={"fleet": {"S": fleet}},
                       UpdateExpression="SET pid = :p", ExpressionAttributeValues={":p": {"N": str(child.pid)}})
        child.kill()
        child.wait()
        new = Lease(aws, TABLE, fleet, command="apply", wait=2, poll=0.1)
        started = asyncio.get_running_loop().time()
        await new.acquire()
        assert asyncio.get_running_loop().time() - started < 1.5
        await new.release()


async def test_run_while_held_stops_the_work_when_the_lease_is_lost(aws_factory):
    fleet = f"f-{uuid.uuid4().hex[:6]}"
    async with aws_factory() as aws:
        lease = Lease(aws, TABLE, fleet, command="apply", ttl=0.6)
        async with lease:
            await fleet_lease.force_release(aws, TABLE, fleet)
            taker = Lease(aws, TABLE, fleet, command="apply")
            await taker.acquire()
            with pytest.raises(fleet_lease.LeaseLost):
                await lease.run_while_held(asyncio.sleep(10))
            await taker.release()


async def test_a_missing_table_is_one_clear_error(aws_factory):
    async with aws_factory() as aws:
        with pytest.raises(LeaseTableMissing) as err:
            await Lease(aws, "no-such-table", "x", command="apply").acquire()
        assert "spec.lock.table" in str(err.value)


async def test_a_follower_reads_while_the_lease_is_held_and_takes_it_once_free(aws_factory):
    fleet = f"f-{uuid.uuid4().hex[:6]}"
    async with aws_factory() as aws:
        leader = Lease(aws, TABLE, fleet, command="controller run m.yaml")
        await leader.acquire()
        follower = Lease(aws, TABLE, fleet, command="controller run m.yaml")
        writes = aws.write_calls
        assert not await follower.try_acquire() and follower.seen.holder == leader.holder
        assert aws.write_calls == writes      # a GetItem only: a live leader sees no write
        token = leader.token
        await leader.release()
        assert await follower.try_acquire() and follower.token == token + 1
        await follower.release()


async def test_a_lease_released_by_force_is_not_renewed_by_its_old_holder(aws_factory):
    fleet = f"f-{uuid.uuid4().hex[:6]}"
    async with aws_factory() as aws:
        lease = Lease(aws, TABLE, fleet, command="apply")
        await lease.acquire()
        await fleet_lease.force_release(aws, TABLE, fleet)    # `fleetctl lock release`
        assert not await lease.renew() and lease.lost.is_set()
        assert not (await fleet_lease.read(aws, TABLE, fleet)).held()
