"""body_broker: allocations of capability providers to NPCs, in the `allocations` bucket.

An NPC holds at most one body per capability, so allocating again returns the same one.
A provider takes at most `capacity` allocations; the one with the most room wins.
"""

from __future__ import annotations

import hashlib

from sdk import Service, endpoint, require, ServiceError
from sdk.proto import body_broker_pb2 as pb
from sdk.proto import capability_registry_pb2 as registry_pb
from sdk.store import Bucket, RevisionConflict


def allocation_id(npc_id: str, capability: str) -> str:
    return "a-" + hashlib.sha256(f"{npc_id}\n{capability}".encode()).hexdigest()[:16]


def pick(providers: list[registry_pb.ProviderEntry], used: dict[str, int]) -> registry_pb.ProviderEntry | None:
    free = [(entry.capacity - used.get(entry.provider_id, 0), entry.provider_id, entry) for entry in providers]
    free = [item for item in free if item[0] > 0]
    if not free:
        return None
    return min(free, key=lambda item: (-item[0], item[1]))[2]


class BodyBroker(Service):
    name = "body_broker"
    description = "Allocates bodies to NPCs"

    async def setup(self) -> None:
        self.allocations: Bucket = await self.rt.bucket("allocations")

    async def _all(self) -> list[pb.Allocation]:
        found = [await self.allocations.get(key, pb.Allocation) for key in await self.allocations.keys()]
        return [item[0] for item in found if item is not None]

    @endpoint
    async def allocate(self, request: pb.AllocateRequest) -> pb.AllocateResponse:
        require(npc_id=request.npc_id, capability=request.capability)
        key = allocation_id(request.npc_id, request.capability)
        existing = await self.allocations.get(key, pb.Allocation)
        if existing is not None:
            return pb.AllocateResponse(allocation=existing[0])
        lookup = await self.rt.call("capability_registry.lookup", registry_pb.LookupRequest(capability=request.capability))
        used: dict[str, int] = {}
        for allocation in await self._all():
            used[allocation.provider_id] = used.get(allocation.provider_id, 0) + 1
        chosen = pick(list(lookup.providers), used)
        if chosen is None:
            reason = "no provider offers" if not lookup.providers else "every provider is full for"
            raise ServiceError("409", f"{reason} capability {request.capability!r}")
        allocation = pb.Allocation(id=key, npc_id=request.npc_id, capability=request.capability, provider_id=chosen.provider_id)
        try:
            await self.allocations.put(key, allocation, revision=0)
        except RevisionConflict:
            stored = await self.allocations.get(key, pb.Allocation)
            if stored is not None:
                allocation = stored[0]
        return pb.AllocateResponse(allocation=allocation)

    @endpoint
    async def release(self, request: pb.ReleaseRequest) -> pb.ReleaseResponse:
        require(allocation_id=request.allocation_id)
        if not request.allocation_id.startswith("a-") or not request.allocation_id[2:].isalnum():
            return pb.ReleaseResponse(released=False)
        return pb.ReleaseResponse(released=await self.allocations.delete(request.allocation_id))

    @endpoint
    async def list(self, request: pb.ListRequest) -> pb.ListResponse:
        allocations = [a for a in await self._all() if not request.provider_id or a.provider_id == request.provider_id]
        return pb.ListResponse(allocations=sorted(allocations, key=lambda a: a.id))
