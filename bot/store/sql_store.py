"""The one SQL store: every query and every transaction of the `Store`, written once.

It runs on SQLite (bot/store/sqlite.py) and PostgreSQL (bot/store/postgres.py) alike: a driver runs each
script (bot/store/sql.py) and a dialect (bot/store/dialect.py) says what differs. Both databases keep the same
text in the same columns (bot/store/rows.py makes and reads every row), so the event hash chain, ordering by
time and every read-back are the same whichever is underneath.

What must not interleave, and how each database keeps it so:
  - each write is one transaction (SQLite: BEGIN IMMEDIATE, one writer at a time; PostgreSQL: READ COMMITTED,
    with the row locks below); appends to a case's event log lock the case's row first, so the hash chain
    never forks;
  - a reference number comes from the school's counter row for the year, locked until the case is stored;
  - a report's draft id is unique: a second process storing the same draft finds the first case instead;
  - reminders are claimed under the case's row lock and a unique key; stored reminders and notifications by
    conditional updates (`SKIP LOCKED` for leases), so each is sent once;
  - an early-warning alert is claimed under a lock on its key; an OAuth state is consumed by the one DELETE
    that finds it.
"""

from __future__ import annotations

import json
import time
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Callable, Collection, Sequence

from bot.core.models import (
    Case,
    CaseEvent,
    ConversationState,
    Evidence,
    Notification,
    Reminder,
    Route,
    School,
    Sighting,
    StaffMember,
    new_id,
    utcnow,
)
from bot.store import migrations, record_key
from bot.store.base import CaseTombstone, ChainReport, KeptInput, StoreError, TurnStart
from bot.store.ports import Store
from bot.store.rows import (
    UNSCANNED,
    aware,
    case_from_row,
    case_row,
    chain_head,
    chained_rows,
    check_chain,
    event_from_row,
    installation_keys,
    not_empty,
    notification_from_row,
    notification_row,
    reminder_from_row,
    reminder_of_case,
    reminder_row,
    school_from_row,
    school_row,
    sighting_from_row,
    sighting_row,
    staff_from_row,
    staff_row,
    state_without_case,
    tombstone_for,
    tombstone_from_row,
    tombstone_row,
    ts,
    utc_day,
    utc_ts,
)
from bot.store.sql import (
    All,
    Count,
    Database,
    Lock,
    Many,
    One,
    Script,
    durable_writes,
    insert,
    long_reads,
    long_writes,
    reads,
    writes,
)

BATCH = 500  # values to one IN (...): well within either database's limit on parameters
# Tables a purge never deletes from by case id: the case row goes last, tombstones stay.
PURGE_SKIP = {"cases", "case_tombstones", "migrations"}
Prepare = Callable[[Case, list[CaseEvent]], tuple[list[CaseEvent], list[Notification], list[Route]] | None]


class _DraftTaken(Exception):
    """Another process stored a case for the same draft while this one waited for the reference counter."""


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


