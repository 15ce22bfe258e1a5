"""`content check`: validate content/ (loading it does), then list facts due a re-check, facts not confirmed at their
source, which facts hold for which nation, the school calendar's reach and, with a database, where a school's staff
directory leaves an allegation nowhere to go."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bot.cases.retention import load_retention, report_categories
from bot.cases.routing import routing_gaps
from bot.cases.school_calendar import calendar_path, load_calendar
from bot.cli.args import Parents
from bot.cli.database import with_store
from bot.cli.words import CliWords
from bot.core.config import Settings
from bot.core.content import Content
from bot.core.nations import facts_by_nation
from bot.store import Store

RECHECK_AFTER = timedelta(days=365)  # a fact not checked at its source for longer is due a re-check


def register(sub: argparse._SubParsersAction, parents: Parents) -> None:
    content = sub.add_parser("content", help="the bot's wording and facts").add_subparsers(dest="action", required=True)
    content.add_parser("check", parents=[parents.common], help="validate content/ and list facts due a re-check")


def run(args: argparse.Namespace, settings: Settings, content: Content) -> int:
    retention = load_retention(settings.content_dir, settings.retention_file, report_categories(content))
    calendar = load_calendar(calendar_path(settings))
    code = check_content(content, retention=retention)
    until = calendar.covers_until or max(t.end for t in calendar.terms)
    print(CliWords(content).text("cli.content.calendar", path=calendar_path(settings), date=until))
    if settings.db.startswith(("postgres://", "postgresql://")) or Path(settings.db).is_file():
        asyncio.run(with_store(settings, lambda store: check_directories(content, store)))
    return code


def check_content(content: Content, today: date | None = None, retention: Any = None) -> int:
    """Print what was checked, any fact not re-checked at its source for over a year, and any marked unconfirmed."""
    say = CliWords(content)
    today = today or date.today()
    facts = checked_dates(content, retention)
    stale = [(name, checked) for name, checked in facts if today - checked > RECHECK_AFTER]
    print(say.text("cli.content.summary", value=content.version, count=len(content.messages), flows=len(content.flows),
                   facts=len(facts)))
    for name, checked in stale:
        print("  " + say.text("cli.content.stale", name=name, date=checked))
    print_unconfirmed_and_nations(content, retention)
    return 0


def checked_dates(content: Content, retention: Any = None) -> list[tuple[str, date]]:
    """Every fact with a source, by name, and when it was last checked there."""
    facts: list[tuple[str, date]] = []
    sourced: list[tuple[str, Any]] = [*(("helplines." + h.id, h) for h in content.facts.helplines.values()),
                                      *(("rules." + r.id, r) for r in content.facts.rules.values()),
                                      *((f"safety.{name}", getattr(content.safety, name))
                                        for name in type(content.safety).model_fields)]
    facts += [(name, fact.checked) for name, fact in sourced]
    for p in content.facts.platforms.values():
        facts += [(f"platforms.{p.id}.routes.{n}", r.checked) for n, r in enumerate(p.routes)]
        facts += [(f"platforms.{p.id}.privacy.{i.id}", i.checked) for i in p.privacy]
        facts += [(f"platforms.{p.id}.always_public.{n}", x.checked) for n, x in enumerate(p.always_public)]
    facts += [(f"harms.{h.id}", h.checked) for h in content.facts.harms.values()]
    if retention is not None:  # content/facts/retention.yaml, checked by bot/cases/retention.py
        facts.append(("retention.default", retention.facts.default.checked))
        facts += [(f"retention.{c.id}", c.checked) for c in retention.facts.categories]
        if retention.facts.removed_allegations:
            facts.append(("retention.removed_allegations", retention.facts.removed_allegations.checked))
    return facts


def unconfirmed_facts(content: Content, retention: Any = None) -> list[tuple[str, str]]:
    """Each fact marked as not confirmed at its source, by name, with the note saying what could not be."""
    unconfirmed = [(f"helplines.{h.id}", h.unconfirmed) for h in content.facts.helplines.values()]
    unconfirmed += [(f"rules.{r.id}", r.unconfirmed) for r in content.facts.rules.values()]
    unconfirmed += [(f"safety.{name}", getattr(content.safety, name).unconfirmed)
                    for name in type(content.safety).model_fields]
    if retention is not None and retention.facts.removed_allegations:
        unconfirmed.append(("retention.removed_allegations", retention.facts.removed_allegations.unconfirmed))
    unconfirmed += [(f"harms.{h.id}", h.unconfirmed) for h in content.facts.harms.values()]
    for p in content.facts.platforms.values():
        unconfirmed += [(f"platforms.{p.id}.routes.{n} ({', '.join(r.harms)})", r.unconfirmed)
                        for n, r in enumerate(p.routes)]
        unconfirmed += [(f"platforms.{p.id}.privacy.{i.id}", i.unconfirmed) for i in p.privacy]
    return [(name, note) for name, note in unconfirmed if note]


def print_unconfirmed_and_nations(content: Content, retention: Any = None) -> None:
    """The facts not confirmed at their source, the local contacts still at the shipped default, and which
    facts and wording exist for which UK nation (bot/core/nations.py)."""
    say = CliWords(content)
    unconfirmed = unconfirmed_facts(content, retention)
    print(say.text("cli.content.unconfirmed_count", count=len(unconfirmed)))
    for name, note in unconfirmed:
        print("  " + say.text("cli.content.unconfirmed", name=name, value=" ".join(note.split())))
    front_door = content.facts.helplines.get("front_door")
    if front_door is not None and not (front_door.phone or front_door.url):
        print("  " + say.text("cli.content.front_door_default"))
    print(say.text("cli.content.by_nation"))
    for nation, names in facts_by_nation(content).items():
        listed = ", ".join(names) if names else say.text("cli.content.nation_none")
        print("  " + say.text("cli.content.nation", nation=nation, value=listed))


async def check_directories(content: Content, store: Store) -> None:
    """`content check` with a database: warn where a school's staff directory leaves an allegation nowhere to go."""
    for school in await store.list_schools():
        if school.kind == "school":
            for gap in routing_gaps(await store.list_staff(school.id)):
                print(f"  {school.id}: " + content.text(f"routing_gaps.{gap}").replace("\n", " "))
