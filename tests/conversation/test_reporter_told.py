"""The reporter told honestly, at once: when the team will see a report, from the school's calendar, and what to
do tonight if anyone is at risk; for an allegation about the head, that the head was not sent it. The clock is
the conftest's: 9.30 pm on Friday 20 November 2026."""

from __future__ import annotations

from datetime import datetime, timezone

from testing.chat import STANDARD_REPORT, Chat, walk
from tests.cases.test_scheduler import ALLEGATION_ABOUT_HEAD


async def test_a_friday_night_report_says_when_it_will_be_seen_and_what_to_do_tonight(bot, clock):
    clock.now = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)  # 10 pm on a Friday
    teacher = Chat(bot, "console:teacher")
    await walk(teacher, [*STANDARD_REPORT, ["send"]])
    when = teacher.reply("report.sent").text
    assert "School is closed now" in when and "Monday 23 November at 8:00, or sooner" in when
    assert "999" in when and "101" in when


async def test_a_report_in_school_hours_says_it_should_be_seen_today(bot, clock):
    clock.now = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # 10 am on a Monday
    teacher = Chat(bot, "console:teacher")
    await walk(teacher, [*STANDARD_REPORT, ["send"]])
    sent = teacher.reply("report.sent").text
    assert "should see it today" in sent and "School is closed" not in sent


async def test_an_allegation_about_the_head_at_10pm_on_a_friday(bot, clock):
    clock.now = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)
    teacher = Chat(bot, "console:teacher")
    await walk(teacher, ALLEGATION_ABOUT_HEAD)
    assert "Monday 23 November at 8:00" in teacher.reply("report.sent").text
    assert "The headteacher has not been sent it" in teacher.reply("report.allegation_sent_to").text
    (case,) = await bot.store.list_cases("default")
    assert not case.is_routed_to("console:head")


async def test_an_impersonation_reporter_is_told_their_own_report_may_count_before_anything_else_is_offered(bot):
    teacher = Chat(bot, "console:teacher")
    await walk(teacher, [*STANDARD_REPORT, ["send"]])
    sent = teacher.reply("report.sent")
    assert "the team will handle reporting" not in sent.text.lower()
    assert "only when that person reports it themselves" in sent.text
    assert [c.id for c in sent.choices][:2] == ["case:OSB-2026-0001:own_steps", "case:OSB-2026-0001:self_reported"]


async def test_a_report_about_the_school_says_the_team_will_report_it(bot):
    teacher = Chat(bot, "console:teacher")
    await walk(teacher, [STANDARD_REPORT[0], ["school_impersonation"], *STANDARD_REPORT[2:], ["send"]])
    sent = teacher.reply("report.sent")
    assert "The team will handle reporting it to the platform." in sent.text
    assert "own_steps" not in str(sent.choices)
