"""world_state: region facts in the `world` bucket; each update is published on event_bus."""

from __future__ import annotations

from sdk import Service, bad_request, endpoint, require, unavailable
from sdk.proto import event_bus_pb2 as events_pb
from sdk.proto import world_state_pb2 as pb
from sdk.store import Bucket, RevisionConflict, key_for


class WorldState(Service):
    name = "world_state"
    description = "Facts about the world's regions"

    async def setup(self) -> None:
        self.regions: Bucket = await self.rt.bucket("world")

    @endpoint
    async def get(self, request: pb.GetRequest) -> pb.GetResponse:
        require(region=request.region)
        found = await self.regions.get(key_for(request.region), pb.Region)
        if found is None:
            return pb.GetResponse(region=pb.Region(name=request.region), found=False)
        region, revision = found
        region.revision = revision
        return pb.GetResponse(region=region, found=True)

    @endpoint
    async def update(self, request: pb.UpdateRequest) -> pb.UpdateResponse:
        require(region=request.region)
        if request.HasField("danger") and not 0 <= request.danger <= 1:
            raise bad_request("field 'danger' must be between 0 and 1")
        key = key_for(request.region)
        for _ in range(5):
            found = await self.regions.get(key, pb.Region)
            region, revision = found if found else (pb.Region(name=request.region), 0)
            for fact in request.remove_facts:
                region.facts.pop(fact, None)
            region.facts.update(request.set_facts)
            if request.HasField("danger"):
                region.danger = request.danger
            region.revision = 0
            try:
                region.revision = await self.regions.put(key, region, revision=revision)
            except RevisionConflict:
                continue
            break
        else:
            raise unavailable(f"region {request.region!r} kept changing concurrently; try again")
        topic = f"world.{key}.updated"
        published = await self.rt.call(
            "event_bus.publish",
            events_pb.PublishRequest(topic=topic, payload=region.SerializeToString(), message_id=f"{key}@{region.revision}"),
        )
        return pb.UpdateResponse(region=region, event_sequence=published.sequence)
