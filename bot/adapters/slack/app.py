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
import time
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from aiohttp import ClientOSError, ServerConnectionError, ServerDisconnectedError
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
    fallback,
    form_modal,
    form_values,
    home_view,
    reply_message,
)
from bot.adapters.slack.config import SlackConfig
from bot.adapters.slack.installations import (
    BOT_SCOPES,
    NotInstalled,
    Speaker,
    StoreInstallations,
    StoreOAuthStates,
    Workspaces,
)
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
WEB_API_TIMEOUT_SECONDS = 10  # slack-sdk's default is 30: a call that slow is retried sooner instead
# Installing into many workspaces (README, "Slack for many workspaces").
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
OAUTH_STATE_SECONDS = 600  # how long an install link stays good


# A link as Slack writes one: `<https://…|label>`. Neither part can hold a `<` (Slack escapes it as &lt;), so a
# match never runs past the next `<`: linear on any text, even a raw `<` sent through the API.
_SLACK_LINK = re.compile(r"<((?:https?://|mailto:)[^|<>]+)(?:\|[^<>]*)?>")


def from_slack_text(text: str | None, max_chars: int) -> str:
    """Slack's message markup back to what the person typed: links and entities unwrapped. Unwrapping only
    shortens text, so text over twice `max_chars` (Slack allows 40,000) is too long whatever it unwraps to:
    it is cut to just over the limit, unread, for the engine to refuse kindly."""
    if not text:
        return ""
    if len(text) > 2 * max_chars:
        return text[:max_chars + 1]
    text = _SLACK_LINK.sub(lambda m: m.group(1).removeprefix("mailto:"), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def to_attachments(files: list[dict[str, Any]] | None) -> list[Attachment]:
    """Files shared in the DM, recorded by reference: the bot never downloads them."""
    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    return [
        Attachment(name=text(f.get("name")) or text(f.get("title")) or text(f.get("id")) or "file",
                   ref=text(f.get("permalink")) or f"slack-file:{text(f.get('id'))}", content_type=text(f.get("mimetype")),
                   size=f.get("size") if isinstance(f.get("size"), int) and not isinstance(f.get("size"), bool) else None)
        for f in files if isinstance(f, dict)
    ] if isinstance(files, list) else []


_OBJECTS = ("event", "user", "team", "channel", "container", "message", "view", "enterprise", "state")


def well_formed(body: Any) -> bool:
    """The shape slack-bolt relies on before any listener runs (it raises on anything else). A null object is
    what Slack sends for an absent one (`"enterprise": null` outside Enterprise Grid, in every interaction), so
    it is accepted: only a value that is neither an object nor null is refused."""
    if not isinstance(body, dict) or not isinstance(body.get("type", ""), str):
        return False
    if any(body.get(key) is not None and not isinstance(body[key], dict) for key in _OBJECTS):
        return False
    if not isinstance((body.get("event") or {}).get("type", ""), str):
        return False
    actions = body.get("actions", [])
    return isinstance(actions, list) and all(isinstance(a, dict) for a in actions)


def _team_of(body: dict[str, Any]) -> str | None:
    """The workspace an interaction came from."""
    team = body.get("team") or {}
    return (team.get("id") if isinstance(team, dict) else None) or (body.get("user") or {}).get("team_id")


class SlackChannel:
    name = "slack"

    def __init__(self, bot: Bot, config: SlackConfig):
        self.bot = bot
        self.config = config
        client_args = {
            "token": config.bot_token, "logger": _no_debug("bot.adapters.slack.web_api"),
            "timeout": WEB_API_TIMEOUT_SECONDS,
            # slack-sdk's own handlers: wait as long as a 429's Retry-After says, retry 5xx and dropped connections.
            "retry_handlers": [AsyncRateLimitErrorRetryHandler(max_retry_count=3),
                               AsyncServerErrorRetryHandler(max_retry_count=2),
                               # ...and a call that got no answer within the timeout (slack-sdk leaves those out).
                               AsyncConnectionErrorRetryHandler(max_retry_count=2, error_types=[
                                   ServerConnectionError, ServerDisconnectedError, ClientOSError, asyncio.TimeoutError])],
        }
        if config.api_url:
            client_args["base_url"] = config.api_url
        self.client = AsyncWebClient(**client_args)  # with installations (config.oauth), it holds no token itself
        bolt_logger = _no_debug("bot.adapters.slack.bolt")
        installations = oauth = None
        if config.oauth:
            installations = StoreInstallations(bot.store, config.token_key, on_change=lambda team: self.workspaces.forget(team))
            oauth = AsyncOAuthSettings(
                client_id=config.client_id, client_secret=config.client_secret, scopes=list(BOT_SCOPES),
                user_scopes=[], installation_store=installations, install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH, state_store=StoreOAuthStates(bot.store, OAUTH_STATE_SECONDS),
                state_expiration_seconds=OAUTH_STATE_SECONDS, logger=bolt_logger)
            # Bolt asks Slack's auth.test about the token on every request unless told to remember the answer.
            oauth.authorize.cache_enabled = True
        self.workspaces = Workspaces(self.client, bot.store, installations)
        self.app = AsyncApp(
            client=self.client,
            signing_secret=config.signing_secret,
            # Socket Mode has no HTTP endpoint to verify; the HTTP route is only mounted with a signing secret.
            request_verification_enabled=config.signing_secret is not None,
            raise_error_for_unhandled_request=False,
            logger=bolt_logger,
            oauth_settings=oauth,
        )
        if oauth:
            self.app.enable_token_revocation_listeners()  # app_uninstalled, tokens_revoked: forget the tokens
        # slack-bolt logs a refused request's whole body at INFO: never let that through (`_http` says why instead).
        logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.WARNING)
        self._dm_channels: dict[tuple[str | None, str], str] = {}  # (workspace, user) -> their DM with the bot
        self._delivery = asyncio.Lock()
        self._delivery_calls = self._delivery_covered = 0  # deliver_pending calls made, and covered by a finished round
        self._socket: AsyncSocketModeHandler | None = None
        self._delivery_loop = Periodic("slack delivery", DELIVERY_INTERVAL_SECONDS, self.deliver_pending)
        self._register()

    # --- wiring into the server ----------------------------------------------------------

    def mount(self, web_app: web.Application) -> None:
        if self.config.signing_secret:
            web_app.router.add_post("/slack/events", self._http)
        if self.app.oauth_flow:
            web_app.router.add_get(INSTALL_PATH, self._install)
            web_app.router.add_get(REDIRECT_PATH, self._oauth_redirect)

    async def _install(self, request: web.Request) -> web.Response:
        """Bolt's install page: a link to Slack's authorize page, with a fresh state (also set as a cookie)."""
        return await to_aiohttp_response(await self.app.oauth_flow.handle_installation(await to_bolt_request(request)))

    async def _oauth_redirect(self, request: web.Request) -> web.Response:
        """Where Slack sends the installer back: Bolt checks the state and keeps the installation."""
        return await to_aiohttp_response(await self.app.oauth_flow.handle_callback(await to_bolt_request(request)))

    async def _http(self, request: web.Request) -> web.Response:
        """Bolt's signature check and dispatch. A refused request leaves a WARNING saying why, never its body; one
        Bolt cannot read (correctly signed, but not what Slack sends) gets 400, never a 500."""
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            log.warning("slack request refused: no usable timestamp")
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = await to_bolt_request(request)
            if not well_formed(bolt_request.body):
                raise ValueError("not a Slack payload")
            response = await self.app.async_dispatch(bolt_request)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            log.warning("slack request refused: not a Slack payload (%s)", type(exc).__name__)
            return web.json_response({"error": "bad request"}, status=400)
        if response.status == 401:
            stale = abs(time.time() - int(timestamp)) > 5 * 60
            log.warning("slack request refused: %s", "outside the five-minute window" if stale else "bad signature")
        elif response.status >= 500:
            log.warning("slack request refused: not a Slack payload")
            return web.json_response({"error": "bad request"}, status=400)
        return await to_aiohttp_response(response)

    async def start(self) -> None:
        # One connection pool for every Web API call: without one, slack-sdk opens and closes a new session (a new
        # TCP and TLS connection) for each call, which cost about 30% of the server's CPU per turn (bench/).
        # The session's own timeout: with a session given, slack-sdk no longer applies the client's.
        self.client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.client.timeout))
        if self.config.socket_mode:
            self._socket = AsyncSocketModeHandler(self.app, self.config.app_token,
                                                  logger=_no_debug("bot.adapters.slack.socket_mode"))
            await self._socket.connect_async()
        self._delivery_loop.start()

    async def stop(self) -> None:
        await self._delivery_loop.stop()
        if self._socket:
            await self._socket.close_async()
        if self.client.session:
            await self.client.session.close()  # a listener still running afterwards gets a session of its own

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
        if event.get("channel_type") != "im" or event.get("bot_id") or not isinstance(event.get("user"), str):
            return
        if not isinstance(event.get("channel"), str) or not isinstance(event.get("text") or "", str):
            return
        if event.get("subtype") not in (None, "file_share"):
            return
        team = body.get("team_id") or event.get("team")
        speaker = await self.workspaces.speaker(team)
        school = await self._school(team, event["user"])
        if school is None:
            await self._post(speaker, event["channel"], event["user"], self.bot.no_school(), None)
            return
        turn = Turn(
            platform=PLATFORM, user_id=event["user"], conversation_id=event["channel"], school_id=school,
            text=from_slack_text(event.get("text"), self.bot.settings.max_text_chars),
            attachments=to_attachments(event.get("files")),
            turn_id=f"event:{body.get('event_id') or event.get('client_msg_id') or event.get('ts')}",
        )
        self._dm_channels[(speaker.team, event["user"])] = event["channel"]
        await self._run(speaker, turn, event["channel"])

    async def _on_command(self, ack, command: dict[str, Any]) -> None:
        await ack(text=self.bot.content.text("common.continue_in_dm"))
        user = command["user_id"]
        speaker = await self.workspaces.speaker(command.get("team_id"))
        try:
            channel = await self.dm_channel(speaker, user)
        except SlackApiError as exc:
            log.warning("slack could not open a DM for a command (%s)", type(exc).__name__)
            return
        text = from_slack_text(command.get("text"), self.bot.settings.max_text_chars).strip()
        school = await self._school(command.get("team_id"), user)
        if school is None:
            await self._post(speaker, channel, user, self.bot.no_school(), None)
            return
        turn = Turn(platform=PLATFORM, user_id=user, conversation_id=channel, school_id=school,
                    kind="message" if text else "open", text=text or None,
                    turn_id=f"command:{command.get('trigger_id')}" if command.get("trigger_id") else None)
        await self._run(speaker, turn, channel)

    async def _on_home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab") == "home":
            await self.publish_home(event["user"], body.get("team_id"))

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
        speaker = await self.workspaces.speaker(_team_of(body))
        channel = await self.dm_channel(speaker, user) if from_home else body["channel"]["id"]
        school = await self._school(_team_of(body), user)
        if school is None:
            await self._post(speaker, channel, user, self.bot.no_school(), None)
            return
        turn = Turn(
            platform=PLATFORM, user_id=user, conversation_id=channel, school_id=school,
            choices=picked, answering=asks, text=None if picked else "", forms=bool(body.get("trigger_id")), files=True,
            turn_id=f"action:{user}:{action.get('action_ts') or body.get('trigger_id')}",
        )
        replies = await self.bot.handle(turn)
        for reply in [r for r in replies if r.form]:
            metadata = json.dumps({"form": reply.form.id})
            await speaker.client.views_open(trigger_id=body["trigger_id"], view=form_modal(reply.form, metadata))
        replies = [r for r in replies if not r.form]
        message = body.get("message")
        if message and asks is not None and not from_home:
            moved_on = bool(replies) and replies[0].key == "common.moved_on"
            note = None if moved_on else self.bot.content.text("common.you_chose", value=label)
            try:
                await speaker.client.chat_update(channel=channel, ts=message["ts"], text=message.get("text", ""),
                                                 blocks=answered(message.get("blocks", []), note))
            except (SlackApiError, KeyError, TypeError) as exc:  # the answer still goes out below
                log.warning("slack could not take the buttons off a message (%s)", type(exc).__name__)
        await self._post(speaker, channel, user, replies, school)
        await self.deliver_pending()
        if from_home:
            await self.publish_home(user, _team_of(body))

    async def _on_form(self, ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()  # closes the modal; the outcome arrives in the DM
        user = body["user"]["id"]
        try:
            form_id = str(json.loads(view.get("private_metadata") or "{}")["form"])
        except (ValueError, KeyError, TypeError):
            return
        speaker = await self.workspaces.speaker(_team_of(body))
        channel = await self.dm_channel(speaker, user)
        school = await self._school(_team_of(body), user)
        if school is None:
            return
        turn = Turn(platform=PLATFORM, user_id=user, conversation_id=channel, school_id=school,
                    form_id=form_id, form_values=form_values(view), turn_id=f"view:{view.get('id')}")
        await self._run(speaker, turn, channel)

    # --- sending -------------------------------------------------------------------------

    async def _school(self, team: str | None, user: str) -> str | None:
        """The school of a Slack user in workspace `team` (bot/schools.py), None if the bot cannot tell."""
        return await self.bot.schools.resolve(PLATFORM, team if isinstance(team, str) else None, f"{PLATFORM}:{user}")

    async def _run(self, speaker: Speaker, turn: Turn, channel: str) -> None:
        replies = await self.bot.handle(turn)
        await self._post(speaker, channel, turn.user_id, replies, turn.school_id)
        await self.deliver_pending()

    async def dm_channel(self, speaker: Speaker, user_id: str) -> str:
        channel = self._dm_channels.get((speaker.team, user_id))
        if channel is None:
            response = await speaker.client.conversations_open(users=user_id)
            channel = response["channel"]["id"]
            self._dm_channels[(speaker.team, user_id)] = channel
        return channel

    async def _post(self, speaker: Speaker, channel: str, user_id: str, replies: list[Reply],
                    school_id: str | None) -> None:
        label = self.bot.content.text("common.continue_label")
        client = speaker.client
        for reply in replies:
            if reply.file:  # a record for the person who asked: uploaded into their DM only
                await client.files_upload_v2(channel=channel, file=reply.file.content, filename=reply.file.name,
                                             title=reply.file.name, initial_comment=fallback(reply.text),
                                             request_file_info=False)
                continue
            response = await client.chat_postMessage(channel=channel, **reply_message(reply, label))
            if reply.card and school_id:
                await self.bot.store.record_card_post(school_id, reply.card.reference, f"{PLATFORM}:{user_id}",
                                                      channel, response["ts"])

    async def publish_home(self, user_id: str, team: str | None) -> None:
        school = await self._school(team, user_id)
        replies = await self.bot.home(school, f"{PLATFORM}:{user_id}") if school else self.bot.no_school()
        speaker = await self.workspaces.speaker(team)
        await speaker.client.views_publish(user_id=user_id, view=home_view(replies))

    async def deliver_pending(self) -> None:
        """Push waiting notifications to their recipients' DMs; each is marked delivered once sent.
        Every turn ends with this, so under load calls queue for the lock; a call is done once a round that began
        after it was made has finished (that round read the outbox after the call's turn was saved), so queued
        calls share one round instead of each running its own (a write to the store, to claim what is waiting)."""
        self._delivery_calls += 1
        call = self._delivery_calls
        async with self._delivery:
            if self._delivery_covered >= call:
                return
            covers = self._delivery_calls
            await self._deliver_all()
            self._delivery_covered = covers

    async def _deliver_all(self) -> None:
        # Leased to this process: another one serving the same database does not send them too.
        for note in await self.bot.store.claim_notifications(PLATFORM, lease_seconds=self.bot.settings.delivery_lease_seconds):
            if not await self.bot.casework.still_for_recipient(note):  # no longer theirs: dropped, unsent
                await self.bot.store.mark_delivered(note.id)
                continue
            try:
                await self._deliver(await self.workspaces.for_school(note.school_id), note)
            except NotInstalled as exc:  # left leased: offered again once the lease ends, by when it may be
                log.warning("slack delivery waits: %s", exc)
                continue
            except SlackApiError as exc:
                log.warning("slack delivery failed (%s); it will be retried", exc.response.get("error"))
                await self.bot.store.release_notification(note.id)
                continue
            await self.bot.store.mark_delivered(note.id)

    async def _deliver(self, speaker: Speaker, note: Notification) -> None:
        """To the recipient's DM in the workspace of the note's school (the only workspace, with one token)."""
        user_id = note.recipient.partition(":")[2]
        label = self.bot.content.text("common.continue_label")
        if note.kind == "card_update":
            for reply in note.replies:
                if not reply.card:
                    continue
                for channel, ts in await self.bot.store.card_posts(note.school_id, reply.card.reference, note.recipient):
                    await speaker.client.chat_update(channel=channel, ts=ts, **reply_message(reply, label))
            return
        await self._post(speaker, await self.dm_channel(speaker, user_id), user_id, note.replies, note.school_id)
