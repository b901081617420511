"""Run coroutines side by side without losing or leaking errors."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


async def gather(*awaitables: Awaitable[Any]) -> list[Any]:
    """Like asyncio.gather, but the first failure cancels the rest, every outcome is retrieved
    (no "exception was never retrieved" at shutdown) and that first error is raised as is."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
