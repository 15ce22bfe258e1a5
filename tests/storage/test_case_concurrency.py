"""Several case handlers pressing buttons on the same case at the same moment.

Each handler has their own conversation, so the engine's per-conversation lock does not order their presses:
whatever orders them must be per case. Whatever the interleaving, the case ends in one consistent state: it is
acknowledged once and closed once (with one outcome), the reporter is told each thing once, the status is the
one its chronology leads to, every press leaves an event saying who pressed what and when, and the hash chain
holds. Through the engine directly (`asyncio.gather` of turns) and through the real Slack server (simultaneous
signed requests).
"""

from __future__ import annotations

import asyncio

import pytest

from bot.core.models import CaseEvent, CaseStatus
from testing.chat import STANDARD_REPORT, Chat, walk
from testing.slack_harness import submit_modal
from tests.channels.test_slack import DEPUTY as SLACK_DEPUTY
from tests.channels.test_slack import DSL as SLACK_DSL
from tests.channels.test_slack import TEACHER as SLACK_TEACHER
from tests.channels.test_slack import all_text, open_modal, sent_case

# The Slack fixtures, shared with tests/channels/test_slack.py (its `bot` is overridden in TestThroughSlack below).
from tests.channels.test_slack import slack as slack  # noqa: F401
from tests.channels.test_slack import slack_api as slack_api  # noqa: F401

REF = "OSB-2026-0001"
DSL, DEPUTY, HEAD = "console:dsl", "console:deputy", "console:head"
# An allegation about another member of staff: the DSL, the deputy and the headteacher (case manager) get it.
ALLEGATION = [STANDARD_REPORT[0], ["allegation"], ["no"], ["other_staff"], *STANDARD_REPORT[3:]]
# Required plan items are open on a new case, so a closure says why (a form's optional field).
CLOSE = {"note": "", "open_items_reason": "The platform removed it within the hour."}
STATUS_OF_EVENT = {"acknowledged": CaseStatus.ACKNOWLEDGED, "closed": CaseStatus.CLOSED}


@pytest.fixture
async def handlers(bot, chat: Chat) -> dict[str, Chat]:
    """An allegation reported by the teacher; each routed handler's chat, the card shown to each."""
    await walk(chat, ALLEGATION)
    await chat.pick("send")
    case = await bot.store.get_case("default", REF)
    assert {r.user for r in case.routed_to} == {DSL, DEPUTY, HEAD}
    chats = {user: Chat(bot, user) for user in (DSL, DEPUTY, HEAD)}
    for handler in chats.values():
        await handler.open()
    return chats


def form(action: str, values: dict[str, str]) -> dict:
    """A form submitted from a card (a Slack modal, a Teams form card): it stands apart from the conversation."""
    flow = {"close": "case_close", "status": "case_status", "action": "case_action"}[action]
    return {"form_id": f"{flow}:{REF}", "form_values": values}


async def events_of(bot) -> list[CaseEvent]:
    case = await bot.store.get_case("default", REF)
    return await bot.store.case_events(case.id)


def traces(events: list[CaseEvent], user: str, action: str, kind: str) -> list[CaseEvent]:
    """What a press left in the chronology: the change itself, or an event naming the action pressed
    (for a press that found the change already made)."""
    return [e for e in events if e.actor == user and (e.kind == kind or e.detail.get("action") == action)]


def replayed_status(events: list[CaseEvent]) -> CaseStatus:
    """The status the chronology leads to; it fails if any event changes a case that was already closed or
    claims to move it from a status it was not in."""
    status = CaseStatus.NEW
    for e in events:
        if e.kind in ("acknowledged", "status_changed", "closed"):
            assert status != CaseStatus.CLOSED, f"{e.kind} by {e.actor} after the case was closed"
        if e.kind == "status_changed":
            assert e.detail["from"] == status.value, (e.detail, status)
            status = CaseStatus(e.detail["to"])
        elif e.kind == "acknowledged":
            assert status == CaseStatus.NEW, f"acknowledged again by {e.actor}"
            status = CaseStatus.ACKNOWLEDGED
        elif e.kind == "action_recorded" and status in (CaseStatus.NEW, CaseStatus.ACKNOWLEDGED):
            status = CaseStatus.IN_PROGRESS
        elif e.kind == "closed":
            status = CaseStatus.CLOSED
    return status


async def told_reporter(bot, reporter: Chat) -> list[str]:
    """The updates waiting for the reporter, by key (they open their chat)."""
    await reporter.open()
    return [k for k in reporter.keys if k.startswith("case.reporter_")]


async def assert_consistent(bot) -> list[CaseEvent]:
    case = await bot.store.get_case("default", REF)
    events = await bot.store.case_events(case.id)
    assert replayed_status(events) == case.status
    assert (await bot.store.verify_case_chain(case.id)).intact
    return events


# --- through the engine ----------------------------------------------------------------------------------


async def test_three_handlers_acknowledging_at_once_acknowledge_it_once(bot, handlers, chat):
    await asyncio.gather(*(h.pick(f"case:{REF}:ack") for h in handlers.values()))

    events = await assert_consistent(bot)
    assert [e.kind for e in events].count("acknowledged") == 1
    assert [e.detail.get("message") for e in events if e.kind == "reporter_told"] == ["case.reporter_acknowledged"]
    assert await told_reporter(bot, chat) == ["case.reporter_acknowledged"]
    acknowledged = [
        k for h in handlers.values() for k in h.keys if k in ("case.acknowledged", "case.already_acknowledged")
    ]
    assert sorted(acknowledged) == ["case.acknowledged", "case.already_acknowledged", "case.already_acknowledged"]
    for user in handlers:
        assert traces(events, user, "ack", "acknowledged"), f"{user}'s press left no trace"


