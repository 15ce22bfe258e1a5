"""The command line: `online-safety-bot chat | serve | staff | cases | content | teams-package`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable

from bot.config import ConfigError, Settings
from bot.content import Content, ContentError, load_content
from bot.engine import Bot
from bot.models import Role, StaffMember
from bot.store import Store, StoreError, open_store

USER = re.compile(r"^[a-z][a-z0-9_-]{1,20}:[^\s:]{1,128}$")


def user_arg(value: str) -> str:
    if not USER.match(value):
        raise argparse.ArgumentTypeError(f"'{value}' should look like PLATFORM:USER, for example slack:U012AB3CD")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="online-safety-bot", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="the SQLite database file (default data/online-safety-bot.db, or $OSB_DB)")
    common.add_argument("--content", dest="content_dir", help="the content folder (default: the repository's)")
    sub = parser.add_subparsers(dest="command", required=True)

    chat = sub.add_parser("chat", parents=[common], help="talk to the bot in this terminal")
    chat.add_argument("--as", dest="user", type=user_arg, default="console:me", help="who you are, PLATFORM:USER")
    chat.add_argument("--json", action="store_true", help="one JSON line per turn, for scripts and tests")

    serve = sub.add_parser("serve", parents=[common], help="serve the Slack and Teams channels that are configured")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")

    staff = sub.add_parser("staff", help="the staff directory").add_subparsers(dest="action", required=True)
    add = staff.add_parser("add", parents=[common], help="add or update a member of staff")
    add.add_argument("user", type=user_arg)
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--name", required=True)
    listing = staff.add_parser("list", parents=[common], help="list the staff directory")
    listing.add_argument("--json", action="store_true")
    remove = staff.add_parser("remove", parents=[common], help="remove a member of staff")
    remove.add_argument("user", type=user_arg)

    cases = sub.add_parser("cases", help="cases").add_subparsers(dest="action", required=True)
    cases_list = cases.add_parser("list", parents=[common], help="list cases")
    cases_list.add_argument("--json", action="store_true")
    show = cases.add_parser("show", parents=[common], help="show one case and its events")
    show.add_argument("reference")
    show.add_argument("--json", action="store_true")

    content = sub.add_parser("content", help="the bot's wording and facts").add_subparsers(dest="action", required=True)
    content.add_parser("check", parents=[common], help="validate content/ and list facts due a re-check")

    package = sub.add_parser("teams-package", help="build the Microsoft Teams app package (zip) to upload")
    package.add_argument("--app-id", required=True, type=guid_arg, help="the bot's Microsoft App ID (a GUID)")
    package.add_argument("--out", default="online-safety-bot-teams.zip", help="where to write the zip")
    return parser


def guid_arg(value: str) -> str:
    from bot.adapters.teams.config import is_guid

    if not is_guid(value):
        raise argparse.ArgumentTypeError(f"'{value}' should be a GUID, like 0e9b1c4f-2a6d-4c55-9f1e-5b2d8a7c3e10")
    return value.lower()


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[int]]) -> int:
    store = open_store(settings.db)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "teams-package":
            return teams_package(args.app_id, args.out)
        settings = Settings.from_env(db=args.db, content_dir=args.content_dir)
        content = load_content(settings.content_dir)
        if args.command == "content":
            return check_content(content)
        if args.command == "serve":
            return asyncio.run(serve(args, settings, content))
        handler = {"chat": chat, "staff": staff, "cases": cases}[args.command]
        return asyncio.run(_with_store(settings, lambda store: handler(args, settings, content, store)))
    except (ConfigError, ContentError, StoreError) as exc:
        print(f"online-safety-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def chat(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    from bot.adapters.console import run_chat

    await run_chat(Bot(content, store, settings), args.user, args.json)
    return 0


async def serve(args: argparse.Namespace, settings: Settings, content: Content) -> int:
    import os

    from aiohttp import web

    from bot.server import build_app, configured_channels

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = open_store(settings.db)
    await store.open()
    runner = None
    try:
        bot = Bot(content, store, settings)
        channels = configured_channels(bot, os.environ)
        if not channels:
            print("online-safety-bot: no channel is configured (see README: Slack, Microsoft Teams); serving /healthz only",
                  file=sys.stderr)
        runner = web.AppRunner(build_app(bot, channels))
        await runner.setup()
        await web.TCPSite(runner, args.host, args.port).start()
        names = ", ".join(c.name for c in channels) or "none"
        print(f"online-safety-bot: serving on http://{args.host}:{args.port} (channels: {names})", file=sys.stderr)
        await asyncio.Event().wait()
        return 0
    finally:
        if runner:
            await runner.cleanup()
        await store.close()


async def staff(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    school = settings.school_id
    if args.action == "add":
        name = " ".join(args.name.split())
        if not name:
            print("online-safety-bot: --name must not be empty", file=sys.stderr)
            return 2
        await store.upsert_staff(StaffMember(user=args.user, role=Role(args.role), name=name, school_id=school))
        print(f"{args.user} is {name}, {content.text(f'roles.{args.role}')}.")
        return 0
    if args.action == "remove":
        if await store.remove_staff(school, args.user):
            print(f"{args.user} removed.")
            return 0
        print(f"online-safety-bot: {args.user} is not in the staff directory", file=sys.stderr)
        return 1
    members = await store.list_staff(school)
    # Teams lets the bot write only into a chat someone has opened: until then, their cases wait for them.
    on_teams = await store.reachable_users(school, "teams")
    unreachable = {m.user for m in members if m.user.startswith("teams:") and m.user not in on_teams}
    if args.json:
        listed = [m.model_dump(mode="json") for m in members]
        for entry in listed:
            if entry["user"].startswith("teams:"):
                entry["reachable"] = entry["user"] not in unreachable
        print(json.dumps(listed))
    elif not members:
        print("The staff directory is empty. Add people with: online-safety-bot staff add PLATFORM:USER --role dsl --name NAME")
    else:
        for m in members:
            note = "  (cannot be reached on Teams yet: has not opened the bot)" if m.user in unreachable else ""
            print(f"{m.user:30} {m.role.value:20} {m.name}{note}")
    return 0


def _case_summary(case: Any) -> dict[str, Any]:
    return {
        "reference": case.reference, "status": case.status.value, "urgent": case.urgent,
        "categories": case.categories, "reporter": case.reporter, "routed_to": [r.user for r in case.routed_to],
        "created_at": case.created_at.isoformat(), "outcome": case.outcome,
    }


async def cases(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    if args.action == "list":
        found = await store.list_cases(settings.school_id)
        if args.json:
            print(json.dumps([_case_summary(c) for c in found]))
        elif not found:
            print("No cases yet.")
        for c in found if not args.json else []:
            flag = "URGENT " if c.urgent else ""
            print(f"{c.reference}  {flag}{c.status.value:12} {c.created_at:%Y-%m-%d %H:%M}  {', '.join(c.categories)}")
        return 0
    case = await store.get_case(settings.school_id, args.reference)
    if case is None:
        print(f"online-safety-bot: no case {args.reference}", file=sys.stderr)
        return 1
    events = await store.case_events(case.id)
    evidence = await store.case_evidence(case.id)
    if args.json:
        print(json.dumps({
            **_case_summary(case), "answers": case.answers, "excluded": [r.model_dump() for r in case.excluded],
            "routes": [r.model_dump() for r in case.routed_to], "content_version": case.content_version,
            "evidence": [e.model_dump(mode="json") for e in evidence],
            "events": [e.model_dump(mode="json") for e in events],
        }))
        return 0
    print(json.dumps(_case_summary(case), indent=2))
    for e in events:
        print(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.actor:24} {e.kind:16} {json.dumps(e.detail) if e.detail else ''}")
    return 0


TEAMS_MANIFEST_DIR = Path(__file__).resolve().parent.parent / "manifest" / "teams"


def teams_package(app_id: str, out: str) -> int:
    """The zip to upload to Teams: the manifest with the bot's app id filled in, and its two icons."""
    manifest = json.loads((TEAMS_MANIFEST_DIR / "manifest.json").read_text(encoding="utf-8"))
    manifest["id"] = app_id
    for bot in manifest.get("bots", []):
        bot["botId"] = app_id
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        for icon in manifest["icons"].values():
            package.write(TEAMS_MANIFEST_DIR / icon, icon)
    print(f"{target}: upload it in Teams (Apps > Manage your apps > Upload an app) or the Teams admin centre.")
    return 0


def check_content(content: Content, today: date | None = None) -> int:
    """Print what was checked, and any fact not re-checked at its source for over a year."""
    today = today or date.today()
    facts: list[tuple[str, date]] = []
    for h in content.facts.helplines.values():
        facts.append((f"helplines.{h.id}", h.checked))
    for r in content.facts.rules.values():
        facts.append((f"rules.{r.id}", r.checked))
    for p in content.facts.platforms.values():
        if p.report:
            facts.append((f"platforms.{p.id}.report", p.report.checked))
        facts += [(f"platforms.{p.id}.privacy.{i.id}", i.checked) for i in p.privacy]
        facts += [(f"platforms.{p.id}.always_public.{n}", x.checked) for n, x in enumerate(p.always_public)]
    stale = [(name, checked) for name, checked in facts if today - checked > timedelta(days=365)]
    print(f"Content {content.version}: {len(content.messages)} messages, {len(content.flows)} flows, "
          f"{len(facts)} facts, each with a source and a checked date.")
    for name, checked in stale:
        print(f"  due a re-check: {name} (last checked {checked})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
