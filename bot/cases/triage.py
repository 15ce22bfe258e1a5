"""The triage view: a case handler's open cases as one summary and a sorted list, for the chat they open and the
home screen. Pure functions of the school's scope, the cases and the time, so every channel shows the same.

The list is in triage order (`triage_order`, the morning digest's too: urgent first, then allegations about
staff, then the oldest); each line says what the case is, where, how long ago it came in and whether anyone
has picked it up. Only references, categories, platforms and ages: never who reported, names or what anyone wrote.

A case on the list is opened from it (its button), so the cards waiting for the reader are not shown after it,
except for the few that need the reader now (`cards_in_full`).
"""

from __future__ import annotations

from datetime import datetime

from bot.cases.card import REPORT, describe_answer
from bot.cases.routing import CASE_MANAGER_REASONS
from bot.cases.scope import SchoolScope
from bot.core.markup import Markup
from bot.core.models import Case, CaseStatus, Choice, Reply
from bot.core.words import choice_summary

BUTTON_LENGTH = 75  # Slack's longest button text
SHOWN_IN_FULL = 2  # at most this many waiting cards after the list: the rest are its lines


def triage_order(case: Case) -> tuple[bool, bool, datetime]:
    """Urgent first, then allegations about staff, then the oldest."""
    return (not case.urgent, "allegation" not in case.categories, case.created_at)


def counted(scope: SchoolScope, key: str, count: int) -> str:
    """`key.one` for one, else `key.other`, with the count filled in."""
    return scope.text(f"{key}.{'one' if count == 1 else 'other'}", count=count)


def needs_you_today(case: Case) -> bool:
    """Urgent, or an allegation about staff (the LADO is told within one working day)."""
    return case.urgent or "allegation" in case.categories


def needs_reader_now(case: Case, reader: str) -> bool:
    """Urgent and not picked up yet, or an allegation about staff that `reader` manages (the head, or the chair
    for one about the head)."""
    manages = any(r.user == reader and r.reason in CASE_MANAGER_REASONS for r in case.routed_to)
    return (case.urgent and case.status == CaseStatus.NEW) or ("allegation" in case.categories and manages)


def cards_in_full(cases: list[Case], reader: str, waiting: set[str]) -> list[str]:
    """Of the listed `cases` whose card waits for `reader` (references in `waiting`), those still shown in full
    after the list: the ones that need the reader now, most urgent first, at most `SHOWN_IN_FULL`; a card that
    waits alone is shown too while no one has picked its case up (there is nothing else to pick)."""
    alone = len(waiting) == 1
    pressing = [c for c in sorted(cases, key=triage_order) if c.reference in waiting and (
        needs_reader_now(c, reader) or (alone and c.status == CaseStatus.NEW))]
    return [c.reference for c in pressing[:SHOWN_IN_FULL]]


def main_category(scope: SchoolScope, case: Case) -> str:
    """The case's first category in the report's own order."""
    order = [c.id for c in scope.words.flows[REPORT].step("categories").choices]
    return min(case.categories, key=lambda c: order.index(c) if c in order else len(order))


def triage_summary(scope: SchoolScope, cases: list[Case]) -> str:
    """One sentence: "3 new: 1 urgent, 1 allegation about staff, 1 fake account of the school; 2 need you today"."""
    new = sum(c.status == CaseStatus.NEW for c in cases)
    if new == len(cases):
        head = counted(scope, "triage.head_new", new)
    else:
        which = "one" if len(cases) == 1 else "none_new" if new == 0 else "other"
        head = scope.text(f"triage.head_open.{which}", count=len(cases), left=new)
    parts = [counted(scope, "triage.urgent", n) for n in [sum(c.urgent for c in cases)] if n]
    kinds: dict[str, int] = {}
    for case in sorted(cases, key=triage_order):
        kind = main_category(scope, case)
        kinds[kind] = kinds.get(kind, 0) + 1
    parts += [counted(scope, f"triage.kind.{kind}", n) for kind, n in kinds.items()]
    today = sum(needs_you_today(c) for c in cases)
    when = counted(scope, "triage.today", today) if today else scope.text("triage.none_today")
    return scope.text("triage.summary", value=head, categories=", ".join(parts), when=when)


def age_in_words(scope: SchoolScope, since: datetime, now: datetime) -> str:
    minutes = max(int((now - since).total_seconds() // 60), 0)
    if minutes < 60:
        return counted(scope, "triage.age.minutes", max(minutes, 1))
    if minutes < 48 * 60:
        return counted(scope, "triage.age.hours", minutes // 60)
    return counted(scope, "triage.age.days", minutes // (24 * 60))


def triage_line(scope: SchoolScope, case: Case, now: datetime) -> str:
    step = scope.words.flows[REPORT].step("categories")
    what = ", ".join(choice_summary(scope.words, step, c) for c in case.categories)
    where = describe_answer(scope, case, "platforms") if case.answers.get("platforms") else ""
    picked = "triage.not_picked_up" if case.status == CaseStatus.NEW else "triage.picked_up"
    return scope.text("triage.line_urgent" if case.urgent else "triage.line", reference=case.reference, value=what,
                      platform=where or scope.text("triage.no_platform"),
                      when=age_in_words(scope, case.created_at, now), status=scope.text(picked))


def triage_reply(scope: SchoolScope, cases: list[Case], now: datetime, key: str = "case.list_handling") -> Reply:
    """The summary, the sorted list and a button to open each case."""
    ordered = sorted(cases, key=triage_order)
    lines = "\n".join(triage_line(scope, c, now) for c in ordered)
    text = scope.text(key, summary=Markup(triage_summary(scope, ordered)), cases=Markup(lines), count=len(ordered))
    choices = [Choice(id=f"case:{c.reference}:show", label=scope.text(
        "triage.button_urgent" if c.urgent else "triage.button", reference=c.reference)[:BUTTON_LENGTH])
        for c in ordered]
    return Reply(key=key, text=text, choices=choices, urgent=any(c.urgent for c in ordered))
