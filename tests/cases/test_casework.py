"""The DSL's side: the case card's actions, the reporter's updates, and who may see a case."""

from __future__ import annotations

import pytest

from bot.core.models import CaseStatus
from testing.chat import STANDARD_REPORT, Chat, walk
from tests.channels.test_card_as_it_is_now import closed_by

REF = "OSB-2026-0001"


@pytest.fixture
async def reported(chat: Chat, report_steps):
    await walk(chat, report_steps)
    await chat.pick("send")
    assert chat.reply("report.sent")
    return chat


@pytest.fixture
async def dsl(bot, reported) -> Chat:
    handler = Chat(bot, "console:dsl")
    await handler.open()
    assert handler.reply("case.new_card")
    return handler


async def case_of(bot):
    return await bot.store.get_case("default", REF)


async def test_acknowledging_updates_the_case_and_tells_the_reporter_without_details(bot, dsl, reported):
    await dsl.pick(f"case:{REF}:ack")
    assert dsl.keys == ["case.acknowledged"]
    assert dsl.last[0].card.status == "Acknowledged"
    assert f"case:{REF}:ack" not in dsl.choice_ids()
    assert (await case_of(bot)).status == CaseStatus.ACKNOWLEDGED

    await reported.open()
    update = reported.reply("case.reporter_acknowledged")
    assert REF in update.text and update.card is None
    assert "Dana" not in update.text  # who handles it is not the reporter's business

    deputy = Chat(bot, "console:deputy")
    await deputy.open()
    assert "Dana Lee has acknowledged" in deputy.reply("case.update.acknowledged").text

    events = await bot.store.case_events((await case_of(bot)).id)
    ack = next(e for e in events if e.kind == "acknowledged")
    assert ack.actor == "console:dsl" and ack.at is not None
    assert "reporter_told" in [e.kind for e in events]


async def test_acknowledging_twice_changes_nothing(bot, dsl):
    await dsl.pick(f"case:{REF}:ack")
    await dsl.pick(f"case:{REF}:ack")
    assert dsl.keys[0] == "case.already_acknowledged"
    kinds = [e.kind for e in await bot.store.case_events((await case_of(bot)).id)]
    assert kinds.count("acknowledged") == 1


async def test_adding_a_note(bot, dsl):
    await dsl.pick(f"case:{REF}:note")
    assert dsl.keys == ["case_note.note.ask"] and REF in dsl.last[0].text
    await dsl.say("Spoke to the reporter at 8am; they are OK.")
    assert dsl.keys == ["case.note_added"]
    events = await bot.store.case_events((await case_of(bot)).id)
    note = next(e for e in events if e.kind == "note_added")
    assert note.detail == {"note": "Spoke to the reporter at 8am; they are OK."} and note.actor == "console:dsl"


async def test_recording_a_platform_report_with_its_reference(bot, dsl, reported):
    await dsl.pick(f"case:{REF}:action")
    assert dsl.keys == ["case_action.action.ask"]
    await dsl.pick("reported_to_platform")
    assert dsl.keys == ["case_action.platform_reference.ask"]
    await dsl.say("IG-REPORT-778812")
    assert dsl.keys == ["case.action_recorded"]
    case = await case_of(bot)
    assert case.status == CaseStatus.IN_PROGRESS
    action = next(e for e in await bot.store.case_events(case.id) if e.kind == "action_recorded")
    assert action.detail == {"action": "reported_to_platform", "detail": "IG-REPORT-778812"}
    await reported.open()
    assert "case.reporter_acknowledged" in reported.keys  # picked up, even without a separate acknowledgement


@pytest.mark.parametrize("action", ["posh_contacted", "lado_informed", "police_informed", "parents_contacted",
                                    "sanctions_applied", "support_offered"])
async def test_every_action_type_can_be_recorded(bot, dsl, action):
    await dsl.pick(f"case:{REF}:action")
    await dsl.pick(action)
    assert dsl.keys == ["case_action.detail.ask"]
    await dsl.say("skip")
    assert dsl.keys == ["case.action_recorded"]
    events = await bot.store.case_events((await case_of(bot)).id)
    assert next(e for e in events if e.kind == "action_recorded").detail == {"action": action, "detail": None}


async def test_status_moves_through_in_progress_to_closed_with_outcome(bot, dsl, reported):
    await dsl.pick(f"case:{REF}:ack")
    await dsl.pick(f"case:{REF}:status")
    await dsl.pick("in_progress")
    assert dsl.keys == ["case.status_changed"]
    assert (await case_of(bot)).status == CaseStatus.IN_PROGRESS

    await dsl.pick(f"case:{REF}:close")
    assert dsl.keys == ["case_close.outcome.ask"]
    await dsl.pick("content_removed")
    await dsl.say("Instagram removed the account after POSH escalated it.")
    assert dsl.keys == ["case_close.open_items_reason.ask"]  # the case plan still has required steps open
    await dsl.say("Removed within the hour; the reporter is fine and has had support from their line manager.")
    assert dsl.keys == ["case.closed"]
    case = await case_of(bot)
    assert case.status == CaseStatus.CLOSED and case.outcome == "content_removed"
    assert [c.id for c in dsl.last[0].choices] == [
        f"case:{REF}:{a}" for a in ("note", "plan", "record", "entry", "entered")
    ]
    closed = next(e for e in await bot.store.case_events(case.id) if e.kind == "closed")
    assert closed.detail["reason"].startswith("Removed within the hour")
    assert "support.reporter_support" in closed.detail["open_required"]

    await reported.open()
    closed = reported.reply("case.reporter_closed")
    assert "taken down" in closed.text and "POSH" not in closed.text


