"""`schools add | list | remove`: the schools this deployment serves; and which school a command is about."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.cli.args import Parents, prefix_arg, school_arg
from bot.cli.words import CliWords
from bot.core.config import ConfigError, Settings
from bot.core.content import Content, load_content
from bot.core.models import School, Workspace
from bot.store import Store


def register(sub: argparse._SubParsersAction, parents: Parents) -> None:
    group = sub.add_parser("schools", help="the schools this deployment serves")
    group.set_defaults(run=run)
    schools = group.add_subparsers(dest="action", required=True)
    school_add = schools.add_parser("add", parents=[parents.common], help="add a school (or update one)")
    school_add.add_argument("id", type=school_arg, help="a short id: lower-case letters, digits and dashes")
    school_add.add_argument("--name", required=True, help="the school's name, as staff know it")
    school_add.add_argument("--prefix", type=prefix_arg,
                            help="for its case references (default OSB, or $OSB_REFERENCE_PREFIX)")
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
    school_list = schools.add_parser("list", parents=[parents.common], help="list the schools")
    school_list.add_argument("--json", action="store_true")
    school_remove = schools.add_parser("remove", parents=[parents.common],
                                       help="remove a school with no staff and no cases")
    school_remove.add_argument("id", type=school_arg)


async def run(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    if args.action == "add":
        return await add(args, settings, content, store)
    say = CliWords(content)
    if args.action == "remove":
        await store.remove_school(args.id)  # StoreError, naming why, if it still has staff or cases
        print(say.text("cli.removed", user=args.id))
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


async def add(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    say = CliWords(content)
    name = " ".join(args.name.split())
    if not name:
        raise ConfigError(say.text("cli.name_empty"))
    folder = None
    if args.school_content:
        folder = str(Path(args.school_content).resolve())
        load_content(settings.content_dir, Path(folder))  # a mistake in the folder stops here, named
    workspaces = [Workspace(platform="slack", id=t) for t in args.slack_team] + \
        [Workspace(platform="teams", id=t.lower()) for t in args.teams_tenant]
    school = School(id=args.id, name=name, kind="authority" if args.authority else "school",
                    reference_prefix=args.prefix, content_dir=folder, nation=args.nation, workspaces=workspaces)
    await store.upsert_school(school)
    where = ", ".join(f"{w.platform} {w.id}" for w in workspaces) or say.text("cli.schools.no_workspace")
    print(say.text("cli.schools.added", school=school.id, name=school.name, kind=school.kind,
                   nation=content.text(f"nations.{school.nation}.name"), where=where))
    return 0


async def school_of(store: Store, chosen: str | None, content: Content) -> str:
    """The school a command is about: the one given, or the only one there is."""
    say = CliWords(content)
    ids = [s.id for s in await store.list_schools() if s.kind == "school"]
    if chosen is not None:
        if chosen not in ids:
            raise ConfigError(say.text("cli.school.unknown", school=chosen,
                                       value=", ".join(ids) or say.text("cli.none")))
        return chosen
    if len(ids) != 1:
        raise ConfigError(say.text("cli.school.which", count=len(ids), value=", ".join(ids)))
    return ids[0]
