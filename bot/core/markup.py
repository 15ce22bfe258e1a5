"""The bot's light markdown, which every reply's text is written in and every adapter converts.

`**bold**`, `[label](url)`, lines starting `- ` as bullets, and a backslash before a character to make it
literal. Everything a user typed is escaped on its way into a reply, so it can never become a link, a
mention or markup on any platform.
"""

from __future__ import annotations

import re
from typing import Any


class Markup(str):
    """Text already in the bot's light markdown (from content/), inserted into a template as it is."""


_SPECIAL = re.compile(r"([\\*_\[\]`~<>:])")  # ":" too, so a typed URL is never made a link


def escape(value: Any) -> str:
    """Make a value literal: adapters turn `\\x` back into a literal x in their own format."""
    return value if isinstance(value, Markup) else _SPECIAL.sub(r"\\\1", str(value))


def to_plain(text: str) -> str:
    """The words without markup, escapes undone: for plain-text fields, previews and fallbacks."""
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"\[([^\]\\]+)\]\((https?://[^)\s]+)\)", r"\1 (\2)", text)
    return re.sub(r"\\(.)", r"\1", text)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis where it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
