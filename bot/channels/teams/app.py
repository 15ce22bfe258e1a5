"""The Microsoft Teams channel on the Microsoft 365 Agents SDK: activities to turns, replies to Adaptive Cards.

Everything happens in the personal chat between a member of staff and the bot. The SDK's `CloudAdapter`
checks each request's Bot Framework token (the JWT check is applied to `POST /api/messages` only) and
sends replies through the Bot Framework connector; this class is the SDK's agent: it turns each activity
into a neutral `Turn` and each `Reply` into an Adaptive Card. Case cards and updates for other people are
sent proactively, through the conversation reference kept when each person first talked to the bot or
installed it; until then they wait in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import re
import warnings
from collections import OrderedDict
from typing import Any, Awaitable, Callable

import yarl

from aiohttp import web
from aiohttp.web_exceptions import NotAppKeyWarning
from microsoft_agents.activity import Activity, ActivityTypes, ConversationReference, InvokeResponse
from microsoft_agents.activity import Attachment as CardAttachment
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_decorator
from microsoft_agents.hosting.core import ClaimsIdentity, OutboundHostValidator, TurnContext
from pydantic import ValidationError

from bot.channels.teams import cards, files
from bot.channels.teams.delivery import Refused, Senders, retry_after, with_retries
from bot.channels.teams.config import TeamsConfig, is_loopback
from bot.conversation.engine import Bot
from bot.core.periodic import Periodic
from bot.core.models import Attachment, FileReply, Notification, Reply, Turn

log = logging.getLogger(__name__)

PLATFORM = "teams"
CHAT_REFUSED = {403, 404}  # the person's chat refused (blocked, gone), not just one message
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"  # the issuer of the tokens the Teams channel sends
DELIVERY_INTERVAL_SECONDS = 2.0
FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
QUESTIONS_REMEMBERED = 500


def from_teams_text(activity: Activity) -> str:
    """What the person typed: a mention of the bot removed, anyone else's kept as their name."""
    return re.sub(r"</?at>", "", activity.remove_recipient_mention()).strip()


def user_id_of(activity: Activity) -> str | None:
    """The person's Entra ID (AAD) object id, as in the staff directory; the Teams id if there is none."""
    sender = activity.from_property
    if sender is None:
        return None
    return sender.aad_object_id or sender.id


async def has_service_url(request: web.Request, loopback_only: bool) -> bool:
    """Whether an activity names an absolute http(s) address to answer at (on this machine only, with
    `loopback_only`: anonymous mode must never be made to post elsewhere). A body that is not a JSON object is
    left to the SDK, which refuses it; aiohttp keeps the body, so the SDK reads it again."""
    try:
        body = await request.json()
    except ValueError:
        return True
    if not isinstance(body, dict):
        return True
    url = body.get("serviceUrl")
    if not isinstance(url, str):
        return False
    try:
        parsed = yarl.URL(url)
    except ValueError:
        return False
    if parsed.scheme not in ("http", "https") or not parsed.host or any(c.isspace() for c in parsed.host):
        return False
    return is_loopback(parsed.host) or not loopback_only


def from_the_channel(claims: ClaimsIdentity | None) -> bool:
    """A token the Bot Framework channel issued: not one the school's own Entra tenant gives any of its apps
    for the bot's App ID, nor an agent calling the bot (both would let the caller speak as anyone)."""
    if claims is None:
        return False
    return claims.claims.get("iss") == BOT_FRAMEWORK_ISSUER and not claims.is_agent_claim()


def display_name_of(activity: Activity) -> str | None:
    """The name Teams shows for the person (`from.name`), to show them by name rather than by an id."""
    name = activity.from_property.name if activity.from_property else None
    return " ".join(name.split()) or None if isinstance(name, str) else None


def tenant_of(activity: Activity) -> str | None:
    if activity.conversation and activity.conversation.tenant_id:
        return activity.conversation.tenant_id
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    return (data.get("tenant") or {}).get("id")


