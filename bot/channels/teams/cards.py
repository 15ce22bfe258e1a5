"""Neutral replies as Adaptive Cards for Microsoft Teams, within the version and size Teams supports.

Every reply is a card, and all text is in `RichTextBlock`s made of `TextRun`s. Teams applies markdown to
`TextBlock` and `FactSet` text (and to plain message text), but a `TextRun` is never markdown, so the
bot's light markdown (`**bold**`, `[label](url)`, `- ` bullets, `\\x` for a literal x) is translated into
runs here: bold runs, link runs for the bot's own links, and plain runs for everything else. What a user
typed is always a plain run, so it can never become a link, a mention or formatting.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import orjson

from bot.core.markup import clip, to_plain
from bot.core.models import CaseCard, Choice, Form, Reply

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
VERSION = "1.5"  # what Teams renders on desktop, web and mobile
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"

# Teams refuses a message over about 28 KB; keep each card well under it, leaving room for the envelope. Sizes
# are measured as `json.dumps` with its defaults writes them, every character outside ASCII a `\uXXXX` escape (an
# emoji is two: 12 bytes): the connector's bodies are written by orjson (connector_clients.py), compact and in
# UTF-8, which is never longer, so the measure holds whichever writes them.
MAX_CARD_BYTES = 24 * 1024
MAX_FIELD_TEXT = 2000
FIELD_TEXT_STEPS = (MAX_FIELD_TEXT, 400, 100, 20)  # a case card too big has its values clipped further, in turn
MAX_BUTTON_TEXT = 75
ROW_BUTTONS = 3  # a few short answers sit side by side; more, or longer ones, are stacked
ROW_LABEL = 20
MAX_SUMMARY = 250

PICK_INPUT = "osb_pick"
FIELD_INPUT = "osb_field_"

_TOKEN = re.compile(
    r"\\(?P<escaped>.)"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|\[(?P<label>[^\]\\]+)\]\((?P<href>https?://[^)\s]+)\)"
    r"|(?P<url>https?://[^\s)<>]+[^\s)<>.,;:!?'\"])",
    re.S,
)


# --- text ---------------------------------------------------------------------------------


def _run(text: str, bold: bool = False, url: str | None = None, subtle: bool = False) -> dict[str, Any]:
    run: dict[str, Any] = {"type": "TextRun", "text": text}
    if bold:
        run["weight"] = "Bolder"
    if subtle:
        run["isSubtle"] = True
    if url:
        run["selectAction"] = {"type": "Action.OpenUrl", "url": url}
    return run


def to_runs(line: str, bold: bool = False, subtle: bool = False) -> list[dict[str, Any]]:
    """One line of the bot's light markdown as TextRuns."""
    runs: list[dict[str, Any]] = []
    pending: list[str] = []

    def flush() -> None:
        text = "".join(pending)
        pending.clear()
        if text:
            runs.append(_run(text, bold, subtle=subtle))

    position = 0
    for match in _TOKEN.finditer(line):
        pending.append(line[position:match.start()])
        position = match.end()
        if match.group("escaped") is not None:
            pending.append(match.group("escaped"))
        elif match.group("bold") is not None:
            flush()
            runs += to_runs(match.group("bold"), bold=True, subtle=subtle)
        elif match.group("href") is not None:
            flush()
            runs.append(_run(to_plain(match.group("label")), bold, url=match.group("href"), subtle=subtle))
        else:
            flush()
            runs.append(_run(match.group("url"), bold, url=match.group("url"), subtle=subtle))
    pending.append(line[position:])
    flush()
    return runs


def text_blocks(text: str, subtle: bool = False) -> list[dict[str, Any]]:
    """Text as one RichTextBlock per line: lines of a paragraph close together, paragraphs apart."""
    blocks: list[dict[str, Any]] = []
    gap = False
    for line in text.split("\n"):
        line = re.sub(r"^- ", "\u2022 ", line)
        runs = to_runs(line, subtle=subtle)
        if not runs:
            gap = bool(blocks)
            continue
        block: dict[str, Any] = {"type": "RichTextBlock", "inlines": runs}
        if blocks:
            block["spacing"] = "Medium" if gap else "None"
        blocks.append(block)
        gap = False
    return blocks


def literal_block(text: str, bold: bool = False, subtle: bool = False) -> dict[str, Any]:
    """Plain text (a case card value, much of it typed by users) shown exactly as it is."""
    return {"type": "RichTextBlock", "inlines": [_run(text, bold, subtle=subtle)] if text else [_run(" ")]}


# --- cards --------------------------------------------------------------------------------


