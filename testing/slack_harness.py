"""Drives our real aiohttp server with slack-bolt inside it: real signed requests in, a fake Web API out."""

from __future__ import annotations

import copy
import itertools
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp.test_utils import TestClient
from slack_sdk.signature import SignatureVerifier

from testing.fakes.slack_api import FakeSlackApi

SECRET = "8f742231b10e8888abcd99aaabbb85a5"
TEAM = "T0HILL"
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "slack"


def fixture(name: str) -> dict[str, Any]:
    """A fresh copy of a payload as Slack sends it (tests/fixtures/slack/README.md says where each shape comes from)."""
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))


def form_fixture(name: str) -> dict[str, str]:
    """The fields of a form body as Slack sends it (a slash command), from tests/fixtures/slack/NAME.txt."""
    return dict(parse_qsl((FIXTURES / f"{name}.txt").read_text().strip(), keep_blank_values=True))


class SlackHarness:
    def __init__(self, client: TestClient, channel, api: FakeSlackApi):
        self.client = client
        self.channel = channel
        self.api = api
        self._ids = itertools.count(1)
        self.team = TEAM  # the workspace requests come from

    # --- requests as Slack sends them ------------------------------------------------------

    def signed_headers(self, body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        return {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
        }

    async def post(self, body: str, content_type: str, headers: dict[str, str] | None = None, **sign):
        all_headers = {"Content-Type": content_type, **self.signed_headers(body, **sign), **(headers or {})}
        return await self.client.post("/slack/events", data=body.encode(), headers=all_headers)

    async def event(self, event: dict[str, Any], event_id: str | None = None, retry: int | None = None, **sign):
        """An Events API callback: `event` inside the envelope Slack wraps it in (message_im.json's)."""
        envelope = fixture("message_im")
        envelope.update(team_id=self.team, context_team_id=self.team, event=event,
                        event_id=event_id or f"Ev{next(self._ids):08d}", event_time=int(time.time()))
        envelope["authorizations"][0]["team_id"] = self.team
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return await self.post(json.dumps(envelope), "application/json", headers, **sign)

    async def dm(self, user: str, text: str = "", files: list[dict] | None = None, event_id: str | None = None,
                 retry: int | None = None, kind: str = "message_im", **changes):
        """A message `user` sends in their DM with the bot, from the fixture `kind` (a plain message, a file share, a
        reply in a thread...): its ids made this deployment's, its text `text`, and any other `changes` applied."""
        event = fixture(kind)["event"]
        ts = f"{time.time():.6f}"
        event.update(channel=f"D{user}", user=user, text=text, ts=ts, event_ts=ts, team=self.team, **changes)
        if "client_msg_id" in event:
            event["client_msg_id"] = f"msg-{next(self._ids)}"
        for block in event.get("blocks", []):  # the rich_text copy of the text, as Slack sends it beside `text`
            block["elements"][0]["elements"] = [{"type": "text", "text": text}]
        if files is not None:
            event.update(subtype="file_share", files=files)
        return await self.event(event, event_id=event_id, retry=retry)

    async def home_opened(self, user: str):
        """`user` opens the bot's Home tab (app_home_opened.json)."""
        opened = fixture("app_home_opened")["event"]
        opened.update(user=user, channel=f"D{user}")
        return await self.event(opened)

    async def fixture_event(self, name: str, **changes):
        """An Events API callback exactly as in the fixture `name`, for this deployment's workspace."""
        envelope = fixture(name)
        envelope.update(team_id=self.team, context_team_id=self.team, event_id=f"Ev{next(self._ids):08d}",
                        event_time=int(time.time()))
        envelope["event"].update(changes)
        for authorization in envelope.get("authorizations", []):
            authorization["team_id"] = self.team
        return await self.post(json.dumps(envelope), "application/json")

    async def interaction(self, payload: dict[str, Any], **sign):
        return await self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **sign)

    async def click(self, user: str, message: dict[str, Any], choice_id: str, **sign):
        """Press the button for `choice_id` on a message the fake API recorded."""
        block, element = find_button(message, choice_id)
        return await self.interaction(self.block_actions(user, message, block, element), **sign)

    def block_actions(self, user: str, message: dict[str, Any], block: dict, element: dict,
                      state: dict[str, Any] | None = None) -> dict[str, Any]:
        """A press on a message in the DM, as block_actions_dm.json: every key Slack sends, nulls included."""
        payload = fixture("block_actions_dm")
        payload["user"].update(id=user, team_id=self.team)
        payload["team"]["id"] = self.team
        payload["trigger_id"] = f"trig-{next(self._ids)}"
        payload["container"].update(message_ts=message["ts"], channel_id=message["channel"])
        payload["channel"]["id"] = message["channel"]
        payload["message"].update(ts=message["ts"], text=message.get("text", ""), blocks=message["blocks"],
                                  team=self.team)
        if message.get("thread_ts"):  # a message in a thread: Slack says so in the container and the message
            payload["container"]["thread_ts"] = payload["message"]["thread_ts"] = message["thread_ts"]
        payload["state"] = {"values": state or {}}
        payload["actions"] = [self._action(block, element)]
        return payload

    def home_press(self, user: str, view: dict[str, Any], block: dict, element: dict) -> dict[str, Any]:
        """A press on the App Home tab, as block_actions_home.json: no channel, no message, the whole view."""
        payload = fixture("block_actions_home")
        payload["user"].update(id=user, team_id=self.team)
        payload["team"]["id"] = self.team
        payload["trigger_id"] = f"trig-{next(self._ids)}"
        payload["view"].update(blocks=view.get("blocks", []), team_id=self.team)
        payload["actions"] = [self._action(block, element)]
        return payload

    def _action(self, block: dict, element: dict) -> dict[str, Any]:
        return {"action_id": element["action_id"], "block_id": block["block_id"], "text": element.get("text"),
                "value": element.get("value"), "type": element["type"],
                "action_ts": f"{time.time():.6f}{next(self._ids)}"}

    async def tick_and_continue(self, user: str, message: dict[str, Any], choice_ids: list[str]):
        """Tick checkboxes, then press Continue, as Slack sends it: the ticks arrive in `state`."""
        state = {}
        for block in message["blocks"]:
            for element in block.get("elements", []):
                if element.get("type") == "checkboxes":
                    chosen = [o for o in element["options"] if o["value"] in choice_ids]
                    state[block["block_id"]] = {
                        element["action_id"]: {"type": "checkboxes", "selected_options": chosen}
                    }
        block, element = next((b, e) for b in message["blocks"] for e in b.get("elements", [])
                              if e.get("action_id") == "osb_continue")
        return await self.interaction(self.block_actions(user, message, block, element, state))

    async def command(self, user: str, text: str = "", in_dm: bool = False):
        """`/online-safety` typed by `user` in a channel, or in their DM with the bot (slash_command_*.txt)."""
        fields = form_fixture("slash_command_dm" if in_dm else "slash_command_channel")
        fields.update(team_id=self.team, user_id=user, text=text, trigger_id=f"trig-{next(self._ids)}")
        if in_dm:
            fields["channel_id"] = f"D{user}"
        return await self.post(urlencode(fields), "application/x-www-form-urlencoded")

    # --- what the bot sent ---------------------------------------------------------------

    def messages_to(self, user: str) -> list[dict[str, Any]]:
        return self.api.posted_to(f"D{user}")

    async def next_message(self, user: str, after: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Messages to `user` beyond the first `after`, once the bot has sent at least one more."""
        await self.api.wait_for(lambda: len(self.messages_to(user)) > after, timeout)
        await self.settle()
        return self.messages_to(user)[after:]

    async def settle(self) -> None:
        """Let the background listener finish its turn (Bolt acks first and answers after)."""
        count = -1
        while count != len(self.api.calls):
            count = len(self.api.calls)
            for _ in range(20):
                await __import__("asyncio").sleep(0.005)


def find_button(message: dict[str, Any], choice_id: str) -> tuple[dict, dict]:
    for block in message.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("type") == "button" and element.get("value"):
                if json.loads(element["value"]).get("c") == choice_id:
                    return block, element
    raise AssertionError(f"no button {choice_id!r} in {json.dumps(message.get('blocks'))[:500]}")


def question(message: dict[str, Any]) -> str | None:
    """The question a message's buttons answer (its `asks`), or None."""
    for block in message.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("value"):
                return json.loads(element["value"]).get("q")
    return None


def all_text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", []), ensure_ascii=False) + message.get("text", "")


async def submit_modal(
    slack: SlackHarness, user: str, view: dict[str, Any], values: dict[str, str], view_id: str = "V1"
):
    """Submit a modal the bot opened, as Slack sends view_submission: entries in view.state.values."""
    state = {}
    for block in view["blocks"]:
        element = block["element"]
        value = values.get(block["block_id"])
        if element["type"] == "static_select":
            option = next((o for o in element["options"] if o["value"] == value), None)
            state[block["block_id"]] = {"value": {"type": "static_select", "selected_option": option}}
        else:
            state[block["block_id"]] = {"value": {"type": "plain_text_input", "value": value}}
    payload = fixture("view_submission")
    payload["team"]["id"] = slack.team
    payload["user"].update(id=user, team_id=slack.team)
    payload["view"].update({**view, "id": view_id, "root_view_id": view_id, "team_id": slack.team,
                            "state": {"values": state}})
    return await slack.interaction(payload)
