"""Mark urgent on the case card: an event with the handler as its actor, the case urgent, the other handlers told,
and the reminders switching to the urgent timetable (checked with the scheduler, at night)."""

from __future__ import annotations

from datetime import timedelta

from bot.app.scheduler import Scheduler
from bot.core.models import CaseStatus
from testing.chat import STANDARD_REPORT, Chat, walk
from tests.cases.test_scheduler import FRIDAY_NIGHT, outbox

REF = "OSB-2026-0001"


async def reported(bot, clock) -> None:
    clock.now = FRIDAY_NIGHT
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])


async def test_marking_a_case_urgent_records_it_and_takes_the_button_off_the_card(bot, clock):
    await reported(bot, clock)
    dsl = Chat(bot, "console:dsl")
    await dsl.pick(f"case:{REF}:show")
    assert f"case:{REF}:urgent" in dsl.choice_ids()
    await dsl.pick(f"case:{REF}:urgent")
    assert dsl.keys == ["case.marked_urgent"]
    case = await bot.store.get_case("default", REF)
    assert case.urgent and case.status == CaseStatus.NEW
    (flagged,) = [e for e in await bot.store.case_events(case.id) if e.kind == "flagged_urgent"]
    assert flagged.actor == "console:dsl" and flagged.detail == {"reason": "marked_by_handler"}
    await dsl.pick(f"case:{REF}:show")
    assert dsl.last[0].card.urgent and f"case:{REF}:urgent" not in dsl.choice_ids()

    await dsl.pick(f"case:{REF}:urgent")  # pressed again, on an older card: nothing changes
    assert dsl.keys == ["case.already_urgent"]
    kinds = [e.kind for e in await bot.store.case_events(case.id)]
    assert kinds.count("flagged_urgent") == 1

    deputy = Chat(bot, "console:deputy")
    await deputy.open()
    assert "Dana Lee has marked OSB-2026-0001 as" in deputy.reply("case.update.flagged_urgent").text


async def test_someone_the_case_was_not_sent_to_cannot_mark_it_urgent(bot, clock):
    await reported(bot, clock)
    head = Chat(bot, "console:head")  # not sent an impersonation of the reporter
    await head.pick(f"case:{REF}:urgent")
    assert head.keys[0] == "case.not_found"
    assert not (await bot.store.get_case("default", REF)).urgent


async def test_the_reminders_switch_to_the_urgent_timetable(bot, clock):
    scheduler = Scheduler(bot.store, bot.settings, bot.schools, bot.clock)
    await reported(bot, clock)  # 9.30 pm on a Friday: not urgent, so not reminded before school on Monday
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(minutes=20)) == 0
    clock.now = FRIDAY_NIGHT + timedelta(minutes=21)
    await Chat(bot, "console:deputy").pick(f"case:{REF}:urgent")
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(minutes=35)) == 0  # its urgent clock started at 21:51
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(minutes=36)) == 1
    assert ("console:dsl", "reminders.not_acknowledged_urgent") in outbox(bot)
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(minutes=51)) == 1
    assert ("console:head", "reminders.escalated_urgent") in outbox(bot)


async def test_marked_urgent_late_the_next_reminder_is_recomputed_at_once(bot, clock):
    """Marked urgent two hours after it came in: the reminders start from then (not escalated at once to the head
    for the half hour that passed before anyone thought it urgent), and the card says so straight away."""
    scheduler = Scheduler(bot.store, bot.settings, bot.schools, bot.clock)
    await reported(bot, clock)
    dsl = Chat(bot, "console:dsl")
    await dsl.pick(f"case:{REF}:show")
    assert "from Monday 23 November, 12:00" in dsl.last[0].card.summary[1]  # 4 school hours from Monday 8:00
    clock.now = FRIDAY_NIGHT + timedelta(hours=2)
    await dsl.pick(f"case:{REF}:urgent")
    await dsl.pick(f"case:{REF}:show")
    assert "from Friday 20 November, 23:45" in dsl.last[0].card.summary[1]  # the urgent timetable, from now
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(hours=2, minutes=14)) == 0
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(hours=2, minutes=15)) == 1
    assert outbox(bot) == [("console:dsl", "reminders.not_acknowledged_urgent"),
                           ("console:deputy", "reminders.not_acknowledged_urgent")]


async def test_the_record_says_a_handler_marked_it_urgent_and_who(bot, clock):
    from bot.cases.record import export_case

    await reported(bot, clock)
    await Chat(bot, "console:dsl").pick(f"case:{REF}:urgent")
    case = await bot.store.get_case("default", REF)
    _, data = await export_case(bot.store, await bot.schools.scope("default"), case, by="console:dsl", fmt="md",
                                now=clock())
    text = data.decode()
    assert "Marked urgent by a case handler" in text and "under 18" not in text


async def test_a_case_marked_urgent_is_not_taken_for_one_with_images(bot, clock):
    """Marked urgent by a handler, an impersonation keeps its own guidance, plan and report pack: the card says
    why it is urgent, and nothing about images of under-18s."""
    await reported(bot, clock)
    dsl = Chat(bot, "console:dsl")
    await dsl.pick(f"case:{REF}:urgent")
    await dsl.pick(f"case:{REF}:show")
    card = dsl.last[0].card
    assert "marked urgent by a case handler" in card.summary[0] and "under 18" not in card.summary[0]
    assert not any("IWF" in line or "under-18" in line for line in card.guidance)
    await dsl.pick(f"case:{REF}:pack")
    assert "case.pack.guardrail" not in dsl.keys and "Instagram" in dsl.text
