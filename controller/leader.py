"""Leader election on the fleet lease: several controllers watch one fleet, one of them writes.

Every `controller run` takes part. The one holding the fleet's lease (controller/lease.py, the
lease `apply` takes) leads: it reconciles and writes. The others follow: they observe the fleet
every interval (read-only passes: conditions, metrics, /healthz, /metrics) and make no AWS write
call. A follower reads the lease item every `poll` seconds (a strongly consistent GetItem) and
tries to take it only when it is free — released, expired, or held by a process of this host
that is gone — so while a leader lives its followers send reads only.

Fencing. ECS has no conditional writes: no UpdateService can be made to fail because its sender
no longer holds a DynamoDB item, so the fencing token cannot be checked by the resource written.
What DynamoDB does guarantee is that conditional writes to one item are applied atomically, one
at a time, against its latest state. So every write request of the leader passes `fence()` just
before it is sent (the `before-send` hook of controller/aws/client.py: each retry passes again):

- it is refused (`NotLeader`) once the lease is known lost, or from the moment the controller
  was told to stop;
- when the last successful conditional write of the lease item is older than `fence_every`, it
  first makes one (holder and token still ours and the lease unexpired; the expiry moves to now
  + ttl). Its success proves this controller held the lease under its token at that instant, and
  no one can take it over before `ttl` later (by the clocks of the hosts involved).

A write therefore leaves at most `fence_every` (1 s) after a successful check, with at least
`ttl - fence_every` (29 s) before another controller could take over: only a request held up
in the network, or clocks skewed, by longer than that could land after a take-over.

Hand-over. On stop (SIGTERM) writes are refused at once; when the in-flight reconciles have
ended (each at its next write), the lease is released (expiry 0) and a follower takes it at its
next poll. A leader that dies without releasing (SIGKILL, a lost host) is replaced when its lease
expires: within ttl + poll (at once when it ran on the follower's host and its process is gone).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleetctl.controller.errors import FleetError
from fleetctl.controller.lease import DEFAULT_TTL, Lease, LeaseRecord

log = logging.getLogger("fleetctl.controller")


class NotLeader(FleetError):
    """A write refused before it was sent: this controller does not (or no longer) lead the fleet."""

    exit_code = 1


@dataclass(frozen=True)
class LeaderSettings:
    ttl: float = DEFAULT_TTL   # a leader that stops renewing is replaced within ttl + poll
    poll: float = 1.0          # how often a follower looks at the lease (the SIGTERM hand-over time)
    fence_every: float = 1.0   # a write is sent at most this long after a conditional check of the lease

    def __post_init__(self) -> None:
        if not 0 < self.poll < self.ttl or not 0 < self.fence_every < self.ttl / 2:
            raise ValueError(f"lease: poll ({self.poll}s) and fence ({self.fence_every}s) must be well below "
                             f"the ttl ({self.ttl}s)")


class Leadership:
    """This controller's part in the election of one fleet's writer.

    `run(stop)` follows until the lease is free, leads until the lease is lost, follows again...;
    `fence(operation)` is the write guard; `stop_writing()` then `release()` hand over on stop.
    `new_lease` makes the Lease for each term (its own AWS connection, not the guarded one)."""

    def __init__(self, new_lease: Callable[[], Lease], fleet: str, *, settings: LeaderSettings = LeaderSettings(),
                 metrics: Any = None) -> None:
        self.new_lease = new_lease
        self.fleet = fleet
        self.settings = settings
        self.metrics = metrics
        self.lease: Lease | None = None
        self.seen: LeaseRecord | None = None      # the holder as last read while following
        self.on_lead: Callable[[], None] | None = None
        self._writing = False
        self._fence_lock = asyncio.Lock()
        self._failing = False
        if metrics is not None:
            metrics.leader.set(0)

    @classmethod
    def for_table(cls, aws: Any, table: str, fleet: str, *, command: str, settings: LeaderSettings = LeaderSettings(),
                  metrics: Any = None) -> "Leadership":
        def new_lease() -> Lease:
            return Lease(aws, table, fleet, command=command, ttl=settings.ttl, wait=0, poll=settings.poll)
        return cls(new_lease, fleet, settings=settings, metrics=metrics)

    @property
    def leads(self) -> bool:
        """True while this controller may write: it holds the lease and was not told to stop."""
        return self._writing and self.lease is not None and self.lease.held

    # -- the election loop ------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: follow (poll the lease) while another holds it, lead while it is ours."""
        while not stop.is_set():
            if self.lease is not None and self.lease.lost.is_set():
                await self._step_down()
            if self.lease is None:
                await self._try_to_lead()
            waits = {asyncio.ensure_future(stop.wait())}
            if self.lease is not None:
                waits.add(asyncio.ensure_future(self.lease.lost.wait()))
            try:
                await asyncio.wait(waits, timeout=None if self.lease is not None else self.settings.poll,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()

    async def _try_to_lead(self) -> None:
        lease = self.new_lease()
        try:
            taken = await lease.try_acquire()
        except Exception as exc:  # DynamoDB unreachable or throttled (a bug: with its traceback): next poll
            if not self._failing:
                log.warning("cannot read the lease of fleet %s: %s; trying again every %.1fs", self.fleet, exc,
                            self.settings.poll, exc_info=not isinstance(exc, FleetError))
            self._failing = True
            return
        self._failing = False
        if not taken:
            if lease.seen is not None:
                self._follow(lease.seen)
            return
        lease.start_renewing()
        self.lease, self._writing, self.seen = lease, True, None
        self._count("acquired", lease.token)
        log.info("leading fleet %s (lease token %s): this controller writes", self.fleet, lease.token)
        if self.on_lead is not None:
            self.on_lead()

    def _follow(self, record: LeaseRecord) -> None:
        before, self.seen = self.seen, record
        if before is not None and (before.holder, before.token, before.held()) == (record.holder, record.token,
                                                                                   record.held()):
            return
        self._count("holder" if before is not None and before.token != record.token else None, record.token)
        log.info("following: fleet %s's lease is %s", self.fleet, record.describe())

    async def _step_down(self) -> None:
        lease, self.lease, self._writing = self.lease, None, False
        assert lease is not None
        token = lease.token
        self._count("lost", token)
        log.warning("lost the lease of fleet %s (token %s: taken over, released or expired): following, "
                    "writes refused", self.fleet, token)
        await lease.stop()  # stop renewing; its release is conditional on the token, so changes nothing now

    def _count(self, change: str | None, token: int | None) -> None:
        if self.metrics is None:
            return
        if change is not None:
            self.metrics.lease_changes.labels(change).inc()
        self.metrics.leader.set(1 if self.leads else 0)
        if token is not None:
            self.metrics.lease_token.set(token)

    # -- writes -----------------------------------------------------------------------------
    async def fence(self, operation: str) -> None:
        """The write guard: raise NotLeader unless this controller leads, checking the lease item
        (a conditional write) when the last check is older than `fence_every`."""
        lease = self.lease
        if not self.leads or lease is None:
            raise NotLeader(f"{operation} not sent: this controller does not lead fleet {self.fleet!r}")
        if time.monotonic() - lease.confirmed <= self.settings.fence_every:
            return
        async with self._fence_lock:
            if time.monotonic() - lease.confirmed > self.settings.fence_every and not await lease.renew():
                raise NotLeader(f"{operation} not sent: the lease of fleet {self.fleet!r} (token {lease.token}) "
                                f"is no longer ours")
        if not self.leads:
            raise NotLeader(f"{operation} not sent: this controller stopped leading fleet {self.fleet!r}")

    def stop_writing(self) -> None:
        """From now on every write is refused (stop: the lease is released once in-flight work ended)."""
        self._writing = False

    async def release(self) -> None:
        """Give the lease up now, for a follower to take at its next poll."""
        self._writing = False
        lease, self.lease = self.lease, None
        if lease is None:
            return
        token, held = lease.token, lease.held
        await lease.stop()
        if held:
            self._count("released", token)
            log.info("released the lease of fleet %s (token %s): a follower takes over", self.fleet, token)
