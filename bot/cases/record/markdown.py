"""The record as CommonMark, one function per section; everything anyone typed is escaped, so it reads as written."""

from __future__ import annotations

import re

from bot.cases.record.model import Moment, SafeguardingRecord, uk_text, utc_text
from bot.cases.record.wording import PlainWords, evidence_facts, plan_state
from bot.core.content import Content

_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")
_MD_BLOCK = re.compile(r"^([#>+=-])")
_MD_NUMBERED = re.compile(r"^(\d+)([.)])")


def _md(text: str, starts_line: bool = False) -> str:
    """Literal text in CommonMark: what could be markup is escaped (anything anywhere that could start
    emphasis, a link, code, HTML or a table; a heading, quote or list marker where a line starts), and line
    breaks are kept as hard breaks. `starts_line`: the text begins a line of its own (a paragraph)."""
    lines = []
    for n, line in enumerate(text.splitlines() or [""]):
        line = _MD_INLINE.sub(r"\\\1", line.strip())
        if n or starts_line:
            line = _MD_NUMBERED.sub(r"\1\\\2", _MD_BLOCK.sub(r"\\\1", line))
        lines.append(line)
    return "\\\n  ".join(lines)


def to_markdown(record: SafeguardingRecord, content: Content) -> str:
    page = _Page(record, PlainWords(content))
    for section in (page.case, page.summary, page.routing, page.actions, page.outcome, page.plan, page.chronology,
                    page.evidence, page.content, page.integrity, page.export):
        section()
    return "\n".join(page.out).strip() + "\n"


class _Page:
    """The Markdown lines of one record, written section by section."""

    def __init__(self, record: SafeguardingRecord, say: PlainWords):
        self.record, self.say = record, say
        self.out: list[str] = []

    def heading(self, key: str, level: int = 2) -> None:
        self.out.extend(["", f"{'#' * level} {_md(self.say(key))}", ""])

    def fact(self, label: str, value: str) -> None:
        self.out.append(f"- **{_md(label)}:** {_md(value)}")

    def when(self, m: Moment) -> str:
        return f"{utc_text(m)} ({self.say('record.uk_time', date=uk_text(m))})"

    def case(self) -> None:
        record, say = self.record, self.say
        self.out.append(f"# {_md(record.title)}")
        self.out.extend(["", f"**{_md(record.confidential)}**", "", _md(say("record.times_note"), True)])
        self.heading("record.heading.case")
        self.fact(say("record.field.school"), record.school)
        self.fact(say("record.field.reference"), record.reference)
        self.fact(say("record.field.status"), record.status.label)
        self.fact(say("record.field.urgency"), record.urgency)
        if record.urgent_reason:
            self.fact(say("record.field.urgent_reason"), record.urgent_reason)
        self.fact(say("record.field.reported_by"), record.reported_by.display)
        self.fact(say("record.field.reported_at"), self.when(record.reported_at))

    def summary(self) -> None:
        self.heading("record.heading.summary")
        for f in self.record.summary:
            self.fact(f.label, f.value)

    def routing(self) -> None:
        record = self.record
        self.heading("record.heading.routing")
        for r in record.routed_to or []:
            self.out.append(f"- {_md(r.person.display)}: {_md(r.reason)}")
        if not record.routed_to:
            self.out.append(f"- {_md(self.say('record.nobody'))}")
        if record.excluded:
            self.heading("record.heading.excluded", 3)
            for r in record.excluded:
                self.out.append(f"- {_md(r.person.display)}: {_md(r.reason)}")

    def actions(self) -> None:
        self.heading("record.heading.actions")
        if not self.record.actions:
            self.out.append(_md(self.say("record.field.no_actions"), True))
        for n, e in enumerate(self.record.actions, 1):
            self.out.append(f"{n}\\. **{_md(e.what)}**, {_md(self.when(e.at))}, {_md(e.by.display)}")
            for f in e.details:
                self.out.append(f"   - **{_md(f.label)}:** {_md(f.value)}")

    def outcome(self) -> None:
        record, say = self.record, self.say
        self.heading("record.heading.outcome")
        if record.closed:
            self.fact(say("record.field.outcome"), record.outcome.label if record.outcome else record.closed.what)
            for f in record.closed.details:
                self.fact(f.label, f.value)
            self.fact(say("record.field.closed_by"), record.closed.by.display)
            self.fact(say("record.field.closed_at"), self.when(record.closed.at))
        else:
            self.out.append(_md(say("record.field.not_closed"), True))

    def plan(self) -> None:
        if self.record.plan:
            self.heading("record.heading.plan")
            for line in self.record.plan:
                self.out.append(f"- {_md(line.step)}: {_md(line.item)}: **{_md(plan_state(line, self.say))}**")

    def chronology(self) -> None:
        self.heading("record.heading.chronology")
        for e in self.record.chronology:
            self.out.extend([f"### {e.position}\\. {_md(e.what)}", ""])
            self.fact(self.say("record.field.when"), self.when(e.at))
            self.fact(self.say("record.field.who"), e.by.display)
            for f in e.details:
                self.fact(f.label, f.value)
            self.out.append("")

    def evidence(self) -> None:
        self.heading("record.heading.evidence")
        if self.record.evidence:
            self.out.extend([_md(self.say("record.evidence_note"), True), ""])
        else:
            self.out.append(_md(self.say("record.evidence_none"), True))
        for n, ev in enumerate(self.record.evidence, 1):
            self.out.append(f"{n}\\. **{_md(ev.name)}**")
            for label, value in evidence_facts(ev, self.say):
                self.out.append(f"   - **{_md(label)}:** {_md(value)}")

    def content(self) -> None:
        self.heading("record.heading.content")
        self.fact(self.say("record.field.content_version"), self.record.content_version)
        self.fact(self.say("record.field.content_version_current"), self.record.content_version_current)

    def integrity(self) -> None:
        integrity, say = self.record.integrity, self.say
        self.heading("record.heading.integrity")
        self.fact(say("record.field.integrity_result"), integrity.result)
        for problem in integrity.problems:
            self.out.append(f"  - {_md(problem)}")
        self.fact(say("record.field.integrity_events"), str(integrity.events))
        self.fact(say("record.field.integrity_head"), integrity.head or say("record.none"))

    def export(self) -> None:
        exported, say = self.record.exported, self.say
        self.heading("record.heading.export")
        self.fact(say("record.field.exported_by"), exported.by.display)
        self.fact(say("record.field.exported_at"), self.when(exported.at))
        self.fact(say("record.field.format"), say.get(f"record.format.{exported.format}", exported.format))
        self.fact(say("record.field.generator"), exported.generator)