class SqlStore(Store):
    def __init__(self, database: Database):
        self.database = database
        self.dialect = database.dialect
        self._record_key = b""
        self._legacy_until = 0
        # Platforms with nothing new to claim since this process last claimed for them (`outbox_may_hold`).
        self._outbox_quiet: set[str] = set()

    # --- opening -----------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            await self.database.open()
            await migrations.apply(self.database)
            await self._settle_record_key()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        await self.database.close()

    async def claim_server(self) -> None:
        """Nothing to do where several processes may share the database (see `Lifecycle.claim_server`)."""

    def _find_record_key(self, stored: dict[str, Any] | None) -> tuple[bytes, str]:
        """The record key, and where it was found (for messages), given the database's row if it has one."""
        raise NotImplementedError

    async def _settle_record_key(self) -> None:
        """Find the record key and check it is the database's own; on the first start with one, write its row."""
        row = await self.database.read(self._record_key_row())
        key, where = self._find_record_key(row)
        if row is None:
            row = await self.database.write(self._first_record_key_row(key))
        record_key.check_row(row, key, where)
        self._record_key, self._legacy_until = key, int(row["legacy_until"])

    def _record_key_row(self) -> Script[dict[str, Any] | None]:
        return (yield One("SELECT * FROM record_key"))

    def _first_record_key_row(self, key: bytes) -> Script[dict[str, Any]]:
        yield Lock("record_key")  # two processes starting together: the second finds the first's row
        row = yield One("SELECT * FROM record_key")
        if row is None:
            found = yield One("SELECT coalesce(max(id), 0) AS n FROM case_events")
            row = record_key.key_row(key, int(found["n"]), ts(utcnow()))
            yield from insert("record_key", [row])
        return row

    def conversation_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        return self.database.conversation_lock(key)

    # --- conversations -------------------------------------------------------------------

    @reads
    def load_conversation(self, key: str) -> Script[ConversationState | None]:
        row = yield One("SELECT state FROM conversations WHERE key = %s", [key])
        return ConversationState.model_validate_json(row["state"]) if row else None

    @writes
    def save_conversation(
        self, key: str, school_id: str, user: str, state: ConversationState, turn_id: str | None = None,
        delivered: Sequence[str] = (),
    ) -> Script[None]:
        yield Count('INSERT INTO conversations (key, school_id, "user", state, updated_at) VALUES (%s, %s, %s, %s, %s)'
                    ' ON CONFLICT (key) DO UPDATE SET school_id = excluded.school_id, "user" = excluded."user",'
                    ' state = excluded.state, updated_at = excluded.updated_at',
                    [key, school_id, user, state.model_dump_json(), ts(state.updated_at)])
        if turn_id:
            yield Count("INSERT INTO handled_turns (turn_id, school_id, handled_at) VALUES (%s, %s, %s)"
                        " ON CONFLICT DO NOTHING", [turn_id, school_id, ts(utcnow())])
        if delivered:
            yield Many("UPDATE outbox SET delivered_at = %s WHERE id = %s AND delivered_at IS NULL",
                       [(ts(utcnow()), n) for n in delivered])

    @reads
    def turn_seen(self, turn_id: str) -> Script[bool]:
        return (yield One("SELECT 1 AS seen FROM handled_turns WHERE turn_id = %s", [turn_id])) is not None

    @reads
    def begin_turn(self, key: str, turn_id: str | None, school_id: str, user: str) -> Script[TurnStart]:
        # One row whatever is found: each part joined to a row of one, absent parts NULL.
        row = yield One('SELECT t.turn_id AS seen, c.state, s.school_id, s."user", s.role, s.roles, s.name'
                        " FROM (SELECT 1 AS one) AS turn"
                        " LEFT JOIN handled_turns t ON t.turn_id = %s"
                        " LEFT JOIN conversations c ON c.key = %s"
                        ' LEFT JOIN staff s ON s.school_id = %s AND s."user" = %s',
                        [turn_id or "", key, school_id, user])
        state = ConversationState.model_validate_json(row["state"]) if row["state"] is not None else None
        member = staff_from_row({k: row[k] for k in ("school_id", "user", "role", "roles", "name")}) \
            if row["user"] is not None else None
        return TurnStart(seen=bool(turn_id) and row["seen"] is not None, state=state, member=member)

    # --- the inbox: input kept before it is acknowledged ---------------------------------------

    async def keep_input(self, platform: str, body: str, content_type: str, lease_seconds: float) -> str:
        input_id = new_id()
        await self.database.write(insert("inbox", [{
            "id": input_id, "platform": platform, "body": body, "content_type": content_type,
            "received_at": utc_ts(utcnow()), "leased_until": time.time() + lease_seconds}]))
        return input_id

    async def claim_inputs(self, platform: str, lease_seconds: float, limit: int = 20) -> list[KeptInput]:
        now = time.time()
        waiting = "platform = %s AND leased_until <= %s"
        # Nearly always nothing: look first (indexed, no lock) before taking a write transaction.
        look = f"SELECT 1 AS waiting FROM inbox WHERE {waiting} LIMIT 1"
        if not await self.database.read(self._any(look, [platform, now])):
            return []

        def claim() -> Script[list[KeptInput]]:
            # SKIP LOCKED: two processes claiming at once take different inputs instead of waiting.
            rows = yield All(f"SELECT * FROM inbox WHERE {waiting} ORDER BY received_at{self.dialect.C}, id LIMIT %s"
                             f"{self.dialect.skip_locked}", [platform, now, limit])
            yield Many("UPDATE inbox SET leased_until = %s WHERE id = %s",
                       [(now + lease_seconds, r["id"]) for r in rows])
            return [KeptInput.model_validate(r) for r in rows]

        return await self.database.write(claim())

    def _any(self, sql: str, params: Sequence[Any]) -> Script[bool]:
        return (yield One(sql, params)) is not None

    @long_writes
    def prune_expired(self, *, handled_before: datetime, delivered_before: datetime,
                      now: float) -> Script[dict[str, int]]:
        C = self.dialect.C
        turns = yield Count(f"DELETE FROM handled_turns WHERE handled_at{C} < %s", [utc_ts(handled_before)])
        delivered = yield Count(f"DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at{C} < %s",
                                [utc_ts(delivered_before)])
        states = yield Count("DELETE FROM oauth_states WHERE expires_at <= %s", [now])
        return {"handled_turns": turns, "outbox": delivered, "oauth_states": states}

    @writes
    def input_done(self, input_id: str) -> Script[None]:
        yield Count("DELETE FROM inbox WHERE id = %s", [input_id])

    # --- schools (tenants) ----------------------------------------------------------------

    @writes
    def upsert_school(self, school: School) -> Script[None]:
        # The school's row stays locked until this transaction ends: two updates replace its workspaces in turn.
        yield from insert("schools", [school_row(school)],
                          "ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,"
                          " reference_prefix = excluded.reference_prefix, content_dir = excluded.content_dir,"
                          " nation = excluded.nation")
        yield Count("DELETE FROM school_workspaces WHERE school_id = %s", [school.id])
        yield from insert("school_workspaces", [{"platform": w.platform, "workspace_id": w.id, "school_id": school.id}
                                                for w in school.workspaces], "ON CONFLICT DO NOTHING")

    def _schools(self, where: str = "", params: Sequence[Any] = ()) -> Script[list[School]]:
        C = self.dialect.C
        rows = yield All(f"SELECT * FROM schools {where} ORDER BY CASE kind WHEN 'school' THEN 0 ELSE 1 END, id{C}",
                         params)
        found = yield All(f"SELECT * FROM school_workspaces WHERE school_id IN (SELECT id FROM schools {where})"
                          f" ORDER BY platform{C}, workspace_id{C}", params)
        workspaces: dict[str, list[dict[str, Any]]] = {}
        for w in found:
            workspaces.setdefault(w["school_id"], []).append(w)
        return [school_from_row(r, workspaces.get(r["id"], [])) for r in rows]

    async def get_school(self, school_id: str) -> School | None:
        found = await self.database.read(self._schools("WHERE id = %s", [school_id]))
        return found[0] if found else None

    async def list_schools(self) -> list[School]:
        return await self.database.read(self._schools())

    @writes
    def remove_school(self, school_id: str) -> Script[None]:
        # Locked first: staff, a case or a conversation added for the school meanwhile waits (their foreign key
        # needs the row), then fails once it has gone.
        if (yield One(f"SELECT 1 AS found FROM schools WHERE id = %s{self.dialect.for_update}", [school_id])) is None:
            raise StoreError(f"there is no school {school_id}")
        counts: dict[str, int] = {}
        for table in ("staff", "cases", "conversations", "case_tombstones"):
            counts[table] = (yield One(f"SELECT count(*) AS n FROM {table} WHERE school_id = %s", [school_id]))["n"]
        refused = not_empty(school_id, counts)
        if refused:
            raise StoreError(refused)
        yield Count("DELETE FROM school_workspaces WHERE school_id = %s", [school_id])
        yield Count("DELETE FROM reference_sequences WHERE school_id = %s", [school_id])
        yield Count("DELETE FROM schools WHERE id = %s", [school_id])

    @reads
    def schools_for_workspace(self, platform: str, workspace_id: str) -> Script[list[str]]:
        rows = yield All("SELECT school_id FROM school_workspaces WHERE platform = %s AND workspace_id = %s"
                         f" ORDER BY school_id{self.dialect.C}", [platform, workspace_id])
        return [r["school_id"] for r in rows]

    # --- staff directory -----------------------------------------------------------------

    @writes
    def upsert_staff(self, member: StaffMember) -> Script[None]:
        yield from insert("staff", [staff_row(member)], 'ON CONFLICT (school_id, "user") DO UPDATE SET'
                          ' role = excluded.role, roles = excluded.roles, name = excluded.name')

    @writes
    def remove_staff(self, school_id: str, user: str) -> Script[bool]:
        return (yield Count('DELETE FROM staff WHERE school_id = %s AND "user" = %s', [school_id, user])) > 0

    @reads
    def get_staff(self, school_id: str, user: str) -> Script[StaffMember | None]:
        row = yield One('SELECT * FROM staff WHERE school_id = %s AND "user" = %s', [school_id, user])
        return staff_from_row(row) if row else None

    @reads
    def list_staff(self, school_id: str) -> Script[list[StaffMember]]:
        C = self.dialect.C
        rows = yield All(f"SELECT * FROM staff WHERE school_id = %s ORDER BY role{C}, name{C}", [school_id])
        return [staff_from_row(r) for r in rows]

    # --- cases -----------------------------------------------------------------------------

    def _insert_events(self, events: list[CaseEvent], school_id: str) -> Script[None]:
        """Append events inside the caller's transaction (a durable one: `durable_writes`), each chained to its
        case's previous event: it stores that event's hash and its own (see `event_hash`), and the case remembers
        its latest hash. Each case's row is locked first (in a fixed order, so two writers cannot deadlock): two
        processes appending to one case take turns, and each chains onto the other's events."""
        heads: dict[str, str | None] = {}
        for case_id in sorted({e.case_id for e in events}):
            yield One(f"SELECT 1 AS locked FROM cases WHERE id = %s{self.dialect.for_update}", [case_id])
            last = yield One("SELECT hash FROM case_events WHERE case_id = %s ORDER BY id DESC LIMIT 1", [case_id])
            if last is None or last["hash"] is not None:
                heads[case_id] = last["hash"] if last else None
            else:  # events from before migration 4 carry no hash: chain on from the hash they would have had
                heads[case_id] = chain_head((yield All("SELECT * FROM case_events WHERE case_id = %s ORDER BY id",
                                                       [case_id])))
        yield from insert("case_events", chained_rows(events, school_id, heads, self._record_key))
        for case_id, head in heads.items():
            yield Count("UPDATE cases SET events_head = %s WHERE id = %s", [head, case_id])

    def _queue(self, notifications: list[Notification]) -> Script[int]:
        self._outbox_quiet -= {n.recipient.partition(":")[0] for n in notifications}
        return (yield from insert("outbox", [notification_row(n) for n in notifications]))

    def outbox_may_hold(self, platform: str) -> bool:
        return not self.database.writes_serially_here or platform not in self._outbox_quiet

    async def create_case(
        self, case: Case, events: list[CaseEvent], evidence: list[Evidence],
        notify: Callable[[Case], list[Notification]], reference_prefix: str, sightings: Sequence[Sighting] = (),
    ) -> tuple[Case, bool]:
        try:
            return await self.database.write(
                self._create_case(case, events, evidence, notify, reference_prefix, sightings), durable=True)
        except _DraftTaken:
            row = await self.database.read(self._case_by_draft(case.draft_id))
            if row is None:
                raise StoreError(f"the case of draft {case.draft_id} has gone") from None
            return case_from_row(row), False

    def _case_by_draft(self, draft_id: str) -> Script[dict[str, Any] | None]:
        return (yield One("SELECT * FROM cases WHERE draft_id = %s", [draft_id]))

    def _create_case(
        self, case: Case, events: list[CaseEvent], evidence: list[Evidence],
        notify: Callable[[Case], list[Notification]], reference_prefix: str, sightings: Sequence[Sighting],
    ) -> Script[tuple[Case, bool]]:
        existing = yield from self._case_by_draft(case.draft_id)
        if existing:
            return case_from_row(existing), False
        year = case.created_at.year
        # The counter's row stays locked until this transaction ends: numbering takes turns.
        counter = yield One("INSERT INTO reference_sequences (school_id, year, last) VALUES (%s, %s, 1)"
                            " ON CONFLICT (school_id, year) DO UPDATE SET last = reference_sequences.last + 1"
                            " RETURNING last", [case.school_id, year])
        stored = case.model_copy(update={"reference": f"{reference_prefix}-{year}-{counter['last']:04d}"})
        # Waits for a transaction inserting the same draft; if that one commits, this inserts nothing.
        if not (yield from insert("cases", [case_row(stored)], "ON CONFLICT (draft_id) DO NOTHING")):
            raise _DraftTaken  # rolls back, the counter too
        yield from insert("case_routes", [{"case_id": stored.id, "school_id": stored.school_id, "user": r.user}
                                          for r in stored.routed_to])
        yield from self._insert_events([e.model_copy(update={"case_id": stored.id}) for e in events], stored.school_id)
        yield from insert("evidence", [{**e.model_dump(mode="json"), "case_id": stored.id,
                                        "school_id": stored.school_id} for e in evidence])
        yield from self._queue(notify(stored))
        yield from insert("account_sightings", [sighting_row(s) for s in sightings])
        return stored, True

    @durable_writes
    def update_case(
        self, case: Case, events: list[CaseEvent], notifications: list[Notification], *,
        expected_status: str | None = None,
    ) -> Script[bool]:
        row = case_row(case)
        sql = "UPDATE cases SET status = %s, urgent = %s, outcome = %s, updated_at = %s WHERE id = %s"
        params = [row["status"], row["urgent"], row["outcome"], row["updated_at"], case.id]
        if expected_status is not None:
            sql, params = sql + " AND status = %s", params + [expected_status]
        if (yield Count(sql, params)) != 1:
            if expected_status is not None:
                return False  # another handler changed it first
            raise StoreError(f"no case with id {case.id}")
        yield from self._insert_events(events, case.school_id)
        yield from self._queue(notifications)
        return True

    @durable_writes
    def record_events(self, events: list[CaseEvent]) -> Script[None]:
        for event in events:
            case = yield One("SELECT school_id FROM cases WHERE id = %s", [event.case_id])
            if case is None:
                raise StoreError(f"no case with id {event.case_id}")
            yield from self._insert_events([event], case["school_id"])

    @reads
    def get_case(self, school_id: str, reference: str) -> Script[Case | None]:
        row = yield One("SELECT * FROM cases WHERE school_id = %s AND reference = %s", [school_id, reference.upper()])
        return case_from_row(row) if row else None

    @durable_writes
    def record_refusal(self, school_id: str, case_id: str | None, actor: str, at: datetime, action: str) -> Script[int]:
        row = yield One("INSERT INTO access_refusals (school_id, case_id, actor, day, count) VALUES (%s, %s, %s, %s, 1)"
                        " ON CONFLICT (case_id, school_id, actor, day) DO UPDATE SET count = access_refusals.count + 1"
                        " RETURNING count", [school_id, case_id or "", actor, utc_day(at)])
        if case_id and row["count"] == 1:
            yield from self._insert_events([CaseEvent(case_id=case_id, actor=actor, kind="access_refused", at=at,
                                                      detail={"action": action})], school_id)
        return row["count"]

    @reads
    def refusal_counts(self, case_id: str) -> Script[dict[tuple[str, str], int]]:
        rows = yield All("SELECT actor, day, count FROM access_refusals WHERE case_id = %s", [case_id])
        return {(r["actor"], r["day"]): r["count"] for r in rows}

    @reads
    def list_cases(
        self, school_id: str, *, routed_to: str | None = None, reporter: str | None = None, open_only: bool = False
    ) -> Script[list[Case]]:
        where, params = ["cases.school_id = %s"], [school_id]
        sql = "SELECT cases.* FROM cases"
        if routed_to:
            sql += " JOIN case_routes ON case_routes.case_id = cases.id"
            where.append('case_routes."user" = %s')
            params.append(routed_to)
        if reporter:
            where.append("cases.reporter = %s")
            params.append(reporter)
        if open_only:
            where.append("cases.status != 'closed'")  # as the partial index cases_open says it (migration 7)
        d = self.dialect
        sql += (f" WHERE {' AND '.join(where)}"
                f" ORDER BY cases.urgent DESC, cases.created_at{d.C}, cases.{d.insertion_order}")
        return [case_from_row(r) for r in (yield All(sql, params))]

    @reads
    def case_events(self, case_id: str) -> Script[list[CaseEvent]]:
        rows = yield All("SELECT * FROM case_events WHERE case_id = %s ORDER BY id", [case_id])
        return [event_from_row(r) for r in rows]

    @reads
    def events_of_cases(self, case_ids: Sequence[str], kinds: Sequence[str]) -> Script[dict[str, list[CaseEvent]]]:
        found: dict[str, list[CaseEvent]] = {case_id: [] for case_id in case_ids}
        ids = list(found)
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            for row in (yield All(f"SELECT * FROM case_events WHERE case_id IN ({_marks(batch)})"
                                  f" AND kind IN ({_marks(kinds)}) ORDER BY id", [*batch, *kinds])):
                found[row["case_id"]].append(event_from_row(row))
        return found

    @reads
    def case_evidence(self, case_id: str) -> Script[list[Evidence]]:
        rows = yield All("SELECT * FROM evidence WHERE case_id = %s ORDER BY id", [case_id])
        return [Evidence.model_validate(r) for r in rows]

    # --- notifications and reminders -----------------------------------------------------

    @writes
    def queue_notifications(self, notifications: list[Notification]) -> Script[None]:
        yield from self._queue(notifications)

    @reads
    def waiting_notifications(self, school_id: str, recipient: str) -> Script[list[Notification]]:
        d, lease = self.dialect, self.dialect.lease(0)
        rows = yield All("SELECT * FROM outbox WHERE school_id = %s AND recipient = %s AND delivered_at IS NULL"
                         f" AND (leased_until IS NULL OR leased_until <= {lease.now})"
                         f" ORDER BY created_at{d.C}, {d.insertion_order}", [school_id, recipient, *lease.now_params])
        return [notification_from_row(r) for r in rows]

    @staticmethod
    def _undelivered(reachable_only: bool) -> str:
        where = "delivered_at IS NULL AND failure IS NULL AND recipient LIKE %s"
        if reachable_only:
            where += (' AND EXISTS (SELECT 1 FROM conversation_refs r'
                      ' WHERE r.school_id = outbox.school_id AND r."user" = outbox.recipient AND r.failure IS NULL)')
        return where

    @reads
    def pending_notifications(self, platform: str, limit: int = 100,
                              reachable_only: bool = False) -> Script[list[Notification]]:
        d = self.dialect
        rows = yield All(f"SELECT * FROM outbox WHERE {self._undelivered(reachable_only)}"
                         f" ORDER BY created_at{d.C}, {d.insertion_order} LIMIT %s", [f"{platform}:%", limit])
        return [notification_from_row(r) for r in rows]

    async def claim_notifications(
        self, platform: str, limit: int = 100, reachable_only: bool = False, lease_seconds: float = 60,
        skip: Collection[str] = (),
    ) -> list[Notification]:
        d, lease = self.dialect, self.dialect.lease(lease_seconds)  # seconds since the epoch, or the database's now()
        waiting = f"{self._undelivered(reachable_only)} AND (leased_until IS NULL OR leased_until <= {lease.now})"
        params = [f"{platform}:%", *lease.now_params]
        # From here on, whatever is queued or released for the platform makes it worth a look again; what was
        # before, this claim finds (on SQLite no transaction runs between this line and its look).
        self._outbox_quiet.add(platform)
        skipped = sorted(skip)[:BATCH]  # any beyond are claimed as usual: skipping them only saves work
        if skipped:
            waiting += f" AND recipient NOT IN ({_marks(skipped)})"
            params += skipped
        # Most calls find nothing: look first (indexed, no lock) before taking a write transaction.
        if not await self.database.read(self._any(f"SELECT 1 AS waiting FROM outbox WHERE {waiting} LIMIT 1", params)):
            return []

        def claim() -> Script[list[Notification]]:
            # SKIP LOCKED: two senders claiming at once take different notifications instead of waiting; one whose
            # row was leased meanwhile is re-checked and left out.
            rows = yield All(f"SELECT * FROM outbox WHERE {waiting} ORDER BY created_at{d.C}, {d.insertion_order}"
                             f" LIMIT %s{d.skip_locked}", [*params, limit])
            yield Many(f"UPDATE outbox SET leased_until = {lease.until} WHERE id = %s",
                       [(*lease.until_params, r["id"]) for r in rows])
            return [notification_from_row(r) for r in rows]

        return await self.database.write(claim())

    @writes
    def mark_delivered(self, notification_id: str) -> Script[None]:
        yield Count("UPDATE outbox SET delivered_at = %s WHERE id = %s", [ts(utcnow()), notification_id])

    @writes
    def release_notification(self, notification_id: str) -> Script[None]:
        self._outbox_quiet.clear()  # whichever platform it was for
        yield Count("UPDATE outbox SET leased_until = NULL WHERE id = %s AND delivered_at IS NULL", [notification_id])

    @writes
    def release_school_notifications(self, platform: str, school_ids: list[str]) -> Script[int]:
        if not school_ids:
            return 0
        self._outbox_quiet.discard(platform)
        released = yield Count("UPDATE outbox SET leased_until = NULL WHERE delivered_at IS NULL AND failure IS NULL"
                               f" AND recipient LIKE %s AND school_id IN ({_marks(school_ids)})",
                               [f"{platform}:%", *school_ids])
        return released

    @writes
    def mark_failed(self, notification_id: str, reason: str) -> Script[None]:
        yield Count("UPDATE outbox SET failure = %s, leased_until = NULL WHERE id = %s AND delivered_at IS NULL",
                    [reason, notification_id])

    @writes
    def save_display_name(self, school_id: str, user: str, name: str) -> Script[None]:
        yield from insert("people", [{"school_id": school_id, "user": user, "display_name": name,
                                      "updated_at": ts(utcnow())}],
                          'ON CONFLICT (school_id, "user") DO UPDATE SET display_name = excluded.display_name,'
                          ' updated_at = excluded.updated_at')

    @reads
    def display_names(self, school_id: str) -> Script[dict[str, str]]:
        rows = yield All('SELECT "user", display_name FROM people WHERE school_id = %s', [school_id])
        return {r["user"]: r["display_name"] for r in rows}

    @writes
    def record_card_post(self, school_id: str, reference: str, recipient: str, channel: str,
                         message_id: str) -> Script[list[tuple[str, str]]]:
        where, args = "school_id = %s AND reference = %s AND recipient = %s", [school_id, reference, recipient]
        earlier = yield All(f"DELETE FROM card_posts WHERE {where} RETURNING channel, message_id", args)
        yield from insert("card_posts", [{"school_id": school_id, "reference": reference, "recipient": recipient,
                                          "channel": channel, "message_id": message_id}], "ON CONFLICT DO NOTHING")
        posts = [(r["channel"], r["message_id"]) for r in earlier]
        return [post for post in posts if post != (channel, message_id)]

    @reads
    def card_posts(self, school_id: str, reference: str, recipient: str) -> Script[list[tuple[str, str]]]:
        C = self.dialect.C
        rows = yield All("SELECT channel, message_id FROM card_posts WHERE school_id = %s AND reference = %s"
                         f" AND recipient = %s ORDER BY channel{C}, message_id{C}", [school_id, reference, recipient])
        return [(r["channel"], r["message_id"]) for r in rows]

    @writes
    def save_conversation_ref(self, school_id: str, user: str, platform: str,
                              reference: dict[str, Any]) -> Script[None]:
        self._outbox_quiet.discard(platform)  # what waited for them until they could be reached
        yield Count('INSERT INTO conversation_refs (school_id, "user", platform, reference, updated_at)'
                    ' VALUES (%s, %s, %s, %s, %s) ON CONFLICT (school_id, "user") DO UPDATE SET'
                    ' platform = excluded.platform, reference = excluded.reference, updated_at = excluded.updated_at,'
                    ' failure = NULL', [school_id, user, platform, json.dumps(reference), ts(utcnow())])

    @reads
    def get_conversation_ref(self, school_id: str, user: str) -> Script[dict[str, Any] | None]:
        row = yield One('SELECT reference FROM conversation_refs WHERE school_id = %s AND "user" = %s',
                        [school_id, user])
        return json.loads(row["reference"]) if row else None

    @writes
    def forget_conversation_ref(self, school_id: str, user: str) -> Script[None]:
        yield Count('DELETE FROM conversation_refs WHERE school_id = %s AND "user" = %s', [school_id, user])

    @reads
    def reachable_users(self, school_id: str, platform: str) -> Script[set[str]]:
        rows = yield All('SELECT "user" FROM conversation_refs WHERE school_id = %s AND platform = %s'
                         ' AND failure IS NULL', [school_id, platform])
        return {r["user"] for r in rows}

    @writes
    def mark_unreachable(self, school_id: str, user: str, reason: str) -> Script[None]:
        yield Count('UPDATE conversation_refs SET failure = %s WHERE school_id = %s AND "user" = %s',
                    [reason, school_id, user])

    @reads
    def unreachable_users(self, school_id: str, platform: str) -> Script[dict[str, str]]:
        rows = yield All('SELECT "user", failure FROM conversation_refs WHERE school_id = %s AND platform = %s'
                         ' AND failure IS NOT NULL', [school_id, platform])
        return {r["user"]: r["failure"] for r in rows}

    @writes
    def add_reminder(self, reminder: Reminder) -> Script[None]:
        yield from insert("reminders", [reminder_row(reminder)])

    @reads
    def list_reminders(self, school_id: str, recipient: str | None = None) -> Script[list[Reminder]]:
        where, params = "school_id = %s", [school_id]
        if recipient:
            where, params = where + " AND recipient = %s", params + [recipient]
        d = self.dialect
        rows = yield All(f"SELECT * FROM reminders WHERE {where} ORDER BY due_at{d.C}, {d.insertion_order}", params)
        return [reminder_from_row(r) for r in rows]

    @writes
    def record_privacy_check(
        self, school_id: str, user: str, platforms: list[str], done: list[str], skipped: list[str], at: datetime
    ) -> Script[None]:
        yield from insert("privacy_checks", [{
            "school_id": school_id, "user": user, "platforms": json.dumps(platforms), "done": json.dumps(done),
            "skipped": json.dumps(skipped), "completed_at": ts(at)}])

    @reads
    def privacy_check_users(self, school_id: str) -> Script[set[str]]:
        rows = yield All('SELECT DISTINCT "user" FROM privacy_checks WHERE school_id = %s', [school_id])
        return {r["user"] for r in rows}

    # --- the tamper-evident event log ------------------------------------------------------

    async def verify_case_chain(self, case_id: str) -> ChainReport:
        def verify() -> Script[ChainReport]:
            rows = yield All("SELECT * FROM case_events WHERE case_id = %s ORDER BY id", [case_id])
            case = yield One("SELECT events_head FROM cases WHERE id = %s", [case_id])
            return check_chain(case_id, rows, case["events_head"] if case else None, self._record_key,
                               self._legacy_until)

        # The events and the case's head as of one moment, whatever is appended meanwhile.
        return await self.database.read(verify(), snapshot=True)

    # --- early warning across schools (bot/cases/early_warning.py) ----------------------------------

    @writes
    def record_sightings(self, sightings: list[Sighting]) -> Script[None]:
        yield from insert("account_sightings", [sighting_row(s) for s in sightings])

    @long_reads
    def recent_sightings(self, since: datetime) -> Script[list[Sighting]]:
        C = self.dialect.C
        rows = yield All(f"SELECT * FROM account_sightings WHERE seen_at{C} >= %s ORDER BY seen_at{C}, id",
                         [utc_ts(since)])
        return [sighting_from_row(r) for r in rows]

    @reads
    def sighted_elsewhere(self, school_id: str, since: datetime) -> Script[bool]:
        return (yield from self._any(f"SELECT 1 AS seen FROM account_sightings WHERE seen_at{self.dialect.C} >= %s"
                                     " AND school_id <> %s LIMIT 1", [utc_ts(since), school_id]))

    @reads
    def related_sightings(self, case_id: str, since: datetime) -> Script[list[Sighting]]:
        C = self.dialect.C
        rows = yield All(f"SELECT * FROM account_sightings WHERE seen_at{C} >= %s AND ("
                         " account IN (SELECT account FROM account_sightings WHERE case_id = %s)"
                         " OR pattern_key IN (SELECT pattern_key FROM account_sightings WHERE case_id = %s"
                         f" AND pattern_key IS NOT NULL)) ORDER BY seen_at{C}, id", [utc_ts(since), case_id, case_id])
        return [sighting_from_row(r) for r in rows]

    @writes
    def claim_alert(self, key: str, at: datetime, window_start: datetime,
                    notifications: list[Notification]) -> Script[bool]:
        # Held until this transaction ends: a second process claiming the same alert waits here, then (each
        # statement seeing what was committed before it) finds it sent.
        yield Lock(f"alert:{key}")
        if (yield One(f"SELECT 1 AS sent FROM sent_alerts WHERE key = %s AND sent_at{self.dialect.C} >= %s",
                      [key, utc_ts(window_start)])):
            return False
        if not (yield from insert("sent_alerts", [{"key": key, "sent_at": utc_ts(at)}], "ON CONFLICT DO NOTHING")):
            return False
        yield from self._queue(notifications)
        return True

    # --- Slack installations ------------------------------------------------------------------

    @writes
    def save_slack_installation(self, enterprise_id: str | None, team_id: str | None, data: bytes,
                                at: datetime) -> Script[None]:
        yield from insert("slack_installations", [{"enterprise_id": enterprise_id or "", "team_id": team_id or "",
                                                   "data": data, "installed_at": ts(at)}],
                          "ON CONFLICT (enterprise_id, team_id) DO UPDATE SET data = excluded.data,"
                          " installed_at = excluded.installed_at")

    @reads
    def find_slack_installation(self, enterprise_id: str | None, team_id: str | None) -> Script[bytes | None]:
        for key in installation_keys(enterprise_id, team_id):
            row = yield One("SELECT data FROM slack_installations WHERE enterprise_id = %s AND team_id = %s", list(key))
            if row:
                return bytes(row["data"])
        return None

    @writes
    def delete_slack_installation(self, enterprise_id: str | None, team_id: str | None) -> Script[None]:
        yield Count("DELETE FROM slack_installations WHERE enterprise_id = %s AND team_id = %s",
                    [enterprise_id or "", team_id or ""])

    @writes
    def issue_oauth_state(self, state: str, expires_at: float) -> Script[None]:
        yield Count("INSERT INTO oauth_states (state, expires_at) VALUES (%s, %s)"
                    " ON CONFLICT (state) DO UPDATE SET expires_at = excluded.expires_at", [state, expires_at])

    @writes
    def consume_oauth_state(self, state: str, now: float) -> Script[bool]:
        # A second process deleting the same state waits for this row lock, then finds it gone.
        row = yield One("DELETE FROM oauth_states WHERE state = %s RETURNING expires_at", [state])
        # Expired ones go too; SKIP LOCKED, so two processes tidying at once never wait on each other.
        yield Count("DELETE FROM oauth_states WHERE state IN (SELECT state FROM oauth_states"
                    f" WHERE expires_at <= %s{self.dialect.skip_locked})", [now])
        return row is not None and row["expires_at"] > now

    # --- reminders and escalation (bot/app/scheduler.py) ------------------------------------------

    @reads
    def claimed_reminders(self, school_id: str, keys: list[str]) -> Script[set[str]]:
        found: set[str] = set()
        for start in range(0, len(keys), BATCH):
            chunk = keys[start:start + BATCH]
            rows = yield All(f"SELECT key FROM sent_reminders WHERE school_id = %s AND key IN ({_marks(chunk)})",
                             [school_id, *chunk])
            found.update(r["key"] for r in rows)
        return found

    @durable_writes
    def claim_case_reminder(self, school_id: str, key: str, kind: str, case_id: str, at: datetime,
                            prepare: Prepare) -> Script[bool]:
        # The case's row lock: a second process claiming about this case waits here, then finds the key taken; a
        # DSL acknowledging it meanwhile waits too, so `prepare` decides on the case as it is.
        row = yield One(f"SELECT * FROM cases WHERE id = %s AND school_id = %s{self.dialect.for_update}",
                        [case_id, school_id])
        if row is None or (yield One("SELECT 1 AS sent FROM sent_reminders WHERE key = %s", [key])):
            return False
        case = case_from_row(row)
        events = [event_from_row(r) for r in (yield All("SELECT * FROM case_events WHERE case_id = %s ORDER BY id",
                                                        [case_id]))]
        prepared = prepare(case, events)
        if prepared is None:
            return False
        new_events, notifications, routes = prepared
        if not (yield from insert("sent_reminders", [{"key": key, "school_id": school_id, "case_id": case_id,
                                                      "kind": kind, "sent_at": ts(at)}], "ON CONFLICT DO NOTHING")):
            return False  # nothing else written yet
        added = [r for r in routes if not case.is_routed_to(r.user)]
        if added:
            routed = [r.model_dump(mode="json") for r in case.routed_to + added]
            yield Count("UPDATE cases SET routed_to = %s WHERE id = %s", [json.dumps(routed), case_id])
            yield from insert("case_routes", [{"case_id": case_id, "school_id": school_id, "user": r.user}
                                              for r in added], "ON CONFLICT DO NOTHING")
        yield from self._insert_events(new_events, school_id)
        yield from self._queue(notifications)
        return True

    @reads
    def due_reminders(self, school_id: str, now: datetime, kind: str | None = None) -> Script[list[Reminder]]:
        where, params = "school_id = %s AND sent_at IS NULL", [school_id]
        if kind:
            where, params = where + " AND kind = %s", params + [kind]
        rows = yield All(f"SELECT * FROM reminders WHERE {where} ORDER BY {self.dialect.insertion_order}", params)
        # Compared as times, not as stored text: the text's form varies ("Z" or "+00:00", fractions).
        ready = [r for r in map(reminder_from_row, rows) if aware(r.due_at) <= now]
        return sorted(ready, key=lambda r: aware(r.due_at))

    @writes
    def claim_reminder(self, reminder_id: str, sent_at: datetime, notifications: list[Notification]) -> Script[bool]:
        # A second process's update waits for this one's row lock, then finds sent_at set.
        if (yield Count("UPDATE reminders SET sent_at = %s WHERE id = %s AND sent_at IS NULL",
                        [ts(sent_at), reminder_id])) != 1:
            return False
        yield from self._queue(notifications)
        return True

    # --- the morning digest (bot/cases/digest.py) ------------------------------------------------

    @writes
    def set_morning_digest(self, school_id: str, user: str, on: bool, at: datetime) -> Script[None]:
        if on:
            yield Count("DELETE FROM digest_opt_outs WHERE school_id = %s AND recipient = %s", [school_id, user])
        else:
            yield from insert("digest_opt_outs", [{"school_id": school_id, "recipient": user, "since": ts(at)}],
                              "ON CONFLICT DO NOTHING")

    @reads
    def morning_digest_off(self, school_id: str) -> Script[set[str]]:
        rows = yield All("SELECT recipient FROM digest_opt_outs WHERE school_id = %s", [school_id])
        return {r["recipient"] for r in rows}

    @reads
    def digests_sent(self, school_id: str, day: str) -> Script[set[str]]:
        rows = yield All("SELECT recipient FROM sent_digests WHERE school_id = %s AND day = %s", [school_id, day])
        return {r["recipient"] for r in rows}

    @writes
    def claim_digest(self, school_id: str, recipient: str, day: str, at: datetime,
                     notifications: list[Notification]) -> Script[bool]:
        # The primary key decides: a second process's insert waits for this transaction, then inserts nothing.
        if not (yield from insert("sent_digests", [{"school_id": school_id, "recipient": recipient, "day": day,
                                                    "sent_at": ts(at)}], "ON CONFLICT DO NOTHING")):
            return False
        yield from self._queue(notifications)
        return True

    # --- retention (bot/cases/retention.py) ------------------------------------------------------

    @long_reads
    def case_closed_times(self, school_id: str) -> Script[dict[str, datetime]]:
        rows = yield All("SELECT e.case_id, e.at FROM case_events e JOIN cases c ON c.id = e.case_id"
                         " WHERE c.school_id = %s AND c.status = 'closed' AND e.kind = 'closed' ORDER BY e.id",
                         [school_id])
        closed: dict[str, datetime] = {}
        for r in rows:
            closed.setdefault(r["case_id"], datetime.fromisoformat(r["at"]))
        return closed

    async def purge_case(
        self, school_id: str, reference: str, *, purged_at: datetime, purged_by: str, policy: str
    ) -> CaseTombstone:
        try:
            tombstone = await self.database.write(self._purge(school_id, reference, purged_at, purged_by, policy),
                                                  long=True)
        except self.database.refused as exc:  # a trigger refused: the transaction was rolled back whole
            raise StoreError(f"{reference} was not purged: {exc}") from exc
        tombstone.still_mentioned = await self.database.read(self._tables_mentioning(tombstone.reference), long=True)
        return tombstone

    def _tables(self, text_only: bool = False) -> Script[dict[str, list[str]]]:
        """The store's tables (in the order they were made) and their columns, only the text ones if asked."""
        tables: dict[str, list[str]] = {}
        for r in (yield All(self.dialect.columns)):
            columns = tables.setdefault(r["table_name"], [])
            if not text_only or r["data_type"] == "text":
                columns.append(r["column_name"])
        return {t: c for t, c in tables.items() if c}

    def _purge(self, school_id: str, reference: str, purged_at: datetime, purged_by: str,
               policy: str) -> Script[CaseTombstone]:
        row = yield One(f"SELECT * FROM cases WHERE school_id = %s AND reference = %s{self.dialect.for_update}",
                        [school_id, reference.upper()])
        if row is None:
            raise StoreError(f"no case {reference}")
        if row["status"] != "closed":
            raise StoreError(f"{row['reference']} is not closed: open cases are never purged")
        case_id, ref, draft_id = row["id"], row["reference"], row["draft_id"]
        events = yield All("SELECT * FROM case_events WHERE case_id = %s ORDER BY id", [case_id])
        # First what goes, counted for the tombstone; the tombstone (permanent) is written before the case is
        # marked for purging, which only that lets happen (migration 19), and only then is anything deleted.
        tables = yield from self._tables()
        by_case_id = [t for t, columns in tables.items() if t not in PURGE_SKIP and "case_id" in columns]
        removed: dict[str, int] = {}
        for table in by_case_id:
            removed[table] = (yield One(f'SELECT count(*) AS n FROM "{table}" WHERE case_id = %s', [case_id]))["n"]
        removed["card_posts"] = (yield One("SELECT count(*) AS n FROM card_posts WHERE school_id = %s"
                                           " AND reference = %s", [school_id, ref]))["n"]
        # Sent about its report before the case existed (the guardrail's alert): by the draft's id.
        removed["outbox"] = removed.get("outbox", 0) + (
            yield One("SELECT count(*) AS n FROM outbox WHERE draft_id = %s", [draft_id]))["n"]
        # Reminders about the case, and the DSLs' half-done updates of it and its buttons: by the fields that
        # name it. Rows whose text merely mentions it belong to someone else and stay.
        looks_like = [f"%{ref}%", f"%{draft_id}%"]
        like = self.dialect.ilike
        reminders = [r["id"] for r in (yield All(
            f"SELECT id, detail FROM reminders WHERE school_id = %s AND (detail {like} %s OR detail {like} %s)",
            [school_id, *looks_like])) if reminder_of_case(r["detail"], ref, case_id)]
        conversations = [(scrubbed, c["key"]) for c in (yield All(
            f"SELECT key, state FROM conversations WHERE school_id = %s AND (state {like} %s OR state {like} %s)",
            [school_id, *looks_like])) if (scrubbed := state_without_case(c["state"], ref, draft_id)) is not None]
        removed["reminders"] = removed.get("reminders", 0) + len(reminders)
        removed["conversations"] = len(conversations)
        removed["cases"] = 1
        removed = {t: n for t, n in removed.items() if n > 0}
        tombstone = tombstone_for(row, events, removed, purged_at=purged_at, purged_by=purged_by, policy=policy)
        yield from insert("case_tombstones", [tombstone_row(tombstone)])

        yield Count("UPDATE cases SET purging = 1 WHERE id = %s", [case_id])  # lets its events be deleted
        for table in by_case_id:
            yield Count(f'DELETE FROM "{table}" WHERE case_id = %s', [case_id])
        yield Count("DELETE FROM card_posts WHERE school_id = %s AND reference = %s", [school_id, ref])
        yield Count("DELETE FROM outbox WHERE draft_id = %s", [draft_id])
        yield Many("DELETE FROM reminders WHERE id = %s", [(r,) for r in reminders])
        yield Many("UPDATE conversations SET state = %s WHERE key = %s", conversations)
        yield Count("DELETE FROM cases WHERE id = %s", [case_id])  # allowed now that its tombstone exists
        return tombstone

    def _tables_mentioning(self, reference: str) -> Script[list[str]]:
        """Tables whose text still contains `reference` (another case's note, say), for the purge's report."""
        found = []
        for table, columns in (yield from self._tables(text_only=True)).items():
            if table in UNSCANNED:
                continue
            where = " OR ".join(f'{self.dialect.find}(upper("{c}"), %s) > 0' for c in columns)
            params = [reference.upper()] * len(columns)
            if (yield One(f'SELECT 1 AS found FROM "{table}" WHERE {where} LIMIT 1', params)):
                found.append(table)
        return found

    @reads
    def list_tombstones(self, school_id: str) -> Script[list[CaseTombstone]]:
        rows = yield All("SELECT * FROM case_tombstones WHERE school_id = %s ORDER BY id", [school_id])
        return [tombstone_from_row(r) for r in rows]
