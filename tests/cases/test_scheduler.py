"""Reminders and escalation (bot/app/scheduler.py) with a clock the test controls: unacknowledged cases,
platform follow-ups and privacy-check reminders, each sent once, never to the reporter or anyone the case
excluded; and two scheduler processes on one database sending each reminder exactly once."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app.scheduler import Scheduler
from bot.cases.school_calendar import CalendarError, calendar_path, load_calendar
from bot.conversation.engine import Engine
from bot.core.config import Settings
from bot.core.models import CaseStatus, Reminder, Role, StaffMember
from testing.chat import STANDARD_REPORT, Chat, walk
from tests.conftest import STAFF, stored_rows

REF = "OSB-2026-0001"
UTC = timezone.utc
FRIDAY_NIGHT = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)  # the conftest clock's start: a Friday, 9.30 pm

# A calendar of the test's own, so that a school editing content/school_calendar.yaml breaks nothing here.
CALENDAR = """
timezone: Europe/London
school_hours: {days: [monday, tuesday, wednesday, thursday, friday], start: "08:00", end: "17:00"}
terms:
  - {name: Autumn, start: 2026-09-02, end: 2026-12-18}
  - {name: Spring, start: 2027-01-04, end: 2027-03-25}
closures:
  - {name: Half term, start: 2026-10-26, end: 2026-10-30}
  - {name: INSET day, start: 2027-01-04}
covers_until: 2027-03-31
"""

URGENT_REPORT: list[str | list[str]] = [
    "there's an account posting photos of our pupils", ["showing_learners"], ["not_sure"], ["snapchat"],
    "https://www.snapchat.com/add/fakeaccount", "today", "A story with pictures of Year 10 girls", ["learners"], "skip",
    "Seen at 9pm on a learner's phone, link above", ["done"], ["learners_talking"], ["learner"], "skip", ["send"],
]

ALLEGATION_ABOUT_HEAD: list[str | list[str]] = [
    "there's an account spreading rumours about a teacher", ["allegation"], ["no"], ["headteacher"],
    ["facebook"], "skip", "skip", "Posts say the head was arrested", ["headteacher"], "Alex Morgan",
    ["done"], ["nobody"], ["no_idea"], ["send"],
]


@pytest.fixture
def calendar_file(tmp_path: Path) -> Path:
    path = tmp_path / "school_calendar.yaml"
    path.write_text(CALENDAR, encoding="utf-8")
    return path


@pytest.fixture
def settings(db_path: Path, calendar_file: Path) -> Settings:
    return Settings(db=str(db_path), school_name="Hillside Academy", school_calendar=calendar_file)


@pytest.fixture
def scheduler(bot: Engine) -> Scheduler:
    return Scheduler(bot.store, bot.settings, bot.schools, bot.clock)


async def report(bot: Engine, clock, at: datetime, steps=None, user: str = "console:teacher"):
    clock.now = at
    reporter = Chat(bot, user)
    await walk(reporter, list(steps or STANDARD_REPORT) + ([["send"]] if steps is None else []))
    assert any(k.startswith("report.sent") for k in reporter.keys), reporter.keys
    return max(await bot.store.list_cases("default", reporter=user), key=lambda c: c.reference)


def outbox(bot: Engine, key_prefix: str = "reminders.") -> list[tuple[str, str]]:
    """(recipient, reply key) of every queued message whose first reply's key starts with `key_prefix`."""
    rows = sorted(
        (r for r in stored_rows(bot.store, "outbox") if r["kind"] == "message"), key=lambda r: r["created_at"]
    )
    found = [(r["recipient"], json.loads(r["replies"])[0]["key"]) for r in rows]
    return [(who, key) for who, key in found if key.startswith(key_prefix)]


def told(bot: Engine, key: str) -> set[str]:
    return {who for who, k in outbox(bot) if k == key}


async def bot_events(bot: Engine, case_id: str, kind: str | None = None):
    """The scheduler's events on a case: `reminded` and `escalated`, or only `kind`."""
    kinds = (kind,) if kind else ("reminded", "escalated")
    return [e for e in await bot.store.case_events(case_id) if e.kind in kinds]


