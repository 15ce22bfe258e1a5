"""Shared fixtures: a real SQLite store in a temporary folder, the real content, a clock the test
controls, a staff directory, and `Chat`, an in-process test chat that drives the engine turn by turn."""

from __future__ import annotations

import ipaddress
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.config import Settings
from bot.content import Content, load_content
from bot.engine import Bot
from bot.models import Attachment, Reply, Role, StaffMember, Turn
from bot.store import SQLiteStore

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


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 21, 30, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


@pytest.fixture
async def store(db_path: Path):
    s = SQLiteStore(db_path)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def settings(db_path: Path) -> Settings:
    return Settings(db=str(db_path), school_name="Hillside Academy")


@pytest.fixture
async def staffed(store):
    for member in STAFF:
        await store.upsert_staff(member)
    return store


@pytest.fixture
def bot(content, staffed, settings, clock) -> Bot:
    return Bot(content, staffed, settings, clock=clock)


class Chat:
    """One person's conversation with the bot, in process."""

    def __init__(self, bot: Bot, user: str = "console:teacher"):
        self.bot = bot
        self.platform, _, self.user_id = user.partition(":")
        self.last: list[Reply] = []

    def _turn(self, **fields) -> Turn:
        return Turn(platform=self.platform, user_id=self.user_id, conversation_id=self.user_id, **fields)

    async def open(self) -> list[Reply]:
        self.last = await self.bot.handle(self._turn(kind="open"))
        return self.last

    async def say(self, text: str, **fields) -> list[Reply]:
        self.last = await self.bot.handle(self._turn(text=text, **fields))
        return self.last

    async def pick(self, *ids: str, **fields) -> list[Reply]:
        self.last = await self.bot.handle(self._turn(choices=list(ids), **fields))
        return self.last

    async def attach(self, *files: Attachment, text: str | None = None) -> list[Reply]:
        self.last = await self.bot.handle(self._turn(attachments=list(files), text=text))
        return self.last

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.last]

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.last)

    def reply(self, key: str) -> Reply:
        for r in self.last:
            if r.key == key:
                return r
        raise AssertionError(f"no reply {key!r} in {self.keys}")

    def choice_ids(self) -> list[str]:
        return [c.id for r in self.last for c in r.choices]


@pytest.fixture
def chat(bot) -> Chat:
    return Chat(bot)


@pytest.fixture
def chat_as(bot):
    return lambda user: Chat(bot, user)


# A report that reaches the summary; each entry is one turn (text, or a list of choice ids).
STANDARD_REPORT: list[str | list[str]] = [
    "I'm being targeted",
    ["targeting_me"],
    ["no"],
    ["instagram"],
    "@fake_hillside https://www.instagram.com/fake_hillside/?igsh=abc",
    "yesterday",
    "It posts photos of me from the school website with mocking captions.",
    ["me", "school_brand"],
    "skip",
    "I have screenshots saved on the school laptop",
    ["done"],
    ["nobody"],
    ["no_idea"],
]


async def walk(chat: Chat, steps: list[str | list[str]]) -> None:
    for step in steps:
        if isinstance(step, list):
            await chat.pick(*step)
        else:
            await chat.say(step)


@pytest.fixture
def report_steps() -> list[str | list[str]]:
    return list(STANDARD_REPORT)
