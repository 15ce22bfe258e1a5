"""The command line:
`online-safety-bot chat | serve | schools | staff | cases | trends | flows | content | teams-package`."""

# The parser and `main` are here; each command group is a module of its own with `register(sub, parents)`, which
# adds its parser (and, for a command that works on one school's store, `run` as the parser's default), and its
# handlers. The words it prints are in content/messages/cli.yaml.

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from bot.cli import cases, chat, flows, schools, serve, staff, teams_package, trends
from bot.cli import content as content_check
from bot.cli.args import parents
from bot.cli.content import check_content
from bot.cli.database import with_store
from bot.cli.words import fail
from bot.core.config import ConfigError, Settings
from bot.core.content import ContentError, load_content
from bot.store import Store, StoreError

__all__ = ["build_parser", "check_content", "main"]

# In the order `--help` lists them.
GROUPS = (chat, serve, staff, cases, schools, trends, flows, content_check, teams_package)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="online-safety-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    shared = parents()
    for group in GROUPS:
        group.register(sub, shared)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "teams-package":
            return teams_package.run(args)
        settings = Settings.from_env(db=args.db, content_dir=args.content_dir)
        content = load_content(settings.content_dir)
        if args.command == "content":
            return content_check.run(args, settings, content)
        if args.command == "flows":
            return flows.run(args, content)
        if args.command == "serve":
            return serve.main(args, settings, content)

        async def run(store: Store) -> int:
            school = settings.school_id
            if hasattr(args, "school"):
                school = await schools.school_of(store, args.school, content)
            return int(await args.run(args, settings.model_copy(update={"school_id": school}), content, store))

        return asyncio.run(with_store(settings, run))
    except (ConfigError, ContentError, StoreError) as exc:
        fail(str(exc))
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0

