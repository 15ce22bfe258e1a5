"""Shared fixtures: a real store (SQLite in a temporary folder, and PostgreSQL in a throwaway schema when
OSB_TEST_POSTGRES_URL is set), the real content, a clock the test controls, a staff directory, and `Chat`,
an in-process test chat that drives the engine turn by turn."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from bot.conversation.engine import Engine
from bot.core.config import Settings
from bot.core.content import Content, load_content
from bot.core.models import Role, StaffMember
from bot.store import PostgresStore, SQLiteStore, Store
from testing.chat import STANDARD_REPORT, Chat
from testing.clock import Clock
from testing.keys import TEST_RECORD_KEY

# The PostgreSQL test database, for example postgresql://postgres@127.0.0.1:5432/test; without it, tests
# that take the `store` fixture run on SQLite only.
POSTGRES_URL = os.environ.get("OSB_TEST_POSTGRES_URL")

STAFF = [
    StaffMember(user="console:dsl", role=Role.DSL, name="Dana Lee"),
    StaffMember(user="console:deputy", role=Role.DEPUTY_DSL, name="Sam Patel"),
    StaffMember(user="console:head", role=Role.HEADTEACHER, name="Alex Morgan"),
    StaffMember(user="console:chair", role=Role.CHAIR_OF_GOVERNORS, name="Chris Wood"),
    StaffMember(user="console:teacher", role=Role.STAFF, name="Jo Brown"),
]


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Any attempt to reach a non-loopback address fails the test."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and self.family in (socket.AF_INET, socket.AF_INET6):
            try:
                allowed = ipaddress.ip_address(host).is_loopback
            except ValueError:
                allowed = host == "localhost"
            if not allowed:
                raise AssertionError(f"test tried to reach {address!r}: only loopback is allowed")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: the test reads or changes the SQLite file itself, so it runs on the SQLite store only")


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A new, empty schema in the test database (OSB_TEST_POSTGRES_URL), dropped with everything in it afterwards."""
    assert POSTGRES_URL, "OSB_TEST_POSTGRES_URL is not set"
    host = conninfo_to_dict(POSTGRES_URL).get("host") or "/"
    assert host.startswith("/") or host in ("127.0.0.1", "localhost", "::1"), f"not a loopback database: {host}"
    name = f"osb_test_{secrets.token_hex(6)}"
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
        await conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, db_path: Path) -> AsyncIterator[Store]:
    """The store, once on SQLite and once on PostgreSQL (in a schema of its own)."""
    if request.param == "sqlite":
        s: Store = SQLiteStore(db_path)
        await s.open()
        yield s
        await s.close()
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL store not tested: set OSB_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1/test")
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("reads or changes the SQLite file itself")
    async with postgres_schema() as schema:
        s = PostgresStore(POSTGRES_URL, schema=schema, record_key=TEST_RECORD_KEY)
        await s.open()
        yield s
        await s.close()


@pytest.fixture
async def another_store(store: Store, db_path: Path) -> AsyncIterator[Callable[[], Awaitable[Store]]]:
    """Opens a further store on the same database as `store`, as another process (or a restart) would;
    each is closed after the test."""
    opened: list[Store] = []

    async def open_one() -> Store:
        s: Store = (PostgresStore(store.url, schema=store.schema, record_key=TEST_RECORD_KEY)
                    if isinstance(store, PostgresStore)
                    else SQLiteStore(db_path))
        await s.open()
        opened.append(s)
        return s

    yield open_one
    for s in opened:
        await s.close()


def run_sql(store: Store, statement: str, params: list[Any] | tuple = ()) -> list[dict[str, Any]]:
    """Run one SQL statement on the store's database from outside the store, as someone with the database
    in hand could; its rows, if any. Written for SQLite with `?` placeholders, which run on PostgreSQL as
    `%s`: keep such statements to what both dialects share. Errors are the driver's own (sqlite3.Error,
    psycopg.Error)."""
    if isinstance(store, SQLiteStore):
        cursor = store.db.execute(statement, params)
        columns = [d[0] for d in cursor.description or []]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    assert isinstance(store, PostgresStore)
    with psycopg.connect(store.url, options=f"-c search_path={store.schema}", autocommit=True,
                         row_factory=dict_row) as conn:
        cursor = conn.execute(statement.replace("?", "%s"), params or None)
        return cursor.fetchall() if cursor.description else []


def stored_rows(store: Store, table: str) -> list[dict[str, Any]]:
    """Every row of `table` as the store wrote it, in the order written where the table keeps it (SQLite's
    rowid; PostgreSQL's `seq` or integer `id`)."""
    if isinstance(store, SQLiteStore):
        return run_sql(store, f'SELECT * FROM "{table}" ORDER BY rowid')
    rows = run_sql(store, f'SELECT * FROM "{table}"')
    order = "seq" if rows and "seq" in rows[0] else "id" if rows and isinstance(rows[0].get("id"), int) else None
    return sorted(rows, key=lambda r: r[order]) if order else rows


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return Settings(db=str(db_path), school_name="Hillside Academy")


@pytest.fixture
async def staffed(store):
    for member in STAFF:
        await store.upsert_staff(member)
    return store


@pytest.fixture
def bot(content, staffed, settings, clock) -> Engine:
    return Engine(content, staffed, settings, clock=clock)


@pytest.fixture
def chat(bot) -> Chat:
    return Chat(bot)


@pytest.fixture
def chat_as(bot):
    return lambda user: Chat(bot, user)


@pytest.fixture
def report_steps() -> list[str | list[str]]:
    return list(STANDARD_REPORT)
