"""The entry for the school's own safeguarding record system (CPOMS, MyConcern): paste-ready, by role, with the
true times; and marking a case as entered there, an event on the case."""

from __future__ import annotations

import pytest

from bot.cases.record import build_record
from bot.cases.record.model import UK
from bot.core.markup import to_plain
from testing.chat import Chat, walk

REF = "OSB-2026-0001"


@pytest.fixture
async def dsl(bot, chat, report_steps, clock) -> Chat:
    await walk(chat, report_steps)
    await chat.pick("send")
    handler = Chat(bot, "console:dsl")
    await handler.open()
    assert handler.reply("case.new_card")
    return handler


async def test_the_entry_gives_times_categories_roles_and_actions_without_names_or_the_reporters_words(bot, dsl, clock):
    await dsl.pick(f"case:{REF}:ack")
    clock.advance(minutes=30)
    await dsl.pick(f"case:{REF}:action")
    await dsl.pick("reported_to_platform")
    await dsl.say("IG-REPORT-778812")
    assert f"case:{REF}:entry" in [c.id for c in (await dsl.pick(f"case:{REF}:show"))[0].choices]

    await dsl.pick(f"case:{REF}:entry")
    assert dsl.keys == ["case.entry.ready"]
    entry = dsl.last[0]
    text = to_plain(entry.text)
    case = await bot.store.get_case("default", REF)
    events = await bot.store.case_events(case.id)
    acked = next(e for e in events if e.kind == "acknowledged").at
    acted = next(e for e in events if e.kind == "action_recorded").at
    # Each event at its own true time, in UK time.
    for at in (case.created_at, acked, acted):
        assert at.astimezone(UK).strftime("%A %-d %B %Y, %H:%M (GMT)") in text
    assert acked != acted
    assert "Targeting" in text and "Instagram" in text  # the category and the platform
    assert "IG-REPORT-778812" in text  # what was done, with its reference
    assert "(DSL)" in text and "deputy DSL" in text  # people by role
    assert "Reported: Friday 20 November 2026, 21:30 (GMT), by a member of staff" in text  # the reporter, by role
    never_said = ("Dana Lee", "Jo Brown", "Sam Patel", "console:", "mocking captions", "fake_hillside", "school laptop")
    for withheld in never_said:
        assert withheld not in text, withheld
    assert [c.id for c in entry.choices] == [f"case:{REF}:entered", f"case:{REF}:show"]
    # Asking for the entry changes nothing on the case.
    assert len(await bot.store.case_events(case.id)) == len(events)


async def test_marking_a_case_entered_is_an_event_once_and_shows_in_its_record(bot, dsl):
    await dsl.pick(f"case:{REF}:entered")
    assert dsl.keys == ["case.entry.marked"]
    await dsl.pick(f"case:{REF}:entered")
    assert dsl.keys == ["case.entry.already_marked"]
    case = await bot.store.get_case("default", REF)
    kinds = [e.kind for e in await bot.store.case_events(case.id)]
    assert kinds.count("entered_in_record_system") == 1 and "already_done" in kinds
    record = await build_record(
        bot.store, await bot.schools.scope(case.school_id), case, exported_by="console:dsl", fmt="json"
    )
    (entered,) = [e for e in record.chronology if e.kind == "entered_in_record_system"]
    assert entered.what == "Entered in the school's safeguarding record system" and entered.by.name == "Dana Lee"


async def test_someone_the_case_was_not_sent_to_gets_no_entry(bot, dsl, chat_as):
    other = chat_as("console:teacher2")
    await other.pick(f"case:{REF}:entry")
    assert other.keys == ["case.not_found"]
    await other.pick(f"case:{REF}:entered")
    case = await bot.store.get_case("default", REF)
    assert "entered_in_record_system" not in [e.kind for e in await bot.store.case_events(case.id)]
