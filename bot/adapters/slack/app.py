"""The Slack channel: slack-bolt's AsyncApp, translating Slack payloads to turns and replies to Block Kit.

Everyone's conversation with the bot lives in their direct-message channel with it, whether they
typed there, used `/online-safety` somewhere else, or pressed a button on the App Home tab. Nothing
is ever posted anywhere but a DM.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.blocks import (
    CHOICE_ACTION,
    CONTINUE_ACTION,
    FORM_CALLBACK,
    PICK_ACTION,
    answered,
    form_modal,
    form_values,
    home_view,
    reply_message,
)
from bot.adapters.slack.config import SlackConfig
from bot.markup import to_plain
from bot.periodic import Periodic
from bot.engine import Bot
from bot.models import Attachment, Notification, Reply, Turn

log = logging.getLogger(__name__)


def _no_debug(name: str) -> logging.Logger:
    """A logger that never passes DEBUG, whatever the root level: slack-sdk and slack-bolt log whole
    request and response bodies (so case content) at DEBUG, and case content never goes into logs."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    return logger

PLATFORM = "slack"
DELIVERY_INTERVAL_SECONDS = 2.0


def from_slack_text(text: str | None) -> str:
    """Slack's message markup back to what the person typed: links and entities unwrapped."""
    if not text:
        return ""
    text = re.sub(r"<(https?://[^|>]+)(?:\|[^>]*)?>", r"\1", text)
    text = re.sub(r"<mailto:([^|>]+)(?:\|[^>]*)?>", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def to_attachments(files: list[dict[str, Any]] | None) -> list[Attachment]:
    """Files shared in the DM, recorded by reference: the bot never downloads them."""
    return [
        Attachment(name=f.get("name") or f.get("title") or f.get("id", "file"), ref=f.get("permalink") or f"slack-file:{f.get('id')}",
                   content_type=f.get("mimetype"), size=f.get("size"))
        for f in files or [] if isinstance(f, dict)
    ]


class SlackChannel:
    name = "slack"

    def __init__(self, bot: Bot, config: SlackConfig, school_id: str = "default"):
        self.bot = bot
        self.config = config
        self.school_id = school_id
        client_args = {
            "token": config.bot_token, "logger": _no_debug("bot.adapters.slack.web_api"),
            # slack-sdk's own handlers: wait as long as a 429's Retry-After says, retry 5xx and dropped connections.
            "retry_handlers": [AsyncRateLimitErrorRetryHandler(max_retry_count=3),
                               AsyncServerErrorRetryHandler(max_retry_count=2),
                               AsyncConnectionErrorRetryHandler(max_retry_count=2)],
        }
        if config.api_url:
            client_args["base_url"] = config.api_url
        self.client = AsyncWebClient(**client_args)
        self.app = AsyncApp(
            client=self.client,
            signing_secret=config.signing_secret,
            # Socket Mode has no HTTP endpoint to verify; the HTTP route is only mounted with a signing secret.
            request_verification_enabled=config.signing_secret is not None,
            raise_error_for_unhandled_request=False,
            logger=_no_debug("bot.adapters.slack.bolt"),
        )
        self._dm_channels: dict[str, str] = {}
        self._delivery = asyncio.Lock()
        self._socket: AsyncSocketModeHandler | None = None
        self._delivery_loop = Periodic("slack delivery", DELIVERY_INTERVAL_SECONDS, self.deliver_pending)
        self._register()

    # --- wiring into the server ----------------------------------------------------------

    def mount(self, web_app: web.Application) -> None:
        if self.config.signing_secret:
            web_app.router.add_post("/slack/events", self._http)

    async def _http(self, request: web.Request) -> web.Response:
        return await to_aiohttp_response(await self.app.async_dispatch(await to_bolt_request(request)))

    async def start(self) -> None:
        if self.config.socket_mode:
            self._socket = AsyncSocketModeHandler(self.app, self.config.app_token,
                                                  logger=_no_debug("bot.adapters.slack.socket_mode"))
            await self._socket.connect_async()
        self._delivery_loop.start()

    async def stop(self) -> None:
        await self._delivery_loop.stop()
        if self._socket:
            await self._socket.close_async()

    # --- listeners -----------------------------------------------------------------------

    def _register(self) -> None:
        app = self.app
        app.event("message")(self._on_message)
        app.event("app_home_opened")(self._on_home_opened)
        app.command("/online-safety")(self._on_command)
        app.action(re.compile(rf"^{CHOICE_ACTION}_\d+$"))(self._on_choice)
        app.action(CONTINUE_ACTION)(self._on_continue)
        app.action(PICK_ACTION)(self._on_checkbox)
        app.view(FORM_CALLBACK)(self._on_form)
        app.error(self._on_error)

    async def _on_error(self, error: Exception) -> None:
        # The error's type only: its message could carry case content.
        log.error("slack listener failed: %s", type(error).__name__)

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("channel_type") != "im" or event.get("bot_id") or not event.get("user"):
            return
        if event.get("subtype") not in (None, "file_share"):
            return
        turn = Turn(
            platform=PLATFORM, user_id=event["user"], conversation_id=event["channel"], school_id=self.school_id,
            text=from_slack_text(event.get("text")), attachments=to_attachments(event.get("files")),
            turn_id=f"event:{body.get('event_id') or event.get('client_msg_id') or event.get('ts')}",
        )
        self._dm_channels[event["user"]] = event["channel"]
        await self._run(turn, event["channel"])

    async def _on_command(self, ack, command: dict[str, Any]) -> None:
        await ack(text=self.bot.content.text("common.continue_in_dm"))
        user = command["user_id"]
        channel = await self.dm_channel(user)
        text = from_slack_text(command.get("text")).strip()
        turn = Turn(platform=PLATFORM, user_id=user, conversation_id=channel, school_id=self.school_id,
                    kind="message" if text else "open", text=text or None,
                    turn_id=f"command:{command.get('trigger_id')}" if command.get("trigger_id") else None)
        await self._run(turn, channel)

    async def _on_home_opened(self, event: dict[str, Any]) -> None:
        if event.get("tab") == "home":
            await self.publish_home(event["user"])

    async def _on_checkbox(self, ack) -> None:
        await ack()  # ticking a box is not an answer yet; "Continue" sends the ticked ones

    async def _on_choice(self, ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        try:
            value = json.loads(action.get("value") or "")
            picked, asks = str(value["c"]), value.get("q")
        except (ValueError, KeyError, TypeError):
            return
        await self._answer(body, action, [picked], asks, action.get("text", {}).get("text", ""))

    async def _on_continue(self, ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        try:
            asks = json.loads(action.get("value") or "{}").get("q")
        except ValueError:
            return
        picked, labels = [], []
        for block in (body.get("state") or {}).get("values", {}).values():
            for option in (block.get(PICK_ACTION) or {}).get("selected_options") or []:
                picked.append(str(option.get("value")))
                labels.append(option.get("text", {}).get("text", ""))
        await self._answer(body, action, picked, asks, ", ".join(labels))

    async def _answer(self, body: dict[str, Any], action: dict[str, Any], picked: list[str], asks: str | None,
                      label: str) -> None:
        user = body["user"]["id"]
        from_home = (body.get("container") or {}).get("type") == "view"
        channel = await self.dm_channel(user) if from_home else body["channel"]["id"]
        turn = Turn(
            platform=PLATFORM, user_id=user, conversation_id=channel, school_id=self.school_id,
            choices=picked, answering=asks, text=None if picked else "", forms=bool(body.get("trigger_id")), files=True,
            turn_id=f"action:{user}:{action.get('action_ts') or body.get('trigger_id')}",
        )
        replies = await self.bot.handle(turn)
        for reply in [r for r in replies if r.form]:
            metadata = json.dumps({"form": reply.form.id})
            await self.client.views_open(trigger_id=body["trigger_id"], view=form_modal(reply.form, metadata))
        replies = [r for r in replies if not r.form]
        message = body.get("message")
        if message and asks is not None and not from_home:
            moved_on = bool(replies) and replies[0].key == "common.moved_on"
            note = None if moved_on else self.bot.content.text("common.you_chose", value=label)
            await self.client.chat_update(channel=channel, ts=message["ts"], text=message.get("text", ""),
                                          blocks=answered(message.get("blocks", []), note))
        await self._post(channel, user, replies)
        await self.deliver_pending()
        if from_home:
            await self.publish_home(user)

    async def _on_form(self, ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()  # closes the modal; the outcome arrives in the DM
        user = body["user"]["id"]
        try:
            form_id = str(json.loads(view.get("private_metadata") or "{}")["form"])
        except (ValueError, KeyError, TypeError):
            return
        channel = await self.dm_channel(user)
        turn = Turn(platform=PLATFORM, user_id=user, conversation_id=channel, school_id=self.school_id,
                    form_id=form_id, form_values=form_values(view), turn_id=f"view:{view.get('id')}")
        await self._run(turn, channel)

    # --- sending -------------------------------------------------------------------------

    async def _run(self, turn: Turn, channel: str) -> None:
        replies = await self.bot.handle(turn)
        await self._post(channel, turn.user_id, replies)
        await self.deliver_pending()

    async def dm_channel(self, user_id: str) -> str:
        channel = self._dm_channels.get(user_id)
        if channel is None:
            response = await self.client.conversations_open(users=user_id)
            channel = response["channel"]["id"]
            self._dm_channels[user_id] = channel
        return channel

    async def _post(self, channel: str, user_id: str, replies: list[Reply]) -> None:
        label = self.bot.content.text("common.continue_label")
        for reply in replies:
            if reply.file:  # a record for the person who asked: uploaded into their DM only
                await self.client.files_upload_v2(channel=channel, file=reply.file.content, filename=reply.file.name,
                                                  title=reply.file.name, initial_comment=to_plain(reply.text),
                                                  request_file_info=False)
                continue
            response = await self.client.chat_postMessage(channel=channel, **reply_message(reply, label))
            if reply.card:
                await self.bot.store.record_card_post(self.school_id, reply.card.reference, f"{PLATFORM}:{user_id}",
                                                      channel, response["ts"])

    async def publish_home(self, user_id: str) -> None:
        replies = await self.bot.home(self.school_id, f"{PLATFORM}:{user_id}")
        await self.client.views_publish(user_id=user_id, view=home_view(replies))

    async def deliver_pending(self) -> None:
        """Push waiting notifications to their recipients' DMs; each is marked delivered once sent."""
        async with self._delivery:
            for note in await self.bot.store.pending_notifications(PLATFORM):
                try:
                    await self._deliver(note)
                except SlackApiError as exc:
                    log.warning("slack delivery failed (%s); it will be retried", exc.response.get("error"))
                    continue
                await self.bot.store.mark_delivered(note.id)

    async def _deliver(self, note: Notification) -> None:
        user_id = note.recipient.partition(":")[2]
        label = self.bot.content.text("common.continue_label")
        if note.kind == "card_update":
            for reply in note.replies:
                if not reply.card:
                    continue
                for channel, ts in await self.bot.store.card_posts(note.school_id, reply.card.reference, note.recipient):
                    await self.client.chat_update(channel=channel, ts=ts, **reply_message(reply, label))
            return
        await self._post(await self.dm_channel(user_id), user_id, note.replies)
