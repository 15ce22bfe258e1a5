"""The store interface the engine talks to. SQLite implements it now; a server database can later."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, Callable

from bot.models import (
    Case,
    CaseEvent,
    ConversationState,
    Evidence,
    Notification,
    Reminder,
    StaffMember,
)


class StoreError(Exception):
    """The store could not do what was asked (for example, the disk is full or the database is locked)."""


class Store(ABC):
    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    # --- conversations -------------------------------------------------------------------
    @abstractmethod
    async def load_conversation(self, key: str) -> ConversationState | None: ...

    @abstractmethod
    async def save_conversation(
        self, key: str, school_id: str, user: str, state: ConversationState, turn_id: str | None = None
    ) -> None:
        """Save the state and, in the same transaction, remember `turn_id` as handled."""

    @abstractmethod
    async def turn_seen(self, turn_id: str) -> bool: ...


    # --- staff directory -----------------------------------------------------------------
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
        notify: Callable[[Case], list[Notification]], reference_prefix: str,
    ) -> tuple[Case, bool]:
        """Give the case its reference and store it with its first events, evidence and the notifications
        `notify` makes for it, all or nothing. A case with the same draft id already stored is returned
        instead (created False), so a retried report never opens a second case or notifies twice."""

    @abstractmethod
    async def update_case(self, case: Case, events: list[CaseEvent], notifications: list[Notification]) -> None: ...

    @abstractmethod
    async def record_events(self, events: list[CaseEvent]) -> None: ...

    @abstractmethod
    async def get_case(self, school_id: str, reference: str) -> Case | None: ...

    @abstractmethod
    async def list_cases(
        self, school_id: str, *, routed_to: str | None = None, reporter: str | None = None, open_only: bool = False
    ) -> list[Case]: ...

    @abstractmethod
    async def case_events(self, case_id: str) -> list[CaseEvent]: ...

    @abstractmethod
    async def case_evidence(self, case_id: str) -> list[Evidence]: ...

    # --- notifications and reminders -----------------------------------------------------
    @abstractmethod
    async def queue_notifications(self, notifications: list[Notification]) -> None: ...

    @abstractmethod
    async def take_notifications(self, school_id: str, recipient: str) -> list[Notification]:
        """Pending notifications for `recipient`, oldest first, marked delivered as they are taken."""

    @abstractmethod
    async def pending_notifications(self, platform: str, limit: int = 100, reachable_only: bool = False) -> list[Notification]:
        """Undelivered notifications for the users of one platform, oldest first, for a channel to push.
        With `reachable_only`, only those for people with a stored conversation reference, so that notes
        waiting for someone who has never opened the bot do not hold up everyone else's."""

    @abstractmethod
    async def mark_delivered(self, notification_id: str) -> None: ...

    @abstractmethod
    async def record_card_post(self, school_id: str, reference: str, recipient: str, channel: str, message_id: str) -> None:
        """Remember where a case card was shown to `recipient`, to update it in place later."""

    @abstractmethod
    async def card_posts(self, school_id: str, reference: str, recipient: str) -> list[tuple[str, str]]:
        """(channel, message id) of every card for that case shown to `recipient`."""

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
        """Everyone on `platform` with a stored conversation reference."""

    @abstractmethod
    async def add_reminder(self, reminder: Reminder) -> None: ...

    @abstractmethod
    async def list_reminders(self, school_id: str, recipient: str | None = None) -> list[Reminder]: ...

    @abstractmethod
    async def record_privacy_check(
        self, school_id: str, user: str, platforms: list[str], done: list[str], skipped: list[str], at: datetime
    ) -> None: ...
