"""ai_integration: turns a task and prompt into the provider request for the routed model.

It sends nothing to any provider: the reply is the request it would send, with the model
chosen by ai_router and the cost estimated from model_mgmt's price.
"""

from __future__ import annotations

import json

from sdk import Service, bad_request, endpoint, require
from sdk.proto import ai_integration_pb2 as pb
from sdk.proto import ai_router_pb2 as router_pb
from sdk.proto import model_mgmt_pb2 as models_pb

DEFAULT_OUTPUT_TOKENS = 256


def estimate_cost_micros(input_tokens: int, output_tokens: int, price_per_1k: int) -> int:
    """Price of the tokens, rounded up to a whole micro-unit."""
    return -(-(input_tokens + output_tokens) * price_per_1k // 1000)


class AiIntegration(Service):
    name = "ai_integration"
    description = "Prepares model invocations through ai_router and model_mgmt"

    @endpoint
    async def invoke(self, request: pb.InvokeRequest) -> pb.InvokeResponse:
        require(task=request.task, prompt=request.prompt)
        output_tokens = request.max_output_tokens or DEFAULT_OUTPUT_TOKENS
        if output_tokens < 0:
            raise bad_request("field 'max_output_tokens' must not be negative")
        input_tokens = len(request.prompt.split())
        route = await self.rt.call("ai_router.route", router_pb.RouteRequest(task=request.task, context_tokens=input_tokens + output_tokens))
        body = {"model": route.model_id, "input": request.prompt, "max_output_tokens": output_tokens}
        return pb.InvokeResponse(
            model_id=route.model_id,
            provider=route.provider,
            input_tokens=input_tokens,
            max_output_tokens=output_tokens,
            estimated_cost_micros=estimate_cost_micros(input_tokens, output_tokens, route.price_micros_per_1k_tokens),
            request_json=json.dumps(body, sort_keys=True),
            route_reason=route.reason,
        )

    @endpoint
    async def providers(self, request: pb.ProvidersRequest) -> pb.ProvidersResponse:
        listed = await self.rt.call("model_mgmt.list", models_pb.ListRequest())
        grouped: dict[str, tuple[int, set[str]]] = {}
        for model in listed.models:
            count, tasks = grouped.get(model.provider, (0, set()))
            grouped[model.provider] = (count + 1, tasks | set(model.tasks))
        return pb.ProvidersResponse(
            providers=[pb.Provider(name=name, models=count, tasks=sorted(tasks)) for name, (count, tasks) in sorted(grouped.items())]
        )
