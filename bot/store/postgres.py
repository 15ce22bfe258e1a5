"""The server store: PostgreSQL through psycopg 3's async API and a connection pool, for one deployment
that several server processes share.

It behaves as SQLiteStore does, storing the same text in the same columns (bot/store/rows.py makes and reads
every row for both). Where SQLite has one writer at a time, this store says what must not interleave:
  - each write is one transaction; appends to a case's event log lock the case's row first, so the hash
    chain never forks;
  - a reference number comes from the school's counter row for the year, locked until the case is stored;
  - a report's draft id is unique: a second process storing the same draft finds the first case instead;
  - reminders are claimed under the case's row lock and a unique key; stored reminders and notifications
    by conditional updates (`FOR UPDATE SKIP LOCKED` for leases), so each is sent once;
  - an early-warning alert is claimed under a transaction-level advisory lock on its key; an OAuth state is
    consumed by the one DELETE that finds it;
  - a conversation's lock is a session-level advisory lock, held on a connection of its own.
Connections come from two pools: one for the work, one for the conversation locks, so that turns holding
their lock can never use up the connections they need to finish.
"""

from __future__ import annotations

import json
import re
import time
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any, AsyncIterator, Callable, Sequence

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.models import (
    Case,
    CaseEvent,
    ConversationState,
    Evidence,
    Notification,
    Reminder,
    Route,
    School,
    StaffMember,
    new_id,
    utcnow,
)
from bot.early_warning import Sighting
from bot.store.base import CaseTombstone, ChainReport, KeptInput, KeyedLocks, Store, StoreError
from bot.store import record_key
from bot.store.pg_migrations import MIGRATIONS
from bot.store.rows import (
    UNSCANNED,
    aware,
    case_from_row,
    case_row,
    staff_from_row,
    staff_row,
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
    state_without_case,
    sighting_from_row,
    sighting_row,
    tombstone_for,
    tombstone_from_row,
    tombstone_row,
    ts,
    utc_day,
    utc_ts,
)

Connection = AsyncConnection[dict[str, Any]]

# Text is ordered byte by byte, as SQLite does, whatever the database's default collation.
C = 'COLLATE "C"'


class _DraftTaken(Exception):
    """Another process stored a case for the same draft while this one waited for the reference counter."""


