"""A report started from the person's own first message: what it said is read (bot/first_message.py), said back
in one sentence to confirm ("It sounds like an account targeting you on TikTok. Is that right?"), and on "yes"
every answer it gave is kept, so only what is still missing is asked. "Not quite" keeps the plain facts (the
platforms, the accounts, when, the words as a draft description) and asks the rest one question at a time.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.conversation.dialogs.base import Context, Input, StepDialog, half_terms
from bot.core.answers import said_yes
from bot.core.first_message import read_first_message
from bot.core.markup import Markup, escape
from bot.core.models import Frame
from bot.core.understand import Option, understand
from bot.core.words import choice_summary

PENDING = "_understood"
# What "Not quite" still keeps: facts, not a reading of what it is about.
PLAIN_FACTS = ("platforms", "accounts", "first_seen", "description")


def first_answers(ctx: Context, text: str) -> dict[str, Any]:
    """The frame's opening answers for a report started by `text`. With a category and more (a platform, an
    account, who, when, or a description), its reading, to be confirmed; without a category, the plain facts,
    kept, and "what is happening?" asked; a short "I'm being targeted" just starts the report."""
    reading = read_first_message(ctx.content, text, ctx.now.date(), half_terms(ctx))
    if "categories" in reading.answers:
        return {PENDING: reading.answers} if reading.worth_confirming else {}
    facts = {k: v for k, v in reading.answers.items() if k in PLAIN_FACTS}
    return {**facts, "_prefilled": list(facts)} if facts else {}


def pending(frame: Frame) -> dict[str, Any] | None:
    return frame.answers.get(PENDING) if frame.step == "categories" and not frame.editing else None


def _and(ctx: Context, items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ctx.text("report.understood_and", value=Markup(", ".join(items[:-1])), name=Markup(items[-1]))


def say_back(dialog: StepDialog, ctx: Context, frame: Frame) -> None:
    """The one sentence that says what was understood, with "Yes, that's right" and "Not quite"."""
    told = frame.answers[PENDING]
    value = _and(ctx, [ctx.text(f"report.understood_what.{c}") for c in told["categories"]])  # escaped: Markup below
    if told.get("platforms"):
        where = dialog.flow.step("platforms")
        value = ctx.text("report.understood_on", value=Markup(value),
                         name=Markup(_and(ctx, [escape(choice_summary(ctx.content, where, p))
                                                for p in told["platforms"]])))
    if told.get("accounts"):
        value = ctx.text("report.understood_account", value=Markup(value),
                         name=", ".join(a["value"] for a in told["accounts"][:3]))
    if told.get("behind_it"):
        value = ctx.text(f"report.understood_behind.{told['behind_it']}", value=Markup(value))
    if told.get("first_seen"):
        value = ctx.text("report.understood_since", value=Markup(value),
                         date=date.fromisoformat(told["first_seen"]).strftime("%A %-d %B"))
    ctx.say("report.understood_kept" if told.get("description") else "report.understood", value=Markup(value),
            choices=[ctx.choice("yes", "report.understood_yes"), ctx.choice("no", "report.understood_no")],
            asks=dialog.question_id(frame))


def _verdict(ctx: Context, inp: Input) -> str | None:
    if inp.picked in (["yes"], ["no"]):
        return inp.picked[0]
    if inp.picked or not inp.text:
        return None
    if said_yes(ctx.content, inp.text):
        return "yes"
    no = Option("no", "no", tuple(ctx.content.phrases.answers.get("no", [])))
    return "no" if understand(inp.text, [no], multiple=False, hedges=ctx.content.phrases.hedges).picked else None


async def take_confirmation(dialog: StepDialog, ctx: Context, frame: Frame, inp: Input) -> bool:
    """True when the input answered the confirmation (the report has moved on); False to treat it as the
    answer to "what is happening?" itself, with the plain facts kept."""
    told = frame.answers.pop(PENDING)
    verdict = _verdict(ctx, inp)
    keep = told if verdict == "yes" else {k: v for k, v in told.items() if k in PLAIN_FACTS}
    frame.answers.update(keep)
    frame.answers["_prefilled"] = [k for k in keep if k != "categories"]
    if verdict is None:
        return False
    if verdict == "no":
        ctx.say("report.understood_not_quite")
        await dialog.ask(ctx, frame)
        return True
    step = dialog.flow.step("categories")
    await dialog.after_answer(ctx, frame, step)
    following = dialog.next_step(frame, step.id)
    assert following is not None  # the images question always follows
    frame.history.append(step.id)
    frame.step = following.id
    await dialog.ask(ctx, frame)
    return True
