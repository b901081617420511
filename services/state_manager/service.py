"""state_manager: versioned values in the `state` bucket, with optional compare-and-set."""

from __future__ import annotations

from sdk import Service, conflict, endpoint, require
from sdk.proto import state_manager_pb2 as pb
from sdk.store import Bucket, RevisionConflict, key_for


class StateManager(Service):
    name = "state_manager"
    description = "Versioned key-value state in JetStream"

    async def setup(self) -> None:
        self.state: Bucket = await self.rt.bucket("state")

    @endpoint
    async def get(self, request: pb.GetRequest) -> pb.GetResponse:
        require(key=request.key)
        found = await self.state.get(key_for(request.key), pb.GetResponse)
        if found is None:
            return pb.GetResponse(found=False)
        stored, revision = found
        return pb.GetResponse(found=True, value=stored.value, revision=revision)

    @endpoint
    async def put(self, request: pb.PutRequest) -> pb.PutResponse:
        require(key=request.key)
        expected = request.expected_revision if request.HasField("expected_revision") else None
        try:
            revision = await self.state.put(key_for(request.key), pb.GetResponse(found=True, value=request.value), expected)
        except RevisionConflict:
            raise conflict(f"key {request.key!r} is not at revision {expected}") from None
        return pb.PutResponse(revision=revision)

    @endpoint
    async def delete(self, request: pb.DeleteRequest) -> pb.DeleteResponse:
        require(key=request.key)
        return pb.DeleteResponse(deleted=await self.state.delete(key_for(request.key)))
