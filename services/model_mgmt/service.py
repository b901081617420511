"""model_mgmt: the registry of models, one entry per model id in the `models` bucket."""

from __future__ import annotations

import re

from sdk import Service, bad_request, endpoint, not_found, require
from sdk.proto import model_mgmt_pb2 as pb
from sdk.store import Bucket

MODEL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check(model: pb.Model) -> None:
    require(id=model.id, provider=model.provider, tasks=list(model.tasks))
    if not MODEL_ID.match(model.id):
        raise bad_request("field 'id' may hold only letters, digits, '-' and '_' (at most 64)")
    if model.context_window <= 0:
        raise bad_request("field 'context_window' must be positive")
    if model.price_micros_per_1k_tokens < 0:
        raise bad_request("field 'price_micros_per_1k_tokens' must not be negative")


class ModelMgmt(Service):
    name = "model_mgmt"
    description = "Registry of models and their providers"

    async def setup(self) -> None:
        self.models: Bucket = await self.rt.bucket("models")

    @endpoint
    async def register(self, request: pb.RegisterRequest) -> pb.RegisterResponse:
        model = request.model
        check(model)
        existed = await self.models.get(model.id, pb.Model) is not None
        model.tasks[:] = sorted(set(model.tasks))
        await self.models.put(model.id, model)
        return pb.RegisterResponse(model=model, created=not existed)

    @endpoint
    async def get(self, request: pb.GetRequest) -> pb.GetResponse:
        require(id=request.id)
        if not MODEL_ID.match(request.id):
            raise bad_request("field 'id' is not a valid model id")
        found = await self.models.get(request.id, pb.Model)
        if found is None:
            raise not_found(f"no model {request.id!r}")
        return pb.GetResponse(model=found[0])

    @endpoint
    async def list(self, request: pb.ListRequest) -> pb.ListResponse:
        models = []
        for key in await self.models.keys():
            found = await self.models.get(key, pb.Model)
            if found is None:
                continue
            model = found[0]
            if request.task and request.task not in model.tasks:
                continue
            if request.provider and request.provider != model.provider:
                continue
            models.append(model)
        return pb.ListResponse(models=models)
