"""The embedded store: one SQLite file in WAL mode, reached through sqlite-utils.

SQLite calls are synchronous, so they all run on one worker thread: the event loop never
blocks on the disk, and the single connection is never used from two threads at once.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import sqlite_utils

from bot.models import (
    Case,
    CaseEvent,
    ConversationState,
    Evidence,
    Notification,
    Reminder,
    StaffMember,
    utcnow,
)
from bot.store.base import Store, StoreError
from bot.store.migrations import MIGRATIONS

T = TypeVar("T")


def _ts(value: datetime) -> str:
    return value.isoformat()


class SQLiteStore(Store):
    def __init__(self, path: str | Path):
        self.path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite_utils.Database | None = None

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
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        db = sqlite_utils.Database(conn)
        if self.path != ":memory:":
            db.enable_wal()
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        self._db = db
        self._migrate()

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
                db["migrations"].insert({"version": version, "name": name, "applied_at": _ts(utcnow())})

    async def open(self) -> None:
        await self._run(self._open)

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.conn.close)
            self._db = None
        self._executor.shutdown(wait=True)

    # --- conversations -------------------------------------------------------------------

    async def load_conversation(self, key: str) -> ConversationState | None:
        def load() -> ConversationState | None:
            row = next(self.db["conversations"].rows_where("key = ?", [key]), None)
            return ConversationState.model_validate_json(row["state"]) if row else None

        return await self._run(load)

    async def save_conversation(
        self, key: str, school_id: str, user: str, state: ConversationState, turn_id: str | None = None
    ) -> None:
        def save() -> None:
            with self._write() as db:
                db["conversations"].upsert(
                    {"key": key, "school_id": school_id, "user": user, "state": state.model_dump_json(),
                     "updated_at": _ts(state.updated_at)},
                    pk="key",
                )
                if turn_id:
                    db["handled_turns"].insert(
                        {"turn_id": turn_id, "school_id": school_id, "handled_at": _ts(utcnow())}, ignore=True
                    )

        await self._run(save)

    async def turn_seen(self, turn_id: str) -> bool:
        return await self._run(lambda: self.db["handled_turns"].count_where("turn_id = ?", [turn_id]) > 0)

    # --- staff directory -----------------------------------------------------------------

    async def upsert_staff(self, member: StaffMember) -> None:
        def upsert() -> None:
            with self._write() as db:
                db["staff"].upsert(member.model_dump(mode="json"), pk=("school_id", "user"))

        await self._run(upsert)

    async def remove_staff(self, school_id: str, user: str) -> bool:
        def remove() -> bool:
            with self._write() as db:
                cursor = db.execute("DELETE FROM staff WHERE school_id = ? AND user = ?", [school_id, user])
                return cursor.rowcount > 0

        return await self._run(remove)

    async def get_staff(self, school_id: str, user: str) -> StaffMember | None:
        def get() -> StaffMember | None:
            row = next(self.db["staff"].rows_where("school_id = ? AND user = ?", [school_id, user]), None)
            return StaffMember.model_validate(row) if row else None

        return await self._run(get)

    async def list_staff(self, school_id: str) -> list[StaffMember]:
        def rows() -> list[StaffMember]:
            found = self.db["staff"].rows_where("school_id = ?", [school_id], order_by="role, name")
            return [StaffMember.model_validate(r) for r in found]

        return await self._run(rows)

    # --- cases -----------------------------------------------------------------------------

    @staticmethod
    def _case_row(case: Case) -> dict[str, Any]:
        data = case.model_dump(mode="json")
        for key in ("categories", "answers", "routed_to", "excluded"):
            data[key] = json.dumps(data[key])
        data["urgent"] = int(case.urgent)
        return data

    @staticmethod
    def _case_from_row(row: dict[str, Any]) -> Case:
        data = dict(row)
        for key in ("categories", "answers", "routed_to", "excluded"):
            data[key] = json.loads(data[key])
        data["urgent"] = bool(data["urgent"])
        return Case.model_validate(data)

    def _insert_events(self, db: sqlite_utils.Database, events: list[CaseEvent], school_id: str) -> None:
        db["case_events"].insert_all(
            [
                {"case_id": e.case_id, "school_id": school_id, "actor": e.actor, "kind": e.kind,
                 "detail": json.dumps(e.detail), "at": _ts(e.at)}
                for e in events
            ]
        )

    def _insert_notifications(self, db: sqlite_utils.Database, notifications: list[Notification]) -> None:
        db["outbox"].insert_all(
            [
                {"id": n.id, "school_id": n.school_id, "recipient": n.recipient, "case_id": n.case_id, "kind": n.kind,
                 "replies": json.dumps([r.model_dump(mode="json") for r in n.replies]),
                 "created_at": _ts(n.created_at), "delivered_at": None}
                for n in notifications
            ]
        )

    async def create_case(
        self, case: Case, events: list[CaseEvent], evidence: list[Evidence],
        notify: Callable[[Case], list[Notification]], reference_prefix: str,
    ) -> tuple[Case, bool]:
        def create() -> tuple[Case, bool]:
            with self._write() as db:
                existing = next(db["cases"].rows_where("draft_id = ?", [case.draft_id]), None)
                if existing:
                    return self._case_from_row(existing), False
                year = case.created_at.year
                row = next(db["reference_sequences"].rows_where("school_id = ? AND year = ?", [case.school_id, year]), None)
                number = (row["last"] if row else 0) + 1
                db["reference_sequences"].upsert(
                    {"school_id": case.school_id, "year": year, "last": number}, pk=("school_id", "year")
                )
                stored = case.model_copy(update={"reference": f"{reference_prefix}-{year}-{number:04d}"})
                db["cases"].insert(self._case_row(stored))
                db["case_routes"].insert_all(
                    [{"case_id": stored.id, "school_id": stored.school_id, "user": r.user} for r in stored.routed_to]
                )
                self._insert_events(db, [e.model_copy(update={"case_id": stored.id}) for e in events], stored.school_id)
                db["evidence"].insert_all(
                    [{**e.model_dump(mode="json"), "case_id": stored.id, "school_id": stored.school_id} for e in evidence]
                )
                self._insert_notifications(db, notify(stored))
                return stored, True

        return await self._run(create)

    async def update_case(self, case: Case, events: list[CaseEvent], notifications: list[Notification]) -> None:
        def update() -> None:
            with self._write() as db:
                row = self._case_row(case)
                db["cases"].update(case.id, {k: row[k] for k in ("status", "urgent", "outcome", "updated_at")})
                self._insert_events(db, events, case.school_id)
                self._insert_notifications(db, notifications)

        await self._run(update)

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
            return self._case_from_row(row) if row else None

        return await self._run(get)

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
            return [self._case_from_row(r) for r in self.db.query(sql, params)]

        return await self._run(rows)

    async def case_events(self, case_id: str) -> list[CaseEvent]:
        def rows() -> list[CaseEvent]:
            found = self.db["case_events"].rows_where("case_id = ?", [case_id], order_by="id")
            return [CaseEvent.model_validate({**r, "detail": json.loads(r["detail"])}) for r in found]

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

    @staticmethod
    def _notification(row: dict[str, Any]) -> Notification:
        return Notification.model_validate({**row, "replies": json.loads(row["replies"])})

    async def take_notifications(self, school_id: str, recipient: str) -> list[Notification]:
        def take() -> list[Notification]:
            with self._write() as db:
                rows = list(
                    db["outbox"].rows_where(
                        "school_id = ? AND recipient = ? AND delivered_at IS NULL", [school_id, recipient],
                        order_by="created_at, rowid",
                    )
                )
                now = _ts(utcnow())
                for row in rows:
                    db["outbox"].update(row["id"], {"delivered_at": now})
            return [self._notification(r) for r in rows]

        return await self._run(take)

    async def pending_notifications(self, platform: str, limit: int = 100, reachable_only: bool = False) -> list[Notification]:
        def pending() -> list[Notification]:
            where = "delivered_at IS NULL AND recipient LIKE ?"
            if reachable_only:
                where += (" AND EXISTS (SELECT 1 FROM conversation_refs r"
                          " WHERE r.school_id = outbox.school_id AND r.user = outbox.recipient)")
            rows = self.db["outbox"].rows_where(where, [f"{platform}:%"], order_by="created_at, rowid", limit=limit)
            return [self._notification(r) for r in rows]

        return await self._run(pending)

    async def mark_delivered(self, notification_id: str) -> None:
        def mark() -> None:
            with self._write() as db:
                db["outbox"].update(notification_id, {"delivered_at": _ts(utcnow())})

        await self._run(mark)

    async def record_card_post(self, school_id: str, reference: str, recipient: str, channel: str, message_id: str) -> None:
        def record() -> None:
            with self._write() as db:
                db["card_posts"].insert(
                    {"school_id": school_id, "reference": reference, "recipient": recipient, "channel": channel,
                     "message_id": message_id}, ignore=True,
                )

        await self._run(record)

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
                     "updated_at": _ts(utcnow())}, pk=("school_id", "user"),
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
            found = self.db["conversation_refs"].rows_where("school_id = ? AND platform = ?", [school_id, platform],
                                                            select="user")
            return {r["user"] for r in found}

        return await self._run(users)

    async def add_reminder(self, reminder: Reminder) -> None:
        def add() -> None:
            with self._write() as db:
                db["reminders"].insert({**reminder.model_dump(mode="json"), "detail": json.dumps(reminder.detail)})

        await self._run(add)

    async def list_reminders(self, school_id: str, recipient: str | None = None) -> list[Reminder]:
        def rows() -> list[Reminder]:
            where, params = "school_id = ?", [school_id]
            if recipient:
                where, params = where + " AND recipient = ?", params + [recipient]
            found = self.db["reminders"].rows_where(where, params, order_by="due_at")
            return [Reminder.model_validate({**r, "detail": json.loads(r["detail"])}) for r in found]

        return await self._run(rows)

    async def record_privacy_check(
        self, school_id: str, user: str, platforms: list[str], done: list[str], skipped: list[str], at: datetime
    ) -> None:
        def record() -> None:
            with self._write() as db:
                db["privacy_checks"].insert(
                    {"school_id": school_id, "user": user, "platforms": json.dumps(platforms),
                     "done": json.dumps(done), "skipped": json.dumps(skipped), "completed_at": _ts(at)}
                )

        await self._run(record)


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
