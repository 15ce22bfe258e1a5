"""Neutral replies as Slack Block Kit messages, within Slack's documented limits.

The bot's light markdown (`**bold**`, `[label](url)`, `- ` bullets, `\\x` for a literal x) becomes
Slack mrkdwn. Text sections are `verbatim`, so Slack links nothing by itself: only the bot's own
links are links. Escaped characters (everything a user typed) come out inert, so a user's text can
never become a link, a mention or formatting.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import orjson

from bot.core.markup import clip, to_plain
from bot.core.models import CaseCard, Choice, Form, Reply

# https://api.slack.com/reference/block-kit/blocks and .../block-elements
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_BUTTON_TEXT = 75
MAX_ACTIONS = 25
MAX_CHECKBOXES = 10
MAX_HEADER = 150
MAX_FALLBACK = 3000

# On every chat.postMessage and chat.update: Slack never fetches or previews a link in what the bot sends, as it may
# be a reported account a reporter typed.
NO_PREVIEWS = {"unfurl_links": False, "unfurl_media": False}

CHOICE_ACTION = "osb_choice"
PICK_ACTION = "osb_pick"
CONTINUE_ACTION = "osb_continue"

# Lookalikes for formatting characters a user typed: shown, never interpreted.
_INERT = {"*": "\u2217", "~": "\u223c", "`": "\u02cb", "_": "_"}
_TOKEN = re.compile(
    r"\\(?P<escaped>.)"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|\[(?P<label>[^\]\\]+)\]\((?P<href>https?://[^)\s]+)\)"
    r"|(?P<url>https?://[^\s)<>]+[^\s)<>.,;:!?'\"])"
    r"|(?P<char>[&<>*~`_])",
    re.S,
)


def _entity(char: str) -> str:
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;"}.get(char, char)


def to_mrkdwn(text: str) -> str:
    def convert(match: re.Match[str]) -> str:
        if match.group("escaped") is not None:
            char = match.group("escaped")
            before, after = match.string[match.start() - 1:match.start()], match.string[match.end():match.end() + 1]
            if char == "_" and not (before.isalnum() and after.isalnum()):
                return "\u02cd"  # a lookalike, except inside a word (fake_hillside), where Slack never italicises
            if char == ">" and (match.start() == 0 or before == "\n"):
                return "\u203a"  # a line starting ">" would be a quote
            return _INERT.get(char, _entity(char))
        if match.group("bold") is not None:
            return f"*{to_mrkdwn(match.group('bold'))}*"
        if match.group("href") is not None:
            return f"<{match.group('href')}|{to_mrkdwn(match.group('label'))}>"
        if match.group("url") is not None:
            return f"<{match.group('url')}>"
        char = match.group("char")
        return _entity(char) if char in "&<>" else _INERT.get(char, char)

    lines = [re.sub(r"^- ", "\u2022 ", line) for line in text.split("\n")]
    return _TOKEN.sub(convert, "\n".join(lines))


def _split(text: str, limit: int) -> list[str]:
    """Long text in pieces under `limit`, broken at paragraph, then line, then word boundaries."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def _section(mrkdwn: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": piece, "verbatim": True}}
            for piece in _split(mrkdwn, MAX_SECTION_TEXT)]


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(to_plain(text), limit), "emoji": False}


def button_value(choice: Choice, asks: str | None) -> str:
    return json.dumps({"c": choice.id, "q": asks}, separators=(",", ":"))


def _buttons(choices: list[Choice], asks: str | None, block_prefix: str) -> list[dict[str, Any]]:
    blocks = []
    for start in range(0, len(choices), MAX_ACTIONS):
        chunk = choices[start:start + MAX_ACTIONS]
        blocks.append({
            "type": "actions", "block_id": f"{block_prefix}{start // MAX_ACTIONS}",
            "elements": [
                {"type": "button", "action_id": f"{CHOICE_ACTION}_{start + n}",
                 "text": _plain(c.label, MAX_BUTTON_TEXT), "value": button_value(c, asks)}
                for n, c in enumerate(chunk)
            ],
        })
    return blocks


def _checkboxes(choices: list[Choice], asks: str | None, continue_label: str) -> list[dict[str, Any]]:
    blocks = []
    for start in range(0, len(choices), MAX_CHECKBOXES):
        chunk = choices[start:start + MAX_CHECKBOXES]
        blocks.append({
            "type": "actions", "block_id": f"osb_pick_{start // MAX_CHECKBOXES}",
            "elements": [{
                "type": "checkboxes", "action_id": PICK_ACTION,
                "options": [{"text": _plain(c.label, MAX_BUTTON_TEXT), "value": c.id} for c in chunk],
            }],
        })
    blocks.append({
        "type": "actions", "block_id": "osb_continue",
        "elements": [{"type": "button", "action_id": CONTINUE_ACTION, "style": "primary",
                      "text": _plain(continue_label, MAX_BUTTON_TEXT),
                      "value": json.dumps({"q": asks}, separators=(",", ":"))}],
    })
    return blocks


def card_blocks(card: CaseCard) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(card.title, MAX_HEADER)}]
    if card.summary:  # what, where, since when, how urgent, what is due next: the first thing read
        blocks += _section(to_mrkdwn("\n".join(card.summary)))
    for note in card.notice:  # what this reader must do: first, in full-size text
        blocks += _section(to_mrkdwn(note))
    fields = [{"type": "mrkdwn",
               "text": clip(f"*{to_mrkdwn(label)}*\n{to_mrkdwn(_literal(value))}{_mention(card, label)}",
                            MAX_FIELD_TEXT),
               "verbatim": True} for label, value in card.fields]
    for start in range(0, len(fields), MAX_FIELDS):
        blocks.append({"type": "section", "fields": fields[start:start + MAX_FIELDS]})
    for note in card.guidance:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": clip(to_mrkdwn(note), MAX_SECTION_TEXT), "verbatim": True}]})
    return blocks


