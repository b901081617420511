"""In-process access to moto's backends; always re-fetched, since a reset replaces them."""

from __future__ import annotations

from typing import Any

from fleetctl.sandbox.config import ACCOUNT_ID, REGION


def backend(service: str, account_id: str = ACCOUNT_ID, region: str = REGION) -> Any:
    """moto's backend object for ``service`` (e.g. "ecs", "logs") in the sandbox account."""
    from moto.backends import get_backend

    return get_backend(service)[account_id][region]  # type: ignore[call-overload]


def freeze_task_auto_advance() -> None:
    """Stop moto from moving tasks through their lifecycle on each DescribeTasks call.

    Same effect as ``POST /moto-api/state-manager/set-transition`` with a manual
    progression that never completes; the task runner owns task status instead.
    """
    from moto.moto_api import state_manager

    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**12})
