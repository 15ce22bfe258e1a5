"""Closing a case cannot undo itself: the reason is asked only while required plan items are open, and then
required; a "skip" keeps the outcome and note and asks again; the form lists the open items and has no reason
field when nothing is open; a form sent without the reason it needs carries on, keeping what was given."""

from __future__ import annotations

from bot.core.models import CaseStatus
from testing.chat import STANDARD_REPORT, Chat, walk

REF = "OSB-2026-0001"
REQUIRED = ("investigation.who_behind", "support.reporter_support", "report.platform.instagram")


async def reported(bot) -> Chat:
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    return Chat(bot, "console:dsl")


async def closed_event(bot):
    case = await bot.store.get_case("default", REF)
    return case, next((e for e in await bot.store.case_events(case.id) if e.kind == "closed"), None)


async def test_a_skipped_reason_keeps_the_outcome_and_note_and_asks_again(bot):
    dsl = await reported(bot)
    await dsl.pick(f"case:{REF}:close")
    await dsl.pick("content_removed")
    await dsl.say("Instagram took it down within the hour.")
    ask = dsl.reply("case_close.open_items_reason.ask")
    assert "Report it to Instagram" in ask.text and "skip" not in [c.id for c in ask.choices]
    for skip in ("skip", "none"):
        await dsl.say(skip)
        assert dsl.keys == ["case.close_reason_required", "case_close.open_items_reason.ask"]
    await dsl.say("Removed before anyone needed to report it.")
    assert dsl.keys == ["case.closed"]
    case, closed = await closed_event(bot)
    assert case.status == CaseStatus.CLOSED and case.outcome == "content_removed"
    assert closed.detail["note"] == "Instagram took it down within the hour."
    assert closed.detail["reason"] == "Removed before anyone needed to report it."
    assert "report.platform.instagram" in closed.detail["open_required"]


async def test_the_form_names_the_open_items_and_requires_the_reason(bot):
    dsl = await reported(bot)
    await dsl.pick(f"case:{REF}:close", forms=True)
    form = dsl.reply("case_close.form").form
    (reason,) = [f for f in form.fields if f.id == "open_items_reason"]
    assert not reason.optional and "Report it to Instagram" in reason.label


async def test_with_nothing_required_open_the_form_has_no_reason_field(bot):
    dsl = await reported(bot)
    for item in REQUIRED:
        await dsl.pick(f"case:{REF}:tick:{item}")
    await dsl.pick(f"case:{REF}:close", forms=True)
    form = dsl.reply("case_close.form").form
    assert [f.id for f in form.fields] == ["outcome", "note"]
    await dsl.say("", form_id=f"case_close:{REF}", form_values={"outcome": "content_removed", "note": ""})
    assert dsl.keys == ["case.closed"]
    _, closed = await closed_event(bot)
    assert "reason" not in closed.detail


async def test_a_form_sent_without_the_reason_it_needs_keeps_the_outcome_and_note(bot):
    dsl = await reported(bot)
    await dsl.say("", form_id=f"case_close:{REF}", form_values={"outcome": "resolved_in_school",
                                                                 "note": "Spoke to the learners involved."})
    assert dsl.keys == ["case_close.open_items_reason.ask"]
    assert (await bot.store.get_case("default", REF)).status != CaseStatus.CLOSED
    await dsl.say("The learners deleted it in front of their head of year.")
    assert dsl.keys == ["case.closed"]
    case, closed = await closed_event(bot)
    assert case.outcome == "resolved_in_school" and closed.detail["note"] == "Spoke to the learners involved."


async def test_an_allegations_outcomes_are_offered_only_on_a_case_with_an_allegation(bot):
    dsl = await reported(bot)  # an account targeting the reporter
    await dsl.pick(f"case:{REF}:close")
    offered = [c.id for c in dsl.reply("case_close.outcome.ask").choices]
    assert "content_removed" in offered and "substantiated" not in offered and "malicious" not in offered
    await dsl.say("cancel")
    await dsl.pick(f"case:{REF}:close", forms=True)
    (outcome,) = [f for f in dsl.reply("case_close.form").form.fields if f.id == "outcome"]
    assert "substantiated" not in [c.id for c in outcome.choices]


async def test_an_allegation_can_be_closed_as_unfounded(bot):
    from tests.cases.test_scheduler import ALLEGATION_ABOUT_HEAD

    await walk(Chat(bot, "console:teacher"), ALLEGATION_ABOUT_HEAD)
    chair = Chat(bot, "console:chair")
    await chair.pick(f"case:{REF}:close")
    assert "unfounded" in [c.id for c in chair.reply("case_close.outcome.ask").choices]
    await chair.pick("unfounded")
    assert chair.keys == ["case_close.note.ask"]
