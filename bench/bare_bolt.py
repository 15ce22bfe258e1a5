"""The floor any Bolt app pays: a bare slack-bolt AsyncApp that acks a DM and echoes it with chat.postMessage.

Served the way our server serves Slack (aiohttp, Bolt's aiohttp adapter, request verification on, logging at
INFO with aiohttp's access log), so the comparison measures what our turn adds, nothing else.
`python -m bench.bare_bolt --port N`, with SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_API_URL set.
"""

from __future__ import annotations

import argparse
import logging
import os

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def build() -> web.Application:
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

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web.run_app(build(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
