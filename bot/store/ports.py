"""The store's interface, split by area: each part of the bot asks for only the protocols it uses, and `Store`
is all of them (bot/store/sql_store.py implements it on SQLite and PostgreSQL)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Callable, Collection, Protocol, Sequence

from bot.core.models import (
    Case,
    CaseEvent,
    ConversationState,
    Evidence,
    Notification,
    Reminder,
    Route,
    School,
    Sighting,
    StaffMember,
)
from bot.store.base import CaseTombstone, ChainReport, KeptInput, TurnStart


class Lifecycle(Protocol):
    """Opening and closing the store."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def claim_server(self) -> None:
        """Called once by `serve`, before `open`. A store that only one server process may
        use (an SQLite file) refuses a second one, raising StoreError saying why, until this one closes or
        dies; a server database that several processes share has nothing to do."""


class Conversations(Protocol):
    """Conversations between a person and the bot, a turn at a time (the engine)."""

    def conversation_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """Held for a whole turn of conversation `key`: no other turn of it runs meanwhile, in this process
        or (for a store several processes share) in any other. Released on exit, even on error or cancellation."""

    async def load_conversation(self, key: str) -> ConversationState | None: ...

    async def save_conversation(
        self, key: str, school_id: str, user: str, state: ConversationState, turn_id: str | None = None,
        delivered: Sequence[str] = (),
    ) -> None:
        """Save the state and, in the same transaction, remember `turn_id` as handled and mark the
        notifications `delivered` (those the turn showed) as delivered."""

    async def turn_seen(self, turn_id: str) -> bool: ...

    async def begin_turn(self, key: str, turn_id: str | None, school_id: str, user: str) -> TurnStart:
        """What a turn of conversation `key` reads first, in one statement (one round trip to a server database):
        whether `turn_id` was handled already (`turn_seen`), the saved state (`load_conversation`) and `user`'s
        entry in `school_id`'s staff directory (`get_staff`)."""


class Inbox(Protocol):
    """Requests from a platform kept before it is told they arrived (bot/channels/slack/inbox.py)."""

    async def keep_input(self, platform: str, body: str, content_type: str, lease_seconds: float) -> str:
        """Keep a request's raw body before the platform is told it arrived; its id. It is leased to this
        process for `lease_seconds` (it is processing it now): `claim_inputs` offers it to no one until then."""

    async def claim_inputs(self, platform: str, lease_seconds: float, limit: int = 20) -> list[KeptInput]:
        """Kept inputs of `platform` whose lease has run out (their process died, or never finished them),
        oldest first, each leased anew to the caller for `lease_seconds`."""

    async def input_done(self, input_id: str) -> None:
        """The input was processed (its turn saved, or nothing to do): delete it."""


class Tenancy(Protocol):
    """The schools a deployment serves, and the workspaces their staff use."""

    async def upsert_school(self, school: School) -> None:
        """Add the school, or update it, and make its workspaces exactly `school.workspaces`, in one
        transaction."""

    async def get_school(self, school_id: str) -> School | None:
        """The school with its workspaces (by platform, then id), or None."""

    async def list_schools(self) -> list[School]:
        """Every school with its workspaces: schools first, then authorities, each by id."""

    async def remove_school(self, school_id: str) -> None:
        """Delete an empty school with its workspaces and reference counters, in one transaction. Raises
        StoreError, saying why, if there is no such school or it still has staff, cases, conversations or
        tombstones of purged cases (those are permanent, and a school id used again must not inherit them
        or reuse their references)."""

    async def schools_for_workspace(self, platform: str, workspace_id: str) -> list[str]:
        """The ids of the schools a workspace (Slack team, Microsoft 365 tenant) is mapped to, sorted: one
        usually, several when a trust shares a workspace, none when no school has claimed it."""


class Directory(Protocol):
    """The staff directory, the names platforms give people, and who has run the privacy check."""

    async def upsert_staff(self, member: StaffMember) -> None: ...

    async def remove_staff(self, school_id: str, user: str) -> bool: ...

    async def get_staff(self, school_id: str, user: str) -> StaffMember | None: ...

    async def list_staff(self, school_id: str) -> list[StaffMember]: ...

    async def save_display_name(self, school_id: str, user: str, name: str) -> None:
        """Remember (or replace) the name the platform gives `user`."""

    async def display_names(self, school_id: str) -> dict[str, str]:
        """user -> the name their platform gave them, for everyone the school's bot has talked to."""

    async def record_privacy_check(
        self, school_id: str, user: str, platforms: list[str], done: list[str], skipped: list[str], at: datetime
    ) -> None: ...

    async def privacy_check_users(self, school_id: str) -> set[str]:
        """Who has completed a privacy check: for a count, never shown as a list."""


