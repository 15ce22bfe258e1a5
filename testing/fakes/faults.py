"""Faults a fake service plays on the bot's next requests to one place (a Slack method, a DM, a Teams chat):
an HTTP status (429 comes with Retry-After), or no answer at all, either before the service has acted on the
request or after."""

from __future__ import annotations

import asyncio

HANG = "hang"  # the request never reaches the service: nothing is done, and no answer comes
TAKEN_THEN_HANG = "taken_then_hang"  # the service acts on it (the message is posted), but its answer never comes

Answer = int | str


class Faults:
    def __init__(self) -> None:
        self._queued: dict[str, list[tuple[Answer, int]]] = {}
        self.hung: list[str] = []  # where each request left without an answer was going
        self._released = asyncio.Event()

    def add(self, where: str, answers: tuple[Answer, ...], retry_after: int) -> None:
        for answer in answers:
            if not (isinstance(answer, int) or answer in (HANG, TAKEN_THEN_HANG)):
                raise ValueError(f"not a fault: {answer!r}")
        self._queued.setdefault(where, []).extend((a, retry_after) for a in answers)

    def take(self, *places: str | None) -> tuple[Answer, int] | None:
        """The fault due for a request to the first of `places` that has one queued, or None."""
        for where in places:
            if where is not None and self._queued.get(where):
                return self._queued[where].pop(0)
        return None

    async def hang(self, where: str) -> None:
        """Hold the request until `release` (or until the bot gives up and drops the connection)."""
        self.hung.append(where)
        await self._released.wait()

    def release(self) -> None:
        """Let every held request go, so the fake can stop."""
        self._released.set()
