"""The case in focus: the last case shown to a handler in this conversation (`ConversationState.case_in_focus`).

While nothing else is running, a card's actions can be typed ("report pack", "close", "add a note", "plan",
"back") and act on that case, as its buttons would; the case plan and the report pack end with a button back
to the case. The words are the buttons' own labels and those in `case.typed.<action>` (content/messages/case.yaml).
"""

from __future__ import annotations

import re

from bot.cases.actions import ACTIONS, CaseAction
from bot.cases.card import is_handler
from bot.conversation.context import Context
from bot.core.models import Case, Choice

TYPABLE = tuple(a for a in ACTIONS if not a.takes_value and (a.on_card or a.id == "show"))


_PUNCTUATION = re.compile(r"[^\w\s']")


def _plain(text: str) -> str:
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def typed_case_action(ctx: Context, text: str) -> str | None:
    """The card action `text` names for the case in focus, as its button id; None if none or while a flow is
    running (there the words are an answer). With no case in focus, a case handler who types a card action
    ("acknowledge", "close") is shown their cases to pick one from (`menu:my_cases`)."""
    if ctx.state.active:
        return None
    action = _named_action(ctx, _plain(text))
    reference = ctx.state.case_in_focus
    if action is None:
        return None
    if reference:
        return f"case:{reference}:{action.id}"
    return "menu:my_cases" if is_handler(ctx.member) and action.id != "show" else None


def _named_action(ctx: Context, said: str) -> CaseAction | None:
    for action in TYPABLE:
        words = [ctx.text(f"case.action.{action.id}")] if f"case.action.{action.id}" in ctx.content.messages else []
        if f"case.typed.{action.id}" in ctx.content.messages:
            words += ctx.text(f"case.typed.{action.id}").split(",")
        if said in {_plain(w) for w in words}:
            return action
    return None


def back_to_case(ctx: Context, case: Case) -> Choice:
    """The way back from the case plan or the report pack to the case."""
    return Choice(id=f"case:{case.reference}:show", label=ctx.text("case.back_to", reference=case.reference))