class TeamsChannel:
    name = "teams"

    def __init__(self, bot: Bot, config: TeamsConfig):
        self.bot = bot
        self.config = config
        bot.opened_chat_platforms.add(PLATFORM)  # the bot can write only into a chat the person has opened
        # Never below INFO, whatever the root level: the SDK's DEBUG logging may carry activity bodies,
        # and case content never goes into logs.
        logging.getLogger("microsoft_agents").setLevel(logging.INFO)
        # The SDK logs a request that is not a valid activity at ERROR with the offending values, which can be
        # what someone typed: `_http` answers 400 and says so without them.
        logging.getLogger("microsoft_agents.activity").setLevel(logging.CRITICAL)
        self.connections = MsalConnectionManager(**config.sdk)
        # In production, activities may name (and replies may go to) only Microsoft's service hosts.
        self.host_validator = OutboundHostValidator(enabled=config.credentials)
        self.adapter = CloudAdapter(connection_manager=self.connections, host_validator=self.host_validator)
        self.adapter.on_turn_error = self._on_turn_error
        # Claiming from the outbox, one at a time; an opening turn (which shows what waited) holds it too.
        self._claiming = asyncio.Lock()
        self.senders = Senders(self._delivery_round)
        self._refs: dict[str, dict[str, Any]] = {}
        # Cards with buttons or inputs sent lately, so an answered one can lose its buttons:
        # (conversation id, activity id) -> the card and its choices' labels.
        self._asked: OrderedDict[tuple[str, str], tuple[dict[str, Any], dict[str, str]]] = OrderedDict()
        self._delivery_loop = Periodic("teams delivery", DELIVERY_INTERVAL_SECONDS, self._wake)
        # Files offered in a file-consent card and not yet accepted: in memory only, a few, for a few minutes.
        self.pending_files = files.PendingFiles()

    # --- wiring into the server ----------------------------------------------------------

    def mount(self, web_app: web.Application) -> None:
        """`POST /api/messages`, in a sub-application of its own so the SDK's JWT check touches nothing else."""
        api = web.Application()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotAppKeyWarning)  # the SDK reads this string key
            api["agent_configuration"] = self.connections.get_default_connection_configuration()
        api.router.add_post("/messages", self._http if self.config.accepts_requests else self._refuse)
        web_app.add_subapp("/api", api)

    async def _http(self, request: web.Request) -> web.StreamResponse:
        """The SDK's token check, then the activity. A token the check trips over (rather than refuses) is
        refused as well: a bad token gets 401, never 500."""
        checked = False

        async def process(request: web.Request) -> web.StreamResponse:
            nonlocal checked
            checked = True
            if self.config.credentials and not from_the_channel(request.get("claims_identity")):
                log.warning("teams request refused: not a Bot Framework channel token")
                return web.json_response({"error": "unauthorized"}, status=401)
            if not await has_service_url(request, loopback_only=self.config.anonymous):
                log.warning("teams request refused: no usable serviceUrl")
                return web.json_response({"error": "serviceUrl is missing or not an http(s) address"}, status=400)
            try:
                response = await self.adapter.process(request, self)
            except ValidationError as exc:
                log.warning("teams request refused: not an activity (%d problems)", exc.error_count())
                return web.json_response({"error": "not an activity"}, status=400)
            return response or web.Response(status=202)

        try:
            response = await jwt_authorization_decorator(process)(request)
        except Exception as exc:
            if checked:
                raise
            log.warning("teams request refused: the token check failed (%s)", type(exc).__name__)
            return web.json_response({"error": "unauthorized"}, status=401)
        if response.status == 401 and not checked:
            log.warning("teams request refused: no valid Bot Framework token")
        return response

    async def _refuse(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "unauthorized"}, status=401)

    async def start(self) -> None:
        if self.config.anonymous:
            log.warning("TEAMS IS IN ANONYMOUS MODE (TEAMS_ALLOW_ANONYMOUS=true): /api/messages accepts requests "
                        "from anyone, unauthenticated. This is for local testing only: never use it in production.")
        elif not self.config.credentials:
            log.warning("Teams has no credentials: /api/messages refuses every request. Set the "
                        "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__* variables (see README).")
        self._delivery_loop.start()

    async def stop(self) -> None:
        await self._delivery_loop.stop()
        await self.senders.stop()

    async def _on_turn_error(self, context: TurnContext, error: Exception) -> None:
        # Replaces the SDK's default, which posts the exception text to the user. The type only: its message
        # could carry case content.
        log.error("teams turn failed: %s", type(error).__name__)

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
            await self._on_file_consent(context)
        elif activity.type == ActivityTypes.installation_update:
            school = await self._school(activity)
            if school is None:
                return
            if (activity.action or "").startswith("add"):
                await self._remember(activity, school)
                self.senders.wake()
            elif (activity.action or "").startswith("remove"):
                await self._forget(activity, school)
        elif activity.type == ActivityTypes.conversation_update:
            bot_id = activity.recipient.id if activity.recipient else None
            if any(m.id == bot_id for m in activity.members_added or []):
                await self._on_installed(context)

    async def _on_installed(self, context: TurnContext) -> None:
        """The bot was added to someone's personal chat: what waited for them, then a greeting."""
        activity = context.activity
        user_id = user_id_of(activity)
        school = await self._school(activity)
        if not user_id or school is None:
            if user_id:
                await self._post(context, user_id, self.bot.no_school(), None)
            return
        await self._remember(activity, school)
        turn = Turn(platform=PLATFORM, user_id=user_id, conversation_id=activity.conversation.id,
                    school_id=school, kind="open", forms=True, files=True, updates_cards=True, turn_id=self._turn_id(activity),
                    display_name=display_name_of(activity))
        async with self._claiming:  # the turn shows what waited for them: no round may claim it meanwhile
            replies = await self.bot.handle(turn)
        await self._post(context, user_id, replies, school)
        self.senders.wake()

    async def _on_message(self, context: TurnContext) -> None:
        activity = context.activity
        user_id = user_id_of(activity)
        if not user_id:
            return
        school = await self._school(activity)
        if school is None:
            await self._post(context, user_id, self.bot.no_school(), None)
            return
        await self._remember(activity, school)
        base = dict(platform=PLATFORM, user_id=user_id, conversation_id=activity.conversation.id,
                    school_id=school, forms=True, files=True, updates_cards=True, turn_id=self._turn_id(activity),
                    display_name=display_name_of(activity))
        data = cards.submitted(activity.value)
        asked = self._asked.pop((activity.conversation.id, activity.reply_to_id or ""), None)
        if data is not None and "f" in data:
            if data.get("x"):  # the form's Cancel: take the form away, nothing else happens
                await self._answered(context, asked, None)
                return
            turn = Turn(form_id=str(data["f"]), form_values=cards.form_values(activity.value), **base)
            replies = await self.bot.handle(turn)
            if replies:
                await self._answered(context, asked, None)
        elif data is not None:
            picked = [str(data["c"])] if "c" in data else cards.picked(activity.value)
            asks = data.get("q")
            turn = Turn(choices=picked, answering=asks, text=None if picked else "", **base)
            replies = await self.bot.handle(turn)
            if replies and asks is not None:
                moved_on = replies[0].key == "common.moved_on"
                labels = ", ".join(asked[1].get(p, p) for p in picked) if asked else ""
                note = None if moved_on or not labels else self.bot.content.text("common.you_chose", value=labels)
                await self._answered(context, asked, note)
        else:
            turn = Turn(text=from_teams_text(activity), attachments=await self._attachments(context), **base)
            replies = await self.bot.handle(turn)
        await self._post(context, user_id, replies, school)
        self.senders.wake()  # what the turn made for other people goes in the background: nobody waits for it

    async def _school(self, activity: Activity) -> str | None:
        """The school of the person writing, from their Microsoft 365 tenant (bot/cases/schools.py). Serving many
        tenants (credentials without a tenant), only a tenant mapped to a school is served: anyone else who
        installed a copy of the app gets the "ask your DSL" answer and nothing is kept."""
        tenant = (tenant_of(activity) or "").lower() or None
        if self.config.credentials and not self.config.tenant_id:
            if not tenant or not await self.bot.store.schools_for_workspace(PLATFORM, tenant):
                log.warning("teams activity from a tenant no school is mapped to")
                return None
        return await self.bot.schools.resolve(PLATFORM, tenant, f"{PLATFORM}:{user_id_of(activity)}")

    @staticmethod
    def _turn_id(activity: Activity) -> str | None:
        """Teams activity ids are unique only within a conversation (one chat's are millisecond timestamps,
        Microsoft's test adapter numbers each chat's from 1), so a redelivery is known by both."""
        if not activity.id:
            return None
        return f"activity:{activity.conversation.id}:{activity.id}"

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

    async def _attachments(self, context: TurnContext) -> list[Attachment]:
        """Files shared in the chat, recorded by reference: the bot never fetches them (Teams gives no size)."""
        found = []
        for item in context.activity.attachments or []:
            content = item.content if isinstance(item.content, dict) else {}
            if item.content_type == FILE_DOWNLOAD_INFO:
                name = item.name or "file"
                found.append(Attachment(name=name, ref=item.content_url or f"teams-file:{content.get('uniqueId')}",
                                        content_type=mimetypes.guess_type(name)[0]))
            elif item.content_type.startswith("image/") and item.content_url:
                found.append(Attachment(name=item.name or "image", ref=item.content_url, content_type=item.content_type))
        return found

    async def _on_file_consent(self, context: TurnContext) -> None:
        """The person accepted or declined a file offered in a file-consent card. Whatever happens, Teams gets
        its 200: the outcome is told in the chat."""
        activity = context.activity
        try:
            user_id = user_id_of(activity)
            value = activity.value if isinstance(activity.value, dict) else {}
            consent = value.get("context") if isinstance(value.get("context"), dict) else {}
            token = consent.get(files.TOKEN_KEY)
            offer = self.pending_files.peek(token)
            if offer is not None and offer.user_id != user_id:
                log.warning("teams file consent refused: not the person the file was offered to")
                offer = None  # and it stays waiting for the person it was offered to
            if offer is not None:
                self.pending_files.take(token)
            if value.get("action") != "accept" or not user_id:
                return  # declined: nothing is uploaded and nothing more is said
            if offer is None:
                await self._say(context, user_id, "case.record.expired")
            elif not await self._upload(context, offer.file, value.get("uploadInfo")):
                await self._say(context, user_id, "case.record.upload_failed")
        finally:
            await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=200)))

    async def _upload(self, context: TurnContext, file: FileReply, upload_info: Any) -> bool:
        """Put the file into the upload session Teams made for it, then post the card that opens it.
        Neither the upload URL nor the file's address is ever logged: they carry access tokens."""
        info = upload_info if isinstance(upload_info, dict) else {}
        url, content_url, unique_id = info.get("uploadUrl"), info.get("contentUrl"), info.get("uniqueId")
        if not all(isinstance(v, str) and v for v in (url, content_url, unique_id)):
            log.warning("teams file upload skipped: the consent carried no upload session")
            return False
        if not files.upload_allowed(url, production=self.config.credentials):
            log.warning("teams file upload refused: the upload URL is not a OneDrive for Business address")
            return False
        try:
            await files.upload(url, file.content)
        except Exception as exc:  # the type only: an aiohttp error's text can include the URL
            log.warning("teams file upload failed (%s)", type(exc).__name__)
            return False
        name = info.get("name") if isinstance(info.get("name"), str) and info.get("name") else file.name
        file_type = info.get("fileType") if isinstance(info.get("fileType"), str) else name.rpartition(".")[2]
        await context.send_activity(Activity(type=ActivityTypes.message, attachments=[CardAttachment(
            content_type=files.FILE_INFO, content_url=content_url, name=name,
            content={"uniqueId": unique_id, "fileType": file_type})]))
        return True

    # --- sending -------------------------------------------------------------------------

    async def _say(self, context: TurnContext, user_id: str, key: str) -> None:
        await self._post(context, user_id, [Reply(key=key, text=self.bot.content.text(key))], None)

    async def _offer_file(self, context: TurnContext, user_id: str, file: FileReply) -> None:
        """A file-consent card for a file for this person (it waits here until they accept or decline)."""
        token = self.pending_files.offer(user_id, file)
        await context.send_activity(Activity(type=ActivityTypes.message, attachments=[CardAttachment(
            content_type=files.FILE_CONSENT, name=file.name, content=files.consent_card(file, token))]))

    @staticmethod
    def _card_activity(card: dict[str, Any], reply: Reply | None = None) -> Activity:
        activity = Activity(type=ActivityTypes.message,
                            attachments=[CardAttachment(content_type=cards.CONTENT_TYPE, content=card)])
        if reply is not None:
            activity.summary = cards.summary(reply) or None
            if reply.urgent:
                activity.channel_data = {"notification": {"alert": True}}
        return activity

    def _clipped(self) -> str:
        return self.bot.content.text("case.field_clipped")

    async def _post(self, context: TurnContext, user_id: str, replies: list[Reply], school_id: str | None) -> None:
        label = self.bot.content.text("common.continue_label")
        for reply in replies:
            sent = None
            card = None
            for card in cards.reply_cards(reply, label, self.bot.settings.max_text_chars, self._clipped()):
                activity = self._card_activity(card, reply)
                sent = await with_retries(lambda: context.send_activity(activity))
            if reply.file:  # a record for the person who asked, offered in their own chat only
                await self._offer_file(context, user_id, reply.file)
            if not sent or not sent.id or card is None:
                continue
            if reply.card and school_id:
                conversation = context.activity.conversation.id
                earlier = await self.bot.store.record_card_post(school_id, reply.card.reference,
                                                                f"{PLATFORM}:{user_id}", conversation, sent.id)
                for old_conversation, old_id in earlier:
                    if old_conversation == conversation:
                        await self._retire_card(context, old_id, reply.card.reference)
            if (reply.choices and reply.asks is not None) or reply.form:
                self._asked[(context.activity.conversation.id, sent.id)] = (card, {c.id: c.label for c in reply.choices})
                while len(self._asked) > QUESTIONS_REMEMBERED:
                    self._asked.popitem(last=False)

    async def _retire_card(self, context: TurnContext, activity_id: str, reference: str) -> None:
        """An older copy of a case card, once a newer one is shown: one line pointing to it, and no buttons."""
        moved = Reply(key="case.card_moved", text=self.bot.content.text("case.card_moved", reference=reference))
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
        if self._refs.get(user) != data:
            await self.bot.store.save_conversation_ref(school_id, user, PLATFORM, data)
            self._refs[user] = data

    async def _forget(self, activity: Activity, school_id: str) -> None:
        user = f"{PLATFORM}:{user_id_of(activity)}"
        self._refs.pop(user, None)
        await self.bot.store.forget_conversation_ref(school_id, user)

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

        if self.config.credentials:
            await self.adapter.continue_conversation(self.config.client_id, continuation, callback)
        else:
            await self.adapter.continue_conversation_with_claims(ClaimsIdentity(), continuation, callback)
        if failures:
            raise failures[0]

    # --- proactive delivery --------------------------------------------------------------

    async def _wake(self) -> None:
        self.senders.wake()

    async def deliver_pending(self) -> None:
        """Push what waits in the outbox now, and wait until every send has finished (tests use it)."""
        self.senders.wake()
        await self.senders.settled()

    async def _delivery_round(self) -> None:
        """Claim the waiting notifications of people who can be reached (leased to this process: another one
        serving the same database does not send them too) and start a sender for each recipient. Someone who
        has never opened the bot has no conversation yet: theirs wait until they do. A recipient already being
        sent to, or resting after failures, gets theirs back for a later round."""
        store = self.bot.store
        async with self._claiming:
            notes = await store.claim_notifications(PLATFORM, reachable_only=True,
                                                    lease_seconds=self.bot.settings.delivery_lease_seconds)
        by_recipient: dict[str, list[Notification]] = {}
        for note in notes:
            by_recipient.setdefault(note.recipient, []).append(note)
        for recipient, theirs in by_recipient.items():
            if self.senders.busy(recipient):
                for note in theirs:
                    await store.release_notification(note.id)
                continue
            self.senders.start(recipient, lambda theirs=theirs: self._send_in_turn(theirs))

    async def _send_in_turn(self, notes: list[Notification]) -> bool:
        """One recipient's notifications, in order. False when the connector failed for now: the rest are
        released and the recipient rests."""
        store = self.bot.store
        for n, note in enumerate(notes):
            try:
                sent = await self._send(note)
            except Refused as exc:
                await self._refused(note, exc)
                if exc.status in CHAT_REFUSED:  # the rest wait, unpushed, until the person writes again
                    for waiting in notes[n + 1:]:
                        await store.release_notification(waiting.id)
                    return True
                continue
            except Exception as exc:  # the connector failed or could not be reached; try again later
                log.warning("teams delivery failed (%s); it will be retried", type(exc).__name__)
                for waiting in notes[n:]:
                    await store.release_notification(waiting.id)
                self.senders.rest(note.recipient, retry_after(exc))
                return False
            if sent:
                await store.mark_delivered(note.id)
        return True

    async def _send(self, note: Notification) -> bool:
        """One notification through the person's stored conversation; False when it cannot go there now. One that
        is no longer theirs (they left the directory, or the case's handlers) is dropped unsent (True)."""
        if not await self.bot.casework.still_for_recipient(note):
            return True
        data = await self.bot.store.get_conversation_ref(note.school_id, note.recipient)
        if data is None:  # they removed the bot meanwhile: it waits until they add it again
            await self.bot.store.release_notification(note.id)
            return False
        reference = ConversationReference.model_validate(data)
        if not self.host_validator.is_allowed(reference.service_url or ""):
            log.warning("teams delivery skipped: the stored service URL is not a Microsoft host")
            return False
        await self._continue(reference, lambda context: self._deliver(context, note))
        return True

    async def _refused(self, note: Notification, exc: Refused) -> None:
        """Teams will never take this one: it fails, saying why, and the case's other handlers are told. When the
        person's chat is what was refused (blocked, gone), they are unreachable until they next write."""
        log.warning("teams delivery refused for good (%s)", exc.reason)
        store = self.bot.store
        await store.mark_failed(note.id, exc.reason)
        if exc.status in CHAT_REFUSED:
            await store.mark_unreachable(note.school_id, note.recipient, exc.reason)
            self._refs.pop(note.recipient, None)  # so their next message stores the reference again, and clears it
        await self.bot.casework.tell_others_undelivered(note, exc.reason)
        self.senders.wake()  # the others' messages

    async def _deliver(self, context: TurnContext, note: Notification) -> None:
        user_id = note.recipient.partition(":")[2]
        if note.kind != "card_update":
            await self._post(context, user_id, note.replies, note.school_id)
            return
        label = self.bot.content.text("common.continue_label")
        conversation = context.activity.conversation.id
        for reply in note.replies:
            if not reply.card:
                continue
            (card,) = cards.reply_cards(reply, label, clipped=self._clipped())
            for channel, activity_id in await self.bot.store.card_posts(note.school_id, reply.card.reference,
                                                                        note.recipient):
                if channel == conversation:
                    update = self._card_activity(card, reply)
                    update.id = activity_id
                    await with_retries(lambda: context.update_activity(update))

