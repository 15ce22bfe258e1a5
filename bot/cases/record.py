"""The safeguarding record of a case, for the school's child-protection file.

`build_record` gathers everything about one case into a neutral `SafeguardingRecord` (a pydantic model,
whose JSON schema is docs/record.schema.json): the school, reference, status and urgency; a summary of the
report (its answers as labelled facts, worded as on the case card); who it was sent to and who was kept off
it, with the reasons; the actions taken and the outcome; a chronology of every event with the time in UTC
and in UK time and who did it; the evidence by reference and fingerprint (never its content); the content
version the reporter saw; the result of checking the case's hash-chained event log; and who made the record
and when. `to_json`, `to_markdown` and `to_pdf` render it. `export_case` records the export on the case,
through the store, once the record renders, so the export itself joins the chain and the record shows the
chain's latest hash.

All the wording is in content/messages/record.yaml. Nothing here logs anything about a case.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from typing import Any, Literal
from xml.sax.saxutils import escape as xml_escape
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from bot.cases.card import REPORT, describe_answer, raised_words
from bot.cases.card import files_before as files_of_chat
from bot.cases.plan import case_plan
from bot.cases.scope import SchoolScope
from bot.core.content import Content
from bot.core.markup import to_plain
from bot.core.models import Case, CaseEvent, Role, Route, StaffMember, utcnow
from bot.core.words import choice_summary
from bot.store import Store
from bot.store.base import ChainReport

SCHEMA_VERSION = "1"
FORMATS = ("pdf", "json", "md")
UK = ZoneInfo("Europe/London")
BOT_ACTOR = "bot"
# Where an event's detail comes from a flow, its keys are that flow's steps, titled as the flow titles them.
FLOW_OF_EVENT = {"note_added": "case_note", "action_recorded": "case_action", "status_changed": "case_status",
                 "closed": "case_close"}


# --- the record --------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Moment(_Strict):
    utc: datetime = Field(description="the time in UTC")
    uk: datetime = Field(description="the same time in UK local time (Europe/London), with its offset")
    uk_zone: str = Field(description="GMT or BST")


class Person(_Strict):
    id: str = Field(description="platform:id, or 'bot' for the bot itself")
    name: str | None = Field(default=None, description="from the staff directory; None if not in it")
    role: str | None = Field(default=None, description="their role, worded")
    display: str = Field(description="how the record names them")


class Fact(_Strict):
    label: str
    value: str


class Coded(_Strict):
    code: str
    label: str


class RouteEntry(_Strict):
    person: Person
    reason_code: str
    reason: str


class Entry(_Strict):
    """One event of the case, worded."""

    position: int = Field(description="its place in the case's event log, from 1")
    kind: str = Field(description="the event's kind as stored, e.g. note_added")
    what: str = Field(description="what happened, worded")
    at: Moment
    by: Person
    details: list[Fact] = Field(default_factory=list)
    hash: str | None = Field(default=None, description="the event's hash in the case's chain")


class PlanLine(_Strict):
    """One item of the case plan (content/case_plan.yaml) as it stood when the record was made."""

    id: str
    step: str
    item: str
    required: bool
    done: bool
    by: Person | None = None
    at: Moment | None = None


class EvidenceItem(_Strict):
    name: str
    ref: str = Field(description="where the file is kept: a path, a platform file id or a permalink")
    content_type: str | None = None
    size: int | None = Field(default=None, description="bytes")
    sha256: str | None = None
    added_by: Person
    added_at: Moment


class Integrity(_Strict):
    intact: bool
    events: int
    hashed: int
    unsealed: int = Field(description="events from before the log was hash-chained, not yet covered by a later one")
    head: str | None = Field(description="the hash of the latest event: a copy of this record fixes the log up to here")
    result: str
    problems: list[str] = Field(default_factory=list)


class Export(_Strict):
    by: Person
    at: Moment
    format: Literal["pdf", "json", "md"]
    generator: str


class SafeguardingRecord(_Strict):
    """A case as a record for the school's child-protection file."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    title: str
    confidential: str
    school: str
    reference: str
    status: Coded
    urgent: bool
    urgency: str
    urgent_reason: str | None = None
    categories: list[Coded]
    reported_by: Person
    reported_at: Moment
    summary: list[Fact] = Field(description="the report's answers, labelled as the report asked them")
    routed_to: list[RouteEntry]
    excluded: list[RouteEntry]
    actions: list[Entry]
    outcome: Coded | None = None
    closed: Entry | None = Field(default=None, description="the closing event, with the outcome and its reasons")
    plan: list[PlanLine] = Field(default_factory=list, description="the case plan's items, done or open")
    chronology: list[Entry]
    evidence: list[EvidenceItem]
    content_version: str = Field(description="the version of the wording and facts the reporter saw")
    content_version_current: str
    integrity: Integrity
    exported: Export


