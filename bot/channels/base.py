"""What every channel shares: placing a person in a school, the school's words, and what a channel keeps in the store.

`resolve_turn` is the first thing each listener does: it says which school a person writing from a workspace
belongs to (bot/cases/schools.py), with that school's words, or that the deployment cannot tell, with the kind "ask your
DSL" answer (nothing is stored then). `ChannelState` is the only way a channel reads or writes the store: where a
case card was shown (to update it in place) and where a person can be reached (for platforms that can write only
into a chat the person opened).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.cases.schools import Schools
from bot.core.content import Content
from bot.core.models import Reply
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Words:
    """A school's wording (its own folder merged over the shared content), with its name filled in."""

    content: Content
    school_name: str | None = None

    def text(self, key: str, **values: object) -> str:
        if self.school_name is not None:
            values = {"school_name": self.school_name, **values}
        return self.content.text(key, **values)

    def reply(self, key: str, **values: object) -> Reply:
        return Reply(key=key, text=self.text(key, **values))


@dataclass(frozen=True)
class Placement:
    """Which school a person writing belongs to (None when the deployment cannot tell), and its words."""

    school_id: str | None
    words: Words

    def no_school(self) -> list[Reply]:
        """For someone the deployment cannot place in a school: nothing is stored."""
        return [self.words.reply("common.no_school")]


async def words_for(schools: Schools, school_id: str) -> Words:
    school = await schools.get(school_id)
    return Words(schools.content(school), school.name)


async def resolve_turn(schools: Schools, platform: str, workspace: str | None, user_id: str,
                       mapped_only: bool = False) -> Placement:
    """The school of `user_id` writing on `platform` from `workspace` (a Slack team, a Microsoft 365 tenant).
    With `mapped_only` (a deployment serving many tenants), only a workspace mapped to a school is served:
    anyone else who installed a copy of the app is not placed."""
    workspace = workspace if isinstance(workspace, str) and workspace else None
    if mapped_only and (workspace is None or not await schools.store.schools_for_workspace(platform, workspace)):
        log.warning("%s activity from a tenant no school is mapped to", platform)
        return Placement(None, Words(schools.base))
    school_id = await schools.resolve(platform, workspace, f"{platform}:{user_id}")
    if school_id is None:
        return Placement(None, Words(schools.base))
    return Placement(school_id, await words_for(schools, school_id))


class ChannelState:
    """What one channel keeps in the store about its own messages and people."""

    def __init__(self, store: Store, platform: str):
        self.store = store
        self.platform = platform
        self._refs: dict[str, dict[str, Any]] = {}  # person -> the conversation reference last saved

    # --- case cards shown, to update them in place ------------------------------------------

    async def card_shown(self, school_id: str, reference: str, recipient: str, channel: str,
                         message_id: str) -> list[tuple[str, str]]:
        """Remember the live card of a case shown to `recipient`; (channel, message id) of any older copy."""
        return await self.store.record_card_post(school_id, reference, recipient, channel, message_id)

    async def cards_shown(self, school_id: str, reference: str, recipient: str) -> list[tuple[str, str]]:
        return await self.store.card_posts(school_id, reference, recipient)

    # --- where a person can be reached ------------------------------------------------------

    async def remember(self, school_id: str, user: str, reference: dict[str, Any]) -> None:
        """Where `user` can be reached later (written only when it changes)."""
        if self._refs.get(user) != reference:
            await self.store.save_conversation_ref(school_id, user, self.platform, reference)
            self._refs[user] = reference

    async def forget(self, school_id: str, user: str) -> None:
        self._refs.pop(user, None)
        await self.store.forget_conversation_ref(school_id, user)

    async def reference(self, school_id: str, user: str) -> dict[str, Any] | None:
        return await self.store.get_conversation_ref(school_id, user)

    async def unreachable(self, school_id: str, user: str, reason: str) -> None:
        """`user`'s chat refused for good: not reachable until they next write (which saves their reference again,
        and clears this)."""
        await self.store.mark_unreachable(school_id, user, reason)
        self._refs.pop(user, None)
