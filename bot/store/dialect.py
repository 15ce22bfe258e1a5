"""What truly differs between SQLite and PostgreSQL, for the one SQL store (bot/store/sql_store.py).

Statements are written once, in PostgreSQL's `%s` style with `"user"` quoted (SQLite accepts both, once `%s`
is its `?`). The rest is here: how text is ordered byte by byte, which column keeps the insertion order,
row locks, the outbox's lease clock, finding text, and reading the schema.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Lease:
    """The outbox's lease clock as SQL: `now` to compare a lease with, `until` to set one (each with its
    parameters)."""

    now: str
    now_params: list[Any]
    until: str
    until_params: list[Any]


@dataclass(frozen=True)
class Dialect:
    name: str
    C: str  # after a text column in ORDER BY or a comparison: byte order, as SQLite's default
    insertion_order: str  # the column that keeps the order rows were inserted in, for a table with `seq`
    for_update: str  # after a SELECT: lock the rows read until the transaction ends
    skip_locked: str  # after a SELECT: lock the rows read, skipping rows another transaction holds
    ilike: str  # case-insensitive LIKE
    find: str  # a function (text, part) -> the position of part in text, 0 if absent
    columns: str  # every table of the store (in the order made) and its columns with their types, lower case
    database_clock: bool  # the outbox's leases run on the database's clock (migration 8), else the process's

    def sql(self, statement: str) -> str:
        """A statement as this database takes it."""
        return _question_marks(statement) if self.name == "sqlite" else statement

    def lease(self, seconds: float) -> Lease:
        if self.database_clock:
            return Lease("now()", [], "now() + make_interval(secs => %s)", [seconds])
        now = time.time()  # seconds since the epoch
        return Lease("%s", [now], "%s", [now + seconds])


@lru_cache(maxsize=2048)
def _question_marks(statement: str) -> str:
    return statement.replace("%s", "?")


SQLITE = Dialect(
    name="sqlite", C="", insertion_order="rowid", for_update="", skip_locked="", ilike="LIKE", find="instr",
    columns="SELECT m.name AS table_name, p.name AS column_name, lower(p.type) AS data_type"
            " FROM sqlite_master m JOIN pragma_table_info(m.name) p"
            " WHERE m.type = 'table' AND substr(m.name, 1, 7) <> 'sqlite_' ORDER BY m.rowid, p.cid",
    database_clock=False,
)

POSTGRES = Dialect(
    name="postgresql", C=' COLLATE "C"', insertion_order="seq", for_update=" FOR UPDATE",
    skip_locked=" FOR UPDATE SKIP LOCKED", ilike="ILIKE", find="strpos",
    columns="""SELECT c.relname AS table_name, a.attname AS column_name,
                      format_type(a.atttypid, a.atttypmod) AS data_type
               FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
               WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
                 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
               ORDER BY c.oid, a.attnum""",
    database_clock=True,
)
