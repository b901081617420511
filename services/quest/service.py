"""quest: quests stored through state_manager; completing one records it in world_state."""

from __future__ import annotations

import hashlib

from sdk import Service, ServiceError, conflict, endpoint, not_found, require, RemoteError
from sdk.proto import quest_pb2 as pb
from sdk.proto import state_manager_pb2 as state_pb
from sdk.proto import world_state_pb2 as world_pb

MAX_STEPS = 50


def quest_id(player_id: str, title: str) -> str:
    return "q-" + hashlib.sha256(f"{player_id}\n{title}".encode()).hexdigest()[:12]


def advanced(quest: pb.QuestRecord) -> pb.QuestRecord:
    if quest.completed:
        raise conflict(f"quest {quest.id} is already completed")
    after = pb.QuestRecord()
    after.CopyFrom(quest)
    after.current_step += 1
    after.completed = after.current_step >= len(after.steps)
    return after


class Quest(Service):
    name = "quest"
    description = "Quests and their progress"

    async def _load(self, quest_id_: str) -> tuple[pb.QuestRecord, int]:
        stored = await self.rt.call("state_manager.get", state_pb.GetRequest(key=f"quest.{quest_id_}"))
        if not stored.found:
            raise not_found(f"no quest {quest_id_!r}")
        return pb.QuestRecord.FromString(stored.value), stored.revision

    async def _store(self, quest: pb.QuestRecord, revision: int) -> None:
        put = state_pb.PutRequest(key=f"quest.{quest.id}", value=quest.SerializeToString(), expected_revision=revision)
        try:
            await self.rt.call("state_manager.put", put)
        except RemoteError as error:
            if error.code == "409":
                raise conflict(f"quest {quest.id} changed concurrently") from None
            raise

    @endpoint
    async def create(self, request: pb.CreateRequest) -> pb.CreateResponse:
        require(player_id=request.player_id, title=request.title, region=request.region, steps=list(request.steps))
        if len(request.steps) > MAX_STEPS:
            raise ServiceError("400", f"field 'steps' holds at most {MAX_STEPS} steps")
        quest = pb.QuestRecord(
            id=quest_id(request.player_id, request.title),
            player_id=request.player_id,
            title=request.title,
            region=request.region,
            steps=request.steps,
        )
        try:
            await self._store(quest, revision=0)
        except ServiceError:
            raise conflict(f"player {request.player_id!r} already has quest {request.title!r} ({quest.id})") from None
        return pb.CreateResponse(quest=quest)

    @endpoint
    async def advance(self, request: pb.AdvanceRequest) -> pb.AdvanceResponse:
        require(quest_id=request.quest_id)
        quest, revision = await self._load(request.quest_id)
        after = advanced(quest)
        await self._store(after, revision)
        if after.completed:
            update = world_pb.UpdateRequest(region=after.region, set_facts={f"quest.{after.id}": f"completed by {after.player_id}"})
            await self.rt.call("world_state.update", update)
        return pb.AdvanceResponse(quest=after)

    @endpoint
    async def get(self, request: pb.GetRequest) -> pb.GetResponse:
        require(quest_id=request.quest_id)
        quest, _ = await self._load(request.quest_id)
        return pb.GetResponse(quest=quest)
