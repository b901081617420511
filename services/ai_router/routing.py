"""Choosing a model for a task under a routing rule; pure."""

from __future__ import annotations

from dataclasses import dataclass

from sdk.proto import ai_router_pb2 as pb
from sdk.proto import model_mgmt_pb2 as models_pb


@dataclass(frozen=True)
class Choice:
    model: models_pb.Model
    reason: str


def choose(models: list[models_pb.Model], rule: pb.Rule | None, context_tokens: int) -> Choice | None:
    """The cheapest model (ties: by id) that does the task and satisfies the rule and context size."""
    candidates = []
    for model in models:
        if context_tokens and model.context_window < context_tokens:
            continue
        if rule is not None:
            if rule.provider and model.provider != rule.provider:
                continue
            if rule.max_price_micros_per_1k_tokens and model.price_micros_per_1k_tokens > rule.max_price_micros_per_1k_tokens:
                continue
            if model.context_window < rule.min_context_window:
                continue
        candidates.append(model)
    if not candidates:
        return None
    best = min(candidates, key=lambda model: (model.price_micros_per_1k_tokens, model.id))
    basis = "rule" if rule is not None else "no rule"
    return Choice(best, f"cheapest of {len(candidates)} eligible model(s) under {basis}")
