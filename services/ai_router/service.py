"""ai_router: routing rules per task (bucket `ai_rules`); route asks model_mgmt for candidates."""

from __future__ import annotations

from sdk import Service, endpoint, not_found, require, bad_request
from sdk.proto import ai_router_pb2 as pb
from sdk.proto import model_mgmt_pb2 as models_pb
from sdk.store import Bucket

from services.ai_router.routing import choose


class AiRouter(Service):
    name = "ai_router"
    description = "Routes AI tasks to registered models"

    async def setup(self) -> None:
        self.rules: Bucket = await self.rt.bucket("ai_rules")

    @endpoint
    async def route(self, request: pb.RouteRequest) -> pb.RouteResponse:
        require(task=request.task)
        stored = await self.rules.get(_key(request.task), pb.Rule)
        listed = await self.rt.call("model_mgmt.list", models_pb.ListRequest(task=request.task))
        choice = choose(list(listed.models), stored[0] if stored else None, request.context_tokens)
        if choice is None:
            raise not_found(f"no registered model satisfies task {request.task!r}")
        return pb.RouteResponse(
            model_id=choice.model.id,
            provider=choice.model.provider,
            price_micros_per_1k_tokens=choice.model.price_micros_per_1k_tokens,
            reason=choice.reason,
        )

    @endpoint
    async def set_rule(self, request: pb.SetRuleRequest) -> pb.SetRuleResponse:
        rule = request.rule
        require(task=rule.task)
        if rule.max_price_micros_per_1k_tokens < 0 or rule.min_context_window < 0:
            raise bad_request("rule limits must not be negative")
        await self.rules.put(_key(rule.task), rule)
        return pb.SetRuleResponse(rule=rule)


def _key(task: str) -> str:
    return "task." + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in task)
