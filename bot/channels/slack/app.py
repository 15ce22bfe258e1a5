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
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from aiohttp import ClientOSError, ServerConnectionError, ServerDisconnectedError
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack.blocks import (
    CHOICE_ACTION,
    CONTINUE_ACTION,
    FORM_CALLBACK,
    NO_PREVIEWS,
    PICK_ACTION,
    answered,
    fallback,
    form_modal,
    form_values,
    home_view,
    reply_message,
)
from bot.channels.slack.config import SlackConfig
from bot.channels.slack.inbox import Inbox
from bot.channels.slack.installations import (
    BOT_SCOPES,
    NotInstalled,
    Speaker,
    StoreInstallations,
    StoreOAuthStates,
    Workspaces,
)
from bot.core.periodic import Periodic
from bot.conversation.engine import Bot
from bot.core.models import Attachment, Notification, Reply, Turn
from bot.store import StoreError

log = logging.getLogger(__name__)


def _no_debug(name: str) -> logging.Logger:
    """A logger that never passes DEBUG, whatever the root level: slack-sdk and slack-bolt log whole
    request and response bodies (so case content) at DEBUG, and case content never goes into logs."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    return logger

PLATFORM = "slack"
SLACKBOT = "USLACKBOT"
ANSWERED_SUBTYPES = (None, "file_share", "thread_broadcast")  # message subtypes that are a person writing
DELIVERY_INTERVAL_SECONDS = 2.0
WEB_API_TIMEOUT_SECONDS = 10  # slack-sdk's default is 30: a call that slow is retried sooner instead
# Installing into many workspaces (README, "Slack for many workspaces").
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
OAUTH_STATE_SECONDS = 600  # how long an install link stays good
NAMES_REMEMBERED = 10_000  # people whose users.info name is kept in memory
COMMAND_ACK_SECONDS = 2.0  # Slack wants a slash command acknowledged within 3 s
MAX_FILES_DESCRIBED = 10  # files.info calls for one message at most (Slack attaches up to 10 files to a message)


# A link as Slack writes one: `<https://…|label>`. Neither part can hold a `<` (Slack escapes it as &lt;), so a
# match never runs past the next `<`: linear on any text, even a raw `<` sent through the API. Mentions and
# channels likewise stop at the next `<` or `>`.
_SLACK_LINK = re.compile(r"<((?:https?://|mailto:)[^|<>]+)(?:\|[^<>]*)?>")
_SLACK_CHANNEL = re.compile(r"<#[A-Z0-9]+\|([^<>]+)>")
_SLACK_MENTION = re.compile(r"<(?:@[A-Z0-9]+|#[A-Z0-9]+|![^<>|]*)(?:\|[^<>]*)?>")


def from_slack_text(text: str | None, max_chars: int, mention: str = "") -> str:
    """Slack's message markup back to what the person typed: links and entities unwrapped. A mention of a person
    (`<@U…>`), a user group or everyone (`<!here>`, `<!subteam^S…>`) becomes `mention`, and a channel (`<#C…|name>`)
    its name after "#", so neither is ever read as an account's @handle. Unwrapping only shortens text, so text
    over twice `max_chars` (Slack allows 40,000) is too long whatever it unwraps to: it is cut to just over the
    limit, unread, for the engine to refuse kindly."""
    if not text:
        return ""
    if len(text) > 2 * max_chars:
        return text[:max_chars + 1]
    text = _SLACK_LINK.sub(lambda m: m.group(1).removeprefix("mailto:"), text)
    text = _SLACK_CHANNEL.sub(lambda m: "#" + m.group(1).lstrip("#@"), text)
    text = _SLACK_MENTION.sub(mention, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def from_a_person(event: dict[str, Any]) -> bool:
    """A message typed by a person: never Slackbot, a bot, an app, a workflow or a webhook (the bot answers none)."""
    return not (event.get("bot_id") or event.get("bot_profile") or event.get("app_id")
                or event.get("user") == SLACKBOT or event.get("subtype") == "bot_message")


def thread_of(message: dict[str, Any]) -> str | None:
    """The thread a message sits in, if it is a reply in one (the thread's first message is not a reply)."""
    thread = message.get("thread_ts")
    return thread if isinstance(thread, str) and thread != message.get("ts") else None


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
            "token": config.bot_token, "logger": _no_debug("bot.channels.slack.web_api"),
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
        bolt_logger = _no_debug("bot.channels.slack.bolt")
        # Bolt also reads SLACK_BOT_TOKEN and warns that the client's token wins: it is the same token, so say nothing.
        bolt_logger.addFilter(lambda record: record.getMessage() != warning_client_prioritized_and_token_skipped())
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
            # `_http` checks the signature on the raw bytes itself, before anything parses them (and before the
            # request is kept in the inbox, from which it may be dispatched again later); Socket Mode has none.
            request_verification_enabled=False,
            raise_error_for_unhandled_request=False,
            logger=bolt_logger,
            oauth_settings=oauth,
        )
        if oauth:
            self.app.enable_token_revocation_listeners()  # app_uninstalled, tokens_revoked: forget the tokens
        # slack-bolt logs a refused request's whole body at INFO: never let that through (`_http` says why instead).
        logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.WARNING)
        self._dm_channels: dict[tuple[str | None, str], str] = {}  # (workspace, user) -> their DM with the bot
        self._display_names: dict[tuple[str | None, str], str | None] = {}  # (workspace, user) -> users.info name
        self.unusable: str | None = None  # why Slack cannot be used at all (one token, uninstalled), for /healthz
        # Replies Slack refused, waiting in the outbox: notification id -> (school, user, whether one asks a question).
        self._owed: dict[str, tuple[str, str, bool]] = {}
        self._delivery = asyncio.Lock()
        self._delivery_calls = self._delivery_covered = 0  # deliver_pending calls made, and covered by a finished round
        self._socket: AsyncSocketModeHandler | None = None
        self._verifier = SignatureVerifier(config.signing_secret) if config.signing_secret else None
        self.inbox = Inbox(bot.store, bot.settings.delivery_lease_seconds)  # as long as a delivery's lease
        self._delivery_loop = Periodic("slack delivery", DELIVERY_INTERVAL_SECONDS, self._delivery_round)
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
        """The signature checked on the raw body before anything parses it; then the request kept in the inbox
        before Slack is acknowledged (bot/channels/slack/inbox.py), and dispatched."""
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
            return await self._dispatch(body, request.headers)
        finally:
            await self.inbox.dispatched(kept)

    def _signed(self, headers: Any, body: str) -> bool:
        """Slack's signature over exactly this body, within five minutes. A refusal leaves a WARNING saying why,
        never the body."""
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            log.warning("slack request refused: no usable timestamp")
            return False
        if abs(time.time() - int(timestamp)) > 5 * 60:
            log.warning("slack request refused: outside the five-minute window")
            return False
        if not self._verifier.is_valid(body=body, timestamp=timestamp, signature=headers.get("X-Slack-Signature", "")):
            log.warning("slack request refused: bad signature")
            return False
        return True

    async def _dispatch(self, body: str, headers: Any) -> web.Response:
        """Bolt's dispatch of a signed request (or of one kept in the inbox). One Bolt cannot read (signed, but not
        what Slack sends, however deeply nested) gets 400, never a 500."""
        try:
            bolt_request = AsyncBoltRequest(body=body, headers=headers)
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

    async def _replay_inbox(self) -> None:
        await self.inbox.replay(lambda body, content_type: self._dispatch(body, {"content-type": content_type}))

    async def _delivery_round(self) -> None:
        await self._replay_inbox()
        await self.deliver_pending()

    async def start(self) -> None:
        # One connection pool for every Web API call: without one, slack-sdk opens and closes a new session (a new
        # TCP and TLS connection) for each call, which cost about 30% of the server's CPU per turn (bench/).
        # The session's own timeout: with a session given, slack-sdk no longer applies the client's.
        self.client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.client.timeout))
        if self.config.socket_mode:
            self._socket = AsyncSocketModeHandler(self.app, self.config.app_token,
                                                  logger=_no_debug("bot.channels.slack.socket_mode"))
            await self._socket.connect_async()
        await self._replay_inbox()  # what a stopped process had kept and not finished
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
        # Each listener takes its request out of the inbox when it has finished (bot/channels/slack/inbox.py).
        kept, done = {"matchers": [self.inbox.matched]}, self.inbox.listener
        app.event("message", **kept)(done(self._on_message))
        app.event("app_home_opened", **kept)(done(self._on_home_opened))
        app.command("/online-safety", **kept)(done(self._on_command))
        app.action(re.compile(rf"^{CHOICE_ACTION}_\d+$"), **kept)(done(self._on_choice))
        app.action(CONTINUE_ACTION, **kept)(done(self._on_continue))
        app.action(PICK_ACTION, **kept)(done(self._on_checkbox))
        app.view(FORM_CALLBACK, **kept)(done(self._on_form))
        if not self.config.oauth:  # with installations, Bolt's own listeners forget the workspace's tokens
            app.event("app_uninstalled", **kept)(done(self._on_app_uninstalled))
            app.event("tokens_revoked", **kept)(done(self._on_tokens_revoked))
        app.error(self._on_error)

    async def _on_error(self, error: Exception) -> None:
        # The error's type only: its message could carry case content.
        log.error("slack listener failed: %s", type(error).__name__)

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("channel_type") != "im" or not isinstance(event.get("user"), str) or not from_a_person(event):
            return
        if not isinstance(event.get("channel"), str) or not isinstance(event.get("text") or "", str):
            return
        if event.get("subtype") not in ANSWERED_SUBTYPES:
            return
        team = body.get("team_id") or event.get("team")
        speaker = await self.workspaces.speaker(team)
        thread = thread_of(event)
        school = await self._school(team, event["user"])
        if school is None:
            await self._post(speaker, event["channel"], event["user"], self.bot.no_school(), None, thread)
            return
        turn = Turn(
            platform=PLATFORM, user_id=event["user"], conversation_id=event["channel"], school_id=school,
            text=from_slack_text(event.get("text"), self.bot.settings.max_text_chars,
                                 self.bot.content.text("common.slack_mention")),
            attachments=await self._attachments(speaker, event.get("files")),
            updates_cards=True, turn_id=f"event:{body.get('event_id') or event.get('client_msg_id') or event.get('ts')}",
        )
        self._dm_channels[(speaker.team, event["user"])] = event["channel"]
        await self._run(speaker, turn, event["channel"], thread)

    async def _attachments(self, speaker: Speaker, files: Any) -> list[Attachment]:
        """The files shared with a message. Slack sometimes sends only a stub (`file_access: check_file_info`, as
        from a Slack Connect workspace): its name, type and size are then asked of files.info (files:read). The
        file itself is never downloaded."""
        if not isinstance(files, list):
            return []
        described = []
        for n, file in enumerate(files):
            stub = isinstance(file, dict) and file.get("file_access") == "check_file_info"
            if stub and isinstance(file.get("id"), str) and n < MAX_FILES_DESCRIBED:
                try:
                    file = (await speaker.client.files_info(file=file["id"]))["file"]
                except (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError, KeyError, TypeError) as exc:
                    log.warning("slack could not describe a shared file, kept by its id (%s)", type(exc).__name__)
            described.append(file)
        return to_attachments(described)

    async def _on_app_uninstalled(self, body: dict[str, Any]) -> None:
        self._token_lost("the app was uninstalled from workspace", body)

    async def _on_tokens_revoked(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if (event.get("tokens") or {}).get("bot"):  # user tokens alone: the app holds none
            self._token_lost("the bot token was revoked in workspace", body)

    def _token_lost(self, what: str, body: dict[str, Any]) -> None:
        """With one bot token (SLACK_BOT_TOKEN), nothing more can be sent to Slack until a new one is set."""
        self.unusable = f"{what} {body.get('team_id')}: install it again and set the new SLACK_BOT_TOKEN"
        log.error("slack is not usable: %s", self.unusable)

    async def _on_command(self, ack, command: dict[str, Any]) -> None:
        user = command["user_id"]
        try:
            speaker = await self.workspaces.speaker(command.get("team_id"))
            channel = await asyncio.wait_for(self.dm_channel(speaker, user), COMMAND_ACK_SECONDS)
        except (NotInstalled, SlackApiError, asyncio.TimeoutError) as exc:
            await ack(text=self.bot.content.text("common.dm_unavailable"))
            log.warning("slack could not open a DM for a command (%s)", type(exc).__name__)
            return
        # Typed in the bot's own DM, the answer follows right there: nothing to point to.
        if channel == command.get("channel_id"):
            await ack()
        else:
            await ack(text=self.bot.content.text("common.continue_in_dm"))
        text = from_slack_text(command.get("text"), self.bot.settings.max_text_chars,
                               self.bot.content.text("common.slack_mention")).strip()
        school = await self._school(command.get("team_id"), user)
        if school is None:
            await self._post(speaker, channel, user, self.bot.no_school(), None)
            return
        turn = Turn(platform=PLATFORM, user_id=user, conversation_id=channel, school_id=school,
                    kind="message" if text else "open", text=text or None, updates_cards=True,
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
        if not picked:
            await self._tick_first(body)
            return
        await self._answer(body, action, picked, asks, ", ".join(labels))

    async def _tick_first(self, body: dict[str, Any]) -> None:
        """Continue with nothing ticked: the question stays as it is, with a kind word under it. Not a turn: nothing
        was answered."""
        speaker = await self.workspaces.speaker(_team_of(body))
        channel = (body.get("channel") or {}).get("id")
        if isinstance(channel, str):
            reply = Reply(key="common.tick_first", text=self.bot.content.text("common.tick_first"))
            await self._post(speaker, channel, body["user"]["id"], [reply], None, thread_of(body.get("message") or {}))

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
            updates_cards=True,
            turn_id=f"action:{user}:{action.get('action_ts') or body.get('trigger_id')}",
        )
        replies = await self.bot.handle(await self._named(speaker, turn))
        for reply in [r for r in replies if r.form]:
            metadata = json.dumps({"form": reply.form.id})
            await speaker.client.views_open(trigger_id=body["trigger_id"], view=form_modal(reply.form, metadata))
        replies = [r for r in replies if not r.form]
        message = body.get("message")
        thread = None if from_home else thread_of(message or {})
        if message and asks is not None and not from_home:
            moved_on = bool(replies) and replies[0].key == "common.moved_on"
            note = None if moved_on else self.bot.content.text("common.you_chose", value=label)
            try:
                await speaker.client.chat_update(channel=channel, ts=message["ts"], text=message.get("text", ""),
                                                 blocks=answered(message.get("blocks", []), note), **NO_PREVIEWS)
            except (SlackApiError, KeyError, TypeError) as exc:  # the answer still goes out below
                log.warning("slack could not take the buttons off a message (%s)", type(exc).__name__)
        await self._post(speaker, channel, user, replies, school, thread)
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
                    form_id=form_id, form_values=form_values(view), updates_cards=True, turn_id=f"view:{view.get('id')}")
        await self._run(speaker, turn, channel)

    # --- sending -------------------------------------------------------------------------

    async def _school(self, team: str | None, user: str) -> str | None:
        """The school of a Slack user in workspace `team` (bot/cases/schools.py), None if the bot cannot tell."""
        return await self.bot.schools.resolve(PLATFORM, team if isinstance(team, str) else None, f"{PLATFORM}:{user}")

    async def _named(self, speaker: Speaker, turn: Turn) -> Turn:
        """The turn with the person's name from users.info (asked once per person and process; None if Slack
        will not say), so that cards name people who are not in the staff directory."""
        key = (speaker.team, turn.user_id)
        if key not in self._display_names:
            name = None
            try:
                user = (await speaker.client.users_info(user=turn.user_id)).get("user") or {}
                profile = user.get("profile") or {}
                name = profile.get("real_name") or user.get("real_name") or profile.get("display_name") or None
            except SlackApiError as exc:  # no name is no harm: the card says so instead
                error = exc.response.data.get("error") if isinstance(exc.response.data, dict) else None
                log.warning("slack users.info failed (%s)", error or exc.response.status_code)
            self._display_names[key] = name if isinstance(name, str) else None
            while len(self._display_names) > NAMES_REMEMBERED:
                self._display_names.pop(next(iter(self._display_names)))
        return turn.model_copy(update={"display_name": self._display_names[key]})

    async def _run(self, speaker: Speaker, turn: Turn, channel: str, thread: str | None = None) -> None:
        owed = [note for note, (school, user, _) in self._owed.items() if (school, user) == (turn.school_id, turn.user_id)]
        if owed:  # what Slack refused earlier goes first; a question in it was not seen when they wrote this
            unseen = any(self._owed.pop(note)[2] for note in owed)  # for this turn only, however it was delivered
            await self.deliver_pending()
            turn = turn.model_copy(update={"question_unseen": unseen})
        replies = await self.bot.handle(await self._named(speaker, turn))
        await self._post(speaker, channel, turn.user_id, replies, turn.school_id, thread)
        await self.deliver_pending()

    async def dm_channel(self, speaker: Speaker, user_id: str) -> str:
        channel = self._dm_channels.get((speaker.team, user_id))
        if channel is None:
            response = await speaker.client.conversations_open(users=user_id)
            channel = response["channel"]["id"]
            self._dm_channels[(speaker.team, user_id)] = channel
        return channel

    async def _post(self, speaker: Speaker, channel: str, user_id: str, replies: list[Reply],
                    school_id: str | None, thread: str | None = None) -> None:
        """A turn's replies, in order, in the thread the person wrote in (if any). If Slack refuses one (after
        slack-sdk's own retries), it and those after it wait in the outbox and are sent again like notifications,
        so none is lost. Without a school there is no outbox to keep them in, and a file (a safeguarding record) is
        never kept there: the refusal is raised, and the record can be asked for again."""
        for n, reply in enumerate(replies):
            try:
                await self._post_one(speaker, channel, user_id, reply, school_id, thread)
            except SlackApiError as exc:
                if school_id is None or reply.file:
                    raise
                log.warning("slack refused a reply (%s); it will be sent again", exc.response.get("error"))
                owed = Notification(school_id=school_id, recipient=f"{PLATFORM}:{user_id}",
                                    replies=[r for r in replies[n:] if not r.file])
                await self.bot.store.queue_notifications([owed])
                self._owed[owed.id] = (school_id, user_id, any(r.choices or r.asks for r in owed.replies))
                return

    async def _post_one(self, speaker: Speaker, channel: str, user_id: str, reply: Reply, school_id: str | None,
                        thread: str | None) -> None:
        client = speaker.client
        if reply.file:  # a record for the person who asked: uploaded into their DM only
            await client.files_upload_v2(channel=channel, file=reply.file.content, filename=reply.file.name,
                                         title=reply.file.name, initial_comment=fallback(reply.text),
                                         thread_ts=thread, request_file_info=False)
            return
        label = self.bot.content.text("common.continue_label")
        response = await client.chat_postMessage(channel=channel, thread_ts=thread, **reply_message(reply, label))
        if reply.card and school_id:
            earlier = await self.bot.store.record_card_post(school_id, reply.card.reference,
                                                            f"{PLATFORM}:{user_id}", channel, response["ts"])
            for old_channel, old_ts in earlier:
                await self._retire_card(client, old_channel, old_ts, reply.card.reference)

    async def _retire_card(self, client: AsyncWebClient, channel: str, ts: str, reference: str) -> None:
        """An older copy of a case card, once a newer one is shown: one line pointing to it, and no buttons."""
        moved = Reply(key="case.card_moved", text=self.bot.content.text("case.card_moved", reference=reference))
        try:
            await client.chat_update(channel=channel, ts=ts, **reply_message(moved, "", revision=ts))
        except SlackApiError as exc:  # deleted by the person, say: the newer card is what matters
            log.warning("slack could not retire an older card (%s)", exc.response.get("error"))

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
            self._owed.pop(note.id, None)

    async def _deliver(self, speaker: Speaker, note: Notification) -> None:
        """To the recipient's DM in the workspace of the note's school (the only workspace, with one token)."""
        user_id = note.recipient.partition(":")[2]
        label = self.bot.content.text("common.continue_label")
        if note.kind == "card_update":
            for reply in note.replies:
                if not reply.card:
                    continue
                for channel, ts in await self.bot.store.card_posts(note.school_id, reply.card.reference, note.recipient):
                    await speaker.client.chat_update(channel=channel, ts=ts,
                                                     **reply_message(reply, label, revision=note.id))
            return
        channel = await self.dm_channel(speaker, user_id)
        for reply in note.replies:  # a refusal is raised: the whole note is offered again
            await self._post_one(speaker, channel, user_id, reply, note.school_id, None)
