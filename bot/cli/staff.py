"""`staff add | list | remove`: the staff directory of one school, with a warning wherever an allegation would have
nobody to go to."""

from __future__ import annotations

import argparse
import json

from bot.cases.routing import routing_gaps
from bot.cli.args import Parents, user_arg
from bot.cli.words import CliWords, fail
from bot.core.config import Settings
from bot.core.content import Content
from bot.core.models import Role, StaffMember, utcnow
from bot.store import Store


def register(sub: argparse._SubParsersAction, parents: Parents) -> None:
    group = sub.add_parser("staff", help="the staff directory")
    group.set_defaults(run=run)
    staff = group.add_subparsers(dest="action", required=True)
    add = staff.add_parser("add", parents=[parents.one_school], help="add or update a member of staff")
    add.add_argument("user", type=user_arg)
    add.add_argument("--role", required=True, action="append", choices=[r.value for r in Role],
                     help="a role they hold; repeat for each (--role dsl --role headteacher), the main one first")
    add.add_argument("--name", required=True)
    listing = staff.add_parser("list", parents=[parents.one_school], help="list the staff directory")
    listing.add_argument("--json", action="store_true")
    remove = staff.add_parser("remove", parents=[parents.one_school], help="remove a member of staff")
    remove.add_argument("user", type=user_arg)
    digest = staff.add_parser("digest", parents=[parents.one_school],
                              help="turn a case handler's morning summary of their open cases on or off")
    digest.add_argument("user", type=user_arg)
    digest.add_argument("setting", choices=["on", "off"])


async def run(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    say = CliWords(content)
    if args.action == "add":
        return await add(args, settings, content, store)
    if args.action == "remove":
        if await store.remove_staff(settings.school_id, args.user):
            print(say.text("cli.removed", user=args.user))
            return 0
        fail(say.text("cli.staff.not_found", user=args.user))
        return 1
    if args.action == "digest":
        await store.set_morning_digest(settings.school_id, args.user, args.setting == "on", utcnow())
        print(say.text("cli.staff.digest", user=args.user, setting=args.setting))
        return 0
    return await listing(args, settings, content, store)


async def add(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    say = CliWords(content)
    name = " ".join(args.name.split())
    if not name:
        fail(say.text("cli.name_empty"))
        return 2
    member = StaffMember(user=args.user, roles=[Role(r) for r in args.role], name=name, school_id=settings.school_id)
    await store.upsert_staff(member)
    print(say.text("cli.staff.added", user=args.user, name=name, role=role_names(content, member.roles)))
    warn_routing_gaps(content, await store.list_staff(settings.school_id))
    return 0


async def listing(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    school = settings.school_id
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
    elif not members:
        print(CliWords(content).text("cli.staff.empty"))
    else:
        for m in members:
            note = reachability(content, m.user in unreachable, refused.get(m.user))
            print(f"{m.user:30} {','.join(r.value for r in m.roles):30} {m.name}{note}")
    if args.json or members:
        warn_routing_gaps(content, members)
    return 0


def reachability(content: Content, unreachable: bool, refused_because: str | None) -> str:
    """A note after someone on Teams the bot cannot write to yet, or any more; nothing for anyone else."""
    say = CliWords(content)
    if refused_because is not None:
        key = f"cli.staff.unreachable_because.{refused_because}"
        reason = say.text(key) if key in content.messages else refused_because
        return "  " + say.text("cli.staff.unreachable", reason=reason)
    if unreachable:
        return "  " + say.text("cli.staff.not_reachable_yet")
    return ""


def role_names(content: Content, roles: list[Role]) -> str:
    return " and ".join(content.text(f"roles.{r.value}") for r in roles)


def warn_routing_gaps(content: Content, members: list[StaffMember]) -> None:
    """Tell the operator, on stderr, where an allegation would have nobody to go to."""
    say = CliWords(content)
    for gap in routing_gaps(members):
        fail(say.text("cli.warning", value=content.text(f"routing_gaps.{gap}").strip()))
