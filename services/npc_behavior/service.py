"""npc_behavior: chooses an NPC's action from its needs, the game hour and the region's danger.

The last decision per NPC is kept in memory by the replica that made it.
"""

from __future__ import annotations

from sdk import Service, endpoint, not_found, require
from sdk.proto import npc_behavior_pb2 as pb
from sdk.proto import time_manager_pb2 as time_pb
from sdk.proto import world_state_pb2 as world_pb

from services.npc_behavior.utility import best, scores


class NpcBehavior(Service):
    name = "npc_behavior"
    description = "NPC action choice"

    async def setup(self) -> None:
        self.decisions: dict[str, pb.Decision] = {}

    @endpoint
    async def decide(self, request: pb.DecideRequest) -> pb.DecideResponse:
        require(npc_id=request.npc_id, region=request.region)
        now = await self.rt.call("time_manager.now", time_pb.NowRequest())
        world = await self.rt.call("world_state.get", world_pb.GetRequest(region=request.region))
        needs = request.needs
        action_scores = scores(needs.hunger, needs.energy, needs.safety, now.clock.hour, world.region.danger)
        action, score = best(action_scores)
        decision = pb.Decision(
            npc_id=request.npc_id, action=action, score=score, scores=action_scores, hour=now.clock.hour, danger=world.region.danger
        )
        self.decisions[request.npc_id] = decision
        return pb.DecideResponse(decision=decision)

    @endpoint
    async def get(self, request: pb.GetRequest) -> pb.GetResponse:
        require(npc_id=request.npc_id)
        decision = self.decisions.get(request.npc_id)
        if decision is None:
            raise not_found(f"no decision for npc {request.npc_id!r} on this replica")
        return pb.GetResponse(decision=decision)
