"""Background work inside `serve`: run something now and then every few seconds until stopped."""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs `work` at once (to catch up on whatever fell due while the server was down), then every
    `seconds`. A failure is logged by its type only (its message could carry case content) and the
    loop carries on."""

    def __init__(self, name: str, seconds: float, work: Callable[[], Awaitable[object]]):
        self.name = name
        self.seconds = seconds
        self.work = work
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"periodic:{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True  # also ends the loop if `work` turns the cancellation into an error or swallows it
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.work()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping:  # a driver that reports a cancelled query as its own error (psycopg can)
                    return
                log.error("%s failed: %s", self.name, type(exc).__name__)
            if self._stopping:
                return
            await asyncio.sleep(self.seconds)
