"""The one delivery loop (bot/channels/outbox.py) on its own, with a fake sender on a real store: what each
outcome does to a notification, coalesced rounds, per-call time limits, resting, and what a person is owed."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import pytest

from bot.channels import outbox as outbox_module
from bot.channels.base import ChannelState
from bot.channels.outbox import Outbox, Outcome
from bot.core.models import Notification, Reply, Turn
from bot.store import SQLiteStore, Store

PLATFORM = "fake"
ANNA, BEN = f"{PLATFORM}:ANNA", f"{PLATFORM}:BEN"


class FakeSender:
    """Records what it was asked to send; `script[recipient]` lists the outcomes (or waits, in seconds) to give
    that recipient's next sends, then everything goes."""

    platform = PLATFORM
    reachable_only = False
    sending_at_once = 4
    rests_after_failure = False
    send_timeout_seconds = 5.0

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # (recipient, first reply's text), in the order sent
        self.tried: list[str] = []
        self.script: dict[str, list[Outcome | float]] = {}
        self.gate: asyncio.Event | None = None  # when set up, every send waits for it
        self.hold: dict[str, asyncio.Event] = {}  # recipient -> what their sends wait for

    async def send(self, note: Notification) -> Outcome:
        self.tried.append(note.replies[0].text)
        if self.gate is not None:
            await self.gate.wait()
        if note.recipient in self.hold:
            await self.hold[note.recipient].wait()
        planned = self.script.get(note.recipient) or []
        step = planned.pop(0) if planned else Outcome.sent()
        if isinstance(step, float):
            await asyncio.sleep(step)
            step = Outcome.sent()
        if step.kind == "sent":
            self.sent.append((note.recipient, note.replies[0].text))
        return step


class FakeAudience:
    def __init__(self) -> None:
        self.gone: set[str] = set()  # recipients no longer listed for the case
        self.told: list[tuple[str, str]] = []  # (text of the note not delivered, why)

    async def still_for_recipient(self, note: Notification) -> bool:
        return note.recipient not in self.gone

    async def tell_others_undelivered(self, note: Notification, reason: str) -> None:
        self.told.append((note.replies[0].text, reason))

    async def as_sent_now(self, note: Notification) -> Notification:
        return note


class SpyState(ChannelState):
    def __init__(self, store: Store):
        super().__init__(store, PLATFORM)
        self.unreachable_users: list[tuple[str, str]] = []

    async def unreachable(self, school_id: str, user: str, reason: str) -> None:
        self.unreachable_users.append((user, reason))
        await super().unreachable(school_id, user, reason)


class Harness:
    def __init__(self, store: Store):
        self.store = store
        self.sender = FakeSender()
        self.audience = FakeAudience()
        self.state = SpyState(store)
        self.now = time.monotonic()
        self.outbox = Outbox(store, self.sender, self.audience, self.state, lambda: 60.0, clock=lambda: self.now)
        self.claims = 0
        self.releases = 0
        claim, release = store.claim_notifications, store.release_notification

        async def counted(*args, **kwargs):
            self.claims += 1
            return await claim(*args, **kwargs)

        async def counted_release(*args, **kwargs):
            self.releases += 1
            return await release(*args, **kwargs)

        store.claim_notifications = counted  # type: ignore[method-assign]
        store.release_notification = counted_release  # type: ignore[method-assign]

    async def queue(self, recipient: str, *texts: str, **fields) -> list[Notification]:
        notes = [Notification(recipient=recipient, replies=[Reply(key="test.note", text=t)], **fields) for t in texts]
        await self.store.queue_notifications(notes)
        return notes

    async def waiting(self) -> list[str]:
        return [n.replies[0].text for n in await self.store.pending_notifications(PLATFORM)]

    async def claimable(self) -> list[str]:
        """What a claim now would take (it leases them: for the end of a test only)."""
        return [n.replies[0].text for n in await self.store.claim_notifications(PLATFORM)]


@pytest.fixture
async def loop(store) -> Harness:
    harness = Harness(store)
    yield harness
    await harness.outbox.stop()


def sent_to(loop: Harness, recipient: str) -> list[str]:
    return [text for r, text in loop.sender.sent if r == recipient]


