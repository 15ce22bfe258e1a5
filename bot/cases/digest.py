"""The DSL's day: a morning digest for each case handler with open cases, at the start of each school day.

The scheduler calls `send_digests` on every tick. While the school is open (school hours on a school day, by
the school's calendar), each person the directory lists in a role that handles cases, who has open cases routed
to them and has not turned the digest off, is sent one digest for the day: how many open cases, how many are
urgent, waiting to be picked up or allegations about staff, and for each case (urgent first, then allegations,
then the oldest) what it is and what is due next. Each digest is claimed in the store by person and day, so two
processes never send one twice; a server that was down at opening time sends it when it is back, the same day.

Anyone can turn it off (a button on the digest, or `staff digest USER off`) and on again. The wording is in
content/messages/digest.yaml. Nothing here logs anything about a case.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.cases.card import REPORT, describe_answer
from bot.cases.plan import case_plan, open_required
from bot.cases.scope import SchoolScope
from bot.core.markup import Markup
from bot.core.models import Case, CaseStatus, Choice, Notification, Reply, StaffMember
from bot.core.report import Report
from bot.core.words import choice_summary
from bot.store import Store

log = logging.getLogger(__name__)

MAX_CASE_BUTTONS = 5  # the rest are in My cases


def triage_order(case: Case) -> tuple[bool, bool, datetime]:
    """Urgent first, then allegations about staff, then the oldest."""
    return (not case.urgent, "allegation" not in case.categories, case.created_at)


def digest_counts(cases: list[Case]) -> dict[str, int]:
    """The figures at the top of the digest."""
    return {
        "open": len(cases),
        "urgent": sum(c.urgent for c in cases),
        "new": sum(c.status == CaseStatus.NEW for c in cases),
        "allegations": sum("allegation" in c.categories for c in cases),
    }


async def what_is_due(store: Store, scope: SchoolScope, case: Case) -> str:
    """What the case needs next: picking up, the first required step of its plan still open, or nothing."""
    if case.status == CaseStatus.NEW:
        return scope.text("digest.due.acknowledge")
    plan = case_plan(scope.words, case, await store.case_events(case.id), await store.case_evidence(case.id))
    still_open = open_required(plan)
    if still_open:
        return scope.text("digest.due.plan_item", item=still_open[0].text, count=len(still_open))
    return scope.text("digest.due.nothing_required")


async def case_line(store: Store, scope: SchoolScope, case: Case) -> str:
    step = scope.words.flows[REPORT].step("categories")
    what = ", ".join(choice_summary(scope.words, step, c) for c in case.categories)
    where = describe_answer(scope, case, "platforms") if Report.of(case.answers).platforms else ""
    key = "digest.case_urgent" if case.urgent else "digest.case"
    return scope.text(key, reference=case.reference, value=what, platform=where or "-",
                      date=case.created_at.astimezone(scope.calendar.tz).strftime("%-d %B"),
                      status=scope.text(f"statuses.{case.status.value}"),
                      item=Markup(await what_is_due(store, scope, case)))


async def digest_reply(store: Store, scope: SchoolScope, cases: list[Case]) -> Reply:
    """One handler's digest of their open cases, in the school's words."""
    ordered = sorted(cases, key=triage_order)
    counts = digest_counts(ordered)
    lines = "\n".join([await case_line(store, scope, c) for c in ordered])
    text = scope.text("digest.morning", count=counts["open"], urgency=counts["urgent"], left=counts["new"],
                            total=counts["allegations"], cases=Markup(lines))
    choices = [Choice(id=f"case:{c.reference}:show", label=scope.text("digest.open_case", reference=c.reference))
               for c in ordered[:MAX_CASE_BUTTONS]]
    choices += [Choice(id="menu:my_cases", label=scope.text("menu.my_cases")),
                Choice(id="menu:digest_off", label=scope.text("digest.turn_off"))]
    return Reply(key="digest.morning", text=text, choices=choices, urgent=counts["urgent"] > 0)


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
                                replies=[await digest_reply(store, scope, cases)])
            if await store.claim_digest(school_id, member.user, day, now, [note]):
                sent += 1
        except Exception as exc:  # one person's digest going wrong must not hold up the others'
            log.error("scheduler: morning digest failed: %s", type(exc).__name__)
    return sent
