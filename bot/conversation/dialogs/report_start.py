"""A report started from the person's own words: what they said is read (bot/core/first_message.py), said back
in one sentence to confirm ("It sounds like an account targeting you on TikTok. Is that right?"), and on "yes"
every answer it gave is kept, so only what is still missing is asked. "Not quite" keeps the plain facts (the
platforms, the accounts, when, the words as a draft description) and asks the rest one question at a time.

The same reading serves a message that tells more at an early question of the report (what is happening, where,
who appears): "some yr 9s have made an insta page mocking me, its called @mr_davies_fanz" pre-fills the report
as a first message would, and the bot says back what it understood and asks only what is still missing.

A first message that names only what is happening ("I'm being targeted") is said back with the question, and
"yes" takes it; one whose words fit several answers ("fake account") asks only which of them it is.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.conversation.dialogs.base import Context, Input, StepDialog, forget_misses, half_terms
from bot.core.answers import answer_options, said_yes
from bot.core.first_message import DESCRIBES_WORDS, ROUGH_DATE, FirstMessage, only_adds, read_first_message, where_named
from bot.core.markup import Markup, escape
from bot.core.models import Frame
from bot.core.text import plain_phrase
from bot.core.understand import Option, understand, without_hedges
from bot.core.words import choice_summary

EARLIER = "_earlier"  # words said before the report started that named nothing: offered as its start
WORDS_BEFORE = "_words_before"  # those words, kept: they stay at the start of the description
PENDING = "_understood"
TOLD = "_told"  # what is happening, as a first message said it without more: "yes" at the question takes it
# What "Not quite" still keeps: facts, not a reading of what it is about.
PLAIN_FACTS = ("platforms", "accounts", "first_seen", ROUGH_DATE, "description")
# The questions where a message that tells more is read as a first message would be.
EARLY_STEPS = ("categories", "platforms", "who_appears")
# What makes a message at an early question tell more than that question's answer.
TELLING = ("categories", "platforms", "accounts", "first_seen")


def first_answers(ctx: Context, reading: FirstMessage) -> dict[str, Any]:
    """The frame's opening answers for a report started by a message read as `reading`. With a category and more
    (a platform, an account, who, when, or a description), its reading, to be confirmed; with a category alone,
    that category to be said back with the question; without one, the plain facts, kept, and "what is
    happening?" asked (only among the answers the words fit, when they fit several)."""
    if "categories" in reading.answers:
        if reading.worth_confirming:
            return {PENDING: reading.answers}
        return {TOLD: reading.answers["categories"]}
    facts = {k: v for k, v in reading.answers.items() if k in PLAIN_FACTS}
    opening: dict[str, Any] = {**facts, "_prefilled": list(facts)} if facts else {}
    if reading.unsure:
        opening["_maybe"] = reading.unsure
    return opening


def pending(frame: Frame) -> dict[str, Any] | None:
    return frame.answers.get(PENDING) if frame.step == "categories" and not frame.editing else None


def told(frame: Frame) -> list[str]:
    """What is happening, as the first message said it, while the question is still open."""
    if frame.step != "categories" or frame.editing:
        return []
    return frame.answers.get(TOLD) or []


