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
            value = _mapping(activity.value)
            consent = _mapping(value.get("context"))
            given = consent.get(TOKEN_KEY)
            token = given if isinstance(given, str) else ""  # no offer has an empty token
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
        info = _mapping(upload_info)
        url, content_url, unique_id = info.get("uploadUrl"), info.get("contentUrl"), info.get("uniqueId")
        if not (isinstance(url, str) and url and isinstance(content_url, str) and content_url
                and isinstance(unique_id, str) and unique_id):
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
        given_name, given_type = info.get("name"), info.get("fileType")
        name = given_name if isinstance(given_name, str) and given_name else file.name
        file_type = given_type if isinstance(given_type, str) else name.rpartition(".")[2]
        await context.send_activity(Activity(type=ActivityTypes.message, attachments=[CardAttachment(
            content_type=FILE_INFO, content_url=content_url, name=name,
            content={"uniqueId": unique_id, "fileType": file_type})]))
        return True


def _mapping(value: object) -> dict[str, Any]:
    """A JSON object from Teams, or an empty one for anything else it might send."""
    return value if isinstance(value, dict) else {}
