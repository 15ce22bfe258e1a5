"""The command line's words: content/messages/cli.yaml (and the other messages a command prints), as plain text."""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any

from bot.core.content import Content, load_content
from bot.core.markup import to_plain

PROG = "online-safety-bot"


class CliWords:
    """Messages as plain text: values filled in escaped, then every escape undone, so names and paths print as
    they are."""

    def __init__(self, content: Content):
        self.content = content

    def text(self, key: str, **values: Any) -> str:
        return to_plain(self.content.text(key, **values))


@lru_cache(maxsize=1)
def shipped_words() -> CliWords:
    """The shipped content's words, for what is said before a command has its content (a mistyped argument, the
    Teams package): read only when needed, as reading the content takes a noticeable moment."""
    return CliWords(load_content())


def fail(message: str) -> None:
    """An error or warning for the person running the command, on standard error, after the program's name."""
    print(f"{PROG}: {message}", file=sys.stderr)
