"""The floor any Microsoft 365 Agents SDK bot pays: a bare echo bot that answers each message with its text.

Served the way our server serves Teams (aiohttp, the SDK's CloudAdapter behind its JWT check, in anonymous
mode, logging at INFO with aiohttp's access log), so the comparison measures what our turn adds.
`python -m bench.bare_agents --port N [--pooled]`.

With `--pooled`, the echo as a production one would run, with the plumbing ours has: its connector clients kept
between turns (the SDK's own factory makes one, with a new connection, per turn: bot/channels/teams/
connector_clients.py, whose sessions write with orjson), on uvloop's event loop.
"""

from __future__ import annotations

import argparse
import logging
import warnings

import uvloop
from aiohttp import web
from aiohttp.web_exceptions import NotAppKeyWarning
from microsoft_agents.activity import Activity, ActivityTypes
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_decorator
from microsoft_agents.hosting.core import TurnContext

from bot.channels.teams.connector_clients import KeptConnectorClients

# What the SDK's load_configuration_from_env makes of CONNECTIONS__SERVICE_CONNECTION__SETTINGS__ANONYMOUS_ALLOWED.
ANONYMOUS = {"AGENTAPPLICATION": {}, "CONNECTIONS": {"SERVICE_CONNECTION": {"SETTINGS": {"ANONYMOUS_ALLOWED": True}}},
             "CONNECTIONSMAP": []}


class Echo:
    async def on_turn(self, context: TurnContext) -> None:
        if context.activity.type == ActivityTypes.message:
            await context.send_activity(Activity(type=ActivityTypes.message, text=context.activity.text or ""))


def build(pooled: bool = False) -> web.Application:
    connections = MsalConnectionManager(**ANONYMOUS)
    if pooled:
        kept = KeptConnectorClients(connections)
        adapter = CloudAdapter(channel_service_client_factory=kept)
    else:
        adapter = CloudAdapter(connection_manager=connections)
    agent = Echo()

    async def messages(request: web.Request) -> web.StreamResponse:
        return await adapter.process(request, agent) or web.Response(status=202)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    api = web.Application()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAppKeyWarning)  # the SDK reads this string key
        api["agent_configuration"] = connections.get_default_connection_configuration()
    api.router.add_post("/messages", jwt_authorization_decorator(messages))
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.add_subapp("/api", api)
    if pooled:
        app.on_cleanup.append(lambda _: kept.close())
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pooled", action="store_true", help="connector clients kept between turns, uvloop")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("microsoft_agents").setLevel(logging.INFO)  # as ours: never the SDK's DEBUG
    web.run_app(build(args.pooled), host="127.0.0.1", port=args.port, print=None,
                loop=uvloop.new_event_loop() if args.pooled else None)


if __name__ == "__main__":
    main()
