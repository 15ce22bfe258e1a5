"""The school a turn, a card or a scheduler pass is for, as one value handed to whatever needs it.

Built once per turn (the engine) and once per school in each scheduler pass, then passed: nothing reads the
school from ambient state, so a card built on a store's worker thread, or a record exported from the command
line, is in the same school's words and under the same name as the turn that caused it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.cases.school_calendar import SchoolCalendar
from bot.cases.timetable import Timetable
from bot.core.content import Content
from bot.core.models import School


@dataclass(frozen=True)
class SchoolScope:
    school: School
    words: Content  # the shared content with the school's own folder merged over it, as its nation sees it
    calendar: SchoolCalendar  # the school's own term dates and hours, else the deployment's
    reference_prefix: str  # case references: OSB-2026-0001, or the school's own prefix
    timetable: Timetable = field(default_factory=Timetable)  # when a new case is reminded and escalated

    @property
    def id(self) -> str:
        return self.school.id

    @property
    def name(self) -> str:
        return self.school.name

    def text(self, key: str, **values: Any) -> str:
        """A message in the school's words, with its name."""
        return self.words.text(key, **{"school_name": self.school.name, **values})
