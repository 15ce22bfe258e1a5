"""`chat`: talk to the bot in this terminal (the console channel)."""

from __future__ import annotations

import argparse

from bot.cli.args import Parents, user_arg
from bot.cli.database import exports_folder
from bot.core.config import Settings
from bot.core.content import Content
from bot.store import Store


def register(sub: argparse._SubParsersAction, parents: Parents) -> None:
    chat = sub.add_parser("chat", parents=[parents.one_school], help="talk to the bot in this terminal")
    chat.add_argument("--as", dest="user", type=user_arg, default="console:me", help="who you are, PLATFORM:USER")
    chat.add_argument("--json", action="store_true", help="one JSON line per turn, for scripts and tests")
    chat.set_defaults(run=run)


async def run(args: argparse.Namespace, settings: Settings, content: Content, store: Store) -> int:
    from bot.channels.console import run_chat
    from bot.conversation.engine import Engine

    # Beside the database, as private as it is (a server database: beside where the command runs).
    exports = exports_folder(settings)
    await run_chat(Engine(content, store, settings, clock=settings.clock()), args.user, args.json, exports)
    return 0
