"""Reminders and escalation: what is due, worked out from the store on every tick, each sent exactly once.

- A case still **new** (no one has acknowledged it or acted on it) is reminded to its routed DSL and
  deputies, then escalated to the deputies and the headteacher (the chair of governors instead when the
  allegation is about the head, or when no head can receive it), by the timetable in bot/cases/timetable.py:
  urgent cases by the wall clock from when they became urgent, at any hour (defaults: 15 and 30 minutes);
  others in school hours on school days from the school calendar (defaults: 4 school hours and 1 school day).
  Whoever is escalated to is added to the case's route, so
  they can open and act on it; never anyone the case's routing excluded, and never the reporter.
- A report to a platform (`action_recorded`, action `reported_to_platform`) with no later
  `platform_responded` on an open case: after 48 hours its handlers are asked whether the platform has
  replied and offered POSH; after 7 days, Report Harmful Content. Once for each report.
- Stored reminders (kind `privacy_check`) are delivered to their recipient when due.

Nothing is kept in memory between ticks: everything due is derived from the store, so a restart loses
nothing. Each item is claimed in one write transaction together with its notifications and a case event
(`reminded` or `escalated`, actor "bot", with who was told), so two server processes sharing the database
never send one twice, and a case acknowledged a moment before is not reminded after all.

Logs say how many were sent, never anything about a case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from bot.cases.card import card_reply, front_door
from bot.cases.routing import CASE_MANAGER_REASONS, STAFF_CONCERNS, route_of_case
from bot.cases.scope import SchoolScope
from bot.cases.timetable import urgent_since
from bot.core.config import Settings
from bot.core.models import Case, CaseEvent, CaseStatus, Choice, Notification, Reminder, Reply, Role, Route, StaffMember

ESCALATED_REASON = "escalated_not_acknowledged"
REMINDER_ROLES = {Role.DSL, Role.DEPUTY_DSL}

Prepared = tuple[list[CaseEvent], list[Notification], list[Route]]


@dataclass
class Due:
    """One thing the scheduler may send: claimed under `key`, re-checked by `prepare` inside the claim."""

    key: str
    kind: str
    case: Case
    events: list[CaseEvent]
    prepare: Callable[[Case, list[CaseEvent]], Prepared | None]


class Reminders:
    """What is due for one school's cases, each with the `prepare` its claim runs: a function of its arguments and
    of `scope`, so it reads the same on whichever thread the store runs it."""

    def __init__(self, settings: Settings, scope: SchoolScope):
        self.settings = settings
        self.scope = scope
        self.calendar = scope.calendar
        self.timetable = scope.timetable  # the one the card shows: the school's, from the settings

    # --- what is due for one case ----------------------------------------------------------

    def case_items(
        self, case: Case, events: list[CaseEvent], staff: list[StaffMember], names: dict[str, str], now: datetime
    ) -> list[Due]:
        items: list[Due] = []
        if case.status == CaseStatus.NEW:
            since = urgent_since(case, events)  # a case marked urgent later: its urgent clock starts then
            remind_at = self.timetable.remind_at(case, self.calendar, since)
            escalate_at = self.timetable.escalate_at(case, self.calendar, since)
            if remind_at <= now < escalate_at:  # once escalation is due, it supersedes the reminder
                items.append(self._unacknowledged(case, events, staff, names, now, escalate=False))
            if escalate_at <= now:
                items.append(self._unacknowledged(case, events, staff, names, now, escalate=True))
        if STAFF_CONCERNS & set(case.categories):
            items += [self._case_manager_added(case, events, route, staff, names, now)
                      for route in missing_case_managers(case, staff)]
        follow_up = timedelta(hours=self.settings.platform_follow_up_hours)
        rhc = timedelta(days=self.settings.report_harmful_content_days)
        for index, event in enumerate(events):
            if not _is_action(event, "reported_to_platform") or _answered_after(events, index):
                continue
            if event.at + follow_up <= now < event.at + rhc:
                items.append(self._platform(case, events, index, staff, names, now, "platform_no_reply"))
            if event.at + rhc <= now:
                items.append(self._platform(case, events, index, staff, names, now, "report_harmful_content"))
        return items

    def _unacknowledged(
        self, case: Case, events: list[CaseEvent], staff: list[StaffMember], names: dict[str, str], now: datetime,
        escalate: bool,
    ) -> Due:
        kind = "escalation" if escalate else "reminder"
        urgent = "_urgent" if case.urgent else ""

        def prepare(fresh: Case, history: list[CaseEvent]) -> Prepared | None:
            if fresh.status != CaseStatus.NEW:
                return None  # acknowledged (or acted on) since this tick looked
            if escalate:
                routes = escalation_routes(fresh, staff)
                recipients = [r.user for r in routes]
                key = f"reminders.escalated{urgent}"
            else:
                routes = []
                recipients = reminder_recipients(fresh, staff)
                key = f"reminders.not_acknowledged{urgent}"
            if not recipients:
                return None  # no one to tell yet: try again when the staff directory has someone
            added = [r for r in routes if not fresh.is_routed_to(r.user)]
            case_after = fresh.model_copy(update={"routed_to": fresh.routed_to + added})
            notes = [
                Notification(school_id=fresh.school_id, recipient=user, case_id=fresh.id, created_at=now,
                             replies=[card_reply(self.scope, case_after, user, names, key=key, events=history)])
                for user in recipients
            ]
            if added:  # the "Sent to" line on cards already shown
                notes += [
                    Notification(school_id=fresh.school_id, recipient=r.user, case_id=fresh.id, created_at=now,
                                 kind="card_update",
                             replies=[card_reply(self.scope, case_after, r.user, names, events=history)])
                    for r in fresh.routed_to if r.user not in recipients
                ]
            if escalate and fresh.urgent:  # no one has picked up an urgent case: the reporter must not wait on it
                notes.append(Notification(school_id=fresh.school_id, recipient=fresh.reporter, case_id=fresh.id,
                                          created_at=now, replies=[Reply(
                                              key="reminders.reporter_urgent_waiting", urgent=True,
                                              text=self._text("reminders.reporter_urgent_waiting",
                                                              reference=fresh.reference,
                                                              front_door=front_door(self.scope)))]))
            detail: dict[str, object] = {"about": "not_acknowledged", "urgent": fresh.urgent, "to": recipients}
            if escalate:
                detail["added"] = [r.model_dump(mode="json") for r in added]
            event = CaseEvent(case_id=fresh.id, actor="bot", kind="escalated" if escalate else "reminded",
                              detail=detail, at=now)
            return [event], notes, added

        return Due(key=f"unacknowledged_{kind}:{case.id}", kind=f"unacknowledged_{kind}", case=case, events=events,
                   prepare=prepare)

    def _case_manager_added(
        self, case: Case, events: list[CaseEvent], route: Route, staff: list[StaffMember], names: dict[str, str],
        now: datetime,
    ) -> Due:
        """An allegation kept with no case manager goes to the first person added to that role."""

        def prepare(fresh: Case, _events: list[CaseEvent]) -> Prepared | None:
            still_missing = {r.user for r in missing_case_managers(fresh, staff)}
            if fresh.status == CaseStatus.CLOSED or route.user not in still_missing:
                return None
            case_after = fresh.model_copy(update={"routed_to": fresh.routed_to + [route]})
            notes = [Notification(school_id=fresh.school_id, recipient=route.user, case_id=fresh.id, created_at=now,
                                  replies=[card_reply(self.scope, case_after, route.user, names,
                                                                        key="case.new_card")])]
            notes += [
                Notification(school_id=fresh.school_id, recipient=r.user, case_id=fresh.id, created_at=now,
                             kind="card_update", replies=[card_reply(self.scope, case_after, r.user, names)])
                for r in fresh.routed_to
            ]
            event = CaseEvent(case_id=fresh.id, actor="bot", kind="escalated", at=now,
                              detail={"about": "case_manager_added", "to": [route.user],
                                      "added": [route.model_dump(mode="json")]})
            return [event], notes, [route]

        return Due(key=f"case_manager_added:{case.id}:{route.user}", kind="case_manager_added", case=case,
                   events=events, prepare=prepare)

    def _platform(
        self, case: Case, events: list[CaseEvent], index: int, staff: list[StaffMember], names: dict[str, str],
        now: datetime, about: str,
    ) -> Due:
        def prepare(fresh: Case, events: list[CaseEvent]) -> Prepared | None:
            if fresh.status == CaseStatus.CLOSED or index >= len(events):
                return None
            report = events[index]
            if not _is_action(report, "reported_to_platform") or _answered_after(events, index):
                return None  # the platform's reply was recorded since this tick looked
            recipients = handler_recipients(fresh, staff)
            if not recipients:
                return None
            reference = report.detail.get("detail") or self._text("reminders.no_platform_reference")
            text = self._text(f"reminders.{about}", reference=fresh.reference, value=reference,
                              date=self._date(report.at))
            choices = [
                Choice(id=f"case:{fresh.reference}:action", label=self._text("reminders.record_reply")),
                Choice(id=f"case:{fresh.reference}:show", label=self._text("reminders.open_case")),
            ]
            notes = [
                Notification(school_id=fresh.school_id, recipient=user, case_id=fresh.id, created_at=now,
                             replies=[Reply(key=f"reminders.{about}", text=text, choices=choices, urgent=fresh.urgent)])
                for user in recipients
            ]
            event = CaseEvent(case_id=fresh.id, actor="bot", kind="reminded", at=now,
                              detail={"about": about, "report_event": index, "to": recipients})
            return [event], notes, []

        return Due(key=f"{about}:{case.id}:{index}", kind=about, case=case, events=events, prepare=prepare)

    # --- privacy-check reminders -----------------------------------------------------------

    def privacy_note(self, reminder: Reminder, now: datetime) -> Notification:
        platforms = self.scope.words.facts.platforms
        chosen = [platforms[p].name for p in reminder.detail.get("platforms", []) if p in platforms]
        if chosen:
            listed = ", ".join(chosen[:-1]) + " and " + chosen[-1] if len(chosen) > 1 else chosen[0]
            text = self._text("reminders.privacy_check", value=listed)
        else:
            text = self._text("reminders.privacy_check_no_platforms")
        choice = Choice(id="menu:privacy_check", label=self._text("menu.privacy_check"))
        return Notification(school_id=reminder.school_id, recipient=reminder.recipient, created_at=now,
                            replies=[Reply(key="reminders.privacy_check", text=text, choices=[choice])])

    # --- helpers ---------------------------------------------------------------------------

    def _text(self, key: str, **values: object) -> str:
        return self.scope.text(key, **values)

    def _date(self, at: datetime) -> str:
        return at.astimezone(self.calendar.tz).strftime("%-d %B %Y")


def _is_action(event: CaseEvent, action: str) -> bool:
    return event.kind == "action_recorded" and event.detail.get("action") == action


def _answered_after(events: list[CaseEvent], index: int) -> bool:
    return any(_is_action(e, "platform_responded") for e in events[index + 1:])


def _barred(case: Case, staff: list[StaffMember]) -> set[str]:
    """Who must never hear about the case: the reporter, and everyone its routing excluded, then or now
    (by the routing rules applied to today's staff directory, so a newly added colleague named in the
    report is kept out too)."""
    return {case.reporter} | {r.user for r in case.excluded} | route_of_case(case, staff).barred


def handler_recipients(case: Case, staff: list[StaffMember]) -> list[str]:
    """The case's routed handlers whom the staff directory still lists in a role that handles cases."""
    present, barred = {m.user for m in staff if m.handles_cases}, _barred(case, staff)
    return [r.user for r in case.routed_to if r.user in present and r.user not in barred]


