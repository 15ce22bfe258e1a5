"""The store on its own, on SQLite and on PostgreSQL: schema, append-only events, references, idempotent cases,
outbox and leases, conversation locks and state. (What only matters across processes sharing PostgreSQL is in
test_store_postgres.py.)"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest

from bot.core.models import (
    Case,
    CaseEvent,
    CaseStatus,
    ConversationState,
    Evidence,
    Frame,
    Notification,
    Reminder,
    Reply,
    Role,
    Route,
    StaffMember,
)
from bot.store import PostgresStore, SQLiteStore, Store, StoreError, migrations, open_store
from bot.store.dialect import POSTGRES, SQLITE
from tests.conftest import run_sql, stored_rows

# What either database raises when a trigger or a constraint refuses a change.
IntegrityError = (sqlite3.IntegrityError, psycopg.IntegrityError)

WHEN = datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc)


def make_case(draft_id: str, *, school_id: str = "default", created_at: datetime = WHEN) -> Case:
    return Case(
        draft_id=draft_id, school_id=school_id, categories=["targeting_me"], reporter="console:teacher",
        answers={"platforms": ["instagram"]}, content_version="test",
        routed_to=[Route(user="console:dsl", role=Role.DSL, reason="the DSL")],
        created_at=created_at, updated_at=created_at,
    )


def notify_dsl(case: Case) -> list[Notification]:
    return [Notification(
        school_id=case.school_id, recipient="console:dsl", case_id=case.id,
        replies=[Reply(key="case.new_card", text=f"New case {case.reference}")],
    )]


async def create(store, draft_id: str, **kwargs) -> tuple[Case, bool]:
    case = make_case(draft_id, **kwargs)
    events = [CaseEvent(case_id=case.id, actor="console:teacher", kind="reported", at=case.created_at)]
    return await store.create_case(case, events, [], notify_dsl, "OSB")


# --- the database and its schema --------------------------------------------------------------


def test_open_store_chooses_the_store_by_url(tmp_path):
    assert isinstance(open_store(str(tmp_path / "bot.db")), SQLiteStore)
    assert open_store(f"sqlite:///{tmp_path}/bot.db").path == f"{tmp_path}/bot.db"
    for url in ("postgresql://postgres@127.0.0.1:5432/test", "postgres://postgres@127.0.0.1/test"):
        chosen = open_store(url)
        assert isinstance(chosen, PostgresStore) and chosen.url == url


def test_both_databases_have_the_same_migrations():
    """One list for both, numbered once each; every migration says something to each database, in its words."""
    assert len({m.version for m in migrations.MIGRATIONS}) == len(migrations.MIGRATIONS)
    for m in migrations.MIGRATIONS:
        for dialect in (SQLITE, POSTGRES):
            script = m.script(dialect)
            assert "{" not in script and any(
                line.strip() and not line.strip().startswith("--") for line in script.splitlines()
            ), (m.version, dialect)


@pytest.mark.sqlite_only
async def test_a_file_database_uses_wal_journal_mode(store):
    (mode,) = store.db.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


@pytest.mark.sqlite_only
async def test_the_wal_is_folded_back_off_the_writers_thread_and_truncated_when_large(store, monkeypatch):
    import bot.store.sqlite as sqlite_store

    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)  # never inside a commit
    wal = Path(store.path + "-wal")
    monkeypatch.setattr(sqlite_store, "WAL_TRUNCATE_BYTES", 0)  # any WAL counts as large
    await create(store, "draft-1")
    assert wal.stat().st_size > 0
    for _ in range(40):  # the background round runs every second
        if wal.stat().st_size == 0:
            break
        await asyncio.sleep(0.1)
    assert wal.stat().st_size == 0
    assert len(await store.list_cases("default")) == 1


async def test_foreign_keys_are_enforced(store):
    with pytest.raises(IntegrityError):
        run_sql(store, 'INSERT INTO case_routes (case_id, school_id, "user") VALUES (?, ?, ?)',
                ["no-such-case", "default", "console:dsl"])


def applied(store: Store) -> list[tuple[int, str]]:
    return [(r["version"], r["name"]) for r in sorted(stored_rows(store, "migrations"), key=lambda r: r["version"])]


async def test_migrations_are_recorded(store):
    assert applied(store) == [(m.version, m.name) for m in sorted(migrations.MIGRATIONS)]
    assert all(r["applied_at"] for r in stored_rows(store, "migrations"))
    for table in ("conversations", "handled_turns", "staff", "cases", "case_events", "outbox", "reminders",
                  "privacy_checks", "reference_sequences"):
        assert stored_rows(store, table) == [], table  # there, and empty


async def test_reopening_applies_no_migration_twice(store, another_store):
    before = stored_rows(store, "migrations")
    await store.close()
    again = await another_store()
    assert stored_rows(again, "migrations") == before  # same rows, same applied_at
    # The seed row of the first migration was not inserted a second time either.
    assert len(stored_rows(again, "schools")) == 1


# --- case events are append-only --------------------------------------------------------------


async def test_case_events_cannot_be_updated(store):
    case, _ = await create(store, "draft-1")
    with pytest.raises(IntegrityError, match="append-only"):
        run_sql(store, "UPDATE case_events SET kind = 'tampered' WHERE case_id = ?", [case.id])
    assert [e.kind for e in await store.case_events(case.id)] == ["reported"]


async def test_case_events_cannot_be_deleted(store):
    case, _ = await create(store, "draft-1")
    with pytest.raises(IntegrityError, match="append-only"):
        run_sql(store, "DELETE FROM case_events WHERE case_id = ?", [case.id])
    assert [e.kind for e in await store.case_events(case.id)] == ["reported"]


async def test_each_event_is_chained_to_the_one_before(store):
    case, _ = await create(store, "draft-1")
    await store.record_events([CaseEvent(case_id=case.id, actor="console:dsl", kind="acknowledged", at=WHEN)])
    first, second = await store.case_events(case.id)
    assert first.prev_hash is None and second.prev_hash == first.hash
    report = await store.verify_case_chain(case.id)
    assert report.intact and report.hashed == 2 and report.head == second.hash


async def test_new_case_events_are_appended_in_order(store):
    case, _ = await create(store, "draft-1")
    await store.record_events([
        CaseEvent(case_id=case.id, actor="console:dsl", kind="acknowledged", at=WHEN),
        CaseEvent(case_id=case.id, actor="console:dsl", kind="note", detail={"text": "Spoke to IT"}, at=WHEN),
    ])
    events = await store.case_events(case.id)
    assert [(e.kind, e.actor) for e in events] == [
        ("reported", "console:teacher"), ("acknowledged", "console:dsl"), ("note", "console:dsl"),
    ]
    assert events[2].detail == {"text": "Spoke to IT"}


# --- references -------------------------------------------------------------------------------


async def test_references_count_up_within_a_year(store):
    first, _ = await create(store, "draft-1")
    second, _ = await create(store, "draft-2")
    third, _ = await create(store, "draft-3")
    assert [first.reference, second.reference, third.reference] == ["OSB-2026-0001", "OSB-2026-0002", "OSB-2026-0003"]
    assert (await store.get_case("default", "osb-2026-0002")).id == second.id


async def test_references_restart_each_year(store):
    await create(store, "draft-1")
    await create(store, "draft-2")
    new_year, _ = await create(store, "draft-3", created_at=datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc))
    later, _ = await create(store, "draft-4", created_at=datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc))
    assert new_year.reference == "OSB-2027-0001"
    assert later.reference == "OSB-2026-0003"


async def test_references_are_counted_per_school(store):
    run_sql(store, "INSERT INTO schools (id, name) VALUES ('riverside', 'Riverside Primary')")
    await create(store, "draft-1")
    await create(store, "draft-2")
    other, _ = await create(store, "draft-3", school_id="riverside")
    assert other.reference == "OSB-2026-0001"
    assert (await store.get_case("riverside", "OSB-2026-0001")).id == other.id
    assert (await store.get_case("default", "OSB-2026-0001")).id != other.id


# --- one case per draft -----------------------------------------------------------------------


async def test_creating_the_same_draft_twice_returns_the_first_case(store):
    first, created = await create(store, "draft-1")
    assert created is True
    again, created_again = await create(store, "draft-1")
    assert created_again is False
    assert again.id == first.id and again.reference == "OSB-2026-0001"
    assert len(await store.list_cases("default")) == 1
    # No second notification, no second set of events, and the sequence did not move on.
    assert len(stored_rows(store, "outbox")) == 1
    assert [e.kind for e in await store.case_events(first.id)] == ["reported"]
    following, _ = await create(store, "draft-2")
    assert following.reference == "OSB-2026-0002"


async def test_a_stored_case_reads_back_as_it_was_created(store):
    case, _ = await create(store, "draft-1")
    (read,) = await store.list_cases("default")
    assert read == case
    assert read.routed_to == [Route(user="console:dsl", role=Role.DSL, reason="the DSL")]
    assert await store.list_cases("default", routed_to="console:dsl") == [case]
    assert await store.list_cases("default", routed_to="console:head") == []


# --- the outbox -------------------------------------------------------------------------------


async def test_waiting_notifications_stay_until_the_turn_showing_them_is_saved(store):
    case, _ = await create(store, "draft-1")
    await store.queue_notifications([Notification(
        recipient="console:dsl", case_id=case.id, replies=[Reply(key="case.reminder", text="Still open")],
    )])
    waiting = await store.waiting_notifications("default", "console:dsl")
    assert [n.replies[0].key for n in waiting] == ["case.new_card", "case.reminder"]
    assert waiting[0].replies[0].text == "New case OSB-2026-0001"
    assert await store.waiting_notifications("default", "console:dsl") == waiting  # a failed turn loses none
    await store.save_conversation("default/console:dsl", "default", "console:dsl", ConversationState(),
                                  delivered=[n.id for n in waiting])
    assert await store.waiting_notifications("default", "console:dsl") == []


async def test_waiting_notifications_are_the_recipients_own_and_not_those_being_sent(store):
    await create(store, "draft-1")
    assert await store.waiting_notifications("default", "console:deputy") == []
    assert len(await store.waiting_notifications("default", "console:dsl")) == 1
    [leased] = await store.claim_notifications("console", lease_seconds=60)
    assert await store.waiting_notifications("default", "console:dsl") == []  # a sender has it now
    await store.release_notification(leased.id)  # its send failed
    assert [n.id for n in await store.waiting_notifications("default", "console:dsl")] == [leased.id]
    assert [n.id for n in await store.claim_notifications("console")] == [leased.id]  # offered again at once


async def test_a_notification_refused_for_good_is_no_longer_pushed_but_still_shown_when_they_open_the_bot(store):
    await create(store, "draft-1")
    [note] = await store.claim_notifications("console", lease_seconds=60)
    await store.mark_failed(note.id, "too_big")
    assert await store.claim_notifications("console") == []
    assert await store.pending_notifications("console") == []
    assert [n.id for n in await store.waiting_notifications("default", "console:dsl")] == [note.id]


async def test_someone_whose_chat_refused_is_unreachable_until_they_write_again(store):
    reference = {"conversation": {"id": "a:1"}, "serviceUrl": "https://smba.trafficmanager.net/uk/"}
    await store.save_conversation_ref("default", "teams:dana", "teams", reference)
    await store.save_conversation_ref("default", "teams:sam", "teams", reference)
    await store.queue_notifications([Notification(recipient="teams:dana", replies=[Reply(key="k", text="t")])])
    await store.mark_unreachable("default", "teams:dana", "blocked")
    assert await store.reachable_users("default", "teams") == {"teams:sam"}
    assert await store.unreachable_users("default", "teams") == {"teams:dana": "blocked"}
    assert await store.claim_notifications("teams", reachable_only=True) == []
    await store.save_conversation_ref("default", "teams:dana", "teams", reference)  # they wrote to the bot again
    assert await store.reachable_users("default", "teams") == {"teams:dana", "teams:sam"}
    assert await store.unreachable_users("default", "teams") == {}
    assert len(await store.claim_notifications("teams", reachable_only=True)) == 1


# --- conversations ----------------------------------------------------------------------------


async def test_conversation_state_round_trips(store):
    state = ConversationState(
        frames=[Frame(flow="report_concern", step="accounts",
                      answers={"categories": ["targeting_me"], "images": "no", "platforms": ["instagram"]},
                      history=["categories", "images", "platforms"])],
        offered=[{"id": "skip", "label": "Skip"}], numbered=["skip"], updated_at=WHEN,
    )
    await store.save_conversation("default/console:teacher", "default", "console:teacher", state)
    loaded = await store.load_conversation("default/console:teacher")
    assert loaded == state
    assert loaded.active.answers["platforms"] == ["instagram"]
    assert await store.load_conversation("default/console:nobody") is None


async def test_saving_again_replaces_the_state(store):
    key = "default/console:teacher"
    await store.save_conversation(key, "default", "console:teacher", ConversationState(numbered=["a"], updated_at=WHEN))
    await store.save_conversation(key, "default", "console:teacher", ConversationState(numbered=["b"], updated_at=WHEN))
    assert (await store.load_conversation(key)).numbered == ["b"]
    assert len(stored_rows(store, "conversations")) == 1


async def test_turn_ids_saved_with_a_conversation_are_seen(store):
    key = "default/console:teacher"
    assert await store.turn_seen("evt-1") is False
    await store.save_conversation(key, "default", "console:teacher", ConversationState(updated_at=WHEN), "evt-1")
    assert await store.turn_seen("evt-1") is True
    assert await store.turn_seen("evt-2") is False
    # Saving the same turn id again (a retried save) is not an error.
    await store.save_conversation(key, "default", "console:teacher", ConversationState(updated_at=WHEN), "evt-1")
    assert await store.turn_seen("evt-1") is True



async def test_notes_for_people_not_yet_reachable_do_not_hold_up_the_others(store):
    from bot.core.models import Notification, Reply

    waiting = [
        Notification(recipient=f"teams:never-opened-{n}", replies=[Reply(key="k", text="t")]) for n in range(150)
    ]
    ready = Notification(recipient="teams:opened", replies=[Reply(key="k", text="t")])
    await store.queue_notifications(waiting + [ready])
    await store.save_conversation_ref("default", "teams:opened", "teams", {"conversation": {"id": "a:1"}})
    assert [n.recipient for n in await store.pending_notifications("teams", reachable_only=True)] == ["teams:opened"]
    assert len(await store.pending_notifications("teams")) == 100


# --- notifications leased to one sender ---------------------------------------------------------------


def note(recipient: str) -> Notification:
    return Notification(recipient=recipient, replies=[Reply(key="k", text="t")])


async def test_claimed_notifications_are_leased_to_one_sender_oldest_first(store):
    queued = [note(f"slack:U{n}") for n in range(3)] + [note("teams:someone")]
    await store.queue_notifications(queued)
    first = await store.claim_notifications("slack", limit=2)
    assert [n.id for n in first] == [queued[0].id, queued[1].id]
    assert [n.id for n in await store.claim_notifications("slack")] == [queued[2].id]
    assert await store.claim_notifications("slack") == []  # all leased
    # Leases do not change what is pending, nor is anything marked delivered.
    assert len(await store.pending_notifications("slack")) == 3
    await store.mark_delivered(first[0].id)
    assert [n.id for n in await store.pending_notifications("slack")] == [queued[1].id, queued[2].id]


async def test_a_lease_that_has_run_out_is_offered_again_until_delivered(store):
    queued = [note("slack:U1"), note("slack:U2")]
    await store.queue_notifications(queued)
    # A sender that claimed with no time at all (as if it had died long ago): the next claim gets them again.
    assert len(await store.claim_notifications("slack", lease_seconds=0)) == 2
    again = await store.claim_notifications("slack", lease_seconds=60)
    assert [n.id for n in again] == [n.id for n in queued]
    assert await store.claim_notifications("slack") == []
    await store.mark_delivered(queued[0].id)
    await store.claim_notifications("slack", lease_seconds=0)  # nothing to claim: U2's lease still runs
    assert await store.claim_notifications("slack") == []


async def test_claiming_only_the_reachable_skips_those_who_never_opened_the_bot(store):
    await store.queue_notifications([note(f"teams:never-opened-{n}") for n in range(3)] + [note("teams:opened")])
    await store.save_conversation_ref("default", "teams:opened", "teams", {"conversation": {"id": "a:1"}})
    assert [n.recipient for n in await store.claim_notifications("teams", limit=1, reachable_only=True)] == \
        ["teams:opened"]
    assert len(await store.claim_notifications("teams")) == 3


# --- conversation locks ---------------------------------------------------------------------------


async def entered_within(lock, seconds: float) -> bool:
    """Whether `lock` can be taken within `seconds` (and if so it is released again)."""
    try:
        async with asyncio.timeout(seconds):
            async with lock:
                return True
    except TimeoutError:
        return False


async def test_a_conversation_lock_holds_off_other_turns_of_that_conversation_only(store):
    async with store.conversation_lock("default/console:teacher"):
        assert not await entered_within(store.conversation_lock("default/console:teacher"), 0.2)
        assert await entered_within(store.conversation_lock("default/console:dsl"), 5)
    assert await entered_within(store.conversation_lock("default/console:teacher"), 5)


async def test_turns_of_one_conversation_run_one_at_a_time_in_arrival_order(store):
    running, order = [], []

    async def turn(n: int) -> None:
        async with store.conversation_lock("default/console:teacher"):
            running.append(n)
            assert running == [n], "two turns at once"
            await asyncio.sleep(0.01)
            order.append(n)
            running.remove(n)

    tasks = []
    for n in range(4):
        tasks.append(asyncio.create_task(turn(n)))
        await asyncio.sleep(0.01)  # arrive in order
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3]


async def test_a_conversation_lock_is_released_on_error_and_on_cancellation(store):
    key = "default/console:teacher"
    with pytest.raises(RuntimeError):
        async with store.conversation_lock(key):
            raise RuntimeError("the turn failed")
    assert await entered_within(store.conversation_lock(key), 5)

    held = asyncio.Event()

    async def turn() -> None:
        async with store.conversation_lock(key):
            held.set()
            await asyncio.sleep(60)

    holder = asyncio.create_task(turn())
    await held.wait()
    waiter = asyncio.create_task(entered_within(store.conversation_lock(key), 60))
    await asyncio.sleep(0.05)
    waiter.cancel()  # a turn given up while waiting takes nothing with it
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await entered_within(store.conversation_lock(key), 5)


# --- retention ----------------------------------------------------------------------------------------


def table_names(store: Store) -> list[str]:
    if isinstance(store, SQLiteStore):
        return [r["name"] for r in run_sql(store, "SELECT name FROM sqlite_master WHERE type = 'table'"
                                                  " AND name NOT LIKE 'sqlite_%'")]
    return [r["table_name"] for r in run_sql(store, "SELECT table_name FROM information_schema.tables"
                                                    " WHERE table_schema = current_schema()")]


async def test_a_purge_removes_every_trace_of_a_closed_case_and_leaves_a_tombstone(store):
    case = make_case("draft-1")
    case, _ = await store.create_case(
        case, [CaseEvent(case_id=case.id, actor="console:teacher", kind="reported", at=WHEN)],
        [Evidence(case_id=case.id, name="shot.png", ref="file:///shot.png", added_by="console:teacher", added_at=WHEN)],
        notify_dsl, "OSB")
    other, _ = await create(store, "draft-2")
    ref = case.reference
    await store.record_events([CaseEvent(case_id=other.id, actor="console:dsl", kind="note_added",
                                         detail={"text": f"Same account as {ref}"}, at=WHEN)])
    await store.record_card_post("default", ref, "console:dsl", "D1", "m1")
    await store.add_reminder(Reminder(recipient="console:dsl", kind="follow_up", due_at=WHEN, detail={"ref": ref}))
    await store.save_conversation("default/console:dsl", "default", "console:dsl", ConversationState(
        frames=[Frame(flow="privacy_check", step="platforms"),
                Frame(flow="case_note", step="text", answers={"reference": ref})],
        offered=[{"id": f"case:{ref}:ack", "label": "Acknowledge"}], updated_at=WHEN))
    assert await store.claim_case_reminder("default", f"remind:{case.id}", "reminded", case.id, WHEN,
                                           lambda c, e: ([], [], []))
    with pytest.raises(StoreError, match="not closed"):
        await store.purge_case("default", ref, purged_at=WHEN, purged_by="console:dsl", policy="test")
    await store.update_case(case.model_copy(update={"status": CaseStatus.CLOSED}),
                            [CaseEvent(case_id=case.id, actor="console:dsl", kind="closed", at=WHEN)], [])

    tombstone = await store.purge_case("default", ref.lower(), purged_at=WHEN, purged_by="console:dsl", policy="test")
    assert tombstone.removed == {"case_routes": 1, "case_events": 2, "evidence": 1, "outbox": 1, "sent_reminders": 1,
                                 "card_posts": 1, "reminders": 1, "conversations": 1, "cases": 1}
    assert tombstone.still_mentioned == ["case_events"]  # the other case's note
    assert (tombstone.reference, tombstone.events_removed, tombstone.closed_at) == (ref, 2, WHEN)
    assert await store.list_tombstones("default") == [tombstone.model_copy(update={"still_mentioned": []})]
    assert await store.get_case("default", ref) is None and await store.case_events(case.id) == []
    for table in table_names(store):
        for row in stored_rows(store, table):
            text = str(row)
            assert case.id not in text and "draft-1" not in text, table
            assert ref not in text or table in ("case_tombstones", "case_events"), table
    state = await store.load_conversation("default/console:dsl")
    assert [f.flow for f in state.frames] == ["privacy_check"] and state.offered == []
    assert (await store.verify_case_chain(other.id)).intact


async def test_events_of_many_cases_come_in_one_go_by_kind_each_in_order(store):
    first, _ = await create(store, "draft-1")
    second, _ = await create(store, "draft-2")
    await store.record_events([CaseEvent(case_id=first.id, actor="console:dsl", kind="acknowledged"),
                               CaseEvent(case_id=second.id, actor="console:dsl", kind="note_added"),
                               CaseEvent(case_id=first.id, actor="console:dsl", kind="closed")])
    found = await store.events_of_cases([first.id, second.id, "no-such-case"], ["reported", "acknowledged", "closed"])
    assert [e.kind for e in found[first.id]] == ["reported", "acknowledged", "closed"]
    assert [e.kind for e in found[second.id]] == ["reported"]
    assert found["no-such-case"] == []
    assert found[first.id] == [
        e for e in await store.case_events(first.id) if e.kind in ("reported", "acknowledged", "closed")
    ]


async def test_each_person_has_one_live_card_per_case(store):
    """Showing a case's card again replaces the one shown before: card updates go to one message, and the channel
    is told which earlier messages to take the buttons off."""
    assert await store.record_card_post("default", "OSB-2026-0001", "slack:UDSL", "D1", "100.1") == []
    assert await store.record_card_post("default", "OSB-2026-0001", "slack:UDSL", "D1", "100.1") == []  # a retry
    assert await store.record_card_post("default", "OSB-2026-0001", "slack:UDSL", "D1", "200.2") == [("D1", "100.1")]
    await store.record_card_post("default", "OSB-2026-0001", "slack:UDEP", "D2", "300.3")
    await store.record_card_post("default", "OSB-2026-0002", "slack:UDSL", "D1", "400.4")
    assert await store.card_posts("default", "OSB-2026-0001", "slack:UDSL") == [("D1", "200.2")]
    assert await store.card_posts("default", "OSB-2026-0001", "slack:UDEP") == [("D2", "300.3")]


# --- the inbox: input kept before it is acknowledged ----------------------------------------------


async def test_kept_input_is_offered_again_only_once_its_lease_has_run_out_and_goes_when_done(store, another_store):
    first = await store.keep_input("slack", '{"type": "event_callback"}', "application/json", lease_seconds=60)
    stale = await store.keep_input("slack", "payload=%7B%7D", "application/x-www-form-urlencoded", lease_seconds=0)
    await store.keep_input("teams", "{}", "application/json", lease_seconds=0)
    other = await another_store()  # another process, or the next one after a crash

    (claimed,) = await other.claim_inputs("slack", lease_seconds=60)
    assert (claimed.id, claimed.body, claimed.content_type) == (stale, "payload=%7B%7D",
                                                                "application/x-www-form-urlencoded")
    assert await store.claim_inputs("slack", lease_seconds=60) == []  # leased now, as `first` still is
    await other.input_done(stale)
    await store.input_done(first)
    assert [r["platform"] for r in stored_rows(store, "inbox")] == ["teams"]


# --- the record key -------------------------------------------------------------------------------------


async def test_the_record_key_is_made_beside_an_sqlite_database_and_a_lost_or_other_key_is_refused(
        tmp_path, monkeypatch):
    from bot.store import record_key

    monkeypatch.delenv("OSB_RECORD_KEY", raising=False)
    db = tmp_path / "bot.db"
    store = SQLiteStore(db)
    await store.open()
    case, _ = await create(store, "draft-1")
    await store.close()
    key_path = tmp_path / "bot.db.record-key"
    assert Path(key_path).stat().st_mode & 0o777 == 0o600
    key = record_key.read_key_file(key_path)

    key_path.rename(tmp_path / "elsewhere")
    with pytest.raises(StoreError, match="the record key is missing.*Restore that key"):
        await SQLiteStore(db).open()
    assert not key_path.exists()  # no new key made in its place
    monkeypatch.setenv("OSB_RECORD_KEY", "ab" * 32)
    with pytest.raises(StoreError, match="is not the one this database's case records were sealed with"):
        await SQLiteStore(db).open()
    monkeypatch.setenv("OSB_RECORD_KEY", key.hex())  # the original, given in the environment instead
    store = SQLiteStore(db)
    await store.open()
    assert (await store.verify_case_chain(case.id)).intact
    await store.close()


async def test_postgres_needs_the_record_key_given(store):
    if not isinstance(store, PostgresStore):
        pytest.skip("PostgreSQL only")
    bare = PostgresStore(store.url, schema=store.schema)
    with pytest.raises(StoreError, match="OSB_RECORD_KEY is not set|the record key is missing"):
        await bare.open()


@pytest.mark.sqlite_only
async def test_events_from_before_the_key_stay_verifiable_and_new_ones_are_keyed(store, db_path):
    """A database from before migration 20: its events are SHA-256 (keyed 0) and it has no key row yet. On the
    first start with a key they are the legacy events; every later one is sealed with the key."""
    from bot.store.base import event_hash

    case, _ = await create(store, "draft-1")
    await store.record_events([CaseEvent(case_id=case.id, actor="console:dsl", kind="acknowledged", at=WHEN)])
    await store.close()
    conn = sqlite3.connect(db_path)
    for trigger in ("case_events_no_update", "record_key_no_delete"):
        conn.execute(f"DROP TRIGGER {trigger}")
    previous = None
    for row_id, actor, kind, detail, at in conn.execute(
            "SELECT id, actor, kind, detail, at FROM case_events ORDER BY id").fetchall():
        digest = event_hash(case.id, actor, kind, json.loads(detail), at, previous)
        conn.execute(
            "UPDATE case_events SET prev_hash = ?, hash = ?, keyed = 0 WHERE id = ?", [previous, digest, row_id]
        )
        previous = digest
    conn.execute("UPDATE cases SET events_head = ?", [previous])
    conn.execute("DELETE FROM record_key")
    conn.commit()
    conn.close()

    reopened = SQLiteStore(db_path)
    await reopened.open()
    try:
        before = await reopened.verify_case_chain(case.id)
        assert before.intact and (before.events, before.keyed) == (2, 0)
        await reopened.record_events([CaseEvent(case_id=case.id, actor="console:dsl", kind="closed", at=WHEN)])
        after = await reopened.verify_case_chain(case.id)
        assert after.intact and (after.events, after.keyed) == (3, 1)
    finally:
        await reopened.close()


# --- SQLite: a turn's statements on the event loop's thread, never waiting for a lock there -------------------


def threads_running_statements(store: SQLiteStore) -> list[str]:
    """The name of the thread each statement runs on, from now on, on whichever connection."""
    names: list[str] = []
    for db in store.connections:
        db.conn.set_trace_callback(lambda _sql: names.append(threading.current_thread().name))
    return names


@pytest.mark.sqlite_only
async def test_a_turns_statements_run_on_the_event_loops_thread_and_long_jobs_on_the_store_thread(store):
    case, _ = await create(store, "draft-1")
    await store.update_case(case.model_copy(update={"status": CaseStatus.CLOSED}),
                            [CaseEvent(case_id=case.id, actor="console:dsl", kind="closed", at=WHEN)], [])
    names = threads_running_statements(store)
    await store.turn_seen("T1")
    await store.save_conversation("k", "default", "console:teacher", ConversationState(), "T1")
    assert await store.load_conversation("k") is not None
    assert set(names) == {threading.current_thread().name}  # no hand-off to another thread and back
    names.clear()
    await store.purge_case("default", case.reference, purged_at=WHEN, purged_by="console:dsl", policy="test")
    assert names and all(name.startswith("sqlite") for name in names)


@pytest.mark.sqlite_only
async def test_a_write_meeting_a_lock_waits_for_it_off_the_event_loop_and_later_calls_keep_their_order(
    store, db_path
):
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a CLI command, say, holding the write lock
    try:
        saving = asyncio.create_task(store.save_display_name("default", "console:dsl", "Dana Lee"))
        await asyncio.sleep(0)  # the save has met the lock and gone to the store thread
        reading = asyncio.create_task(store.display_names("default"))  # made later: must see the save
        ticks = 0
        for _ in range(5):  # the event loop goes on while the save waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 5 and not saving.done() and not reading.done()
    finally:
        other.execute("COMMIT")
        other.close()
    await saving
    assert await reading == {"console:dsl": "Dana Lee"}
    names = threads_running_statements(store)
    await store.display_names("default")
    assert set(names) == {threading.current_thread().name}  # the lock gone: back on the event loop's thread


async def test_a_turn_begins_with_one_read_of_its_retry_check_its_state_and_the_person(store):
    key, user = "default/console:dsl", "console:dsl"
    assert await store.begin_turn(key, "T1", "default", user) == (False, None, None)  # a first turn, not listed
    await store.upsert_staff(StaffMember(user=user, role=Role.DSL, name="Dana Lee"))
    state = ConversationState(offered=[{"id": "yes", "label": "Yes"}])
    await store.save_conversation(key, "default", user, state, "T1")
    seen, loaded, member = await store.begin_turn(key, "T1", "default", user)
    assert seen and loaded == state and member == await store.get_staff("default", user)
    assert await store.begin_turn(key, "T2", "default", user) == (False, state, member)
    assert await store.begin_turn(key, None, "default", user) == (False, state, member)  # no turn id: not a retry
    assert (await store.begin_turn(key, "T2", "other", user)).member is None  # another school's directory


# --- SQLite: a case and its record survive a power cut -----------------------------------------------------------


def statements(store: SQLiteStore) -> list[str]:
    traced: list[str] = []
    for db in store.connections:
        db.conn.set_trace_callback(traced.append)
    return traced


def synchronous_at_commits(traced: list[str]) -> list[str]:
    """The synchronous level each traced transaction committed (or rolled back) under, in order."""
    level, levels = "NORMAL", []
    for sql in traced:
        if sql.startswith("PRAGMA synchronous = "):
            level = sql.removeprefix("PRAGMA synchronous = ")
        elif sql in ("COMMIT", "ROLLBACK"):
            levels.append(level)
    return levels


@pytest.mark.sqlite_only
async def test_a_case_and_its_events_commit_synced_to_the_disk_and_other_writes_as_before(store):
    traced = statements(store)
    case, _ = await create(store, "draft-1")
    assert synchronous_at_commits(traced) == ["FULL"]
    traced.clear()
    await store.save_conversation("k", "default", "console:teacher", ConversationState(), "T1")
    await store.queue_notifications([Notification(recipient="console:dsl", replies=[Reply(key="k", text="t")])])
    assert synchronous_at_commits(traced) == ["NORMAL", "NORMAL"]
    traced.clear()
    await store.update_case(case.model_copy(update={"status": CaseStatus.ACKNOWLEDGED}),
                            [CaseEvent(case_id=case.id, actor="console:dsl", kind="acknowledged", at=WHEN)], [])
    await store.record_events([CaseEvent(case_id=case.id, actor="console:dsl", kind="note_added", at=WHEN)])
    with pytest.raises(StoreError):  # rolled back: the level goes back all the same
        await store.record_events([CaseEvent(case_id="no-such-case", actor="console:dsl", kind="note_added", at=WHEN)])
    assert synchronous_at_commits(traced) == ["FULL", "FULL", "FULL"]
    for db in store.connections:
        assert db.conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL between transactions
