"""The record's words as plain text, shared by its assembly and its renderers: the wording of content/messages/
record.yaml with what anyone typed kept exactly, the result of a chain check, and the lines a plan item and an
evidence file take in a rendered record."""

from __future__ import annotations

import json
from typing import Any

from bot.cases.record.model import EvidenceItem, PlanLine, moment, utc_text
from bot.core.content import Content
from bot.core.markup import to_plain
from bot.store.base import ChainReport


class PlainWords:
    """content/ wording as plain text: values filled in escaped, then every escape undone, so what anyone
    typed comes back exactly as they typed it."""

    def __init__(self, content: Content):
        self.content = content

    def __call__(self, key: str, **values: Any) -> str:
        return to_plain(self.content.text(key, **values))

    def get(self, key: str, fallback: str, **values: Any) -> str:
        return self(key, **values) if key in self.content.messages else fallback


def chain_words(content: Content, report: ChainReport) -> tuple[str, list[str]]:
    """The result of a chain check, worded: one line for the result and one per problem."""
    say = PlainWords(content)
    problems = []
    for p in report.problems:
        if p.position is None:
            problems.append(say("record.chain.problem.no_events"))
            continue
        when = utc_text(moment(p.at)) if p.at else "?"
        problems.append(say(f"record.chain.problem.{p.problem}", position=p.position, total=report.events,
                            value=p.kind or "?", date=when))
    if problems:
        return say("record.chain.broken"), problems
    if report.unsealed:
        return say("record.chain.intact_unsealed", count=report.unsealed), []
    return say("record.chain.intact", count=report.events), []


def humanize(key: str) -> str:
    """A key nobody worded yet, as a label: `platform_reference` -> "Platform reference"."""
    return key.replace("_", " ").strip().capitalize() or key


def value_text(value: Any) -> str:
    """A stored value as text: text as it is, a list of plain values with commas, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def plan_state(line: PlanLine, say: PlainWords) -> str:
    if line.done and line.by and line.at:
        return say("record.plan.done_by", name=line.by.display, date=utc_text(line.at))
    if line.done:
        return say("record.plan.done")
    return say("record.plan.open_required" if line.required else "record.plan.open")


def evidence_facts(ev: EvidenceItem, say: PlainWords) -> list[tuple[str, str]]:
    facts = [(say("record.field.evidence_ref"), ev.ref)]
    if ev.content_type:
        facts.append((say("record.field.evidence_type"), ev.content_type))
    if ev.size is not None:
        facts.append((say("record.field.evidence_size"), say("record.size_bytes", count=f"{ev.size:,}")))
    facts.append((say("record.field.evidence_sha256"), ev.sha256 or say("record.none")))
    facts.append((say("record.field.evidence_added"), f"{ev.added_by.display}, {utc_text(ev.added_at)}"))
    return facts
