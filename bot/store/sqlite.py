"""The embedded store: one SQLite file in WAL mode, the one SQL store (bot/store/sql_store.py) over the standard
library's sqlite3.

SQLite calls are synchronous. A turn's statements take a few microseconds each, far less than handing them to a
thread and back, so they run on the event loop's own thread, on a connection of its own that never waits for a
lock (busy_timeout 0). A call that meets "database is locked" (a CLI command or a backup holding the write lock)
goes to the store's worker thread instead, on the other connection, which waits for the lock as long as the busy
timeout says; while it is pending, every later call goes there too, behind it, so calls still run in the order
they were made. Long jobs (a purge, pruning, scans for exports and checks) always run on the worker thread, so the
event loop never waits for them, and so do durable writes (a case and its record), whose commit waits for the
disk. Each connection is used by one thread at a time, and a whole transaction (a script, with any callback it
runs) runs on one thread without giving it up.
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
BUSY_TIMEOUT_SECONDS = 10.0  # how long the store thread's connection waits for another's write lock


class _Locked(Exception):
    """The event loop's connection met another connection's lock at `pending`, a statement not yet run (None:
    before the script began). The call carries on on the store thread."""

    def __init__(self, pending: Op | None):
        self.pending = pending


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


def _as_dict(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {d[0]: value for d, value in zip(cursor.description, row, strict=True)}


class SQLiteDatabase:
    """The driver: one connection, on one worker thread."""

    dialect = SQLITE
    refused: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)
    writes_serially_here = True

    def __init__(self, path: str):
        self.path = path
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite_utils.Database | None = None  # the store thread's connection
        self._loop_db: sqlite_utils.Database | None = None  # the event loop's (none for ":memory:": one database)
        self._behind = 0  # calls sent to the store thread that later calls must not overtake
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
            self._loop_db = sqlite_utils.Database(self._connect(busy_timeout=0))
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
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS)
        db = sqlite_utils.Database(conn)
        if self.path != ":memory:":
            db.enable_wal()
        self._settings(conn)
        self._db = db

    def _connect(self, busy_timeout: float) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=busy_timeout)
        self._settings(conn)
        return conn

    def _settings(self, conn: sqlite3.Connection) -> None:
        """What each connection sets for itself (WAL belongs to the file, and is set once)."""
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        if self.path != ":memory:":
            # The WAL is copied back into the database by `_Checkpoints`, off the writer's thread: SQLite's
            # automatic checkpoint runs inside a commit, and made one write in a few hundred take 15-30 ms at
            # 100,000 cases (bench/store_scale.py).
            conn.execute("PRAGMA wal_autocheckpoint = 0")

    async def close(self) -> None:
        if self._checkpoints is not None:
            await asyncio.to_thread(self._checkpoints.stop)
            self._checkpoints = None
        if self._loop_db is not None:
            self._loop_db.conn.close()
            self._loop_db = None
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

    async def read(self, script: Script[T], *, snapshot: bool = False, long: bool = False) -> T:
        if snapshot:
            return await self._on_thread(long, self._snapshot, script)
        if long or not self._inline():
            return await self._on_thread(long, drive, script, self._execute)
        try:
            return self._read_inline(script)
        except _Locked as locked:  # rare: a read meets a lock only while the WAL is being reset
            return await self._on_thread(False, drive, script, self._execute, locked.pending)

    async def write(self, script: Script[T], *, long: bool = False, durable: bool = False) -> T:
        # A durable commit waits for the disk (an fsync, milliseconds): on the store thread, so the event loop
        # never does; later calls queue behind it as behind any other call sent there.
        if long or durable or not self._inline():
            return await self._on_thread(long, self._write, script, durable)
        try:
            return self._write_inline(script, durable)
        except _Locked:  # another connection holds the write lock: wait for it on the store thread
            return await self._on_thread(False, self._write, script, durable)

    def _inline(self) -> bool:
        """Whether a call may run on the event loop's thread now: there is a connection for it, and no call
        sent to the store thread is still pending that it would overtake."""
        return self._loop_db is not None and not self._behind

    async def _on_thread(self, long: bool, fn: Callable[..., T], *args: Any) -> T:
        """On the store thread. Unless it is a long job, later calls queue behind it (in order) until it is done."""
        if long:
            return await self.run(fn, *args)
        self._behind += 1
        try:
            return await self.run(fn, *args)
        finally:
            self._behind -= 1

    def _read_inline(self, script: Script[T]) -> T:
        assert self._loop_db is not None
        conn = self._loop_db.conn
        pending: list[Op] = []

        def run(op: Op) -> Any:
            pending[:] = [op]
            return self._execute(op, conn)

        try:
            return drive(script, run)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise _Locked(pending[0] if pending else None) from exc
            raise StoreError(str(exc)) from exc

    def _write_inline(self, script: Script[T], durable: bool) -> T:
        assert self._loop_db is not None
        conn = self._loop_db.conn
        try:
            self._begin(conn, durable)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise _Locked(None) from exc
            raise StoreError(str(exc)) from exc
        try:
            with self._committed(conn, durable):
                return drive(script, lambda op: self._execute(op, conn))
        except sqlite3.OperationalError as exc:
            raise StoreError(str(exc)) from exc

    def _write(self, script: Script[T], durable: bool = False) -> T:
        with self.transaction(durable):
            return drive(script, self._execute)

    def _snapshot(self, script: Script[T]) -> T:
        """Reads that all see one moment: a read transaction (the loop's connection may write meanwhile)."""
        conn = self.db.conn
        conn.execute("BEGIN")
        try:
            return drive(script, self._execute)
        finally:
            conn.execute("COMMIT")

    @contextmanager
    def transaction(self, durable: bool = False) -> Iterator[sqlite_utils.Database]:
        """One write transaction on the store thread's connection. BEGIN IMMEDIATE takes the write lock up front,
        so a second process waits on busy_timeout instead of failing half-way through a deferred transaction."""
        db = self.db
        self._begin(db.conn, durable)
        with self._committed(db.conn, durable):
            yield db

    @staticmethod
    def _begin(conn: sqlite3.Connection, durable: bool) -> None:
        """BEGIN IMMEDIATE; for a durable transaction, its commit first made to wait until the WAL is on the disk
        (synchronous FULL: the level may be changed only outside a transaction, so it is set just before)."""
        if durable:
            conn.execute("PRAGMA synchronous = FULL")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            if durable:
                conn.execute("PRAGMA synchronous = NORMAL")
            raise

    @staticmethod
    @contextmanager
    def _committed(conn: sqlite3.Connection, durable: bool = False) -> Iterator[None]:
        """Commit the transaction begun on `conn` when the block ends, or roll it back on an exception; then
        back to synchronous NORMAL after a durable one."""
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.execute("COMMIT")
        finally:
            if durable:
                conn.execute("PRAGMA synchronous = NORMAL")

    def _execute(self, op: Op, conn: sqlite3.Connection | None = None) -> Any:
        conn = conn or self.db.conn
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
        """The open file, through sqlite-utils (for tests and benchmarks that look inside): the store thread's
        connection."""
        return self._database.db

    @property
    def connections(self) -> list[sqlite_utils.Database]:
        """Every connection the store runs statements on: the store thread's, and the event loop's if it has one
        (for tests that play a fault on whichever a statement runs on)."""
        return [db for db in (self._database.db, self._database._loop_db) if db is not None]

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
