"""Replies onto Slack: posted into a person's DM as Block Kit, a case card remembered where it was shown (its older
copy retired), and the outbox's sender (bot/channels/outbox.py) for everything that goes to other people."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases.schools import Schools
from bot.channels.base import ChannelState, Placement, words_for
from bot.channels.outbox import Outcome
from bot.channels.slack.blocks import fallback, reply_message
from bot.channels.slack.installations import NotInstalled, Speaker, Workspaces
from bot.channels.slack.lookups import SlackLookups
from bot.core.models import Notification, Reply

log = logging.getLogger("bot.channels.slack.app")  # where these lines have always been logged

PLATFORM = "slack"


class SlackMessages:
    # As the outbox's sender: several recipients side by side (each one's in order: Slack's rate limit is per
    # channel, and each recipient is a DM of their own); slack-sdk retries each call itself, so a refused
    # notification is simply offered again and the others go on.
    platform = PLATFORM
    reachable_only = False
    sending_at_once = 8
    rests_after_failure = False
    send_timeout_seconds = 60.0

    def __init__(self, schools: Schools, workspaces: Workspaces, lookups: SlackLookups, state: ChannelState):
        self.schools = schools
        self.workspaces = workspaces
        self.lookups = lookups
        self.state = state

    async def post(self, speaker: Speaker, channel: str, user_id: str, replies: list[Reply], place: Placement,
                   thread: str | None = None) -> list[Reply]:
        """A turn's replies, in order, in the thread the person wrote in (if any). If Slack refuses one (after
        slack-sdk's own retries), it and those after it are returned unsent, for the outbox to owe the person, so
        none is lost. Without a school there is no outbox to keep them in, and a file (a safeguarding record) is
        never kept there: the refusal is raised, and the record can be asked for again."""
        for n, reply in enumerate(replies):
            try:
                await self._post_one(speaker, channel, user_id, reply, place, thread)
            except SlackApiError as exc:
                if place.school_id is None or reply.file:
                    raise
                log.warning("slack refused a reply (%s); it will be sent again", exc.response.get("error"))
                return [r for r in replies[n:] if not r.file]
        return []

    async def _post_one(self, speaker: Speaker, channel: str, user_id: str, reply: Reply, place: Placement,
                        thread: str | None) -> None:
        client = speaker.client
        if reply.file:  # a record for the person who asked: uploaded into their DM only
            await client.files_upload_v2(channel=channel, file=reply.file.content, filename=reply.file.name,
                                         title=reply.file.name, initial_comment=fallback(reply.text),
                                         thread_ts=thread, request_file_info=False)
            return
        label = place.words.text("common.continue_label")
        response = await client.chat_postMessage(channel=channel, thread_ts=thread, **reply_message(reply, label))
        if reply.card and place.school_id:
            earlier = await self.state.card_shown(place.school_id, reply.card.reference, f"{PLATFORM}:{user_id}",
                                                  channel, response["ts"])
            for old_channel, old_ts in earlier:
                moved = place.words.reply("case.card_moved", reference=reply.card.reference)
                await self._retire_card(client, old_channel, old_ts, moved)

    async def _retire_card(self, client: AsyncWebClient, channel: str, ts: str, moved: Reply) -> None:
        """An older copy of a case card, once a newer one is shown: one line pointing to it, and no buttons."""
        try:
            await client.chat_update(channel=channel, ts=ts, **reply_message(moved, "", revision=ts))
        except SlackApiError as exc:  # deleted by the person, say: the newer card is what matters
            log.warning("slack could not retire an older card (%s)", exc.response.get("error"))

    async def send(self, note: Notification) -> Outcome:
        """One notification from the outbox, to the recipient's DM in the workspace of its school (the only
        workspace, with one token); a card update edits every copy of the card already shown to them."""
        place = Placement(note.school_id, await words_for(self.schools, note.school_id))
        user_id = note.recipient.partition(":")[2]
        try:
            speaker = await self.workspaces.for_school(note.school_id)
            if note.kind == "card_update":
                label = place.words.text("common.continue_label")
                for reply, card in [(r, r.card) for r in note.replies if r.card is not None]:
                    shown = await self.state.cards_shown(note.school_id, card.reference, note.recipient)
                    for channel, ts in shown:
                        await speaker.client.chat_update(channel=channel, ts=ts,
                                                         **reply_message(reply, label, revision=note.id))
                return Outcome.sent()
            channel = await self.lookups.dm_channel(speaker, user_id)
            for reply in note.replies:  # a refusal is raised: the whole note is offered again
                await self._post_one(speaker, channel, user_id, reply, place, None)
        except NotInstalled as exc:  # left leased: offered again once the lease ends, by when it may be
            log.warning("slack delivery waits: %s", exc)
            return Outcome.later(release=False)
        except SlackApiError as exc:
            log.warning("slack delivery failed (%s); it will be retried", exc.response.get("error"))
            return Outcome.retry()
        return Outcome.sent()
