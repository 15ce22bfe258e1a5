"""The case in focus: the last case shown to a handler in this conversation (`ConversationState.case_in_focus`).

While nothing else is running, a card's actions can be typed ("report pack", "close", "add a note", "plan",
"show") and act on that case, as its buttons would; the case plan and the report pack end with a button back
to the case. The words are the buttons' own labels and those in `case.typed.<action>` (content/messages/case.yaml).

A handler also moves around their cases in words (`case.typed.back`, `.list`, `.next`): "back" goes back to where
they came from (from the plan or the report pack to the case, from the card to their list of cases), as what was
shown last says (`ConversationState.back_to`, read at the start of a turn as `Context.way_back`); "list" shows
their cases; "next" opens the case after the one in focus on the list shown last (`ConversationState.case_list`);
a case's reference ("OSB-2026-0002", "open OSB-2026-0002") opens it.
"""

from __future__ import annotations

import re

from bot.cases.actions import ACTIONS, CaseAction
from bot.cases.card import is_handler
from bot.conversation.context import Context
from bot.core.models import Case, Choice, ConversationState, Reply

TYPABLE = tuple(a for a in ACTIONS if not a.takes_value and (a.on_card or a.id == "show"))


_PUNCTUATION = re.compile(r"[^\w\s']")


def _plain(text: str) -> str:
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


MY_CASES = "menu:my_cases"


def typed_case_action(ctx: Context, text: str) -> str | None:
    """The card action `text` names for the case in focus, as its button id; None if none or while a flow is
    running (there the words are an answer). With no case in focus, a case handler who types a card action
    ("acknowledge", "close") is shown their cases to pick one from (`menu:my_cases`). A way around a handler's
    cases ("back", "list", "next") is the button it stands for."""
    if ctx.state.active:
        return None
    said = _plain(text)
    if (reference := _reference_typed(ctx, text)) is not None:
        return f"case:{reference}:show"
    if said in _typed(ctx, "back") and ctx.way_back:
        return ctx.way_back
    if is_handler(ctx.member) and said in _typed(ctx, "list"):
        return MY_CASES
    if is_handler(ctx.member) and said in _typed(ctx, "next"):
        return _next_case(ctx.state)
    action = _named_action(ctx, said)
    reference = ctx.state.case_in_focus
    if action is None:
        return None
    if reference:
        return f"case:{reference}:{action.id}"
    return MY_CASES if is_handler(ctx.member) and action.id != "show" else None


def _reference_typed(ctx: Context, text: str) -> str | None:
    """A case reference typed as a whole message ("OSB-2026-0002"), perhaps after a word that opens it ("open",
    `case.typed.open`), in the school's own form; None if the message is anything else."""
    prefix = ctx.scope.reference_prefix
    found = re.search(rf"\b{re.escape(prefix)}[-\s]?(\d{{4}})[-\s]?(\d{{4,6}})\b", text, re.IGNORECASE)
    if found is None:
        return None
    before = _plain(text[:found.start()] + " " + text[found.end():])
    if before and before not in _typed(ctx, "open"):
        return None
    return f"{prefix}-{found[1]}-{found[2]}"


def _typed(ctx: Context, what: str) -> set[str]:
    return {_plain(w) for w in ctx.text(f"case.typed.{what}").split(",")}


def _next_case(state: ConversationState) -> str:
    """The case after the one in focus on the list shown last (the first, if none of it has been opened); past
    its end, the list again, with what is still open."""
    listed = state.case_list
    after = listed.index(state.case_in_focus) + 1 if state.case_in_focus in listed else 0
    return f"case:{listed[after]}:show" if after < len(listed) else MY_CASES


def remember_list(ctx: Context, reply: Reply) -> None:
    """A list of cases has been shown: "next" works through it, and "back" from a card opened from it returns to
    it."""
    ctx.state.case_list = [c.id.split(":")[1] for c in reply.choices
                           if c.id.startswith("case:") and c.id.endswith(":show")]


def card_shown(ctx: Context, case: Case) -> None:
    """The case's card has been shown (in full, or after a change): its actions can be typed, and "back" goes to
    the list of cases."""
    ctx.state.case_in_focus = case.reference
    ctx.state.back_to = MY_CASES


def _named_action(ctx: Context, said: str) -> CaseAction | None:
    for action in TYPABLE:
        words = [ctx.text(f"case.action.{action.id}")] if f"case.action.{action.id}" in ctx.content.messages else []
        if f"case.typed.{action.id}" in ctx.content.messages:
            words += ctx.text(f"case.typed.{action.id}").split(",")
        if said in {_plain(w) for w in words}:
            return action
    return None


def back_to_case(ctx: Context, case: Case) -> Choice:
    """The way back from the case plan or the report pack to the case, which a typed "back" presses too."""
    ctx.state.back_to = f"case:{case.reference}:show"
    return Choice(id=f"case:{case.reference}:show", label=ctx.text("case.back_to", reference=case.reference))
