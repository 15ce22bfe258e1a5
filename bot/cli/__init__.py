"""The command line: `online-safety-bot chat | serve | schools | staff | cases | trends | content | teams-package`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable

from bot.core.config import ConfigError, Settings
from bot.core.content import Content, ContentError, load_content
from bot.conversation.engine import Bot
from bot.core.models import Role, StaffMember
from bot.cases.routing import routing_gaps
from bot.store import Store, StoreError, open_store

USER = re.compile(r"^[a-z][a-z0-9_-]{1,20}:[^\s:]{1,128}$")


def user_arg(value: str) -> str:
    if not USER.match(value):
        raise argparse.ArgumentTypeError(f"'{value}' should look like PLATFORM:USER, for example slack:U012AB3CD")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="online-safety-bot", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", help="the SQLite database file, or a postgresql:// URL for a server database "
                                     "(default data/online-safety-bot.db, or $OSB_DB)")
    common.add_argument("--content", dest="content_dir", help="the content folder (default: the repository's)")
    one_school = argparse.ArgumentParser(add_help=False, parents=[common])
    one_school.add_argument("--school", type=school_arg,
                            help="which school (a school id from `schools list`); needed when there are several")
    sub = parser.add_subparsers(dest="command", required=True)

    chat = sub.add_parser("chat", parents=[one_school], help="talk to the bot in this terminal")
    chat.add_argument("--as", dest="user", type=user_arg, default="console:me", help="who you are, PLATFORM:USER")
    chat.add_argument("--json", action="store_true", help="one JSON line per turn, for scripts and tests")

    serve = sub.add_parser("serve", parents=[common], help="serve the Slack and Teams channels that are configured")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")

    staff = sub.add_parser("staff", help="the staff directory").add_subparsers(dest="action", required=True)
    add = staff.add_parser("add", parents=[one_school], help="add or update a member of staff")
    add.add_argument("user", type=user_arg)
    add.add_argument("--role", required=True, action="append", choices=[r.value for r in Role],
                     help="a role they hold; repeat for each (--role dsl --role headteacher), the main one first")
    add.add_argument("--name", required=True)
    listing = staff.add_parser("list", parents=[one_school], help="list the staff directory")
    listing.add_argument("--json", action="store_true")
    remove = staff.add_parser("remove", parents=[one_school], help="remove a member of staff")
    remove.add_argument("user", type=user_arg)

    cases = sub.add_parser("cases", help="cases").add_subparsers(dest="action", required=True)
    cases_list = cases.add_parser("list", parents=[one_school], help="list cases")
    cases_list.add_argument("--json", action="store_true")
    show = cases.add_parser("show", parents=[one_school], help="show one case and its events")
    show.add_argument("reference")
    show.add_argument("--json", action="store_true")
    export = cases.add_parser("export", parents=[one_school],
                              help="write a case's safeguarding record for the child-protection file")
    export.add_argument("reference")
    export.add_argument("--format", choices=["pdf", "json", "md"], default="pdf", help="pdf (default), json or md")
    export.add_argument("--out", help="where to write it; '-' for standard output "
                                      "(default: REFERENCE.pdf for pdf, standard output for json and md)")
    export.add_argument("--by", type=user_arg, help="who is making the record, PLATFORM:USER; recorded on the case "
                                                    "(default: cli:LOGIN-NAME)")
    verify = cases.add_parser("verify", parents=[one_school], help="check that cases' event logs are unchanged")
    verify.add_argument("reference", nargs="?", help="one case (default: every case)")
    verify.add_argument("--json", action="store_true")
    stats = cases.add_parser("stats", parents=[one_school], help="trends across cases: counts and times, never content")
    stats.add_argument("--json", action="store_true")
    stats.add_argument("--since", type=date_arg, help="only cases reported on or after DATE (YYYY-MM-DD)")
    purge = cases.add_parser("purge", parents=[one_school], help="delete closed cases whose retention period has run out")
    purge.add_argument("--dry-run", action="store_true", help="only list what is due; delete nothing")
    purge.add_argument("--now", type=date_arg, help="decide as on DATE (YYYY-MM-DD); a later date than today "
                                                    "only with --dry-run")
    purge.add_argument("--by", type=user_arg, help="who is purging, PLATFORM:USER; kept on each tombstone "
                                                   "(default: cli:LOGIN-NAME)")
    purge.add_argument("--json", action="store_true")

    schools = sub.add_parser("schools", help="the schools this deployment serves").add_subparsers(
        dest="action", required=True)
    school_add = schools.add_parser("add", parents=[common], help="add a school (or update one)")
    school_add.add_argument("id", type=school_arg, help="a short id: lower-case letters, digits and dashes")
    school_add.add_argument("--name", required=True, help="the school's name, as staff know it")
    school_add.add_argument("--prefix", type=prefix_arg, help="for its case references (default OSB, or $OSB_REFERENCE_PREFIX)")
    school_add.add_argument("--local-content", dest="school_content", metavar="DIR",
                            help="the school's own content folder: its LADO, front door, term dates, wording")
    school_add.add_argument("--slack-team", action="append", default=[], metavar="TEAM_ID",
                            help="a Slack workspace whose staff belong to this school (repeatable)")
    school_add.add_argument("--teams-tenant", action="append", default=[], metavar="TENANT_ID",
                            help="a Microsoft 365 tenant whose staff belong to this school (repeatable)")
    school_add.add_argument("--nation", choices=["england", "wales", "scotland", "northern_ireland"],
                            default="england", help="the UK nation whose statutory guidance the school follows "
                                                    "(default england)")
    school_add.add_argument("--authority", action="store_true",
                            help="this is the local authority's or trust's safeguarding team, not a school: its "
                                 "staff (role authority_safeguarding) get early-warning alerts across schools")
    school_list = schools.add_parser("list", parents=[common], help="list the schools")
    school_list.add_argument("--json", action="store_true")
    school_remove = schools.add_parser("remove", parents=[common], help="remove a school with no staff and no cases")
    school_remove.add_argument("id", type=school_arg)

    trends = sub.add_parser("trends", parents=[common],
                            help="accounts and naming patterns reported by more than one school")
    trends.add_argument("--days", type=float, help="how far back to look (default: the early-warning window)")
    trends.add_argument("--json", action="store_true")

    content = sub.add_parser("content", help="the bot's wording and facts").add_subparsers(dest="action", required=True)
    content.add_parser("check", parents=[common], help="validate content/ and list facts due a re-check")

    package = sub.add_parser("teams-package", help="build the Microsoft Teams app package (zip) to upload")
    package.add_argument("--app-id", required=True, type=guid_arg, help="the bot's Microsoft App ID (a GUID)")
    package.add_argument("--out", default=TEAMS_PACKAGE_NAME, help="where to write the zip (a file, or a folder for "
                         f"{TEAMS_PACKAGE_NAME} in it)")
    package.add_argument("--version", type=manifest_version_arg,
                         help="the app's version (raise it for each update you upload; default: the manifest's)")
    return parser


def school_arg(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", value):
        raise argparse.ArgumentTypeError(f"'{value}' should be a school id: lower-case letters, digits and dashes")
    return value


def prefix_arg(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2,6}", value):
        raise argparse.ArgumentTypeError(f"'{value}' should be 2 to 6 capital letters, like HSA")
    return value


def guid_arg(value: str) -> str:
    from bot.channels.teams.config import is_guid

    if not is_guid(value):
        raise argparse.ArgumentTypeError(f"'{value}' should be a GUID, like 0e9b1c4f-2a6d-4c55-9f1e-5b2d8a7c3e10")
    if not value.strip("0-"):
        raise argparse.ArgumentTypeError(f"'{value}' is the template's placeholder: give the bot's Microsoft App ID")
    return value.lower()


def manifest_version_arg(value: str) -> str:
    """A Teams app version: three numbers, as the manifest schema wants (and higher than the last uploaded)."""
    if not re.fullmatch(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)", value):
        raise argparse.ArgumentTypeError(f"'{value}' should be a version like 1.0.3 (three numbers)")
    return value


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
            return teams_package(args.app_id, args.out, args.version)
        settings = Settings.from_env(db=args.db, content_dir=args.content_dir)
        content = load_content(settings.content_dir)
        if args.command == "content":
            from bot.cases.retention import load_retention, report_categories

            from bot.cases.school_calendar import calendar_path
            from bot.cases.school_calendar import load_calendar

            retention = load_retention(settings.content_dir, settings.retention_file, report_categories(content))
            calendar = load_calendar(calendar_path(settings))
            code = check_content(content, retention=retention)
            until = calendar.covers_until or max(t.end for t in calendar.terms)
            print(f"School calendar {calendar_path(settings)}: terms covered until {until}.")
            if settings.db.startswith(("postgres://", "postgresql://")) or Path(settings.db).is_file():
                asyncio.run(_with_store(settings, lambda store: _check_directories(content, store)))
            return code
        if args.command == "serve":
            return asyncio.run(serve(args, settings, content))
        handler = {"chat": chat, "staff": staff, "cases": cases, "schools": schools, "trends": trends}[args.command]

        async def run(store: Store) -> int:
            school = settings.school_id
            if hasattr(args, "school"):
                school = await _school(store, args.school)
            return await handler(args, settings.model_copy(update={"school_id": school}), content, store)

        return asyncio.run(_with_store(settings, run))
    except (ConfigError, ContentError, StoreError) as exc:
        print(f"online-safety-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


async def _school(store: Store, chosen: str | None) -> str:
    """The school a command is about: the one given, or the only one there is."""
    schools = [s for s in await store.list_schools() if s.kind == "school"]
    ids = [s.id for s in schools]
    if chosen is not None:
        if chosen not in ids:
            raise ConfigError(f"--school {chosen}: no such school (schools: {', '.join(ids) or 'none'})")
        return chosen
    if len(ids) != 1:
        raise ConfigError(f"there are {len(ids)} schools: say which with --school (one of: {', '.join(ids)})")
    return ids[0]


async def schools(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    from bot.core.models import School, Workspace

    if args.action == "add":
        name = " ".join(args.name.split())
        if not name:
            raise ConfigError("--name must not be empty")
        folder = None
        if args.school_content:
            folder = str(Path(args.school_content).resolve())
            load_content(settings.content_dir, Path(folder))  # a mistake in the folder stops here, named
        workspaces = [Workspace(platform="slack", id=t) for t in args.slack_team] + \
            [Workspace(platform="teams", id=t.lower()) for t in args.teams_tenant]
        school = School(id=args.id, name=name, kind="authority" if args.authority else "school",
                        reference_prefix=args.prefix, content_dir=folder, nation=args.nation, workspaces=workspaces)
        await store.upsert_school(school)
        where = ", ".join(f"{w.platform} {w.id}" for w in workspaces) or "no workspace yet"
        print(f"{school.id}: {school.name} ({school.kind} in {content.text(f'nations.{school.nation}.name')}; "
              f"{where}).")
        return 0
    if args.action == "remove":
        await store.remove_school(args.id)  # StoreError, naming why, if it still has staff or cases
        print(f"{args.id} removed.")
        return 0
    found = await store.list_schools()
    if args.json:
        print(json.dumps([s.model_dump(mode="json") for s in found]))
        return 0
    for s in found:
        where = ", ".join(f"{w.platform}:{w.id}" for w in s.workspaces) or "-"
        print(f"{s.id:20} {s.kind:10} {s.reference_prefix or settings.reference_prefix:6} {s.nation:16} {s.name}  "
              f"[{where}]")
    return 0


async def trends(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    """`trends`: accounts and naming patterns that more than one school reported, with counts; never a
    reporter or a case's details."""
    from datetime import datetime, timezone

    from bot.cases.early_warning import find_alerts

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


