"""Where conversations, cases and the staff directory are kept."""

from bot.store.base import Store, StoreError
from bot.store.sqlite import SQLiteStore


def open_store(url: str) -> Store:
    """A store for `url`: a file path (or `sqlite:///path`) gives the embedded SQLite store."""
    path = url.removeprefix("sqlite:///")
    return SQLiteStore(path)


__all__ = ["Store", "StoreError", "SQLiteStore", "open_store"]