def record_schema() -> dict[str, Any]:
    """The JSON schema of an exported record (docs/record.schema.json is this, written out)."""
    schema = SafeguardingRecord.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/online-safety-bot/online-safety-bot/docs/record.schema.json"
    return schema


# --- building it -------------------------------------------------------------------------


def moment(at: datetime) -> Moment:
    if at.tzinfo is None:  # stored times are UTC; an old naive one is taken as UTC too
        at = at.replace(tzinfo=timezone.utc)
    utc = at.astimezone(timezone.utc)
    uk = utc.astimezone(UK)
    return Moment(utc=utc, uk=uk, uk_zone=uk.tzname() or "UK")


def utc_text(m: Moment) -> str:
    return f"{m.utc:%Y-%m-%d %H:%M:%S} UTC"


def uk_text(m: Moment) -> str:
    return f"{m.uk:%-d %B %Y, %H:%M:%S} {m.uk_zone}"


class _Words:
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
    say = _Words(content)
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


class _Builder:
    def __init__(self, content: Content, staff: list[StaffMember], plan_items: dict[str, str] | None = None,
                 refusals: dict[tuple[str, str], int] | None = None):
        self.content = content  # the case's school's words
        self.say = _Words(content)
        self.staff = {m.user: m for m in staff}
        self.plan_items = plan_items or {}  # plan entry id -> "Step: item"
        self.refusals = refusals or {}  # (actor, UTC day) -> refusals that day; only the first is an event

    def role_label(self, role: Role | str | None) -> str | None:
        if role is None:
            return None
        value = role.value if isinstance(role, Role) else str(role)
        return self.say.get(f"roles.{value}", value)

    def role_labels(self, roles: list[Role] | list[str]) -> str | None:
        labels = [self.role_label(r) for r in roles]
        return " and ".join(l for l in labels if l) or None

    def person(self, user: str, role: Role | str | None = None) -> Person:
        if user == BOT_ACTOR:
            return Person(id=user, display=self.say("record.bot"))
        member = self.staff.get(user)
        if member is None:
            return Person(id=user, role=self.role_label(role),
                          display=self.say("record.unknown_person", name=user))
        label = self.role_labels([role] if role else member.roles)
        return Person(id=user, name=member.name, role=label,
                      display=self.say("record.person", name=member.name, role=label, value=user))

    def route(self, route: Route) -> RouteEntry:
        reason = self.say.get(f"record.route_reason.{route.reason}", route.reason)
        return RouteEntry(person=self.person(route.user, route.role), reason_code=route.reason, reason=reason)

    def route_line(self, route: dict[str, Any]) -> str:
        entry = self.route(Route.model_validate(route))
        return f"{entry.person.display}: {entry.reason}"

    # --- events --------------------------------------------------------------------------

    def choice_label(self, flow_id: str, step_id: str, value: Any) -> str:
        flow = self.content.flows.get(flow_id)
        if flow is None:
            return str(value)
        try:
            step = flow.step(step_id)
        except KeyError:
            return str(value)
        return next((c.summary or c.label for c in step.choices if c.id == value), str(value))

    def step_title(self, flow_id: str, step_id: str) -> str:
        flow = self.content.flows.get(flow_id)
        try:
            return flow.step(step_id).title if flow else _humanize(step_id)
        except KeyError:
            return self.say.get(f"record.detail.{step_id}", _humanize(step_id))

    def flow_details(self, flow_id: str, detail: dict[str, Any], skip: set[str] = frozenset()) -> list[Fact]:
        facts = []
        for key, value in detail.items():
            if key in skip or value in (None, "", [], {}):
                continue
            flow = self.content.flows.get(flow_id)
            step = next((s for s in flow.steps if s.id == key), None) if flow else None
            shown = self.choice_label(flow_id, key, value) if step and step.type == "choice" else self.value(key, value)
            facts.append(Fact(label=self.step_title(flow_id, key), value=shown))
        return facts

    def value(self, key: str, value: Any) -> str:
        """A detail's value, worded where its key says what it holds: people, routes, case plan items."""
        items = value if isinstance(value, list) else [value]
        if key == "to" and all(isinstance(v, str) for v in items):
            return "; ".join(self.person(v).display for v in items)
        if key in ("added", "routes", "excluded") and all(isinstance(v, dict) and "user" in v for v in items):
            return "\n".join(self.route_line(v) for v in items)
        if key in ("item", "open_required") and all(isinstance(v, str) for v in items):
            return "; ".join(self.plan_items.get(v, v) for v in items)
        return _value(value)

    def generic_details(self, detail: dict[str, Any], skip: set[str] = frozenset()) -> list[Fact]:
        return [Fact(label=self.say.get(f"record.detail.{k}", _humanize(k)), value=self.value(k, v))
                for k, v in detail.items() if k not in skip and v not in (None, "", [], {})]

    def entry(self, position: int, event: CaseEvent) -> Entry:
        say, d, kind = self.say, event.detail, event.kind
        details: list[Fact] = []
        if kind == "reported":
            what = say("record.event.reported")
            details = self.generic_details(d)
        elif kind == "routed":
            what = say("record.event.routed")
            details = [Fact(label=say("record.detail.sent_to"), value=self.route_line(r)) for r in d.get("routes", [])]
            details += [Fact(label=say("record.detail.not_sent_to"), value=self.route_line(r))
                        for r in d.get("excluded", [])]
            if not d.get("routes"):
                details.insert(0, Fact(label=say("record.detail.sent_to"), value=say("record.nobody")))
            details += self.generic_details(d, skip={"routes", "excluded"})
        elif kind == "flagged_urgent":
            allegation = d.get("because") == "allegation_involving_learner"
            what = say("record.event.flagged_urgent_allegation" if allegation else "record.event.flagged_urgent")
            if d.get("reason") == "marked_by_handler":  # pressed on the card: the actor is who decided
                what = say("record.event.flagged_urgent_by_handler")
            details = self.generic_details(d, skip={"at", "because", "reason"} if d.get("reason") == "marked_by_handler"
                                           else {"at", "because"})
        elif kind == "threshold_decided":
            decision = str(d.get("decision", ""))
            what = say("record.event.threshold_decided", value=say.get(f"case.threshold.{decision}", decision))
            details = self.generic_details(d, skip={"decision"})
        elif kind == "action_recorded":
            what = say("record.event.action_recorded", value=self.choice_label("case_action", "action", d.get("action")))
            label_step = "platform_reference" if d.get("action") == "reported_to_platform" else "detail"
            if d.get("detail"):
                details.append(Fact(label=self.step_title("case_action", label_step), value=_value(d["detail"])))
            details += self.flow_details("case_action", d, skip={"action", "detail"})
        elif kind == "status_changed":
            what = say("record.event.status_changed", value=self.status(d.get("from")).label,
                       status=self.status(d.get("to")).label)
            details = self.generic_details(d, skip={"from", "to"})
        elif kind == "closed":
            what = say("record.event.closed", outcome=self.outcome(d.get("outcome")).label)
            details = self.flow_details("case_close", d, skip={"outcome"})
        elif kind == "access_refused":
            what = say("record.event.access_refused")
            action = str(d.get("action", ""))
            details = [Fact(label=say("record.detail.tried_to"), value=say.get(f"record.tried_to.{action}", action))]
            times = self.refusals.get((event.actor, event.at.astimezone(timezone.utc).date().isoformat()), 1)
            if times > 1:
                details.append(Fact(label=say("record.detail.refused_that_day"), value=str(times)))
            details += self.generic_details(d, skip={"action"})
        elif kind == "reporter_told":
            message = str(d.get("message", ""))
            what = say("record.event.reporter_told",
                       value=say.get(f"record.reporter_told.{message.removeprefix('case.')}", message))
            details = self.generic_details(d, skip={"message"})
        elif kind == "record_exported":
            fmt = str(d.get("format", ""))
            what = say("record.event.record_exported", value=say.get(f"record.format.{fmt}", fmt))
            details = self.generic_details(d, skip={"format"})
        elif kind == "plan_ticked":
            what = say("record.event.plan_ticked", value=self.value("item", d.get("item", "?")))
            details = self.generic_details(d, skip={"item"})
        elif kind in ("reminded", "escalated"):
            about = str(d.get("about", ""))
            what = say(f"record.event.{kind}", value=say.get(f"record.reminder_about.{about}", _humanize(about)))
            details = self.generic_details(d, skip={"about", "report_event"})
        elif f"record.event.{kind}" in self.content.messages:
            what = say(f"record.event.{kind}")
            details = (self.flow_details(FLOW_OF_EVENT[kind], d) if kind in FLOW_OF_EVENT
                       else self.generic_details(d))
        else:  # a kind this module does not know yet: shown as it is, never dropped
            what = say("record.event.other", value=_humanize(kind))
            details = self.generic_details(d)
        return Entry(position=position, kind=kind, what=what, at=moment(event.at), by=self.person(event.actor),
                     details=details, hash=event.hash)

    def status(self, code: Any) -> Coded:
        code = str(code) if code is not None else "?"
        return Coded(code=code, label=self.say.get(f"statuses.{code}", code))

    def outcome(self, code: Any) -> Coded:
        code = str(code) if code is not None else "?"
        return Coded(code=code, label=self.say.get(f"outcomes.{code}", code))


