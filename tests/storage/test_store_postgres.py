"""What matters when several processes share one PostgreSQL database: each test opens two PostgresStores
(two connection pools, as two server processes would have) on one fresh schema and races them.

Runs when OSB_TEST_POSTGRES_URL is set (see tests/conftest.py); the behaviour both stores share is tested in
test_store.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg
import pytest

from bot.core.models import Case, CaseEvent, Notification, Reminder, Reply
from bot.store import PostgresStore
from testing.keys import TEST_RECORD_KEY
from tests.conftest import POSTGRES_URL, postgres_schema, stored_rows
from tests.storage.test_store import WHEN, create, entered_within, note

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="set OSB_TEST_POSTGRES_URL to test the PostgreSQL store")

ROUNDS = 10


@pytest.fixture
async def schema():
    async with postgres_schema() as name:
        yield name


@pytest.fixture
async def stores(schema):
    """Two stores on one database, as two server processes."""
    pair = [PostgresStore(POSTGRES_URL, schema=schema, record_key=TEST_RECORD_KEY) for _ in range(2)]
    for s in pair:
        await s.open()
    yield pair
    for s in pair:
        await s.close()


# --- starting together ------------------------------------------------------------------------------


async def test_processes_starting_at_once_migrate_the_new_database_once(schema):
    starting = [PostgresStore(POSTGRES_URL, schema=schema, record_key=TEST_RECORD_KEY) for _ in range(3)]
    try:
        await asyncio.gather(*(s.open() for s in starting))
        rows = stored_rows(starting[0], "migrations")
        versions = [r["version"] for r in rows]
        assert sorted(versions) == sorted(set(versions)) and len(versions) > 0
        assert len(stored_rows(starting[0], "schools")) == 1  # the seed row, once
        case, created = await create(starting[1], "draft-1")
        assert created and (await starting[2].get_case("default", case.reference)) == case
    finally:
        for s in starting:
            await s.close()


# --- cases -------------------------------------------------------------------------------------------


async def test_the_same_report_stored_by_two_processes_at_once_opens_one_case(stores):
    for n in range(ROUNDS):
        results = await asyncio.gather(*(create(s, f"draft-{n}") for s in stores))
        assert sorted(created for _, created in results) == [False, True]
        assert results[0][0].id == results[1][0].id and results[0][0].reference == results[1][0].reference
    cases = await stores[0].list_cases("default")
    assert [c.reference for c in cases] == [f"OSB-2026-{n:04d}" for n in range(1, ROUNDS + 1)]  # no gaps either
    assert len(stored_rows(stores[0], "outbox")) == ROUNDS  # each case's DSL notified once
    for case in cases:
        assert [e.kind for e in await stores[1].case_events(case.id)] == ["reported"]


async def test_reports_numbered_by_two_processes_at_once_get_different_references(stores):
    made = await asyncio.gather(*(create(stores[n % 2], f"draft-{n}") for n in range(2 * ROUNDS)))
    references = sorted(case.reference for case, created in made if created)
    assert references == [f"OSB-2026-{n:04d}" for n in range(1, 2 * ROUNDS + 1)]


async def test_events_appended_to_one_case_by_two_processes_keep_one_chain(stores):
    case, _ = await create(stores[0], "draft-1")

    async def append(store: PostgresStore, who: str) -> None:
        for n in range(ROUNDS):
            await store.record_events([CaseEvent(case_id=case.id, actor=who, kind="note_added",
                                                 detail={"n": n}, at=WHEN + timedelta(minutes=n))])

    await asyncio.gather(append(stores[0], "console:dsl"), append(stores[1], "console:deputy"))
    report = await stores[1].verify_case_chain(case.id)
    assert report.intact, report.problems
    assert report.events == report.hashed == 1 + 2 * ROUNDS


# --- reminders and notifications, each sent once ------------------------------------------------------


def reminder_about(case: Case):
    """What the scheduler prepares for an unacknowledged case; None once it is no longer due."""

    def prepare(current: Case, events: list[CaseEvent]):
        if any(e.kind == "reminded" for e in events):
            return None
        return ([CaseEvent(case_id=current.id, actor="system", kind="reminded", at=WHEN)],
                [Notification(recipient="console:dsl", case_id=current.id,
                              replies=[Reply(key="reminders.not_acknowledged", text="Still waiting")])], [])

    return prepare


async def test_a_case_reminder_claimed_by_two_processes_at_once_is_sent_once(stores):
    for n in range(ROUNDS):
        case, _ = await create(stores[0], f"draft-{n}")
        claims = await asyncio.gather(*(s.claim_case_reminder("default", f"remind:{case.id}", "reminded", case.id,
                                                              WHEN, reminder_about(case)) for s in stores))
        assert sorted(claims) == [False, True]
        assert [e.kind for e in await stores[0].case_events(case.id)] == ["reported", "reminded"]
    reminders = [r for r in stored_rows(stores[0], "outbox") if "reminders.not_acknowledged" in r["replies"]]
    assert len(reminders) == ROUNDS and len(stored_rows(stores[1], "sent_reminders")) == ROUNDS


async def test_a_stored_reminder_claimed_by_two_processes_at_once_is_sent_once(stores):
    for _ in range(ROUNDS):
        reminder = Reminder(recipient="console:teacher", kind="privacy_check", due_at=WHEN)
        await stores[0].add_reminder(reminder)
        sends = [[note("console:teacher")] for _ in stores]
        claims = await asyncio.gather(
            *(s.claim_reminder(reminder.id, WHEN, sent) for s, sent in zip(stores, sends, strict=True))
        )
        assert sorted(claims) == [False, True]
    assert len(stored_rows(stores[0], "outbox")) == ROUNDS  # only the winners' notifications were queued


async def test_two_processes_claiming_notifications_at_once_get_different_ones(stores):
    queued = [note(f"slack:U{n}") for n in range(40)]
    await stores[0].queue_notifications(queued)
    batches = await asyncio.gather(*(s.claim_notifications("slack", limit=5) for s in stores for _ in range(4)))
    claimed = [n.id for batch in batches for n in batch]
    assert len(claimed) == len(set(claimed)) == 40
    assert await stores[1].claim_notifications("slack") == []


async def test_notifications_of_a_sender_that_died_are_offered_to_the_other_once_the_lease_runs_out(schema, stores):
    await stores[0].queue_notifications([note("slack:U1"), note("slack:U2")])
    dying = PostgresStore(POSTGRES_URL, schema=schema, record_key=TEST_RECORD_KEY)
    await dying.open()
    taken = await dying.claim_notifications("slack", lease_seconds=0.5)
    await dying.close()  # gone without marking them delivered
    assert await stores[1].claim_notifications("slack") == []  # still leased
    await asyncio.sleep(0.6)
    offered = await stores[1].claim_notifications("slack")
    assert [n.id for n in offered] == [n.id for n in taken]


# --- one turn at a time, across processes --------------------------------------------------------------


async def test_a_conversation_locked_in_one_process_waits_in_the_other(stores):
    key = "default/slack:T1:D1"
    async with stores[0].conversation_lock(key):
        assert not await entered_within(stores[1].conversation_lock(key), 0.3)
        assert await entered_within(stores[1].conversation_lock("default/slack:T1:D2"), 5)
    assert await entered_within(stores[1].conversation_lock(key), 5)


async def test_the_lock_of_a_process_killed_mid_turn_is_released(stores):
    key = "default/slack:T1:D1"
    held = asyncio.Event()

    async def turn() -> None:
        async with stores[0].conversation_lock(key):
            held.set()
            await asyncio.sleep(60)

    holder = asyncio.create_task(turn())
    await held.wait()
    # The server ends the session holding the lock, as it does when the process holding it dies. (A 64-bit
    # advisory lock key shows in pg_locks as its high and low halves.)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        (k,) = admin.execute("SELECT hashtextextended(%s, 0)",
                             [stores[0]._lock_name(f"conversation:{key}")]).fetchone()
        (ended,) = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1",
            [(k >> 32) & 0xFFFFFFFF, k & 0xFFFFFFFF]).fetchone()
    assert ended == 1
    assert await entered_within(stores[1].conversation_lock(key), 5)
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    assert await entered_within(stores[0].conversation_lock(key), 5)  # the dead connection went back to no one
