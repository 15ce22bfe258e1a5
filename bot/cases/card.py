"""The case card and who may see it: pure functions of a case, its reader, people's names and the school's scope.

A card is rendered wherever it is needed (a turn, a store callback on a worker thread, the scheduler, the
record) from the same arguments, so it reads the same everywhere: nothing here looks up the school or its words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from bot.cases.actions import card_buttons
from bot.cases.routing import named_text
from bot.cases.scope import SchoolScope
from bot.cases.timetable import urgent_since
from bot.core.content import Step
from bot.core.markup import Markup, escape, to_plain
from bot.core.models import Case, CaseCard, CaseEvent, CaseStatus, Choice, Reply, Role, Route, StaffMember
from bot.core.report import Report
from bot.core.text import contains_phrase
from bot.core.words import choice_summary, describe
from bot.store import Store

REPORT = "report_concern"  # the flow a case's answers come from
THRESHOLD_DECISIONS = ("meets", "not_sure", "low_level", "harassment")


# --- who may see a case ------------------------------------------------------------------


async def names_of_people(store: Store, school_id: str, staff: list[StaffMember] | None = None) -> dict[str, str]:
    """user -> how to name them: the staff directory's name, else the name their platform gave them. `staff`: the
    directory as the caller has just read it (not read again)."""
    names = await store.display_names(school_id)
    names.update({m.user: m.name for m in (staff if staff is not None else await store.list_staff(school_id))})
    return names


def may_handle(case: Case, member: StaffMember | None) -> bool:
    """True while `member` (their entry in today's staff directory, or None) holds a role that handles cases and
    the case is routed to them."""
    return member is not None and member.handles_cases and case.is_routed_to(member.user)


def current_handlers(staff: list[StaffMember]) -> set[str]:
    return {m.user for m in staff if m.handles_cases}


def is_handler(member: StaffMember | None) -> bool:
    """True while `member` (someone's entry in today's staff directory, or None) holds a role that handles cases."""
    return member is not None and member.handles_cases


def subject_pending(answers: dict[str, Any]) -> bool:
    """An allegation that has not yet said whom it is about: neither the reporter nor the head was picked, and
    the names question is still to come (once it is answered or skipped, what the report says is all there is)."""
    return Report.of(answers).subject_pending


# --- people and places in words ------------------------------------------------------------


def name_of(scope: SchoolScope, names: dict[str, str], user: str) -> str:
    """A person as people read them: a name, never a platform id."""
    return names.get(user) or scope.text("case.unnamed_person")


def role_names(scope: SchoolScope, roles: list[Role]) -> str:
    return " and ".join(scope.text(f"roles.{r.value}") for r in roles)


def handlers_in_words(scope: SchoolScope, staff: list[StaffMember]) -> str:
    """The DSLs, then the deputies, each with their roles."""
    dsls = [m for m in staff if m.has(Role.DSL)]
    people = dsls + [m for m in staff if m.has(Role.DEPUTY_DSL) and not m.has(Role.DSL)]
    return ", ".join(f"{m.name} ({role_names(scope, m.roles)})" for m in people)


def front_door(scope: SchoolScope) -> Markup:
    """The school's children's social care front door, with its number and link where the school set them."""
    door = scope.words.facts.helplines.get("front_door")
    if door is None:
        return Markup(scope.text("common.front_door_unknown"))
    reach = ", ".join(str(v) for v in (door.phone, door.url) if v)
    return Markup(escape(f"{door.name} ({reach})" if reach else door.name))


def chat_platform_name(scope: SchoolScope, platform: str) -> str:
    """The chat a file was shared into, by name ("Slack", "Microsoft Teams")."""
    key = f"report.chat_platform.{platform}"
    return scope.text(key if key in scope.words.messages else "report.chat_platform.other")


def allegation_harm(scope: SchoolScope, answers: dict[str, Any]) -> dict[str, str] | None:
    """Why an allegation is urgent: it is of a sexual or physical nature and a learner is involved (ticked
    under who appears, or written); None if not. Only the matched words are kept, never the text."""
    report = Report.of(answers)
    if "allegation" not in report.categories:
        return None
    phrases = scope.words.phrases
    text = "\n".join(named_text(answers))
    harm = contains_phrase(text, phrases.allegation_harm)
    learner = "learners" in report.who_appears or contains_phrase(text, phrases.learners)
    if not (harm and learner):
        return None
    return {"because": "allegation_involving_learner", "phrase": harm}


# --- the card ------------------------------------------------------------------------------


def report_step(scope: SchoolScope, step_id: str) -> Step:
    return scope.words.flows[REPORT].step(step_id)


def case_card(scope: SchoolScope, case: Case, viewer: str, names: dict[str, str],
              events: Sequence[CaseEvent] = ()) -> CaseCard:
    """The card for `viewer`: its summary (what, where, since when, how urgent, what is due next and by when),
    this reader's part, then the fields and the guidance. `events`, the case's events so far, say when it became
    urgent and whether the reporter has reported it to the platform themselves."""
    report = Report.of(case.answers)
    # when it was reported is in the summary, in the school's time
    fields: list[tuple[str, str]] = [(scope.text("case.field.reported_by"), name_of(scope, names, case.reporter))]
    for step in scope.words.flows[REPORT].steps:
        if step.id in case.answers and step.type not in ("summary", "info"):
            fields.append((step.title, describe_answer(scope, case, step.id, report)))
    before = files_before(scope, report)
    if before:
        fields.append((scope.text("case.field.files_before"), before))
    told = next((e for e in events if e.kind == "reporter_reported_to_platform"), None)
    if told:  # the reporter has reported it to the platform themselves
        fields.append((scope.text("case.field.reporter_reported"),
                       scope.text("case.reporter_reported_on", date=local_time(scope, told.at))))
    route = next((r for r in case.routed_to if r.user == viewer), None)
    if route:
        fields.append((scope.text("case.field.why_you"), scope.text(f"routing.{route.reason}")))
    routed = ", ".join(name_of(scope, names, r.user) for r in case.routed_to)
    fields.append((scope.text("case.field.routed_to"), routed))
    if case.outcome:
        fields.append((scope.text("case.field.outcome"), scope.text(f"outcomes.{case.outcome}")))
    return CaseCard(
        reference=case.reference, status=scope.text(f"statuses.{case.status.value}"), urgent=case.urgent,
        title=scope.text("case.title_urgent" if case.urgent else "case.title", reference=case.reference),
        summary=card_summary(scope, case, report, events), fields=fields, guidance=guidance(scope, case, report),
        mentions={scope.text("case.field.reported_by"): case.reporter}, notice=reader_notice(scope, case, route),
    )


# --- the summary at the top of the card ------------------------------------------------------


def local_time(scope: SchoolScope, at: datetime) -> str:
    """A moment as the school reads it: "Friday 20 November, 21:30", "Monday 23 November, 8:00"."""
    return at.astimezone(scope.calendar.tz).strftime("%A %-d %B, %-H:%M")


def card_summary(scope: SchoolScope, case: Case, report: Report, events: Sequence[CaseEvent]) -> list[str]:
    """Two lines: what it is, where and since when, and how urgent; then what is due next and by when."""
    step = report_step(scope, "categories")
    what = ", ".join(choice_summary(scope.words, step, c) for c in case.categories)
    where = ", ".join(choice_summary(scope.words, report_step(scope, "platforms"), p) for p in report.platforms)
    first = scope.text("case.summary.what_where" if where else "case.summary.what", value=what, platform=where,
                       date=Markup(local_time(scope, case.created_at)), status=Markup(urgency(scope, case, report)))
    return [first, due_next(scope, case, events)]


def urgency(scope: SchoolScope, case: Case, report: Report) -> str:
    """How urgent, and why, in a few words."""
    if not case.urgent:
        return scope.text("case.summary.not_urgent")
    if case.possible_images:
        why = "images"
    elif "danger" in (report.safety or {}):
        why = "danger"
    elif case.answers.get("allegation_harm"):
        why = "allegation_harm"
    else:
        why = "marked_by_handler"
    return scope.text("case.summary.urgent", value=Markup(scope.text(f"case.summary.urgent_because.{why}")))


def due_next(scope: SchoolScope, case: Case, events: Sequence[CaseEvent]) -> str:
    """What the case needs next, and by when where there is a deadline: picked up by the first reminder (the
    timetable the scheduler follows), an allegation's LADO referral within one working day, else what is left."""
    if case.status == CaseStatus.CLOSED:
        outcome = scope.text(f"outcomes.{case.outcome}") if case.outcome else scope.text("statuses.closed")
        return scope.text("case.summary.closed", value=Markup(outcome))
    if case.status == CaseStatus.NEW:
        due = scope.timetable.remind_at(case, scope.calendar, urgent_since(case, list(events)))
        return scope.text("case.summary.next.pick_up_now" if case.urgent else "case.summary.next.pick_up",
                          date=Markup(local_time(scope, due)))
    if "allegation" in case.categories:
        return scope.text("case.summary.next.lado", date=lado_deadline(scope, case))
    return scope.text("case.summary.next.record")


def guidance(scope: SchoolScope, case: Case, report: Report) -> list[str]:
    """What the reader must know first: images, sextortion, danger, the police, allegations; always the last line."""
    lines = []
    safety = report.safety or {}
    if case.possible_images:
        lines.append(scope.text("case.guidance.guardrail"))
    lines += [scope.text(f"case.guidance.{name}") for name in ("sextortion", "danger", "police") if name in safety]
    if "allegation" in case.categories:  # which statutory guidance applies (each nation's own, where known)
        lines.append(scope.text("case.guidance.allegation"))
    lines.append(scope.text("case.guidance.always"))
    return lines


def describe_answer(scope: SchoolScope, case: Case, step_id: str, report: Report | None = None) -> str:
    """An answer as the card and the record show it; the images answer says if the guardrail rose later.
    `report`, the case's answers read once, where the caller has it."""
    shown = describe(scope.words, report_step(scope, step_id), case.answers[step_id])
    if step_id == "first_seen" and case.answers[step_id]:
        rough = (report or Report.of(case.answers)).first_seen_approximate
        return scope.text("common.around", value=shown) if rough else shown
    if step_id != "images":
        return shown
    report = report or Report.of(case.answers)
    guardrail = report.guardrail or {}
    # "answered_yes" now, "answered yes" on cases opened before the safety check: both from the question itself
    if guardrail.get("reason") and not guardrail["reason"].startswith("answered"):
        return to_plain(scope.text("case.images_raised_later", value=shown,
                                   reason=raised_words(scope, guardrail["reason"])))
    return shown


def raised_words(scope: SchoolScope, reason: str) -> str:
    """Where a concern was raised ("question:description"), in words."""
    kind, _, where = reason.replace("answered ", "answered_").partition(":")
    flows = scope.words.flows
    if kind == "danger":
        return to_plain(scope.text("case.raised.danger", value=raised_words(scope, where)))
    if kind == "question" and where in {s.id for s in flows[REPORT].steps}:
        return to_plain(scope.text("case.raised.question", value=report_step(scope, where).title))
    if kind == "flow" and where in flows:
        return to_plain(scope.text("case.raised.flow", value=flows[where].title))
    key = f"case.raised.{kind}"
    return to_plain(scope.text(key)) if key in scope.words.messages else kind


def files_before(scope: SchoolScope, report: Report) -> str | None:
    """Files shared into the chat before the guardrail rose: not on the case, but copies may be there."""
    before = (report.guardrail or {}).get("files_before")
    if not before:
        return None
    return to_plain(scope.text("case.files_before", count=before["count"],
                               platform=chat_platform_name(scope, before["platform"])))


def reader_notice(scope: SchoolScope, case: Case, route: Route | None) -> list[str]:
    """An allegation's guidance for this reader's part: the case manager's (the chair's when it is about the
    head), with the LADO's deadline; everyone else's (the child's welfare); and what no one does yet."""
    if "allegation" not in case.categories:
        return [scope.text("case.reader.low_level")] if "low_level_concern" in case.categories else []
    reason = route.reason if route else None
    if reason == "allegation_case_manager":
        first = scope.text("case.reader.case_manager", date=lado_deadline(scope, case))
    elif reason == "allegation_about_headteacher":
        first = scope.text("case.reader.chair", date=lado_deadline(scope, case))
    else:
        first = scope.text("case.reader.safeguarding", value=case_manager_label(scope, case))
    return [first, scope.text("case.reader.everyone")]


def case_manager_label(scope: SchoolScope, case: Case) -> str:
    about_head = any(r.reason == "allegation_about_headteacher" for r in case.routed_to + case.excluded)
    return scope.text("report.route_role.chair_of_governors" if about_head else "report.route_role.headteacher")


def lado_deadline(scope: SchoolScope, case: Case) -> str:
    """The next working day after the report, from the school's calendar: the LADO's one working day."""
    calendar = scope.calendar
    day = calendar.next_school_day(case.created_at.astimezone(calendar.tz).date())
    return day.strftime("%A %-d %B %Y")


def case_actions(scope: SchoolScope, case: Case) -> list[Choice]:
    """The card's buttons for the case as it is now (bot/cases/actions.py)."""
    return [Choice(id=f"case:{case.reference}:{a.id}", label=scope.text(f"case.action.{a.id}"))
            for a in card_buttons(case)]


def card_reply(scope: SchoolScope, case: Case, viewer: str, names: dict[str, str], key: str = "case.card",
               events: Sequence[CaseEvent] = ()) -> Reply:
    card = case_card(scope, case, viewer, names, events)
    return Reply(key=key, text=scope.text(key, reference=case.reference, status=card.status), card=card,
                 choices=case_actions(scope, case), urgent=case.urgent)
