"""How much of what staff type the bot understands (issue 18): every entry of tests/data/corpus.yaml goes through
the code the conversation uses, and the share understood must be 95% or more. The figure is printed (run with
-s to see it) for the README."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from bot.conversation.dialogs import report_facts
from bot.conversation.dialogs.base import Context, Input
from bot.core.answers import said_nothing
from bot.core.dates import read_date
from bot.core.first_message import read_first_message
from bot.core.models import ConversationState, Frame, Turn
from bot.core.text import resolve_choices
from testing.chat import Chat

CORPUS = yaml.safe_load((Path(__file__).resolve().parents[1] / "data" / "corpus.yaml").read_text(encoding="utf-8"))
TODAY = date(2026, 11, 20)
HALF_TERMS = [date(2026, 10, 26), date(2027, 2, 15)]
# What the bot's first reply is, by what the message should start.
STARTS = {
    "report_concern": ("report.understood", "report.understood_kept", "report_concern.categories.ask"),
    "my_cases": ("case.list_reported_none",),
    "privacy_check": ("privacy_check.platforms.ask",),
    "get_support": ("get_support.topic.ask",),
    "menu": ("common.listening",),
}


def test_the_corpus_is_big_enough():
    assert sum(len(CORPUS[part]) for part in ("first_messages", "answers", "nothing", "facts", "has_evidence",
                                              "dates")) >= 200


async def first_message_understood(bot, n: int, entry: dict[str, Any]) -> bool:
    chat = Chat(bot, f"console:corpus{n}")
    await chat.say(entry["text"])
    if not set(chat.keys) & set(STARTS[entry["intent"]]):
        return False
    reading = read_first_message(bot.content, entry["text"], TODAY).answers
    return all(sorted(reading.get(k) or []) == sorted(entry[k]) for k in ("categories", "platforms") if k in entry)


def at_question(bot, entry: dict[str, Any]) -> tuple[Any, Context, Frame]:
    """The entry's flow, a turn's context and a frame at its question (flow.step), as in a turn."""
    flow_id, step_id = entry["step"].split(".")
    dialog = bot.dialogs[flow_id]
    frame = dialog.new_frame(**entry.get("answered", {}))
    frame.step = step_id
    turn = Turn(platform="console", user_id="corpus", conversation_id="corpus", school_id="default")
    scope = bot.schools.scope_of(bot.schools._unlisted("default"))  # the deployment's one school, as a turn has it
    ctx = Context(services=bot.services, scope=scope, turn=turn, state=ConversationState(), member=None,
                  now=datetime(2026, 11, 20, 12, tzinfo=timezone.utc))
    return dialog, ctx, frame


def answer_understood(bot, entry: dict[str, Any]) -> bool:
    """The engine's exact match (ids, labels, numbers), then the step's own understanding, as in a turn."""
    dialog, ctx, frame = at_question(bot, entry)
    step = dialog.flow.step(frame.step)
    choices = dialog.choices_for(ctx, step, frame)
    text = entry["text"]
    picked = resolve_choices(text, choices, [c.id for c in choices], step.type == "multi")
    if not picked:
        picked = dialog.understood(ctx, step, frame, Input(text=text)).picked
    return sorted(picked or []) == sorted(entry["choice"])


def nothing_understood(bot, entry: dict[str, Any]) -> bool:
    flow_id, step_id = entry["step"].split(".")
    step = bot.dialogs[flow_id].flow.step(step_id)
    return (step.optional or step.type == "evidence") and said_nothing(bot.content, entry["text"])


def facts_kept(bot, entry: dict[str, Any]) -> bool:
    """A fact typed at another question is kept for its own (and the message asked no more of the question)."""
    dialog, ctx, frame = at_question(bot, entry)
    if not report_facts.take_facts(dialog, ctx, frame, Input(text=entry["text"])):
        return False
    kept = {"accounts": [a["value"] for a in frame.answers.get("accounts") or []],
            "platforms": frame.answers.get("platforms"), "first_seen": frame.answers.get("first_seen")}
    return all(kept[k] == (str(v) if k == "first_seen" else v) for k, v in entry["keeps"].items())


def evidence_mentioned(bot, entry: dict[str, Any]) -> bool:
    dialog, ctx, frame = at_question(bot, entry)
    return report_facts.mentions_evidence(dialog, ctx, frame, Input(text=entry["text"]))


# The parts of the corpus typed at a question: each entry's check, and how a miss is named.
ANSWER_CHECKS = [("answers", answer_understood, ""), ("nothing", nothing_understood, " (nothing)"),
                 ("facts", facts_kept, " (a fact)"), ("has_evidence", evidence_mentioned, " (has evidence)")]


async def test_the_bot_understands_at_least_95_percent_of_what_staff_type(bot):
    missed: list[str] = []
    total = 0
    for n, entry in enumerate(CORPUS["first_messages"]):
        total += 1
        if not await first_message_understood(bot, n, entry):
            missed.append(f"first message: {entry['text']!r}")
    for part, understood, what in ANSWER_CHECKS:
        for entry in CORPUS[part]:
            total += 1
            if not understood(bot, entry):
                missed.append(f"{entry['step']}{what}: {entry['text']!r}")
    for entry in CORPUS["dates"]:
        total += 1
        if read_date(entry["text"], TODAY, HALF_TERMS) != entry["date"]:
            missed.append(f"date: {entry['text']!r}")
    share = (total - len(missed)) / total
    print(f"\ncorpus: {total - len(missed)} of {total} understood ({share:.1%})")
    for miss in missed:
        print("  not understood:", miss)
    assert share >= 0.95, missed