async def build_record(store: Store, scope: SchoolScope, case: Case, *, exported_by: str, fmt: str,
                       exported_at: datetime | None = None) -> SafeguardingRecord:
    """Everything the school's child-protection file needs about `case`, read from the store now, in the words of
    `scope`, the case's own school (never the deployment's name, nor the school of whoever asks)."""
    school, content = scope.school, scope.words
    say = _Words(content)
    events = await store.case_events(case.id)
    evidence = await store.case_evidence(case.id)
    plan_entries = case_plan(content, case, events, evidence)
    b = _Builder(content, await store.list_staff(case.school_id),
                 {e.id: f"{e.step}: {e.text}" for e in plan_entries}, await store.refusal_counts(case.id))
    chain = await store.verify_case_chain(case.id)

    report = content.flows[REPORT]
    steps = {s.id: s for s in report.steps}
    summary = []
    for step_id, value in case.answers.items():  # in the order they were asked
        step = steps.get(step_id)
        if step_id in ("guardrail", "safety") or (step and step.type in ("summary", "info")):
            continue
        if step is None:  # a question the report no longer asks, since the content changed: kept all the same
            summary.append(Fact(label=_humanize(step_id), value=_value(value)))
            continue
        try:
            shown = describe_answer(scope, case, step_id)
        except (TypeError, ValueError, KeyError, AttributeError):  # an answer from older content
            shown = _value(value)
        summary.append(Fact(label=step.title, value=shown))
    categories_step = report.step("categories")
    categories = [Coded(code=c, label=choice_summary(content, categories_step, c))
                  for c in case.categories]
    guardrail = case.answers.get("guardrail") or {}
    files_before = files_of_chat(scope, case)
    if files_before:
        summary.append(Fact(label=say("case.field.files_before"), value=files_before))
    safety = case.answers.get("safety") or {}
    reason = guardrail.get("reason") or ("danger:" + safety["danger"]["at"] if "danger" in safety else None)
    chronology = [b.entry(i, e) for i, e in enumerate(events, 1)]
    closed = next((e for e in reversed(chronology) if e.kind == "closed"), None)
    result, problems = chain_words(content, chain)
    return SafeguardingRecord(
        title=say("record.title", reference=case.reference),
        confidential=say("record.confidential"),
        school=school.name,
        reference=case.reference,
        status=b.status(case.status.value),
        urgent=case.urgent,
        urgency=say("record.urgency.urgent" if case.urgent else "record.urgency.normal"),
        urgent_reason=raised_words(scope, str(reason)) if reason else None,
        categories=categories,
        reported_by=b.person(case.reporter),
        reported_at=moment(case.created_at),
        summary=summary,
        routed_to=[b.route(r) for r in case.routed_to],
        excluded=[b.route(r) for r in case.excluded],
        actions=[e for e in chronology if e.kind == "action_recorded"],
        outcome=b.outcome(case.outcome) if case.outcome else None,
        closed=closed,
        plan=[PlanLine(id=e.id, step=e.step, item=e.text, required=e.required, done=e.done,
                       by=b.person(e.by) if e.by else None, at=moment(e.at) if e.at else None)
              for e in plan_entries],
        chronology=chronology,
        evidence=[
            EvidenceItem(name=e.name, ref=e.ref, content_type=e.content_type, size=e.size, sha256=e.sha256,
                         added_by=b.person(e.added_by), added_at=moment(e.added_at))
            for e in evidence
        ],
        content_version=case.content_version,
        content_version_current=content.version,
        integrity=Integrity(intact=chain.intact, events=chain.events, hashed=chain.hashed, unsealed=chain.unsealed,
                            head=chain.head, result=result, problems=problems),
        exported=Export(by=b.person(exported_by), at=moment(exported_at or utcnow()), format=fmt,  # type: ignore[arg-type]
                        generator=_generator()),
    )


