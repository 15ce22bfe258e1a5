"""The store interface the engine talks to. SQLite implements it now; a server database can later."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Callable, Literal, Sequence
from weakref import WeakValueDictionary

from pydantic import BaseModel, Field

from bot.early_warning import Sighting
from bot.models import (
    Case,
    CaseEvent,
    ConversationState,
    Evidence,
    Notification,
    Reminder,
    Route,
    School,
    StaffMember,
)


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


class ChainProblem(BaseModel):
    """One place where a case's event chain does not hold."""

    position: int | None = Field(description="the event's place in the case's log as it is now, from 1")
    event_id: int | None = Field(default=None, description="the stored row's id")
    kind: str | None = None
    at: datetime | None = None
    problem: Literal["altered", "link_broken", "unhashed", "unkeyed", "end_mismatch"] = Field(description=(
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


class Store(ABC):
    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def claim_server(self) -> None:
        """Called once by `serve`, before `open`. A store that only one server process may
        use (an SQLite file) refuses a second one, raising StoreError saying why, until this one closes or
        dies; a server database that several processes share has nothing to do."""

    @abstractmethod
    def conversation_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """Held for a whole turn of conversation `key`: no other turn of it runs meanwhile, in this process
        or (for a store several processes share) in any other. Released on exit, even on error or cancellation."""

    # --- conversations -------------------------------------------------------------------
    @abstractmethod
    async def load_conversation(self, key: str) -> ConversationState | None: ...

    @abstractmethod
    async def save_conversation(
        self, key: str, school_id: str, user: str, state: ConversationState, turn_id: str | None = None,
        delivered: Sequence[str] = (),
    ) -> None:
        """Save the state and, in the same transaction, remember `turn_id` as handled and mark the
        notifications `delivered` (those the turn showed) as delivered."""

    @abstractmethod
    async def turn_seen(self, turn_id: str) -> bool: ...

    # --- the inbox: input kept before it is acknowledged ---------------------------------------
    @abstractmethod
    async def keep_input(self, platform: str, body: str, content_type: str, lease_seconds: float) -> str:
        """Keep a request's raw body before the platform is told it arrived; its id. It is leased to this
        process for `lease_seconds` (it is processing it now): `claim_inputs` offers it to no one until then."""

    @abstractmethod
    async def claim_inputs(self, platform: str, lease_seconds: float, limit: int = 20) -> list[KeptInput]:
        """Kept inputs of `platform` whose lease has run out (their process died, or never finished them),
        oldest first, each leased anew to the caller for `lease_seconds`."""

    @abstractmethod
    async def prune_expired(self, *, handled_before: datetime, delivered_before: datetime, now: float) -> dict[str, int]:
        """Forget what has served its purpose (bot/retention.py says when): the ids of turns handled before
        `handled_before` (no platform retries that long), notifications delivered before `delivered_before`, and
        OAuth states expired by `now` (seconds since the epoch). Rows deleted per table."""

    @abstractmethod
    async def input_done(self, input_id: str) -> None:
        """The input was processed (its turn saved, or nothing to do): delete it."""


    # --- schools (tenants) ----------------------------------------------------------------
    @abstractmethod
    async def upsert_school(self, school: School) -> None:
        """Add the school, or update it, and make its workspaces exactly `school.workspaces`, in one
        transaction."""

    @abstractmethod
    async def get_school(self, school_id: str) -> School | None:
        """The school with its workspaces (by platform, then id), or None."""

    @abstractmethod
    async def list_schools(self) -> list[School]:
        """Every school with its workspaces: schools first, then authorities, each by id."""

    @abstractmethod
    async def remove_school(self, school_id: str) -> None:
        """Delete an empty school with its workspaces and reference counters, in one transaction. Raises
        StoreError, saying why, if there is no such school or it still has staff, cases, conversations or
        tombstones of purged cases (those are permanent, and a school id used again must not inherit them
        or reuse their references)."""

    @abstractmethod
    async def schools_for_workspace(self, platform: str, workspace_id: str) -> list[str]:
        """The ids of the schools a workspace (Slack team, Microsoft 365 tenant) is mapped to, sorted: one
        usually, several when a trust shares a workspace, none when no school has claimed it."""

    @abstractmethod
    async def upsert_staff(self, member: StaffMember) -> None: ...

    @abstractmethod
    async def remove_staff(self, school_id: str, user: str) -> bool: ...

    @abstractmethod
    async def get_staff(self, school_id: str, user: str) -> StaffMember | None: ...

    @abstractmethod
    async def list_staff(self, school_id: str) -> list[StaffMember]: ...

    # --- cases -----------------------------------------------------------------------------
    @abstractmethod
    async def create_case(
        self, case: Case, events: list[CaseEvent], evidence: list[Evidence],
        notify: Callable[[Case], list[Notification]], reference_prefix: str, sightings: Sequence[Sighting] = (),
    ) -> tuple[Case, bool]:
        """Give the case its reference and store it with its first events, evidence, early-warning sightings
        and the notifications `notify` makes for it, all or nothing. A case with the same draft id already stored is returned
        instead (created False), so a retried report never opens a second case or notifies twice."""

    @abstractmethod
    async def update_case(
        self, case: Case, events: list[CaseEvent], notifications: list[Notification], *, expected_status: str | None = None,
    ) -> bool:
        """Store the case's status, outcome and time with its events and notifications, all or nothing. With
        `expected_status`, only while the stored status is still that (compare-and-set): False, and nothing
        stored, when another handler changed it meanwhile."""

    @abstractmethod
    async def record_events(self, events: list[CaseEvent]) -> None: ...

    @abstractmethod
    async def get_case(self, school_id: str, reference: str) -> Case | None: ...

    @abstractmethod
    async def record_refusal(self, school_id: str, case_id: str | None, actor: str, at: datetime, action: str) -> int:
        """Count a refused case action by `actor` on case `case_id` (None: a reference that does not exist) on
        `at`'s UTC day, in one write transaction; the day's first on a case is also an `access_refused` event in
        its record (the action tried, `at`). Today's count so far."""

    @abstractmethod
    async def refusal_counts(self, case_id: str) -> dict[tuple[str, str], int]:
        """How many times each person was refused the case each UTC day: (actor, "YYYY-MM-DD") -> count."""

    @abstractmethod
    async def list_cases(
        self, school_id: str, *, routed_to: str | None = None, reporter: str | None = None, open_only: bool = False
    ) -> list[Case]: ...

    @abstractmethod
    async def case_events(self, case_id: str) -> list[CaseEvent]: ...

    @abstractmethod
    async def events_of_cases(self, case_ids: Sequence[str], kinds: Sequence[str]) -> dict[str, list[CaseEvent]]:
        """The events of these kinds for many cases at once (for trends), each case's in order; a few queries
        however many cases, where `case_events` for each would be one a case."""

    @abstractmethod
    async def case_evidence(self, case_id: str) -> list[Evidence]: ...

    # --- notifications and reminders -----------------------------------------------------
    @abstractmethod
    async def queue_notifications(self, notifications: list[Notification]) -> None: ...

    @abstractmethod
    async def waiting_notifications(self, school_id: str, recipient: str) -> list[Notification]:
        """Undelivered notifications for `recipient`, oldest first, but for those leased to a sender right now.
        Read only: the turn that shows them marks them delivered when it is saved (`save_conversation`'s
        `delivered`), so a turn that fails loses none."""

    @abstractmethod
    async def pending_notifications(self, platform: str, limit: int = 100, reachable_only: bool = False) -> list[Notification]:
        """Undelivered notifications for the users of one platform, oldest first, for a channel to push.
        With `reachable_only`, only those for people with a stored conversation reference, so that notes
        waiting for someone who has never opened the bot do not hold up everyone else's."""

    @abstractmethod
    async def claim_notifications(
        self, platform: str, limit: int = 100, reachable_only: bool = False, lease_seconds: float = 60
    ) -> list[Notification]:
        """As `pending_notifications`, but each one returned is leased to the caller: no other call (in any
        process) gets it until `lease_seconds` have passed, after which it is offered again (the sender died
        mid-send, say). `mark_delivered` ends it."""

    @abstractmethod
    async def mark_delivered(self, notification_id: str) -> None: ...

    @abstractmethod
    async def release_notification(self, notification_id: str) -> None:
        """End a lease without delivering: the send failed, so the next claim may offer it again at once."""

    @abstractmethod
    async def mark_failed(self, notification_id: str, reason: str) -> None:
        """The platform refused the notification for good (`reason`, a word such as `blocked`): it is no longer
        pushed, nor claimed. It is still shown if its recipient opens the bot again (`waiting_notifications`)."""

    @abstractmethod
    async def save_display_name(self, school_id: str, user: str, name: str) -> None:
        """Remember (or replace) the name the platform gives `user`."""

    @abstractmethod
    async def display_names(self, school_id: str) -> dict[str, str]:
        """user -> the name their platform gave them, for everyone the school's bot has talked to."""

    @abstractmethod
    async def record_card_post(self, school_id: str, reference: str, recipient: str, channel: str,
                               message_id: str) -> list[tuple[str, str]]:
        """Remember where a case card was shown to `recipient`, to update it in place later. Each person has one
        live card per case: this one replaces any shown before, whose (channel, message id) are returned so the
        channel can take their buttons off."""

    @abstractmethod
    async def card_posts(self, school_id: str, reference: str, recipient: str) -> list[tuple[str, str]]:
        """(channel, message id) of the live card for that case shown to `recipient` (at most one)."""

    # --- conversation references (platforms that can only message a conversation someone opened) ---
    @abstractmethod
    async def save_conversation_ref(self, school_id: str, user: str, platform: str, reference: dict[str, Any]) -> None:
        """Remember (or replace) where `user` can be reached: the platform's conversation reference, as JSON."""

    @abstractmethod
    async def get_conversation_ref(self, school_id: str, user: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def forget_conversation_ref(self, school_id: str, user: str) -> None:
        """`user` removed the bot: they cannot be reached until they add it again."""

    @abstractmethod
    async def reachable_users(self, school_id: str, platform: str) -> set[str]:
        """Everyone on `platform` with a stored conversation reference that has not failed."""

    @abstractmethod
    async def mark_unreachable(self, school_id: str, user: str, reason: str) -> None:
        """`user`'s conversation refused for good (`reason`): they are not reachable, and nothing is pushed to
        them, until they next write (`save_conversation_ref` clears it)."""

    @abstractmethod
    async def unreachable_users(self, school_id: str, platform: str) -> dict[str, str]:
        """Everyone on `platform` whose conversation failed, with the reason."""

    @abstractmethod
    async def add_reminder(self, reminder: Reminder) -> None: ...

    @abstractmethod
    async def list_reminders(self, school_id: str, recipient: str | None = None) -> list[Reminder]: ...

    @abstractmethod
    async def record_privacy_check(
        self, school_id: str, user: str, platforms: list[str], done: list[str], skipped: list[str], at: datetime
    ) -> None: ...

    @abstractmethod
    async def privacy_check_users(self, school_id: str) -> set[str]:
        """Who has completed a privacy check: for a count, never shown as a list."""

    # --- early warning across schools (bot/early_warning.py) ----------------------------------
    @abstractmethod
    async def record_sightings(self, sightings: list[Sighting]) -> None:
        """Keep the accounts a case named (each sighting's case must be stored). A purge deletes them with
        their case."""

    @abstractmethod
    async def recent_sightings(self, since: datetime) -> list[Sighting]:
        """Every school's sightings at or after `since`, oldest first (in the order recorded when at the same
        time). Times read back in UTC."""

    @abstractmethod
    async def related_sightings(self, case_id: str, since: datetime) -> list[Sighting]:
        """The sightings at or after `since` that share an account or a pattern key with case `case_id`'s own
        (theirs included), oldest first, found through the indexes on account and pattern key: the cost grows with
        what matches, not with the window."""

    @abstractmethod
    async def claim_alert(
        self, key: str, at: datetime, window_start: datetime, notifications: list[Notification]
    ) -> bool:
        """Send one early-warning alert exactly once, even with several processes sharing the store: in one
        write transaction, unless an alert with `key` was sent at or after `window_start` (or at `at`
        itself), record it as sent at `at` and queue `notifications`. True when this call claimed it."""

    # --- Slack installations (Bolt's OAuth install flow, many workspaces) ------------------------
    @abstractmethod
    async def save_slack_installation(
        self, enterprise_id: str | None, team_id: str | None, data: bytes, at: datetime
    ) -> None:
        """Keep (or replace) the installation for a workspace, or for a whole Enterprise Grid organisation
        (team_id None). `data` is already encrypted by the caller: the store never sees a token in clear."""

    @abstractmethod
    async def find_slack_installation(self, enterprise_id: str | None, team_id: str | None) -> bytes | None:
        """The stored `data` for exactly this enterprise and team; failing that, for a team in an organisation,
        the organisation's own install (enterprise_id, no team); else None."""

    @abstractmethod
    async def delete_slack_installation(self, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget the installation for exactly this enterprise and team (nothing if there is none)."""

    @abstractmethod
    async def issue_oauth_state(self, state: str, expires_at: float) -> None:
        """Remember an OAuth `state` parameter until `expires_at` (seconds since the epoch)."""

    @abstractmethod
    async def consume_oauth_state(self, state: str, now: float) -> bool:
        """Use up `state`: True only if it was issued, not yet consumed, and has not expired by `now`. Each
        state is consumed once, even by two processes at the same moment. Expired states are forgotten too."""

    # --- the tamper-evident event log ------------------------------------------------------
    @abstractmethod
    async def verify_case_chain(self, case_id: str) -> ChainReport:
        """Recompute the case's event chain from what is stored and say where, if anywhere, it breaks."""

    # --- retention -------------------------------------------------------------------------
    @abstractmethod
    async def case_closed_times(self, school_id: str) -> dict[str, datetime]:
        """case id -> when each closed case was closed (its first `closed` event)."""

    @abstractmethod
    async def purge_case(
        self, school_id: str, reference: str, *, purged_at: datetime, purged_by: str, policy: str
    ) -> CaseTombstone:
        """Delete a closed case and everything kept about it (answers, routes, evidence references, events,
        notifications, card posts, early-warning sightings, and its traces in conversations and reminders) in
        one transaction that also writes its tombstone. Raises StoreError if the case does not exist or is not
        closed."""

    @abstractmethod
    async def list_tombstones(self, school_id: str) -> list[CaseTombstone]: ...

    # --- reminders and escalation (bot/scheduler.py) ------------------------------------------
    @abstractmethod
    async def claimed_reminders(self, school_id: str, keys: list[str]) -> set[str]:
        """Which of `keys` the scheduler has already claimed (sent)."""

    @abstractmethod
    async def claim_case_reminder(
        self, school_id: str, key: str, kind: str, case_id: str, at: datetime,
        prepare: Callable[[Case, list[CaseEvent]], tuple[list[CaseEvent], list[Notification], list[Route]] | None],
    ) -> bool:
        """Send one reminder about a case exactly once, even with several processes sharing the store.
        In one write transaction: unless `key` is already claimed, read the case and its events afresh and
        call `prepare` (synchronous; it must not use the store). If it returns None (no longer due: the case
        was acknowledged, answered or closed meanwhile), nothing is stored. Otherwise store the key, the case
        events, the notifications, and give each new route access to the case. True when this call claimed it."""

    @abstractmethod
    async def due_reminders(self, school_id: str, now: datetime, kind: str | None = None) -> list[Reminder]:
        """Stored reminders not yet sent whose time has come, earliest first."""

    # --- the morning digest (bot/digest.py) ----------------------------------------------------
    @abstractmethod
    async def set_morning_digest(self, school_id: str, user: str, on: bool, at: datetime) -> None:
        """Turn the morning digest on (the default) or off for one person."""

    @abstractmethod
    async def morning_digest_off(self, school_id: str) -> set[str]:
        """Who in the school has turned the morning digest off."""

    @abstractmethod
    async def digests_sent(self, school_id: str, day: str) -> set[str]:
        """Who has been sent their digest for `day` (YYYY-MM-DD, the school's local date)."""

    @abstractmethod
    async def claim_digest(self, school_id: str, recipient: str, day: str, at: datetime,
                           notifications: list[Notification]) -> bool:
        """Send one person's digest for `day` exactly once, even with several processes sharing the store: in
        one write transaction, unless it was sent already, record it as sent at `at` and queue `notifications`.
        True when this call claimed it."""

    @abstractmethod
    async def claim_reminder(self, reminder_id: str, sent_at: datetime, notifications: list[Notification]) -> bool:
        """Mark a stored reminder sent and queue its notifications in one write transaction, only if it was
        not sent already. True when this call claimed it."""
