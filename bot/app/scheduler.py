"""The scheduler's loop: every OSB_SCHEDULER_SECONDS, for each school, claim and queue what is due.

What is due, and the wording of each reminder, are the case domain's (bot/cases/reminders.py); this module only
runs it, once per school per tick, with that school's scope, so that one school going wrong holds up no other.
Logs say how many were sent, never anything about a case.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Callable

from bot.cases.card import names_of_people
from bot.cases.digest import send_digests
from bot.cases.reminders import Due, Reminders
from bot.cases.school_calendar import SchoolCalendar, calendar_path, load_calendar
from bot.cases.schools import Schools
from bot.cases.scope import SchoolScope
from bot.core.config import Settings
from bot.core.models import utcnow
from bot.core.periodic import Periodic
from bot.store import Store

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, store: Store, settings: Settings, schools: Schools, clock: Callable[[], datetime] = utcnow,
                 calendar: SchoolCalendar | None = None):
        self.store = store
        self.settings = settings
        self.schools = schools
        self.clock = clock
        # Read now: a bad calendar stops start-up, naming the field.
        self.default_calendar = calendar or load_calendar(calendar_path(settings))
        self._loop = Periodic("scheduler tick", settings.scheduler_seconds, self.tick)
        self._warned_calendar: dict[str, date] = {}

    # --- running -------------------------------------------------------------------------

    def start(self) -> None:
        """Tick now (to catch up on anything due while the server was down), then every OSB_SCHEDULER_SECONDS."""
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def tick(self, now: datetime | None = None) -> int:
        """Queue every notification that is due at `now` (the bot's clock by default) and not yet sent, for
        every school. Returns how many items this call claimed."""
        now = now or self.clock()
        sent = 0
        for school in await self.store.list_schools():
            if school.kind != "school":
                continue
            scope = await self.schools.scope(school.id)
            try:
                self._warn_if_calendar_ends(scope, now)
                sent += await self._tick_school(scope, now)
            except Exception as exc:  # one school going wrong must not hold up the others
                log.error("scheduler: school %s failed: %s", school.id, type(exc).__name__)
        if sent:
            log.info("scheduler: %d reminder(s) queued", sent)
        return sent

    async def _tick_school(self, scope: SchoolScope, now: datetime) -> int:
        store, school, reminders = self.store, scope.id, self.reminders(scope)
        staff = await store.list_staff(school)
        names = await names_of_people(store, school, staff)

        due: list[Due] = []
        for case in await store.list_cases(school, open_only=True):
            events = await store.case_events(case.id)
            due += reminders.case_items(case, events, staff, names, now)
        claimed = await store.claimed_reminders(school, [d.key for d in due])
        sent = 0
        for item in due:
            try:
                if item.key in claimed or item.prepare(item.case, item.events) is None:
                    continue  # sent already, or no one to tell yet: no need for the write lock
                if await store.claim_case_reminder(school, item.key, item.kind, item.case.id, now,
                                                   item.prepare):
                    sent += 1
            except Exception as exc:  # one case going wrong must not hold up the others' reminders
                log.error("scheduler: %s reminder failed: %s", item.kind, type(exc).__name__)

        for reminder in await store.due_reminders(school, now, kind="privacy_check"):
            try:
                if await store.claim_reminder(reminder.id, now, [reminders.privacy_note(reminder, now)]):
                    sent += 1
            except Exception as exc:
                log.error("scheduler: privacy-check reminder failed: %s", type(exc).__name__)
        digests = await send_digests(store, scope, staff, now)
        if digests:
            log.info("scheduler: %d morning digest(s) queued", digests)
        return sent

    def _warn_if_calendar_ends(self, scope: SchoolScope, now: datetime) -> None:
        today = now.astimezone(scope.calendar.tz).date()
        last = scope.calendar.last_day
        school = scope.id
        if last - timedelta(days=31) <= today and self._warned_calendar.get(school) != today:
            self._warned_calendar[school] = today
            log.warning("the school calendar of %s covers term dates only until %s: add the next terms to it",
                        school, last)

    def reminders(self, scope: SchoolScope) -> Reminders:
        return Reminders(self.settings, scope)

