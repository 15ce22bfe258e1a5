"""Where conversations, cases and the staff directory are kept."""

from bot.store.base import StoreError
from bot.store.ports import Store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SQLiteStore


def open_store(url: str) -> Store:
    """A store for `url`: postgresql:// (or postgres://) gives the PostgreSQL store; a file path (or
    `sqlite:///path`) the embedded SQLite store."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    return SQLiteStore(url.removeprefix("sqlite:///"))


__all__ = ["Store", "StoreError", "SQLiteStore", "PostgresStore", "open_store"]
