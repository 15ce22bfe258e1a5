"""Answers as people read them: a step's answer described in a school's words, for summaries, cards and records.

Pure functions of the content and the answer, so the case card and the record need no flow runner to say what
a report said.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.core.content import Content, Step
from bot.core.markup import Markup

# Steps whose choices are the platforms in the facts, not a list in the flow.
PLATFORM_CHOICES = {"platforms", "privacy_platforms"}


def choice_summary(words: Content, step: Step, choice_id: str) -> str:
    """A chosen option as a summary says it: its short form, else its label; a platform by its name."""
    if step.choices_from in PLATFORM_CHOICES:
        platform = words.facts.platforms.get(choice_id)
        return platform.name if platform else words.text("report.platform_other")
    for choice in step.choices:
        if choice.id == choice_id:
            return choice.summary or choice.label
    return choice_id


def describe(words: Content, step: Step, value: Any) -> str:
    """An answer to `step` in plain words (what the person typed is not escaped here: the caller escapes)."""
    if value is None:
        return words.text("common.not_given")
    if step.type == "choice":
        return choice_summary(words, step, value)
    if step.type == "multi":
        return ", ".join(choice_summary(words, step, v) for v in value)
    if step.type == "accounts":
        return ", ".join(a["value"] for a in value)
    if step.type == "date":
        return date.fromisoformat(value).strftime("%-d %B %Y")
    if step.type == "evidence":
        files = [f["name"] for f in value.get("files", [])]
        notes = value.get("notes", [])
        parts = []
        if files:
            parts.append(words.text("common.files_listed", count=len(files), value=Markup(", ".join(files))))
        parts.extend(notes)
        return "; ".join(parts) or words.text("common.not_given")
    return str(value)
