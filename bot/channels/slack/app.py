"""The Slack channel: slack-bolt's AsyncApp, translating Slack payloads to turns and replies to Block Kit.

Everyone's conversation with the bot lives in their direct-message channel with it, whether they
typed there, used `/online-safety` somewhere else, or pressed a button on the App Home tab. Nothing
is ever posted anywhere but a DM. What goes to other people goes through the outbox (bot/channels/outbox.py),
for which this channel is the sender.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError

from bot.channels.base import ChannelState, Placement, resolve_turn
from bot.channels.outbox import Outbox
from bot.channels.slack import blocks
from bot.channels.slack.bolt import INSTALL_PATH, REDIRECT_PATH, bolt_app, quiet_logger, web_client
from bot.channels.slack.config import SlackConfig
from bot.channels.slack.inbox import Inbox
from bot.channels.slack.installations import NotInstalled, Speaker, StoreInstallations, Workspaces
from bot.channels.slack.lookups import SlackLookups
from bot.channels.slack.messages import SlackMessages
from bot.channels.slack.payloads import ANSWERED_SUBTYPES, from_a_person, from_slack_text, team_of, thread_of
from bot.channels.slack.requests import SlackRequests
from bot.conversation.engine import Engine
from bot.core.models import Reply, Turn
from bot.core.periodic import Periodic

log = logging.getLogger(__name__)

PLATFORM = "slack"
INBOX_INTERVAL_SECONDS = 2.0
COMMAND_ACK_SECONDS = 2.0  # Slack wants a slash command acknowledged within 3 s
CHOICE = re.compile(rf"{blocks.CHOICE_ACTION}_\d+")
OUR_ACTIONS = re.compile(rf"^(?:{blocks.CHOICE_ACTION}_\d+|{blocks.CONTINUE_ACTION}|{blocks.PICK_ACTION})$")


class SlackChannel:
    name = PLATFORM

    def __init__(self, bot: Engine, config: SlackConfig):
        self.bot = bot
        self.config = config
        self.client = web_client(config)
        installations = None
        if config.oauth:
            assert config.token_key is not None  # slack_config sets the client id and the token key together
            installations = StoreInstallations(bot.store, config.token_key,
                                               on_change=lambda team: self.workspaces.forget(team),
                                               on_installed=self._installed)
        self.workspaces = Workspaces(self.client, bot.store, installations)
        self.app = bolt_app(self.client, config, bot.store, installations, bot.clock)
        self.lookups = SlackLookups()
        self.unusable: str | None = None  # why Slack cannot be used at all (one token, uninstalled), for /healthz
        self._socket: AsyncSocketModeHandler | None = None
        self.inbox = Inbox(bot.store, bot.settings.delivery_lease_seconds)  # as long as a delivery's lease
        self.requests = SlackRequests(self.app, config.signing_secret, self.inbox)
        self.messages = SlackMessages(bot.schools, self.workspaces, self.lookups, ChannelState(bot.store, PLATFORM))
        self.outbox = Outbox(bot.store, self.messages, bot.casework, self.messages.state,
                             lambda: bot.settings.delivery_lease_seconds)
        self._inbox_loop = Periodic("slack inbox", INBOX_INTERVAL_SECONDS, self.requests.replay_inbox)
        self._register()

    async def _installed(self, workspace: str) -> None:
        """A workspace's first installation: its schools' cards, left waiting for a token, go now, not when
        their leases run out."""
        schools = await self.bot.store.schools_for_workspace(PLATFORM, workspace)
        if await self.bot.store.release_school_notifications(PLATFORM, schools):
            self.outbox.wake(look=True)

    # --- wiring into the server ----------------------------------------------------------

    def mount(self, web_app: web.Application) -> None:
        if self.config.signing_secret:
            web_app.router.add_post("/slack/events", self.requests.events)
        if self.app.oauth_flow:
            web_app.router.add_get(INSTALL_PATH, self.requests.install)
            web_app.router.add_get(REDIRECT_PATH, self.requests.oauth_redirect)

    async def start(self) -> None:
        # One connection pool for every Web API call: without one, slack-sdk opens and closes a new session (a new
        # TCP and TLS connection) for each call, which cost about 30% of the server's CPU per turn (bench/).
        # The session's own timeout: with a session given, slack-sdk no longer applies the client's. Its JSON bodies
        # (chat.postMessage, chat.update, ...) written by orjson.
        self.client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.client.timeout),
                                                    json_serialize_bytes=orjson.dumps)
        if self.config.socket_mode:
            self._socket = AsyncSocketModeHandler(self.app, self.config.app_token,
                                                  logger=quiet_logger("bot.channels.slack.socket_mode"))
            await self._socket.connect_async()
        await self.requests.replay_inbox()  # what a stopped process had kept and not finished
        self._inbox_loop.start()
        self.outbox.start()

    async def stop(self) -> None:
        await self._inbox_loop.stop()
        await self.outbox.stop()
        if self._socket:
            await self._socket.close_async()
        if self.client.session:
            await self.client.session.close()  # a listener still running afterwards gets a session of its own

    async def deliver_pending(self) -> None:
        await self.outbox.deliver()

    # --- listeners -----------------------------------------------------------------------

    def _register(self) -> None:
        app = self.app
        # Each listener takes its request out of the inbox when it has finished (bot/channels/slack/inbox.py).
        kept, done = {"matchers": [self.inbox.matched]}, self.inbox.listener
        # Bolt tries listeners in the order they are registered, building every argument a listener could ask for
        # each time it tries one: so the commonest request first, one listener for all our buttons and boxes, then
        # messages, and the rarer ones after.
        app.action({"type": "block_actions", "action_id": OUR_ACTIONS}, **kept)(done(self._on_action))
        app.event("message", **kept)(done(self._on_message))
        app.view(blocks.FORM_CALLBACK, **kept)(done(self._on_form))
        app.command("/online-safety", **kept)(done(self._on_command))
        app.event("app_home_opened", **kept)(done(self._on_home_opened))
        if self.config.oauth:  # with installations, Bolt's own listeners forget the workspace's tokens
            app.enable_token_revocation_listeners()  # app_uninstalled, tokens_revoked
        else:
            app.event("app_uninstalled", **kept)(done(self._on_app_uninstalled))
            app.event("tokens_revoked", **kept)(done(self._on_tokens_revoked))
        app.error(self._on_error)

    async def _on_error(self, error: Exception) -> None:
        # The error's type only: its message could carry case content.
        log.error("slack listener failed: %s", type(error).__name__)

    async def _place(self, team: Any, user: str) -> Placement:
        return await resolve_turn(self.bot.schools, PLATFORM, team, user)

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("channel_type") != "im" or not isinstance(event.get("user"), str) or not from_a_person(event):
            return
        if not isinstance(event.get("channel"), str) or not isinstance(event.get("text") or "", str):
            return
        if event.get("subtype") not in ANSWERED_SUBTYPES:
            return
        team = body.get("team_id") or event.get("team")
        speaker = await self.workspaces.speaker(team)
        user, channel, thread = event["user"], event["channel"], thread_of(event)
        place = await self._place(team, user)
        if place.school_id is None:
            await self._post(speaker, channel, user, place.no_school(), place, thread)
            return
        turn = Turn(
            platform=PLATFORM, user_id=user, conversation_id=channel, school_id=place.school_id,
            text=from_slack_text(event.get("text"), self.bot.settings.max_text_chars,
                                 place.words.text("common.slack_mention")),
            attachments=await self.lookups.attachments(speaker, event.get("files")),
            updates_cards=True,
            turn_id=f"event:{body.get('event_id') or event.get('client_msg_id') or event.get('ts')}",
        )
        self.lookups.dm_seen(speaker, user, channel)
        await self._run(speaker, turn, place, thread)

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
        place = await self._place(command.get("team_id"), user)
        try:
            speaker = await self.workspaces.speaker(command.get("team_id"))
            channel = await asyncio.wait_for(self.lookups.dm_channel(speaker, user), COMMAND_ACK_SECONDS)
        except (NotInstalled, SlackApiError, asyncio.TimeoutError) as exc:
            await ack(text=place.words.text("common.dm_unavailable"))
            log.warning("slack could not open a DM for a command (%s)", type(exc).__name__)
            return
        # Typed in the bot's own DM, the answer follows right there: nothing to point to.
        if channel == command.get("channel_id"):
            await ack()
        else:
            await ack(text=place.words.text("common.continue_in_dm"))
        if place.school_id is None:
            await self._post(speaker, channel, user, place.no_school(), place)
            return
        text = from_slack_text(command.get("text"), self.bot.settings.max_text_chars,
                               place.words.text("common.slack_mention")).strip()
        turn = Turn(platform=PLATFORM, user_id=user, conversation_id=channel, school_id=place.school_id,
                    kind="message" if text else "open", text=text or None, updates_cards=True,
                    turn_id=f"command:{command.get('trigger_id')}" if command.get("trigger_id") else None)
        await self._run(speaker, turn, place)

    async def _on_home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab") == "home":
            await self.publish_home(event["user"], body.get("team_id"))

    async def _on_action(self, ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A button pressed or a box ticked on one of our messages."""
        action_id = action.get("action_id") or ""
        if action_id == blocks.CONTINUE_ACTION:
            await self._on_continue(ack, body, action)
        elif CHOICE.fullmatch(action_id):
            await self._on_choice(ack, body, action)
        else:
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
            for option in (block.get(blocks.PICK_ACTION) or {}).get("selected_options") or []:
                picked.append(str(option.get("value")))
                labels.append(option.get("text", {}).get("text", ""))
        channel = (body.get("channel") or {}).get("id")
        if picked:
            await self._answer(body, action, picked, asks, ", ".join(labels))
        elif isinstance(channel, str):  # nothing ticked: not a turn; the question stays, with a kind word under it
            place = await self._place(team_of(body), body["user"]["id"])
            speaker = await self.workspaces.speaker(team_of(body))
            await self._post(speaker, channel, body["user"]["id"], [place.words.reply("common.tick_first")],
                             Placement(None, place.words), thread_of(body.get("message") or {}))

    async def _answer(self, body: dict[str, Any], action: dict[str, Any], picked: list[str], asks: str | None,
                      label: str) -> None:
        user = body["user"]["id"]
        from_home = (body.get("container") or {}).get("type") == "view"
        speaker = await self.workspaces.speaker(team_of(body))
        channel = await self.lookups.dm_channel(speaker, user) if from_home else body["channel"]["id"]
        place = await self._place(team_of(body), user)
        if place.school_id is None:
            await self._post(speaker, channel, user, place.no_school(), place)
            return
        turn = Turn(
            platform=PLATFORM, user_id=user, conversation_id=channel, school_id=place.school_id,
            choices=picked, answering=asks, text=None if picked else "", forms=bool(body.get("trigger_id")), files=True,
            updates_cards=True, turn_id=f"action:{user}:{action.get('action_ts') or body.get('trigger_id')}",
        )
        await self.outbox.make_way()  # delivery first, if it has fallen behind
        replies = await self.bot.handle(await self.lookups.named(speaker, turn))
        for form in [r.form for r in replies if r.form is not None]:
            metadata = json.dumps({"form": form.id})
            await speaker.client.views_open(trigger_id=body["trigger_id"], view=blocks.form_modal(form, metadata))
        replies = [r for r in replies if not r.form]
        message = body.get("message")
        if message and asks is not None and not from_home:
            moved_on = bool(replies) and replies[0].moved_on
            note = None if moved_on else place.words.text("common.you_chose", value=label)
            try:
                shown = blocks.answered(message.get("blocks", []), note)
                await speaker.client.chat_update(channel=channel, ts=message["ts"], text=message.get("text", ""),
                                                 blocks=shown, unfurl_links=False, unfurl_media=False)
            except (SlackApiError, KeyError, TypeError) as exc:  # the answer still goes out below
                log.warning("slack could not take the buttons off a message (%s)", type(exc).__name__)
        await self._post(speaker, channel, user, replies, place, None if from_home else thread_of(message or {}))
        self.outbox.wake()  # what the turn made for other people goes in the background: nobody waits for it
        if from_home:
            await self.publish_home(user, team_of(body))

    async def _on_form(self, ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()  # closes the modal; the outcome arrives in the DM
        user = body["user"]["id"]
        try:
            form_id = str(json.loads(view.get("private_metadata") or "{}")["form"])
        except (ValueError, KeyError, TypeError):
            return
        speaker = await self.workspaces.speaker(team_of(body))
        channel = await self.lookups.dm_channel(speaker, user)
        place = await self._place(team_of(body), user)
        if place.school_id is None:
            return
        turn = Turn(platform=PLATFORM, user_id=user, conversation_id=channel, school_id=place.school_id,
                    form_id=form_id, form_values=blocks.form_values(view), updates_cards=True,
                    turn_id=f"view:{view.get('id')}")
        await self._run(speaker, turn, place)

    # --- sending -------------------------------------------------------------------------

    async def _run(self, speaker: Speaker, turn: Turn, place: Placement, thread: str | None = None) -> None:
        turn = await self.outbox.before_turn(turn)  # what Slack refused earlier goes first
        replies = await self.bot.handle(await self.lookups.named(speaker, turn))
        await self._post(speaker, turn.conversation_id, turn.user_id, replies, place, thread)
        self.outbox.wake()  # what the turn made for other people goes in the background: nobody waits for it

    async def _post(self, speaker: Speaker, channel: str, user_id: str, replies: list[Reply], place: Placement,
                    thread: str | None = None) -> None:
        """A turn's replies; any Slack refused are owed to the person, to go before anything they write next."""
        refused = await self.messages.post(speaker, channel, user_id, replies, place, thread)
        if refused and place.school_id:
            await self.outbox.owe(place.school_id, f"{PLATFORM}:{user_id}", refused)

    async def publish_home(self, user_id: str, team: str | None) -> None:
        place = await self._place(team, user_id)
        user = f"{PLATFORM}:{user_id}"
        replies = await self.bot.home(place.school_id, user) if place.school_id else place.no_school()
        speaker = await self.workspaces.speaker(team)
        await speaker.client.views_publish(user_id=user_id, view=blocks.home_view(replies))
