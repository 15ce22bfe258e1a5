"""A command's store: opened for the command, closed after it, whatever happens."""

from __future__ import annotations

from pathlib import Path
from typing import Awaitable, Callable, TypeVar

from bot.core.config import Settings
from bot.store import Store, open_store

T = TypeVar("T")


async def with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    store = open_store(settings.db)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


def exports_folder(settings: Settings) -> Path:
    """Where files the bot makes for someone at this machine go: `exports` beside the SQLite database (or here)."""
    return (Path(settings.db).resolve().parent if "://" not in settings.db else Path.cwd()) / "exports"
