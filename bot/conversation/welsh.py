"""A message in Welsh, until there is Welsh content: a short bilingual reply, Welsh first, that says what the bot
can do and how to reach the safeguarding lead.

Detection is plain and explainable: the message is one of the common Welsh words or greetings in
content/phrases.yaml (`welsh`), or has two different ones in it, matched as whole words.
"""

from __future__ import annotations

from bot.conversation.dialogs.base import Context
from bot.core.content import WelshWords
from bot.core.text import normalise, normalise_phrase


def looks_welsh(text: str, welsh: WelshWords | None) -> bool:
    if welsh is None:
        return False
    said = normalise(text).split()
    if not said:
        return False
    padded = f" {' '.join(said)} "
    found = {w for w in welsh.words if f" {normalise_phrase(w)} " in padded}
    return len(found) >= 2 or " ".join(said) in {normalise_phrase(w) for w in welsh.words}


async def welsh_reply(ctx: Context, ask_again: bool = True) -> None:
    """The bilingual reply; then, with `ask_again`, the question the person is at (or the menu)."""
    names = await ctx.services.casework.handler_names(ctx)
    ctx.say("welsh.reply", school_name=ctx.scope.name,
            people=names or ctx.text("welsh.your_dsl_cy"), dsl_names=names or ctx.text("welsh.your_dsl"))
    if ask_again:
        await ctx.services.conversation.ask_again(ctx)