class Cases(Protocol):
    """Cases, their tamper-evident events, evidence and refused actions."""

    async def create_case(
        self, case: Case, events: list[CaseEvent], evidence: list[Evidence],
        notify: Callable[[Case], list[Notification]], reference_prefix: str, sightings: Sequence[Sighting] = (),
    ) -> tuple[Case, bool]:
        """Give the case its reference and store it with its first events, evidence, early-warning sightings
        and the notifications `notify` makes for it, all or nothing. A case with the same draft id already stored
        is returned instead (created False), so a retried report never opens a second case or notifies twice."""

    async def update_case(
        self, case: Case, events: list[CaseEvent], notifications: list[Notification], *,
        expected_status: str | None = None,
    ) -> bool:
        """Store the case's status, outcome and time with its events and notifications, all or nothing. With
        `expected_status`, only while the stored status is still that (compare-and-set): False, and nothing
        stored, when another handler changed it meanwhile."""

    async def record_events(self, events: list[CaseEvent]) -> None: ...

    async def get_case(self, school_id: str, reference: str) -> Case | None: ...

    async def record_refusal(self, school_id: str, case_id: str | None, actor: str, at: datetime, action: str) -> int:
        """Count a refused case action by `actor` on case `case_id` (None: a reference that does not exist) on
        `at`'s UTC day, in one write transaction; the day's first on a case is also an `access_refused` event in
        its record (the action tried, `at`). Today's count so far."""

    async def refusal_counts(self, case_id: str) -> dict[tuple[str, str], int]:
        """How many times each person was refused the case each UTC day: (actor, "YYYY-MM-DD") -> count."""

    async def list_cases(
        self, school_id: str, *, routed_to: str | None = None, reporter: str | None = None, open_only: bool = False
    ) -> list[Case]: ...

    async def case_events(self, case_id: str) -> list[CaseEvent]: ...

    async def events_of_cases(self, case_ids: Sequence[str], kinds: Sequence[str]) -> dict[str, list[CaseEvent]]:
        """The events of these kinds for many cases at once (for trends), each case's in order; a few queries
        however many cases, where `case_events` for each would be one a case."""

    async def case_evidence(self, case_id: str) -> list[Evidence]: ...

    async def verify_case_chain(self, case_id: str) -> ChainReport:
        """Recompute the case's event chain from what is stored and say where, if anywhere, it breaks."""


class Outbox(Protocol):
    """Notifications waiting to be shown or pushed to people, each delivered once."""

    async def queue_notifications(self, notifications: list[Notification]) -> None: ...

    async def waiting_notifications(self, school_id: str, recipient: str) -> list[Notification]:
        """Undelivered notifications for `recipient`, oldest first, but for those leased to a sender right now.
        Read only: the turn that shows them marks them delivered when it is saved (`save_conversation`'s
        `delivered`), so a turn that fails loses none."""

    async def pending_notifications(self, platform: str, limit: int = 100,
                                    reachable_only: bool = False) -> list[Notification]:
        """Undelivered notifications for the users of one platform, oldest first, for a channel to push.
        With `reachable_only`, only those for people with a stored conversation reference, so that notes
        waiting for someone who has never opened the bot do not hold up everyone else's."""

    async def claim_notifications(
        self, platform: str, limit: int = 100, reachable_only: bool = False, lease_seconds: float = 60,
        skip: Collection[str] = (),
    ) -> list[Notification]:
        """As `pending_notifications`, but each one returned is leased to the caller: no other call (in any
        process) gets it until `lease_seconds` have passed, after which it is offered again (the sender died
        mid-send, say). `mark_delivered` ends it. Recipients in `skip` (those the caller is still sending to)
        are left out, as far as the database takes that many at once: the caller must still cope with theirs."""

    def outbox_may_hold(self, platform: str) -> bool:
        """False only when nothing for `platform` can have become claimable since this process last claimed for
        it: nothing queued or released for its people, no one of them newly reachable. Always True where other
        processes write too (PostgreSQL). A delivery a turn asks for skips the claim when False; one that runs
        by the clock always looks (for leases that ran out, and the CLI)."""

    async def mark_delivered(self, notification_id: str) -> None: ...

    async def release_notification(self, notification_id: str) -> None:
        """End a lease without delivering: the send failed, so the next claim may offer it again at once."""

    async def release_school_notifications(self, platform: str, school_ids: list[str]) -> int:
        """End the leases of every undelivered notification for these schools' people on one platform (the
        platform has just become able to reach them: its app was installed there), so the next claim offers them
        at once. Says how many."""

    async def mark_failed(self, notification_id: str, reason: str) -> None:
        """The platform refused the notification for good (`reason`, a word such as `blocked`): it is no longer
        pushed, nor claimed. It is still shown if its recipient opens the bot again (`waiting_notifications`)."""