async def test_each_recipients_notifications_go_once_in_order_and_are_marked_delivered(loop):
    await loop.queue(ANNA, "a1", "a2", "a3")
    await loop.queue(BEN, "b1", "b2")
    await loop.outbox.deliver()
    assert sent_to(loop, ANNA) == ["a1", "a2", "a3"] and sent_to(loop, BEN) == ["b1", "b2"]
    assert await loop.waiting() == []
    await loop.outbox.deliver()
    assert len(loop.sender.sent) == 5  # nothing twice


async def test_a_backlog_larger_than_one_claim_drains_in_one_delivery_each_recipient_in_order(loop):
    """Claims that come back full are followed by another at once: nothing waits for the next periodic round."""
    await loop.queue(ANNA, *[f"a{n}" for n in range(180)])
    await loop.queue(BEN, *[f"b{n}" for n in range(180)])
    for n in range(20):
        await loop.queue(f"{PLATFORM}:OTHER{n}", f"o{n}")
    await loop.outbox.deliver()
    assert await loop.waiting() == []
    assert sent_to(loop, ANNA) == [f"a{n}" for n in range(180)] and sent_to(loop, BEN) == [f"b{n}" for n in range(180)]
    assert len(loop.sender.sent) == 380  # each once
    assert loop.releases == 0  # a recipient still being sent to is left out of a claim, not claimed and given back


async def test_a_turn_makes_way_for_delivery_that_has_fallen_behind_and_never_waits_when_it_keeps_up(loop):
    """A server flat out must not answer chat after chat while a DSL's cards queue: while someone has
    BEHIND_NOTES or more still to send, a turn about to run waits for them to catch up (at most a second)."""
    await loop.outbox.make_way()  # nothing to send: no wait, nothing asked of the store
    assert loop.claims == 0
    loop.sender.hold[ANNA] = asyncio.Event()
    await loop.queue(ANNA, *[f"a{n}" for n in range(outbox_module.BEHIND_NOTES + 5)])
    loop.outbox.wake()
    await wait_until(lambda: loop.sender.tried[:1] == ["a0"])  # her first card is on its way, the rest wait
    turn = asyncio.create_task(loop.outbox.make_way())
    await asyncio.sleep(0.05)
    assert not turn.done()  # the turn waits while she has many still to go
    loop.sender.hold[ANNA].set()
    await asyncio.wait_for(turn, 2.0)
    assert len(sent_to(loop, ANNA)) >= 6  # it went on once fewer than BEHIND_NOTES were left
    await loop.outbox.deliver()
    assert sent_to(loop, ANNA) == [f"a{n}" for n in range(outbox_module.BEHIND_NOTES + 5)]


async def test_a_turn_waits_for_delivery_no_longer_than_make_way_seconds(loop, monkeypatch):
    monkeypatch.setattr(outbox_module, "MAKE_WAY_SECONDS", 0.2)
    loop.sender.hold[ANNA] = asyncio.Event()  # her chat hangs
    await loop.queue(ANNA, *[f"a{n}" for n in range(outbox_module.BEHIND_NOTES)])
    loop.outbox.wake()
    await wait_until(lambda: loop.sender.tried[:1] == ["a0"])
    started = time.monotonic()
    await loop.outbox.make_way()
    assert 0.15 < time.monotonic() - started < 1.0  # it gave up waiting and the turn runs
    loop.sender.hold[ANNA].set()


async def test_a_recipient_whose_chat_hangs_holds_up_nobody_else_and_their_later_notes_follow_in_order(loop):
    loop.sender.hold[ANNA] = asyncio.Event()
    await loop.queue(ANNA, "a1")
    await loop.queue(BEN, "b1")
    first = asyncio.create_task(loop.outbox.deliver())
    await wait_until(lambda: sent_to(loop, BEN) == ["b1"])  # Ben's went while Anna's hangs
    await loop.queue(ANNA, "a2")
    await loop.queue(BEN, "b2")
    loop.outbox.wake()  # as the turn that queued them asks
    await wait_until(lambda: sent_to(loop, BEN) == ["b1", "b2"])
    assert sent_to(loop, ANNA) == [] and loop.releases == 0
    loop.sender.hold[ANNA].set()
    await first
    await wait_until(lambda: sent_to(loop, ANNA) == ["a1", "a2"])  # her task's end asked for her later one
    assert await loop.waiting() == []


