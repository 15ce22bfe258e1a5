"""The triage view: a case handler who opens the chat, or asks for their cases, sees one summary of their open
cases and a list sorted urgent first, then allegations about staff, then the oldest; then their menu, with their
own work first. Reports are made in the console chat, as staff make them."""

from __future__ import annotations

from bot.conversation.engine import Engine
from testing.chat import STANDARD_REPORT, Chat, walk
from testing.clock import Clock
from tests.cases.test_allegations import allegation

OLDEST, ALLEGATION, URGENT = "OSB-2026-0001", "OSB-2026-0002", "OSB-2026-0003"


async def three_reports(bot: Engine, clock: Clock) -> None:
    """An impersonation of the reporter (three days old), an allegation (a day old), an urgent allegation (an hour
    old), each from a different member of staff who need not be in the directory."""
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    clock.advance(days=2)
    await walk(Chat(bot, "console:ta"), allegation())
    clock.advance(days=1)
    await walk(Chat(bot, "console:coach"), allegation(description="Claims Mr Smith hit someone in class",
                                                       appears=["other_staff", "learners"]))
    clock.advance(hours=1)


async def test_a_dsl_opening_the_chat_sees_the_summary_and_sorted_list_first_then_their_menu(bot, clock):
    await three_reports(bot, clock)
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    assert dsl.keys[0] == "case.list_handling" and dsl.keys[-1] == "menu.ask"
    triage = dsl.reply("case.list_handling")
    summary = triage.text.splitlines()[0]
    assert summary == ("**3 new: 1 urgent, 2 allegations about staff, 1 account targeting the person who reported it; "
                       "2 need you today.** Pick a case to open it.")
    assert [c.id for c in triage.choices] == [f"case:{r}:show" for r in (URGENT, ALLEGATION, OLDEST)]
    lines = [line for line in triage.text.splitlines() if line.startswith("- ")]
    assert lines[0].startswith(f"- **URGENT** {URGENT}: Rumours or allegations about staff, Facebook, 1 hour ago")
    assert lines[1].startswith(f"- {ALLEGATION}: Rumours or allegations about staff, Facebook, 25 hours ago")
    assert lines[2] == f"- {OLDEST}: Targeting the reporter, Instagram, 3 days ago, not picked up yet"
    assert "Mr Smith" not in triage.text and "Jo Brown" not in triage.text  # no names, no one's words
    menu = [c.id for c in dsl.reply("menu.ask").choices]
    assert menu[:3] == ["menu:my_cases", "menu:stats", "menu:prevention_review"]
    assert menu.index("menu:report_concern") > 2


async def test_picking_a_case_up_shows_in_the_list_and_the_count_of_new(bot, clock):
    await three_reports(bot, clock)
    dsl = Chat(bot, "console:dsl")
    await dsl.pick(f"case:{OLDEST}:ack")
    await dsl.say("my cases")
    triage = dsl.reply("case.list_handling")
    assert triage.text.startswith("**3 open cases, 2 of them new: 1 urgent,")
    assert f"{OLDEST}: Targeting the reporter, Instagram, 3 days ago, picked up" in triage.text


async def test_the_list_holds_only_the_cases_sent_to_that_person(bot, clock):
    await three_reports(bot, clock)
    head = Chat(bot, "console:head")  # the case manager for the allegations, not sent the impersonation
    await head.say("my cases")
    ids = [c.id for c in head.reply("case.list_handling").choices]
    assert ids == [f"case:{URGENT}:show", f"case:{ALLEGATION}:show"]
    assert OLDEST not in head.text


async def test_staff_and_a_handler_with_nothing_open_are_greeted_as_before(bot, clock):
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    assert "case.list_handling" not in dsl.keys and "common.greeting" in dsl.keys
    await three_reports(bot, clock)
    teacher = Chat(bot, "console:teacher")
    await teacher.open()
    assert "case.list_handling" not in teacher.keys
    assert [c.id for c in teacher.reply("menu.ask_first").choices][0] == "menu:report_concern"


async def test_one_case_picked_up_reads_as_one(bot, clock):
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    dsl = Chat(bot, "console:dsl")
    await dsl.pick(f"case:{OLDEST}:ack")
    await dsl.say("my cases")
    assert dsl.reply("case.list_handling").text.startswith("**1 open case, picked up: ")