class Reminders(Protocol):
    """Reminders and escalation (bot/app/scheduler.py), each sent exactly once."""

    async def add_reminder(self, reminder: Reminder) -> None: ...

    async def list_reminders(self, school_id: str, recipient: str | None = None) -> list[Reminder]: ...

    async def claimed_reminders(self, school_id: str, keys: list[str]) -> set[str]:
        """Which of `keys` the scheduler has already claimed (sent)."""

    async def claim_case_reminder(
        self, school_id: str, key: str, kind: str, case_id: str, at: datetime,
        prepare: Callable[[Case, list[CaseEvent]], tuple[list[CaseEvent], list[Notification], list[Route]] | None],
    ) -> bool:
        """Send one reminder about a case exactly once, even with several processes sharing the store.
        In one write transaction: unless `key` is already claimed, read the case and its events afresh and
        call `prepare` (synchronous; it must not use the store). If it returns None (no longer due: the case
        was acknowledged, answered or closed meanwhile), nothing is stored. Otherwise store the key, the case
        events, the notifications, and give each new route access to the case. True when this call claimed it."""

    async def due_reminders(self, school_id: str, now: datetime, kind: str | None = None) -> list[Reminder]:
        """Stored reminders not yet sent whose time has come, earliest first."""

    async def claim_reminder(self, reminder_id: str, sent_at: datetime, notifications: list[Notification]) -> bool:
        """Mark a stored reminder sent and queue its notifications in one write transaction, only if it was
        not sent already. True when this call claimed it."""

    # the morning digest (bot/cases/digest.py)
    async def set_morning_digest(self, school_id: str, user: str, on: bool, at: datetime) -> None:
        """Turn the morning digest on (the default) or off for one person."""

    async def morning_digest_off(self, school_id: str) -> set[str]:
        """Who in the school has turned the morning digest off."""

    async def digests_sent(self, school_id: str, day: str) -> set[str]:
        """Who has been sent their digest for `day` (YYYY-MM-DD, the school's local date)."""

    async def claim_digest(self, school_id: str, recipient: str, day: str, at: datetime,
                           notifications: list[Notification]) -> bool:
        """Send one person's digest for `day` exactly once, even with several processes sharing the store: in
        one write transaction, unless it was sent already, record it as sent at `at` and queue `notifications`.
        True when this call claimed it."""


class Sightings(Protocol):
    """Early warning across schools (bot/cases/early_warning.py)."""

    async def record_sightings(self, sightings: list[Sighting]) -> None:
        """Keep the accounts a case named (each sighting's case must be stored). A purge deletes them with
        their case."""

    async def recent_sightings(self, since: datetime) -> list[Sighting]:
        """Every school's sightings at or after `since`, oldest first (in the order recorded when at the same
        time). Times read back in UTC."""

    async def sighted_elsewhere(self, school_id: str, since: datetime) -> bool:
        """Whether any school but `school_id` has a sighting at or after `since` (one indexed look, reading no
        sighting): without one, no alert can include a case of `school_id`."""

    async def related_sightings(self, case_id: str, since: datetime) -> list[Sighting]:
        """The sightings at or after `since` that share an account or a pattern key with case `case_id`'s own
        (theirs included), oldest first, found through the indexes on account and pattern key: the cost grows with
        what matches, not with the window."""

    async def claim_alert(
        self, key: str, at: datetime, window_start: datetime, notifications: list[Notification]
    ) -> bool:
        """Send one early-warning alert exactly once, even with several processes sharing the store: in one
        write transaction, unless an alert with `key` was sent at or after `window_start` (or at `at`
        itself), record it as sent at `at` and queue `notifications`. True when this call claimed it."""