def _mention(card: CaseCard, label: str) -> str:
    """A real mention after a Slack user's name, so the DSL can reach them in one click."""
    platform, _, user_id = card.mentions.get(label, "").partition(":")
    return f" (<@{user_id}>)" if platform == "slack" and re.fullmatch(r"[UW][A-Z0-9]{2,20}", user_id) else ""


def _literal(value: str) -> str:
    """Card values are plain text (much of it typed by users): escape it all for the converter."""
    return re.sub(r"([\\*_\[\]`~<>:])", r"\\\1", value)


RENDERED_KEPT = 512  # replies of words and choices kept rendered, the least recently used dropped first


def reply_message(reply: Reply, continue_label: str, revision: str | None = None) -> dict[str, Any]:
    """One reply as the keyword arguments of chat.postMessage / chat.update (less the channel). An update gives a
    `revision`, which makes every block_id new, as Slack asks of each iteration of a message.

    A reply of words and choices alone (no case card) renders the same every time from the same words, choices and
    label, so it is rendered once and kept (`_rendered`); each caller gets its own copy to do with as it likes."""
    if reply.card is None and revision is None:
        choices = tuple((c.id, c.label) for c in reply.choices)
        return orjson.loads(_rendered(reply.text, choices, reply.multiple, reply.asks, continue_label))
    return _message(reply, continue_label, revision)


@lru_cache(maxsize=RENDERED_KEPT)
def _rendered(text: str, choices: tuple[tuple[str, str], ...], multiple: bool, asks: str | None,
              continue_label: str) -> bytes:
    """Keyed by everything `_message` reads of such a reply, so one school's wording is never another's."""
    reply = Reply(key="", text=text, choices=[Choice(id=i, label=label) for i, label in choices], multiple=multiple,
                  asks=asks)
    return orjson.dumps(_message(reply, continue_label, None))


def _message(reply: Reply, continue_label: str, revision: str | None) -> dict[str, Any]:
    blocks = _section(to_mrkdwn(reply.text))
    if reply.card:
        blocks += card_blocks(reply.card)
    if reply.choices:
        if reply.multiple:
            blocks += _checkboxes(reply.choices, reply.asks, continue_label)
        else:
            blocks += _buttons(reply.choices, reply.asks, "osb_choices_")
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 1] + [b for b in blocks if b["type"] == "actions"][-1:]
    if revision:
        blocks = [{**b, "block_id": f"{b['block_id']}.{revision}"[:255]} if "block_id" in b else b for b in blocks]
    return {"text": fallback(reply.text), "blocks": blocks, **NO_PREVIEWS}


def fallback(text: str) -> str:
    """Plain words for notifications, with Slack's three control characters escaped so nothing in them is a
    link or a mention."""
    return clip(to_plain(text), MAX_FALLBACK).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def answered(blocks: list[dict[str, Any]], note: str | None) -> list[dict[str, Any]]:
    """The same message with its buttons taken away, and what was chosen in their place."""
    kept = [b for b in blocks if b.get("type") != "actions"]
    if note:
        kept.append({"type": "context", "elements": [{"type": "mrkdwn", "text": to_mrkdwn(note), "verbatim": True}]})
    return kept


FORM_CALLBACK = "osb_form"
FORM_VALUE = "value"
MAX_MODAL_TITLE = 24
MAX_TEXT_INPUT = 3000


def form_modal(form: Form, private_metadata: str) -> dict[str, Any]:
    """A form as a modal: one input block per field, the field id as its block id."""
    blocks = []
    for field in form.fields:
        element: dict[str, Any]
        if field.kind == "choice":
            element = {"type": "static_select", "action_id": FORM_VALUE, "options": [
                {"text": _plain(c.label, MAX_BUTTON_TEXT), "value": c.id} for c in field.choices[:100]]}
        else:
            element = {"type": "plain_text_input", "action_id": FORM_VALUE, "multiline": True,
                       "max_length": MAX_TEXT_INPUT}
        blocks.append({"type": "input", "block_id": field.id, "optional": field.optional,
                       "label": _plain(field.label, 2000), "element": element})
    return {
        "type": "modal", "callback_id": FORM_CALLBACK, "private_metadata": private_metadata,
        "title": _plain(form.title, MAX_MODAL_TITLE), "submit": _plain(form.submit, MAX_MODAL_TITLE),
        "close": _plain(form.cancel, MAX_MODAL_TITLE), "blocks": blocks,
    }


def form_values(view: dict[str, Any]) -> dict[str, str]:
    """What was entered in a submitted modal, by field id."""
    values = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        entry = (actions or {}).get(FORM_VALUE) or {}
        if entry.get("type") == "static_select":
            values[block_id] = ((entry.get("selected_option") or {}).get("value")) or ""
        else:
            values[block_id] = entry.get("value") or ""
    return values


def home_view(replies: list[Reply]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    for n, reply in enumerate(replies):
        blocks += _section(to_mrkdwn(reply.text))
        if reply.choices:
            blocks += _buttons(reply.choices, reply.asks, f"osb_home_{n}_")
        blocks.append({"type": "divider"})
    return {"type": "home", "blocks": blocks[:100]}
