"""Slack's HTTP requests: the signature checked on the raw body before anything parses it, the request kept in the
inbox (bot/channels/slack/inbox.py) before Slack is acknowledged, then Bolt's dispatch; and the install pages."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.channels.slack.inbox import Inbox
from bot.channels.slack.payloads import bolt_body, well_formed
from bot.store import StoreError

log = logging.getLogger("bot.channels.slack.app")  # where these lines have always been logged

SIGNATURE_WINDOW_SECONDS = 5 * 60


class SlackRequests:
    def __init__(self, app: AsyncApp, signing_secret: str | None, inbox: Inbox):
        self.app = app
        self.inbox = inbox
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def install(self, request: web.Request) -> web.Response:
        """Bolt's install page: a link to Slack's authorize page, with a fresh state (also set as a cookie)."""
        flow = self.app.oauth_flow
        if flow is None:  # not mounted without installations
            raise web.HTTPNotFound()
        return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

    async def oauth_redirect(self, request: web.Request) -> web.Response:
        """Where Slack sends the installer back: Bolt checks the state and keeps the installation."""
        flow = self.app.oauth_flow
        if flow is None:
            raise web.HTTPNotFound()
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    async def events(self, request: web.Request) -> web.Response:
        """The signature checked on the raw body before anything parses it; then the request kept in the inbox
        before Slack is acknowledged, and dispatched."""
        try:
            body = (await request.read()).decode("utf-8")  # Slack signs UTF-8 text; nothing is parsed yet
        except UnicodeDecodeError:
            log.warning("slack request refused: not a Slack payload (not UTF-8)")
            return web.json_response({"error": "bad request"}, status=400)
        if not self._signed(request.headers, body):
            return web.json_response({"error": "invalid request"}, status=401)
        if "\x00" in body:  # never in what Slack sends (JSON escapes it), and no database keeps it as text
            log.warning("slack request refused: not a Slack payload (a NUL byte)")
            return web.json_response({"error": "bad request"}, status=400)
        try:
            kept = await self.inbox.keep(body, request.content_type)
        except StoreError as exc:  # not acknowledged, so Slack sends it again
            log.error("slack request not kept: %s", type(exc).__name__)
            return web.json_response({"error": "try again"}, status=503)
        try:
            return await self.dispatch(body, request.headers)
        finally:
            await self.inbox.dispatched(kept)

    def _signed(self, headers: Any, body: str) -> bool:
        """Slack's signature over exactly this body, within five minutes. A refusal leaves a WARNING saying why,
        never the body."""
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            log.warning("slack request refused: no usable timestamp")
            return False
        if abs(time.time() - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:
            log.warning("slack request refused: outside the five-minute window")
            return False
        signature = headers.get("X-Slack-Signature", "")
        if self._verifier is None or not self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            log.warning("slack request refused: bad signature")
            return False
        return True

    async def dispatch(self, body: str, headers: Any) -> web.Response:
        """Bolt's dispatch of a signed request (or of one kept in the inbox). One Bolt cannot read (signed, but not
        what Slack sends, however deeply nested) gets 400, never a 500."""
        try:
            bolt_request = AsyncBoltRequest(body=bolt_body(body), headers=headers)
            if not well_formed(bolt_request.body):
                raise ValueError("not a Slack payload")
            response = await self.app.async_dispatch(bolt_request)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
            log.warning("slack request refused: not a Slack payload (%s)", type(exc).__name__)
            return web.json_response({"error": "bad request"}, status=400)
        if response.status >= 500:
            log.warning("slack request refused: not a Slack payload")
            return web.json_response({"error": "bad request"}, status=400)
        return await to_aiohttp_response(response)

    async def replay_inbox(self) -> None:
        """Run what a stopped process (or this one) kept and did not finish."""
        await self.inbox.replay(lambda body, content_type: self.dispatch(body, {"content-type": content_type}))