def reminder_recipients(case: Case, staff: list[StaffMember]) -> list[str]:
    """The routed DSL and deputies (or, where the case went to neither, whoever it went to)."""
    handlers = handler_recipients(case, staff)
    safeguarding = {m.user for m in staff if m.has(*REMINDER_ROLES)}
    return [u for u in handlers if u in safeguarding] or handlers


def escalation_routes(case: Case, staff: list[StaffMember]) -> list[Route]:
    """The deputies and the headteacher; the chair of governors instead of the head when the allegation is
    about the head (as routing decided) or no head can receive it. Never anyone barred from the case."""
    barred = _barred(case, staff)
    about_head = route_of_case(case, staff).about == "headteacher" or any(
        r.reason == "allegation_about_headteacher" for r in case.routed_to + case.excluded)

    def holding(role: Role) -> list[tuple[StaffMember, Role]]:
        return [(m, role) for m in staff if m.has(role) and m.user not in barred]

    heads = [] if about_head else holding(Role.HEADTEACHER)
    routed = {r.user: r for r in case.routed_to}
    chosen: dict[str, Route] = {}
    for m, role in holding(Role.DEPUTY_DSL) + (heads or holding(Role.CHAIR_OF_GOVERNORS)):
        chosen.setdefault(m.user, routed.get(m.user) or Route(user=m.user, role=role, reason=ESCALATED_REASON))
    return list(chosen.values())


def missing_case_managers(case: Case, staff: list[StaffMember]) -> list[Route]:
    """An open allegation's case manager who is in the directory now but was not when it was routed (no chair
    then, say): the case was kept for them."""
    barred = _barred(case, staff)
    return [r for r in route_of_case(case, staff).routes
            if r.reason in CASE_MANAGER_REASONS and not case.is_routed_to(r.user) and r.user not in barred]
