"""The Microsoft Teams channel on the Microsoft 365 Agents SDK: activities to turns, replies to Adaptive Cards.

Everything happens in the personal chat between a member of staff and the bot. The SDK's `CloudAdapter`
checks each request's Bot Framework token (the JWT check is applied to `POST /api/messages` only) and
sends replies through the Bot Framework connector; this class is the SDK's agent: it turns each activity
into a neutral `Turn` and each `Reply` into an Adaptive Card. Case cards and updates for other people go
through the outbox (bot/channels/outbox.py), for which this channel is the sender: proactively, through the
conversation reference kept when each person first talked to the bot or installed it; until then they wait.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from functools import partial
from typing import Any, Awaitable, Callable

from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes, ConversationReference
from microsoft_agents.activity import Attachment as CardAttachment
from microsoft_agents.hosting.core import ClaimsIdentity, TurnContext

from bot.channels.base import ChannelState, Placement, resolve_turn, words_for
from bot.channels.outbox import Outbox, Outcome
from bot.channels.teams import cards, files
from bot.channels.teams.activities import (
    attachments_of,
    display_name_of,
    from_teams_text,
    tenant_of,
    turn_id_of,
    user_id_of,
)
from bot.channels.teams.config import TeamsConfig
from bot.channels.teams.consent import FileConsent
from bot.channels.teams.delivery import Refused, retry_after, with_retries
from bot.channels.teams.requests import TeamsRequests
from bot.conversation.engine import Engine
from bot.core.models import Notification, Reply, Turn

log = logging.getLogger(__name__)

PLATFORM = "teams"
CHAT_REFUSED = {403, 404}  # the person's chat refused (blocked, gone), not just one message
QUESTIONS_REMEMBERED = 500


class SentAsIs(dict[str, Any]):
    """A card's content, made for the one activity that carries it and never changed after. The SDK deep-copies
    every activity it sends or updates (`TurnContext.send_activities`) before it sets the conversation on the copy;
    a card is hundreds of nested objects, and copying it was the dearest single part of a Teams turn. The copy of
    this one is the card itself (what the SDK changes is the activity, never its attachments' content)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> SentAsIs:
        return self


class TeamsChannel:
    name = PLATFORM
    # As the outbox's sender (bot/channels/outbox.py): only to people who opened a chat with the bot, several at
    # once; a recipient whose chat does not answer rests (as long as Teams' Retry-After asks, if longer), and their
    # later notifications wait meanwhile. Each send is three connector calls at most (`with_retries`).
    platform = PLATFORM
    reachable_only = True
    sending_at_once = 8
    rests_after_failure = True
    send_timeout_seconds = 120.0

    def __init__(self, bot: Engine, config: TeamsConfig):
        self.bot = bot
        self.config = config
        bot.opened_chat_platforms.add(PLATFORM)  # the bot can write only into a chat the person has opened
        self.requests = TeamsRequests(config, agent=self)
        self.host_validator, self.adapter = self.requests.host_validator, self.requests.adapter
        self.connections = self.requests.connections
        self.state = ChannelState(bot.store, PLATFORM)
        self.outbox = Outbox(bot.store, self, bot.casework, self.state, lambda: bot.settings.delivery_lease_seconds)
        # Cards with buttons or inputs sent lately, so an answered one can lose its buttons:
        # (conversation id, activity id) -> the card and its choices' labels.
        self._asked: OrderedDict[tuple[str, str], tuple[dict[str, Any], dict[str, str]]] = OrderedDict()
        self.consent = FileConsent(production=config.credentials)
        self.pending_files = self.consent.pending  # files offered and not yet accepted (tests look)

    # --- wiring into the server ----------------------------------------------------------

    def mount(self, web_app: web.Application) -> None:
        self.requests.mount(web_app)

    async def start(self) -> None:
        if self.config.anonymous:
            log.warning("TEAMS IS IN ANONYMOUS MODE (TEAMS_ALLOW_ANONYMOUS=true): /api/messages accepts requests "
                        "from anyone, unauthenticated. This is for local testing only: never use it in production.")
        elif not self.config.credentials:
            log.warning("Teams has no credentials: /api/messages refuses every request. Set the "
                        "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__* variables (see README).")
        self.outbox.start()

    async def stop(self) -> None:
        await self.outbox.stop()
        await self.requests.connector_clients.close()

    async def deliver_pending(self) -> None:
        """Push what waits in the outbox now, and wait until every send has finished (tests use it)."""
        await self.outbox.deliver()

    # --- the SDK's agent: one activity --------------------------------------------------

    async def on_turn(self, context: TurnContext) -> None:
        activity = context.activity
        if activity.conversation is None or activity.conversation.conversation_type not in (None, "personal"):
            return  # the bot lives in personal chats only
        tenant = self.config.tenant_id
        if tenant and (tenant_of(activity) or "").lower() != tenant.lower():
            # Only the school's own Microsoft 365 tenant: anyone else who installed a copy of the app is ignored.
            log.warning("teams activity from another tenant ignored")
            return
        if activity.type == ActivityTypes.message:
            await self._on_message(context)
        elif activity.type == ActivityTypes.invoke and activity.name == files.CONSENT_INVOKE:
            await self.consent.answered(context, say=self._say)
        elif activity.type == ActivityTypes.installation_update:
            school = (await self._place(activity)).school_id
            if school is None:
                return
            if (activity.action or "").startswith("add"):
                await self._on_added(context, school)
            elif (activity.action or "").startswith("remove"):
                await self.state.forget(school, f"{PLATFORM}:{user_id_of(activity)}")
        elif activity.type == ActivityTypes.conversation_update:
            bot_id = activity.recipient.id if activity.recipient else None
            if any(m.id == bot_id for m in activity.members_added or []):
                await self._on_added(context, (await self._place(activity)).school_id)

    async def _on_added(self, context: TurnContext, school: str | None) -> None:
        """Teams says twice that someone added the bot (installationUpdate, then conversationUpdate): the first
        opens the chat, so what waited for them comes as the opening shows it (a handler's list first), never
        delivered ahead of it; the second only keeps where to reach them."""
        user_id = user_id_of(context.activity)
        if school is None or not user_id or await self.state.reference(school, f"{PLATFORM}:{user_id}") is None:
            await self._on_installed(context)
            return
        await self._remember(context.activity, school)
        self.outbox.wake()

    async def _on_installed(self, context: TurnContext) -> None:
        """The bot was added to someone's personal chat: what waited for them, then a greeting."""
        activity = context.activity
        user_id = user_id_of(activity)
        place = await self._place(activity)
        if not user_id or place.school_id is None:
            if user_id:
                await self._post(context, user_id, place.no_school(), place)
            return
        await self._remember(activity, place.school_id)
        turn = Turn(platform=PLATFORM, user_id=user_id, conversation_id=activity.conversation.id,
                    school_id=place.school_id, kind="open", forms=True, files=True, updates_cards=True,
                    turn_id=turn_id_of(activity), display_name=display_name_of(activity))
        async with self.outbox.holding():  # the turn shows what waited for them: no round may claim it meanwhile
            replies = await self.bot.handle(turn)
        await self._post(context, user_id, replies, place)
        self.outbox.wake()

    async def _on_message(self, context: TurnContext) -> None:
        activity = context.activity
        user_id = user_id_of(activity)
        if not user_id:
            return
        place = await self._place(activity)
        if place.school_id is None:
            await self._post(context, user_id, place.no_school(), place)
            return
        await self._remember(activity, place.school_id)
        await self.outbox.make_way()  # delivery first, if it has fallen behind
        base: dict[str, Any] = dict(
            platform=PLATFORM, user_id=user_id, conversation_id=activity.conversation.id, school_id=place.school_id,
            forms=True, files=True, updates_cards=True, turn_id=turn_id_of(activity),
            display_name=display_name_of(activity))
        value = activity.value if isinstance(activity.value, dict) else {}
        data = cards.submitted(value)
        asked = self._asked.pop((activity.conversation.id, activity.reply_to_id or ""), None)
        if data is not None and "f" in data:
            if data.get("x"):  # the form's Cancel: take the form away, nothing else happens
                await self._answered(context, asked, None)
                return
            turn = Turn(form_id=str(data["f"]), form_values=cards.form_values(value), **base)
            replies = await self.bot.handle(turn)
            if replies:
                await self._answered(context, asked, None)
        elif data is not None:
            picked = [str(data["c"])] if "c" in data else cards.picked(value)
            asks = data.get("q")
            turn = Turn(choices=picked, answering=asks, text=None if picked else "", **base)
            replies = await self.bot.handle(turn)
            if replies and asks is not None:
                labels = ", ".join(asked[1].get(p, p) for p in picked) if asked else ""
                note = None if replies[0].moved_on or not labels else place.words.text("common.you_chose", value=labels)
                await self._answered(context, asked, note)
        else:
            turn = Turn(text=from_teams_text(activity), attachments=attachments_of(activity), **base)
            replies = await self.bot.handle(turn)
        await self._post(context, user_id, replies, place)
        self.outbox.wake()  # what the turn made for other people goes in the background: nobody waits for it

    async def _place(self, activity: Activity) -> Placement:
        """The school of the person writing, from their Microsoft 365 tenant (bot/channels/base.py). Serving many
        tenants (credentials without a tenant), only a tenant mapped to a school is served: anyone else who
        installed a copy of the app gets the "ask your DSL" answer and nothing is kept."""
        tenant = (tenant_of(activity) or "").lower() or None
        return await resolve_turn(self.bot.schools, PLATFORM, tenant, str(user_id_of(activity)),
                                  mapped_only=self.config.credentials and not self.config.tenant_id)

    async def _answered(self, context: TurnContext, asked: tuple[dict[str, Any], dict[str, str]] | None,
                        note: str | None) -> None:
        """Take the buttons off the card just answered (when it is one this process sent)."""
        if asked is None:
            return
        update = self._card_activity(cards.answered(asked[0], note))
        update.id = context.activity.reply_to_id
        try:
            await with_retries(lambda: context.update_activity(update))
        except Exception as exc:  # only the buttons stay: the reply still goes
            log.warning("teams card update failed (%s)", type(exc).__name__)

    # --- files ---------------------------------------------------------------------------

    # --- sending -------------------------------------------------------------------------

    async def _say(self, context: TurnContext, user_id: str, key: str) -> None:
        words = (await self._place(context.activity)).words
        await self._post(context, user_id, [words.reply(key)], Placement(None, words))

    @staticmethod
    def _card_activity(card: dict[str, Any], reply: Reply | None = None) -> Activity:
        activity = Activity(type=ActivityTypes.message,
                            attachments=[CardAttachment(content_type=cards.CONTENT_TYPE, content=SentAsIs(card))])
        if reply is not None:
            summary = cards.summary(reply)
            if summary:  # left unset otherwise: Teams refuses an empty one
                activity.summary = summary
            if reply.urgent:
                activity.channel_data = {"notification": {"alert": True}}
        return activity

    async def _post(self, context: TurnContext, user_id: str, replies: list[Reply], place: Placement) -> None:
        label, clipped = place.words.text("common.continue_label"), place.words.text("case.field_clipped")
        for reply in replies:
            sent = None
            card = None
            for card in cards.reply_cards(reply, label, self.bot.settings.max_text_chars, clipped):
                activity = self._card_activity(card, reply)
                sent = await with_retries(partial(context.send_activity, activity))
            if reply.file:  # a record for the person who asked, offered in their own chat only
                await self.consent.offer(context, user_id, reply.file)
            if not sent or not sent.id or card is None:
                continue
            if reply.card and place.school_id:
                conversation = context.activity.conversation.id
                earlier = await self.state.card_shown(place.school_id, reply.card.reference, f"{PLATFORM}:{user_id}",
                                                      conversation, sent.id)
                for old_conversation, old_id in earlier:
                    if old_conversation == conversation:
                        moved = place.words.reply("case.card_moved", reference=reply.card.reference)
                        await self._retire_card(context, old_id, moved)
            if (reply.choices and reply.asks is not None) or reply.form:
                labels = {c.id: c.label for c in reply.choices}
                self._asked[(context.activity.conversation.id, sent.id)] = (card, labels)
                while len(self._asked) > QUESTIONS_REMEMBERED:
                    self._asked.popitem(last=False)

    async def _retire_card(self, context: TurnContext, activity_id: str, moved: Reply) -> None:
        """An older copy of a case card, once a newer one is shown: one line pointing to it, and no buttons."""
        (card,) = cards.reply_cards(moved, "")
        update = self._card_activity(card, moved)
        update.id = activity_id
        try:
            await with_retries(lambda: context.update_activity(update))
        except Exception as exc:  # the newer card is what matters; the older one keeps its stale buttons
            log.warning("teams could not retire an older card (%s)", type(exc).__name__)

    # --- conversation references ---------------------------------------------------------

    async def _remember(self, activity: Activity, school_id: str) -> None:
        """Keep where to reach this person later (written only when it changes)."""
        user = f"{PLATFORM}:{user_id_of(activity)}"
        reference = activity.get_conversation_reference()
        reference.activity_id = None
        reference.request_id = None
        data = reference.model_dump(mode="json", by_alias=True, exclude_none=True)
        data.get("user", {}).pop("name", None)  # not needed to reach them, so not kept
        await self.state.remember(school_id, user, data)

    async def _continue(self, reference: ConversationReference, work: Callable[[TurnContext], Awaitable[None]]) -> None:
        """Run `work` in someone's personal chat, proactively; it raises if the work failed."""
        continuation = reference.get_continuation_activity()
        continuation.id = None  # a new message in the chat, not a reply to an activity that never was
        failures: list[Exception] = []

        async def callback(context: TurnContext) -> None:
            try:
                await work(context)
            except Exception as exc:  # the SDK would hand it to on_turn_error and carry on as if sent
                failures.append(exc)

        if self.config.client_id is not None:  # self.config.credentials
            await self.adapter.continue_conversation(self.config.client_id, continuation, callback)
        else:
            await self.adapter.continue_conversation_with_claims(ClaimsIdentity(), continuation, callback)
        if failures:
            raise failures[0]

    # --- the outbox's sender ---------------------------------------------------------------

    async def send(self, note: Notification) -> Outcome:
        """One notification through the person's stored conversation. Someone who removed the bot meanwhile has
        none: it waits until they add it again."""
        data = await self.state.reference(note.school_id, note.recipient)
        if data is None:
            return Outcome.later()
        reference = ConversationReference.model_validate(data)
        if not self.host_validator.is_allowed(reference.service_url or ""):
            log.warning("teams delivery skipped: the stored service URL is not a Microsoft host")
            return Outcome.later(release=False)
        place = Placement(note.school_id, await words_for(self.bot.schools, note.school_id))
        try:
            await self._continue(reference, lambda context: self._deliver(context, note, place))
        except Refused as exc:
            return Outcome.refused(exc.reason, chat_refused=exc.status in CHAT_REFUSED)
        except Exception as exc:  # the connector failed or could not be reached; try again later
            log.warning("teams delivery failed (%s); it will be retried", type(exc).__name__)
            return Outcome.retry(retry_after(exc))
        return Outcome.sent()

    async def _deliver(self, context: TurnContext, note: Notification, place: Placement) -> None:
        user_id = note.recipient.partition(":")[2]
        if note.kind != "card_update":
            await self._post(context, user_id, note.replies, place)
            return
        label, clipped = place.words.text("common.continue_label"), place.words.text("case.field_clipped")
        conversation = context.activity.conversation.id
        for reply, case_card in [(r, r.card) for r in note.replies if r.card is not None]:
            (card,) = cards.reply_cards(reply, label, clipped=clipped)
            for channel, activity_id in await self.state.cards_shown(note.school_id, case_card.reference,
                                                                     note.recipient):
                if channel == conversation:
                    update = self._card_activity(card, reply)
                    update.id = activity_id
                    await with_retries(partial(context.update_activity, update))
