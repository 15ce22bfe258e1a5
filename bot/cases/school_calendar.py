"""The school's own calendar: its hours and term dates, from a YAML file the school edits
(`content/school_calendar.yaml` by default, or `OSB_SCHOOL_CALENDAR`).

Only non-urgent reminders use it: "4 school hours" counts time inside school hours on school days,
where a school day is one of the school's weekdays, inside a term, and not a closure (an INSET day,
a bank holiday, a half term). Urgent cases are timed by the wall clock, at any hour.

A date after the period the file covers (`covers_until`, or else the end of its last term) or before
its first term cannot be checked against term dates, so there every school weekday counts: a calendar that has
run out makes reminders come too early, never not at all. The scheduler warns when the file is about to run out.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.core.content import DEFAULT_CONTENT_DIR, ContentError, read_yaml, validated

log = logging.getLogger(__name__)

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: list[str] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class CalendarError(ContentError):
    """The school calendar file is missing or wrong; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _clock_time(value: Any) -> Any:
    # Unquoted, YAML reads 8:00 as the number 480 (base 60): insist on a quoted "HH:MM".
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise ValueError('write the time in quotes as "HH:MM", for example "08:00"')
    return value.strip()


class SchoolHours(_Strict):
    days: list[Weekday] = Field(min_length=1, description="the days the school is open")
    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted_time(cls, value: Any) -> Any:
        return _clock_time(value)

    @model_validator(mode="after")
    def _end_after_start(self) -> "SchoolHours":
        if self.end <= self.start:
            raise ValueError("end must be later than start")
        return self


class Term(_Strict):
    name: str
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> "Term":
        if self.end < self.start:
            raise ValueError(f"'{self.name}' ends before it starts")
        return self


class Closure(_Strict):
    """Days inside a term when the school is closed: INSET days, bank holidays, half terms."""

    name: str
    start: date
    end: date | None = Field(default=None, description="the last day closed; the start day only if left out")

    @model_validator(mode="after")
    def _ordered(self) -> "Closure":
        if self.end is not None and self.end < self.start:
            raise ValueError(f"'{self.name}' ends before it starts")
        return self

    @property
    def last(self) -> date:
        return self.end or self.start


class SchoolCalendar(_Strict):
    timezone: str = "Europe/London"
    school_hours: SchoolHours
    terms: list[Term] = Field(min_length=1)
    closures: list[Closure] = Field(default_factory=list)
    covers_until: date | None = Field(
        default=None,
        description="the last day the file describes (the end of the summer holiday); the last term's end if left out",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a known time zone (for example Europe/London)") from None
        return value

    @model_validator(mode="after")
    def _covers_the_terms(self) -> "SchoolCalendar":
        if self.covers_until is not None and self.covers_until < max(t.end for t in self.terms):
            raise ValueError("covers_until is earlier than the end of the last term")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def first_day(self) -> date:
        return min(t.start for t in self.terms)

    @property
    def last_day(self) -> date:
        """The last day whose term dates the file gives."""
        return self.covers_until or max(t.end for t in self.terms)

    @property
    def day_length(self) -> timedelta:
        """One school day, as school time: from the start of school hours to their end."""
        h = self.school_hours
        return datetime.combine(date.min, h.end) - datetime.combine(date.min, h.start)

    def is_school_day(self, day: date) -> bool:
        if WEEKDAYS[day.weekday()] not in self.school_hours.days:
            return False
        if day < self.first_day or day > self.last_day:
            return True  # outside what the file covers: count the weekday rather than wait for ever
        if not any(t.start <= day <= t.end for t in self.terms):
            return False
        return not any(c.start <= day <= c.last for c in self.closures)

    def is_open(self, moment: datetime) -> bool:
        """True inside school hours on a school day: when staff can expect the DSL to be in school."""
        local = moment.astimezone(self.tz)
        return self.is_school_day(local.date()) and self.school_hours.start <= local.time() < self.school_hours.end

    def next_opening(self, moment: datetime) -> datetime:
        """When school hours next begin after `moment`, in the school's time zone."""
        local = moment.astimezone(self.tz)
        day = local.date()
        for _ in range(3660):
            opens = datetime.combine(day, self.school_hours.start, self.tz)
            if self.is_school_day(day) and opens > local:
                return opens
            day += timedelta(days=1)
        raise CalendarError("school_hours: no school day found in ten years")  # pragma: no cover

    def next_school_day(self, day: date) -> date:
        """The first school day after `day`."""
        for _ in range(3660):
            day += timedelta(days=1)
            if self.is_school_day(day):
                return day
        raise CalendarError("school_hours: no school day found in ten years")  # pragma: no cover

    def add_school_time(self, start: datetime, amount: timedelta) -> datetime:
        """The moment when `amount` of school time has passed since `start` (an aware datetime)."""
        if amount <= timedelta(0):
            return start
        tz = self.tz
        remaining = amount
        moment = start.astimezone(timezone.utc)
        day = start.astimezone(tz).date()
        for _ in range(3660):  # ten years of days: always enough, since every weekday counts past the file
            if self.is_school_day(day):
                opens = datetime.combine(day, self.school_hours.start, tz).astimezone(timezone.utc)
                closes = datetime.combine(day, self.school_hours.end, tz).astimezone(timezone.utc)
                begin = max(opens, moment)
                if begin < closes:
                    if remaining <= closes - begin:
                        return begin + remaining
                    remaining -= closes - begin
            day += timedelta(days=1)
        raise CalendarError("school_hours: no school time found in ten years")  # pragma: no cover


def calendar_path(settings: Any) -> Path:
    """The school calendar file: OSB_SCHOOL_CALENDAR, else school_calendar.yaml in the content folder."""
    if settings.school_calendar:
        return Path(settings.school_calendar)
    return Path(settings.content_dir or DEFAULT_CONTENT_DIR) / "school_calendar.yaml"


_loaded: dict[tuple[str, float], SchoolCalendar] = {}


def calendar_for(settings: Any, school_content_dir: str | None = None) -> SchoolCalendar:
    """The calendar a school keeps in its own content folder, else the deployment's; read again when the file
    changes."""
    return own_calendar(school_content_dir) or _cached(calendar_path(settings))


def own_calendar(school_content_dir: str | None) -> SchoolCalendar | None:
    """The calendar in a school's own content folder, if it keeps one (term dates differ between authorities)."""
    own = Path(school_content_dir) / "school_calendar.yaml" if school_content_dir else None
    return _cached(own) if own is not None and own.is_file() else None


def _cached(path: Path) -> SchoolCalendar:
    key = (str(path), path.stat().st_mtime)
    if key not in _loaded:
        _loaded[key] = load_calendar(path)
    return _loaded[key]


def load_calendar(path: str | Path) -> SchoolCalendar:
    path = Path(path)
    return validated(SchoolCalendar, path, read_yaml(path, CalendarError), error=CalendarError)
