"""Slack's payloads to what the bot reads: the text a person typed, the files they shared, whether a person wrote
at all, and whether a signed body has the shape slack-bolt relies on. Pure functions, no I/O."""

from __future__ import annotations

import re
from typing import Any

from yarl import URL

from bot.core.models import Attachment

SLACKBOT = "USLACKBOT"
ANSWERED_SUBTYPES = (None, "file_share", "thread_broadcast")  # message subtypes that are a person writing


# A link as Slack writes one: `<https://…|label>`. Neither part can hold a `<` (Slack escapes it as &lt;), so a
# match never runs past the next `<`: linear on any text, even a raw `<` sent through the API. Mentions and
# channels likewise stop at the next `<` or `>`.
_SLACK_LINK = re.compile(r"<((?:https?://|mailto:)[^|<>]+)(?:\|[^<>]*)?>")
_SLACK_CHANNEL = re.compile(r"<#[A-Z0-9]+\|([^<>]+)>")
_SLACK_MENTION = re.compile(r"<(?:@[A-Z0-9]+|#[A-Z0-9]+|![^<>|]*)(?:\|[^<>]*)?>")


def from_slack_text(text: str | None, max_chars: int, mention: str = "") -> str:
    """Slack's message markup back to what the person typed: links and entities unwrapped. A mention of a person
    (`<@U…>`), a user group or everyone (`<!here>`, `<!subteam^S…>`) becomes `mention`, and a channel (`<#C…|name>`)
    its name after "#", so neither is ever read as an account's @handle. Unwrapping only shortens text, so text
    over twice `max_chars` (Slack allows 40,000) is too long whatever it unwraps to: it is cut to just over the
    limit, unread, for the engine to refuse kindly."""
    if not text:
        return ""
    if len(text) > 2 * max_chars:
        return text[:max_chars + 1]
    text = _SLACK_LINK.sub(lambda m: m.group(1).removeprefix("mailto:"), text)
    text = _SLACK_CHANNEL.sub(lambda m: "#" + m.group(1).lstrip("#@"), text)
    text = _SLACK_MENTION.sub(mention, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def from_a_person(event: dict[str, Any]) -> bool:
    """A message typed by a person: never Slackbot, a bot, an app, a workflow or a webhook (the bot answers none)."""
    return not (event.get("bot_id") or event.get("bot_profile") or event.get("app_id")
                or event.get("user") == SLACKBOT or event.get("subtype") == "bot_message")


def thread_of(message: dict[str, Any]) -> str | None:
    """The thread a message sits in, if it is a reply in one (the thread's first message is not a reply)."""
    thread = message.get("thread_ts")
    return thread if isinstance(thread, str) and thread != message.get("ts") else None


def to_attachments(files: list[dict[str, Any]] | None) -> list[Attachment]:
    """Files shared in the DM, recorded by reference: the bot never downloads them."""
    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    def size(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return [
        Attachment(name=text(f.get("name")) or text(f.get("title")) or text(f.get("id")) or "file",
                   ref=text(f.get("permalink")) or f"slack-file:{text(f.get('id'))}",
                   content_type=text(f.get("mimetype")), size=size(f.get("size")))
        for f in files if isinstance(f, dict)
    ] if isinstance(files, list) else []


def bolt_body(body: str) -> str:
    """The text slack-bolt should read of a signed body: an interaction's form (`payload=<JSON>`) as its JSON,
    which Bolt reads just as it would have after undoing the form itself (`slack_bolt.request.internals.parse_body`:
    the last `payload` field, read as JSON), the escapes undone by yarl, aiohttp's URL library, in C. A button
    press's body carries the whole message it was pressed on, kilobytes escaped: Python's own `parse_qsl` takes
    a tenth of a millisecond or more over it, yarl a fiftieth of that. Anything else goes to Bolt as it came. Bolt
    never sees the signed text itself: the signature was checked on it before (requests.py)."""
    if body.startswith("{") or "payload" not in body:
        return body
    payloads = URL.build(query_string=body, encoded=True).query.getall("payload", [])
    if not payloads:
        return body
    payload = payloads[-1].lstrip()
    if not payload.startswith("{"):  # Bolt would have refused it as not JSON, or read a JSON value that is no object
        raise ValueError("not a Slack payload")
    return payload


_OBJECTS = ("event", "user", "team", "channel", "container", "message", "view", "enterprise", "state")


def well_formed(body: Any) -> bool:
    """The shape slack-bolt relies on before any listener runs (it raises on anything else). A null object is
    what Slack sends for an absent one (`"enterprise": null` outside Enterprise Grid, in every interaction), so
    it is accepted: only a value that is neither an object nor null is refused."""
    if not isinstance(body, dict) or not isinstance(body.get("type", ""), str):
        return False
    if any(body.get(key) is not None and not isinstance(body[key], dict) for key in _OBJECTS):
        return False
    if not isinstance((body.get("event") or {}).get("type", ""), str):
        return False
    actions = body.get("actions", [])
    return isinstance(actions, list) and all(isinstance(a, dict) for a in actions)


def team_of(body: dict[str, Any]) -> str | None:
    """The workspace an interaction came from."""
    team = body.get("team") or {}
    return (team.get("id") if isinstance(team, dict) else None) or (body.get("user") or {}).get("team_id")
