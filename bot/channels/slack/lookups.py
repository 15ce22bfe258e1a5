"""What the bot asks Slack about people and files, remembered in memory: each person's DM with the bot
(conversations.open), the name Slack gives them (users.info), and a shared file's name, type and size (files.info).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.channels.slack.installations import Speaker
from bot.channels.slack.payloads import to_attachments
from bot.core.models import Attachment, Turn

log = logging.getLogger("bot.channels.slack.app")  # where these lines have always been logged

NAMES_REMEMBERED = 10_000  # people whose users.info name is kept in memory
MAX_FILES_DESCRIBED = 10  # files.info calls for one message at most (Slack attaches up to 10 files to a message)


class SlackLookups:
    def __init__(self) -> None:
        self._dm_channels: dict[tuple[str | None, str], str] = {}  # (workspace, user) -> their DM with the bot
        self._display_names: dict[tuple[str | None, str], str | None] = {}  # (workspace, user) -> users.info name

    def dm_seen(self, speaker: Speaker, user_id: str, channel: str) -> None:
        self._dm_channels[(speaker.team, user_id)] = channel

    async def dm_channel(self, speaker: Speaker, user_id: str) -> str:
        channel = self._dm_channels.get((speaker.team, user_id))
        if channel is None:
            response = await speaker.client.conversations_open(users=user_id)
            channel = response["channel"]["id"]
            self._dm_channels[(speaker.team, user_id)] = channel
        return channel

    async def named(self, speaker: Speaker, turn: Turn) -> Turn:
        """The turn with the person's name from users.info (asked once per person and process; None if Slack
        will not say), so that cards name people who are not in the staff directory."""
        key = (speaker.team, turn.user_id)
        if key not in self._display_names:
            name = None
            try:
                user = (await speaker.client.users_info(user=turn.user_id)).get("user") or {}
                profile = user.get("profile") or {}
                name = profile.get("real_name") or user.get("real_name") or profile.get("display_name") or None
            except SlackApiError as exc:  # no name is no harm: the card says so instead
                error = exc.response.data.get("error") if isinstance(exc.response.data, dict) else None
                log.warning("slack users.info failed (%s)", error or exc.response.status_code)
            self._display_names[key] = name if isinstance(name, str) else None
            while len(self._display_names) > NAMES_REMEMBERED:
                self._display_names.pop(next(iter(self._display_names)))
        return turn.model_copy(update={"display_name": self._display_names[key]})

    async def attachments(self, speaker: Speaker, files: Any) -> list[Attachment]:
        """The files shared with a message. Slack sometimes sends only a stub (`file_access: check_file_info`, as
        from a Slack Connect workspace): its name, type and size are then asked of files.info (files:read). The
        file itself is never downloaded."""
        if not isinstance(files, list):
            return []
        described = []
        for n, file in enumerate(files):
            stub = isinstance(file, dict) and file.get("file_access") == "check_file_info"
            if stub and isinstance(file.get("id"), str) and n < MAX_FILES_DESCRIBED:
                try:
                    file = (await speaker.client.files_info(file=file["id"]))["file"]
                except (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError, KeyError, TypeError) as exc:
                    log.warning("slack could not describe a shared file, kept by its id (%s)", type(exc).__name__)
            described.append(file)
        return to_attachments(described)
