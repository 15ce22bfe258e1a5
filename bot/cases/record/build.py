"""The record's assembly: `build_record` reads one case's file from the store (its events, evidence, staff,
refusals and chain check), then `assemble_record`, a pure function of that file and the case's school (`scope`),
turns it into a `SafeguardingRecord`: the school, reference, status and urgency; a summary of the report (its
answers as labelled facts, worded as on the case card); who it was sent to and who was kept off it, with the
reasons; the actions taken and the outcome; a chronology of every event with the time in UTC and in UK time and
who did it; the evidence by reference and fingerprint (never its content); the content version the reporter saw;
the result of checking the case's hash-chained event log; and who made the record and when.

All the wording is in content/messages/record.yaml. Nothing here logs anything about a case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from typing import Any, Callable, cast

from bot.cases.card import REPORT, describe_answer, raised_words
from bot.cases.card import files_before as files_of_chat
from bot.cases.plan import case_plan
from bot.cases.record.model import (
    Coded,
    Entry,
    EvidenceItem,
    Export,
    Fact,
    Format,
    Integrity,
    Person,
    PlanLine,
    RouteEntry,
    SafeguardingRecord,
    moment,
)
from bot.cases.record.wording import PlainWords, chain_words, humanize, value_text
from bot.cases.scope import SchoolScope
from bot.core.content import Content
from bot.core.models import Case, CaseEvent, Evidence, Role, Route, StaffMember, utcnow
from bot.core.report import Report
from bot.core.words import choice_summary
from bot.store import Store
from bot.store.base import ChainReport

BOT_ACTOR = "bot"
# Where an event's detail comes from a flow, its keys are that flow's steps, titled as the flow titles them.
FLOW_OF_EVENT = {"note_added": "case_note", "action_recorded": "case_action", "status_changed": "case_status",
                 "closed": "case_close"}
Worded = tuple[str, list[Fact]]  # an event's "what happened" and its details


@dataclass(frozen=True)
class CaseFile:
    """What the store holds about one case, read at one moment: everything its record is made from."""

    case: Case
    events: list[CaseEvent]
    evidence: list[Evidence]
    staff: list[StaffMember]  # the case's school's directory, for names and roles
    refusals: dict[tuple[str, str], int]  # (actor, UTC day) -> refusals that day; only the first is an event
    chain: ChainReport


class EntryWriter:
    """Words a case's people, routes and events in its school's words (`content`)."""

    def __init__(self, content: Content, staff: list[StaffMember], plan_items: dict[str, str] | None = None,
                 refusals: dict[tuple[str, str], int] | None = None):
        self.content = content  # the case's school's words
        self.say = PlainWords(content)
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
        return " and ".join(label for label in labels if label) or None

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

    def status(self, code: Any) -> Coded:
        code = str(code) if code is not None else "?"
        return Coded(code=code, label=self.say.get(f"statuses.{code}", code))

    def outcome(self, code: Any) -> Coded:
        code = str(code) if code is not None else "?"
        return Coded(code=code, label=self.say.get(f"outcomes.{code}", code))

    # --- details ------------------------------------------------------------------------

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
            return flow.step(step_id).title if flow else humanize(step_id)
        except KeyError:
            return self.say.get(f"record.detail.{step_id}", humanize(step_id))

    def flow_details(self, flow_id: str, detail: dict[str, Any], skip: frozenset[str] = frozenset()) -> list[Fact]:
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
            return "; ".join(str(self.plan_items.get(v, v)) for v in items)
        return value_text(value)

    def generic_details(self, detail: dict[str, Any], skip: frozenset[str] = frozenset()) -> list[Fact]:
        return [Fact(label=self.say.get(f"record.detail.{k}", humanize(k)), value=self.value(k, v))
                for k, v in detail.items() if k not in skip and v not in (None, "", [], {})]

    # --- events: one function per kind, in EVENT_WORDING below ----------------------------

    def entry(self, position: int, event: CaseEvent) -> Entry:
        word = EVENT_WORDING.get(event.kind, EntryWriter.other_event)
        what, details = word(self, event)
        return Entry(position=position, kind=event.kind, what=what, at=moment(event.at), by=self.person(event.actor),
                     details=details, hash=event.hash)

    def reported(self, event: CaseEvent) -> Worded:
        return self.say("record.event.reported"), self.generic_details(event.detail)

    def routed(self, event: CaseEvent) -> Worded:
        say, d = self.say, event.detail
        details = [Fact(label=say("record.detail.sent_to"), value=self.route_line(r)) for r in d.get("routes", [])]
        details += [Fact(label=say("record.detail.not_sent_to"), value=self.route_line(r))
                    for r in d.get("excluded", [])]
        if not d.get("routes"):
            details.insert(0, Fact(label=say("record.detail.sent_to"), value=say("record.nobody")))
        details += self.generic_details(d, skip=frozenset({"routes", "excluded"}))
        return say("record.event.routed"), details

    def flagged_urgent(self, event: CaseEvent) -> Worded:
        allegation = event.detail.get("because") == "allegation_involving_learner"
        what = self.say("record.event.flagged_urgent_allegation" if allegation else "record.event.flagged_urgent")
        if event.detail.get("reason") == "marked_by_handler":  # pressed on the card: the actor is who decided
            what = self.say("record.event.flagged_urgent_by_handler")
            return what, self.generic_details(event.detail, skip=frozenset({"at", "because", "reason"}))
        return what, self.generic_details(event.detail, skip=frozenset({"at", "because"}))

    def threshold_decided(self, event: CaseEvent) -> Worded:
        decision = str(event.detail.get("decision", ""))
        what = self.say("record.event.threshold_decided", value=self.say.get(f"case.threshold.{decision}", decision))
        return what, self.generic_details(event.detail, skip=frozenset({"decision"}))

    def action_recorded(self, event: CaseEvent) -> Worded:
        d = event.detail
        action = self.choice_label("case_action", "action", d.get("action"))
        what = self.say("record.event.action_recorded", value=action)
        label_step = "platform_reference" if d.get("action") == "reported_to_platform" else "detail"
        details: list[Fact] = []
        if d.get("detail"):
            details.append(Fact(label=self.step_title("case_action", label_step), value=value_text(d["detail"])))
        details += self.flow_details("case_action", d, skip=frozenset({"action", "detail"}))
        return what, details

    def status_changed(self, event: CaseEvent) -> Worded:
        d = event.detail
        what = self.say("record.event.status_changed", value=self.status(d.get("from")).label,
                        status=self.status(d.get("to")).label)
        return what, self.generic_details(d, skip=frozenset({"from", "to"}))

    def closed(self, event: CaseEvent) -> Worded:
        what = self.say("record.event.closed", outcome=self.outcome(event.detail.get("outcome")).label)
        return what, self.flow_details("case_close", event.detail, skip=frozenset({"outcome"}))

    def access_refused(self, event: CaseEvent) -> Worded:
        say, d = self.say, event.detail
        action = str(d.get("action", ""))
        details = [Fact(label=say("record.detail.tried_to"), value=say.get(f"record.tried_to.{action}", action))]
        times = self.refusals.get((event.actor, event.at.astimezone(timezone.utc).date().isoformat()), 1)
        if times > 1:
            details.append(Fact(label=say("record.detail.refused_that_day"), value=str(times)))
        details += self.generic_details(d, skip=frozenset({"action"}))
        return say("record.event.access_refused"), details

    def reporter_told(self, event: CaseEvent) -> Worded:
        message = str(event.detail.get("message", ""))
        what = self.say("record.event.reporter_told",
                        value=self.say.get(f"record.reporter_told.{message.removeprefix('case.')}", message))
        return what, self.generic_details(event.detail, skip=frozenset({"message"}))

    def record_exported(self, event: CaseEvent) -> Worded:
        fmt = str(event.detail.get("format", ""))
        what = self.say("record.event.record_exported", value=self.say.get(f"record.format.{fmt}", fmt))
        return what, self.generic_details(event.detail, skip=frozenset({"format"}))

    def plan_ticked(self, event: CaseEvent) -> Worded:
        what = self.say("record.event.plan_ticked", value=self.value("item", event.detail.get("item", "?")))
        return what, self.generic_details(event.detail, skip=frozenset({"item"}))

    def reminder(self, event: CaseEvent) -> Worded:
        about = str(event.detail.get("about", ""))
        what = self.say(f"record.event.{event.kind}",
                        value=self.say.get(f"record.reminder_about.{about}", humanize(about)))
        return what, self.generic_details(event.detail, skip=frozenset({"about", "report_event"}))

    def other_event(self, event: CaseEvent) -> Worded:
        kind, d = event.kind, event.detail
        if f"record.event.{kind}" in self.content.messages:
            details = self.flow_details(FLOW_OF_EVENT[kind], d) if kind in FLOW_OF_EVENT else self.generic_details(d)
            return self.say(f"record.event.{kind}"), details
        # a kind this module does not know yet: shown as it is, never dropped
        return self.say("record.event.other", value=humanize(kind)), self.generic_details(d)


EVENT_WORDING: dict[str, Callable[[EntryWriter, CaseEvent], Worded]] = {
    "reported": EntryWriter.reported,
    "routed": EntryWriter.routed,
    "flagged_urgent": EntryWriter.flagged_urgent,
    "threshold_decided": EntryWriter.threshold_decided,
    "action_recorded": EntryWriter.action_recorded,
    "status_changed": EntryWriter.status_changed,
    "closed": EntryWriter.closed,
    "access_refused": EntryWriter.access_refused,
    "reporter_told": EntryWriter.reporter_told,
    "record_exported": EntryWriter.record_exported,
    "plan_ticked": EntryWriter.plan_ticked,
    "reminded": EntryWriter.reminder,
    "escalated": EntryWriter.reminder,
}


# --- the record ------------------------------------------------------------------------


async def build_record(store: Store, scope: SchoolScope, case: Case, *, exported_by: str, fmt: str,
                       exported_at: datetime | None = None) -> SafeguardingRecord:
    """Everything the school's child-protection file needs about `case`, read from the store now, in the words of
    `scope`, the case's own school (never the deployment's name, nor the school of whoever asks)."""
    events = await store.case_events(case.id)
    evidence = await store.case_evidence(case.id)
    staff = await store.list_staff(case.school_id)
    refusals = await store.refusal_counts(case.id)
    chain = await store.verify_case_chain(case.id)
    file = CaseFile(case=case, events=events, evidence=evidence, staff=staff, refusals=refusals, chain=chain)
    return assemble_record(scope, file, exported_by=exported_by, fmt=fmt, exported_at=exported_at or utcnow(),
                           generator=generator())


def assemble_record(scope: SchoolScope, file: CaseFile, *, exported_by: str, fmt: str, exported_at: datetime,
                    generator: str) -> SafeguardingRecord:
    """The record of `file`'s case in the words of its school (`scope`): a pure function of its arguments."""
    case, content = file.case, scope.words
    say = PlainWords(content)
    plan_entries = case_plan(content, case, file.events, file.evidence)
    w = EntryWriter(content, file.staff, {e.id: f"{e.step}: {e.text}" for e in plan_entries}, file.refusals)
    categories_step = content.flows[REPORT].step("categories")
    report = Report.of(case.answers)
    guardrail, safety = report.guardrail or {}, report.safety or {}
    reason = guardrail.get("reason") or ("danger:" + safety["danger"]["at"] if "danger" in safety else None)
    chronology = [w.entry(i, e) for i, e in enumerate(file.events, 1)]
    result, problems = chain_words(content, file.chain)
    chain = file.chain
    return SafeguardingRecord(
        title=say("record.title", reference=case.reference),
        confidential=say("record.confidential"),
        school=scope.school.name,
        reference=case.reference,
        status=w.status(case.status.value),
        urgent=case.urgent,
        urgency=say("record.urgency.urgent" if case.urgent else "record.urgency.normal"),
        urgent_reason=raised_words(scope, str(reason)) if reason else None,
        categories=[Coded(code=c, label=choice_summary(content, categories_step, c)) for c in case.categories],
        reported_by=w.person(case.reporter),
        reported_at=moment(case.created_at),
        summary=report_summary(scope, case),
        routed_to=[w.route(r) for r in case.routed_to],
        excluded=[w.route(r) for r in case.excluded],
        actions=[e for e in chronology if e.kind == "action_recorded"],
        outcome=w.outcome(case.outcome) if case.outcome else None,
        closed=next((e for e in reversed(chronology) if e.kind == "closed"), None),
        plan=[PlanLine(id=e.id, step=e.step, item=e.text, required=e.required, done=e.done,
                       by=w.person(e.by) if e.by else None, at=moment(e.at) if e.at else None)
              for e in plan_entries],
        chronology=chronology,
        evidence=[
            EvidenceItem(name=e.name, ref=e.ref, content_type=e.content_type, size=e.size, sha256=e.sha256,
                         added_by=w.person(e.added_by), added_at=moment(e.added_at))
            for e in file.evidence
        ],
        content_version=case.content_version,
        content_version_current=content.version,
        integrity=Integrity(intact=chain.intact, events=chain.events, hashed=chain.hashed, unsealed=chain.unsealed,
                            head=chain.head, result=result, problems=problems),
        exported=Export(by=w.person(exported_by), at=moment(exported_at), format=cast(Format, fmt),
                        generator=generator),
    )


def report_summary(scope: SchoolScope, case: Case) -> list[Fact]:
    """The report's answers in the order they were asked, labelled as the report asked them."""
    steps = {s.id: s for s in scope.words.flows[REPORT].steps}
    summary = []
    for step_id, value in case.answers.items():
        step = steps.get(step_id)
        if step_id in ("guardrail", "safety") or (step and step.type in ("summary", "info")):
            continue
        if step is None:  # a question the report no longer asks, since the content changed: kept all the same
            summary.append(Fact(label=humanize(step_id), value=value_text(value)))
            continue
        try:
            shown = describe_answer(scope, case, step_id)
        except (TypeError, ValueError, KeyError, AttributeError):  # an answer from older content
            shown = value_text(value)
        summary.append(Fact(label=step.title, value=shown))
    files_before = files_of_chat(scope, Report.of(case.answers))
    if files_before:
        summary.append(Fact(label=PlainWords(scope.words)("case.field.files_before"), value=files_before))
    return summary


def generator() -> str:
    """What made the record: this program and its version."""
    try:
        return f"online-safety-bot {metadata.version('online-safety-bot')}"
    except metadata.PackageNotFoundError:
        return "online-safety-bot"
