"""settings: string settings in the `settings` bucket."""

from __future__ import annotations

from sdk import Service, endpoint, require
from sdk.proto import settings_pb2 as pb
from sdk.store import Bucket, key_for


class GameSettings(Service):
    name = "settings"
    description = "Game settings in JetStream"

    async def setup(self) -> None:
        self.values: Bucket = await self.rt.bucket("settings")

    @endpoint
    async def get(self, request: pb.GetRequest) -> pb.GetResponse:
        require(key=request.key)
        found = await self.values.get(key_for(request.key), pb.SetRequest)
        if found is None:
            return pb.GetResponse(found=False)
        stored, revision = found
        return pb.GetResponse(found=True, value=stored.value, revision=revision)

    @endpoint
    async def set(self, request: pb.SetRequest) -> pb.SetResponse:
        require(key=request.key)
        return pb.SetResponse(revision=await self.values.put(key_for(request.key), request))
