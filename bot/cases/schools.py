"""Schools as tenants: which school a message belongs to, and each school's name, prefix and content.

A deployment may serve one school (the embedded default: everything belongs to the `default` school,
named by OSB_SCHOOL_NAME) or many (a local authority or trust: `online-safety-bot schools add`). A Slack
workspace or Microsoft 365 tenant maps to one school, or to several when a trust shares a tenant: then
the staff directory says which school each person is in. Cases never cross schools: every store call
is made with the school id resolved here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from bot.cases.school_calendar import calendar_for
from bot.cases.scope import SchoolScope
from bot.cases.timetable import Timetable
from bot.core.config import Settings
from bot.core.content import Content, load_content
from bot.core.models import School
from bot.core.nations import for_nation
from bot.store import Store

DEFAULT_SCHOOL = "default"
CACHE_SECONDS = 5.0  # a school's changed name, prefix or workspaces reach every process within this

class Schools:
    def __init__(self, store: Store, content: Content, settings: Settings):
        self.store = store
        self.base = content
        self.settings = settings
        self._content: dict[tuple[str, str | None, str], Content] = {}
        self._cached: dict[str, School] | None = None
        self._cached_at = 0.0
        self.clock: Callable[[], float] = time.monotonic  # when the schools were read (a test may move it)
        # Each school as set up, and its scope, built again only when the schools are read again (_schools)
        self._set_up: dict[str, tuple[dict[str, School], School]] = {}
        self._scopes: dict[str, tuple[School, SchoolScope]] = {}

    async def resolve(self, platform: str, workspace: str | None, user: str) -> str | None:
        """The school of `user` writing from `workspace`, or None when the deployment cannot tell (a
        workspace no school has claimed, or a shared one where the directory does not list the person).
        A deployment with a single school and no workspaces set up takes everyone into it."""
        schools = await self._schools(missing=lambda found: bool(workspace) and not any(
            w.platform == platform and w.id == workspace for s in found.values() for w in s.workspaces))
        if workspace:
            mapped = [s.id for s in schools.values() if any(w.platform == platform and w.id == workspace
                                                            for w in s.workspaces)]
            if len(mapped) == 1:
                return mapped[0]
            if mapped:
                listed = [s for s in mapped if await self.store.get_staff(s, user) is not None]
                return listed[0] if len(listed) == 1 else None
        tenants = [s for s in schools.values() if s.kind == "school"]
        if len(tenants) == 1 and not tenants[0].workspaces:
            return tenants[0].id
        return None

    async def get(self, school_id: str) -> School:
        """The school as set up: its record, else the deployment's one school (OSB_SCHOOL_NAME and
        OSB_SCHOOL_NATION fill in what the embedded default leaves). Worked out again only when the schools are
        read again from the store."""
        schools = await self._schools(missing=lambda found: school_id not in found)
        kept = self._set_up.get(school_id)
        if kept is None or kept[0] is not schools:
            kept = (schools, self._as_set_up(schools.get(school_id), school_id))
            self._set_up[school_id] = kept
        return kept[1]

    def _as_set_up(self, school: School | None, school_id: str) -> School:
        if school is None:
            school = self._unlisted(school_id)
        elif school.id == DEFAULT_SCHOOL and school.name == "Our school":
            school = school.model_copy(update={"name": self.settings.school_name})  # named by OSB_SCHOOL_NAME
        if school.id == DEFAULT_SCHOOL and self.settings.school_nation:
            school = school.model_copy(update={"nation": self.settings.school_nation})  # OSB_SCHOOL_NATION
        return school

    def _unlisted(self, school_id: str) -> School:
        """A school not in the store: the deployment's one school, as OSB_SCHOOL_NAME and OSB_SCHOOL_NATION say."""
        return School(id=school_id, name=self.settings.school_name, nation=self.settings.school_nation or "england")

    async def _schools(self, missing: Callable[[dict[str, School]], bool]) -> dict[str, School]:
        """Every school, read at most every few seconds (two store trips a turn saved: bench/); read again
        at once when what is looked for is missing, so a school added elsewhere is found straight away."""
        now = self.clock()
        if self._cached is None or now - self._cached_at > CACHE_SECONDS or (
                missing(self._cached) and now - self._cached_at > 0.5):
            self._cached = {s.id: s for s in await self.store.list_schools()}
            self._cached_at = now
        return self._cached

    def content(self, school: School) -> Content:
        """The shared content with the school's own folder merged over it (loaded once per folder), as its
        nation sees it (bot/core/nations.py)."""
        key = (school.id, school.content_dir, school.nation)
        if key not in self._content:
            merged = load_content(self.settings.content_dir, Path(school.content_dir)) \
                if school.content_dir else self.base
            self._content[key] = for_nation(merged, school.nation)
        return self._content[key]

    def reference_prefix(self, school: School) -> str:
        return school.reference_prefix or self.settings.reference_prefix

    async def scope(self, school_id: str) -> SchoolScope:
        """Everything said for `school_id` comes from this: its record, its words, its calendar, its prefix. Built
        again when the schools are read again (every few seconds), so a school's changed settings, and an edited
        calendar file, are seen within CACHE_SECONDS, as a changed name is; not on every turn."""
        school = await self.get(school_id)
        kept = self._scopes.get(school_id)
        if kept is None or kept[0] is not school:
            kept = (school, self.scope_of(school))
            self._scopes[school_id] = kept
        return kept[1]

    def scope_of(self, school: School) -> SchoolScope:
        return SchoolScope(school=school, words=self.content(school),
                           calendar=calendar_for(self.settings, school.content_dir),
                           reference_prefix=self.reference_prefix(school), timetable=Timetable.of(self.settings))

    async def only_school(self) -> str | None:
        """For commands given no --school: the one school, when there is exactly one."""
        schools = [s for s in await self.store.list_schools() if s.kind == "school"]
        return schools[0].id if len(schools) == 1 else None