def card(body: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION, "body": body}


def size(card_json: Any) -> int:
    """Bytes on the wire, as the Agents SDK serialises an activity (escaped JSON, ASCII only)."""
    return len(json.dumps(card_json))


def submit(title: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "Action.Submit", "title": clip(to_plain(title), MAX_BUTTON_TEXT), "data": {"osb": data}, **extra}


def buttons(choices: list[Choice], asks: str | None) -> list[dict[str, Any]]:
    """One button per choice, each answering `asks`: side by side when few and short, otherwise stacked."""
    actions = [submit(c.label, {"c": c.id, "q": asks}) for c in choices]
    if len(choices) <= ROW_BUTTONS and all(len(c.label) <= ROW_LABEL for c in choices):
        return [{"type": "ActionSet", "actions": actions}]
    return [{"type": "ActionSet", "actions": [action]} for action in actions]


def checkboxes(choices: list[Choice], asks: str | None, continue_label: str) -> list[dict[str, Any]]:
    return [
        {"type": "Input.ChoiceSet", "id": PICK_INPUT, "isMultiSelect": True, "style": "expanded", "wrap": True,
         "choices": [{"title": clip(to_plain(c.label), MAX_BUTTON_TEXT), "value": c.id} for c in choices]},
        {"type": "ActionSet", "actions": [submit(continue_label, {"q": asks, "m": 1}, style="positive")]},
    ]


def case_blocks(case: CaseCard, value_limit: int = MAX_FIELD_TEXT, clipped: str = "") -> list[dict[str, Any]]:
    """The case itself: title, each field as a label over its literal value (a value over `value_limit`
    characters clipped, and `clipped` said below it), then the guidance."""
    title = {"type": "RichTextBlock", "inlines": [
        {**_run(to_plain(case.title), bold=True), "size": "Medium", **({"color": "Attention"} if case.urgent else {})}]}
    items: list[dict[str, Any]] = [title]
    for line in case.summary:  # what, where, since when, how urgent, what is due next: the first thing read
        items += text_blocks(line)
    for note in case.notice:  # what this reader must do: first, in full-size text
        items += text_blocks(note)
    for label, value in case.fields:
        items.append({"type": "RichTextBlock", "inlines": to_runs(label, bold=True), "spacing": "Small"})
        items.append({**literal_block(clip(value, value_limit)), "spacing": "None"})
        if len(value) > value_limit and clipped:
            items.append({"type": "RichTextBlock", "inlines": [_run(clipped, subtle=True)], "spacing": "None"})
    for n, note in enumerate(case.guidance):
        blocks = text_blocks(note, subtle=True)
        if blocks and n == 0:
            blocks[0] = {**blocks[0], "separator": True, "spacing": "Medium"}
        items += blocks
    return [{"type": "Container", "style": "attention" if case.urgent else "emphasis", "bleed": True, "items": items}]


def _reply_body(reply: Reply, continue_label: str, value_limit: int, clipped: str = "") -> list[dict[str, Any]]:
    body = text_blocks(reply.text)
    if reply.urgent:
        body = [{"type": "Container", "style": "attention", "items": body}] if body else []
    if reply.card:
        body += case_blocks(reply.card, value_limit, clipped)
    if reply.choices:
        if reply.multiple:
            body += checkboxes(reply.choices, reply.asks, continue_label)
        else:
            body += buttons(reply.choices, reply.asks)
    return body


def reply_cards(reply: Reply, continue_label: str, max_chars: int = 4000, clipped: str = "") -> list[dict[str, Any]]:
    """One reply as one card, or, for very long text, several in order with its buttons on the last; nothing
    said is lost. A case card is always one card (it is updated in place later): its long values are clipped
    instead, further in turn until it fits, each with `clipped` (where to read it all) below it.
    `max_chars` is the most a form's text input takes (the engine's limit on text).

    A reply of words and choices alone renders the same every time from the same words, choices and label, so it
    is rendered once and kept (`_rendered`); each caller gets its own copy to do with as it likes."""
    if reply.form:
        return [form_card(reply.form, max_chars)]
    if reply.card:
        for limit in FIELD_TEXT_STEPS:
            whole = card(_reply_body(reply, continue_label, limit, clipped))
            if size(whole) <= MAX_CARD_BYTES:
                break
        return [whole]
    choices = tuple((c.id, c.label) for c in reply.choices)
    return orjson.loads(_rendered(reply.text, choices, reply.multiple, reply.asks, reply.urgent, continue_label))


RENDERED_KEPT = 512  # replies of words and choices kept rendered, the least recently used dropped first


