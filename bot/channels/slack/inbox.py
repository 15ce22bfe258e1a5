"""Slack's input is kept before Slack is acknowledged (redteam §12).

Bolt acknowledges a request (HTTP 200) before its listener has run the turn, and Slack never sends an
acknowledged request again: a process killed in between would lose a typed message or a modal's note for good.
So every signed request is written to the store's inbox first, then dispatched; its row is deleted when the
listener Bolt chose for it has finished (the turn is saved by then), or at once when no listener takes it. A
row left by a process that died is dispatched again once its lease runs out, at start or by the delivery
round; the engine's record of handled turns makes a second run of a turn that had been saved do nothing.

Rows hold what people typed: they are never logged, and live only until processed.
"""

from __future__ import annotations

import functools
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from bot.store import Store, StoreError

log = logging.getLogger(__name__)

PLATFORM = "slack"
LEASE_SECONDS = 60.0  # longer than any turn takes, Web API retries included


@dataclass
class Kept:
    """One request in the inbox, as this process handles it."""

    id: str
    listening: int = 0  # listeners Bolt started for it and not yet finished
    dispatched: bool = False  # Bolt has answered the request
    done: bool = False


# The request being handled: Bolt runs each listener in a task of its own, which starts with a copy of the
# context of the request that made it, so the listener finds the same `Kept` here.
_current: ContextVar[Kept | None] = ContextVar("slack_inbox_current", default=None)


class Inbox:
    def __init__(self, store: Store, lease_seconds: float = LEASE_SECONDS):
        self.store = store
        self.lease_seconds = lease_seconds

    async def keep(self, body: str, content_type: str) -> Kept:
        """Write the request to the inbox (StoreError if it cannot be: then Slack must not be acknowledged)."""
        kept = Kept(await self.store.keep_input(PLATFORM, body, content_type, self.lease_seconds))
        _current.set(kept)
        return kept

    async def matched(self) -> bool:
        """A Bolt matcher, the last of each listener's: called only for the listener that is about to run."""
        kept = _current.get()
        if kept is not None:
            kept.listening += 1
        return True

    def listener(self, handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """`handler` as a Bolt listener whose request leaves the inbox when it has finished, however it ends."""

        @functools.wraps(handler)  # Bolt reads the handler's own parameters through __wrapped__
        async def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return await handler(*args, **kwargs)
            finally:
                kept = _current.get()
                if kept is not None:
                    kept.listening -= 1
                    await self._done_if_finished(kept)

        return run

    async def dispatched(self, kept: Kept) -> None:
        """Bolt has answered the request: if no listener is still at work on it, it is processed."""
        kept.dispatched = True
        await self._done_if_finished(kept)

    async def _done_if_finished(self, kept: Kept) -> None:
        if kept.dispatched and kept.listening <= 0 and not kept.done:
            kept.done = True
            try:
                await self.store.input_done(kept.id)
            except StoreError as exc:  # it stays, and is run again later: the turn's id makes that harmless
                log.warning("slack inbox: a processed input was not deleted (%s)", type(exc).__name__)

    async def replay(self, dispatch: Callable[[str, str], Awaitable[Any]]) -> int:
        """Dispatch again the inputs whose process died before finishing them; how many."""
        claimed = await self.store.claim_inputs(PLATFORM, self.lease_seconds)
        for row in claimed:
            kept = Kept(row.id)
            token = _current.set(kept)
            try:
                await dispatch(row.body, row.content_type)
            except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others
                log.warning("slack inbox: an input could not be processed again (%s)", type(exc).__name__)
            finally:
                _current.reset(token)
                await self.dispatched(kept)
        if claimed:
            log.info("slack inbox: %d input(s) left by a stopped process processed again", len(claimed))
        return len(claimed)
