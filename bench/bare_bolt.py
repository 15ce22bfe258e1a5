"""The floor any Bolt app pays: a bare slack-bolt AsyncApp that acks a DM and echoes it with chat.postMessage.

Served the way our server serves Slack (aiohttp, Bolt's aiohttp adapter, request verification on, logging at
INFO with aiohttp's access log), so the comparison measures what our turn adds, nothing else.
`python -m bench.bare_bolt --port N [--pooled]`, with SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_API_URL set.

With `--pooled`, the echo as a production one would run, with the plumbing ours has: one pooled Web API session
(slack-sdk's default opens a connection per call) writing its bodies with orjson, on uvloop's event loop.
"""

from __future__ import annotations

import argparse
import logging
import os

import aiohttp
import orjson
import uvloop
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def build(pooled: bool = False) -> web.Application:
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    bolt = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    @bolt.event("message")
    async def echo(event, client) -> None:
        if event.get("channel_type") == "im" and not event.get("bot_id"):
            await client.chat_postMessage(channel=event["channel"], text=event.get("text") or "")

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def pool(_: web.Application) -> None:
        client.session = aiohttp.ClientSession(json_serialize_bytes=orjson.dumps)

    async def close(_: web.Application) -> None:
        if client.session:
            await client.session.close()

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    if pooled:
        app.on_startup.append(pool)
        app.on_cleanup.append(close)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pooled", action="store_true", help="a pooled Web API session, orjson, uvloop")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web.run_app(build(args.pooled), host="127.0.0.1", port=args.port, print=None,
                loop=uvloop.new_event_loop() if args.pooled else None)


if __name__ == "__main__":
    main()
