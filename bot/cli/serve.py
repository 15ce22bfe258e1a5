"""`serve`: the Slack and Teams channels that are configured, and /healthz, until the process is stopped."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os

from bot.cli.args import Parents
from bot.cli.words import CliWords, fail
from bot.core.config import ConfigError, Settings
from bot.core.content import Content
from bot.store import open_store


def register(sub: argparse._SubParsersAction, parents: Parents) -> None:
    serve = sub.add_parser("serve", parents=[parents.common],
                           help="serve the Slack and Teams channels that are configured")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=3000, help="port to listen on (default 3000)")


def main(args: argparse.Namespace, settings: Settings, content: Content) -> int:
    from bot.app.server import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(run(args, settings, content))


async def run(args: argparse.Namespace, settings: Settings, content: Content) -> int:
    from aiohttp import web

    from bot.app.access_log import access_log_options
    from bot.app.server import build_app, configured_channels
    from bot.channels.teams.config import anonymous_refusal
    from bot.conversation.engine import Engine

    say = CliWords(content)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = open_store(settings.db)
    await store.claim_server()  # one server per SQLite file: a second one stops here, saying why
    await store.open()
    runner = None
    try:
        bot = Engine(content, store, settings, clock=settings.clock())
        refusal = anonymous_refusal(os.environ, args.host)
        if refusal:
            raise ConfigError(refusal)
        channels = configured_channels(bot, os.environ)
        if not channels:
            fail(say.text("cli.serve.no_channel"))
        runner = web.AppRunner(build_app(bot, channels), **access_log_options(os.environ))
        await runner.setup()
        await web.TCPSite(runner, args.host, args.port).start()
        # The collector: what start-up loaded (the content, the libraries) lives as long as the process, so a full
        # collection need not walk it again (freeze); and a turn makes thousands of short-lived objects, so the
        # youngest generation is collected every 10,000 rather than 700 (measured by `bench --instructions`: 4% of
        # a Slack turn went on collecting; with both, no more than with the collector off).
        gc.set_threshold(10_000, 20, 20)
        gc.freeze()
        names = ", ".join(c.name for c in channels) or say.text("cli.none")
        fail(say.text("cli.serve.serving", host=args.host, port=args.port, channels=names))
        await asyncio.Event().wait()
        return 0
    finally:
        if runner:
            await runner.cleanup()
        await store.close()