class Retention(Protocol):
    """Purging closed cases, and forgetting what has served its purpose (bot/cases/retention.py)."""

    async def case_closed_times(self, school_id: str) -> dict[str, datetime]:
        """case id -> when each closed case was closed (its first `closed` event)."""

    async def purge_case(
        self, school_id: str, reference: str, *, purged_at: datetime, purged_by: str, policy: str
    ) -> CaseTombstone:
        """Delete a closed case and everything kept about it (answers, routes, evidence references, events,
        notifications, card posts, early-warning sightings, and its traces in conversations and reminders) in
        one transaction that also writes its tombstone. Raises StoreError if the case does not exist or is not
        closed."""

    async def list_tombstones(self, school_id: str) -> list[CaseTombstone]: ...

    async def prune_expired(self, *, handled_before: datetime, delivered_before: datetime,
                            now: float) -> dict[str, int]:
        """Forget what has served its purpose (bot/cases/retention.py says when): the ids of turns handled before
        `handled_before` (no platform retries that long), notifications delivered before `delivered_before`, and
        OAuth states expired by `now` (seconds since the epoch). Rows deleted per table."""


class ChannelState(Protocol):
    """What the channels keep: where case cards were shown, conversation references (Teams), Slack installations
    and OAuth states."""

    async def record_card_post(self, school_id: str, reference: str, recipient: str, channel: str,
                               message_id: str) -> list[tuple[str, str]]:
        """Remember where a case card was shown to `recipient`, to update it in place later. Each person has one
        live card per case: this one replaces any shown before, whose (channel, message id) are returned so the
        channel can take their buttons off."""

    async def card_posts(self, school_id: str, reference: str, recipient: str) -> list[tuple[str, str]]:
        """(channel, message id) of the live card for that case shown to `recipient` (at most one)."""

    async def save_conversation_ref(self, school_id: str, user: str, platform: str, reference: dict[str, Any]) -> None:
        """Remember (or replace) where `user` can be reached: the platform's conversation reference, as JSON."""

    async def get_conversation_ref(self, school_id: str, user: str) -> dict[str, Any] | None: ...

    async def forget_conversation_ref(self, school_id: str, user: str) -> None:
        """`user` removed the bot: they cannot be reached until they add it again."""

    async def reachable_users(self, school_id: str, platform: str) -> set[str]:
        """Everyone on `platform` with a stored conversation reference that has not failed."""

    async def mark_unreachable(self, school_id: str, user: str, reason: str) -> None:
        """`user`'s conversation refused for good (`reason`): they are not reachable, and nothing is pushed to
        them, until they next write (`save_conversation_ref` clears it)."""

    async def unreachable_users(self, school_id: str, platform: str) -> dict[str, str]:
        """Everyone on `platform` whose conversation failed, with the reason."""

    async def save_slack_installation(
        self, enterprise_id: str | None, team_id: str | None, data: bytes, at: datetime
    ) -> None:
        """Keep (or replace) the installation for a workspace, or for a whole Enterprise Grid organisation
        (team_id None). `data` is already encrypted by the caller: the store never sees a token in clear."""

    async def find_slack_installation(self, enterprise_id: str | None, team_id: str | None) -> bytes | None:
        """The stored `data` for exactly this enterprise and team; failing that, for a team in an organisation,
        the organisation's own install (enterprise_id, no team); else None."""

    async def delete_slack_installation(self, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget the installation for exactly this enterprise and team (nothing if there is none)."""

    async def issue_oauth_state(self, state: str, expires_at: float) -> None:
        """Remember an OAuth `state` parameter until `expires_at` (seconds since the epoch)."""

    async def consume_oauth_state(self, state: str, now: float) -> bool:
        """Use up `state`: True only if it was issued, not yet consumed, and has not expired by `now`. Each
        state is consumed once, even by two processes at the same moment. Expired states are forgotten too."""


class Store(Lifecycle, Conversations, Inbox, Tenancy, Directory, Cases, Outbox, Reminders, Sightings, Retention,
            ChannelState, Protocol):
    """The whole store."""
