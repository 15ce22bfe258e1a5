"""Calls to the Bot Framework connector: a time limit on each, retried when Teams says to, and a refusal for good
told apart from a passing one. The delivery of the outbox in the background is bot/channels/outbox.py's."""

from __future__ import annotations

import asyncio
import logging
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
        return float(exc.headers.get("Retry-After", "") if exc.headers is not None else "")
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
                raise  # a long Retry-After is honoured by resting the recipient (the outbox)
        except (asyncio.TimeoutError, aiohttp.ClientConnectionError):
            if attempt == SEND_ATTEMPTS:
                raise
            wait = 0.5 * 2 ** (attempt - 1)
        await asyncio.sleep(wait)
    raise AssertionError("unreachable")