async def test_three_handlers_closing_at_once_close_it_once_with_one_outcome(bot, handlers, chat):
    outcomes = {DSL: "content_removed", DEPUTY: "resolved_in_school", HEAD: "unfounded"}
    await asyncio.gather(*(h.say("", **form("close", {"outcome": outcomes[u], **CLOSE})) for u, h in handlers.items()))

    events = await assert_consistent(bot)
    (closed,) = [e for e in events if e.kind == "closed"]
    case = await bot.store.get_case("default", REF)
    assert case.status == CaseStatus.CLOSED and case.outcome == closed.detail["outcome"] == outcomes[closed.actor]
    assert [e.detail.get("message") for e in events if e.kind == "reporter_told"] == ["case.reporter_closed"]
    assert await told_reporter(bot, chat) == ["case.reporter_closed"]
    assert sorted(k for h in handlers.values() for k in h.keys if k in ("case.closed", "case.already_closed")) == [
        "case.already_closed", "case.already_closed", "case.closed"]
    for user in handlers:
        assert traces(events, user, "close", "closed"), f"{user}'s press left no trace"


async def test_close_status_and_acknowledge_at_once_end_in_one_consistent_state(bot, handlers):
    await asyncio.gather(
        handlers[DSL].say("", **form("close", {"outcome": "content_removed", **CLOSE})),
        handlers[DEPUTY].say("", **form("status", {"status": "in_progress"})),
        handlers[HEAD].pick(f"case:{REF}:ack"),
    )
    events = await assert_consistent(bot)
    for user, action, kind in (
        (DSL, "close", "closed"),
        (DEPUTY, "status", "status_changed"),
        (HEAD, "ack", "acknowledged"),
    ):
        assert traces(events, user, action, kind), f"{user}'s {action} left no trace"
    # Whoever came first, the closure stands: nothing reopens a closed case.
    assert (await bot.store.get_case("default", REF)).status == CaseStatus.CLOSED


async def test_a_handler_pressing_acknowledge_after_another_leaves_a_trace(bot, handlers):
    """The same without any race: the second press changes nothing, and the chronology shows it was made."""
    await handlers[DSL].pick(f"case:{REF}:ack")
    await handlers[DEPUTY].pick(f"case:{REF}:ack")
    assert handlers[DEPUTY].keys[0] == "case.already_acknowledged"
    events = await assert_consistent(bot)
    assert [e.kind for e in events].count("acknowledged") == 1
    assert traces(events, DEPUTY, "ack", "acknowledged")


# --- through the real Slack server -------------------------------------------------------------------------



class TestThroughSlack:
    """The same presses as simultaneous signed requests to the real server (Bolt acks each at once and runs
    the turns side by side)."""

    @pytest.fixture
    def bot(self, content, store, settings, clock):
        """A bot whose staff directory has only Slack users (added by the `slack` fixture)."""
        from bot.conversation.engine import Engine

        return Engine(content, store, settings, clock=clock)

    @pytest.fixture
    async def slack_case(self, slack) -> dict[str, dict]:
        """A case sent by Slack DM; the card in the DSL's and in the deputy's DM."""
        card = await sent_case(slack)
        deputy_card = (await slack.api.wait_for(lambda: slack.messages_to(SLACK_DEPUTY)))[0]
        return {SLACK_DSL: card, SLACK_DEPUTY: deputy_card}

    @staticmethod
    def reporter_updates(slack, phrase: str) -> list[dict]:
        return [m for m in slack.messages_to(SLACK_TEACHER) if phrase in m["text"]]

    async def test_two_dsls_pressing_acknowledge_on_slack_at_once_acknowledge_it_once(self, slack, slack_case):
        bot = slack.channel.bot
        responses = await asyncio.gather(
            *(slack.click(user, card, f"case:{REF}:ack") for user, card in slack_case.items())
        )
        assert [r.status for r in responses] == [200, 200]
        await slack.api.wait_for(lambda: self.reporter_updates(slack, "picked up"))
        await slack.settle()

        events = await assert_consistent(bot)
        assert [e.kind for e in events].count("acknowledged") == 1
        assert len(self.reporter_updates(slack, "picked up")) == 1
        for user in slack_case:
            assert traces(events, f"slack:{user}", "ack", "acknowledged"), f"{user}'s press left no trace"

    async def test_two_dsls_closing_on_slack_at_once_close_it_once(self, slack, slack_case):
        bot = slack.channel.bot
        views = [(await open_modal(slack, user, card, "close"))["view"] for user, card in slack_case.items()]
        outcomes = ["content_removed", "no_further_action"]
        responses = await asyncio.gather(*(
            submit_modal(slack, user, view, {"outcome": outcome, **CLOSE}, view_id=f"V{n}")
            for n, (user, view, outcome) in enumerate(zip(slack_case, views, outcomes, strict=True))))
        assert [r.status for r in responses] == [200, 200]
        await slack.api.wait_for(lambda: self.reporter_updates(slack, "has been closed"))
        await slack.settle()

        events = await assert_consistent(bot)
        (closed,) = [e for e in events if e.kind == "closed"]
        assert (await bot.store.get_case("default", REF)).outcome == closed.detail["outcome"]
        assert len(self.reporter_updates(slack, "has been closed")) == 1
        for user in slack_case:
            assert traces(events, f"slack:{user}", "close", "closed"), f"{user}'s press left no trace"
        # Every card shows the one outcome.
        final = [u for u in slack.api.bodies("chat.update") if u["ts"] in {c["ts"] for c in slack_case.values()}]
        wrong = {"content_removed": "No further action", "no_further_action": "Content or account removed"}
        assert final and wrong[closed.detail["outcome"]] not in all_text(final[-1])
