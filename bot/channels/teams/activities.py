"""What the bot reads from a Teams activity and from the token that came with it. Pure functions, no I/O (but
`has_service_url`, which reads the request's body as aiohttp keeps it)."""

from __future__ import annotations

import mimetypes
import re

import yarl
from aiohttp import web
from microsoft_agents.activity import Activity
from microsoft_agents.hosting.core import ClaimsIdentity

from bot.channels.teams.config import is_loopback
from bot.core.models import Attachment

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"  # the issuer of the tokens the Teams channel sends
FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"


def from_teams_text(activity: Activity) -> str:
    """What the person typed: a mention of the bot removed, anyone else's kept as their name."""
    return re.sub(r"</?at>", "", activity.remove_recipient_mention()).strip()


def user_id_of(activity: Activity) -> str | None:
    """The person's Entra ID (AAD) object id, as in the staff directory; the Teams id if there is none."""
    sender = activity.from_property
    if sender is None:
        return None
    return sender.aad_object_id or sender.id


async def has_service_url(request: web.Request, loopback_only: bool) -> bool:
    """Whether an activity names an absolute http(s) address to answer at (on this machine only, with
    `loopback_only`: anonymous mode must never be made to post elsewhere). A body that is not a JSON object is
    left to the SDK, which refuses it; aiohttp keeps the body, so the SDK reads it again."""
    try:
        body = await request.json()
    except ValueError:
        return True
    if not isinstance(body, dict):
        return True
    url = body.get("serviceUrl")
    if not isinstance(url, str):
        return False
    try:
        parsed = yarl.URL(url)
    except ValueError:
        return False
    if parsed.scheme not in ("http", "https") or not parsed.host or any(c.isspace() for c in parsed.host):
        return False
    return is_loopback(parsed.host) or not loopback_only


def from_the_channel(claims: ClaimsIdentity | None) -> bool:
    """A token the Bot Framework channel issued: not one the school's own Entra tenant gives any of its apps
    for the bot's App ID, nor an agent calling the bot (both would let the caller speak as anyone)."""
    if claims is None:
        return False
    return claims.claims.get("iss") == BOT_FRAMEWORK_ISSUER and not claims.is_agent_claim()


def display_name_of(activity: Activity) -> str | None:
    """The name Teams shows for the person (`from.name`), to show them by name rather than by an id."""
    name = activity.from_property.name if activity.from_property else None
    return " ".join(name.split()) or None if isinstance(name, str) else None


def tenant_of(activity: Activity) -> str | None:
    if activity.conversation and activity.conversation.tenant_id:
        return activity.conversation.tenant_id
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    return (data.get("tenant") or {}).get("id")


def turn_id_of(activity: Activity) -> str | None:
    """Teams activity ids are unique only within a conversation (one chat's are millisecond timestamps,
    Microsoft's test adapter numbers each chat's from 1), so a redelivery is known by both."""
    if not activity.id or activity.conversation is None:
        return None
    return f"activity:{activity.conversation.id}:{activity.id}"


def attachments_of(activity: Activity) -> list[Attachment]:
    """Files shared in the chat, recorded by reference: the bot never fetches them (Teams gives no size)."""
    found = []
    for item in activity.attachments or []:
        content = item.content if isinstance(item.content, dict) else {}
        if item.content_type == FILE_DOWNLOAD_INFO:
            name = item.name or "file"
            found.append(Attachment(name=name, ref=item.content_url or f"teams-file:{content.get('uniqueId')}",
                                    content_type=mimetypes.guess_type(name)[0]))
        elif item.content_type.startswith("image/") and item.content_url:
            found.append(Attachment(name=item.name or "image", ref=item.content_url, content_type=item.content_type))
    return found
