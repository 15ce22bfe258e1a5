"""The SQLite store on its own: schema, append-only events, references, idempotent cases, outbox and state."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from bot.models import Case, CaseEvent, ConversationState, Frame, Notification, Reply, Role, Route
from bot.store import SQLiteStore
from bot.store.migrations import MIGRATIONS

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


# --- the file and its schema ------------------------------------------------------------------


async def test_a_file_database_uses_wal_journal_mode(store):
    (mode,) = store.db.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


async def test_foreign_keys_are_enforced(store):
    (on,) = store.db.execute("PRAGMA foreign_keys").fetchone()
    assert on == 1


async def test_migrations_are_recorded(store):
    rows = list(store.db["migrations"].rows)
    assert [(r["version"], r["name"]) for r in rows] == [(v, name) for v, name, _ in MIGRATIONS]
    assert all(r["applied_at"] for r in rows)
    for table in ("conversations", "handled_turns", "staff", "cases", "case_events", "outbox", "reminders",
                  "privacy_checks", "reference_sequences"):
        assert store.db[table].exists(), table


async def test_reopening_applies_no_migration_twice(store, db_path):
    before = list(store.db["migrations"].rows)
    await store.close()
    again = SQLiteStore(db_path)
    await again.open()
    try:
        assert list(again.db["migrations"].rows) == before  # same rows, same applied_at
        # The seed row of the first migration was not inserted a second time either.
        assert again.db["schools"].count == 1
    finally:
        await again.close()


# --- case events are append-only --------------------------------------------------------------


async def test_case_events_cannot_be_updated(store):
    case, _ = await create(store, "draft-1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.execute("UPDATE case_events SET kind = 'tampered' WHERE case_id = ?", [case.id])
    assert [e.kind for e in await store.case_events(case.id)] == ["reported"]


async def test_case_events_cannot_be_deleted(store):
    case, _ = await create(store, "draft-1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.execute("DELETE FROM case_events WHERE case_id = ?", [case.id])
    assert [e.kind for e in await store.case_events(case.id)] == ["reported"]


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
    store.db["schools"].insert({"id": "riverside", "name": "Riverside Primary"})
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
    assert store.db["outbox"].count == 1
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


async def test_take_notifications_delivers_each_notification_once(store):
    case, _ = await create(store, "draft-1")
    await store.queue_notifications([Notification(
        recipient="console:dsl", case_id=case.id, replies=[Reply(key="case.reminder", text="Still open")],
    )])
    taken = await store.take_notifications("default", "console:dsl")
    assert [n.replies[0].key for n in taken] == ["case.new_card", "case.reminder"]
    assert taken[0].replies[0].text == "New case OSB-2026-0001"
    assert await store.take_notifications("default", "console:dsl") == []


async def test_take_notifications_only_takes_the_recipients_own(store):
    await create(store, "draft-1")
    assert await store.take_notifications("default", "console:deputy") == []
    assert len(await store.take_notifications("default", "console:dsl")) == 1


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
    assert store.db["conversations"].count == 1


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
    from bot.models import Notification, Reply

    waiting = [Notification(recipient=f"teams:never-opened-{n}", replies=[Reply(key="k", text="t")]) for n in range(150)]
    ready = Notification(recipient="teams:opened", replies=[Reply(key="k", text="t")])
    await store.queue_notifications(waiting + [ready])
    await store.save_conversation_ref("default", "teams:opened", "teams", {"conversation": {"id": "a:1"}})
    assert [n.recipient for n in await store.pending_notifications("teams", reachable_only=True)] == ["teams:opened"]
    assert len(await store.pending_notifications("teams")) == 100
