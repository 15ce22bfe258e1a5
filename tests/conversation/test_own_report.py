"""For an account pretending to be the reporter: they are told at once that platforms often act only on the
impersonated person's own report, offered the steps now, and an "I've reported it" button records it on the case
for the DSL (an event; the case's handlers told)."""

from __future__ import annotations

from testing.chat import STANDARD_REPORT, Chat, walk

REF = "OSB-2026-0001"


async def test_the_reporter_is_offered_their_own_steps_and_the_dsl_learns_they_reported_it(bot):
    teacher = Chat(bot, "console:teacher")
    await walk(teacher, [*STANDARD_REPORT, ["send"]])
    offer = teacher.reply("report.sent")
    assert "only when that person reports it themselves" in offer.text
    assert [c.id for c in offer.choices][:2] == [f"case:{REF}:own_steps", f"case:{REF}:self_reported"]
    await teacher.say("1")
    assert REF in teacher.text and teacher.last[-1].choices[-1].id == f"case:{REF}:self_reported"
    await teacher.pick(f"case:{REF}:self_reported")
    assert teacher.keys == ["report.self_reported_thanks"]
    await teacher.pick(f"case:{REF}:self_reported")
    assert teacher.keys == ["report.self_reported_already"]

    case = await bot.store.get_case("default", REF)
    (event,) = [e for e in await bot.store.case_events(case.id) if e.kind == "reporter_reported_to_platform"]
    assert event.actor == "console:teacher"
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    assert "says they have now reported the account" in dsl.reply("case.update.reporter_reported_to_platform").text
    await dsl.pick(f"case:{REF}:show")
    assert dict(dsl.last[0].card.fields)["The reporter's own report"].startswith(
        "They reported it to the platform themselves")


async def test_no_one_else_can_say_they_reported_it(bot):
    await walk(Chat(bot, "console:teacher"), [*STANDARD_REPORT, ["send"]])
    other = Chat(bot, "console:chair")
    await other.pick(f"case:{REF}:self_reported")
    assert other.keys[0] == "case.not_found"
    case = await bot.store.get_case("default", REF)
    assert not [e for e in await bot.store.case_events(case.id) if e.kind == "reporter_reported_to_platform"]
