"""A file for the person who asked for it (a safeguarding record), sent the Teams way: a file-consent card in their
own chat; once they accept, the file goes into the upload session Teams made for it and a card opens it. Until then
the file waits in memory (bot/channels/teams/files.py)."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from microsoft_agents.activity import Activity, ActivityTypes, InvokeResponse
from microsoft_agents.activity import Attachment as CardAttachment
from microsoft_agents.hosting.core import TurnContext

from bot.channels.teams.activities import user_id_of
from bot.channels.teams.files import (
    FILE_CONSENT,
    FILE_INFO,
    TOKEN_KEY,
    PendingFiles,
    consent_card,
    upload,
    upload_allowed,
)
from bot.core.models import FileReply

log = logging.getLogger("bot.channels.teams.app")  # where these lines have always been logged

Say = Callable[[TurnContext, str, str], Awaitable[None]]  # (context, user id, message key)


class FileConsent:
    def __init__(self, production: bool):
        self.production = production
        # Files offered in a file-consent card and not yet accepted: in memory only, a few, for a few minutes.
        self.pending = PendingFiles()

    async def offer(self, context: TurnContext, user_id: str, file: FileReply) -> None:
        """A file-consent card for a file for this person (it waits here until they accept or decline)."""
        token = self.pending.offer(user_id, file)
        await context.send_activity(Activity(type=ActivityTypes.message, attachments=[CardAttachment(
            content_type=FILE_CONSENT, name=file.name, content=consent_card(file, token))]))

    async def answered(self, context: TurnContext, say: Say) -> None:
        """The person accepted or declined a file offered in a file-consent card. Whatever happens, Teams gets
        its 200: the outcome is told in the chat."""
        activity = context.activity
        try:
            user_id = user_id_of(activity)
            value = activity.value if isinstance(activity.value, dict) else {}
            consent = value.get("context") if isinstance(value.get("context"), dict) else {}
            token = consent.get(TOKEN_KEY)
            offer = self.pending.peek(token)
            if offer is not None and offer.user_id != user_id:
                log.warning("teams file consent refused: not the person the file was offered to")
                offer = None  # and it stays waiting for the person it was offered to
            if offer is not None:
                self.pending.take(token)
            if value.get("action") != "accept" or not user_id:
                return  # declined: nothing is uploaded and nothing more is said
            if offer is None:
                await say(context, user_id, "case.record.expired")
            elif not await self._upload(context, offer.file, value.get("uploadInfo")):
                await say(context, user_id, "case.record.upload_failed")
        finally:
            await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=200)))

    async def _upload(self, context: TurnContext, file: FileReply, upload_info: Any) -> bool:
        """Put the file into the upload session Teams made for it, then post the card that opens it.
        Neither the upload URL nor the file's address is ever logged: they carry access tokens."""
        info = upload_info if isinstance(upload_info, dict) else {}
        url, content_url, unique_id = info.get("uploadUrl"), info.get("contentUrl"), info.get("uniqueId")
        if not all(isinstance(v, str) and v for v in (url, content_url, unique_id)):
            log.warning("teams file upload skipped: the consent carried no upload session")
            return False
        if not upload_allowed(url, production=self.production):
            log.warning("teams file upload refused: the upload URL is not a OneDrive for Business address")
            return False
        try:
            await upload(url, file.content)
        except Exception as exc:  # the type only: an aiohttp error's text can include the URL
            log.warning("teams file upload failed (%s)", type(exc).__name__)
            return False
        name = info.get("name") if isinstance(info.get("name"), str) and info.get("name") else file.name
        file_type = info.get("fileType") if isinstance(info.get("fileType"), str) else name.rpartition(".")[2]
        await context.send_activity(Activity(type=ActivityTypes.message, attachments=[CardAttachment(
            content_type=FILE_INFO, content_url=content_url, name=name,
            content={"uniqueId": unique_id, "fileType": file_type})]))
        return True
