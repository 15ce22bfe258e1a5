"""The one SQL store's building blocks: what a store method asks of the database, and how the two drivers run it.

Each store operation is written once, as a *script*: a generator that yields the statements to run (`One`,
`All`, `Count`, `Many`, `Lock`, `Ddl`) and receives each one's result, then returns what the operation
returns. A driver (bot/store/sqlite.py, bot/store/postgres.py) runs a script inside one write transaction
(`Database.write`) or as reads (`Database.read`): SQLite on its worker thread, synchronously, so a
transaction never gives up the thread; PostgreSQL on a pooled connection, awaiting each statement. Statements
are written in PostgreSQL's `%s` style; the dialect (bot/store/dialect.py) says the little that differs.
"""

from __future__ import annotations

import functools
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Concatenate,
    Coroutine,
    Generator,
    Mapping,
    ParamSpec,
    Protocol,
    Sequence,
    TypeVar,
)

if TYPE_CHECKING:
    from bot.store.dialect import Dialect

T = TypeVar("T")
P = ParamSpec("P")
INSERT_BATCH = 100  # rows to one INSERT: well within either database's limit on parameters


@dataclass(frozen=True, slots=True)
class One:
    """One statement; its first row as a dict, or None."""

    sql: str
    params: Sequence[Any] = ()


@dataclass(frozen=True, slots=True)
class All:
    """One statement; all its rows as dicts."""

    sql: str
    params: Sequence[Any] = ()


@dataclass(frozen=True, slots=True)
class Count:
    """One statement; how many rows it changed."""

    sql: str
    params: Sequence[Any] = ()


@dataclass(frozen=True, slots=True)
class Many:
    """One statement run once for each row of parameters; how many rows they changed in all."""

    sql: str
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True, slots=True)
class Lock:
    """Wait for, then hold until the transaction ends, the lock named `name` (PostgreSQL: an advisory lock
    shared by every process; SQLite: nothing, as its write transaction already excludes every other writer)."""

    name: str


@dataclass(frozen=True, slots=True)
class Ddl:
    """A migration's script: several statements, no parameters."""

    sql: str


Op = One | All | Count | Many | Lock | Ddl
Script = Generator[Op, Any, T]


class Database(Protocol):
    """What the one SQL store needs of a database: a driver per database implements it."""

    dialect: Dialect
    refused: tuple[type[Exception], ...]  # the errors of a statement the database refused (a trigger, a constraint)
    # Every write the server makes goes through this process, one transaction at a time (SQLite: one `serve` per
    # file, its transactions never interleaved), so what this process saw queued is all a server queued.
    writes_serially_here: bool

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def read(self, script: Script[T], *, snapshot: bool = False, long: bool = False) -> T:
        """Run a script that only reads, outside any write transaction; with `snapshot`, all its reads see
        the database as of one moment; `long` as for `write`."""
        ...

    async def write(self, script: Script[T], *, long: bool = False, durable: bool = False) -> T:
        """Run a script in one write transaction: all of it or (on an exception) none of it. `long`: a job that may
        take a while (a purge), which SQLite runs on its store thread, never on the event loop's. `durable`: its
        commit survives a power cut or an OS crash, not only a killed process (a case and its record)."""
        ...

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """Held across several transactions (the migrations): one process at a time, where several share the
        database."""
        ...

    def conversation_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """See `Store.conversation_lock`."""
        ...


def drive(script: Script[T], run: Callable[[Op], Any], pending: Op | None = None) -> T:
    """Run a script synchronously, each statement by `run`; `pending`: the statement it yielded last, not yet run
    (a script begun elsewhere, carried on here)."""
    try:
        op = next(script) if pending is None else pending
        while True:
            op = script.send(run(op))
    except StopIteration as done:
        return done.value


def insert(table: str, rows: Sequence[Mapping[str, Any]], on_conflict: str = "") -> Script[int]:
    """Insert rows (dicts with the same keys); how many were inserted (fewer when `on_conflict` skips some)."""
    inserted = 0
    for start in range(0, len(rows), INSERT_BATCH):  # one statement a batch, as sqlite-utils does
        batch = rows[start:start + INSERT_BATCH]
        columns = list(batch[0])
        names = ", ".join(f'"{c}"' for c in columns)
        values = ", ".join([f"({', '.join(['%s'] * len(columns))})"] * len(batch))
        sql = f'INSERT INTO "{table}" ({names}) VALUES {values} {on_conflict}'.rstrip()
        inserted += yield Count(sql, [r[c] for r in batch for c in columns])
    return inserted


class HasDatabase(Protocol):
    database: Database


S = TypeVar("S", bound=HasDatabase)


def reads(script: Callable[Concatenate[S, P], Script[T]]) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """A store method from a script that only reads."""

    @functools.wraps(script)
    async def run(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.database.read(script(self, *args, **kwargs))

    return run


def writes(script: Callable[Concatenate[S, P], Script[T]]) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """A store method from a script run in one write transaction."""

    @functools.wraps(script)
    async def run(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.database.write(script(self, *args, **kwargs))

    return run


def durable_writes(
    script: Callable[Concatenate[S, P], Script[T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """As `writes`, for a transaction that must survive a power cut: see `Database.write`'s `durable`."""

    @functools.wraps(script)
    async def run(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.database.write(script(self, *args, **kwargs), durable=True)

    return run


def long_reads(script: Callable[Concatenate[S, P], Script[T]]) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """As `reads`, for a read that may take a while (every row of a table, a scan): see `Database.write`'s `long`."""

    @functools.wraps(script)
    async def run(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.database.read(script(self, *args, **kwargs), long=True)

    return run


def long_writes(script: Callable[Concatenate[S, P], Script[T]]) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """As `writes`, for a write that may take a while (a purge, pruning): see `Database.write`'s `long`."""

    @functools.wraps(script)
    async def run(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.database.write(script(self, *args, **kwargs), long=True)

    return run
