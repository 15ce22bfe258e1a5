"""`trends`: accounts and naming patterns that more than one school reported, with counts; never a reporter or a
case's details."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone

from bot.cases.early_warning import find_alerts
from bot.cli.args import Parents
from bot.core.config import Settings
from bot.core.content import Content
from bot.store import Store


def register(sub: argparse._SubParsersAction, parents: Parents) -> None:
    trends = sub.add_parser("trends", parents=[parents.common],
                            help="accounts and naming patterns reported by more than one school")
    trends.add_argument("--days", type=float, help="how far back to look (default: the early-warning window)")
    trends.add_argument("--json", action="store_true")
    trends.set_defaults(run=run)


async def run(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    days = args.days if args.days is not None else settings.early_warning_days
    since = datetime.now(timezone.utc) - timedelta(days=days)
    alerts = find_alerts(await store.recent_sightings(since), settings.early_warning_schools)
    names = {s.id: s.name for s in await store.list_schools()}
    if args.json:
        print(json.dumps([{**a.model_dump(mode="json"), "school_names": [names.get(s, s) for s in a.schools]}
                          for a in alerts]))
        return 0
    if not alerts:
        print(content.text("early_warning.no_trends", count=settings.early_warning_schools, value=f"{days:g}"))
    for a in alerts:
        print(content.text(f"early_warning.trend_{a.kind}", value=a.key, count=len(a.schools), total=a.reports,
                           date=f"{a.first_seen:%-d %b}", cases=", ".join(names.get(s, s) for s in a.schools)))
        if a.kind == "pattern":
            print("    " + ", ".join(a.variants))
    return 0
