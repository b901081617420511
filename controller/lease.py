"""One writer per fleet: a lease on a DynamoDB item, taken by apply, rollback, prune and the operator.

One item per fleet (key `fleet`) records the holder (a random id per lease), its host, pid and
command, when it started, when the lease expires and a fencing token. Every change is a
conditional UpdateItem, so two writers can never both believe they hold it:

- acquire: the item is absent, expired, or already ours (a retry after a lost reply); the
  fencing token grows by one with every acquisition and is never reset, so a later holder
  always has a larger token than an earlier one;
- renew (every ttl/3 while held): only while holder and token are still ours;
- release (on exit): sets the expiry to 0, keeping the token and who held it last.

A holder that dies stops renewing and its lease expires after `ttl`; a holder on this host
whose process is gone is taken over at once (conditionally on its token). Controllers that
follow (controller/leader.py) call `try_acquire` every poll: a read, and a write only when the
lease is free.

    async with Lease(aws, table, fleet, command="apply") as lease:
        ...              # lease.token: the fencing token; lease.lost: set if it was taken over
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from collections.abc import Iterator
from typing import Any

from fleetctl.controller.aws import lease_item
from fleetctl.controller.aws.client import Aws
from fleetctl.controller.aws.lease_item import CONDITION_FAILED
from fleetctl.controller.errors import CloudError, FleetError

DEFAULT_TTL = 30.0


class LeaseError(FleetError):
    """The lease could not be taken (held by another writer) or its table is missing.

    Nothing was changed: exit 2."""

    exit_code = 2

    def __init__(self, message: str, record: "LeaseRecord | None" = None):
        super().__init__(message)
        self.record = record


class LeaseTableMissing(LeaseError):
    """The lease table does not exist (terraform creates it; the sandbox creates its own)."""


class LeaseLost(FleetError):
    """The lease was taken over while held (it could not be renewed before it expired)."""

    exit_code = 1


@dataclass(frozen=True)
class LeaseRecord:
    fleet: str
    holder: str
    host: str
    pid: int
    command: str
    started: str
    expires: float      # epoch seconds; 0 once released
    token: int
    released: str | None = None

    def held(self, now: float | None = None) -> bool:
        return self.expires > (time.time() if now is None else now)

    def describe(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        who = f"`{self.command}` (pid {self.pid} on {self.host}, since {self.started}, token {self.token})"
        if self.held(now):
            return f"held by {who}, expires in {self.expires - now:.0f}s unless renewed"
        return f"free; last held by {who}" + (f", released {self.released}" if self.released else ", expired")

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {"fleet": self.fleet, "held": self.held(now), "holder": self.holder, "host": self.host,
                "pid": self.pid, "command": self.command, "started": self.started,
                "expires": datetime.fromtimestamp(self.expires, timezone.utc).isoformat() if self.expires else None,
                "expiresInSeconds": round(self.expires - now, 1) if self.held(now) else 0,
                "fencingToken": self.token, "released": self.released}


def _record(item: dict[str, Any]) -> LeaseRecord:
    def s(k: str) -> str:
        return item.get(k, {}).get("S", "")

    def n(k: str) -> float:
        return float(item.get(k, {}).get("N", "0"))

    return LeaseRecord(fleet=s("fleet"), holder=s("holder"), host=s("host"), pid=int(n("pid")),
                       command=s("command"), started=s("started"), expires=n("expires"), token=int(n("token")),
                       released=s("released") or None)


def _now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _process_gone(record: LeaseRecord) -> bool:
    """The holder ran on this host and its process no longer exists (killed, crashed)."""
    if record.host != socket.gethostname() or record.pid <= 0 or record.pid == os.getpid():
        return False
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # a zombie (killed, not yet reaped by its parent) holds nothing either
    try:
        with open(f"/proc/{record.pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return False


async def read(aws: Aws, table: str, fleet: str) -> LeaseRecord | None:
    """The lease item of a fleet (strongly consistent), or None if it was never taken."""
    with _table(aws, table):
        item = await lease_item.get(aws, table, fleet)
    return _record(item) if item else None


async def force_release(aws: Aws, table: str, fleet: str) -> LeaseRecord | None:
    """Release whoever holds the lease (an operator's decision); returns the record before."""
    before = await read(aws, table, fleet)
    if before is None or not before.held():
        return before
    try:
        with _table(aws, table):
            await lease_item.release(aws, table, fleet, before.holder, before.token, _now_iso())
    except CloudError as exc:
        if exc.code != CONDITION_FAILED:
            raise
    return before


@contextlib.contextmanager
def _table(aws: Aws, table: str) -> Iterator[None]:
    """A missing lease table is one clear line (nothing was changed yet)."""
    try:
        yield
    except CloudError as exc:
        if exc.code == "ResourceNotFoundException":
            raise LeaseTableMissing(f"lease table {table!r} not found in {aws.region}: terraform creates it "
                             f"(output fleet_lock_table_name) and spec.lock.table names it") from None
        raise


class Lease:
    """The lease of one fleet, held for the life of an `async with` block."""

    def __init__(self, aws: Aws, table: str, fleet: str, *, command: str, ttl: float = DEFAULT_TTL,
                 wait: float = 180.0, poll: float = 1.0, on_wait: Any = None) -> None:
        self.aws = aws
        self.table = table
        self.fleet = fleet
        self.command = command
        self.ttl = ttl
        self.wait = wait
        self.poll = poll
        self.on_wait = on_wait          # called once with the holder's record when we have to wait
        self.holder = uuid.uuid4().hex
        self.token: int | None = None
        self.expires = 0.0
        self.confirmed = 0.0            # monotonic time the last successful take/renew was sent
        self.seen: LeaseRecord | None = None   # the item as `try_acquire` last read it
        self.lost = asyncio.Event()
        self._renewer: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        return self.token is not None and not self.lost.is_set()

    async def _take(self, *, free_at: float | None = None, from_holder: LeaseRecord | None = None) -> bool:
        """Take the lease if it is free at `free_at`, or from `from_holder` (whose process is gone)."""
        sent, expires = time.monotonic(), time.time() + self.ttl
        me = lease_item.Holder(self.holder, socket.gethostname(), os.getpid(), self.command, _now_iso())
        try:
            with _table(self.aws, self.table):
                self.token = await lease_item.take(
                    self.aws, self.table, self.fleet, me, expires, free_at=free_at,
                    from_holder=(from_holder.holder, from_holder.token) if from_holder is not None else None)
        except CloudError as exc:
            if exc.code == CONDITION_FAILED:
                return False
            raise
        self.expires, self.confirmed = expires, sent
        return True

    async def acquire(self) -> int:
        """Take the lease, waiting up to `wait` seconds for the holder; the fencing token."""
        deadline = time.monotonic() + self.wait
        told = False
        while True:
            now = time.time()
            # absent, expired, or ours already (a retried request whose first reply was lost)
            if await self._take(free_at=now):
                return self.token  # type: ignore[return-value]
            current = await read(self.aws, self.table, self.fleet)
            if current is not None and current.held() and _process_gone(current):
                if await self._take(from_holder=current):
                    return self.token  # type: ignore[return-value]
                continue
            if current is None or not current.held():
                continue  # released or expired in between: try again at once
            if time.monotonic() >= deadline:
                raise LeaseError(f"fleet {self.fleet!r} is locked: {current.describe()}; "
                                 f"waited {self.wait:.0f}s (--lock-timeout); `fleetctl lock status` shows it, "
                                 f"`fleetctl lock release` frees it if that process is gone", current)
            if not told and self.on_wait is not None:
                self.on_wait(current)
                told = True
            await asyncio.sleep(min(self.poll, max(0.05, deadline - time.monotonic()),
                                    max(0.05, current.expires - time.time())))

    async def try_acquire(self) -> bool:
        """One attempt, no waiting (a controller that follows): True when the lease is now ours,
        else `seen` is its holder's record. The item is read first: a live holder sees no write."""
        current = self.seen = await read(self.aws, self.table, self.fleet)
        if current is not None and current.held() and current.holder != self.holder:
            if not _process_gone(current):
                return False
            taken = await self._take(from_holder=current)
        else:
            taken = await self._take(free_at=time.time())
        if not taken:  # another controller was faster
            self.seen = await read(self.aws, self.table, self.fleet) or current
        return taken

    async def renew(self) -> bool:
        """Push the expiry out; False (and `lost` set) when the lease is no longer ours.

        Conditional on holder, token and an unexpired lease: an expired lease may have been taken
        (or released by `fleetctl lock release`) and is not revived. A success is also a fencing
        check: the lease was ours under `token` when DynamoDB applied it."""
        if self.token is None:
            return False
        now = time.time()
        sent, expires = time.monotonic(), now + self.ttl
        try:
            with _table(self.aws, self.table):
                await lease_item.renew(self.aws, self.table, self.fleet, self.holder, self.token, expires, now)
        except CloudError as exc:
            if exc.code == CONDITION_FAILED:
                self.lost.set()
                return False
            raise
        self.expires, self.confirmed = expires, sent
        return True

    async def release(self) -> None:
        if self.token is None:
            return
        token, self.token = self.token, None
        with contextlib.suppress(CloudError):
            with _table(self.aws, self.table):
                await lease_item.release(self.aws, self.table, self.fleet, self.holder, token, _now_iso())

    async def _renew_loop(self) -> None:
        while not self.lost.is_set():
            # a third of the ttl after the last successful write was sent (not after its slow reply);
            # after a failed attempt, again soon
            await asyncio.sleep(max(self.ttl / 10, self.confirmed + self.ttl / 3 - time.monotonic()))
            try:
                if not await self.renew():
                    return
            except FleetError:
                if time.time() >= self.expires:  # could not renew in time: someone may take it
                    self.lost.set()
                    return

    def start_renewing(self) -> None:
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_loop(), name=f"lease-renew-{self.fleet}")

    async def stop(self) -> None:
        """Stop renewing and release."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._renewer
            self._renewer = None
        await self.release()

    async def __aenter__(self) -> "Lease":
        await self.acquire()
        self.start_renewing()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def run_while_held(self, coro: Any) -> Any:
        """Run `coro`, cancelling it if the lease is lost; LeaseLost then."""
        work = asyncio.ensure_future(coro)
        lost = asyncio.create_task(self.lost.wait())
        try:
            await asyncio.wait({work, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if work.done():
            return work.result()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await work
        raise LeaseLost(f"lost the lease of fleet {self.fleet!r} (not renewed in time); stopped")


def for_fleet(aws: Aws, fleet: Any, *, command: str, wait: float = 180.0, on_wait: Any = None) -> Lease:
    """The lease of a manifest's fleet (`spec.lock.table`, keyed by `metadata.name`)."""
    return Lease(aws, fleet.spec.lock.table, fleet.metadata.name, command=command, wait=wait, on_wait=on_wait)
