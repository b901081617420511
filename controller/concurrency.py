"""Run coroutines side by side without losing or leaking errors."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
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


async def gather_limited(limit: int, fn: Callable[[Any], Awaitable[Any]], items: Iterable[Any]) -> list[Any]:
    """`gather(fn(item) for item in items)` with at most `limit` of them running at once, in
    order. A read of 5,000 services is 500 requests: started together, each would take its
    rate-limit token at once (a List page issued later waits behind all of them) and every
    answer would be in memory at the same moment."""
    semaphore = asyncio.Semaphore(limit)

    async def one(item: Any) -> Any:
        async with semaphore:
            return await fn(item)

    return await gather(*(one(item) for item in items))
