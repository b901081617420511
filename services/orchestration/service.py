"""orchestration: spawning an NPC is allocate body -> first decision -> (quest_giver) quest.

If a later step fails, the body allocated by the first step is released again.
"""

from __future__ import annotations

from sdk import RemoteError, Service, bad_request, conflict, endpoint, require
from sdk.proto import body_broker_pb2 as body_pb
from sdk.proto import npc_behavior_pb2 as npc_pb
from sdk.proto import orchestration_pb2 as pb
from sdk.proto import quest_pb2 as quest_pb

CAPABILITY = {"villager": "humanoid", "guard": "humanoid.armed", "merchant": "humanoid.trader", "quest_giver": "humanoid"}
FRESH_NEEDS = npc_pb.Needs(hunger=0.2, energy=0.9, safety=0.8)


class Orchestration(Service):
    name = "orchestration"
    description = "Spawns NPCs across the fleet"

    @endpoint
    async def spawn_npc(self, request: pb.SpawnNpcRequest) -> pb.SpawnNpcResponse:
        require(npc_id=request.npc_id, archetype=request.archetype, region=request.region)
        capability = CAPABILITY.get(request.archetype)
        if capability is None:
            raise bad_request(f"field 'archetype' must be one of {', '.join(sorted(CAPABILITY))}")
        allocated = await self.rt.call("body_broker.allocate", body_pb.AllocateRequest(npc_id=request.npc_id, capability=capability))
        allocation = allocated.allocation
        try:
            decided = await self.rt.call(
                "npc_behavior.decide", npc_pb.DecideRequest(npc_id=request.npc_id, region=request.region, needs=FRESH_NEEDS)
            )
            quest_id = ""
            if request.archetype == "quest_giver":
                created = await self.rt.call(
                    "quest.create",
                    quest_pb.CreateRequest(
                        player_id=request.npc_id,
                        title=f"Errand for {request.npc_id}",
                        region=request.region,
                        steps=[f"Meet {request.npc_id}", "Fetch the parcel", f"Return to {request.npc_id}"],
                    ),
                )
                quest_id = created.quest.id
        except RemoteError as error:
            if error.subject == "quest.create" and error.code == "409":
                raise conflict(f"npc {request.npc_id!r} already has its quest; it was spawned before") from None
            await self._roll_back(allocation, request.npc_id)
            raise
        except Exception:
            await self._roll_back(allocation, request.npc_id)
            raise
        return pb.SpawnNpcResponse(
            npc_id=request.npc_id,
            allocation_id=allocation.id,
            provider_id=allocation.provider_id,
            first_action=decided.decision.action,
            quest_id=quest_id,
        )

    async def _roll_back(self, allocation: body_pb.Allocation, npc_id: str) -> None:
        await self.rt.call("body_broker.release", body_pb.ReleaseRequest(allocation_id=allocation.id))
        self.log.warning("spawn_rolled_back", f"released {allocation.id} after a failed spawn", npc_id=npc_id)
