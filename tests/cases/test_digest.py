"""The DSL's day: the morning digest, sent by the scheduler once per case handler per school day while they have
open cases (across two processes too), in triage order, and switched off and on by the person or the CLI."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from pathlib import Path

import pytest

from bot.app.scheduler import Scheduler
from bot.cases.digest import digest_counts, triage_order
from bot.conversation.engine import Engine
from bot.core.config import Settings
from bot.core.markup import to_plain
from testing.chat import Chat
from testing.cli_runner import out, run_cli
from tests.cases.test_scheduler import (
    ALLEGATION_ABOUT_HEAD,
    CALENDAR,
    FRIDAY_NIGHT,
    URGENT_REPORT,
    _tick_in_process,
    at,
    report,
)
from tests.conftest import stored_rows

REF = "OSB-2026-0001"


@pytest.fixture
def calendar_file(tmp_path: Path) -> Path:
    """The scheduler tests' own school calendar, so that a school's edits to content/ change nothing here."""
    path = tmp_path / "school_calendar.yaml"
    path.write_text(CALENDAR, encoding="utf-8")
    return path


@pytest.fixture
def settings(db_path: Path, calendar_file: Path) -> Settings:
    return Settings(db=str(db_path), school_name="Hillside Academy", school_calendar=calendar_file)


@pytest.fixture
def scheduler(bot: Engine) -> Scheduler:
    return Scheduler(bot.store, bot.settings, bot.schools, bot.clock)


def digests(bot: Engine) -> list[tuple[str, str]]:
    """(recipient, day created) of every queued digest."""
    rows = [r for r in stored_rows(bot.store, "outbox") if json.loads(r["replies"])[0]["key"] == "digest.morning"]
    return sorted((r["recipient"], str(r["created_at"])[:10]) for r in rows)


async def test_each_handler_with_open_cases_gets_one_digest_each_school_day_from_the_start_of_school(
        bot, clock, scheduler):
    await report(bot, clock, FRIDAY_NIGHT)
    for moment in ("2026-11-20 22:00", "2026-11-21 09:00", "2026-11-22 10:00", "2026-11-23 07:59"):
        await scheduler.tick(at(moment))  # Friday night, the weekend, Monday before school
    assert digests(bot) == []
    for moment in ("2026-11-23 08:00", "2026-11-23 08:01", "2026-11-23 12:00"):
        await scheduler.tick(at(moment))
    assert digests(bot) == [("console:deputy", "2026-11-23"), ("console:dsl", "2026-11-23")]
    await scheduler.tick(at("2026-11-23 17:30"))  # after school: nothing new (but the case is escalated to the head)
    assert len(digests(bot)) == 2
    await scheduler.tick(at("2026-11-24 08:00"))
    assert digests(bot) == [("console:deputy", "2026-11-23"), ("console:deputy", "2026-11-24"),
                            ("console:dsl", "2026-11-23"), ("console:dsl", "2026-11-24"),
                            ("console:head", "2026-11-24")]
    assert stored_rows(bot.store, "sent_digests")  # the claims, by person and day


async def test_the_digest_counts_the_cases_and_says_what_is_due_urgent_first_then_allegations(bot, clock, scheduler):
    await report(bot, clock, FRIDAY_NIGHT)  # OSB-2026-0001: targeting the reporter
    await report(bot, clock, at("2026-11-21 10:00"), ALLEGATION_ABOUT_HEAD, user="console:teacher")  # 0002
    await report(bot, clock, at("2026-11-21 11:00"), URGENT_REPORT, user="console:teacher")  # 0003: urgent
    dsl = Chat(bot, "console:dsl")
    clock.now = at("2026-11-22 12:00")
    await dsl.open()
    await dsl.pick(f"case:{REF}:ack")
    await scheduler.tick(at("2026-11-23 08:00"))

    clock.now = at("2026-11-23 08:05")
    await dsl.open()
    digest = dsl.reply("digest.morning")
    text = to_plain(digest.text)
    assert "3 open cases, 2 of them new: 1 urgent" in text and "1 allegation about staff" in text
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert [line.split(":")[0] for line in lines] == ["- URGENT OSB-2026-0003", "- OSB-2026-0002", "- OSB-2026-0001"]
    assert "please acknowledge it now" in lines[0] and "Not picked up" not in lines[2]
    assert "the case manager tells the LADO by the end of today" in lines[1]
    assert "required steps open" in lines[2] and "Instagram" in lines[2] and "Targeting the reporter" in lines[2]
    for never in ("Jo Brown", "Alex Morgan", "Year 10", "arrested", "fake_hillside"):
        assert never not in text, never
    assert [c.id for c in digest.choices] == [
        "case:OSB-2026-0003:show", "case:OSB-2026-0002:show", "case:OSB-2026-0001:show", "menu:my_cases",
        "menu:digest_off"]
    # The figures and the order, from the functions themselves.
    cases = await bot.store.list_cases("default", routed_to="console:dsl", open_only=True)
    assert digest_counts(cases) == {"open": 3, "urgent": 1, "new": 2, "allegations": 1}
    assert [c.reference for c in sorted(cases, key=triage_order)] == ["OSB-2026-0003", "OSB-2026-0002", REF]


async def test_no_digest_without_open_cases_nor_for_staff_who_do_not_handle_cases(bot, clock, scheduler):
    await report(bot, clock, FRIDAY_NIGHT)
    dsl = Chat(bot, "console:dsl")
    await dsl.pick(f"case:{REF}:close")
    await dsl.pick("no_further_action")
    await dsl.say("skip")
    await dsl.say("Dealt with by a conversation; nothing more to do.")
    assert (await bot.store.get_case("default", REF)).status.value == "closed"
    await scheduler.tick(at("2026-11-23 08:00"))
    assert digests(bot) == []


async def test_a_handler_turns_the_digest_off_and_on_again_from_the_chat(bot, clock, scheduler):
    await report(bot, clock, FRIDAY_NIGHT)
    dsl = Chat(bot, "console:dsl")
    await dsl.pick("menu:digest_off")
    assert dsl.keys == ["digest.turned_off"] and dsl.choice_ids() == ["menu:digest_on"]
    await scheduler.tick(at("2026-11-23 08:00"))
    assert digests(bot) == [("console:deputy", "2026-11-23")]  # the deputy still has theirs
    await dsl.say("1")  # the button offered: turn it back on
    assert dsl.keys == ["digest.turned_on"]
    await scheduler.tick(at("2026-11-24 08:00"))
    assert ("console:dsl", "2026-11-24") in digests(bot)

    teacher = Chat(bot, "console:teacher")
    await teacher.pick("menu:digest_off")
    assert teacher.keys == ["common.handlers_only"]
    assert await bot.store.morning_digest_off("default") == set()


async def test_two_stores_claim_one_persons_digest_for_a_day_once(bot, another_store):
    other = await another_store()
    try:
        now = at("2026-11-23 08:00")
        assert await bot.store.claim_digest("default", "console:dsl", "2026-11-23", now, [])
        assert not await other.claim_digest("default", "console:dsl", "2026-11-23", now, [])
        assert await other.digests_sent("default", "2026-11-23") == {"console:dsl"}
        assert await other.claim_digest("default", "console:dsl", "2026-11-24", now, [])
        await other.set_morning_digest("default", "console:dsl", False, now)
        assert await bot.store.morning_digest_off("default") == {"console:dsl"}
        await bot.store.set_morning_digest("default", "console:dsl", True, now)
        assert await other.morning_digest_off("default") == set()
    finally:
        await other.close()


@pytest.mark.sqlite_only  # the processes open the SQLite file
async def test_two_scheduler_processes_send_each_digest_exactly_once(bot, clock, db_path, calendar_file):
    await report(bot, clock, FRIDAY_NIGHT)
    moments = [at(m).isoformat() for m in ("2026-11-23 08:00", "2026-11-23 09:00", "2026-11-24 08:00")]
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [context.Process(target=_tick_in_process,
                                 args=(str(db_path), str(calendar_file), moments, 10, barrier, results))
                 for _ in range(2)]
    for p in processes:
        p.start()
    for p in processes:
        await asyncio.to_thread(p.join, 120)
    assert [p.exitcode for p in processes] == [0, 0]
    # Each process goes round the moments again and again (so the head, added by the escalation on Tuesday,
    # is in Monday's next round too): still one digest per person and day.
    sent = digests(bot)
    assert len(sent) == len(set(sent))
    assert set(sent) == {(who, day) for who in ("console:dsl", "console:deputy", "console:head")
                         for day in ("2026-11-23", "2026-11-24")}


def test_the_staff_cli_turns_someones_digest_off_and_on(tmp_path):
    db = tmp_path / "osb.db"
    env = {"OSB_DB": str(db)}
    run_cli("staff", "add", "console:dsl", "--role", "dsl", "--name", "Dana Lee", env=env)
    assert "is off" in out(run_cli("staff", "digest", "console:dsl", "off", env=env))
    rows = run_cli("cases", "list", "--json", env=env)  # the database is usable as before
    assert rows.returncode == 0

    async def off() -> set[str]:
        from bot.store import SQLiteStore

        store = SQLiteStore(str(db))
        await store.open()
        try:
            return await store.morning_digest_off("default")
        finally:
            await store.close()

    assert asyncio.run(off()) == {"console:dsl"}
    run_cli("staff", "digest", "console:dsl", "on", env=env)
    assert asyncio.run(off()) == set()


async def test_five_cases_at_eight_read_short_and_most_urgent_first(bot, clock, scheduler):
    """What a DSL reads at 8:00 on Monday with five cases: one sentence, then a line each, saying what it needs."""
    await report(bot, clock, FRIDAY_NIGHT)  # 0001, picked up on Sunday
    await report(bot, clock, at("2026-11-21 10:00"), ALLEGATION_ABOUT_HEAD)  # 0002
    await report(bot, clock, at("2026-11-21 11:00"), URGENT_REPORT)  # 0003
    await report(bot, clock, at("2026-11-21 12:00"))  # 0004
    await report(bot, clock, at("2026-11-22 19:00"))  # 0005
    clock.now = at("2026-11-22 20:00")
    await Chat(bot, "console:dsl").pick(f"case:{REF}:ack")
    await scheduler.tick(at("2026-11-23 08:00"))
    (row,) = [r for r in stored_rows(bot.store, "outbox") if r["recipient"] == "console:dsl"
              and json.loads(r["replies"])[0]["key"] == "digest.morning"]
    assert to_plain(json.loads(row["replies"])[0]["text"]).splitlines() == [
        "Good morning. 5 open cases, 4 of them new: 1 urgent, 1 account showing learners, 1 allegation about staff, "
        "3 accounts targeting the people who reported them; 2 need you today.",
        "- URGENT OSB-2026-0003: Showing learners, Snapchat, 45 hours ago. Not picked up yet: please acknowledge it "
        "now.",
        "- OSB-2026-0002: Rumours or allegations about staff, Facebook, 46 hours ago. Not picked up yet, and the case "
        "manager tells the LADO by the end of today.",
        "- OSB-2026-0001: Targeting the reporter, Instagram, 2 days ago. Next: Find out, without contacting the "
        "account, who may be behind it (3 required steps open).",
        "- OSB-2026-0004: Targeting the reporter, Instagram, 44 hours ago. Not picked up yet: reminders start at "
        "12:00 today.",
        "- OSB-2026-0005: Targeting the reporter, Instagram, 13 hours ago. Not picked up yet: reminders start at "
        "12:00 today.",
    ]