class PostgresStore(Store):
    def __init__(self, url: str, *, schema: str | None = None, pool_size: int = 10, lock_pool_size: int = 20,
                 record_key: bytes | None = None):
        """`url`: postgresql://…; `schema`: where the tables are (the database's default search path if None);
        `record_key`: the key that seals case events, by default `OSB_RECORD_KEY`, which must then be set (every
        process needs the same one; see bot/store/record_key.py)."""
        if schema is not None and not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
            raise ValueError(f"not a plain schema name: {schema!r}")
        self.url = url
        self.schema = schema
        self._pool_size = pool_size
        self._lock_pool_size = lock_pool_size
        self._pool: AsyncConnectionPool | None = None
        self._lock_pool: AsyncConnectionPool | None = None
        self._conversation_locks = KeyedLocks()
        self._given_key = record_key
        self._record_key = b""
        self._legacy_until = 0

    # --- plumbing ------------------------------------------------------------------------

    def _new_pool(self, name: str, min_size: int, max_size: int) -> AsyncConnectionPool:
        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row}
        if self.schema:
            kwargs["options"] = f"-c search_path={self.schema}"
        return AsyncConnectionPool(self.url, kwargs=kwargs, min_size=min_size, max_size=max_size, open=False, name=name)

    async def open(self) -> None:
        self._pool = self._new_pool("osb", 1, self._pool_size)
        self._lock_pool = self._new_pool("osb-locks", 0, self._lock_pool_size)
        try:
            await self._pool.open(wait=True, timeout=10)
            await self._lock_pool.open()
            await self._migrate()
            await self._settle_record_key()
        except (psycopg.OperationalError, PoolTimeout) as exc:
            await self.close()
            raise StoreError(f"cannot reach the database: {exc}") from exc
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        for pool in (self._pool, self._lock_pool):
            if pool is not None:
                await pool.close()
        self._pool = self._lock_pool = None

    @asynccontextmanager
    async def _connect(self, pool: AsyncConnectionPool | None = None) -> AsyncIterator[Connection]:
        pool = pool or self._pool
        if pool is None:
            raise StoreError("the store is not open")
        try:
            async with pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreError(str(exc)) from exc

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Connection]:
        """One write transaction (READ COMMITTED: each statement sees what others committed before it)."""
        async with self._connect() as conn, conn.transaction():
            yield conn

    async def _all(self, query: str, params: Any = ()) -> list[dict[str, Any]]:
        async with self._connect() as conn:
            return await _all(conn, query, params)

    async def _one(self, query: str, params: Any = ()) -> dict[str, Any] | None:
        async with self._connect() as conn:
            return await _one(conn, query, params)

    async def _migrate(self) -> None:
        """Apply the migrations not yet applied, each in its own transaction, under an advisory lock so that
        processes starting together migrate one after the other (the later ones find nothing to do)."""
        async with self._connect() as conn:
            lock = self._lock_name("migrations")
            await conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [lock])
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS migrations"
                                   " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
                applied = {r["version"] for r in await _all(conn, "SELECT version FROM migrations")}
                for version, name, script in sorted(MIGRATIONS):  # by number, whatever order they were added in
                    if version in applied:
                        continue
                    async with conn.transaction():
                        await conn.execute(script)  # several statements: allowed without parameters
                        await conn.execute("INSERT INTO migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                                           [version, name, ts(utcnow())])
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [lock])

    async def _settle_record_key(self) -> None:
        """Check the record key is the database's own; on the first start with one, write its row."""
        key = self._given_key or record_key.given_key()
        row = await self._one("SELECT * FROM record_key")
        if key is None:
            if row is not None:
                raise record_key.lost(record_key.ENV, row["fingerprint"], None)
            raise StoreError(f"{record_key.ENV} is not set: with PostgreSQL the key that seals case records is given "
                             f"to every process (make one with {record_key.MAKE_ONE}) and kept out of the database "
                             "and its backups")
        if row is None:
            async with self._write() as conn:
                await conn.execute("LOCK TABLE record_key IN EXCLUSIVE MODE")  # two processes starting together
                row = await _one(conn, "SELECT * FROM record_key")
                if row is None:
                    found = await _one(conn, "SELECT coalesce(max(id), 0) AS n FROM case_events")
                    row = record_key.key_row(key, int(found["n"]) if found else 0, ts(utcnow()))
                    await _insert(conn, "record_key", [row])
        record_key.check_row(row, key, record_key.ENV)
        self._record_key, self._legacy_until = key, int(row["legacy_until"])

    def _lock_name(self, what: str) -> str:
        # Advisory locks belong to the whole database: the schema keeps two deployments (or test runs) apart.
        return f"online-safety-bot:{self.schema or ''}:{what}"

    # --- conversations -------------------------------------------------------------------

    def conversation_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        return self._conversation_lock(key)

    @asynccontextmanager
    async def _conversation_lock(self, key: str) -> AsyncIterator[None]:
        # The in-process lock first: turns of one conversation in this process queue here, on no connection.
        async with self._conversation_locks(key), self._connect(self._lock_pool) as conn:
            try:
                await conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))",
                                   [self._lock_name(f"conversation:{key}")])
                yield
            finally:
                # Inside the try: a cancellation arriving just as the lock was granted still releases it.
                try:
                    await conn.execute("SELECT pg_advisory_unlock_all()")
                except psycopg.Error:
                    await conn.close()  # a broken connection: its session, and the lock with it, is gone
                except BaseException:
                    await conn.close()  # interrupted: end the session, and its locks with it
                    raise

    async def load_conversation(self, key: str) -> ConversationState | None:
        row = await self._one("SELECT state FROM conversations WHERE key = %s", [key])
        return ConversationState.model_validate_json(row["state"]) if row else None

    async def save_conversation(
        self, key: str, school_id: str, user: str, state: ConversationState, turn_id: str | None = None,
        delivered: Sequence[str] = (),
    ) -> None:
        async with self._write() as conn:
            await conn.execute(
                """INSERT INTO conversations (key, school_id, "user", state, updated_at) VALUES (%s, %s, %s, %s, %s)
                   ON CONFLICT (key) DO UPDATE SET school_id = EXCLUDED.school_id, "user" = EXCLUDED."user",
                       state = EXCLUDED.state, updated_at = EXCLUDED.updated_at""",
                [key, school_id, user, state.model_dump_json(), ts(state.updated_at)])
            if turn_id:
                await conn.execute("INSERT INTO handled_turns (turn_id, school_id, handled_at) VALUES (%s, %s, %s)"
                                   " ON CONFLICT DO NOTHING", [turn_id, school_id, ts(utcnow())])
            if delivered:
                await conn.execute("UPDATE outbox SET delivered_at = %s WHERE id = ANY(%s) AND delivered_at IS NULL",
                                   [ts(utcnow()), list(delivered)])

    async def turn_seen(self, turn_id: str) -> bool:
        return await self._one("SELECT 1 FROM handled_turns WHERE turn_id = %s", [turn_id]) is not None

    # --- the inbox: input kept before it is acknowledged ---------------------------------------

    async def keep_input(self, platform: str, body: str, content_type: str, lease_seconds: float) -> str:
        input_id = new_id()
        async with self._write() as conn:
            await conn.execute("INSERT INTO inbox (id, platform, body, content_type, received_at, leased_until)"
                               " VALUES (%s, %s, %s, %s, %s, %s)",
                               [input_id, platform, body, content_type, utc_ts(utcnow()), time.time() + lease_seconds])
        return input_id

    async def claim_inputs(self, platform: str, lease_seconds: float, limit: int = 20) -> list[KeptInput]:
        # SKIP LOCKED: two processes claiming at once take different inputs instead of waiting.
        now = time.time()
        rows = await self._all(f"""
            WITH picked AS (
                SELECT id FROM inbox WHERE platform = %s AND leased_until <= %s
                ORDER BY received_at {C}, id LIMIT %s
                FOR UPDATE SKIP LOCKED)
            UPDATE inbox SET leased_until = %s FROM picked WHERE inbox.id = picked.id
            RETURNING inbox.*""", [platform, now, limit, now + lease_seconds])
        rows.sort(key=lambda r: r["received_at"])
        return [KeptInput.model_validate(r) for r in rows]

    async def prune_expired(self, *, handled_before: datetime, delivered_before: datetime, now: float) -> dict[str, int]:
        async with self._write() as conn:
            turns = await conn.execute(f"DELETE FROM handled_turns WHERE handled_at {C} < %s", [utc_ts(handled_before)])
            delivered = await conn.execute(f"DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at {C} < %s",
                                           [utc_ts(delivered_before)])
            states = await conn.execute("DELETE FROM oauth_states WHERE expires_at <= %s", [now])
            return {"handled_turns": turns.rowcount, "outbox": delivered.rowcount, "oauth_states": states.rowcount}

    async def input_done(self, input_id: str) -> None:
        async with self._write() as conn:
            await conn.execute("DELETE FROM inbox WHERE id = %s", [input_id])

    # --- schools (tenants) ----------------------------------------------------------------

    async def upsert_school(self, school: School) -> None:
        async with self._write() as conn:
            # The school's row stays locked until this transaction ends: two updates replace its workspaces in turn.
            await _insert(conn, "schools", [school_row(school)],
                          "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,"
                          " reference_prefix = EXCLUDED.reference_prefix, content_dir = EXCLUDED.content_dir,"
                          " nation = EXCLUDED.nation")
            await conn.execute("DELETE FROM school_workspaces WHERE school_id = %s", [school.id])
            await _insert(conn, "school_workspaces", [{"platform": w.platform, "workspace_id": w.id,
                                                       "school_id": school.id} for w in school.workspaces],
                          "ON CONFLICT DO NOTHING")

    async def _schools(self, where: str = "", params: list[Any] | None = None) -> list[School]:
        async with self._connect() as conn:
            rows = await _all(conn, f"SELECT * FROM schools {where}"
                                    f" ORDER BY CASE kind WHEN 'school' THEN 0 ELSE 1 END, id {C}", params or [])
            found = await _all(conn, f"""
                SELECT * FROM school_workspaces WHERE school_id IN (SELECT id FROM schools {where})
                ORDER BY platform {C}, workspace_id {C}""", params or [])
        workspaces: dict[str, list[dict[str, Any]]] = {}
        for w in found:
            workspaces.setdefault(w["school_id"], []).append(w)
        return [school_from_row(r, workspaces.get(r["id"], [])) for r in rows]

    async def get_school(self, school_id: str) -> School | None:
        found = await self._schools("WHERE id = %s", [school_id])
        return found[0] if found else None

    async def list_schools(self) -> list[School]:
        return await self._schools()

    async def remove_school(self, school_id: str) -> None:
        async with self._write() as conn:
            # Locked first: staff, a case or a conversation added for the school meanwhile waits (their foreign
            # key needs the row), then fails once it has gone.
            if await _one(conn, "SELECT 1 FROM schools WHERE id = %s FOR UPDATE", [school_id]) is None:
                raise StoreError(f"there is no school {school_id}")
            counts: dict[str, int] = {}
            for table in ("staff", "cases", "conversations", "case_tombstones"):
                row = await _one(conn, sql.SQL("SELECT count(*) AS n FROM {} WHERE school_id = %s").format(
                    sql.Identifier(table)), [school_id])
                counts[table] = row["n"] if row else 0
            refused = not_empty(school_id, counts)
            if refused:
                raise StoreError(refused)
            await conn.execute("DELETE FROM school_workspaces WHERE school_id = %s", [school_id])
            await conn.execute("DELETE FROM reference_sequences WHERE school_id = %s", [school_id])
            await conn.execute("DELETE FROM schools WHERE id = %s", [school_id])

    async def schools_for_workspace(self, platform: str, workspace_id: str) -> list[str]:
        rows = await self._all(f"""
            SELECT school_id FROM school_workspaces WHERE platform = %s AND workspace_id = %s
            ORDER BY school_id {C}""", [platform, workspace_id])
        return [r["school_id"] for r in rows]

    # --- staff directory -----------------------------------------------------------------

    async def upsert_staff(self, member: StaffMember) -> None:
        async with self._write() as conn:
            await _insert(conn, "staff", [staff_row(member)], 'ON CONFLICT (school_id, "user") DO UPDATE SET'
                          ' role = EXCLUDED.role, roles = EXCLUDED.roles, name = EXCLUDED.name')

    async def remove_staff(self, school_id: str, user: str) -> bool:
        async with self._write() as conn:
            cursor = await conn.execute('DELETE FROM staff WHERE school_id = %s AND "user" = %s', [school_id, user])
            return cursor.rowcount > 0

    async def get_staff(self, school_id: str, user: str) -> StaffMember | None:
        row = await self._one('SELECT * FROM staff WHERE school_id = %s AND "user" = %s', [school_id, user])
        return staff_from_row(row) if row else None

    async def list_staff(self, school_id: str) -> list[StaffMember]:
        rows = await self._all(f"SELECT * FROM staff WHERE school_id = %s ORDER BY role {C}, name {C}", [school_id])
        return [staff_from_row(r) for r in rows]

    # --- cases -----------------------------------------------------------------------------

    async def _insert_events(self, conn: Connection, events: list[CaseEvent], school_id: str) -> None:
        """Append events inside the caller's transaction, each chained to its case's previous event, and move
        the case's head on. Each case's row is locked first (in a fixed order, so two writers cannot deadlock):
        two processes appending to one case take turns, and each chains onto the other's events."""
        heads: dict[str, str | None] = {}
        for case_id in sorted({e.case_id for e in events}):
            await conn.execute("SELECT 1 FROM cases WHERE id = %s FOR UPDATE", [case_id])
            last = await _one(conn, "SELECT hash FROM case_events WHERE case_id = %s ORDER BY id DESC LIMIT 1",
                              [case_id])
            if last is None or last["hash"] is not None:
                heads[case_id] = last["hash"] if last else None
            else:  # events from before the chain existed: chain on from the hash they would have had
                heads[case_id] = chain_head(await _all(conn, "SELECT * FROM case_events WHERE case_id = %s ORDER BY id",
                                                       [case_id]))
        await _insert(conn, "case_events", chained_rows(events, school_id, heads, self._record_key))
        for case_id, head in heads.items():
            await conn.execute("UPDATE cases SET events_head = %s WHERE id = %s", [head, case_id])

    async def create_case(
        self, case: Case, events: list[CaseEvent], evidence: list[Evidence],
        notify: Callable[[Case], list[Notification]], reference_prefix: str, sightings: Sequence[Sighting] = (),
    ) -> tuple[Case, bool]:
        try:
            async with self._write() as conn:
                existing = await _one(conn, "SELECT * FROM cases WHERE draft_id = %s", [case.draft_id])
                if existing:
                    return case_from_row(existing), False
                year = case.created_at.year
                # The counter's row stays locked until this transaction ends: numbering takes turns.
                counter = await _one(conn, """
                    INSERT INTO reference_sequences (school_id, year, last) VALUES (%s, %s, 1)
                    ON CONFLICT (school_id, year) DO UPDATE SET last = reference_sequences.last + 1
                    RETURNING last""", [case.school_id, year])
                assert counter is not None
                stored = case.model_copy(update={"reference": f"{reference_prefix}-{year}-{counter['last']:04d}"})
                # Waits for a transaction inserting the same draft; if that one commits, this inserts nothing.
                if not await _insert(conn, "cases", [case_row(stored)], "ON CONFLICT (draft_id) DO NOTHING"):
                    raise _DraftTaken  # rolls back, the counter too
                await _insert(conn, "case_routes", [{"case_id": stored.id, "school_id": stored.school_id,
                                                     "user": r.user} for r in stored.routed_to])
                await self._insert_events(conn, [e.model_copy(update={"case_id": stored.id}) for e in events],
                                          stored.school_id)
                await _insert(conn, "evidence", [{**e.model_dump(mode="json"), "case_id": stored.id,
                                                  "school_id": stored.school_id} for e in evidence])
                await _insert(conn, "outbox", [notification_row(n) for n in notify(stored)])
                await _insert(conn, "account_sightings", [sighting_row(s) for s in sightings])
                return stored, True
        except _DraftTaken:
            row = await self._one("SELECT * FROM cases WHERE draft_id = %s", [case.draft_id])
            assert row is not None
            return case_from_row(row), False

    async def update_case(
        self, case: Case, events: list[CaseEvent], notifications: list[Notification], *, expected_status: str | None = None,
    ) -> bool:
        row = case_row(case)
        query = "UPDATE cases SET status = %s, urgent = %s, outcome = %s, updated_at = %s WHERE id = %s"
        params = [row["status"], row["urgent"], row["outcome"], row["updated_at"], case.id]
        if expected_status is not None:
            query, params = query + " AND status = %s", params + [expected_status]
        async with self._write() as conn:
            cursor = await conn.execute(query, params)
            if cursor.rowcount != 1:
                if expected_status is not None:
                    return False  # another handler changed it first
                raise StoreError(f"no case with id {case.id}")
            await self._insert_events(conn, events, case.school_id)
            await _insert(conn, "outbox", [notification_row(n) for n in notifications])
            return True

    async def record_events(self, events: list[CaseEvent]) -> None:
        async with self._write() as conn:
            for event in events:
                case = await _one(conn, "SELECT school_id FROM cases WHERE id = %s", [event.case_id])
                if case is None:
                    raise StoreError(f"no case with id {event.case_id}")
                await self._insert_events(conn, [event], case["school_id"])

    async def get_case(self, school_id: str, reference: str) -> Case | None:
        row = await self._one("SELECT * FROM cases WHERE school_id = %s AND reference = %s",
                              [school_id, reference.upper()])
        return case_from_row(row) if row else None

    async def record_refusal(self, school_id: str, case_id: str | None, actor: str, at: datetime, action: str) -> int:
        async with self._write() as conn:
            row = await _one(
                conn, "INSERT INTO access_refusals (school_id, case_id, actor, day, count) VALUES (%s, %s, %s, %s, 1) "
                "ON CONFLICT (case_id, school_id, actor, day) DO UPDATE SET count = access_refusals.count + 1 "
                "RETURNING count", [school_id, case_id or "", actor, utc_day(at)])
            if case_id and row["count"] == 1:
                await self._insert_events(conn, [CaseEvent(case_id=case_id, actor=actor, kind="access_refused", at=at,
                                                           detail={"action": action})], school_id)
            return row["count"]

    async def refusal_counts(self, case_id: str) -> dict[tuple[str, str], int]:
        rows = await self._all("SELECT actor, day, count FROM access_refusals WHERE case_id = %s", [case_id])
        return {(r["actor"], r["day"]): r["count"] for r in rows}

    async def list_cases(
        self, school_id: str, *, routed_to: str | None = None, reporter: str | None = None, open_only: bool = False
    ) -> list[Case]:
        where, params = ["cases.school_id = %s"], [school_id]
        query = "SELECT cases.* FROM cases"
        if routed_to:
            query += " JOIN case_routes ON case_routes.case_id = cases.id"
            where.append('case_routes."user" = %s')
            params.append(routed_to)
        if reporter:
            where.append("cases.reporter = %s")
            params.append(reporter)
        if open_only:
            where.append("cases.status <> 'closed'")
        query += f" WHERE {' AND '.join(where)} ORDER BY cases.urgent DESC, cases.created_at {C}, cases.seq"
        return [case_from_row(r) for r in await self._all(query, params)]

    async def case_events(self, case_id: str) -> list[CaseEvent]:
        rows = await self._all("SELECT * FROM case_events WHERE case_id = %s ORDER BY id", [case_id])
        return [event_from_row(r) for r in rows]

    async def events_of_cases(self, case_ids: Sequence[str], kinds: Sequence[str]) -> dict[str, list[CaseEvent]]:
        found: dict[str, list[CaseEvent]] = {case_id: [] for case_id in case_ids}
        rows = await self._all("SELECT * FROM case_events WHERE case_id = ANY(%s) AND kind = ANY(%s) ORDER BY id",
                               [list(found), list(kinds)])
        for row in rows:
            found[row["case_id"]].append(event_from_row(row))
        return found

    async def case_evidence(self, case_id: str) -> list[Evidence]:
        rows = await self._all("SELECT * FROM evidence WHERE case_id = %s ORDER BY id", [case_id])
        return [Evidence.model_validate(r) for r in rows]

    # --- notifications and reminders -----------------------------------------------------

    async def queue_notifications(self, notifications: list[Notification]) -> None:
        async with self._write() as conn:
            await _insert(conn, "outbox", [notification_row(n) for n in notifications])

    async def waiting_notifications(self, school_id: str, recipient: str) -> list[Notification]:
        rows = await self._all(f"""
            SELECT * FROM outbox WHERE school_id = %s AND recipient = %s AND delivered_at IS NULL
                AND (leased_until IS NULL OR leased_until <= now())
            ORDER BY created_at {C}, seq""", [school_id, recipient])
        return [notification_from_row(r) for r in rows]

    @staticmethod
    def _undelivered(reachable_only: bool) -> str:
        where = "delivered_at IS NULL AND failure IS NULL AND recipient LIKE %s"
        if reachable_only:
            where += (' AND EXISTS (SELECT 1 FROM conversation_refs r'
                      ' WHERE r.school_id = outbox.school_id AND r."user" = outbox.recipient AND r.failure IS NULL)')
        return where

    async def pending_notifications(self, platform: str, limit: int = 100, reachable_only: bool = False) -> list[Notification]:
        rows = await self._all(f"SELECT * FROM outbox WHERE {self._undelivered(reachable_only)}"
                               f" ORDER BY created_at {C}, seq LIMIT %s", [f"{platform}:%", limit])
        return [notification_from_row(r) for r in rows]

    async def claim_notifications(
        self, platform: str, limit: int = 100, reachable_only: bool = False, lease_seconds: float = 60
    ) -> list[Notification]:
        # SKIP LOCKED: two senders claiming at once take different notifications instead of waiting; one whose
        # row was leased meanwhile is re-checked and left out. Leases run on the database's clock.
        rows = await self._all(f"""
            WITH picked AS (
                SELECT id FROM outbox
                WHERE {self._undelivered(reachable_only)} AND (leased_until IS NULL OR leased_until <= now())
                ORDER BY created_at {C}, seq LIMIT %s
                FOR UPDATE SKIP LOCKED)
            UPDATE outbox SET leased_until = now() + make_interval(secs => %s)
            FROM picked WHERE outbox.id = picked.id
            RETURNING outbox.*""", [f"{platform}:%", limit, lease_seconds])
        rows.sort(key=lambda r: (r["created_at"], r["seq"]))
        return [notification_from_row(r) for r in rows]

    async def mark_delivered(self, notification_id: str) -> None:
        async with self._write() as conn:
            await conn.execute("UPDATE outbox SET delivered_at = %s WHERE id = %s", [ts(utcnow()), notification_id])

    async def release_notification(self, notification_id: str) -> None:
        async with self._write() as conn:
            await conn.execute("UPDATE outbox SET leased_until = NULL WHERE id = %s AND delivered_at IS NULL",
                               [notification_id])

    async def mark_failed(self, notification_id: str, reason: str) -> None:
        async with self._write() as conn:
            await conn.execute("UPDATE outbox SET failure = %s, leased_until = NULL WHERE id = %s AND delivered_at IS NULL",
                               [reason, notification_id])

    async def save_display_name(self, school_id: str, user: str, name: str) -> None:
        async with self._write() as conn:
            await _insert(conn, "people", [{"school_id": school_id, "user": user, "display_name": name,
                                            "updated_at": ts(utcnow())}],
                          'ON CONFLICT (school_id, "user") DO UPDATE SET display_name = EXCLUDED.display_name, '
                          'updated_at = EXCLUDED.updated_at')

    async def display_names(self, school_id: str) -> dict[str, str]:
        rows = await self._all('SELECT "user", display_name FROM people WHERE school_id = %s', [school_id])
        return {r["user"]: r["display_name"] for r in rows}

    async def record_card_post(self, school_id: str, reference: str, recipient: str, channel: str,
                               message_id: str) -> list[tuple[str, str]]:
        where, args = "school_id = %s AND reference = %s AND recipient = %s", [school_id, reference, recipient]
        async with self._write() as conn:
            cursor = await conn.execute(f"DELETE FROM card_posts WHERE {where} RETURNING channel, message_id", args)
            earlier = [(row["channel"], row["message_id"]) for row in await cursor.fetchall()]
            post = {"school_id": school_id, "reference": reference, "recipient": recipient, "channel": channel,
                    "message_id": message_id}
            await _insert(conn, "card_posts", [post], "ON CONFLICT DO NOTHING")
        return [post for post in earlier if post != (channel, message_id)]

    async def card_posts(self, school_id: str, reference: str, recipient: str) -> list[tuple[str, str]]:
        rows = await self._all(f"""
            SELECT channel, message_id FROM card_posts WHERE school_id = %s AND reference = %s AND recipient = %s
            ORDER BY channel {C}, message_id {C}""", [school_id, reference, recipient])
        return [(r["channel"], r["message_id"]) for r in rows]

    async def save_conversation_ref(self, school_id: str, user: str, platform: str, reference: dict[str, Any]) -> None:
        async with self._write() as conn:
            await conn.execute(
                """INSERT INTO conversation_refs (school_id, "user", platform, reference, updated_at)
                   VALUES (%s, %s, %s, %s, %s)
                   ON CONFLICT (school_id, "user") DO UPDATE SET platform = EXCLUDED.platform,
                       reference = EXCLUDED.reference, updated_at = EXCLUDED.updated_at, failure = NULL""",
                [school_id, user, platform, json.dumps(reference), ts(utcnow())])

    async def get_conversation_ref(self, school_id: str, user: str) -> dict[str, Any] | None:
        row = await self._one('SELECT reference FROM conversation_refs WHERE school_id = %s AND "user" = %s',
                              [school_id, user])
        return json.loads(row["reference"]) if row else None

    async def forget_conversation_ref(self, school_id: str, user: str) -> None:
        async with self._write() as conn:
            await conn.execute('DELETE FROM conversation_refs WHERE school_id = %s AND "user" = %s', [school_id, user])

    async def reachable_users(self, school_id: str, platform: str) -> set[str]:
        rows = await self._all('SELECT "user" FROM conversation_refs WHERE school_id = %s AND platform = %s'
                               ' AND failure IS NULL', [school_id, platform])
        return {r["user"] for r in rows}

    async def mark_unreachable(self, school_id: str, user: str, reason: str) -> None:
        async with self._write() as conn:
            await conn.execute('UPDATE conversation_refs SET failure = %s WHERE school_id = %s AND "user" = %s',
                               [reason, school_id, user])

    async def unreachable_users(self, school_id: str, platform: str) -> dict[str, str]:
        rows = await self._all('SELECT "user", failure FROM conversation_refs WHERE school_id = %s AND platform = %s'
                               ' AND failure IS NOT NULL', [school_id, platform])
        return {r["user"]: r["failure"] for r in rows}

    async def add_reminder(self, reminder: Reminder) -> None:
        async with self._write() as conn:
            await _insert(conn, "reminders", [reminder_row(reminder)])

    async def list_reminders(self, school_id: str, recipient: str | None = None) -> list[Reminder]:
        where, params = "school_id = %s", [school_id]
        if recipient:
            where, params = where + " AND recipient = %s", params + [recipient]
        rows = await self._all(f"SELECT * FROM reminders WHERE {where} ORDER BY due_at {C}, seq", params)
        return [reminder_from_row(r) for r in rows]

    async def record_privacy_check(
        self, school_id: str, user: str, platforms: list[str], done: list[str], skipped: list[str], at: datetime
    ) -> None:
        async with self._write() as conn:
            await _insert(conn, "privacy_checks", [{
                "school_id": school_id, "user": user, "platforms": json.dumps(platforms), "done": json.dumps(done),
                "skipped": json.dumps(skipped), "completed_at": ts(at)}])

    async def privacy_check_users(self, school_id: str) -> set[str]:
        rows = await self._all('SELECT DISTINCT "user" FROM privacy_checks WHERE school_id = %s', [school_id])
        return {r["user"] for r in rows}

    # --- the tamper-evident event log ------------------------------------------------------

    async def verify_case_chain(self, case_id: str) -> ChainReport:
        async with self._connect() as conn, conn.transaction():
            # The events and the case's head as of one moment, whatever is appended meanwhile.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            rows = await _all(conn, "SELECT * FROM case_events WHERE case_id = %s ORDER BY id", [case_id])
            case = await _one(conn, "SELECT events_head FROM cases WHERE id = %s", [case_id])
        return check_chain(case_id, rows, case["events_head"] if case else None, self._record_key, self._legacy_until)

    # --- early warning across schools (bot/early_warning.py) ----------------------------------

    async def record_sightings(self, sightings: list[Sighting]) -> None:
        async with self._write() as conn:
            await _insert(conn, "account_sightings", [sighting_row(s) for s in sightings])

    async def recent_sightings(self, since: datetime) -> list[Sighting]:
        rows = await self._all(f"SELECT * FROM account_sightings WHERE seen_at {C} >= %s ORDER BY seen_at {C}, id",
                               [utc_ts(since)])
        return [sighting_from_row(r) for r in rows]

    async def related_sightings(self, case_id: str, since: datetime) -> list[Sighting]:
        rows = await self._all(
            f"SELECT * FROM account_sightings WHERE seen_at {C} >= %s AND ("
            " account IN (SELECT account FROM account_sightings WHERE case_id = %s)"
            " OR pattern_key IN (SELECT pattern_key FROM account_sightings WHERE case_id = %s"
            f" AND pattern_key IS NOT NULL)) ORDER BY seen_at {C}, id",
            [utc_ts(since), case_id, case_id])
        return [sighting_from_row(r) for r in rows]

    async def claim_alert(
        self, key: str, at: datetime, window_start: datetime, notifications: list[Notification]
    ) -> bool:
        async with self._write() as conn:
            # Held until this transaction ends: a second process claiming the same alert waits here, then (each
            # statement seeing what was committed before it) finds it sent.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                               [self._lock_name(f"alert:{key}")])
            if await _one(conn, f"SELECT 1 FROM sent_alerts WHERE key = %s AND sent_at {C} >= %s",
                          [key, utc_ts(window_start)]):
                return False
            if not await _insert(conn, "sent_alerts", [{"key": key, "sent_at": utc_ts(at)}], "ON CONFLICT DO NOTHING"):
                return False
            await _insert(conn, "outbox", [notification_row(n) for n in notifications])
            return True

    # --- Slack installations ------------------------------------------------------------------

    async def save_slack_installation(
        self, enterprise_id: str | None, team_id: str | None, data: bytes, at: datetime
    ) -> None:
        async with self._write() as conn:
            await _insert(conn, "slack_installations",
                          [{"enterprise_id": enterprise_id or "", "team_id": team_id or "", "data": data,
                            "installed_at": ts(at)}],
                          "ON CONFLICT (enterprise_id, team_id) DO UPDATE SET data = EXCLUDED.data,"
                          " installed_at = EXCLUDED.installed_at")

    async def find_slack_installation(self, enterprise_id: str | None, team_id: str | None) -> bytes | None:
        async with self._connect() as conn:
            for key in installation_keys(enterprise_id, team_id):
                row = await _one(conn, "SELECT data FROM slack_installations WHERE enterprise_id = %s AND team_id = %s",
                                 list(key))
                if row:
                    return bytes(row["data"])
        return None

    async def delete_slack_installation(self, enterprise_id: str | None, team_id: str | None) -> None:
        async with self._write() as conn:
            await conn.execute("DELETE FROM slack_installations WHERE enterprise_id = %s AND team_id = %s",
                               [enterprise_id or "", team_id or ""])

    async def issue_oauth_state(self, state: str, expires_at: float) -> None:
        async with self._write() as conn:
            await conn.execute("INSERT INTO oauth_states (state, expires_at) VALUES (%s, %s)"
                               " ON CONFLICT (state) DO UPDATE SET expires_at = EXCLUDED.expires_at",
                               [state, expires_at])

    async def consume_oauth_state(self, state: str, now: float) -> bool:
        async with self._write() as conn:
            # A second process deleting the same state waits for this row lock, then finds it gone.
            row = await _one(conn, "DELETE FROM oauth_states WHERE state = %s RETURNING expires_at", [state])
            # Expired ones go too; SKIP LOCKED, so two processes tidying at once never wait on each other.
            await conn.execute("DELETE FROM oauth_states WHERE state IN (SELECT state FROM oauth_states"
                               " WHERE expires_at <= %s FOR UPDATE SKIP LOCKED)", [now])
            return row is not None and row["expires_at"] > now

    # --- reminders and escalation (bot/scheduler.py) ------------------------------------------

    async def claimed_reminders(self, school_id: str, keys: list[str]) -> set[str]:
        rows = await self._all("SELECT key FROM sent_reminders WHERE school_id = %s AND key = ANY(%s)",
                               [school_id, keys])
        return {r["key"] for r in rows}

    async def claim_case_reminder(
        self, school_id: str, key: str, kind: str, case_id: str, at: datetime,
        prepare: Callable[[Case, list[CaseEvent]], tuple[list[CaseEvent], list[Notification], list[Route]] | None],
    ) -> bool:
        async with self._write() as conn:
            # The case's row lock: a second process claiming about this case waits here, then finds the key
            # taken; a DSL acknowledging it meanwhile waits too, so `prepare` decides on the case as it is.
            row = await _one(conn, "SELECT * FROM cases WHERE id = %s AND school_id = %s FOR UPDATE",
                             [case_id, school_id])
            if row is None or await _one(conn, "SELECT 1 FROM sent_reminders WHERE key = %s", [key]):
                return False
            case = case_from_row(row)
            events = [event_from_row(r) for r in await _all(
                conn, "SELECT * FROM case_events WHERE case_id = %s ORDER BY id", [case_id])]
            prepared = prepare(case, events)
            if prepared is None:
                return False
            new_events, notifications, routes = prepared
            if not await _insert(conn, "sent_reminders", [{"key": key, "school_id": school_id, "case_id": case_id,
                                                           "kind": kind, "sent_at": ts(at)}], "ON CONFLICT DO NOTHING"):
                return False  # nothing else written yet
            added = [r for r in routes if not case.is_routed_to(r.user)]
            if added:
                routed = [r.model_dump(mode="json") for r in case.routed_to + added]
                await conn.execute("UPDATE cases SET routed_to = %s WHERE id = %s", [json.dumps(routed), case_id])
                await _insert(conn, "case_routes", [{"case_id": case_id, "school_id": school_id, "user": r.user}
                                                    for r in added], "ON CONFLICT DO NOTHING")
            await self._insert_events(conn, new_events, school_id)
            await _insert(conn, "outbox", [notification_row(n) for n in notifications])
            return True

    async def due_reminders(self, school_id: str, now: datetime, kind: str | None = None) -> list[Reminder]:
        where, params = "school_id = %s AND sent_at IS NULL", [school_id]
        if kind:
            where, params = where + " AND kind = %s", params + [kind]
        found = [reminder_from_row(r) for r in await self._all(f"SELECT * FROM reminders WHERE {where} ORDER BY seq",
                                                               params)]
        # Compared as times, not as stored text: the text's form varies ("Z" or "+00:00", fractions).
        ready = [r for r in found if aware(r.due_at) <= now]
        return sorted(ready, key=lambda r: aware(r.due_at))

    # --- the morning digest (bot/digest.py) ----------------------------------------------------

    async def set_morning_digest(self, school_id: str, user: str, on: bool, at: datetime) -> None:
        async with self._write() as conn:
            if on:
                await conn.execute("DELETE FROM digest_opt_outs WHERE school_id = %s AND recipient = %s",
                                   [school_id, user])
            else:
                await _insert(conn, "digest_opt_outs", [{"school_id": school_id, "recipient": user, "since": ts(at)}],
                              "ON CONFLICT DO NOTHING")

    async def morning_digest_off(self, school_id: str) -> set[str]:
        rows = await self._all("SELECT recipient FROM digest_opt_outs WHERE school_id = %s", [school_id])
        return {r["recipient"] for r in rows}

    async def digests_sent(self, school_id: str, day: str) -> set[str]:
        rows = await self._all("SELECT recipient FROM sent_digests WHERE school_id = %s AND day = %s",
                               [school_id, day])
        return {r["recipient"] for r in rows}

    async def claim_digest(self, school_id: str, recipient: str, day: str, at: datetime,
                           notifications: list[Notification]) -> bool:
        async with self._write() as conn:
            # The primary key decides: a second process's insert waits for this transaction, then does nothing.
            if not await _insert(conn, "sent_digests", [{"school_id": school_id, "recipient": recipient, "day": day,
                                                         "sent_at": ts(at)}], "ON CONFLICT DO NOTHING"):
                return False
            await _insert(conn, "outbox", [notification_row(n) for n in notifications])
            return True

    async def claim_reminder(self, reminder_id: str, sent_at: datetime, notifications: list[Notification]) -> bool:
        async with self._write() as conn:
            # A second process's update waits for this one's row lock, then finds sent_at set.
            cursor = await conn.execute("UPDATE reminders SET sent_at = %s WHERE id = %s AND sent_at IS NULL",
                                        [ts(sent_at), reminder_id])
            if cursor.rowcount != 1:
                return False
            await _insert(conn, "outbox", [notification_row(n) for n in notifications])
            return True

    # --- retention (bot/retention.py) ------------------------------------------------------

    async def case_closed_times(self, school_id: str) -> dict[str, datetime]:
        rows = await self._all(
            "SELECT e.case_id, e.at FROM case_events e JOIN cases c ON c.id = e.case_id"
            " WHERE c.school_id = %s AND c.status = 'closed' AND e.kind = 'closed' ORDER BY e.id", [school_id])
        closed: dict[str, datetime] = {}
        for r in rows:
            closed.setdefault(r["case_id"], datetime.fromisoformat(r["at"]))
        return closed

    # Tables a purge never deletes from by case id: the case row goes last, tombstones stay.
    _PURGE_SKIP = {"cases", "case_tombstones", "migrations"}

    async def purge_case(
        self, school_id: str, reference: str, *, purged_at: datetime, purged_by: str, policy: str
    ) -> CaseTombstone:
        try:
            async with self._write() as conn:
                tombstone = await self._purge(conn, school_id, reference, purged_at, purged_by, policy)
        except psycopg.Error as exc:  # a trigger refused: the transaction was rolled back whole
            raise StoreError(f"{reference} was not purged: {exc}") from exc
        tombstone.still_mentioned = await self._tables_mentioning(tombstone.reference)
        return tombstone

    async def _purge(
        self, conn: Connection, school_id: str, reference: str, purged_at: datetime, purged_by: str, policy: str,
    ) -> CaseTombstone:
        row = await _one(conn, "SELECT * FROM cases WHERE school_id = %s AND reference = %s FOR UPDATE",
                         [school_id, reference.upper()])
        if row is None:
            raise StoreError(f"no case {reference}")
        if row["status"] != "closed":
            raise StoreError(f"{row['reference']} is not closed: open cases are never purged")
        case_id, ref, draft_id = row["id"], row["reference"], row["draft_id"]
        events = await _all(conn, "SELECT * FROM case_events WHERE case_id = %s ORDER BY id", [case_id])
        # First what goes, counted for the tombstone; the tombstone (permanent) is written before the case is
        # marked for purging, which only that lets happen (migration 19), and only then is anything deleted.
        columns = await _table_columns(conn)
        by_case_id = [t for t in columns if t not in self._PURGE_SKIP and "case_id" in columns[t]]
        removed: dict[str, int] = {}
        for table in by_case_id:
            found = await _one(conn, sql.SQL("SELECT count(*) AS n FROM {} WHERE case_id = %s").format(
                sql.Identifier(table)), [case_id])
            removed[table] = found["n"] if found else 0

        async def count(query: str, params: list[Any]) -> int:
            found = await _one(conn, query, params)
            return found["n"] if found else 0

        removed["card_posts"] = await count("SELECT count(*) AS n FROM card_posts WHERE school_id = %s AND reference = %s",
                                            [school_id, ref])
        # Sent about its report before the case existed (the guardrail's alert): by the draft's id.
        removed["outbox"] = removed.get("outbox", 0) + await count(
            "SELECT count(*) AS n FROM outbox WHERE draft_id = %s", [draft_id])
        # Reminders about the case, and the DSLs' half-done updates of it and its buttons: by the fields that
        # name it. Rows whose text merely mentions it belong to someone else and stay.
        looks_like = [f"%{ref}%", f"%{draft_id}%"]
        reminders = [r["id"] for r in await _all(
            conn, "SELECT id, detail FROM reminders WHERE school_id = %s AND (detail ILIKE %s OR detail ILIKE %s)",
            [school_id, *looks_like]) if reminder_of_case(r["detail"], ref, case_id)]
        conversations = [(scrubbed, c["key"]) for c in await _all(
            conn, "SELECT key, state FROM conversations WHERE school_id = %s AND (state ILIKE %s OR state ILIKE %s)",
            [school_id, *looks_like]) if (scrubbed := state_without_case(c["state"], ref, draft_id)) is not None]
        removed["reminders"] = removed.get("reminders", 0) + len(reminders)
        removed["conversations"] = len(conversations)
        removed["cases"] = 1
        removed = {t: n for t, n in removed.items() if n > 0}
        tombstone = tombstone_for(row, events, removed, purged_at=purged_at, purged_by=purged_by, policy=policy)
        await _insert(conn, "case_tombstones", [tombstone_row(tombstone)])

        await conn.execute("UPDATE cases SET purging = 1 WHERE id = %s", [case_id])  # lets its events be deleted
        for table in by_case_id:
            await conn.execute(sql.SQL("DELETE FROM {} WHERE case_id = %s").format(sql.Identifier(table)), [case_id])
        await conn.execute("DELETE FROM card_posts WHERE school_id = %s AND reference = %s", [school_id, ref])
        await conn.execute("DELETE FROM outbox WHERE draft_id = %s", [draft_id])
        await conn.execute("DELETE FROM reminders WHERE id = ANY(%s)", [reminders])
        for scrubbed, key in conversations:
            await conn.execute("UPDATE conversations SET state = %s WHERE key = %s", [scrubbed, key])
        await conn.execute("DELETE FROM cases WHERE id = %s", [case_id])  # allowed now that its tombstone exists
        return tombstone

    async def _tables_mentioning(self, reference: str) -> list[str]:
        """Tables whose text still contains `reference` (another case's note, say), for the purge's report."""
        found = []
        async with self._connect() as conn:
            for table, columns in (await _table_columns(conn, "text")).items():
                if table in UNSCANNED:
                    continue
                where = sql.SQL(" OR ").join(sql.SQL("strpos(upper({}), %s) > 0").format(sql.Identifier(c))
                                             for c in columns)
                query = sql.SQL("SELECT 1 FROM {} WHERE {} LIMIT 1").format(sql.Identifier(table), where)
                if await _one(conn, query, [reference.upper()] * len(columns)):
                    found.append(table)
        return found

    async def list_tombstones(self, school_id: str) -> list[CaseTombstone]:
        rows = await self._all("SELECT * FROM case_tombstones WHERE school_id = %s ORDER BY id", [school_id])
        return [tombstone_from_row(r) for r in rows]