async def test_a_delivery_a_turn_asks_for_looks_at_the_outbox_only_when_something_may_wait_for_its_platform(loop):
    # On SQLite one process makes every write, so it knows; on PostgreSQL others write too, and it always looks.
    knows = isinstance(loop.store, SQLiteStore)
    await loop.queue(ANNA, "a1")
    await loop.outbox.deliver()
    assert sent_to(loop, ANNA) == ["a1"]

    def looked(since: int) -> int:
        return loop.claims - since

    claims = loop.claims
    await loop.outbox.deliver()  # a turn that queued nothing
    await loop.store.queue_notifications([Notification(recipient="other:CARL", replies=[Reply(key="t", text="c")])])
    await loop.outbox.deliver()  # something for another platform's people
    assert looked(claims) == (0 if knows else 2)

    claims = loop.claims
    await loop.queue(BEN, "b1")
    await loop.outbox.deliver()
    assert sent_to(loop, BEN) == ["b1"] and looked(claims) >= 1

    loop.sender.reachable_only = True  # someone who has not opened the bot: theirs waits until they do
    await loop.queue(f"{PLATFORM}:DANA", "d1")
    await loop.outbox.deliver()
    claims = loop.claims
    await loop.outbox.deliver()
    assert looked(claims) == (0 if knows else 1)
    await loop.state.remember("default", f"{PLATFORM}:DANA", {"conversation": {"id": "D"}})  # they open it
    await loop.outbox.deliver()
    assert sent_to(loop, f"{PLATFORM}:DANA") == ["d1"]

    claims = loop.claims
    loop.outbox.wake(look=True)  # the round by the clock
    await loop.outbox.settled()
    assert looked(claims) == 1


async def test_concurrent_calls_share_rounds_and_each_sees_what_was_queued_before_it(loop):
    loop.sender.gate = asyncio.Event()
    await loop.queue(ANNA, "first")
    first = asyncio.create_task(loop.outbox.deliver())
    await asyncio.sleep(0.05)  # its round has claimed "first", whose send now waits
    await loop.queue(BEN, "second")
    later = [asyncio.create_task(loop.outbox.deliver()) for _ in range(20)]
    await asyncio.sleep(0.05)
    loop.sender.gate.set()
    await asyncio.gather(first, *later)
    assert sorted(loop.sender.sent) == [(ANNA, "first"), (BEN, "second")]
    # 21 calls: the round under way and one more after it (not one each), and at most one as each of the two
    # recipients' sends ends (for anything of theirs the later claim left out while they were being sent to)
    assert loop.claims <= 4


async def test_a_passing_failure_releases_the_notification_and_the_others_still_go(loop):
    loop.sender.script[ANNA] = [Outcome.retry()]
    await loop.queue(ANNA, "a1", "a2")
    await loop.queue(BEN, "b1")
    await loop.outbox.deliver()
    assert sent_to(loop, ANNA) == ["a2"] and sent_to(loop, BEN) == ["b1"]
    assert await loop.waiting() == ["a1"]
    await loop.outbox.deliver()  # released, not left leased: offered again at once
    assert sent_to(loop, ANNA) == ["a2", "a1"] and await loop.waiting() == []


async def test_a_sender_that_rests_holds_back_the_recipients_later_notes_until_the_rest_is_over(loop):
    loop.sender.rests_after_failure = True
    loop.sender.script[ANNA] = [Outcome.retry(retry_after=30.0)]
    await loop.queue(ANNA, "a1", "a2")
    await loop.queue(BEN, "b1")
    await loop.outbox.deliver()
    assert sent_to(loop, ANNA) == [] and sent_to(loop, BEN) == ["b1"]
    assert await loop.waiting() == ["a1", "a2"]
    loop.now += 20  # past the loop's own first rest, within the 30 s the platform asked for
    await loop.outbox.deliver()
    assert sent_to(loop, ANNA) == []
    loop.now += 11
    await loop.outbox.deliver()
    assert sent_to(loop, ANNA) == ["a1", "a2"] and await loop.waiting() == []


async def test_a_refusal_for_good_fails_that_one_says_why_to_the_others_and_the_rest_go(loop):
    loop.sender.script[ANNA] = [Outcome.refused("too_big")]
    await loop.queue(ANNA, "huge", "small")
    await loop.outbox.deliver()
    assert sent_to(loop, ANNA) == ["small"]
    assert loop.audience.told == [("huge", "too_big")]
    assert loop.state.unreachable_users == []  # one message refused, not the chat
    assert await loop.waiting() == [] and await loop.claimable() == []  # failed: never offered again


