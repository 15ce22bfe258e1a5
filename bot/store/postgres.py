"""The server store: the one SQL store (bot/store/sql_store.py) on PostgreSQL, through psycopg 3's async API and
a connection pool, for one deployment that several server processes share.

Where SQLite has one writer at a time, PostgreSQL is told what must not interleave (see sql_store.py): row
locks, `SKIP LOCKED`, and advisory locks by name (`Lock`), which belong to the whole database, so the schema
keeps two deployments (or test runs) apart. A conversation's lock is a session-level advisory lock, held on a
connection of its own. Connections come from two pools: one for the work, one for the conversation locks, so
that turns holding their lock can never use up the connections they need to finish.
"""

from __future__ import annotations

import re
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, AsyncIterator, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.store import record_key
from bot.store.base import KeyedLocks, StoreError
from bot.store.dialect import POSTGRES
from bot.store.sql import All, Count, Ddl, Lock, Many, One, Op, Script
from bot.store.sql_store import SqlStore

T = TypeVar("T")
Connection = AsyncConnection[dict[str, Any]]
ADVISORY_LOCK = "hashtextextended(%s, 0)"


class PostgresDatabase:
    """The driver: a pool for the work, another for the conversation locks."""

    dialect = POSTGRES
    refused: tuple[type[Exception], ...] = (psycopg.Error,)
    writes_serially_here = False  # several processes, and transactions that interleave

    def __init__(self, url: str, schema: str | None, pool_size: int, lock_pool_size: int):
        self.url, self.schema = url, schema
        self._pool_size, self._lock_pool_size = pool_size, lock_pool_size
        self._pool: AsyncConnectionPool | None = None
        self._lock_pool: AsyncConnectionPool | None = None
        self._conversation_locks = KeyedLocks()

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
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreError(f"cannot reach the database: {exc}") from exc

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
                yield conn  # type: ignore[misc]  # the pool's connections are made with dict_row
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise StoreError(str(exc)) from exc

    def lock_name(self, what: str) -> str:
        # Advisory locks belong to the whole database: the schema keeps two deployments (or test runs) apart.
        return f"online-safety-bot:{self.schema or ''}:{what}"

    # --- running scripts -------------------------------------------------------------------------

    async def read(self, script: Script[T], *, snapshot: bool = False, long: bool = False) -> T:
        async with self._connect() as conn:
            if not snapshot:
                return await self._drive(conn, script)
            async with conn.transaction():
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                return await self._drive(conn, script)

    async def write(self, script: Script[T], *, long: bool = False, durable: bool = False) -> T:
        """One write transaction (READ COMMITTED: each statement sees what others committed before it). Every call
        awaits the server, so a long one holds up nothing else here; every commit is durable already (the server's
        synchronous_commit, on unless its operator turned it off)."""
        async with self._connect() as conn, conn.transaction():
            return await self._drive(conn, script)

    async def _drive(self, conn: Connection, script: Script[T]) -> T:
        try:
            op = next(script)
            while True:
                op = script.send(await self._execute(conn, op))
        except StopIteration as done:
            return done.value

    async def _execute(self, conn: Connection, op: Op) -> Any:
        if isinstance(op, Many):
            if not op.rows:
                return 0
            async with conn.cursor() as cursor:
                await cursor.executemany(op.sql, op.rows)
                return cursor.rowcount
        if isinstance(op, Lock):
            # Held until the transaction ends: a second process taking the same lock waits here.
            await conn.execute(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})", [self.lock_name(op.name)])
            return None
        if isinstance(op, Ddl):
            await conn.execute(op.sql)  # several statements: allowed without parameters
            return None
        cursor = await conn.execute(op.sql, op.params)
        if isinstance(op, One):
            return await cursor.fetchone()
        if isinstance(op, All):
            return await cursor.fetchall()
        assert isinstance(op, Count)
        return cursor.rowcount

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        async with self._connect() as conn:
            lock = self.lock_name(name)
            await conn.execute(f"SELECT pg_advisory_lock({ADVISORY_LOCK})", [lock])
            try:
                yield
            finally:
                await conn.execute(f"SELECT pg_advisory_unlock({ADVISORY_LOCK})", [lock])

    def conversation_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        return self._conversation_lock(key)

    @asynccontextmanager
    async def _conversation_lock(self, key: str) -> AsyncIterator[None]:
        # The in-process lock first: turns of one conversation in this process queue here, on no connection.
        async with self._conversation_locks(key), self._connect(self._lock_pool) as conn:
            try:
                await conn.execute(f"SELECT pg_advisory_lock({ADVISORY_LOCK})", [self.lock_name(f"conversation:{key}")])
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


class PostgresStore(SqlStore):
    def __init__(self, url: str, *, schema: str | None = None, pool_size: int = 10, lock_pool_size: int = 20,
                 record_key: bytes | None = None):
        """`url`: postgresql://…; `schema`: where the tables are (the database's default search path if None);
        `record_key`: the key that seals case events, by default `OSB_RECORD_KEY`, which must then be set (every
        process needs the same one; see bot/store/record_key.py)."""
        if schema is not None and not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
            raise ValueError(f"not a plain schema name: {schema!r}")
        self.url = url
        self.schema = schema
        self._given_key = record_key
        self._database = PostgresDatabase(url, schema, pool_size, lock_pool_size)
        super().__init__(self._database)

    def _lock_name(self, what: str) -> str:
        return self._database.lock_name(what)

    def _find_record_key(self, stored: dict[str, Any] | None) -> tuple[bytes, str]:
        key = self._given_key or record_key.given_key()
        if key is None:
            if stored is not None:
                raise record_key.lost(record_key.ENV, str(stored["fingerprint"]), None)
            raise StoreError(f"{record_key.ENV} is not set: with PostgreSQL the key that seals case records is given "
                             f"to every process (make one with {record_key.MAKE_ONE}) and kept out of the database "
                             "and its backups")
        return key, record_key.ENV
