"""Calls to the Bot Framework connector, and delivery of the outbox in the background.

The person who wrote gets their reply on the request path; everything for other people goes through the outbox,
sent by background tasks: one sender per recipient (so their notifications keep their order), several recipients
at once, a time limit on every call, and a recipient whose chat does not answer never holding up anyone else.
A recipient whose sends keep failing rests, for longer each time (or as long as the connector's Retry-After asks).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable, TypeVar

import aiohttp

log = logging.getLogger(__name__)

# The SDK sets no timeout on connector calls (aiohttp's default is 5 minutes) and never retries.
SEND_ATTEMPTS = 3
SEND_TIMEOUT_SECONDS = 10.0
LONGEST_WAIT_SECONDS = 30.0  # a longer Retry-After is left to a later round (the recipient rests that long)
RETRIED_STATUSES = {412, 429, 502, 504}  # Microsoft: retry these (and any other 5xx) with backoff
# What a connector answer means when it will never succeed: the notification fails, saying why.
PERMANENT_STATUSES = {
    403: "blocked",  # the person blocked or removed the bot (ConversationBlockedByUser, BotDisabledByAdmin)
    404: "conversation_gone",  # the chat no longer exists
    413: "too_big",  # the message is over Teams' size limit
}
SENDING_AT_ONCE = 8  # recipients sent to in parallel
FIRST_REST_SECONDS = 2.0
LONGEST_REST_SECONDS = 300.0

T = TypeVar("T")


class Refused(Exception):
    """The connector refused for good (`PERMANENT_STATUSES`): trying again would never work."""

    def __init__(self, status: int):
        super().__init__(PERMANENT_STATUSES[status])
        self.status = status
        self.reason = PERMANENT_STATUSES[status]


def retry_after(exc: BaseException) -> float | None:
    if not isinstance(exc, aiohttp.ClientResponseError):
        return None
    try:
        return float((exc.headers or {}).get("Retry-After", ""))
    except ValueError:
        return None


def retried(status: int) -> bool:
    return status in RETRIED_STATUSES or status >= 500


async def with_retries(call: Callable[[], Awaitable[T]]) -> T:
    """A connector call, with a time limit on each attempt, tried again on 412, 429 (after its Retry-After), 5xx,
    a dropped connection or no answer, with backoff. A permanent refusal raises `Refused`; otherwise the last
    failure is raised."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return await asyncio.wait_for(call(), SEND_TIMEOUT_SECONDS)
        except aiohttp.ClientResponseError as exc:
            if exc.status in PERMANENT_STATUSES:
                raise Refused(exc.status) from None
            wait = retry_after(exc) or 0.5 * 2 ** (attempt - 1)
            if attempt == SEND_ATTEMPTS or not retried(exc.status) or wait > LONGEST_WAIT_SECONDS:
                raise  # a long Retry-After is honoured by resting the recipient (`Senders.rest`)
        except (asyncio.TimeoutError, aiohttp.ClientConnectionError):
            if attempt == SEND_ATTEMPTS:
                raise
            wait = 0.5 * 2 ** (attempt - 1)
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")


class Senders:
    """Background senders, one per recipient at a time. `round` is the work of one delivery round: it claims what
    is waiting and hands each recipient's share to `send`, which returns False when that recipient should rest
    (the rest of their share is then left for later). Nothing here waits for a send to finish but `settled`."""

    def __init__(self, round: Callable[[], Awaitable[None]], clock: Callable[[], float] = time.monotonic):
        self._round_work = round
        self.clock = clock
        self._round: asyncio.Task[None] | None = None
        self._again = False
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(SENDING_AT_ONCE)
        self._rests: dict[str, tuple[float, int]] = {}  # recipient -> (rest until, failures in a row)
        self._stopped = False

    def wake(self) -> None:
        """Ask for a round soon, without waiting for it (rounds never overlap; one asked for meanwhile follows)."""
        if self._stopped:
            return
        if self._round is None or self._round.done():
            self._round = asyncio.create_task(self._rounds(), name="teams delivery round")
        else:
            self._again = True

    async def _rounds(self) -> None:
        while True:
            self._again = False
            try:
                await self._round_work()
            except Exception as exc:  # logged by type only: a message could carry case content
                log.error("teams delivery round failed: %s", type(exc).__name__)
            if not self._again:
                return

    def busy(self, recipient: str) -> bool:
        """Someone is already sending to `recipient`, or they are resting after failures."""
        if recipient in self._tasks:
            return True
        rest = self._rests.get(recipient)
        return rest is not None and self.clock() < rest[0]

    def start(self, recipient: str, send: Callable[[], Awaitable[bool]]) -> None:
        async def run() -> None:
            async with self._slots:
                try:
                    ok = await send()
                except Exception as exc:
                    log.error("teams delivery failed: %s", type(exc).__name__)
                    ok = False
            if ok:
                self._rests.pop(recipient, None)

        task = asyncio.create_task(run(), name="teams delivery")
        self._tasks[recipient] = task

        def done(_: asyncio.Task[None]) -> None:
            if self._tasks.get(recipient) is task:
                del self._tasks[recipient]
            self.wake()  # what arrived for them meanwhile

        task.add_done_callback(done)

    def rest(self, recipient: str, asked: float | None = None) -> None:
        """`recipient`'s send failed for now: leave them for a while, longer after each failure in a row."""
        failures = self._rests.get(recipient, (0.0, 0))[1] + 1
        seconds = min(FIRST_REST_SECONDS * 2 ** (failures - 1), LONGEST_REST_SECONDS)
        if asked is not None:
            seconds = min(max(seconds, asked), LONGEST_REST_SECONDS)
        self._rests[recipient] = (self.clock() + seconds, failures)

    async def settled(self) -> None:
        """Wait until no round and no send is under way (for tests and an orderly stop)."""
        while True:
            pending = [t for t in (self._round, *self._tasks.values()) if t is not None and not t.done()]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    async def stop(self) -> None:
        self._stopped = True
        for task in [self._round, *self._tasks.values()]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*[t for t in (self._round, *self._tasks.values()) if t is not None],
                             return_exceptions=True)
