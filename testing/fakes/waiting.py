"""Waiting for a server that answers in the background (Bolt acks first; proactive sends come later)."""

from __future__ import annotations

import asyncio
from typing import Any, Callable


async def wait_until(condition: Callable[[], Any], timeout: float, so_far: Callable[[], Any]) -> Any:
    """`condition()` once it is truthy; after `timeout` seconds, fail showing `so_far()`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = condition()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out; calls so far: {so_far()}")
        await asyncio.sleep(0.01)
