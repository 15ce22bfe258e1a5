"""When a case still new is reminded and escalated: the one timetable the scheduler follows and the card shows.

Urgent cases go by the wall clock, at any hour; others count school hours on school days (the school's calendar).
The urgent clock starts when the case became urgent: when it was reported, or when a handler marked it urgent
later (then the next reminder is recomputed from that moment, never later than the ordinary timetable's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.cases.school_calendar import SchoolCalendar
from bot.core.config import Settings
from bot.core.models import Case, CaseEvent


@dataclass(frozen=True)
class Timetable:
    urgent_remind: timedelta = timedelta(minutes=15)
    urgent_escalate: timedelta = timedelta(minutes=30)
    remind_school_hours: float = 4
    escalate_school_days: float = 1

    @classmethod
    def of(cls, settings: Settings) -> Timetable:
        return cls(urgent_remind=timedelta(minutes=settings.urgent_remind_minutes),
                   urgent_escalate=timedelta(minutes=settings.urgent_escalate_minutes),
                   remind_school_hours=settings.remind_school_hours,
                   escalate_school_days=settings.escalate_school_days)

    def remind_at(self, case: Case, calendar: SchoolCalendar, urgent_since: datetime | None = None) -> datetime:
        ordinary = calendar.add_school_time(case.created_at, timedelta(hours=self.remind_school_hours))
        if not case.urgent:
            return ordinary
        return min(ordinary, (urgent_since or case.created_at) + self.urgent_remind)

    def escalate_at(self, case: Case, calendar: SchoolCalendar, urgent_since: datetime | None = None) -> datetime:
        ordinary = calendar.add_school_time(case.created_at, calendar.day_length * self.escalate_school_days)
        if not case.urgent:
            return ordinary
        return min(ordinary, (urgent_since or case.created_at) + self.urgent_escalate)


def urgent_since(case: Case, events: list[CaseEvent]) -> datetime | None:
    """When the case became urgent: the first time it was flagged (at the report, or by a handler later)."""
    if not case.urgent:
        return None
    return min((e.at for e in events if e.kind == "flagged_urgent"), default=case.created_at)