def _and(ctx: Context, items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ctx.text("report.understood_and", value=Markup(", ".join(items[:-1])), name=Markup(items[-1]))


def understood_value(dialog: StepDialog, ctx: Context, told: dict[str, Any]) -> Markup:
    """What was understood, in one phrase: "an account targeting you on Instagram (@x), possibly made by
    learners, first seen on Monday 16 November"."""
    what = told.get("categories") or ["unknown"]
    value = _and(ctx, [ctx.text(f"report.understood_what.{c}") for c in what])  # escaped: Markup below
    named = [p for p in told.get("platforms") or [] if p in ctx.content.facts.platforms]  # not "somewhere else"
    if named:
        where = dialog.flow.step("platforms")
        value = ctx.text("report.understood_on", value=Markup(value),
                         name=Markup(_and(ctx, [escape(choice_summary(ctx.content, where, p)) for p in named])))
    if told.get("accounts"):
        value = ctx.text("report.understood_account", value=Markup(value),
                         name=", ".join(a["value"] for a in told["accounts"][:3]))
    if told.get("behind_it") in ("learner", "parent", "former"):
        value = ctx.text(f"report.understood_behind.{told['behind_it']}", value=Markup(value))
    if told.get("first_seen"):
        value = ctx.text("report.understood_around" if told.get(ROUGH_DATE) else "report.understood_since",
                         value=Markup(value),
                         date=date.fromisoformat(told["first_seen"]).strftime("%A %-d %B"))
    return Markup(value)


def say_back(dialog: StepDialog, ctx: Context, frame: Frame) -> None:
    """The one sentence that says what was understood, with "Yes, that's right" and "Not quite"."""
    told = frame.answers[PENDING]
    ctx.say("report.understood_kept" if told.get("description") else "report.understood",
            value=understood_value(dialog, ctx, told),
            choices=[ctx.choice("yes", "report.understood_yes"), ctx.choice("no", "report.understood_no")],
            asks=dialog.question_id(frame))


def what_was_told(dialog: StepDialog, ctx: Context, frame: Frame) -> str:
    """Said with a question, what the person's words already said of it ("" when nothing): with "what is
    happening?", what it sounds like, or which answers the words fit; with "what makes you think so?", who they
    said may be behind it, as that question was never asked."""
    if frame.step == "behind_it_detail" and "behind_it" in (frame.answers.get("_prefilled") or []):
        return ctx.text("report.told_behind_it",
                        value=dialog.describe_to_them(ctx, dialog.flow.step("behind_it"), frame.answers["behind_it"]))
    if frame.step != "categories":
        return ""
    if told(frame):
        return ctx.text("report.told_categories", value=understood_value(dialog, ctx, {"categories": told(frame)}))
    if frame.answers.get("_maybe") and not frame.answers.get("_missed"):
        maybe = frame.answers["_maybe"]
        named = [ctx.text(f"report.understood_what.{c.id}") for c in dialog.flow.step("categories").choices
                 if c.id in maybe]
        return ctx.text("report.which_of", value=named[0] if len(named) == 1 else ctx.text(
            "common.or_list", value=", ".join(named[:-1]), name=named[-1]))
    return ""


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
    frame.answers["_prefilled"] = [*frame.answers.get("_prefilled", []), *(k for k in keep if k != "categories")]
    if verdict is None or (verdict == "no" and _also_answers(dialog, ctx, frame, inp)):
        return False  # the answer to "what is happening?" itself ("not really its more like rumours")
    if verdict == "no":
        ctx.say("report.understood_not_quite")
        await dialog.ask(ctx, frame)
        return True
    await _move_on(dialog, ctx, frame, "categories")
    return True


def _also_answers(dialog: StepDialog, ctx: Context, frame: Frame, inp: Input) -> bool:
    """Whether a "no" to what was understood also says what is happening instead."""
    return bool(inp.text) and bool(dialog.understood(ctx, dialog.flow.step("categories"), frame, inp).picked)


async def _move_on(dialog: StepDialog, ctx: Context, frame: Frame, answered: str) -> None:
    """The question `answered` has its answer: on to the next one not yet answered."""
    step = dialog.flow.step(answered)
    await dialog.after_answer(ctx, frame, step)
    following = dialog.next_step(frame, step.id)
    assert following is not None  # the images question always follows what is happening, and more follow it
    frame.history.append(step.id)
    frame.step = following.id
    await dialog.ask(ctx, frame)


def _unanswered(frame: Frame, step_id: str) -> bool:
    return frame.answers.get(step_id) in (None, [], "")


def _says_more(dialog: StepDialog, ctx: Context, frame: Frame, text: str) -> bool:
    """Whether an answer to "what is happening?" is understood and says more than its choices: words to describe it
    remain once every choice's phrases, small talk and hedges are set aside ("an account targeting me" does not;
    "someone is saying things about my colleague, that he is too friendly with a year 9 girl" does)."""
    step = dialog.flow.step(frame.step)
    if not dialog.understood(ctx, step, frame, Input(text=text)).picked:
        return False  # not an answer: missed, and kept as written on a second miss (StepDialog.missed)
    options = answer_options(ctx.content, step, dialog.choices_for(ctx, step, frame))
    said = f" {without_hedges(text, ctx.content.phrases.hedges)} "
    phrases = {without_hedges(p, []) for o in options for p in (o.label, *o.phrases)}
    for phrase in sorted(phrases, key=len, reverse=True):
        said = said.replace(f" {phrase} ", " ")
    small = {plain_phrase(w) for w in ctx.content.phrases.small_talk}
    return len([w for w in said.split() if w not in small]) >= DESCRIBES_WORDS


async def take_more(dialog: StepDialog, ctx: Context, frame: Frame, inp: Input) -> bool:
    """At an early question, a message that tells more than its answer ("...an insta page mocking me, its called
    @mr_davies_fanz") pre-fills the report as a first message would: what it says is kept for every question
    not yet answered, the words become the draft description if there is none yet, what was understood is
    said back, and only what is still missing is asked. True when it did; False for an ordinary answer."""
    if frame.editing or frame.step not in EARLY_STEPS or inp.picked or not inp.text:
        return False
    reading = read_first_message(ctx.content, inp.text, ctx.now.date(), half_terms(ctx))
    new = {k: v for k, v in reading.answers.items() if _unanswered(frame, k)}
    if not set(new) & set(TELLING) - {frame.step}:
        if frame.step == "categories" and "description" in new and _says_more(dialog, ctx, frame, inp.text):
            frame.answers["description"] = new["description"]  # "someone is saying ... that he ...": kept too
            frame.answers["_prefilled"] = [*frame.answers.get("_prefilled", []), "description"]
            ctx.say("report.words_kept")
        return False
    forget_misses(frame)
    if frame.step == "categories" and "categories" in new:  # said back to confirm, exactly as a first message
        frame.answers[PENDING] = {**{k: frame.answers[k] for k in PLAIN_FACTS if not _unanswered(frame, k)}, **new}
        frame.answers.pop(TOLD, None)
        say_back(dialog, ctx, frame)
        return True
    new.pop("categories", None)  # what is happening is asked, or was answered: a reading never changes it
    frame.answers.update(new)
    frame.answers["_prefilled"] = [*frame.answers.get("_prefilled", []), *new]
    ctx.say("report.understood_more", value=understood_value(dialog, ctx, frame.answers))
    if frame.step in new:
        await _move_on(dialog, ctx, frame, frame.step)
    else:
        if frame.step == "categories" and reading.unsure:
            frame.answers["_maybe"] = reading.unsure
        await dialog.ask(ctx, frame)
    return True


def take_earlier_words(ctx: Context, frame: Frame) -> None:
    """A report is starting: words said before it that named nothing ("my class are being horrible online") are
    taken from the conversation, to be offered as its start."""
    if ctx.state.unclear_words:
        frame.answers[EARLIER] = ctx.state.unclear_words
    ctx.state.unclear_words = None


def offers_earlier(frame: Frame) -> bool:
    return EARLIER in frame.answers and not frame.editing


def offer_earlier(dialog: StepDialog, ctx: Context, frame: Frame) -> None:
    """"You said: '...'. Shall I keep that as the start of your report?", with yes and no."""
    ctx.say("report.earlier_words", value=frame.answers[EARLIER],
            choices=[ctx.choice("yes", "report.earlier_keep"), ctx.choice("no", "report.earlier_leave")],
            asks=dialog.question_id(frame))


def take_answer_to_earlier(ctx: Context, frame: Frame, inp: Input) -> bool:
    """The answer to the offer of the earlier words: "no" leaves them out; "yes" keeps them as the start of the
    description. Anything else keeps them too (they are the person's own words, shown in the summary to change)
    and goes on as the report's first answer. True when the input was only the answer to the offer."""
    earlier = frame.answers.pop(EARLIER)
    verdict = _verdict(ctx, inp)
    if verdict == "no":
        return True
    frame.answers[WORDS_BEFORE] = earlier
    told = frame.answers.get(PENDING) or frame.answers
    if told.get("description"):
        told["description"] = f"{earlier}\n\n{told['description']}"
    else:
        frame.answers["description"] = earlier  # not pre-filled: the question is still asked, and adds to it
    if verdict is None:
        ctx.say("report.earlier_kept")
    return verdict == "yes"


def keep_with_description(frame: Frame, words: str) -> None:
    """Words kept as written for the DSL: added to the description, or, before there is one, kept to start it."""
    said = frame.answers.get("description")
    if isinstance(said, str) and said:
        frame.answers["description"] = f"{said}\n\n{words}"
    else:
        before = frame.answers.get(WORDS_BEFORE)
        frame.answers[WORDS_BEFORE] = f"{before}\n\n{words}" if before else words


def after_description(frame: Frame) -> None:
    """The description answered: the earlier words kept stay at its start."""
    before, said = frame.answers.get(WORDS_BEFORE), frame.answers.get("description")
    if before and isinstance(said, str) and not said.startswith(before):
        frame.answers["description"] = f"{before}\n\n{said}"


# The questions answered in words after "Where is it?" (when, names, evidence) where a platform or account said
# in passing is added too. Not the description: what it shows may name other places without it being on them.
ADDS_WHERE_AT = ("first_seen", "names", "evidence")


def take_where_added(dialog: StepDialog, ctx: Context, frame: Frame, inp: Input) -> bool:
    """At a question answered in words, after where it is was asked: a platform or account named that the report
    does not have yet ("its on tiktok too") is added, and the person told in one line. Only adding, never
    changing. True when the message did nothing else, so the question is asked again rather than answered."""
    if frame.step not in ADDS_WHERE_AT or frame.editing or inp.picked or not inp.text:
        return False
    if "platforms" not in frame.answers:
        return False
    new = add_facts(frame, where_named(ctx.content, inp.text))
    if not new:
        return False
    say_noted(dialog, ctx, new)
    return only_adds(ctx.content, inp.text)


def add_facts(frame: Frame, found: dict[str, Any]) -> dict[str, Any]:
    """The platforms and accounts in `found` (first_message.where_named) that the report does not have yet, added:
    to the answer when its question was answered, else pre-filling it, so that question is not asked (as a first
    message's facts are). Only adding, never changing. What was new, by step id."""
    new: dict[str, Any] = {}
    known = {a["value"].lower() for a in frame.answers.get("accounts") or []}
    platforms = [p for p in found.get("platforms", []) if p not in (frame.answers.get("platforms") or [])]
    accounts = [a for a in found.get("accounts", []) if a["value"].lower() not in known]
    for step_id, added in (("platforms", platforms), ("accounts", accounts)):
        if not added:
            continue
        if step_id not in frame.answers:
            frame.answers["_prefilled"] = [*frame.answers.get("_prefilled", []), step_id]
        frame.answers[step_id] = list(frame.answers.get(step_id) or []) + added
        new[step_id] = added
    return new


def say_noted(dialog: StepDialog, ctx: Context, new: dict[str, Any]) -> None:
    """One line for facts just kept ("Thanks, I've noted the account @hillside_muggies."): accounts, platforms and
    when it was first seen, as `add_facts` and a date said early give them."""
    named = []
    if new.get("accounts"):
        accounts = [escape(a["value"]) for a in new["accounts"]]
        named.append(ctx.text("report.noted_account" if len(accounts) == 1 else "report.noted_accounts",
                              value=Markup(_and(ctx, accounts))))
    if new.get("platforms"):
        where = dialog.flow.step("platforms")
        platforms = [escape(choice_summary(ctx.content, where, p)) for p in new["platforms"]]
        named.append(ctx.text("report.noted_platforms", value=Markup(_and(ctx, platforms))))
    if new.get("first_seen"):
        named.append(ctx.text("report.noted_around" if new.get(ROUGH_DATE) else "report.noted_since",
                              date=date.fromisoformat(new["first_seen"]).strftime("%A %-d %B")))
    ctx.say("report.noted", value=Markup(_and(ctx, named)))
