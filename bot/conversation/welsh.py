"""A message in Welsh, until there is Welsh content: a short bilingual reply, Welsh first, that says what the bot
can do and how to reach the safeguarding lead.

Detection is plain and explainable: the message is one of the common Welsh words or greetings in
content/phrases.yaml (`welsh`), or has two different ones in it, matched as whole words.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.conversation.dialogs.base import Context
from bot.core.content import WelshWords
from bot.core.text import normalise, normalise_phrase


def looks_welsh(text: str, welsh: WelshWords | None) -> bool:
    if welsh is None:
        return False
    said = normalise(text).split()
    if not said:
        return False
    known = _known(tuple(welsh.words))
    if known.every_word.isdisjoint(said):  # no Welsh word at all: most messages
        return False
    padded = f" {' '.join(said)} "
    found = {w for w, spaced in known.spaced if spaced in padded}
    return len(found) >= 2 or " ".join(said) in known.whole


@dataclass(frozen=True)
class _Known:
    spaced: tuple[tuple[str, str], ...]  # each word or greeting, and it normalised with a space each side
    whole: frozenset[str]  # each normalised
    every_word: frozenset[str]  # every word in any of them


@lru_cache(maxsize=16)
def _known(words: tuple[str, ...]) -> _Known:
    """The content's Welsh words as messages are read, worked out once per list."""
    plain = [normalise_phrase(w) for w in words]
    return _Known(spaced=tuple((w, f" {normalise_phrase(w)} ") for w in words), whole=frozenset(plain),
                  every_word=frozenset(word for p in plain for word in p.split()))


async def welsh_reply(ctx: Context, ask_again: bool = True) -> None:
    """The bilingual reply; then, with `ask_again`, the question the person is at (or the menu)."""
    names = await ctx.services.casework.handler_names(ctx)
    ctx.say("welsh.reply", school_name=ctx.scope.name,
            people=names or ctx.text("welsh.your_dsl_cy"), dsl_names=names or ctx.text("welsh.your_dsl"))
    if ask_again:
        await ctx.services.conversation.ask_again(ctx)