async def export_case(
    store: Store, scope: SchoolScope, case: Case, *, by: str, fmt: str, now: datetime | None = None,
) -> tuple[SafeguardingRecord, bytes]:
    """The record and its file, in the words of the case's school (`scope`). The export is recorded on the case
    (who, which format) only once the record without it has been rendered (an error then records nothing); the
    record is then built and rendered again, so that it ends with that event and carries the chain's hash up to
    and including it."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    now = now or utcnow()
    render(await build_record(store, scope, case, exported_by=by, fmt=fmt, exported_at=now), scope.words)
    await store.record_events([CaseEvent(case_id=case.id, actor=by, kind="record_exported", at=now,
                                         detail={"format": fmt})])
    record = await build_record(store, scope, case, exported_by=by, fmt=fmt, exported_at=now)
    return record, render(record, scope.words)


def render(record: SafeguardingRecord, content: Content) -> bytes:
    """The record in its own format, as bytes to write to a file."""
    if record.exported.format == "pdf":
        return to_pdf(record, content)
    if record.exported.format == "md":
        return to_markdown(record, content).encode("utf-8")
    return to_json(record).encode("utf-8")


def _generator() -> str:
    try:
        return f"online-safety-bot {metadata.version('online-safety-bot')}"
    except metadata.PackageNotFoundError:
        return "online-safety-bot"


def _humanize(key: str) -> str:
    return key.replace("_", " ").strip().capitalize() or key


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# --- JSON --------------------------------------------------------------------------------


def to_json(record: SafeguardingRecord) -> str:
    return record.model_dump_json(indent=2) + "\n"


# --- Markdown ----------------------------------------------------------------------------


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
    say = _Words(content)
    out: list[str] = []

    def heading(key: str, level: int = 2) -> None:
        out.extend(["", f"{'#' * level} {_md(say(key))}", ""])

    def fact(label: str, value: str) -> None:
        out.append(f"- **{_md(label)}:** {_md(value)}")

    def when(m: Moment) -> str:
        return f"{utc_text(m)} ({say('record.uk_time', date=uk_text(m))})"

    out.append(f"# {_md(record.title)}")
    out.extend(["", f"**{_md(record.confidential)}**", "", _md(say("record.times_note"), True)])

    heading("record.heading.case")
    fact(say("record.field.school"), record.school)
    fact(say("record.field.reference"), record.reference)
    fact(say("record.field.status"), record.status.label)
    fact(say("record.field.urgency"), record.urgency)
    if record.urgent_reason:
        fact(say("record.field.urgent_reason"), record.urgent_reason)
    fact(say("record.field.reported_by"), record.reported_by.display)
    fact(say("record.field.reported_at"), when(record.reported_at))

    heading("record.heading.summary")
    for f in record.summary:
        fact(f.label, f.value)

    heading("record.heading.routing")
    for r in record.routed_to or []:
        out.append(f"- {_md(r.person.display)}: {_md(r.reason)}")
    if not record.routed_to:
        out.append(f"- {_md(say('record.nobody'))}")
    if record.excluded:
        heading("record.heading.excluded", 3)
        for r in record.excluded:
            out.append(f"- {_md(r.person.display)}: {_md(r.reason)}")

    heading("record.heading.actions")
    if not record.actions:
        out.append(_md(say("record.field.no_actions"), True))
    for n, e in enumerate(record.actions, 1):
        out.append(f"{n}\\. **{_md(e.what)}**, {_md(when(e.at))}, {_md(e.by.display)}")
        for f in e.details:
            out.append(f"   - **{_md(f.label)}:** {_md(f.value)}")

    heading("record.heading.outcome")
    if record.closed:
        fact(say("record.field.outcome"), record.outcome.label if record.outcome else record.closed.what)
        for f in record.closed.details:
            fact(f.label, f.value)
        fact(say("record.field.closed_by"), record.closed.by.display)
        fact(say("record.field.closed_at"), when(record.closed.at))
    else:
        out.append(_md(say("record.field.not_closed"), True))

    if record.plan:
        heading("record.heading.plan")
        for line in record.plan:
            out.append(f"- {_md(line.step)}: {_md(line.item)}: **{_md(_plan_state(line, say))}**")

    heading("record.heading.chronology")
    for e in record.chronology:
        out.extend([f"### {e.position}\\. {_md(e.what)}", ""])
        fact(say("record.field.when"), when(e.at))
        fact(say("record.field.who"), e.by.display)
        for f in e.details:
            fact(f.label, f.value)
        out.append("")

    heading("record.heading.evidence")
    if record.evidence:
        out.extend([_md(say("record.evidence_note"), True), ""])
    else:
        out.append(_md(say("record.evidence_none"), True))
    for n, ev in enumerate(record.evidence, 1):
        out.append(f"{n}\\. **{_md(ev.name)}**")
        for label, value in _evidence_facts(ev, say):
            out.append(f"   - **{_md(label)}:** {_md(value)}")

    heading("record.heading.content")
    fact(say("record.field.content_version"), record.content_version)
    fact(say("record.field.content_version_current"), record.content_version_current)

    heading("record.heading.integrity")
    fact(say("record.field.integrity_result"), record.integrity.result)
    for problem in record.integrity.problems:
        out.append(f"  - {_md(problem)}")
    fact(say("record.field.integrity_events"), str(record.integrity.events))
    fact(say("record.field.integrity_head"), record.integrity.head or say("record.none"))

    heading("record.heading.export")
    fact(say("record.field.exported_by"), record.exported.by.display)
    fact(say("record.field.exported_at"), when(record.exported.at))
    fact(say("record.field.format"), say.get(f"record.format.{record.exported.format}", record.exported.format))
    fact(say("record.field.generator"), record.exported.generator)
    return "\n".join(out).strip() + "\n"


def _plan_state(line: PlanLine, say: _Words) -> str:
    if line.done and line.by and line.at:
        return say("record.plan.done_by", name=line.by.display, date=utc_text(line.at))
    if line.done:
        return say("record.plan.done")
    return say("record.plan.open_required" if line.required else "record.plan.open")


def _evidence_facts(ev: EvidenceItem, say: _Words) -> list[tuple[str, str]]:
    facts = [(say("record.field.evidence_ref"), ev.ref)]
    if ev.content_type:
        facts.append((say("record.field.evidence_type"), ev.content_type))
    if ev.size is not None:
        facts.append((say("record.field.evidence_size"), say("record.size_bytes", count=f"{ev.size:,}")))
    facts.append((say("record.field.evidence_sha256"), ev.sha256 or say("record.none")))
    facts.append((say("record.field.evidence_added"), f"{ev.added_by.display}, {utc_text(ev.added_at)}"))
    return facts


# --- PDF ---------------------------------------------------------------------------------
# ReportLab (BSD licence) with the Bitstream Vera fonts it ships, which cover Latin-1 and the common
# punctuation (é, ë, —, ’, €). Characters outside them are written safely instead of crashing: a letter
# with an accent the font lacks loses the accent, and anything else (an emoji, another script) is named
# in brackets. The JSON and Markdown records always keep the text exactly.

FONT, FONT_BOLD = "OSBVera", "OSBVera-Bold"


@lru_cache(maxsize=1)
def _fonts() -> frozenset[int]:
    import os

    import reportlab
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
    regular = TTFont(FONT, os.path.join(folder, "Vera.ttf"))
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(TTFont(FONT_BOLD, os.path.join(folder, "VeraBd.ttf")))
    for bold, italic, name in ((0, 0, FONT), (1, 0, FONT_BOLD), (0, 1, FONT), (1, 1, FONT_BOLD)):
        addMapping(FONT, bold, italic, name)
    return frozenset(regular.face.charToGlyph)


def pdf_safe(text: str, covered: frozenset[int] | None = None) -> str:
    """`text` using only characters the PDF font can draw."""
    covered = _fonts() if covered is None else covered
    out = []
    for ch in text:
        if ch == "\n" or ord(ch) in covered:
            out.append(ch)
            continue
        if unicodedata.category(ch).startswith(("C", "Z")):  # controls, odd spaces
            out.append(" ")
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch)
                       if ord(c) in covered and not unicodedata.combining(c))
        if base:
            out.append(base)
        elif unicodedata.category(ch).startswith("S"):  # emoji and other symbols: say what they were
            out.append(f"[{unicodedata.name(ch, f'U+{ord(ch):04X}').lower()}]")
        else:
            out.append(f"[U+{ord(ch):04X}]")
    return "".join(out)


PIECE_CHARS = 800  # at most about a dozen lines in the narrowest column: a row never outgrows a page


def _pieces(text: str) -> list[str]:
    """A value as the pieces the PDF gives a table row each: its lines, and a line longer than PIECE_CHARS cut at
    a space before that length where there is one."""
    pieces: list[str] = []
    for line in text.split("\n"):
        while len(line) > PIECE_CHARS:
            cut = line.rfind(" ", PIECE_CHARS // 2, PIECE_CHARS)
            cut = cut if cut > 0 else PIECE_CHARS
            pieces.append(line[:cut])
            line = line[cut:].lstrip(" ")
        pieces.append(line)
    return pieces


def to_pdf(record: SafeguardingRecord, content: Content) -> bytes:
    from io import BytesIO

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _fonts()
    say = _Words(content)
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12.5, alignment=TA_LEFT)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=colors.HexColor("#333333"))
    bold = ParagraphStyle("bold", parent=body, fontName=FONT_BOLD)
    h1 = ParagraphStyle("h1", parent=body, fontName=FONT_BOLD, fontSize=16, leading=20, spaceAfter=4)
    h2 = ParagraphStyle("h2", parent=body, fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=10, spaceAfter=4)
    h3 = ParagraphStyle("h3", parent=body, fontName=FONT_BOLD, fontSize=10, leading=13, spaceBefore=6, spaceAfter=2)

    def markup(text: str) -> str:
        return xml_escape(pdf_safe(text)).replace("\n", "<br/>")

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(markup(text), style)

    def when(m: Moment) -> str:
        return f"{utc_text(m)}\n{uk_text(m)}"

    line_colour = colors.HexColor("#999999")
    width = A4[0] - 36 * mm

    def facts(rows: list[tuple[str, str]]) -> Table:
        """Label and value, one table row for each piece of a value (see `_pieces`), so that a long answer flows
        on to the next page instead of making one row taller than a page."""
        cells: list[list[Any]] = []
        style: list[Any] = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (0, 0), (-1, -1), 0.4, line_colour),
                            ("LINEAFTER", (0, 0), (0, -1), 0.4, line_colour),
                            ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eeeeee")),
                            ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4)]
        for label, value in rows:
            if cells:
                style.append(("LINEABOVE", (0, len(cells)), (-1, len(cells)), 0.4, line_colour))
            cells += [[p(label, bold) if n == 0 else "", p(piece)] for n, piece in enumerate(_pieces(value))]
        table = Table(cells, colWidths=[48 * mm, width - 48 * mm])
        table.setStyle(TableStyle(style))
        return table

    story: list[Any] = [p(record.title, h1), p(record.confidential, bold), Spacer(1, 3), p(say("record.times_note"), small)]

    story.append(p(say("record.heading.case"), h2))
    rows = [(say("record.field.school"), record.school), (say("record.field.reference"), record.reference),
            (say("record.field.status"), record.status.label), (say("record.field.urgency"), record.urgency)]
    if record.urgent_reason:
        rows.append((say("record.field.urgent_reason"), record.urgent_reason))
    rows += [(say("record.field.reported_by"), record.reported_by.display),
             (say("record.field.reported_at"), when(record.reported_at))]
    story.append(facts(rows))

    story += [p(say("record.heading.summary"), h2), facts([(f.label, f.value) for f in record.summary])]

    story.append(p(say("record.heading.routing"), h2))
    story.append(facts([(r.person.display, r.reason) for r in record.routed_to])
                 if record.routed_to else p(say("record.nobody")))
    if record.excluded:
        story += [p(say("record.heading.excluded"), h3),
                  facts([(r.person.display, r.reason) for r in record.excluded])]

    story.append(p(say("record.heading.actions"), h2))
    if not record.actions:
        story.append(p(say("record.field.no_actions")))
    for e in record.actions:
        story.append(KeepTogether([p(e.what, h3), facts(
            [(say("record.field.when"), when(e.at)), (say("record.field.who"), e.by.display)]
            + [(f.label, f.value) for f in e.details])]))

    story.append(p(say("record.heading.outcome"), h2))
    if record.closed:
        rows = [(say("record.field.outcome"), record.outcome.label if record.outcome else record.closed.what)]
        rows += [(f.label, f.value) for f in record.closed.details]
        rows += [(say("record.field.closed_by"), record.closed.by.display),
                 (say("record.field.closed_at"), when(record.closed.at))]
        story.append(facts(rows))
    else:
        story.append(p(say("record.field.not_closed")))

    if record.plan:
        story.append(p(say("record.heading.plan"), h2))
        plan = Table([[p(f"{line.step}: {line.item}"), p(_plan_state(line, say), small)] for line in record.plan],
                     colWidths=[width - 58 * mm, 58 * mm])
        plan.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                  ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999"))]))
        story.append(plan)

    story.append(p(say("record.heading.chronology"), h2))
    header = [p("#", bold), p(say("record.field.when"), bold), p(say("record.field.who"), bold),
              p(say("record.field.what"), bold)]
    lines = [header]
    event_lines: list[Any] = []
    for e in record.chronology:  # an event's details take a row for each piece, as in `facts`
        event_lines.append(("LINEABOVE", (0, len(lines)), (-1, len(lines)), 0.4, line_colour))
        lines.append([p(str(e.position)), p(when(e.at), small), p(e.by.display), p(e.what, bold)])
        lines += [["", "", "", p(piece)] for f in e.details for piece in _pieces(f"{f.label}: {f.value}")]
    chronology = Table(lines, colWidths=[9 * mm, 40 * mm, 42 * mm, width - 91 * mm], repeatRows=1)
    chronology.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BOX", (0, 0), (-1, -1), 0.4, line_colour), ("INNERGRID", (0, 0), (-1, 0), 0.4, line_colour),
        ("LINEAFTER", (0, 0), (2, -1), 0.4, line_colour),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        *event_lines,
    ]))
    story.append(chronology)

    story.append(p(say("record.heading.evidence"), h2))
    if record.evidence:
        story.append(p(say("record.evidence_note"), small))
        for ev in record.evidence:
            story.append(KeepTogether([p(ev.name, h3), facts(_evidence_facts(ev, say))]))
    else:
        story.append(p(say("record.evidence_none")))

    story += [p(say("record.heading.content"), h2), facts([
        (say("record.field.content_version"), record.content_version),
        (say("record.field.content_version_current"), record.content_version_current)])]

    rows = [(say("record.field.integrity_result"), "\n".join([record.integrity.result] + record.integrity.problems)),
            (say("record.field.integrity_events"), str(record.integrity.events)),
            (say("record.field.integrity_head"), record.integrity.head or say("record.none"))]
    story += [p(say("record.heading.integrity"), h2), facts(rows)]

    story += [p(say("record.heading.export"), h2), facts([
        (say("record.field.exported_by"), record.exported.by.display),
        (say("record.field.exported_at"), when(record.exported.at)),
        (say("record.field.format"), say.get(f"record.format.{record.exported.format}", record.exported.format)),
        (say("record.field.generator"), record.exported.generator)])]

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        # The chain's head on every page: a printed page pins the log as it was (docs/safeguarding-record.md).
        canvas.drawString(18 * mm, 10 * mm, pdf_safe(say("record.page", reference=record.reference, position=doc.page,
                                                         value=record.integrity.head or say("record.none"))))
        canvas.restoreState()

    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=18 * mm,
        title=pdf_safe(record.title), author=pdf_safe(record.school), subject=pdf_safe(say("record.heading.case")),
        creator=record.exported.generator, invariant=True,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
