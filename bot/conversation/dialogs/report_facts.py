"""Facts said at the "wrong" question of a report: kept, said back in one line, and the question asked again.

An upset teacher types what is on her mind, not always what was asked: the account's handle at "Who is it about?",
"since monday" at "What is the account's name or link?", "ive got screenshots" long before the evidence question.
Where the question cannot take the message as its answer, only facts clearly of their kind are taken from it, as a
first message's are (bot/core/first_message.py): an @handle or a link, a platform by its name, a day said as a date.
A fact for a question still to come pre-fills it, so that question is not asked (report_start.add_facts); a
platform or account the report has already is added to, never changed. Saying they have evidence before the
evidence question is answered kindly: it will be asked for in a moment (after it, it is kept with the evidence).
Neither is called a misunderstanding.
"""

from __future__ import annotations

from typing import Any

from bot.conversation.dialogs import report_start
from bot.conversation.dialogs.base import Context, Input, StepDialog, forget_misses, half_terms
from bot.core.answers import (
    asks_how_to_send,
    said_nothing,
    said_unsure,
    says_has_evidence,
    says_only_has_evidence,
    unsure_choice,
)
from bot.core.content import Step
from bot.core.dates import find_date, is_rough, read_date, when_said
from bot.core.first_message import ROUGH_DATE, only_adds, where_named
from bot.core.models import Frame
from bot.core.text import normalise, parse_accounts, plain
from bot.core.understand import without_hedges

# Where facts are looked for: the questions with choices past the early ones (where report_start.take_more reads
# a message as a first message), and the account question (for a date or a platform). The questions answered in
# words keep the words; report_start.take_where_added adds a platform or account named in them.
FACTS_AT = ("images", "allegation_about", "accounts", "others_know", "behind_it")


def reads_as_answer(dialog: StepDialog, ctx: Context, frame: Frame, step: Step, inp: Input) -> bool:
    """Whether the question takes the message as its answer, or as "skip" or "not sure": then nothing else is
    taken from it."""
    text = inp.text
    if said_nothing(ctx.content, text):
        return True
    if step.type in ("choice", "multi"):
        picked = dialog.understood(ctx, step, frame, inp).picked
        if picked == [unsure_choice(step)] and only_hedged(ctx, text):
            return False  # "like a week ago maybe" at the images question: "maybe" is about the day, not images
        return bool(picked)
    if step.type == "accounts":
        accounts, invalid = parse_accounts(text)
        if only_a_day(text):  # "yesterday" is a day, not a handle without its @
            return False
        return bool(accounts or invalid) or said_unsure(ctx.content, text, or_none=True)
    if step.type == "date":
        return read_date(text, ctx.now.date(), half_terms(ctx)) is not None or said_unsure(ctx.content, text)
    return True  # words are the answer


def only_hedged(ctx: Context, text: str) -> bool:
    """Whether the only not-knowing in `text` is a hedge ("maybe", "possibly": about something else said with it),
    not "not sure" or "dont know" said as such."""
    return not said_unsure(ctx.content, without_hedges(text, ctx.content.phrases.hedges))


def only_a_day(text: str) -> bool:
    """Whether the whole message is a day said ("yesterday", "since monday"), with no handle or link in it."""
    return "@" not in text and "/" not in text and bool(when_said(text)) and when_said(text) == normalise(text)


def date_said(ctx: Context, frame: Frame, text: str) -> dict[str, Any]:
    """When it was first seen, from a day said in `text` ("since monday i think"), while that question is still to
    come: as a first message gives it, with whether it was said roughly."""
    if "first_seen" in frame.answers:
        return {}
    seen = find_date(text, ctx.now.date(), half_terms(ctx))
    if seen is None or seen.year < 2000:
        return {}
    return {"first_seen": seen.isoformat(), ROUGH_DATE: is_rough(text)}


def take_facts(dialog: StepDialog, ctx: Context, frame: Frame, inp: Input) -> bool:
    """At a question that cannot take the message as its answer: an account, a platform or a day said in it is
    kept (pre-filling its question, or added to its answer) and said back in one line. At the account question, a
    platform or day said with the accounts is kept as well as them. True when the message said nothing else, so
    the question is asked again; False to let the question answer the rest as it would."""
    if frame.editing or frame.step not in FACTS_AT or inp.picked or not inp.text:
        return False
    found, when = where_named(ctx.content, inp.text), date_said(ctx, frame, inp.text)
    if not (found or when):
        return False  # (first: most answers name none, and reading one as the question's answer costs more)
    if reads_as_answer(dialog, ctx, frame, dialog.flow.step(frame.step), inp):
        if frame.step == "accounts":  # "@x on tiktok since monday": the accounts are its answer, the rest kept
            keep(dialog, ctx, frame, {"platforms": found.get("platforms", [])}, when)
        return False
    if not keep(dialog, ctx, frame, found, when):
        return False
    if not only_adds(ctx.content, besides_the_day(inp.text)):
        return False
    forget_misses(frame)
    return True


def keep(dialog: StepDialog, ctx: Context, frame: Frame, found: dict[str, Any], when: dict[str, Any]) -> bool:
    """The platforms and accounts `found` and the day `when` kept, and said back in one line; False when all of
    them were on the report already."""
    new = report_start.add_facts(frame, found)
    if when:
        frame.answers.update(when)
        frame.answers["_prefilled"] = [*frame.answers.get("_prefilled", []), "first_seen"]
        new.update(when)
    if not new:
        return False
    report_start.say_noted(dialog, ctx, new)
    return True


def besides_the_day(text: str) -> str:
    """`text` without the words that say a day ("@x since monday i think" leaves "@x i think"), as `only_adds`
    sets aside the platforms and accounts."""
    day = when_said(text).split()
    return " ".join(w for w in text.split() if plain(w) not in day)


def mentions_evidence(dialog: StepDialog, ctx: Context, frame: Frame, inp: Input) -> bool:
    """At another question than the evidence one, "ive got screenshots" (or "how do i send them?"): before it, to
    be told that it will be asked for in a moment; after it, kept with the evidence (ReportConcern.handle). A
    message that says only that is never another question's answer ("ive got screenshots" is not "No one I can
    identify"); one that says more is, where the question can take it or it names an account or platform
    (take_facts keeps those), or at a question answered in words ("jake in 10B took screenshots" is names)."""
    if frame.step in ("_change", "summary", "evidence", "description") or inp.picked or not inp.text:
        return False
    step = dialog.flow.step(frame.step)
    text = inp.text

    def asks() -> bool:  # at the account question, "how do i send it" may be about the link
        return step.type != "accounts" and asks_how_to_send(ctx.content, text)

    if step.type == "text":
        return says_only_has_evidence(ctx.content, text) or asks()
    return says_only_has_evidence(ctx.content, text) or (
        (says_has_evidence(ctx.content, text) or asks()) and not reads_as_answer(dialog, ctx, frame, step, inp)
        and not where_named(ctx.content, text))
