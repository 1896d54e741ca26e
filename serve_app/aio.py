"""`within(awaitable, seconds)`: a timeout without asyncio.wait_for.

Python 3.11's wait_for can swallow a cancellation that races the inner task and then wait for
it forever (seen here as a hung shutdown). asyncio.wait never cancels on our behalf: on timeout
we cancel the inner task and raise TimeoutError; the caller's own cancellation stays intact.
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        raise asyncio.TimeoutError(f"no answer within {seconds} s")
    return task.result()
