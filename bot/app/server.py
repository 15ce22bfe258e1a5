"""`serve`: one aiohttp application carrying every channel whose configuration is present.

A school may use only Slack or only Teams: a channel with no configuration is simply off, and one
whose configuration is present but wrong stops start-up with a message naming the setting.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Mapping, Protocol

from aiohttp import web

from bot.app.scheduler import Scheduler
from bot.cases.retention import PRUNE_SECONDS, prune_expired
from bot.conversation.engine import Engine
from bot.core.periodic import Periodic

log = logging.getLogger(__name__)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """`serve`'s event loop: uvloop's where it is installed (not on Windows), fewer instructions and system calls
    per turn than asyncio's own; asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


class Channel(Protocol):
    name: str

    def mount(self, app: web.Application) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def configured_channels(bot: Engine, env: Mapping[str, str]) -> list[Channel]:
    """The channels whose settings are in `env` (ConfigError if any is present but wrong)."""
    from bot.channels.slack import SlackChannel, slack_config
    from bot.channels.teams import TeamsChannel, teams_config

    channels: list[Channel] = []
    slack = slack_config(env)
    if slack:
        channels.append(SlackChannel(bot, slack))
    teams = teams_config(env)
    if teams:
        channels.append(TeamsChannel(bot, teams))
    return channels


def build_app(bot: Engine, channels: list[Channel]) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)

    async def healthz(request: web.Request) -> web.Response:
        # A channel that cannot work at all (its only token revoked, say) says why in `unusable`; a channel
        # that can never become unusable need not have the attribute.
        unusable = {c.name: reason for c in channels if (reason := getattr(c, "unusable", None))}
        body = {"ok": not unusable, "channels": [c.name for c in channels],
                **({"unusable": unusable} if unusable else {})}
        return web.json_response(body, status=503 if unusable else 200)

    app.router.add_get("/healthz", healthz)
    for channel in channels:
        channel.mount(app)
    # The scheduler reads the school calendar now: a bad one stops start-up, naming the field.
    scheduler = Scheduler(bot.store, bot.settings, bot.schools, bot.clock)
    # Turn ids, delivered notifications and OAuth states past their use (bot/cases/retention.py).
    housekeeping = Periodic("pruning", PRUNE_SECONDS, lambda: prune_expired(bot.store, bot.clock()))

    async def start(_: web.Application) -> None:
        for channel in channels:
            await channel.start()
        scheduler.start()
        housekeeping.start()

    async def stop(_: web.Application) -> None:
        await housekeeping.stop()
        await scheduler.stop()
        for channel in channels:
            await channel.stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