def at(text: str) -> datetime:
    """A time in the school's zone (Europe/London), as the school would say it."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/London")).astimezone(UTC)


# --- unacknowledged cases: non-urgent, in school hours ------------------------------------------


async def test_a_friday_night_report_is_reminded_and_escalated_on_monday_in_school_hours(bot, clock, scheduler):
    case = await report(bot, clock, FRIDAY_NIGHT)
    assert not case.urgent
    for moment in ("2026-11-21 12:00", "2026-11-22 18:00", "2026-11-23 07:59", "2026-11-23 11:59"):
        assert await scheduler.tick(at(moment)) == 0, moment
    assert outbox(bot) == []

    # 4 school hours: Monday 08:00 to 12:00. To the routed DSL and deputy only.
    assert await scheduler.tick(at("2026-11-23 12:00")) == 1
    assert sorted(outbox(bot)) == [("console:deputy", "reminders.not_acknowledged"),
                                   ("console:dsl", "reminders.not_acknowledged")]
    (reminded,) = await bot_events(bot, case.id, "reminded")
    assert reminded.actor == "bot" and reminded.at == at("2026-11-23 12:00")
    assert reminded.detail["about"] == "not_acknowledged" and sorted(reminded.detail["to"]) == [
        "console:deputy",
        "console:dsl",
    ]

    # 1 school day (9 school hours): Monday 17:00. To the deputy and the headteacher, who can now act on it.
    assert await scheduler.tick(at("2026-11-23 16:59")) == 0
    assert await scheduler.tick(at("2026-11-23 17:00")) == 1
    assert told(bot, "reminders.escalated") == {"console:deputy", "console:head"}
    (escalated,) = await bot_events(bot, case.id, "escalated")
    assert sorted(escalated.detail["to"]) == ["console:deputy", "console:head"]
    assert [r["user"] for r in escalated.detail["added"]] == ["console:head"]
    stored = await bot.store.get_case("default", REF)
    assert stored.is_routed_to("console:head")
    assert not stored.is_routed_to("console:chair")

    head = Chat(bot, "console:head")
    await head.open()
    card = head.reply("reminders.escalated")
    assert card.card.reference == REF and "hasn't been acknowledged" in card.text
    assert "escalated to you" in dict(card.card.fields)["Sent to you because"]
    await head.pick(f"case:{REF}:ack")
    assert head.keys == ["case.acknowledged"]
    assert (await bot.store.get_case("default", REF)).status == CaseStatus.ACKNOWLEDGED
    reporter = Chat(bot)
    await reporter.open()
    assert "case.reporter_acknowledged" in reporter.keys
    assert not any(k.startswith("reminders.") for k in reporter.keys)


async def test_school_time_skips_the_holidays_and_an_inset_day(bot, clock, scheduler):
    # Friday 18 December, 3 pm, the last day of term: 2 school hours left that day. The next school day
    # is Tuesday 5 January (Monday 4 January is an INSET day).
    case = await report(bot, clock, at("2026-12-18 15:00"))
    for moment in ("2026-12-18 16:59", "2026-12-21 12:00", "2026-12-25 12:00", "2027-01-04 12:00",
                   "2027-01-05 09:59"):
        assert await scheduler.tick(at(moment)) == 0, moment
    assert await scheduler.tick(at("2027-01-05 10:00")) == 1
    assert told(bot, "reminders.not_acknowledged") == {"console:dsl", "console:deputy"}
    assert await scheduler.tick(at("2027-01-05 14:59")) == 0
    assert await scheduler.tick(at("2027-01-05 15:00")) == 1
    assert told(bot, "reminders.escalated") == {"console:deputy", "console:head"}
    assert len(await bot_events(bot, case.id)) == 2


async def test_non_urgent_timings_can_be_configured(content, staffed, db_path, calendar_file, clock):
    settings = Settings(db=str(db_path), school_calendar=calendar_file, remind_school_hours=1, escalate_school_days=0.5)
    bot = Engine(content, staffed, settings, clock=clock)
    scheduler = Scheduler(bot.store, bot.settings, bot.schools, bot.clock)
    await report(bot, clock, at("2026-11-23 10:00"))  # a Monday morning
    assert await scheduler.tick(at("2026-11-23 10:59")) == 0
    assert await scheduler.tick(at("2026-11-23 11:00")) == 1  # 1 school hour
    assert await scheduler.tick(at("2026-11-23 14:29")) == 0
    assert await scheduler.tick(at("2026-11-23 14:30")) == 1  # half a school day: 4.5 hours
    assert told(bot, "reminders.escalated") == {"console:deputy", "console:head"}


# --- unacknowledged cases: urgent, at any hour ------------------------------------------------------


async def test_an_urgent_case_is_reminded_after_15_minutes_and_escalated_after_30_at_night(bot, clock, scheduler):
    case = await report(bot, clock, FRIDAY_NIGHT, URGENT_REPORT)
    assert case.urgent
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(minutes=14, seconds=59)) == 0
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(minutes=15)) == 1
    assert sorted(outbox(bot)) == [("console:deputy", "reminders.not_acknowledged_urgent"),
                                   ("console:dsl", "reminders.not_acknowledged_urgent")]
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(minutes=29)) == 0
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(minutes=30)) == 1  # 10 pm on a Friday
    assert told(bot, "reminders.escalated_urgent") == {"console:deputy", "console:head"}

    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    reminder = dsl.reply("reminders.not_acknowledged_urgent")
    assert reminder.urgent and reminder.card.urgent and "URGENT" in reminder.text
    assert "reminders.escalated_urgent" not in dsl.keys  # the DSL is reminded; the others are escalated to


async def test_urgent_timings_can_be_configured(content, staffed, db_path, calendar_file, clock):
    settings = Settings(db=str(db_path), school_calendar=calendar_file, urgent_remind_minutes=5,
                        urgent_escalate_minutes=10)
    bot = Engine(content, staffed, settings, clock=clock)
    scheduler = Scheduler(bot.store, bot.settings, bot.schools, bot.clock)
    await report(bot, clock, FRIDAY_NIGHT, URGENT_REPORT)
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(minutes=5)) == 1
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(minutes=10)) == 1
    assert told(bot, "reminders.escalated_urgent") == {"console:deputy", "console:head"}


# --- what is never sent ------------------------------------------------------------------------------


async def test_nothing_is_sent_about_an_acknowledged_case(bot, clock, scheduler):
    case = await report(bot, clock, FRIDAY_NIGHT)
    clock.now = at("2026-11-23 08:30")
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    await dsl.pick(f"case:{REF}:ack")
    for days in range(0, 30, 3):
        assert await scheduler.tick(at("2026-11-23 12:00") + timedelta(days=days)) == 0
    assert outbox(bot) == [] and await bot_events(bot, case.id) == []


async def test_a_case_acknowledged_while_the_tick_looked_is_not_reminded(bot, clock, scheduler):
    """The claim re-checks the case in its own transaction, so a reminder decided a moment before the DSL
    acknowledged is dropped, not sent."""
    case = await report(bot, clock, FRIDAY_NIGHT)
    staff = await bot.store.list_staff("default")
    (due,) = scheduler.reminders(await bot.schools.scope(case.school_id)).case_items(
        case, await bot.store.case_events(case.id), staff, {}, at("2026-11-23 12:00")
    )
    clock.now = at("2026-11-23 11:59")
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    await dsl.pick(f"case:{REF}:ack")
    assert not await bot.store.claim_case_reminder("default", due.key, due.kind, case.id, at("2026-11-23 12:00"),
                                                   due.prepare)
    assert outbox(bot) == [] and await bot_events(bot, case.id) == []


async def test_repeated_ticks_and_a_restart_send_nothing_twice(bot, clock, scheduler):
    case = await report(bot, clock, FRIDAY_NIGHT)
    for _ in range(3):
        await scheduler.tick(at("2026-11-23 12:00"))
        await scheduler.tick(at("2026-11-23 13:30"))
    restarted = Scheduler(bot.store, bot.settings, bot.schools, bot.clock)
    assert await restarted.tick(at("2026-11-23 14:00")) == 0
    for _ in range(3):
        await restarted.tick(at("2026-11-23 17:00"))
        await scheduler.tick(at("2026-11-24 09:00"))
    assert sorted(outbox(bot)) == sorted([
        ("console:dsl", "reminders.not_acknowledged"), ("console:deputy", "reminders.not_acknowledged"),
        ("console:deputy", "reminders.escalated"), ("console:head", "reminders.escalated"),
    ])
    assert [e.kind for e in await bot_events(bot, case.id)] == ["reminded", "escalated"]
    assert len(stored_rows(bot.store, "sent_reminders")) == 2


async def test_after_a_restart_what_fell_due_meanwhile_is_sent_and_escalation_supersedes_the_reminder(bot, clock):
    case = await report(bot, clock, FRIDAY_NIGHT)
    # The server was down all Monday: on its first tick, Tuesday morning, the case is escalated at once.
    assert await Scheduler(bot.store, bot.settings, bot.schools, bot.clock).tick(at("2026-11-24 08:05")) == 1
    assert [k for _, k in outbox(bot)] == ["reminders.escalated", "reminders.escalated"]
    assert [e.kind for e in await bot_events(bot, case.id)] == ["escalated"]


async def test_a_dsl_moved_to_a_role_that_does_not_handle_cases_is_not_reminded(bot, clock, scheduler):
    case = await report(bot, clock, FRIDAY_NIGHT, URGENT_REPORT)
    await bot.store.upsert_staff(StaffMember(user="console:dsl", role=Role.STAFF, name="Dana Lee"))
    assert await scheduler.tick(FRIDAY_NIGHT + timedelta(minutes=15)) == 1
    assert outbox(bot) == [("console:deputy", "reminders.not_acknowledged_urgent")]
    assert case.is_routed_to("console:dsl")  # routed to them once, but no longer theirs


async def test_never_the_reporter_nor_anyone_the_case_excluded(bot, clock, scheduler):
    # The deputy reports an allegation naming the headteacher: the head is kept off the case, the chair of
    # governors is the case manager, and the deputy, as reporter, is not their own route.
    case = await report(bot, clock, FRIDAY_NIGHT, ALLEGATION_ABOUT_HEAD, user="console:deputy")
    assert {r.user for r in case.routed_to} == {"console:dsl", "console:chair"}
    await scheduler.tick(at("2026-11-23 12:00"))
    assert told(bot, "reminders.not_acknowledged") == {"console:dsl"}
    await scheduler.tick(at("2026-11-23 17:00"))
    assert told(bot, "reminders.escalated") == {"console:chair"}
    recipients = {who for who, _ in outbox(bot, "")}
    assert "console:head" not in recipients
    assert not any(who == "console:deputy" for who, _ in outbox(bot))
    stored = await bot.store.get_case("default", case.reference)
    assert not stored.is_routed_to("console:head") and not stored.is_routed_to("console:deputy")


async def test_a_deputy_named_in_the_report_is_not_escalated_to(bot, clock, scheduler):
    steps = list(STANDARD_REPORT)
    steps[6] = "It posts photos of me and Sam Patel from the school website with mocking captions."
    case = await report(bot, clock, FRIDAY_NIGHT, steps + [["send"]])
    assert {r.user for r in case.routed_to} == {"console:dsl"}
    await scheduler.tick(at("2026-11-23 12:00"))
    await scheduler.tick(at("2026-11-23 17:00"))
    assert told(bot, "reminders.not_acknowledged") == {"console:dsl"}
    assert told(bot, "reminders.escalated") == {"console:head"}
    assert "console:deputy" not in {who for who, _ in outbox(bot, "")}


# --- the platform's reply ----------------------------------------------------------------------------


async def record_platform_report(bot: Engine, clock, when: datetime, reference: str = "IG-REPORT-778812") -> Chat:
    clock.now = when
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    await dsl.pick(f"case:{REF}:action")
    await dsl.pick("reported_to_platform")
    await dsl.say(reference)
    assert dsl.keys == ["case.action_recorded"]
    return dsl


async def test_no_reply_from_the_platform_offers_posh_after_48_hours_then_report_harmful_content(
    bot, clock, scheduler, content
):
    case = await report(bot, clock, FRIDAY_NIGHT)
    reported = at("2026-11-23 09:00")
    await record_platform_report(bot, clock, reported)

    assert await scheduler.tick(reported + timedelta(hours=47, minutes=59)) == 0
    assert await scheduler.tick(reported + timedelta(hours=48)) == 1
    assert told(bot, "reminders.platform_no_reply") == {"console:dsl", "console:deputy"}
    posh = content.facts.helplines["posh"]
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    follow_up = dsl.reply("reminders.platform_no_reply")
    assert posh.phone in follow_up.text and posh.email in follow_up.text
    assert "IG-REPORT-778812" in follow_up.text and "23 November 2026" in follow_up.text
    assert [c.id for c in follow_up.choices] == [f"case:{REF}:action", f"case:{REF}:show"]

    assert await scheduler.tick(reported + timedelta(days=4)) == 0
    assert await scheduler.tick(reported + timedelta(days=7) - timedelta(seconds=1)) == 0
    assert await scheduler.tick(reported + timedelta(days=7)) == 1
    assert told(bot, "reminders.report_harmful_content") == {"console:dsl", "console:deputy"}
    await dsl.open()
    rhc = dsl.reply("reminders.report_harmful_content")
    assert str(content.facts.helplines["report_harmful_content"].url) in rhc.text
    assert await scheduler.tick(reported + timedelta(days=30)) == 0

    follow_ups = await bot_events(bot, case.id, "reminded")
    assert [e.detail["about"] for e in follow_ups] == ["platform_no_reply", "report_harmful_content"]
    assert all(sorted(e.detail["to"]) == ["console:deputy", "console:dsl"] for e in follow_ups)

    # The button on the follow-up records the platform's reply.
    await dsl.pick(f"case:{REF}:action")
    await dsl.pick("platform_responded")
    await dsl.say("Instagram removed the account")
    assert dsl.keys == ["case.action_recorded"]


async def close_case(dsl: Chat) -> None:
    await dsl.pick(f"case:{REF}:close")
    await dsl.pick("content_removed")
    await dsl.say("skip")
    if dsl.keys[-1].endswith("open_items_reason.ask"):  # required plan items still open
        await dsl.say("The account was removed.")
    assert dsl.keys == ["case.closed"], dsl.keys


@pytest.mark.parametrize("then", ["platform_responded", "closed"])
async def test_no_follow_up_once_the_platform_has_replied_or_the_case_is_closed(bot, clock, scheduler, then):
    case = await report(bot, clock, FRIDAY_NIGHT)
    reported = at("2026-11-23 09:00")
    dsl = await record_platform_report(bot, clock, reported)
    clock.now = reported + timedelta(hours=20)
    if then == "platform_responded":
        await dsl.pick(f"case:{REF}:action")
        await dsl.pick("platform_responded")
        await dsl.say("skip")
        assert dsl.keys == ["case.action_recorded"]
    else:
        await close_case(dsl)
    for hours in (48, 100, 24 * 7, 24 * 30):
        assert await scheduler.tick(reported + timedelta(hours=hours)) == 0
    assert outbox(bot) == [] and await bot_events(bot, case.id) == []


async def test_each_report_to_a_platform_is_followed_up_once(bot, clock, scheduler):
    case = await report(bot, clock, FRIDAY_NIGHT)
    first, second = at("2026-11-23 09:00"), at("2026-11-24 09:00")
    await record_platform_report(bot, clock, first, "IG-1")
    await record_platform_report(bot, clock, second, "TT-2")
    assert await scheduler.tick(first + timedelta(hours=48)) == 1
    assert await scheduler.tick(second + timedelta(hours=48)) == 1
    assert await scheduler.tick(second + timedelta(hours=49)) == 0
    rows = sorted((r for r in stored_rows(bot.store, "outbox") if r["recipient"] == "console:dsl"),
                  key=lambda r: r["created_at"])
    texts = [json.loads(r["replies"])[0]["text"] for r in rows]
    follow_ups = [t for t in texts if "has the platform replied" in t]
    assert len(follow_ups) == 2 and "IG-1" in follow_ups[0] and "TT-2" in follow_ups[1]
    assert len(await bot_events(bot, case.id, "reminded")) == 2


# --- privacy-check reminders -------------------------------------------------------------------------


async def test_a_privacy_check_reminder_is_delivered_once_when_due(bot, clock, scheduler, content):
    teacher = Chat(bot)
    await teacher.pick("menu:privacy_check")
    await teacher.pick("x", "instagram")
    n = len(content.facts.platforms["x"].privacy) + len(content.facts.platforms["instagram"].privacy)
    for _ in range(n):
        await teacher.pick("done")
    await teacher.pick("three_months")
    assert teacher.keys == ["privacy.reminder_set"]
    (reminder,) = await bot.store.list_reminders("default")

    assert await scheduler.tick(reminder.due_at - timedelta(minutes=1)) == 0
    assert await scheduler.tick(reminder.due_at) == 1
    assert await scheduler.tick(reminder.due_at + timedelta(days=1)) == 0
    (sent,) = await bot.store.list_reminders("default")
    assert sent.sent_at == reminder.due_at
    assert outbox(bot) == [("console:teacher", "reminders.privacy_check")]

    clock.now = reminder.due_at + timedelta(hours=2)
    await teacher.open()
    note = teacher.reply("reminders.privacy_check")
    assert "Instagram and X" in note.text
    assert [c.id for c in note.choices] == ["menu:privacy_check"]
    await teacher.pick("menu:privacy_check")
    assert teacher.keys == ["privacy_check.platforms.ask"]


async def test_other_reminder_kinds_and_ones_not_yet_due_are_left_alone(bot, scheduler):
    now = FRIDAY_NIGHT
    await bot.store.add_reminder(Reminder(recipient="console:teacher", kind="something_else", due_at=now))
    await bot.store.add_reminder(Reminder(recipient="console:teacher", kind="privacy_check",
                                          due_at=now + timedelta(seconds=1)))
    assert await scheduler.tick(now) == 0
    assert all(r.sent_at is None for r in await bot.store.list_reminders("default"))


# --- the DSL's console chat ----------------------------------------------------------------------------


async def test_the_reminder_waits_in_the_dsls_console_chat_and_acknowledging_stops_escalation(bot, clock, scheduler):
    case = await report(bot, clock, FRIDAY_NIGHT)
    await scheduler.tick(at("2026-11-23 12:00"))
    clock.now = at("2026-11-23 12:10")
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    assert dsl.keys[0] == "digest.morning"  # the day's digest, drawn now, is the triage list (issue 19)
    assert dsl.keys[1] == "reminders.not_acknowledged"  # its card and its reminder, shown once as the reminder
    reminder = dsl.reply("reminders.not_acknowledged")
    assert reminder.card.reference == REF and f"case:{REF}:ack" in [c.id for c in reminder.choices]
    assert REF in reminder.text
    await dsl.pick(f"case:{REF}:ack")
    assert dsl.keys == ["case.acknowledged"]
    assert await scheduler.tick(at("2026-11-23 17:00")) == 0
    assert [e.kind for e in await bot_events(bot, case.id)] == ["reminded"]


# --- the school calendar ------------------------------------------------------------------------------


def test_the_shipped_calendar_is_valid():
    calendar = load_calendar(calendar_path(Settings()))
    assert calendar.school_hours.days and calendar.terms


@pytest.mark.parametrize("change, field", [
    ('start: "08:00"', "school_hours.start"),
    ("timezone: Europe/London", "timezone"),
    ("end: 2026-12-18", "terms.0"),
])
def test_a_calendar_mistake_is_named(tmp_path, change, field):
    bad = {'start: "08:00"': "start: 8:00", "timezone: Europe/London": "timezone: Europe/Lundon",
           "end: 2026-12-18": "end: 2026-08-01"}[change]
    path = tmp_path / "cal.yaml"
    path.write_text(CALENDAR.replace(change, bad, 1), encoding="utf-8")
    with pytest.raises(CalendarError) as raised:
        load_calendar(path)
    assert str(path) in str(raised.value) and f"{field}:" in str(raised.value)


def test_a_calendar_that_has_run_out_counts_every_weekday(calendar_file):
    calendar = load_calendar(calendar_file)
    # After covers_until (31 March 2027): Friday 2 April 2027, 4 pm, plus 4 school hours is Monday 11 am.
    assert calendar.add_school_time(at("2027-04-02 16:00"), timedelta(hours=4)) == at("2027-04-05 11:00")


# --- two processes on one database -----------------------------------------------------------------------


async def test_two_stores_that_both_saw_an_item_due_claim_it_once(bot, clock, another_store, content):
    """The race the claim exists for: both processes decided to send before either had."""
    case = await report(bot, clock, FRIDAY_NIGHT)
    await bot.store.add_reminder(Reminder(recipient="console:teacher", kind="privacy_check", due_at=FRIDAY_NIGHT))
    other_store = await another_store()
    try:
        other = Scheduler(other_store, bot.settings, Engine(content, other_store, bot.settings).schools, bot.clock)
        now = at("2026-11-23 12:00")
        staff = await bot.store.list_staff("default")
        events = await bot.store.case_events(case.id)
        (mine,) = (
            Scheduler(bot.store, bot.settings, bot.schools, bot.clock)
            .reminders(await bot.schools.scope(case.school_id))
            .case_items(case, events, staff, {}, now)
        )
        (theirs,) = other.reminders(await bot.schools.scope(case.school_id)).case_items(case, events, staff, {}, now)
        (reminder,) = await bot.store.due_reminders("default", now, kind="privacy_check")
        assert await other_store.claimed_reminders("default", [theirs.key]) == set()
        assert await bot.store.claim_case_reminder("default", mine.key, mine.kind, case.id, now, mine.prepare)
        assert not await other_store.claim_case_reminder("default", theirs.key, theirs.kind, case.id, now,
                                                         theirs.prepare)
        assert await other_store.claim_reminder(reminder.id, now, [])
        assert not await bot.store.claim_reminder(reminder.id, now, [])
    finally:
        await other_store.close()
    assert told(bot, "reminders.not_acknowledged") == {"console:dsl", "console:deputy"}
    assert len(outbox(bot)) == 2 and len(await bot_events(bot, case.id)) == 1


def _tick_in_process(db: str, calendar: str, moments: list[str], rounds: int, barrier, results) -> None:
    """One scheduler in its own OS process, with its own store on the shared database file."""
    from bot.core.content import load_content
    from bot.store import SQLiteStore

    async def run() -> int:
        store = SQLiteStore(db)
        await store.open()
        try:
            bot = Engine(
                load_content(), store, Settings(db=db, school_calendar=calendar, school_name="Hillside Academy")
            )
            scheduler = Scheduler(bot.store, bot.settings, bot.schools, bot.clock)
            barrier.wait(timeout=60)
            claimed = 0
            for _ in range(rounds):
                for moment in moments:
                    claimed += await scheduler.tick(datetime.fromisoformat(moment))
            return claimed
        finally:
            await store.close()

    results.put(asyncio.run(run()))


@pytest.mark.sqlite_only  # the processes open the SQLite file
async def test_two_scheduler_processes_on_one_database_send_each_reminder_exactly_once(
    bot, clock, db_path, calendar_file
):
    cases = [await report(bot, clock, FRIDAY_NIGHT) for _ in range(3)]
    followed = await report(bot, clock, FRIDAY_NIGHT)
    reported = at("2026-11-23 09:00")
    clock.now = reported
    dsl = Chat(bot, "console:dsl")
    await dsl.open()
    await dsl.pick(f"case:{followed.reference}:action")
    await dsl.pick("reported_to_platform")
    await dsl.say("IG-77")
    for i in range(10):
        await bot.store.add_reminder(Reminder(recipient=f"console:staff{i}", kind="privacy_check",
                                              due_at=FRIDAY_NIGHT + timedelta(minutes=i)))
    before = bot.store.db["outbox"].count

    moments = [m.isoformat() for m in (at("2026-11-23 12:00"), at("2026-11-23 17:00"),
                                       reported + timedelta(hours=48), reported + timedelta(days=7))]
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [context.Process(target=_tick_in_process,
                                 args=(str(db_path), str(calendar_file), moments, 15, barrier, results))
                 for _ in range(2)]
    for p in processes:
        p.start()
    for p in processes:
        await asyncio.to_thread(p.join, 120)
    assert [p.exitcode for p in processes] == [0, 0]
    claimed = [results.get(timeout=5) for _ in processes]

    # 3 cases x (reminder + escalation), 2 platform follow-ups, 10 privacy reminders.
    assert sum(claimed) == 3 * 2 + 2 + 10
    messages = outbox(bot)
    for case in cases:
        rows = list(bot.store.db.query(
            "SELECT recipient, replies FROM outbox WHERE case_id = ? AND kind = 'message'", [case.id]))
        keys = sorted((r["recipient"], json.loads(r["replies"])[0]["key"]) for r in rows)
        assert keys == sorted([
            ("console:dsl", "case.new_card"), ("console:deputy", "case.new_card"),
            ("console:dsl", "reminders.not_acknowledged"), ("console:deputy", "reminders.not_acknowledged"),
            ("console:deputy", "reminders.escalated"), ("console:head", "reminders.escalated"),
        ])
        assert sorted(e.kind for e in await bot_events(bot, case.id)) == ["escalated", "reminded"]
        assert [r.user for r in (await bot.store.get_case("default", case.reference)).routed_to].count(
            "console:head"
        ) == 1
    rows = list(bot.store.db.query("SELECT recipient, replies FROM outbox WHERE case_id = ? AND kind = 'message'",
                                   [followed.id]))
    follow_ups = sorted((r["recipient"], json.loads(r["replies"])[0]["key"]) for r in rows
                        if json.loads(r["replies"])[0]["key"].startswith("reminders."))
    assert follow_ups == sorted([
        ("console:dsl", "reminders.platform_no_reply"), ("console:deputy", "reminders.platform_no_reply"),
        ("console:dsl", "reminders.report_harmful_content"), ("console:deputy", "reminders.report_harmful_content"),
    ])
    privacy = [who for who, key in messages if key == "reminders.privacy_check"]
    assert sorted(privacy) == sorted(f"console:staff{i}" for i in range(10))
    assert all(r.sent_at is not None for r in await bot.store.list_reminders("default"))
    assert bot.store.db["sent_reminders"].count == 3 * 2 + 2
    # Per case: one reminder (2 people) and one escalation (2 people, plus the DSL's card refreshed) x 3;
    # the follow-ups (2 x 2); the privacy reminders (10).
    # The morning digests the same ticks sent (each once: tests/cases/test_digest.py) are not reminders.
    digests = [r for r in bot.store.db.query("SELECT replies FROM outbox")
               if json.loads(r["replies"])[0]["key"] == "digest.morning"]
    assert bot.store.db["outbox"].count - before - len(digests) == 3 * (2 + 2 + 1) + 4 + 10


# --- inside serve ---------------------------------------------------------------------------------------


async def test_serve_runs_the_scheduler_from_startup_and_stops_it_on_shutdown(bot, clock):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app.server import build_app

    await report(bot, clock, FRIDAY_NIGHT)
    clock.now = at("2026-11-23 12:30")  # the server starts after the reminder fell due: nothing is lost
    app = build_app(bot, [])
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        for _ in range(200):
            if outbox(bot):
                break
            await asyncio.sleep(0.01)
        assert told(bot, "reminders.not_acknowledged") == {"console:dsl", "console:deputy"}
        (loop_task,) = [t for t in asyncio.all_tasks() if t.get_name() == "periodic:scheduler tick"]
    finally:
        await client.close()
    assert loop_task.done()


def test_serve_refuses_a_broken_calendar_naming_the_field(tmp_path, monkeypatch, capsys):
    from bot.cli import main

    path = tmp_path / "cal.yaml"
    path.write_text(CALENDAR.replace('end: "17:00"', 'end: "07:00"'), encoding="utf-8")
    monkeypatch.setenv("OSB_SCHOOL_CALENDAR", str(path))
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "TEAMS_ALLOW_ANONYMOUS",
                 "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID"):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve", "--db", str(tmp_path / "bot.db"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "school_hours: end must be later than start" in err


async def test_a_reminder_with_no_one_left_to_tell_waits_until_someone_is_in_the_directory(bot, clock, scheduler):
    case = await report(bot, clock, FRIDAY_NIGHT)
    for user in ("console:dsl", "console:deputy"):
        await bot.store.remove_staff("default", user)
    assert await scheduler.tick(at("2026-11-23 12:00")) == 0
    assert stored_rows(bot.store, "sent_reminders") == []
    await bot.store.upsert_staff(STAFF[0])  # the DSL is back
    assert await scheduler.tick(at("2026-11-23 12:01")) == 1
    assert told(bot, "reminders.not_acknowledged") == {"console:dsl"}
    assert len(await bot_events(bot, case.id)) == 1


async def test_the_scheduler_logs_no_case_content(bot, clock, scheduler, caplog):
    caplog.set_level("DEBUG")
    await report(bot, clock, FRIDAY_NIGHT)
    await record_platform_report(bot, clock, at("2026-11-23 09:00"), "IG-SECRET-REF")
    for moment in ("2026-11-25 09:00", "2026-11-30 09:00"):
        assert await scheduler.tick(at(moment)) == 1
    assert "reminder(s) queued" in caplog.text
    for secret in ("IG-SECRET-REF", "mocking captions", "fake_hillside", REF, "console:", "Dana"):
        assert secret not in caplog.text