# --- helpers ----------------------------------------------------------------------------------


async def _all(conn: Connection, query: Any, params: Any = ()) -> list[dict[str, Any]]:
    cursor = await conn.execute(query, params)
    return await cursor.fetchall()


async def _one(conn: Connection, query: Any, params: Any = ()) -> dict[str, Any] | None:
    cursor = await conn.execute(query, params)
    return await cursor.fetchone()


async def _insert(conn: Connection, table: str, rows: list[dict[str, Any]], on_conflict: str = "") -> int:
    """Insert rows (dicts with the same keys); how many were inserted (fewer when `on_conflict` skips some)."""
    if not rows:
        return 0
    columns = list(rows[0])
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) {}").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(map(sql.Placeholder, columns)), sql.SQL(on_conflict))
    if len(rows) == 1:
        return (await conn.execute(query, rows[0])).rowcount
    async with conn.cursor() as cursor:
        await cursor.executemany(query, rows)
        return cursor.rowcount


async def _table_columns(conn: Connection, data_type: str | None = None) -> dict[str, list[str]]:
    """The store's tables (in the order they were created) and their columns, of one type if given."""
    rows = await _all(conn, """
        SELECT c.relname AS table_name, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS data_type
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
        WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
          AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY c.oid, a.attnum""")
    tables: dict[str, list[str]] = {}
    for r in rows:
        columns = tables.setdefault(r["table_name"], [])
        if data_type is None or r["data_type"] == data_type:
            columns.append(r["column_name"])
    return {t: c for t, c in tables.items() if c}