async def test_a_refused_chat_makes_the_person_unreachable_and_their_other_notes_wait(loop):
    loop.sender.reachable_only = True  # a platform that can write only into a chat the person opened
    for person in (ANNA, BEN):
        await loop.state.remember("default", person, {"conversation": {"id": person}})
    loop.sender.script[ANNA] = [Outcome.refused("blocked", chat_refused=True)]
    await loop.queue(ANNA, "a1", "a2")
    await loop.queue(BEN, "b1")
    await loop.outbox.deliver()
    assert sent_to(loop, ANNA) == [] and sent_to(loop, BEN) == ["b1"]
    assert loop.state.unreachable_users == [(ANNA, "blocked")] and loop.audience.told == [("a1", "blocked")]
    assert await loop.waiting() == ["a2"]  # unpushed: it goes when they can be reached again
    assert await loop.store.claim_notifications(PLATFORM, reachable_only=True) == []
    await loop.state.remember("default", ANNA, {"conversation": {"id": "a new chat"}})  # they opened the bot again
    await loop.outbox.deliver()
    assert sent_to(loop, ANNA) == ["a2"]


async def test_a_send_that_takes_too_long_is_cut_off_and_offered_again(loop):
    loop.sender.send_timeout_seconds = 0.2
    loop.sender.script[ANNA] = [30.0]  # a platform that never answers
    await loop.queue(ANNA, "a1")
    await loop.queue(BEN, "b1")
    started = time.monotonic()
    await loop.outbox.deliver()
    assert time.monotonic() - started < 5
    assert sent_to(loop, ANNA) == [] and sent_to(loop, BEN) == ["b1"]
    await loop.outbox.deliver()
    assert sent_to(loop, ANNA) == ["a1"] and await loop.waiting() == []


async def test_a_notification_no_longer_for_its_recipient_is_dropped_unsent(loop):
    loop.audience.gone.add(ANNA)
    await loop.queue(ANNA, "card")
    await loop.outbox.deliver()
    assert loop.sender.tried == [] and await loop.waiting() == []


@pytest.mark.parametrize("release", [True, False])
async def test_one_that_cannot_go_yet_is_not_a_failure_and_waits(loop, release):
    loop.sender.script[ANNA] = [Outcome.later(release=release)]
    await loop.queue(ANNA, "a1")
    await loop.outbox.deliver()
    assert sent_to(loop, ANNA) == [] and loop.audience.told == []
    assert await loop.waiting() == ["a1"]
    assert await loop.claimable() == (["a1"] if release else [])  # else only once its lease is over


async def test_what_a_person_is_owed_goes_before_their_next_turn_which_is_marked_unseen(loop):
    question = Reply(key="test.ask", text="Which one?", asks="q1")
    await loop.outbox.owe("default", ANNA, [question])
    turn = Turn(platform=PLATFORM, user_id="ANNA", conversation_id="D1", text="hello?")
    ben = await loop.outbox.before_turn(turn.model_copy(update={"user_id": "BEN"}))
    assert not ben.question_unseen and loop.sender.sent == []  # not Ben's
    after = await loop.outbox.before_turn(turn)
    assert after.question_unseen and loop.sender.sent == [(ANNA, "Which one?")]
    again = await loop.outbox.before_turn(turn)
    assert not again.question_unseen  # for that one turn only


async def test_a_turn_that_shows_what_waited_holds_every_round_off(loop):
    await loop.queue(ANNA, "a1")
    async with loop.outbox.holding():
        delivering = asyncio.create_task(loop.outbox.deliver())
        await asyncio.sleep(0.1)
        assert loop.sender.tried == [] and loop.claims == 0
    await delivering
    assert sent_to(loop, ANNA) == ["a1"]


async def test_the_loop_runs_by_itself_once_started_and_stops(loop):
    loop.outbox.start()
    await loop.queue(ANNA, "a1")
    await wait_until(lambda: sent_to(loop, ANNA) == ["a1"])
    await loop.outbox.stop()
    await loop.queue(ANNA, "a2")
    loop.outbox.wake()
    await asyncio.sleep(0.1)
    assert sent_to(loop, ANNA) == ["a1"]


async def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