@lru_cache(maxsize=RENDERED_KEPT)
def _rendered(text: str, choices: tuple[tuple[str, str], ...], multiple: bool, asks: str | None, urgent: bool,
              continue_label: str) -> bytes:
    """Keyed by everything `_words_cards` reads of such a reply, so one school's wording is never another's."""
    reply = Reply(key="", text=text, choices=[Choice(id=i, label=label) for i, label in choices], multiple=multiple,
                  asks=asks, urgent=urgent)
    return orjson.dumps(_words_cards(reply, continue_label))


def _words_cards(reply: Reply, continue_label: str) -> list[dict[str, Any]]:
    """A reply of words and choices as cards, split where a card would be too big."""
    cards: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for part in _reply_body(reply, continue_label, MAX_FIELD_TEXT):
        for element in [part] if size(card([part])) <= MAX_CARD_BYTES else _split(part):
            if current and size(card(current + [element])) > MAX_CARD_BYTES:
                cards.append(card(current))
                current = []
            current.append(element)
    if current:
        cards.append(card(current))
    return cards


def _split(block: dict[str, Any]) -> list[dict[str, Any]]:
    """One line too big for a card on its own (thousands of emoji, say) as several plain lines that each fit."""
    text = "".join(r.get("text", "") for r in elements_of(block) if r.get("type") == "TextRun")
    budget = MAX_CARD_BYTES // 2  # room for the card around it
    pieces: list[str] = []
    piece: list[str] = []
    used = 0
    for character in text:
        cost = size(character) - 2  # without the quotes
        if used + cost > budget:
            pieces.append("".join(piece))
            piece, used = [], 0
        piece.append(character)
        used += cost
    pieces.append("".join(piece))
    return [{"type": "RichTextBlock", "inlines": [_run(p)], **({"spacing": "None"} if n else {})}
            for n, p in enumerate(pieces) if p]


def elements_of(node: Any) -> list[dict[str, Any]]:
    """Every element in a part of a card, depth first."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for key in ("items", "inlines"):
            for child in node.get(key) or []:
                found += elements_of(child)
    return found


def form_card(form: Form, max_chars: int = 4000) -> dict[str, Any]:
    """A form as card inputs: each field's id carried in its input id, the form id in the submit's data."""
    body: list[dict[str, Any]] = [{"type": "RichTextBlock", "inlines": to_runs(form.title, bold=True)}]
    for field in form.fields:
        element: dict[str, Any] = {"id": FIELD_INPUT + field.id, "label": to_plain(field.label),
                                   "isRequired": not field.optional}
        if field.kind == "choice":
            element.update(type="Input.ChoiceSet", style="compact", wrap=True,
                           choices=[{"title": clip(to_plain(c.label), MAX_BUTTON_TEXT), "value": c.id}
                                    for c in field.choices])
        else:
            element.update(type="Input.Text", isMultiline=True, maxLength=max_chars)
        body.append(element)
    body.append({"type": "ActionSet", "actions": [
        submit(form.submit, {"f": form.id}, style="positive"),
        submit(form.cancel, {"f": form.id, "x": 1}, associatedInputs="none"),
    ]})
    return card(body)


def answered(card_json: dict[str, Any], note: str | None) -> dict[str, Any]:
    """The same card with its buttons and inputs taken away, and what was chosen in their place."""
    def keep(element: dict[str, Any]) -> bool:
        return element.get("type") != "ActionSet" and not str(element.get("type", "")).startswith("Input.")

    body = [e for e in card_json.get("body", []) if keep(e)]
    if note:
        body += text_blocks(note, subtle=True)
    return card(body or text_blocks("\u2026"))


# --- what comes back ----------------------------------------------------------------------


def submitted(value: Any) -> dict[str, Any] | None:
    """The bot's own data from a card's Action.Submit (None for anything else)."""
    if isinstance(value, dict) and isinstance(value.get("osb"), dict):
        return value["osb"]
    return None


def picked(value: dict[str, Any]) -> list[str]:
    """Ids ticked in a multi-select (Teams sends them comma-separated)."""
    raw = value.get(PICK_INPUT)
    return [p for p in str(raw).split(",") if p] if raw else []


def form_values(value: dict[str, Any]) -> dict[str, str]:
    return {k.removeprefix(FIELD_INPUT): "" if v is None else str(v)
            for k, v in value.items() if k.startswith(FIELD_INPUT)}


def summary(reply: Reply) -> str:
    return clip(" ".join(to_plain(reply.text).split()), MAX_SUMMARY)