async def chat(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    from bot.channels.console import run_chat

    # Beside the database, as private as it is (a server database: beside where the command runs).
    exports = (Path(settings.db).resolve().parent if "://" not in settings.db else Path.cwd()) / "exports"
    await run_chat(Bot(content, store, settings, clock=settings.clock()), args.user, args.json, exports)
    return 0


async def serve(args: argparse.Namespace, settings: Settings, content: Content) -> int:
    import os

    from aiohttp import web

    from bot.channels.teams.config import anonymous_refusal
    from bot.app.server import build_app, configured_channels

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = open_store(settings.db)
    await store.claim_server()  # one server per SQLite file: a second one stops here, saying why
    await store.open()
    runner = None
    try:
        bot = Bot(content, store, settings, clock=settings.clock())
        refusal = anonymous_refusal(os.environ, args.host)
        if refusal:
            raise ConfigError(refusal)
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
        member = StaffMember(user=args.user, roles=[Role(r) for r in args.role], name=name, school_id=school)
        await store.upsert_staff(member)
        print(f"{args.user} is {name}, {_role_names(content, member.roles)}.")
        _warn_routing_gaps(content, await store.list_staff(school))
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
    refused = await store.unreachable_users(school, "teams")  # Teams refused their chat for good, and why
    unreachable = {m.user for m in members if m.user.startswith("teams:") and m.user not in on_teams}
    if args.json:
        listed = [{**m.model_dump(mode="json"), "role": m.roles[0].value} for m in members]  # role: the main one
        for entry in listed:
            if entry["user"].startswith("teams:"):
                entry["reachable"] = entry["user"] not in unreachable
                if entry["user"] in refused:
                    entry["unreachable_because"] = refused[entry["user"]]
        print(json.dumps(listed))
        _warn_routing_gaps(content, members)
    elif not members:
        print("The staff directory is empty. Add people with: online-safety-bot staff add PLATFORM:USER --role dsl --name NAME")
    else:
        for m in members:
            note = ""
            if m.user in refused:
                note = f"  (UNREACHABLE on Teams: {UNREACHABLE_BECAUSE.get(refused[m.user], refused[m.user])})"
            elif m.user in unreachable:
                note = "  (cannot be reached on Teams yet: has not opened the bot)"
            print(f"{m.user:30} {','.join(r.value for r in m.roles):30} {m.name}{note}")
        _warn_routing_gaps(content, members)
    return 0


async def _check_directories(content: Content, store: Store) -> int:
    """`content check` with a database: warn where a school's staff directory leaves an allegation nowhere to go."""
    for school in await store.list_schools():
        if school.kind == "school":
            for gap in routing_gaps(await store.list_staff(school.id)):
                print(f"  {school.id}: " + content.text(f"routing_gaps.{gap}").replace("\n", " "))
    return 0


def _role_names(content: Content, roles: list[Role]) -> str:
    return " and ".join(content.text(f"roles.{r.value}") for r in roles)


def _warn_routing_gaps(content: Content, members: list[StaffMember]) -> None:
    """Tell the operator, on stderr, where an allegation would have nobody to go to."""
    for gap in routing_gaps(members):
        print("online-safety-bot: warning: " + content.text(f"routing_gaps.{gap}").strip(), file=sys.stderr)


UNREACHABLE_BECAUSE = {
    "blocked": "Teams says they blocked or removed the bot; it reaches them again once they open it",
    "conversation_gone": "Teams says their chat with the bot no longer exists; it reaches them again once they open it",
}


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
    if args.action in ("export", "verify"):
        return await (export_record if args.action == "export" else verify_chains)(args, settings, content, store)
    if args.action in ("stats", "purge"):
        return await (show_stats if args.action == "stats" else purge_cases)(args, settings, content, store)
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


def _cli_user() -> str:
    import getpass

    try:
        login = re.sub(r"[\s:]+", "_", getpass.getuser())[:128]
    except (KeyError, OSError):  # no login name (some containers)
        login = ""
    return f"cli:{login or 'unknown'}"


async def export_record(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    """`cases export`: record the export on the case (it joins the event chain), then write the record.
    The file is created readable by its owner only: it is a child-protection record."""
    from bot.core.private import write_private
    from bot.cases.record import export_case
    from bot.cases.schools import Schools

    case = await store.get_case(settings.school_id, args.reference)
    if case is None:
        print(f"online-safety-bot: no case {args.reference}", file=sys.stderr)
        return 1
    out = args.out or (f"{case.reference}.pdf" if args.format == "pdf" else "-")
    if out == "-" and args.format == "pdf" and sys.stdout.isatty():
        print("online-safety-bot: not writing a PDF to the terminal; give --out FILE", file=sys.stderr)
        return 2
    scope = await Schools(store, content, settings).scope(case.school_id)  # the case's school, its words and nation
    record, data = await export_case(store, scope, case, by=args.by or _cli_user(), fmt=args.format)
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        target = write_private(out, data)  # 0600, never through a link, never keeping a looser mode
        print(f"{target}: the safeguarding record of {case.reference} ({args.format}).", file=sys.stderr)
    # The chain's head, on every export: kept apart from the server, it pins the log as it is now.
    print(f"{case.reference}: the event log ends at hash {record.integrity.head}", file=sys.stderr)
    if not record.integrity.intact:
        print(f"online-safety-bot: {case.reference}: the event log is broken; the record says where "
              "(run `online-safety-bot cases verify` for details)", file=sys.stderr)
    return 0


async def verify_chains(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    """`cases verify`: recompute each case's event chain. Exit 0 when every chain holds, 1 naming each case
    and the event where its chain breaks."""
    from bot.cases.record import chain_words

    if args.reference:
        case = await store.get_case(settings.school_id, args.reference)
        if case is None:
            print(f"online-safety-bot: no case {args.reference}", file=sys.stderr)
            return 1
        found = [case]
    else:
        found = sorted(await store.list_cases(settings.school_id), key=lambda c: c.reference)
    results = []
    broken = 0
    for case in found:
        report = await store.verify_case_chain(case.id)
        result, problems = chain_words(content, report)
        broken += not report.intact
        results.append({"reference": case.reference, "intact": report.intact, "events": report.events,
                        "unsealed": report.unsealed, "head": report.head, "result": result, "problems": problems,
                        "broken_at": [p.model_dump(mode="json") for p in report.problems]})
        if not args.json:
            print(f"{case.reference}: {result}")
            for problem in problems:
                print(f"  {problem}")
    if args.json:
        print(json.dumps(results))
    elif not found:
        print("No cases yet.")
    elif broken:
        print(f"{broken} of {len(found)} case(s) have a broken event log.", file=sys.stderr)
    return 1 if broken else 0


def date_arg(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' should be a date, YYYY-MM-DD") from None


async def show_stats(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    """`cases stats`: counts, times and repeated accounts; never a reporter, a name or free text."""
    from bot.core.markup import to_plain
    from bot.cases.stats import case_stats, stats_lines

    stats = await case_stats(store, settings.school_id, since=args.since)
    if args.json:
        print(stats.model_dump_json())
    else:
        for line in stats_lines(content, stats):
            print(to_plain(line))
    return 0


async def purge_cases(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    """`cases purge`: list the closed cases whose retention period has run out and, unless --dry-run, delete
    each, leaving a tombstone. Exit 1 if any due case could not be deleted."""
    from datetime import datetime, timezone

    from bot.core.markup import to_plain
    from bot.cases.retention import load_retention, purge, report_categories

    policy = load_retention(settings.content_dir, settings.retention_file, report_categories(content))
    today = datetime.now(timezone.utc).date()
    when = args.now or today
    if when > today and not args.dry_run:
        print(f"online-safety-bot: --now {when} is later than today: use it with --dry-run only; cases are never "
              "deleted before they are due", file=sys.stderr)
        return 2
    result = await purge(store, settings.school_id, policy, when, purged_by=args.by or _cli_user(),
                         dry_run=args.dry_run)
    if args.json:
        print(result.model_dump_json())
        return 1 if result.failed else 0

    def say(key: str, **values: Any) -> None:
        print(to_plain(content.text(key, **values)))

    def period(rule: Any) -> str:
        basis = (content.text("retention.basis.set_by_school", reason=rule.reason or "-") if rule.set_by_school
                 else content.text(f"retention.basis.{rule.basis}"))
        return content.text("retention.period", count=rule.keep_years, status=rule.anchor) + f" ({basis})"

    say("retention.policy", value=", ".join(policy.files))
    for category, rule in policy.categories.items():
        say("retention.rule_category", categories=category, value=period(rule))
    say("retention.rule_default", value=period(policy.default))
    print()
    if result.due:
        say("retention.dry_run" if result.dry_run else "retention.due", date=when.isoformat(), count=len(result.due))
        for d in result.due:
            closed = f"{d.closed_at:%Y-%m-%d}" if d.closed_at else "?"
            print(f"  {d.reference}  {','.join(d.categories):32}  reported {d.created_at:%Y-%m-%d}  closed {closed}"
                  f"  due {d.due_on}  [{d.rule}]")
    else:
        say("retention.none_due", date=when.isoformat())
    if result.not_due:
        say("retention.not_due", count=len(result.not_due), date=result.not_due[0].due_on.isoformat())
    say("retention.open_cases", count=result.open_cases)
    evidence = sum(d.evidence for d in result.due)
    if result.dry_run:
        if evidence:
            say("retention.evidence_due", count=evidence)
        return 0
    for tombstone in result.purged:
        say("retention.purged", reference=tombstone.reference, count=tombstone.events_removed)
        if tombstone.still_mentioned:
            say("retention.still_mentioned", reference=tombstone.reference, value=", ".join(tombstone.still_mentioned))
    for reference, reason in result.failed.items():
        say("retention.failed", reference=reference, reason=reason)
    removed = sum(t.removed.get("evidence", 0) for t in result.purged)
    if removed:
        say("retention.evidence_note", count=removed)
    return 1 if result.failed else 0


TEAMS_MANIFEST_DIR = Path(__file__).resolve().parents[2] / "manifest" / "teams"


TEAMS_PACKAGE_NAME = "online-safety-bot-teams.zip"
PLACEHOLDER_HOST = "bot.example.org"  # the template's developer addresses


def teams_package(app_id: str, out: str, version: str | None = None) -> int:
    """The zip to upload to Teams: the manifest with the bot's app id (and version) filled in, and its two icons."""
    manifest = json.loads((TEAMS_MANIFEST_DIR / "manifest.json").read_text(encoding="utf-8"))
    manifest["id"] = app_id
    if version:
        manifest["version"] = version
    for bot in manifest.get("bots", []):
        bot["botId"] = app_id
    for field in ("privacyUrl", "termsOfUseUrl", "websiteUrl"):
        url = manifest.get("developer", {}).get(field, "")
        if PLACEHOLDER_HOST in url:
            print(f"warning: developer.{field} is still the placeholder {url}: put your school's own page in "
                  f"{TEAMS_MANIFEST_DIR / 'manifest.json'} before staff use the app", file=sys.stderr)
    target = Path(out)
    if target.is_dir() or out.endswith(("/", "\\")):
        target = target / TEAMS_PACKAGE_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        for icon in manifest["icons"].values():
            package.write(TEAMS_MANIFEST_DIR / icon, icon)
    print(f"{target}: upload it in Teams (Apps > Manage your apps > Upload an app) or the Teams admin centre.")
    return 0


def check_content(content: Content, today: date | None = None, retention: Any = None) -> int:
    """Print what was checked, any fact not re-checked at its source for over a year, and any marked unconfirmed."""
    today = today or date.today()
    facts: list[tuple[str, date]] = []
    sourced: list[tuple[str, Any]] = [*(("helplines." + h.id, h) for h in content.facts.helplines.values()),
               *(("rules." + r.id, r) for r in content.facts.rules.values()),
               *((f"safety.{name}", getattr(content.safety, name)) for name in type(content.safety).model_fields)]
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
    stale = [(name, checked) for name, checked in facts if today - checked > timedelta(days=365)]
    print(f"Content {content.version}: {len(content.messages)} messages, {len(content.flows)} flows, "
          f"{len(facts)} facts, each with a source and a checked date.")
    for name, checked in stale:
        print(f"  due a re-check: {name} (last checked {checked})")
    print_unconfirmed_and_nations(content, retention)
    return 0


def print_unconfirmed_and_nations(content: Content, retention: Any = None) -> None:
    """The facts not confirmed at their source, the local contacts still at the shipped default, and which
    facts and wording exist for which UK nation (bot/core/nations.py)."""
    from bot.core.nations import facts_by_nation

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
    unconfirmed = [(name, note) for name, note in unconfirmed if note]
    print(f"{len(unconfirmed)} facts are marked unconfirmed at their source (the bot says so where it shows them):")
    for name, note in unconfirmed:
        print(f"  unconfirmed: {name}: {' '.join(note.split())}")
    front_door = content.facts.helplines.get("front_door")
    if front_door is not None and not (front_door.phone or front_door.url):
        print("  warning: the safeguarding front door is still the shipped default, with no number or link: each "
              "school sets its own local authority's in its content folder (facts/helplines.yaml, id front_door)")
    print("Facts and wording that hold only for some nations (the rest hold for all four):")
    for nation, names in facts_by_nation(content).items():
        listed = ", ".join(names) if names else "none: the bot says its statutory guidance is England's"
        print(f"  {nation}: {listed}")


if __name__ == "__main__":
    sys.exit(main())