async def test_the_reporter_never_learns_an_allegation_outcome(bot, chat: Chat):
    await walk(chat, ["I need to report something", ["allegation"], ["no"], ["other_staff"],
                      ["facebook"], "skip", "skip", "Claims about a teacher", ["other_staff"], "skip", ["done"],
                      ["nobody"], ["no_idea"], ["send"]])
    head = Chat(bot, "console:head")
    await head.open()
    await head.pick(f"case:{REF}:close")
    await head.pick("malicious")
    await head.say("skip")
    await head.say("LADO agreed no further action; the account was removed.")
    await chat.open()
    closed = chat.reply("case.reporter_closed")
    assert "malicious" not in closed.text.lower() and "allegation" not in closed.text.lower()


async def test_a_closed_case_takes_notes_but_no_other_change(bot, dsl):
    await dsl.pick(f"case:{REF}:close")
    await dsl.pick("no_further_action")
    await dsl.say("skip")
    await dsl.say("The account was a parody, clearly labelled; no further action.")
    await dsl.pick(f"case:{REF}:status")
    assert dsl.keys[0] == "case.already_closed"
    await dsl.pick(f"case:{REF}:note")
    await dsl.say("Parent phoned to thank us.")
    assert dsl.keys == ["case.note_added"]


async def test_someone_the_case_was_not_routed_to_can_neither_see_nor_act(bot, reported):
    for user in ("console:head", "console:teacher2", "console:chair"):
        outsider = Chat(bot, user)
        for action in ("show", "ack", "close", "note"):
            await outsider.pick(f"case:{REF}:{action}")
            assert outsider.keys == ["case.not_found"], (user, action)
            assert "Jo Brown" not in outsider.text and "instagram" not in outsider.text.lower()
    case = await case_of(bot)
    assert case.status == CaseStatus.NEW
    refused = [e for e in await bot.store.case_events(case.id) if e.kind == "access_refused"]
    assert sorted(e.actor for e in refused) == ["console:chair", "console:head", "console:teacher2"]  # each day's first
    assert set((await bot.store.refusal_counts(case.id)).values()) == {4}


async def test_an_unknown_reference_gives_the_same_answer_as_a_forbidden_one(bot, reported):
    outsider = Chat(bot, "console:head")
    await outsider.pick("case:OSB-2026-9999:show")
    unknown = outsider.text.replace("OSB-2026-9999", "REF")
    await outsider.pick(f"case:{REF}:show")
    assert outsider.text.replace(REF, "REF") == unknown


async def test_the_reporter_sees_status_only(bot, reported):
    await reported.pick(f"case:{REF}:show")
    assert reported.keys == ["case.reporter_view"]
    assert reported.last[0].card is None
    await reported.pick(f"case:{REF}:ack")
    assert reported.keys == ["case.not_found"]


async def test_lists_open_cases_for_a_handler_and_reports_for_a_reporter(bot, dsl, reported):
    await dsl.say("my cases")
    listing = dsl.reply("case.list_handling")
    assert [c.id for c in listing.choices] == [f"case:{REF}:show"]
    await dsl.say("1")
    assert dsl.keys == ["case.card"]
    assert dsl.last[0].card.reference == REF

    await reported.say("menu")
    await reported.pick("menu:my_cases")
    assert REF in reported.reply("case.list_reported").text
    assert "case.list_handling" not in reported.keys


async def test_a_card_button_in_the_middle_of_a_report_returns_to_the_report(bot, dsl):
    await dsl.say("I'm being targeted")
    await dsl.pick(f"case:{REF}:note")
    await dsl.say("Called POSH.")
    assert dsl.keys == ["case.note_added", "common.carry_on", "report_concern.categories.ask"]


async def test_cancelling_a_case_update_changes_nothing(bot, dsl):
    await dsl.pick(f"case:{REF}:close")
    await dsl.say("cancel")
    assert dsl.keys[0] == "case.update_cancelled"
    assert (await case_of(bot)).status == CaseStatus.NEW


async def test_the_record_comes_as_a_file_where_the_channel_can_carry_one(bot, dsl):
    await dsl.pick(f"case:{REF}:record", files=True)
    (ready,) = dsl.last
    assert ready.key == "case.record.ready" and ready.file.name == f"{REF}.pdf"
    assert ready.file.content.startswith(b"%PDF") and ready.file.media_type == "application/pdf"
    await dsl.pick(f"case:{REF}:record")  # a channel that cannot carry files
    assert dsl.keys == ["case.record.not_here"]
    assert f"cases export {REF}" in dsl.last[0].text


# --- always the case as it is now -------------------------------------------------------------------


async def test_a_console_deputy_opening_the_chat_after_the_close_sees_the_closed_card(bot):
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    await closed_by(bot, "console:dsl")
    deputy = Chat(bot, "console:deputy")
    await deputy.open()
    card = deputy.reply("case.card_since")  # queued as a new case, delivered as the case is now
    assert card.card.status == "Closed" and card.card.summary[1].startswith("**Closed:** Content or account removed")
    assert f"case:{REF}:ack" not in [c.id for c in card.choices]
    assert f"case:{REF}:note" in [c.id for c in card.choices]


async def test_a_card_reads_the_case_answers_once(bot, monkeypatch):
    """The report's answers are validated once per card, however many fields and lines read them."""
    from bot.cases import card as card_module
    from bot.core.report import Report

    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    case = await bot.store.get_case("default", REF)
    calls = []
    real = Report.of.__func__

    def counted(cls, answers):
        calls.append(1)
        return real(cls, answers)

    monkeypatch.setattr(card_module.Report, "of", classmethod(counted))
    card = card_module.case_card(await bot.schools.scope("default"), case, "console:dsl", {})
    assert card.summary and len(calls) == 1
