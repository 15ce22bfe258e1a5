"""The embedded store: one SQLite file in WAL mode, reached through sqlite-utils.

SQLite calls are synchronous, so they all run on one worker thread: the event loop never
blocks on the disk, and the single connection is never used from two threads at once.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import json
import os
import secrets
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

import sqlite_utils

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
from bot.private import private_file, private_folder
from bot.store.base import CaseTombstone, ChainReport, KeptInput, KeyedLocks, Store, StoreError
from bot.store import record_key
from bot.store.migrations import MIGRATIONS
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

T = TypeVar("T")
log = logging.getLogger(__name__)
WAL_TRUNCATE_BYTES = 64 * 1024 * 1024
EVENTS_BATCH = 500  # case ids to a query: well within SQLite's limit on parameters


class SQLiteStore(Store):
    def __init__(self, path: str | Path, record_key: bytes | None = None):
        """`record_key`: the key that seals case events; by default `OSB_RECORD_KEY`, else the key file beside
        the database (made on first start; see bot/store/record_key.py)."""
        self.path = str(path)
        self._given_key = record_key
        self._record_key = b""
        self._legacy_until = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite_utils.Database | None = None
        self._conversation_locks = KeyedLocks()
        self._checkpoints: _Checkpoints | None = None
        self._server_lock: int | None = None

    # --- plumbing ------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except sqlite3.OperationalError as exc:
            raise StoreError(str(exc)) from exc

    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    @contextmanager
    def _write(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction. BEGIN IMMEDIATE takes the write lock up front, so a second process
        waits on busy_timeout instead of failing half-way through a deferred transaction."""
        db = self.db
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.conn.rollback()
            raise
        else:
            db.conn.execute("COMMIT")

    def _open(self) -> None:
        if self.path != ":memory:":
            # Case data: 0600 files in a 0700 folder. SQLite creates the WAL and shared-memory files with the
            # database file's own mode; ones left looser by an older version are tightened too.
            database = Path(self.path).resolve()
            private_folder(database.parent)
            for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
                if path == database or path.exists():
                    private_file(path)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        db = sqlite_utils.Database(conn)
        if self.path != ":memory:":
            db.enable_wal()
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        if self.path != ":memory:":
            # The WAL is copied back into the database by `_Checkpoints`, off the writer's thread: SQLite's
            # automatic checkpoint runs inside a commit, and made one write in a few hundred take 15-30 ms at
            # 100,000 cases (bench/store_scale.py).
            conn.execute("PRAGMA wal_autocheckpoint = 0")
        self._db = db
        self._migrate()
        self._settle_record_key()

    def _settle_record_key(self) -> None:
        """Find the record key and check it is the database's own; on the first start with one, write its row."""
        row = next(self.db.query("SELECT * FROM record_key"), None)
        where = ":memory:" if self.path == ":memory:" else str(record_key.key_file(self.path))
        key = self._given_key or record_key.given_key()
        if key is None and self.path == ":memory:":
            key = secrets.token_bytes(record_key.KEY_BYTES)
        if key is None:
            key = record_key.read_key_file(Path(where))
            if key is None and row is not None:
                raise record_key.lost(where, row["fingerprint"], None)
            key = key or record_key.create_key_file(Path(where))
        if row is None:
            with self._write() as db:
                row = next(db.query("SELECT * FROM record_key"), None)  # another process may have just written it
                if row is None:
                    legacy_until = db.execute("SELECT coalesce(max(id), 0) FROM case_events").fetchone()[0]
                    row = record_key.key_row(key, legacy_until, ts(utcnow()))
                    db["record_key"].insert(row)
        record_key.check_row(row, key, where)
        self._record_key, self._legacy_until = key, int(row["legacy_until"])  # type: ignore[arg-type]

    def _migrate(self) -> None:
        db = self.db
        with self._write():
            db.execute(
                "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        applied = {row["version"] for row in db["migrations"].rows}
        for version, name, sql in sorted(MIGRATIONS):  # by number, whatever order they were added in
            if version in applied:
                continue
            with self._write():
                for statement in _statements(sql):
                    db.execute(statement)
                db["migrations"].insert({"version": version, "name": name, "applied_at": ts(utcnow())})

    async def open(self) -> None:
        await self._run(self._open)
        if self.path != ":memory:":
            self._checkpoints = _Checkpoints(self.path, self._checkpoint)

    async def claim_server(self) -> None:
        """One `serve` per SQLite file: the conversation locks and retry checks are in-process, so a second
        server on the same file would run Slack's retries twice and lose answers. The lock is an advisory
        `flock` on a file beside the database, held until this store closes or the process dies."""
        if self.path == ":memory:" or self._server_lock is not None:
            return
        database = Path(self.path).resolve()
        private_folder(database.parent)
        lock_path = f"{database}.serve-lock"
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "another process"
            os.close(descriptor)
            raise StoreError(
                f"another `serve` (process {holder}) is already using {self.path}: one SQLite file takes one "
                f"server process (the lock is {lock_path}). To run several processes, use PostgreSQL (README: "
                "PostgreSQL and several processes).") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        self._server_lock = descriptor

    async def close(self) -> None:
        if self._checkpoints is not None:
            await asyncio.to_thread(self._checkpoints.stop)
            self._checkpoints = None
        if self._db is not None:
            try:
                await self._run(self._checkpoint, "TRUNCATE")
            except StoreError:  # another connection is reading: the WAL is folded in next time
                pass
            await self._run(self._db.conn.close)
            self._db = None
        self._executor.shutdown(wait=True)
        if self._server_lock is not None:
            os.close(self._server_lock)  # closing the only descriptor releases the flock
            self._server_lock = None

    def _checkpoint(self, mode: str, conn: sqlite3.Connection | None = None) -> None:
        conn = conn or self.db.conn
        try:
            conn.execute(f"PRAGMA wal_checkpoint({mode})")
        except sqlite3.OperationalError as exc:
            raise StoreError(str(exc)) from exc
        wal = Path(self.path + "-wal")
        if mode == "PASSIVE" and wal.exists() and wal.stat().st_size > WAL_TRUNCATE_BYTES:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def conversation_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        # One process has the file (WAL allows others to read and write it, but the bot runs one server on
        # SQLite), so an in-process lock is enough.
        return self._conversation_locks(key)

    # --- conversations -------------------------------------------------------------------

    async def load_conversation(self, key: str) -> ConversationState | None:
        def load() -> ConversationState | None:
            row = self.db.execute("SELECT state FROM conversations WHERE key = ?", [key]).fetchone()
            return ConversationState.model_validate_json(row[0]) if row else None

        return await self._run(load)

    async def save_conversation(
        self, key: str, school_id: str, user: str, state: ConversationState, turn_id: str | None = None,
        delivered: Sequence[str] = (),
    ) -> None:
        def save() -> None:
            # Plain SQL on the per-turn path: sqlite-utils reads the schema on each table access (bench/).
            with self._write() as db:
                db.execute("INSERT INTO conversations (key, school_id, user, state, updated_at) VALUES (?, ?, ?, ?, ?)"
                           " ON CONFLICT (key) DO UPDATE SET school_id = excluded.school_id, user = excluded.user,"
                           " state = excluded.state, updated_at = excluded.updated_at",
                           [key, school_id, user, state.model_dump_json(), ts(state.updated_at)])
                if turn_id:
                    db.execute("INSERT OR IGNORE INTO handled_turns (turn_id, school_id, handled_at) VALUES (?, ?, ?)",
                               [turn_id, school_id, ts(utcnow())])
                db.conn.executemany("UPDATE outbox SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL",
                                    [(ts(utcnow()), n) for n in delivered])

        await self._run(save)

    async def turn_seen(self, turn_id: str) -> bool:
        return await self._run(
            lambda: self.db.execute("SELECT 1 FROM handled_turns WHERE turn_id = ?", [turn_id]).fetchone() is not None)

    # --- the inbox: input kept before it is acknowledged ---------------------------------------

    async def keep_input(self, platform: str, body: str, content_type: str, lease_seconds: float) -> str:
        input_id = new_id()

        def keep() -> None:
            with self._write() as db:
                db.execute("INSERT INTO inbox (id, platform, body, content_type, received_at, leased_until)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           [input_id, platform, body, content_type, utc_ts(utcnow()), time.time() + lease_seconds])

        await self._run(keep)
        return input_id

    async def claim_inputs(self, platform: str, lease_seconds: float, limit: int = 20) -> list[KeptInput]:
        def claim() -> list[KeptInput]:
            now = time.time()
            waiting = "platform = ? AND leased_until <= ?"
            # Nearly always nothing: look first (indexed, no lock) before taking the write lock.
            if self.db.execute(f"SELECT 1 FROM inbox WHERE {waiting} LIMIT 1", [platform, now]).fetchone() is None:
                return []
            with self._write() as db:
                rows = list(db.query(f"SELECT * FROM inbox WHERE {waiting} ORDER BY received_at, rowid LIMIT ?",
                                     [platform, now, limit]))
                db.conn.executemany("UPDATE inbox SET leased_until = ? WHERE id = ?",
                                    [(now + lease_seconds, r["id"]) for r in rows])
            return [KeptInput.model_validate(r) for r in rows]

        return await self._run(claim)

    async def prune_expired(self, *, handled_before: datetime, delivered_before: datetime, now: float) -> dict[str, int]:
        def prune() -> dict[str, int]:
            with self._write() as db:
                return {
                    "handled_turns": db.execute("DELETE FROM handled_turns WHERE handled_at < ?",
                                                [utc_ts(handled_before)]).rowcount,
                    "outbox": db.execute("DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?",
                                         [utc_ts(delivered_before)]).rowcount,
                    "oauth_states": db.execute("DELETE FROM oauth_states WHERE expires_at <= ?", [now]).rowcount,
                }

        return await self._run(prune)

    async def input_done(self, input_id: str) -> None:
        def done() -> None:
            with self._write() as db:
                db.execute("DELETE FROM inbox WHERE id = ?", [input_id])

        await self._run(done)

    # --- schools (tenants) ----------------------------------------------------------------

    async def upsert_school(self, school: School) -> None:
        def upsert() -> None:
            with self._write() as db:
                row = school_row(school)
                db.execute(f"INSERT INTO schools ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
                           " ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,"
                           " reference_prefix = excluded.reference_prefix, content_dir = excluded.content_dir,"
                           " nation = excluded.nation",
                           list(row.values()))
                db.execute("DELETE FROM school_workspaces WHERE school_id = ?", [school.id])
                db["school_workspaces"].insert_all(
                    [{"platform": w.platform, "workspace_id": w.id, "school_id": school.id} for w in school.workspaces],
                    ignore=True)

        await self._run(upsert)

    def _schools(self, where: str = "", params: list[Any] | None = None) -> list[School]:
        rows = list(self.db.query(f"SELECT * FROM schools {where}"
                                  " ORDER BY CASE kind WHEN 'school' THEN 0 ELSE 1 END, id", params or []))
        workspaces: dict[str, list[dict[str, Any]]] = {}
        for w in self.db.query(f"SELECT * FROM school_workspaces WHERE school_id IN (SELECT id FROM schools {where})"
                               " ORDER BY platform, workspace_id", params or []):
            workspaces.setdefault(w["school_id"], []).append(w)
        return [school_from_row(r, workspaces.get(r["id"], [])) for r in rows]

    async def get_school(self, school_id: str) -> School | None:
        found = await self._run(self._schools, "WHERE id = ?", [school_id])
        return found[0] if found else None

    async def list_schools(self) -> list[School]:
        return await self._run(self._schools)

    async def remove_school(self, school_id: str) -> None:
        def remove() -> None:
            with self._write() as db:
                if next(db.query("SELECT 1 FROM schools WHERE id = ?", [school_id]), None) is None:
                    raise StoreError(f"there is no school {school_id}")
                counts = {t: db.execute(f"SELECT count(*) FROM {t} WHERE school_id = ?", [school_id]).fetchone()[0]
                          for t in ("staff", "cases", "conversations", "case_tombstones")}
                refused = not_empty(school_id, counts)
                if refused:
                    raise StoreError(refused)
                db.execute("DELETE FROM school_workspaces WHERE school_id = ?", [school_id])
                db.execute("DELETE FROM reference_sequences WHERE school_id = ?", [school_id])
                db.execute("DELETE FROM schools WHERE id = ?", [school_id])

        await self._run(remove)

    async def schools_for_workspace(self, platform: str, workspace_id: str) -> list[str]:
        def rows() -> list[str]:
            found = self.db.query("SELECT school_id FROM school_workspaces WHERE platform = ? AND workspace_id = ?"
                                  " ORDER BY school_id", [platform, workspace_id])
            return [r["school_id"] for r in found]

        return await self._run(rows)

    # --- staff directory -----------------------------------------------------------------

    async def upsert_staff(self, member: StaffMember) -> None:
        def upsert() -> None:
            with self._write() as db:
                db["staff"].upsert(staff_row(member), pk=("school_id", "user"))

        await self._run(upsert)

    async def remove_staff(self, school_id: str, user: str) -> bool:
        def remove() -> bool:
            with self._write() as db:
                cursor = db.execute("DELETE FROM staff WHERE school_id = ? AND user = ?", [school_id, user])
                return cursor.rowcount > 0

        return await self._run(remove)

    async def get_staff(self, school_id: str, user: str) -> StaffMember | None:
        def get() -> StaffMember | None:
            row = next(self.db.query("SELECT * FROM staff WHERE school_id = ? AND user = ?", [school_id, user]), None)
            return staff_from_row(row) if row else None

        return await self._run(get)

    async def list_staff(self, school_id: str) -> list[StaffMember]:
        def rows() -> list[StaffMember]:
            found = self.db["staff"].rows_where("school_id = ?", [school_id], order_by="role, name")
            return [staff_from_row(r) for r in found]

        return await self._run(rows)

    # --- cases -----------------------------------------------------------------------------

    def _insert_events(self, db: sqlite_utils.Database, events: list[CaseEvent], school_id: str) -> None:
        """Append events inside the caller's write transaction, each chained to its case's previous event:
        it stores that event's hash and its own (see `event_hash`), and the case remembers its latest hash."""

        def last_hash(case_id: str) -> str | None:
            last = next(db.query("SELECT hash FROM case_events WHERE case_id = ? ORDER BY id DESC LIMIT 1", [case_id]),
                        None)
            if last is None or last["hash"] is not None:
                return last["hash"] if last else None
            # Events from before migration 4 carry no hash: chain on from the hash they would have had.
            return chain_head(list(db.query("SELECT * FROM case_events WHERE case_id = ? ORDER BY id", [case_id])))

        heads = {case_id: last_hash(case_id) for case_id in dict.fromkeys(e.case_id for e in events)}
        db["case_events"].insert_all(chained_rows(events, school_id, heads, self._record_key))
        for case_id, head in heads.items():
            db.execute("UPDATE cases SET events_head = ? WHERE id = ?", [head, case_id])

    def _insert_notifications(self, db: sqlite_utils.Database, notifications: list[Notification]) -> None:
        db["outbox"].insert_all([notification_row(n) for n in notifications])

    async def create_case(
        self, case: Case, events: list[CaseEvent], evidence: list[Evidence],
        notify: Callable[[Case], list[Notification]], reference_prefix: str, sightings: Sequence[Sighting] = (),
    ) -> tuple[Case, bool]:
        def create() -> tuple[Case, bool]:
            with self._write() as db:
                existing = next(db["cases"].rows_where("draft_id = ?", [case.draft_id]), None)
                if existing:
                    return case_from_row(existing), False
                year = case.created_at.year
                row = next(db["reference_sequences"].rows_where("school_id = ? AND year = ?", [case.school_id, year]), None)
                number = (row["last"] if row else 0) + 1
                db["reference_sequences"].upsert(
                    {"school_id": case.school_id, "year": year, "last": number}, pk=("school_id", "year")
                )
                stored = case.model_copy(update={"reference": f"{reference_prefix}-{year}-{number:04d}"})
                db["cases"].insert(case_row(stored))
                db["case_routes"].insert_all(
                    [{"case_id": stored.id, "school_id": stored.school_id, "user": r.user} for r in stored.routed_to]
                )
                self._insert_events(db, [e.model_copy(update={"case_id": stored.id}) for e in events], stored.school_id)
                db["evidence"].insert_all(
                    [{**e.model_dump(mode="json"), "case_id": stored.id, "school_id": stored.school_id} for e in evidence]
                )
                self._insert_notifications(db, notify(stored))
                db["account_sightings"].insert_all([sighting_row(s) for s in sightings])
                return stored, True

        return await self._run(create)

    async def update_case(
        self, case: Case, events: list[CaseEvent], notifications: list[Notification], *, expected_status: str | None = None,
    ) -> bool:
        def update() -> bool:
            with self._write() as db:
                row = case_row(case)
                sql = "UPDATE cases SET status = ?, urgent = ?, outcome = ?, updated_at = ? WHERE id = ?"
                params = [row["status"], row["urgent"], row["outcome"], row["updated_at"], case.id]
                if expected_status is not None:
                    sql, params = sql + " AND status = ?", params + [expected_status]
                if db.execute(sql, params).rowcount != 1:
                    if expected_status is not None:
                        return False  # another handler changed it first
                    raise StoreError(f"no case with id {case.id}")
                self._insert_events(db, events, case.school_id)
                self._insert_notifications(db, notifications)
                return True

        return await self._run(update)

    async def record_events(self, events: list[CaseEvent]) -> None:
        def record() -> None:
            with self._write() as db:
                for event in events:
                    school = db["cases"].get(event.case_id)["school_id"]
                    self._insert_events(db, [event], school)

        await self._run(record)

    async def get_case(self, school_id: str, reference: str) -> Case | None:
        def get() -> Case | None:
            row = next(
                self.db["cases"].rows_where("school_id = ? AND reference = ?", [school_id, reference.upper()]), None
            )
            return case_from_row(row) if row else None

        return await self._run(get)

    async def record_refusal(self, school_id: str, case_id: str | None, actor: str, at: datetime, action: str) -> int:
        def record() -> int:
            with self._write() as db:
                db.execute(
                    "INSERT INTO access_refusals (school_id, case_id, actor, day, count) VALUES (?, ?, ?, ?, 1) "
                    "ON CONFLICT (case_id, school_id, actor, day) DO UPDATE SET count = count + 1",
                    [school_id, case_id or "", actor, utc_day(at)])
                count = next(db.query(
                    "SELECT count FROM access_refusals WHERE school_id = ? AND case_id = ? AND actor = ? AND day = ?",
                    [school_id, case_id or "", actor, utc_day(at)]))["count"]
                if case_id and count == 1:
                    self._insert_events(db, [CaseEvent(case_id=case_id, actor=actor, kind="access_refused", at=at,
                                                       detail={"action": action})], school_id)
                return count

        return await self._run(record)

    async def refusal_counts(self, case_id: str) -> dict[tuple[str, str], int]:
        def counts() -> dict[tuple[str, str], int]:
            found = self.db.query("SELECT actor, day, count FROM access_refusals WHERE case_id = ?", [case_id])
            return {(r["actor"], r["day"]): r["count"] for r in found}

        return await self._run(counts)

    async def list_cases(
        self, school_id: str, *, routed_to: str | None = None, reporter: str | None = None, open_only: bool = False
    ) -> list[Case]:
        def rows() -> list[Case]:
            where, params = ["cases.school_id = ?"], [school_id]
            sql = "SELECT cases.* FROM cases"
            if routed_to:
                sql += " JOIN case_routes ON case_routes.case_id = cases.id"
                where.append("case_routes.user = ?")
                params.append(routed_to)
            if reporter:
                where.append("cases.reporter = ?")
                params.append(reporter)
            if open_only:
                where.append("cases.status != 'closed'")
            sql += " WHERE " + " AND ".join(where) + " ORDER BY cases.urgent DESC, cases.created_at"
            return [case_from_row(r) for r in self.db.query(sql, params)]

        return await self._run(rows)

    async def case_events(self, case_id: str) -> list[CaseEvent]:
        def rows() -> list[CaseEvent]:
            found = self.db["case_events"].rows_where("case_id = ?", [case_id], order_by="id")
            return [event_from_row(r) for r in found]

        return await self._run(rows)

    async def events_of_cases(self, case_ids: Sequence[str], kinds: Sequence[str]) -> dict[str, list[CaseEvent]]:
        def rows() -> dict[str, list[CaseEvent]]:
            found: dict[str, list[CaseEvent]] = {case_id: [] for case_id in case_ids}
            ids = list(found)
            for start in range(0, len(ids), EVENTS_BATCH):
                batch = ids[start:start + EVENTS_BATCH]
                for row in self.db.query(
                        f"SELECT * FROM case_events WHERE case_id IN ({', '.join('?' * len(batch))})"
                        f" AND kind IN ({', '.join('?' * len(kinds))}) ORDER BY id", [*batch, *kinds]):
                    found[row["case_id"]].append(event_from_row(row))
            return found

        return await self._run(rows)

    async def case_evidence(self, case_id: str) -> list[Evidence]:
        def rows() -> list[Evidence]:
            return [Evidence.model_validate(r) for r in self.db["evidence"].rows_where("case_id = ?", [case_id], order_by="id")]

        return await self._run(rows)

    # --- notifications and reminders -----------------------------------------------------

    async def queue_notifications(self, notifications: list[Notification]) -> None:
        def queue() -> None:
            with self._write() as db:
                self._insert_notifications(db, notifications)

        await self._run(queue)

    async def waiting_notifications(self, school_id: str, recipient: str) -> list[Notification]:
        def waiting() -> list[Notification]:
            rows = self.db["outbox"].rows_where(
                "school_id = ? AND recipient = ? AND delivered_at IS NULL AND (leased_until IS NULL OR leased_until <= ?)",
                [school_id, recipient, time.time()], order_by="created_at, rowid")
            return [notification_from_row(r) for r in rows]

        return await self._run(waiting)

    @staticmethod
    def _undelivered(reachable_only: bool) -> str:
        where = "delivered_at IS NULL AND failure IS NULL AND recipient LIKE ?"
        if reachable_only:
            where += (" AND EXISTS (SELECT 1 FROM conversation_refs r"
                      " WHERE r.school_id = outbox.school_id AND r.user = outbox.recipient AND r.failure IS NULL)")
        return where

    async def pending_notifications(self, platform: str, limit: int = 100, reachable_only: bool = False) -> list[Notification]:
        def pending() -> list[Notification]:
            rows = self.db["outbox"].rows_where(self._undelivered(reachable_only), [f"{platform}:%"],
                                                order_by="created_at, rowid", limit=limit)
            return [notification_from_row(r) for r in rows]

        return await self._run(pending)

    async def claim_notifications(
        self, platform: str, limit: int = 100, reachable_only: bool = False, lease_seconds: float = 60
    ) -> list[Notification]:
        def claim() -> list[Notification]:
            now = time.time()  # leases are seconds since the epoch (migration 8)
            waiting = self._undelivered(reachable_only) + " AND (leased_until IS NULL OR leased_until <= ?)"
            # Most calls find nothing: look first (indexed, no lock) before taking the write lock.
            if self.db.execute(f"SELECT 1 FROM outbox WHERE {waiting} LIMIT 1", [f"{platform}:%", now]).fetchone() is None:
                return []
            with self._write() as db:
                rows = list(db["outbox"].rows_where(
                    self._undelivered(reachable_only) + " AND (leased_until IS NULL OR leased_until <= ?)",
                    [f"{platform}:%", now], order_by="created_at, rowid", limit=limit))
                db.conn.executemany("UPDATE outbox SET leased_until = ? WHERE id = ?",
                                    [(now + lease_seconds, r["id"]) for r in rows])
            return [notification_from_row(r) for r in rows]

        return await self._run(claim)

    async def mark_delivered(self, notification_id: str) -> None:
        def mark() -> None:
            with self._write() as db:
                db.execute("UPDATE outbox SET delivered_at = ? WHERE id = ?", [ts(utcnow()), notification_id])

        await self._run(mark)

    async def release_notification(self, notification_id: str) -> None:
        def release() -> None:
            with self._write() as db:
                db.execute("UPDATE outbox SET leased_until = NULL WHERE id = ? AND delivered_at IS NULL",
                           [notification_id])

        await self._run(release)

    async def mark_failed(self, notification_id: str, reason: str) -> None:
        def mark() -> None:
            with self._write() as db:
                db.execute("UPDATE outbox SET failure = ?, leased_until = NULL WHERE id = ? AND delivered_at IS NULL",
                           [reason, notification_id])

        await self._run(mark)

    async def save_display_name(self, school_id: str, user: str, name: str) -> None:
        def save() -> None:
            with self._write() as db:
                db["people"].upsert({"school_id": school_id, "user": user, "display_name": name,
                                     "updated_at": ts(utcnow())}, pk=("school_id", "user"))

        await self._run(save)

    async def display_names(self, school_id: str) -> dict[str, str]:
        def rows() -> dict[str, str]:
            return {r["user"]: r["display_name"] for r in self.db["people"].rows_where("school_id = ?", [school_id])}

        return await self._run(rows)

    async def record_card_post(self, school_id: str, reference: str, recipient: str, channel: str,
                               message_id: str) -> list[tuple[str, str]]:
        def record() -> list[tuple[str, str]]:
            where, args = "school_id = ? AND reference = ? AND recipient = ?", [school_id, reference, recipient]
            with self._write() as db:
                earlier = [(r["channel"], r["message_id"]) for r in db["card_posts"].rows_where(where, args)]
                db.execute(f"DELETE FROM card_posts WHERE {where}", args)
                db["card_posts"].insert({"school_id": school_id, "reference": reference, "recipient": recipient,
                                         "channel": channel, "message_id": message_id})
            return [post for post in earlier if post != (channel, message_id)]

        return await self._run(record)

    async def card_posts(self, school_id: str, reference: str, recipient: str) -> list[tuple[str, str]]:
        def rows() -> list[tuple[str, str]]:
            found = self.db["card_posts"].rows_where(
                "school_id = ? AND reference = ? AND recipient = ?", [school_id, reference, recipient]
            )
            return [(r["channel"], r["message_id"]) for r in found]

        return await self._run(rows)

    async def save_conversation_ref(self, school_id: str, user: str, platform: str, reference: dict[str, Any]) -> None:
        def save() -> None:
            with self._write() as db:
                db["conversation_refs"].upsert(
                    {"school_id": school_id, "user": user, "platform": platform, "reference": json.dumps(reference),
                     "updated_at": ts(utcnow()), "failure": None}, pk=("school_id", "user"),
                )

        await self._run(save)

    async def get_conversation_ref(self, school_id: str, user: str) -> dict[str, Any] | None:
        def get() -> dict[str, Any] | None:
            row = next(self.db["conversation_refs"].rows_where("school_id = ? AND user = ?", [school_id, user]), None)
            return json.loads(row["reference"]) if row else None

        return await self._run(get)

    async def forget_conversation_ref(self, school_id: str, user: str) -> None:
        def forget() -> None:
            with self._write() as db:
                db.execute("DELETE FROM conversation_refs WHERE school_id = ? AND user = ?", [school_id, user])

        await self._run(forget)

    async def reachable_users(self, school_id: str, platform: str) -> set[str]:
        def users() -> set[str]:
            found = self.db["conversation_refs"].rows_where("school_id = ? AND platform = ? AND failure IS NULL",
                                                            [school_id, platform], select="user")
            return {r["user"] for r in found}

        return await self._run(users)

    async def mark_unreachable(self, school_id: str, user: str, reason: str) -> None:
        def mark() -> None:
            with self._write() as db:
                db.execute("UPDATE conversation_refs SET failure = ? WHERE school_id = ? AND user = ?",
                           [reason, school_id, user])

        await self._run(mark)

    async def unreachable_users(self, school_id: str, platform: str) -> dict[str, str]:
        def users() -> dict[str, str]:
            found = self.db["conversation_refs"].rows_where(
                "school_id = ? AND platform = ? AND failure IS NOT NULL", [school_id, platform], select="user, failure")
            return {r["user"]: r["failure"] for r in found}

        return await self._run(users)

    async def add_reminder(self, reminder: Reminder) -> None:
        def add() -> None:
            with self._write() as db:
                db["reminders"].insert(reminder_row(reminder))

        await self._run(add)

    async def list_reminders(self, school_id: str, recipient: str | None = None) -> list[Reminder]:
        def rows() -> list[Reminder]:
            where, params = "school_id = ?", [school_id]
            if recipient:
                where, params = where + " AND recipient = ?", params + [recipient]
            found = self.db["reminders"].rows_where(where, params, order_by="due_at")
            return [reminder_from_row(r) for r in found]

        return await self._run(rows)

    async def record_privacy_check(
        self, school_id: str, user: str, platforms: list[str], done: list[str], skipped: list[str], at: datetime
    ) -> None:
        def record() -> None:
            with self._write() as db:
                db["privacy_checks"].insert(
                    {"school_id": school_id, "user": user, "platforms": json.dumps(platforms),
                     "done": json.dumps(done), "skipped": json.dumps(skipped), "completed_at": ts(at)}
                )

        await self._run(record)

    async def privacy_check_users(self, school_id: str) -> set[str]:
        def users() -> set[str]:
            return {r["user"] for r in self.db.query("SELECT DISTINCT user FROM privacy_checks WHERE school_id = ?", [school_id])}

        return await self._run(users)

    # --- the tamper-evident event log ------------------------------------------------------

    async def verify_case_chain(self, case_id: str) -> ChainReport:
        def verify() -> ChainReport:
            rows = list(self.db.query("SELECT * FROM case_events WHERE case_id = ? ORDER BY id", [case_id]))
            case = next(self.db.query("SELECT events_head FROM cases WHERE id = ?", [case_id]), None)
            return check_chain(case_id, rows, case["events_head"] if case else None, self._record_key,
                               self._legacy_until)

        return await self._run(verify)

    # --- early warning across schools (bot/early_warning.py) ----------------------------------

    async def record_sightings(self, sightings: list[Sighting]) -> None:
        def record() -> None:
            with self._write() as db:
                db["account_sightings"].insert_all([sighting_row(s) for s in sightings])

        await self._run(record)

    async def recent_sightings(self, since: datetime) -> list[Sighting]:
        def rows() -> list[Sighting]:
            found = self.db.query("SELECT * FROM account_sightings WHERE seen_at >= ? ORDER BY seen_at, id",
                                  [utc_ts(since)])
            return [sighting_from_row(r) for r in found]

        return await self._run(rows)

    async def related_sightings(self, case_id: str, since: datetime) -> list[Sighting]:
        def rows() -> list[Sighting]:
            found = self.db.query(
                "SELECT * FROM account_sightings WHERE seen_at >= ? AND ("
                " account IN (SELECT account FROM account_sightings WHERE case_id = ?)"
                " OR pattern_key IN (SELECT pattern_key FROM account_sightings WHERE case_id = ?"
                " AND pattern_key IS NOT NULL)) ORDER BY seen_at, id",
                [utc_ts(since), case_id, case_id])
            return [sighting_from_row(r) for r in found]

        return await self._run(rows)

    async def claim_alert(
        self, key: str, at: datetime, window_start: datetime, notifications: list[Notification]
    ) -> bool:
        def claim() -> bool:
            # BEGIN IMMEDIATE: a second process waits here, then finds the alert sent.
            with self._write() as db:
                if next(db.query("SELECT 1 FROM sent_alerts WHERE key = ? AND sent_at >= ?",
                                 [key, utc_ts(window_start)]), None):
                    return False
                if db.execute("INSERT OR IGNORE INTO sent_alerts (key, sent_at) VALUES (?, ?)",
                              [key, utc_ts(at)]).rowcount != 1:
                    return False
                self._insert_notifications(db, notifications)
                return True

        return await self._run(claim)

    # --- Slack installations ------------------------------------------------------------------

    async def save_slack_installation(
        self, enterprise_id: str | None, team_id: str | None, data: bytes, at: datetime
    ) -> None:
        def save() -> None:
            with self._write() as db:
                db.execute("INSERT INTO slack_installations (enterprise_id, team_id, data, installed_at)"
                           " VALUES (?, ?, ?, ?) ON CONFLICT (enterprise_id, team_id)"
                           " DO UPDATE SET data = excluded.data, installed_at = excluded.installed_at",
                           [enterprise_id or "", team_id or "", data, ts(at)])

        await self._run(save)

    async def find_slack_installation(self, enterprise_id: str | None, team_id: str | None) -> bytes | None:
        def find() -> bytes | None:
            for key in installation_keys(enterprise_id, team_id):
                row = self.db.execute("SELECT data FROM slack_installations WHERE enterprise_id = ? AND team_id = ?",
                                      list(key)).fetchone()
                if row:
                    return bytes(row[0])
            return None

        return await self._run(find)

    async def delete_slack_installation(self, enterprise_id: str | None, team_id: str | None) -> None:
        def delete() -> None:
            with self._write() as db:
                db.execute("DELETE FROM slack_installations WHERE enterprise_id = ? AND team_id = ?",
                           [enterprise_id or "", team_id or ""])

        await self._run(delete)

    async def issue_oauth_state(self, state: str, expires_at: float) -> None:
        def issue() -> None:
            with self._write() as db:
                db.execute("INSERT INTO oauth_states (state, expires_at) VALUES (?, ?)"
                           " ON CONFLICT (state) DO UPDATE SET expires_at = excluded.expires_at", [state, expires_at])

        await self._run(issue)

    async def consume_oauth_state(self, state: str, now: float) -> bool:
        def consume() -> bool:
            with self._write() as db:
                gone = db.execute("DELETE FROM oauth_states WHERE state = ? OR expires_at <= ? RETURNING state,"
                                  " expires_at", [state, now]).fetchall()
                return any(s == state and expires_at > now for s, expires_at in gone)

        return await self._run(consume)

    # --- reminders and escalation (bot/scheduler.py) ------------------------------------------

    async def claimed_reminders(self, school_id: str, keys: list[str]) -> set[str]:
        def claimed() -> set[str]:
            found: set[str] = set()
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                rows = self.db.query(
                    f"SELECT key FROM sent_reminders WHERE school_id = ? AND key IN ({', '.join('?' * len(chunk))})",
                    [school_id, *chunk],
                )
                found.update(r["key"] for r in rows)
            return found

        return await self._run(claimed)

    async def claim_case_reminder(
        self, school_id: str, key: str, kind: str, case_id: str, at: datetime,
        prepare: Callable[[Case, list[CaseEvent]], tuple[list[CaseEvent], list[Notification], list[Route]] | None],
    ) -> bool:
        def claim() -> bool:
            # BEGIN IMMEDIATE: a second process waits here, then finds the key taken.
            with self._write() as db:
                if next(db.query("SELECT 1 FROM sent_reminders WHERE key = ?", [key]), None):
                    return False
                row = next(db["cases"].rows_where("id = ? AND school_id = ?", [case_id, school_id]), None)
                if row is None:
                    return False
                case = case_from_row(row)
                events = [event_from_row(r) for r in db["case_events"].rows_where("case_id = ?", [case_id], order_by="id")]
                prepared = prepare(case, events)
                if prepared is None:
                    return False
                new_events, notifications, routes = prepared
                db["sent_reminders"].insert(
                    {"key": key, "school_id": school_id, "case_id": case_id, "kind": kind, "sent_at": ts(at)}
                )
                added = [r for r in routes if not case.is_routed_to(r.user)]
                if added:
                    routed = [r.model_dump(mode="json") for r in case.routed_to + added]
                    db.execute("UPDATE cases SET routed_to = ? WHERE id = ?", [json.dumps(routed), case_id])
                    db["case_routes"].insert_all(
                        [{"case_id": case_id, "school_id": school_id, "user": r.user} for r in added], ignore=True
                    )
                self._insert_events(db, new_events, school_id)
                self._insert_notifications(db, notifications)
                return True

        return await self._run(claim)

    async def due_reminders(self, school_id: str, now: datetime, kind: str | None = None) -> list[Reminder]:
        def due() -> list[Reminder]:
            where, params = "school_id = ? AND sent_at IS NULL", [school_id]
            if kind:
                where, params = where + " AND kind = ?", params + [kind]
            found = [reminder_from_row(r) for r in self.db["reminders"].rows_where(where, params)]
            # Compared as times, not as stored text: the text's form varies ("Z" or "+00:00", fractions).
            ready = [r for r in found if aware(r.due_at) <= now]
            return sorted(ready, key=lambda r: aware(r.due_at))

        return await self._run(due)

    async def claim_reminder(self, reminder_id: str, sent_at: datetime, notifications: list[Notification]) -> bool:
        def claim() -> bool:
            with self._write() as db:
                cursor = db.execute("UPDATE reminders SET sent_at = ? WHERE id = ? AND sent_at IS NULL",
                                    [ts(sent_at), reminder_id])
                if cursor.rowcount != 1:
                    return False
                self._insert_notifications(db, notifications)
                return True

        return await self._run(claim)

    # --- the morning digest (bot/digest.py) ----------------------------------------------------

    async def set_morning_digest(self, school_id: str, user: str, on: bool, at: datetime) -> None:
        def save() -> None:
            with self._write() as db:
                if on:
                    db.execute("DELETE FROM digest_opt_outs WHERE school_id = ? AND recipient = ?", [school_id, user])
                else:
                    db.execute("INSERT OR IGNORE INTO digest_opt_outs (school_id, recipient, since) VALUES (?, ?, ?)",
                               [school_id, user, ts(at)])

        await self._run(save)

    async def morning_digest_off(self, school_id: str) -> set[str]:
        def rows() -> set[str]:
            return {r["recipient"] for r in self.db.query(
                "SELECT recipient FROM digest_opt_outs WHERE school_id = ?", [school_id])}

        return await self._run(rows)

    async def digests_sent(self, school_id: str, day: str) -> set[str]:
        def rows() -> set[str]:
            return {r["recipient"] for r in self.db.query(
                "SELECT recipient FROM sent_digests WHERE school_id = ? AND day = ?", [school_id, day])}

        return await self._run(rows)

    async def claim_digest(self, school_id: str, recipient: str, day: str, at: datetime,
                           notifications: list[Notification]) -> bool:
        def claim() -> bool:
            # BEGIN IMMEDIATE: a second process waits here, then finds the digest sent.
            with self._write() as db:
                if db.execute("INSERT OR IGNORE INTO sent_digests (school_id, recipient, day, sent_at)"
                              " VALUES (?, ?, ?, ?)", [school_id, recipient, day, ts(at)]).rowcount != 1:
                    return False
                self._insert_notifications(db, notifications)
                return True

        return await self._run(claim)

    # --- retention (bot/retention.py) ------------------------------------------------------

    async def case_closed_times(self, school_id: str) -> dict[str, datetime]:
        def rows() -> dict[str, datetime]:
            found = self.db.query(
                "SELECT e.case_id, e.at FROM case_events e JOIN cases c ON c.id = e.case_id"
                " WHERE c.school_id = ? AND c.status = 'closed' AND e.kind = 'closed' ORDER BY e.id", [school_id],
            )
            closed: dict[str, datetime] = {}
            for r in found:
                closed.setdefault(r["case_id"], datetime.fromisoformat(r["at"]))
            return closed

        return await self._run(rows)

    # Tables a purge never deletes from by case id: the case row goes last, tombstones stay.
    _PURGE_SKIP = {"cases", "case_tombstones", "migrations"}

    async def purge_case(
        self, school_id: str, reference: str, *, purged_at: datetime, purged_by: str, policy: str
    ) -> CaseTombstone:
        def purge() -> CaseTombstone:
            try:
                with self._write() as db:
                    return self._purge(db, school_id, reference, purged_at, purged_by, policy)
            except sqlite3.DatabaseError as exc:  # a trigger refused: the transaction was rolled back whole
                raise StoreError(f"{reference} was not purged: {exc}") from exc

        tombstone = await self._run(purge)
        tombstone.still_mentioned = await self._run(self._tables_mentioning, tombstone.reference)
        return tombstone

    def _purge(
        self, db: sqlite_utils.Database, school_id: str, reference: str, purged_at: datetime, purged_by: str,
        policy: str,
    ) -> CaseTombstone:
        found = db.query("SELECT * FROM cases WHERE school_id = ? AND reference = ?", [school_id, reference.upper()])
        row = next(found, None)
        if row is None:
            raise StoreError(f"no case {reference}")
        if row["status"] != "closed":
            raise StoreError(f"{row['reference']} is not closed: open cases are never purged")
        case_id, ref, draft_id = row["id"], row["reference"], row["draft_id"]
        events = list(db.query("SELECT * FROM case_events WHERE case_id = ? ORDER BY id", [case_id]))
        # First what goes, counted for the tombstone; the tombstone (permanent) is written before the case is
        # marked for purging, which only that lets happen (migration 19), and only then is anything deleted.
        tables = [t for t in db.table_names() if t not in self._PURGE_SKIP and not t.startswith("sqlite_")]
        by_case_id = [t for t in tables if "case_id" in db[t].columns_dict]  # whichever migration added them
        removed = {t: db.execute(f'SELECT count(*) FROM "{t}" WHERE case_id = ?', [case_id]).fetchone()[0]
                   for t in by_case_id}
        removed["card_posts"] = db.execute("SELECT count(*) FROM card_posts WHERE school_id = ? AND reference = ?",
                                           [school_id, ref]).fetchone()[0]
        # Sent about its report before the case existed (the guardrail's alert): by the draft's id.
        removed["outbox"] += db.execute("SELECT count(*) FROM outbox WHERE draft_id = ?", [draft_id]).fetchone()[0]
        # Reminders about the case, and the DSLs' half-done updates of it and its buttons: by the fields that
        # name it. Rows whose text merely mentions it belong to someone else and stay.
        looks_like = [f"%{ref}%", f"%{draft_id}%"]
        reminders = [r["rowid"] for r in db.query(
            "SELECT rowid, detail FROM reminders WHERE school_id = ? AND (detail LIKE ? OR detail LIKE ?)",
            [school_id, *looks_like]) if reminder_of_case(r["detail"], ref, case_id)]
        conversations = [(scrubbed, c["key"]) for c in db.query(
            "SELECT key, state FROM conversations WHERE school_id = ? AND (state LIKE ? OR state LIKE ?)",
            [school_id, *looks_like]) if (scrubbed := state_without_case(c["state"], ref, draft_id)) is not None]
        removed["reminders"] = removed.get("reminders", 0) + len(reminders)
        removed["conversations"] = len(conversations)
        removed["cases"] = 1
        removed = {t: n for t, n in removed.items() if n > 0}
        tombstone = tombstone_for(row, events, removed, purged_at=purged_at, purged_by=purged_by, policy=policy)
        db["case_tombstones"].insert(tombstone_row(tombstone))

        db.execute("UPDATE cases SET purging = 1 WHERE id = ?", [case_id])  # lets its events be deleted
        for table in by_case_id:
            db.execute(f'DELETE FROM "{table}" WHERE case_id = ?', [case_id])
        db.execute("DELETE FROM card_posts WHERE school_id = ? AND reference = ?", [school_id, ref])
        db.execute("DELETE FROM outbox WHERE draft_id = ?", [draft_id])
        db.conn.executemany("DELETE FROM reminders WHERE rowid = ?", [(r,) for r in reminders])
        db.conn.executemany("UPDATE conversations SET state = ? WHERE key = ?", conversations)
        db.execute("DELETE FROM cases WHERE id = ?", [case_id])  # allowed now that its tombstone exists
        return tombstone

    def _tables_mentioning(self, reference: str) -> list[str]:
        """Tables whose text still contains `reference` (another case's note, say), for the purge's report."""
        found = []
        for table in self.db.table_names():
            if table in UNSCANNED or table.startswith("sqlite_"):
                continue
            columns = [c for c, kind in self.db[table].columns_dict.items() if kind is str]
            if columns:
                where = " OR ".join(f'instr(upper("{c}"), ?) > 0' for c in columns)
                hit = next(self.db.query(f'SELECT 1 FROM "{table}" WHERE {where} LIMIT 1',
                                         [reference.upper()] * len(columns)), None)
                if hit:
                    found.append(table)
        return found

    async def list_tombstones(self, school_id: str) -> list[CaseTombstone]:
        def rows() -> list[CaseTombstone]:
            found = self.db.query("SELECT * FROM case_tombstones WHERE school_id = ? ORDER BY id", [school_id])
            return [tombstone_from_row(r) for r in found]

        return await self._run(rows)


def _statements(sql: str) -> list[str]:
    """Split a migration into statements; triggers keep their inner semicolons."""
    statements, current = [], []
    for line in sql.strip().splitlines():
        current.append(line)
        joined = "\n".join(current).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            statements.append(joined)
            current = []
    if "\n".join(current).strip():
        statements.append("\n".join(current).strip())
    return statements


class _Checkpoints:
    """Copies the WAL back into the database every second, on a thread and connection of their own (see
    `SQLiteStore._open`): a PASSIVE checkpoint never waits for, or holds up, the writer; one that finds the WAL
    large also truncates it. The connection is used by this thread alone, from opening to closing."""

    def __init__(self, path: str, checkpoint: Callable[[str, sqlite3.Connection], None], seconds: float = 1.0):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(path, checkpoint, seconds),
                                        name="sqlite checkpoints", daemon=True)
        self._thread.start()

    def _run(self, path: str, checkpoint: Callable[[str, sqlite3.Connection], None], seconds: float) -> None:
        conn = sqlite3.connect(path, timeout=0.1)
        try:
            while not self._stop.wait(seconds):
                try:
                    checkpoint("PASSIVE", conn)
                except (StoreError, sqlite3.Error) as exc:  # busy now: the next round catches up
                    log.debug("sqlite checkpoint skipped: %s", type(exc).__name__)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
