"""The DSL's day: a morning digest for each case handler with open cases, at the start of each school day.

The scheduler calls `send_digests` on every tick. While the school is open (school hours on a school day, by
the school's calendar), each person the directory lists in a role that handles cases, who has open cases routed
to them and has not turned the digest off, is sent one digest for the day: the triage view's one-sentence
summary, then one short line for each case, most urgent first (urgent, then allegations, then the oldest): what
it is, where, how long ago, and what it needs next. Each digest is claimed in the store by person and day, so two
processes never send one twice; a server that was down at opening time sends it when it is back, the same day.

Anyone can turn it off (a button on the digest, or `staff digest USER off`) and on again. The wording is in
content/messages/digest.yaml. Nothing here logs anything about a case.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.cases.card import REPORT, describe_answer, lado_deadline, local_time
from bot.cases.plan import case_plan, open_required
from bot.cases.scope import SchoolScope
from bot.cases.triage import age_in_words, main_category, triage_order, triage_summary
from bot.core.markup import Markup
from bot.core.models import Case, CaseStatus, Choice, Notification, Reply, StaffMember
from bot.core.report import Report
from bot.core.words import choice_summary
from bot.store import Store

log = logging.getLogger(__name__)
__all__ = ["digest_counts", "digest_reply", "send_digests", "triage_order"]

MAX_CASE_BUTTONS = 5  # the rest are in My cases


def digest_counts(cases: list[Case]) -> dict[str, int]:
    """The figures the digest's summary is made of."""
    return {
        "open": len(cases),
        "urgent": sum(c.urgent for c in cases),
        "new": sum(c.status == CaseStatus.NEW for c in cases),
        "allegations": sum("allegation" in c.categories for c in cases),
    }


async def what_is_due(store: Store, scope: SchoolScope, case: Case, now: datetime) -> str:
    """What the case needs next, in a few words: an allegation's LADO referral while it is new or acknowledged
    (by the end of the next working day after the report); picking up (now, if it is urgent or its reminders have
    started); else the first required step of its plan still open."""
    if "allegation" in case.categories and case.status in (CaseStatus.NEW, CaseStatus.ACKNOWLEDGED):
        picked = "lado" if case.status == CaseStatus.ACKNOWLEDGED else "pick_up_lado"
        calendar = scope.calendar
        today = calendar.next_school_day(case.created_at.astimezone(calendar.tz).date()) == \
            now.astimezone(calendar.tz).date()
        return scope.text(f"digest.due.{picked}", date=Markup(
            scope.text("digest.due.today") if today else lado_deadline(scope, case)))
    if case.status == CaseStatus.NEW:
        if case.urgent:
            return scope.text("digest.due.pick_up_now")
        due = scope.timetable.remind_at(case, scope.calendar)  # not urgent: its clock is the report's
        if due <= now:
            return scope.text("digest.due.pick_up_overdue")
        local = due.astimezone(scope.calendar.tz)
        if local.date() == now.astimezone(scope.calendar.tz).date():
            return scope.text("digest.due.pick_up_today", date=Markup(f"{local:%-H:%M}"))
        return scope.text("digest.due.pick_up_by", date=Markup(local_time(scope, due)))
    plan = case_plan(scope.words, case, await store.case_events(case.id), await store.case_evidence(case.id))
    still_open = open_required(plan)
    if still_open:
        return scope.text("digest.due.plan_item", item=still_open[0].text, count=len(still_open))
    return scope.text("digest.due.nothing_required")


async def case_line(store: Store, scope: SchoolScope, case: Case, now: datetime) -> str:
    """One case in a line: its reference, what and where, how long ago, and what it needs next."""
    what = main_category(scope, case)
    step = scope.words.flows[REPORT].step("categories")
    where = describe_answer(scope, case, "platforms") if Report.of(case.answers).platforms else ""
    return scope.text("digest.case_urgent" if case.urgent else "digest.case", reference=case.reference,
                      value=choice_summary(scope.words, step, what), platform=where or scope.text("triage.no_platform"),
                      when=age_in_words(scope, case.created_at, now),
                      item=Markup(await what_is_due(store, scope, case, now)))


async def digest_reply(store: Store, scope: SchoolScope, cases: list[Case], now: datetime) -> Reply:
    """One handler's digest of their open cases, most urgent first, in the school's words: the triage view's
    summary, then a line for each case."""
    ordered = sorted(cases, key=triage_order)
    lines = "\n".join([await case_line(store, scope, c, now) for c in ordered])
    text = scope.text("digest.morning", summary=Markup(triage_summary(scope, ordered)), cases=Markup(lines))
    choices = [Choice(id=f"case:{c.reference}:show", label=scope.text("digest.open_case", reference=c.reference))
               for c in ordered[:MAX_CASE_BUTTONS]]
    choices += [Choice(id="menu:my_cases", label=scope.text("menu.my_cases")),
                Choice(id="menu:digest_off", label=scope.text("digest.turn_off"))]
    return Reply(key="digest.morning", text=text, choices=choices, urgent=any(c.urgent for c in ordered))


async def send_digests(store: Store, scope: SchoolScope, staff: list[StaffMember], now: datetime) -> int:
    """Queue today's digest for each handler still to have it, while the school is open. Returns how many this
    call claimed."""
    calendar, school_id = scope.calendar, scope.id
    if not calendar.is_open(now):
        return 0
    day = now.astimezone(calendar.tz).date().isoformat()
    done = await store.digests_sent(school_id, day) | await store.morning_digest_off(school_id)
    sent = 0
    for member in staff:
        if not member.handles_cases or member.user in done:
            continue
        try:
            cases = await store.list_cases(school_id, routed_to=member.user, open_only=True)
            if not cases:
                continue
            note = Notification(school_id=school_id, recipient=member.user, created_at=now,
                                replies=[await digest_reply(store, scope, cases, now)])
            if await store.claim_digest(school_id, member.user, day, now, [note]):
                sent += 1
        except Exception as exc:  # one person's digest going wrong must not hold up the others'
            log.error("scheduler: morning digest failed: %s", type(exc).__name__)
    return sent
