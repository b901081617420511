"""capability_registry: providers per capability in the `capabilities` bucket (one key per pair)."""

from __future__ import annotations

from sdk import Service, bad_request, endpoint, require
from sdk.proto import capability_registry_pb2 as pb
from sdk.store import Bucket, key_for


class CapabilityRegistry(Service):
    name = "capability_registry"
    description = "Which providers offer which capabilities"

    async def setup(self) -> None:
        self.entries: Bucket = await self.rt.bucket("capabilities")

    @endpoint
    async def register(self, request: pb.RegisterRequest) -> pb.RegisterResponse:
        require(provider_id=request.provider_id, subject=request.subject, capabilities=list(request.capabilities))
        if request.capacity < 0:
            raise bad_request("field 'capacity' must not be negative")
        entry = pb.ProviderEntry(provider_id=request.provider_id, subject=request.subject, capacity=request.capacity or 1)
        capabilities = sorted(set(request.capabilities))
        for capability in capabilities:
            await self.entries.put(f"{key_for(capability)}.{key_for(request.provider_id)}", entry)
        return pb.RegisterResponse(capabilities=capabilities)

    @endpoint
    async def lookup(self, request: pb.LookupRequest) -> pb.LookupResponse:
        require(capability=request.capability)
        prefix = key_for(request.capability) + "."
        providers = []
        for key in await self.entries.keys():
            if key.startswith(prefix) and "." not in key[len(prefix):].removeprefix("b64."):
                found = await self.entries.get(key, pb.ProviderEntry)
                if found is not None:
                    providers.append(found[0])
        return pb.LookupResponse(providers=sorted(providers, key=lambda entry: entry.provider_id))
