"""What the store's interface (bot/store/ports.py) speaks in besides the models: its error, the event chain's hash
and report, a purged case's tombstone, a kept input, and in-process locks by key."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any, Literal, NamedTuple
from weakref import WeakValueDictionary

from pydantic import BaseModel, Field

from bot.core.models import ConversationState, StaffMember


class StoreError(Exception):
    """The store could not do what was asked (for example, the disk is full or the database is locked)."""


# --- the tamper-evident event log ---------------------------------------------------------


def event_hash(case_id: str, actor: str, kind: str, detail: Any, at: str, prev_hash: str | None,
               key: bytes | None = None) -> str:
    """The hash (hex) over a canonical JSON of one event and the hash of the case's event before it: HMAC-SHA256
    with the record key (bot/store/record_key.py), or plain SHA-256 for events written before there was one.
    `at` is the timestamp exactly as stored (ISO 8601); `detail` the parsed JSON object."""
    canonical = json.dumps(
        {"case_id": case_id, "actor": actor, "kind": kind, "detail": detail, "at": at, "prev_hash": prev_hash},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    ).encode("utf-8")
    if key is not None:
        return hmac.new(key, canonical, hashlib.sha256).hexdigest()
    return hashlib.sha256(canonical).hexdigest()


ChainProblemKind = Literal["altered", "link_broken", "unhashed", "unkeyed", "end_mismatch"]


class ChainProblem(BaseModel):
    """One place where a case's event chain does not hold."""

    position: int | None = Field(description="the event's place in the case's log as it is now, from 1")
    event_id: int | None = Field(default=None, description="the stored row's id")
    kind: str | None = None
    at: datetime | None = None
    problem: ChainProblemKind = Field(description=(
        "altered: the event no longer matches its own hash; link_broken: the event before it was removed, "
        "changed or another put in its place; unhashed: an event without a hash after the chain began; "
        "unkeyed: an event sealed without the record key although written after the key was in place; "
        "end_mismatch: the log does not end with the case's latest event (later events removed, or this one "
        "added outside the bot)"))


class ChainReport(BaseModel):
    case_id: str
    events: int = 0
    hashed: int = 0
    unsealed: int = Field(default=0, description="events from before the chain existed, not yet sealed by a later one")
    head: str | None = Field(default=None, description="the hash of the case's latest event")
    keyed: int = Field(default=0, description="events sealed with the record key (HMAC); the others came before it")
    problems: list[ChainProblem] = Field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


class CaseTombstone(BaseModel):
    """What is kept of a purged case: when and why it went, never what it said."""

    school_id: str
    reference: str
    categories: list[str]
    created_at: datetime
    closed_at: datetime | None = None
    purged_at: datetime
    purged_by: str
    policy: str = Field(description="the retention rule that made the case due")
    events_removed: int
    last_event_hash: str | None = Field(default=None, description="the hash of the case's last event, if hashed")
    removed: dict[str, int] = Field(default_factory=dict, description="rows removed (or scrubbed) per table")
    still_mentioned: list[str] = Field(
        default_factory=list, description="tables where the reference still appears (other cases' records), checked "
        "after the purge; not stored")


class TurnStart(NamedTuple):
    """What a turn reads before it runs (`Store.begin_turn`)."""

    seen: bool  # its turn id was handled before: a platform's retry, to be ignored
    state: ConversationState | None  # the conversation's saved state, if it has one
    member: StaffMember | None  # the person in the school's staff directory, if listed


class KeptInput(BaseModel):
    """A request from a platform as it arrived, kept before the platform was acknowledged and until the turn it
    brings is saved (`Store.keep_input`). It holds what people typed: never logged, deleted once processed."""

    id: str
    platform: str
    body: str
    content_type: str
    received_at: datetime


class KeyedLocks:
    """In-process asyncio locks by key, each kept only while someone holds or awaits it."""

    def __init__(self) -> None:
        self._locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()

    def __call__(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock
