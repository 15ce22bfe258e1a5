"""The embedded store: one SQLite file in WAL mode, the one SQL store (bot/store/sql_store.py) over the standard
library's sqlite3.

SQLite calls are synchronous, so they all run on one worker thread: the event loop never blocks on the disk,
the single connection is never used from two threads at once, and a whole transaction (a script, with any
callback it runs) runs on that thread without giving it up.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import secrets
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator, TypeVar

import sqlite_utils

from bot.core.private import private_file, private_folder
from bot.store import record_key
from bot.store.base import KeyedLocks, StoreError
from bot.store.dialect import SQLITE
from bot.store.sql import All, Count, Ddl, Lock, Many, One, Op, Script, drive
from bot.store.sql_store import SqlStore

T = TypeVar("T")
log = logging.getLogger(__name__)
WAL_TRUNCATE_BYTES = 64 * 1024 * 1024


def _as_dict(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {d[0]: value for d, value in zip(cursor.description, row, strict=True)}


class SQLiteDatabase:
    """The driver: one connection, on one worker thread."""

    dialect = SQLITE
    refused: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)

    def __init__(self, path: str):
        self.path = path
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite_utils.Database | None = None
        self._conversation_locks = KeyedLocks()
        self._checkpoints: _Checkpoints | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor, fn, *args)
        except sqlite3.OperationalError as exc:
            raise StoreError(str(exc)) from exc

    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    async def open(self) -> None:
        if self.executor._shutdown:  # closed before (or a failed open): a new worker thread
            self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        await self.run(self._open)
        if self.path != ":memory:":
            self._checkpoints = _Checkpoints(self.path, self.checkpoint)

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

    async def close(self) -> None:
        if self._checkpoints is not None:
            await asyncio.to_thread(self._checkpoints.stop)
            self._checkpoints = None
        if self._db is not None:
            try:
                await self.run(self.checkpoint, "TRUNCATE")
            except StoreError:  # another connection is reading: the WAL is folded in next time
                pass
            await self.run(self._db.conn.close)
            self._db = None
        self.executor.shutdown(wait=True)

    def checkpoint(self, mode: str, conn: sqlite3.Connection | None = None) -> None:
        conn = conn or self.db.conn
        try:
            conn.execute(f"PRAGMA wal_checkpoint({mode})")
        except sqlite3.OperationalError as exc:
            raise StoreError(str(exc)) from exc
        wal = Path(self.path + "-wal")
        if mode == "PASSIVE" and wal.exists() and wal.stat().st_size > WAL_TRUNCATE_BYTES:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- running scripts -------------------------------------------------------------------------

    async def read(self, script: Script[T], *, snapshot: bool = False) -> T:
        return await self.run(drive, script, self._execute)

    async def write(self, script: Script[T]) -> T:
        return await self.run(self._write, script)

    def _write(self, script: Script[T]) -> T:
        with self.transaction():
            return drive(script, self._execute)

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
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

    def _execute(self, op: Op) -> Any:
        conn = self.db.conn
        if isinstance(op, Many):
            return conn.executemany(SQLITE.sql(op.sql), op.rows).rowcount if op.rows else 0
        if isinstance(op, Lock):
            return None  # the write transaction already excludes every other writer
        if isinstance(op, Ddl):
            for statement in _statements(op.sql):
                conn.execute(statement)
            return None
        cursor = conn.execute(SQLITE.sql(op.sql), op.params)
        if isinstance(op, One):
            row = cursor.fetchone()
            return None if row is None else _as_dict(cursor, row)
        if isinstance(op, All):
            return [_as_dict(cursor, row) for row in cursor.fetchall()]
        assert isinstance(op, Count)
        return cursor.rowcount

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        yield  # one writer at a time already

    def conversation_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        # One process has the file (WAL allows others to read and write it, but the bot runs one server on
        # SQLite), so an in-process lock is enough.
        return self._conversation_locks(key)


class SQLiteStore(SqlStore):
    def __init__(self, path: str | Path, record_key: bytes | None = None):
        """`record_key`: the key that seals case events; by default `OSB_RECORD_KEY`, else the key file beside
        the database (made on first start; see bot/store/record_key.py)."""
        self.path = str(path)
        self._given_key = record_key
        self._database = SQLiteDatabase(self.path)
        self._server_lock: int | None = None
        super().__init__(self._database)

    @property
    def db(self) -> sqlite_utils.Database:
        """The open file, through sqlite-utils (for tests and benchmarks that look inside)."""
        return self._database.db

    def _find_record_key(self, stored: dict[str, Any] | None) -> tuple[bytes, str]:
        where = ":memory:" if self.path == ":memory:" else str(record_key.key_file(self.path))
        key = self._given_key or record_key.given_key()
        if key is None and self.path == ":memory:":
            key = secrets.token_bytes(record_key.KEY_BYTES)
        if key is None:
            key = record_key.read_key_file(Path(where))
            if key is None and stored is not None:
                raise record_key.lost(where, str(stored["fingerprint"]), None)
            key = key or record_key.create_key_file(Path(where))
        return key, where

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` on the store's worker thread (benchmarks use it to look inside)."""
        return await self._database.run(fn, *args)

    @property
    def _executor(self) -> ThreadPoolExecutor:
        return self._database.executor

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
        await super().close()
        if self._server_lock is not None:
            os.close(self._server_lock)  # closing the only descriptor releases the flock
            self._server_lock = None


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
    `SQLiteDatabase._open`): a PASSIVE checkpoint never waits for, or holds up, the writer; one that finds the
    WAL large also truncates it. The connection is used by this thread alone, from opening to closing."""

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
