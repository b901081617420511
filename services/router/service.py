"""router: picks the provider of a capability for a routing key by rendezvous hashing.

The same key keeps its provider while the provider set is unchanged, and adding or
removing a provider moves only the keys that belonged to it.
"""

from __future__ import annotations

import hashlib

from sdk import Service, endpoint, not_found, require
from sdk.proto import capability_registry_pb2 as registry_pb
from sdk.proto import router_pb2 as pb


def weight(routing_key: str, provider_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{routing_key}\n{provider_id}".encode()).digest()[:8], "big")


def rendezvous(routing_key: str, providers: list[registry_pb.ProviderEntry]) -> registry_pb.ProviderEntry:
    return max(providers, key=lambda entry: (weight(routing_key, entry.provider_id), entry.provider_id))


class Router(Service):
    name = "router"
    description = "Resolves a capability to one provider"

    @endpoint
    async def resolve(self, request: pb.ResolveRequest) -> pb.ResolveResponse:
        require(capability=request.capability)
        lookup = await self.rt.call("capability_registry.lookup", registry_pb.LookupRequest(capability=request.capability))
        if not lookup.providers:
            raise not_found(f"no provider offers capability {request.capability!r}")
        chosen = rendezvous(request.routing_key, list(lookup.providers))
        return pb.ResolveResponse(provider_id=chosen.provider_id, subject=chosen.subject, candidates=len(lookup.providers))
