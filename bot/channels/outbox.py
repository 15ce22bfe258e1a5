"""One delivery loop for every channel: claim what waits in the outbox, send it, mark it delivered or release it.

A channel supplies only a `Sender`, which puts one notification on its platform and says how that went (`Outcome`).
Everything else is here, the same for every platform:
- a round claims the channel's waiting notifications (leased to this process: another one serving the same
  database does not send them too) and hands each recipient's share, in order, to a task of its own, so one
  recipient whose chat does not answer never holds up anyone else; the sender says how many run at once;
- a claim leaves out the recipients still being sent to (their later notes wait, in order, until their task
  ends, which asks for another round), and while claims come back full the round claims again at once, so a
  backlog drains as fast as the recipients' chats take it rather than one batch per periodic round;
- rounds never overlap and are coalesced: asking for one while one runs asks for one more after it, so any number
  of concurrent callers share a round that read the outbox after they asked;
- a round a turn asks for claims only if the store says something may be waiting for the platform
  (`Store.outbox_may_hold`): most turns queue nothing, and then cost no look at the outbox; a round by the clock,
  or for a recipient whose send has ended, always looks;
- every send has a time limit; a passing failure releases the notification (and, for a sender that rests, the rest
  of that recipient's share, and the recipient rests a while); a refusal for good fails it, saying why, tells the
  case's other handlers, and when the person's whole chat was refused marks them unreachable;
- a reply the platform refused while a person waited is owed to them: it goes before anything they write next, and
  their next message is marked as written without having seen its question (`Turn.question_unseen`);
- delivery comes before new turns when it has fallen behind: while someone has `BEHIND_NOTES` or more still to be
  sent, a turn about to run waits (at most `MAKE_WAY_SECONDS`) for them to catch up (`make_way`). A server flat out
  would otherwise answer chat after chat while a DSL's case cards queue behind every reply; when delivery keeps up,
  as it does unless the server is saturated, a turn never waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Literal, Protocol

from bot.channels.base import ChannelState
from bot.core.models import Notification, Reply, Turn
from bot.core.periodic import Periodic
from bot.store import Store

log = logging.getLogger(__name__)

ROUND_INTERVAL_SECONDS = 2.0  # how often a round runs unasked, for what other processes and the scheduler queued
CLAIM_LIMIT = 100  # notifications to one claim; a full one is followed by another at once
FIRST_REST_SECONDS = 2.0
LONGEST_REST_SECONDS = 300.0
BEHIND_NOTES = 10  # a recipient with this many notes still to send: delivery has fallen behind
MAKE_WAY_SECONDS = 1.0  # the longest a turn waits for delivery to catch up (Slack wants an answer within 3 s)


@dataclass(frozen=True)
class Outcome:
    """How sending one notification went. Use the constructors below."""

    kind: Literal["sent", "later", "retry", "refused"]
    release: bool = True  # later: offered again at the next round (else only once its lease ends)
    retry_after: float | None = None  # retry: how long the platform asked to be left alone
    reason: str = ""  # refused: a word saying why (blocked, conversation_gone, too_big)
    chat_refused: bool = False  # refused: the person's whole chat refused, not just this message

    @classmethod
    def sent(cls) -> Outcome:
        return cls("sent")

    @classmethod
    def later(cls, release: bool = True) -> Outcome:
        """It cannot go now (the person cannot be reached yet, or the workspace has no token): not a failure."""
        return cls("later", release=release)

    @classmethod
    def retry(cls, retry_after: float | None = None) -> Outcome:
        """A passing failure: try again later."""
        return cls("retry", retry_after=retry_after)

    @classmethod
    def refused(cls, reason: str, chat_refused: bool = False) -> Outcome:
        """The platform will never take it."""
        return cls("refused", reason=reason, chat_refused=chat_refused)


class Sender(Protocol):
    """What a channel supplies: one notification onto its platform, and a few facts about how to send."""

    platform: str
    reachable_only: bool  # only people who have opened a chat with the bot can be sent to
    sending_at_once: int  # recipients sent to in parallel
    rests_after_failure: bool  # a passing failure holds back the recipient's later notifications, and they rest
    send_timeout_seconds: float  # the longest one `send` may take, its own retries included

    async def send(self, note: Notification) -> Outcome: ...


class Audience(Protocol):
    """Who a notification may still go to, and telling the others when it never can (bot/cases/service.py)."""

    async def still_for_recipient(self, note: Notification) -> bool: ...

    async def as_sent_now(self, note: Notification) -> Notification:
        """The note as it should go now: a case card rendered again from the case as it is now."""
        ...

    async def tell_others_undelivered(self, note: Notification, reason: str) -> None: ...


@dataclass
class _Owed:
    school_id: str
    recipient: str
    asks: bool  # it carries a question the person has not seen


class Outbox:
    def __init__(self, store: Store, sender: Sender, audience: Audience, state: ChannelState,
                 lease_seconds: Callable[[], float], clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.sender = sender
        self.audience = audience
        self.state = state
        self.lease_seconds = lease_seconds  # asked at each claim (OSB_DELIVERY_LEASE_SECONDS)
        self.clock = clock
        self._claiming = asyncio.Lock()  # claims one at a time; a turn that shows what waited holds it too
        self._round: asyncio.Task[None] | None = None
        self._again = False
        self._look = False  # the next round claims even if the store says nothing new was queued
        self._tasks: dict[str, asyncio.Task[None]] = {}  # recipient -> the task sending to them
        self._slots = asyncio.Semaphore(max(1, sender.sending_at_once))
        self._rests: dict[str, tuple[float, int]] = {}  # recipient -> (resting until, failures in a row)
        self._owed: dict[str, _Owed] = {}  # notification id -> a refused reply owed to someone
        self._held_back: set[str] = set()  # recipients whose share a round gave back while they were being sent to
        self._left: dict[str, int] = {}  # recipient -> how many of their claimed notes are still to be sent
        self._caught_up = asyncio.Event()  # set while nobody has BEHIND_NOTES or more still to be sent
        self._caught_up.set()
        self._stopped = False
        self._loop = Periodic(f"{sender.platform} delivery", ROUND_INTERVAL_SECONDS, self._wake_periodically)

    # --- running -------------------------------------------------------------------------

    def start(self) -> None:
        self._stopped = False
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        self._stopped = True
        running = [t for t in (self._round, *self._tasks.values()) if t is not None]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def wake(self, look: bool = False) -> None:
        """Ask for a round soon, without waiting for it; with `look`, one that claims whatever the store says."""
        if self._stopped:
            return
        self._look = self._look or look
        if self._round is None or self._round.done():
            self._round = asyncio.create_task(self._rounds(), name=f"{self.sender.platform} delivery round")
        else:
            self._again = True

    async def deliver(self) -> None:
        """Send what waits now, and wait until every send has finished."""
        self.wake()
        await self.settled()

    async def settled(self) -> None:
        """Wait until no round and no send is under way."""
        while True:
            pending = [t for t in (self._round, *self._tasks.values()) if t is not None and not t.done()]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    @asynccontextmanager
    async def holding(self) -> AsyncIterator[None]:
        """No round claims anything meanwhile: for a turn that shows the person what waited for them."""
        async with self._claiming:
            yield

    async def _wake_periodically(self) -> None:
        self.wake(look=True)

    # --- what a person is owed ------------------------------------------------------------

    async def owe(self, school_id: str, recipient: str, replies: list[Reply]) -> None:
        """Replies the platform refused while `recipient` waited for them: kept in the outbox, to go first."""
        note = Notification(school_id=school_id, recipient=recipient, replies=replies)
        await self.store.queue_notifications([note])
        self._owed[note.id] = _Owed(school_id, recipient, any(r.choices or r.asks for r in replies))

    async def before_turn(self, turn: Turn) -> Turn:
        """What is owed to the person writing goes before their turn runs; if it asked a question, they wrote
        without having seen it, so the turn says so (for this turn only, however it was delivered). And if
        delivery has fallen behind, the turn makes way for it first."""
        await self.make_way()
        owed = [i for i, o in self._owed.items() if (o.school_id, o.recipient) == (turn.school_id, turn.user)]
        if not owed:
            return turn
        unseen = any([self._owed.pop(i).asks for i in owed])
        await self.deliver()
        return turn.model_copy(update={"question_unseen": unseen})

    async def make_way(self) -> None:
        """Before a turn runs: if delivery has fallen behind, wait until it has caught up, or `MAKE_WAY_SECONDS`."""
        if self._caught_up.is_set():
            return
        try:
            await asyncio.wait_for(self._caught_up.wait(), MAKE_WAY_SECONDS)
        except TimeoutError:
            pass

    def _count_left(self, recipient: str, left: int) -> None:
        if left > 0:
            self._left[recipient] = left
        else:
            self._left.pop(recipient, None)
        if any(n >= BEHIND_NOTES for n in self._left.values()):
            self._caught_up.clear()
        else:
            self._caught_up.set()

    # --- rounds ----------------------------------------------------------------------------

    async def _rounds(self) -> None:
        more = False
        while True:
            self._again = False
            look, self._look = self._look or more, False
            more = False
            try:
                more = await self._claim_and_start(look)
            except Exception as exc:  # logged by type only: a message could carry case content
                log.error("%s delivery round failed: %s", self.sender.platform, type(exc).__name__)
            if not (more or self._again):
                return

    async def _claim_and_start(self, look: bool) -> bool:
        """Claim the waiting notifications, leaving out the recipients being sent to or resting, and start a task
        for each recipient. True when the claim came back full and started someone: claim again at once. Without
        `look`, nothing is claimed unless the store says something may be waiting."""
        sending = set(self._tasks)
        resting = {r for r, (until, _) in self._rests.items() if self.clock() < until}
        rested = len(resting) < len(self._rests)  # someone's rest is over: what they were left with waits
        if not (look or rested or self.store.outbox_may_hold(self.sender.platform)):
            return False
        async with self._claiming:
            notes = await self.store.claim_notifications(
                self.sender.platform, limit=CLAIM_LIMIT, reachable_only=self.sender.reachable_only,
                lease_seconds=self.lease_seconds(), skip=sending | resting)
        # Whatever of theirs was left out is looked for again when their task ends, or at once if it has ended
        # while this claim ran.
        self._held_back |= sending & set(self._tasks)
        if sending - set(self._tasks):
            self._look = self._again = True
        by_recipient: dict[str, list[Notification]] = {}
        for note in notes:
            by_recipient.setdefault(note.recipient, []).append(note)
        started = False
        for recipient, theirs in by_recipient.items():
            if self._busy(recipient):  # only if the claim could not leave them all out
                if recipient in self._tasks:
                    self._held_back.add(recipient)
                await self._release(theirs)
                continue
            self._start(recipient, theirs)
            started = True
        return started and len(notes) >= CLAIM_LIMIT

    def _busy(self, recipient: str) -> bool:
        if recipient in self._tasks:
            return True
        rest = self._rests.get(recipient)
        return rest is not None and self.clock() < rest[0]

    def _start(self, recipient: str, notes: list[Notification]) -> None:
        async def run() -> None:
            async with self._slots:
                try:
                    ok = await self._send_in_turn(notes)
                except Exception as exc:
                    log.error("%s delivery failed: %s", self.sender.platform, type(exc).__name__)
                    ok = False
            if ok:
                self._rests.pop(recipient, None)

        task = asyncio.create_task(run(), name=f"{self.sender.platform} delivery")
        self._tasks[recipient] = task
        self._count_left(recipient, len(notes))

        def done(_: asyncio.Task[None]) -> None:
            if self._tasks.get(recipient) is task:
                del self._tasks[recipient]
                self._count_left(recipient, 0)
            if recipient in self._held_back:  # what arrived for them meanwhile
                self._held_back.discard(recipient)
                self.wake(look=True)

        task.add_done_callback(done)

    async def _send_in_turn(self, notes: list[Notification]) -> bool:
        """One recipient's notifications, in order. False when they should rest."""
        for n, note in enumerate(notes):
            outcome = await self._send_one(note)
            self._count_left(note.recipient, len(notes) - n - 1)
            if outcome.kind == "sent":
                await self._delivered(note)
            elif outcome.kind == "later" and outcome.release:
                await self.store.release_notification(note.id)
            elif outcome.kind == "refused":
                await self._refused(note, outcome)
                if outcome.chat_refused:  # the rest wait, unpushed, until the person writes again
                    await self._release(notes[n + 1:])
                    return True
            elif outcome.kind == "retry":
                if not self.sender.rests_after_failure:
                    await self.store.release_notification(note.id)
                    continue
                await self._release(notes[n:])
                self._rest(note.recipient, outcome.retry_after)
                return False
        return True

    async def _send_one(self, note: Notification) -> Outcome:
        """One notification, unless it is no longer for its recipient (then it is dropped unsent, as if sent)."""
        if not await self.audience.still_for_recipient(note):
            return Outcome.sent()
        try:
            return await asyncio.wait_for(self.sender.send(await self.audience.as_sent_now(note)),
                                          self.sender.send_timeout_seconds)
        except Exception as exc:  # the type only: a message could carry case content
            log.warning("%s delivery failed (%s); it will be retried", self.sender.platform, type(exc).__name__)
            return Outcome.retry()

    async def _delivered(self, note: Notification) -> None:
        await self.store.mark_delivered(note.id)
        self._owed.pop(note.id, None)

    async def _release(self, notes: list[Notification]) -> None:
        for note in notes:
            await self.store.release_notification(note.id)

    async def _refused(self, note: Notification, outcome: Outcome) -> None:
        """The platform will never take this one: it fails, saying why, and the case's other handlers are told. When
        the person's chat is what was refused (blocked, gone), they are unreachable until they next write."""
        log.warning("%s delivery refused for good (%s)", self.sender.platform, outcome.reason)
        await self.store.mark_failed(note.id, outcome.reason)
        if outcome.chat_refused:
            await self.state.unreachable(note.school_id, note.recipient, outcome.reason)
        await self.audience.tell_others_undelivered(note, outcome.reason)
        self.wake()  # the others' messages

    def _rest(self, recipient: str, asked: float | None) -> None:
        """Leave `recipient` for a while, longer after each failure in a row (or as long as the platform asked)."""
        failures = self._rests.get(recipient, (0.0, 0))[1] + 1
        seconds = min(FIRST_REST_SECONDS * 2 ** (failures - 1), LONGEST_REST_SECONDS)
        if asked is not None:
            seconds = min(max(seconds, asked), LONGEST_REST_SECONDS)
        self._rests[recipient] = (self.clock() + seconds, failures)

