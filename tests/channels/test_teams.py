"""The Teams channel through our real server and the real Agents SDK: activities in as Teams sends them,
Adaptive Cards out to a fake Bot Framework connector."""

from __future__ import annotations

import functools
import json
import logging
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app.server import build_app
from bot.cases.card import card_reply
from bot.channels.teams import TeamsChannel, teams_config
from bot.core.models import CaseStatus, Role, StaffMember
from testing.fakes.connector import FakeConnector
from testing.teams_harness import (
    TENANT,
    TeamsHarness,
    actions,
    assert_valid_for_teams,
    card_of,
    elements,
    find_action,
    links,
    question,
    text,
    words,
)
from tests.conftest import stored_rows

TEACHER = "6f1b2c3d-0000-4000-8000-00000000a001"
DSL = "6f1b2c3d-0000-4000-8000-00000000d001"
DEPUTY = "6f1b2c3d-0000-4000-8000-00000000d002"
HEAD = "6f1b2c3d-0000-4000-8000-00000000e001"
CHAIR = "6f1b2c3d-0000-4000-8000-00000000e002"
TEAMS_STAFF = [
    StaffMember(user=f"teams:{DSL}", role=Role.DSL, name="Dana Lee"),
    StaffMember(user=f"teams:{DEPUTY}", role=Role.DEPUTY_DSL, name="Sam Patel"),
    StaffMember(user=f"teams:{HEAD}", role=Role.HEADTEACHER, name="Alex Morgan"),
    StaffMember(user=f"teams:{CHAIR}", role=Role.CHAIR_OF_GOVERNORS, name="Chris Wood"),
    StaffMember(user=f"teams:{TEACHER}", role=Role.STAFF, name="Jo Brown"),
]
REF = "OSB-2026-0001"

pytestmark = [
    # The SDK keeps its configuration and claims under string keys, which aiohttp only advises against.
    pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning"),
    # adaptive-cards-py 0.4.3 reads model_fields from instances.
    pytest.mark.filterwarnings("ignore:Accessing the 'model_fields' attribute:DeprecationWarning"),
]


@pytest.fixture
def bot(content, store, settings, clock):
    """A bot whose staff directory has only Teams users (added by the `teams` fixture)."""
    from bot.conversation.engine import Engine

    return Engine(content, store, settings, clock=clock)


@pytest.fixture
async def connector():
    fake = FakeConnector()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def teams(bot, connector):
    """The server in anonymous local mode, so the SDK may reach the fake connector on 127.0.0.1.
    Every card the bot sent during the test is validated for Teams at the end."""
    for member in TEAMS_STAFF:
        await bot.store.upsert_staff(member)
    channel = TeamsChannel(bot, teams_config({"TEAMS_ALLOW_ANONYMOUS": "true"}))
    client = TestClient(TestServer(build_app(bot, [channel]), host="127.0.0.1", port=0))
    await client.start_server()
    harness = TeamsHarness(
        client, channel, connector, names={m.user.removeprefix("teams:"): m.name for m in TEAMS_STAFF}
    )
    yield harness
    await client.close()
    for card in harness.all_cards():
        assert_valid_for_teams(card)


async def report_until_summary(teams: TeamsHarness, categories=("targeting_me",), images="no", extra=(),
                               description="Mocking posts using my photo from the school website") -> dict:
    """A whole report by chat and card buttons, up to the summary; returns the summary card's activity."""
    (msg,) = await teams.say(TEACHER, "I'm being targeted")
    assert question(msg) == "report_concern.categories"
    (msg,) = await teams.tick(TEACHER, msg, list(categories))
    assert question(msg) == "report_concern.images"
    msgs = await teams.press(TEACHER, msg, images)
    for answer in extra:
        msgs = await teams.press(TEACHER, msgs[-1], answer)
    assert question(msgs[-1]) == "report_concern.platforms"
    (msg,) = await teams.tick(TEACHER, msgs[-1], ["instagram"])
    (msg,) = await teams.say(TEACHER, "https://www.instagram.com/fake_hillside/")
    assert question(msg) == "report_concern.first_seen"
    (msg,) = await teams.say(TEACHER, "yesterday")
    (msg,) = await teams.say(TEACHER, description)
    (msg,) = await teams.tick(TEACHER, msg, ["me"])
    (msg,) = await teams.say(TEACHER, "skip")
    assert question(msg) == "report_concern.evidence"
    msgs = await teams.press(TEACHER, msg, "done")
    msgs = await teams.tick(TEACHER, msgs[-1], ["nobody"])
    msg = (await teams.press(TEACHER, msgs[-1], "no_idea"))[-1]  # a very long summary comes as several cards
    assert question(msg) == "report_concern.summary"
    return msg


async def sent_case(teams: TeamsHarness) -> dict:
    """The DSL and deputy have the bot; the teacher reports; the DSL's proactive case card is returned."""
    for user in (DSL, DEPUTY):
        await teams.install(user)
    summary = await report_until_summary(teams)
    (sent,) = await teams.press(TEACHER, summary, "send")
    assert REF in text(sent)
    return teams.to(DSL)[-1]


async def test_a_report_reaches_the_dsl_as_a_proactive_case_card(teams, bot):
    for user in (DSL, DEPUTY):
        greeting = await teams.install(user)
        assert question(greeting[-1]) == "menu"
    summary = await report_until_summary(teams)
    assert "instagram.com/fake_hillside" in text(summary)
    (sent,) = await teams.press(TEACHER, summary, "send")
    assert REF in text(sent)

    (case,) = await bot.store.list_cases("default")
    assert {r.user for r in case.routed_to} == {f"teams:{DSL}", f"teams:{DEPUTY}"}
    card = teams.to(DSL)[-1]
    body = card_of(card)
    titles = [e["text"] for e in elements(body) if e.get("type") == "TextRun" and e.get("size") == "Medium"]
    assert titles == [f"Case {REF}"]
    assert "Jo Brown" in text(card) and "Instagram" in text(card)
    assert [a["data"]["osb"]["c"] for a in actions(card)] == [
        f"case:{REF}:{a}" for a in ("ack", "urgent", "plan", "pack", "note", "action", "status", "close", "record",
                                    "entry", "entered")]
    # Sent as a new message in the DSL's own chat, never as a reply to anything.
    call = next(
        c for c in teams.connector.calls if c["conversation"] == teams.conversation(DSL) and c.get("id") == card["id"]
    )
    assert call["activity_id"] is None
    assert f"Case {REF}" in text(teams.to(DEPUTY)[-1])
    assert not teams.to(HEAD) and not teams.to(CHAIR)


async def test_the_dsl_acknowledges_from_the_card_and_the_reporter_is_told(teams, bot):
    card = await sent_case(teams)
    deputy_card = teams.to(DEPUTY)[-1]
    before = len(teams.to(TEACHER))
    replies = await teams.press(DSL, card, f"case:{REF}:ack")
    assert f"You've acknowledged {REF}" in text(replies[-1])

    assert (await bot.store.get_case("default", REF)).status == CaseStatus.ACKNOWLEDGED
    # Both handlers' cards are updated in place, and no longer offer to acknowledge.
    for user, posted in ((DSL, card), (DEPUTY, deputy_card)):
        (update,) = [u for u in teams.updates(user) if u["id"] == posted["id"]]
        assert "Acknowledged" in text(update)
        with pytest.raises(AssertionError):
            find_action(update, f"case:{REF}:ack")
        find_action(update, f"case:{REF}:close")
    told = teams.to(TEACHER)[before:]
    assert len(told) == 1 and "picked up" in text(told[0]) and REF in text(told[0])
    assert "Dana" not in text(told[0])
    assert any("Dana Lee" in text(m) for m in teams.to(DEPUTY))  # the deputy is told who picked it up


async def test_a_reporter_outside_the_directory_is_named_as_teams_names_them(teams, bot):
    await bot.store.remove_staff("default", f"teams:{TEACHER}")
    teams.names[TEACHER] = "Priya Shah"  # from.name, as Teams sends it with every activity
    card = await sent_case(teams)
    assert await bot.store.display_names("default") == {f"teams:{TEACHER}": "Priya Shah"}
    assert "Priya Shah" in text(card)
    assert "teams:" not in text(card) and TEACHER not in text(card)


async def test_an_allegation_about_the_head_goes_to_the_chair_never_the_head(teams, bot):
    for user in (DSL, DEPUTY, HEAD, CHAIR):
        await teams.install(user)
    summary = await report_until_summary(teams, categories=("allegation",), extra=("headteacher",))
    await teams.press(TEACHER, summary, "send")
    (case,) = await bot.store.list_cases("default")
    assert f"teams:{CHAIR}" in {r.user for r in case.routed_to}
    card = teams.to(CHAIR)[-1]
    assert "chair of governors is the case manager" in text(card) and "LADO" in text(card)
    assert not any(REF in text(m) for m in teams.to(HEAD))
    assert [(r.user, r.reason) for r in case.excluded if r.user == f"teams:{HEAD}"]


async def test_the_guardrail_alerts_at_once_refuses_files_and_marks_the_case_urgent(teams, bot):
    await teams.install(DSL)
    (msg,) = await teams.say(TEACHER, "I need to report something")
    (msg,) = await teams.tick(TEACHER, msg, ["showing_learners"])
    warned = await teams.press(TEACHER, msg, "not_sure")
    assert "view" in text(warned[0]) and "forward" in text(warned[0])
    alert = teams.to(DSL)[-1]
    assert "URGENT" in text(alert) and "Jo Brown" in text(alert)
    assert alert["channelData"] == {"notification": {"alert": True}}  # a Teams notification, not just a message
    assert card_of(alert)["body"][0]["style"] == "attention"

    (msg,) = await teams.tick(TEACHER, warned[-1], ["snapchat"])
    for said in ("skip", "today", "Pictures of Year 10 learners"):
        (msg,) = await teams.say(TEACHER, said)
    (msg,) = await teams.tick(TEACHER, msg, ["learners"])
    (msg,) = await teams.say(TEACHER, "skip")
    assert question(msg) == "report_concern.evidence"
    teams.connector.files["/files/shot.png"] = 1000
    refused = await teams.say(TEACHER, "", attachments=[file_attachment(teams, "shot.png")])
    assert "Please don't send any files" in text(refused[0])
    msgs = await teams.press(TEACHER, refused[-1], "done")
    msgs = await teams.tick(TEACHER, msgs[-1], ["learners_talking"])
    (msg,) = await teams.press(TEACHER, msgs[-1], "learner")
    (msg,) = await teams.say(TEACHER, "skip")
    await teams.press(TEACHER, msg, "send")
    (case,) = await bot.store.list_cases("default")
    assert case.urgent and await bot.store.case_evidence(case.id) == []
    case_part = next(e for e in card_of(teams.to(DSL)[-1])["body"] if e.get("type") == "Container" and e.get("bleed"))
    assert case_part["style"] == "attention" and words(case_part).startswith("URGENT")


def file_attachment(teams: TeamsHarness, name: str) -> dict:
    return teams.file_attachment(name)


async def test_files_shared_in_the_chat_are_recorded_by_reference_never_downloaded(teams, bot):
    (msg,) = await teams.say(TEACHER, "I'm being targeted")
    (msg,) = await teams.tick(TEACHER, msg, ["targeting_me"])
    msgs = await teams.press(TEACHER, msg, "no")
    (msg,) = await teams.tick(TEACHER, msgs[-1], ["tiktok"])
    for said in ("@fakehill", "today", "Mocking videos"):
        (msg,) = await teams.say(TEACHER, said)
    (msg,) = await teams.tick(TEACHER, msg, ["me"])
    (msg,) = await teams.say(TEACHER, "skip")
    pasted = f"{teams.connector.url}v3/attachments/0-weu-d1-abc/views/original"
    (kept,) = await teams.say(TEACHER, "screenshot of the profile", attachments=[
        file_attachment(teams, "tiktok.png"), {"contentType": "image/*", "contentUrl": pasted},
        {"contentType": "text/html", "content": "<p>screenshot of the profile</p>"}])
    assert "that's kept" in text(kept)
    msgs = await teams.press(TEACHER, kept, "done")
    msgs = await teams.tick(TEACHER, msgs[-1], ["nobody"])
    (summary,) = await teams.press(TEACHER, msgs[-1], "no_idea")
    await teams.press(TEACHER, summary, "send")
    (case,) = await bot.store.list_cases("default")
    evidence = await bot.store.case_evidence(case.id)
    assert [(e.name, e.ref, e.size, e.content_type) for e in evidence] == [
        ("tiktok.png", file_attachment(teams, "tiktok.png")["contentUrl"], None, "image/png"),
        ("image", pasted, None, "image/*"),
    ]
    # Recorded by reference only: nothing was fetched, not even asked about.
    assert teams.connector.heads == [] and teams.connector.gets == []


async def test_what_is_not_an_activity_gets_400_not_500(teams):
    assert (await teams.post({"type": 5, "conversation": "x"})).status == 400
    assert (
        await teams.client.post("/api/messages", data=b"{not json", headers={"Content-Type": "application/json"})
    ).status == 400
    assert teams.connector.calls == []


async def test_a_redelivered_activity_runs_one_turn_and_gets_one_reply(teams, bot):
    activity = teams.activity(TEACHER, text="I'm being targeted", id="1700000009999")
    for _ in range(3):
        response = await teams.post(activity)
        assert response.status == 202
    (reply,) = teams.to(TEACHER)
    assert question(reply) == "report_concern.categories"
    assert await bot.store.turn_seen(f"activity:{teams.conversation(TEACHER)}:1700000009999")


async def test_the_same_activity_id_in_another_persons_chat_is_not_a_redelivery(teams):
    """Teams numbers activities per conversation: the same id in two chats is two different activities."""
    await teams.post(teams.activity(TEACHER, text="I'm being targeted", id="1732140600123"))
    await teams.post(teams.activity(DSL, text="help", id="1732140600123"))
    (reply,) = teams.to(TEACHER)
    assert question(reply) == "report_concern.categories"
    assert teams.to(DSL), "the DSL's own message was taken for a redelivery of the teacher's"


@pytest.mark.parametrize("service_url", [None, "http://[::1", "file:///etc/passwd", "not a url", 42, "http://"])
async def test_a_missing_or_malformed_service_url_gets_400_and_leaks_nothing(teams, service_url, caplog):
    activity = teams.activity(TEACHER, text="I'm being targeted")
    if service_url is None:
        del activity["serviceUrl"]
    else:
        activity["serviceUrl"] = service_url
    response = await teams.post(activity)
    assert response.status == 400
    assert "Traceback" not in await response.text() and "Traceback" not in caplog.text
    assert "Unclosed client session" not in caplog.text
    assert teams.connector.calls == []
    assert await teams.channel.bot.store.load_conversation(f"default/teams:{teams.conversation(TEACHER)}") is None


async def test_a_card_from_an_earlier_question_gets_a_kind_reply(teams):
    (first,) = await teams.say(TEACHER, "I'm being targeted")
    (second,) = await teams.tick(TEACHER, first, ["targeting_me"])
    (answered,) = [u for u in teams.updates(TEACHER) if u["id"] == first["id"]]
    kinds = {e["type"] for e in elements(card_of(answered))}
    assert "ActionSet" not in kinds and "Input.ChoiceSet" not in kinds  # nothing left to press
    assert "Your answer: An account targeting me" in text(answered)
    again = await teams.tick(TEACHER, first, ["school_impersonation"])  # a card still showing on another device
    assert "moved on" in text(again[0])
    assert question(again[-1]) == "report_concern.images"


async def test_someone_not_routed_cannot_act_on_a_case_and_the_attempt_is_recorded(teams, bot):
    card = await sent_case(teams)
    await teams.install(HEAD)
    # The headteacher replays the DSL's button from their own chat: valid Teams traffic, but not routed to them.
    refused = await teams.send(HEAD, teams.submit(HEAD, card, find_action(card, f"case:{REF}:ack")["data"]))
    assert "can't find a case" in text(refused[0])
    assert "Jo Brown" not in text(refused[0])
    case = await bot.store.get_case("default", REF)
    assert case.status == CaseStatus.NEW
    events = await bot.store.case_events(case.id)
    assert [(e.actor, e.kind) for e in events if e.kind == "access_refused"] == [(f"teams:{HEAD}", "access_refused")]


async def test_a_dsl_who_has_not_opened_the_bot_gets_the_card_the_moment_they_do(teams, bot):
    summary = await report_until_summary(teams)
    await teams.press(TEACHER, summary, "send")
    assert teams.to(DSL) == []  # Teams lets a bot write only into a chat the person has opened
    assert await bot.store.reachable_users("default", "teams") == {f"teams:{TEACHER}"}
    await teams.channel.deliver_pending()
    assert teams.to(DSL) == [] and any(
        n.recipient == f"teams:{DSL}" for n in await bot.store.pending_notifications("teams")
    )

    await teams.say(DSL, "hello")
    cards = [m for m in teams.to(DSL) if f"Case {REF}" in text(m)]
    assert len(cards) == 1
    await teams.channel.deliver_pending()
    await teams.install(DSL)
    assert len([m for m in teams.to(DSL) if f"Case {REF}" in text(m)]) == 1
    assert not any(n.recipient == f"teams:{DSL}" for n in await bot.store.pending_notifications("teams"))
    # The card was recorded where it was shown, so acting on it updates it in place.
    await teams.press(DSL, cards[0], f"case:{REF}:ack")
    assert any(u["id"] == cards[0]["id"] for u in teams.updates(DSL))


async def test_someone_who_removes_the_bot_is_no_longer_reachable(teams, bot):
    await teams.install(DSL)
    assert f"teams:{DSL}" in await bot.store.reachable_users("default", "teams")
    stored = await bot.store.get_conversation_ref("default", f"teams:{DSL}")
    assert stored["conversation"]["id"] == teams.conversation(DSL) and stored["serviceUrl"] == teams.connector.url
    assert "name" not in stored["user"] and "activityId" not in stored  # only what it takes to reach them
    await teams.send(DSL, teams.activity(DSL, "installationUpdate", action="remove"))
    assert await bot.store.get_conversation_ref("default", f"teams:{DSL}") is None


async def test_a_failed_delivery_waits_and_is_sent_once_when_the_connector_recovers(teams, bot):
    await teams.install(DSL)
    teams.connector.failing.add(teams.conversation(DSL))
    summary = await report_until_summary(teams)
    await teams.press(TEACHER, summary, "send")
    assert any(n.recipient == f"teams:{DSL}" for n in await bot.store.pending_notifications("teams"))
    teams.connector.failing.clear()
    attempts = len(teams.connector.calls)
    await teams.channel.deliver_pending()
    assert len(teams.connector.calls) == attempts  # the DSL's chat rests a while after failing: not hammered
    teams.channel.outbox.clock = lambda: time.monotonic() + 60  # the rest is over
    await teams.channel.deliver_pending()
    await teams.channel.deliver_pending()
    assert len([m for m in teams.to(DSL) if f"Case {REF}" in text(m)]) == 1


async def open_form(teams: TeamsHarness, card: dict, action: str) -> dict:
    (form,) = await teams.press(DSL, card, f"case:{REF}:{action}")
    return form


async def test_the_dsl_adds_a_note_through_a_form_card(teams, bot):
    card = await sent_case(teams)
    form = await open_form(teams, card, "note")
    body = card_of(form)["body"]
    (note,) = [e for e in body if e["type"] == "Input.Text"]
    assert (note["id"], note["isRequired"], note["isMultiline"]) == ("osb_field_note", True, True)
    assert [a["title"] for a in elements(body) if a.get("type") == "Action.Submit"] == ["Save", "Cancel"]
    assert find_form_data(form) == {"f": f"case_note:{REF}"}

    (done,) = await teams.fill(DSL, form, {"note": "Spoke to Jo; POSH called at 9am."})
    assert "note has been added" in text(done)
    case = await bot.store.get_case("default", REF)
    assert [e.detail for e in await bot.store.case_events(case.id) if e.kind == "note_added"] == [
        {"note": "Spoke to Jo; POSH called at 9am."}]
    (closed_form,) = [u for u in teams.updates(DSL) if u["id"] == form["id"]]
    assert not [e for e in elements(card_of(closed_form)) if e["type"].startswith("Input.") or e["type"] == "ActionSet"]


async def test_each_handler_keeps_one_card_per_case_updated_in_place(teams, bot):
    """Acknowledge and a note: one line each, and the one card per person updated in place; opened again from the
    list, the newer card is the live one and the older loses its buttons."""
    card = await sent_case(teams)
    (done,) = await teams.press(DSL, card, f"case:{REF}:ack")
    assert not actions(done) and f"Case {REF}" not in text(done)  # a line, not another card
    form = await open_form(teams, card, "note")
    (noted,) = await teams.fill(DSL, form, {"note": "Called POSH."})
    assert not actions(noted)
    cards_posted = [m for m in teams.to(DSL) if "Reported by" in text(m)]
    assert [m["id"] for m in cards_posted] == [card["id"]]
    assert any(u["id"] == card["id"] and "Acknowledged" in text(u) for u in teams.updates(DSL))

    (listing,) = [m for m in await teams.say(DSL, "my cases") if find_action_or_none(m, f"case:{REF}:show")]
    (newer,) = await teams.press(DSL, listing, f"case:{REF}:show")
    retired = [u for u in teams.updates(DSL) if u["id"] == card["id"] and "further down" in text(u)]
    assert retired and not actions(retired[-1])
    assert await bot.store.card_posts("default", REF, f"teams:{DSL}") == [(teams.conversation(DSL), newer["id"])]


def find_action_or_none(message: dict, choice_id: str) -> dict | None:
    try:
        return find_action(message, choice_id)
    except AssertionError:
        return None


def find_form_data(form: dict) -> dict:
    return next(a["data"]["osb"] for a in elements(card_of(form)) if a.get("type") == "Action.Submit")


async def test_the_dsl_closes_a_case_with_its_outcome_through_a_form_card(teams, bot):
    card = await sent_case(teams)
    form = await open_form(teams, card, "close")
    inputs = [e for e in card_of(form)["body"] if e["type"].startswith("Input.")]
    assert [(e["type"], e["id"], e["isRequired"]) for e in inputs] == [
        ("Input.ChoiceSet", "osb_field_outcome", True), ("Input.Text", "osb_field_note", False),
        ("Input.Text", "osb_field_open_items_reason", True)]  # required items are open: the reason is required
    assert "Report it to Instagram" in str(inputs[2])  # and the form names them
    assert "content_removed" in [c["value"] for c in inputs[0]["choices"]]
    before = len(teams.to(TEACHER))
    (done,) = await teams.fill(DSL, form, {"outcome": "content_removed", "note": "",
                                           "open_items_reason": "Removed within the hour."})
    assert " is closed" in text(done)
    case = await bot.store.get_case("default", REF)
    assert case.status == CaseStatus.CLOSED and case.outcome == "content_removed"
    (told,) = teams.to(TEACHER)[before:]
    assert "has been closed" in text(told) and "taken down" in text(told)


async def test_cancelling_a_form_card_changes_nothing(teams, bot):
    card = await sent_case(teams)
    form = await open_form(teams, card, "note")
    cancel = [a for a in elements(card_of(form)) if a.get("type") == "Action.Submit"][1]
    assert cancel["associatedInputs"] == "none"
    assert await teams.send(DSL, teams.submit(DSL, form, cancel["data"])) == []
    assert [u["id"] for u in teams.updates(DSL)] == [form["id"]]  # the form is taken away
    case = await bot.store.get_case("default", REF)
    assert not [e for e in await bot.store.case_events(case.id) if e.kind == "note_added"]


async def test_a_form_submitted_by_someone_not_routed_changes_nothing(teams, bot):
    card = await sent_case(teams)
    form = await open_form(teams, card, "close")
    await teams.install(HEAD)
    value = {"osb": find_form_data(form), "osb_field_outcome": "no_further_action"}
    (refused,) = await teams.send(HEAD, teams.submit(HEAD, form, value))
    assert "can't find a case" in text(refused)
    case = await bot.store.get_case("default", REF)
    assert case.status == CaseStatus.NEW
    assert [e.actor for e in await bot.store.case_events(case.id) if e.kind == "access_refused"] == [f"teams:{HEAD}"]


async def test_a_failed_turn_is_logged_by_type_and_never_shown_to_the_user(teams, caplog):
    teams.connector.failing.add(teams.conversation(TEACHER))
    response = await teams.post(teams.activity(TEACHER, text="I'm being targeted by @fake_hillside"))
    assert response.status == 202
    assert "teams turn failed: ClientResponseError" in caplog.text
    assert "fake_hillside" not in caplog.text
    bodies = [json.dumps(c["body"]) for c in teams.connector.calls]
    assert not any("Exception" in b or "Traceback" in b for b in bodies)


async def test_a_whole_teams_conversation_leaves_no_case_content_in_the_logs(teams, caplog):
    caplog.set_level(logging.DEBUG)
    card = await sent_case(teams)
    await teams.press(DSL, card, f"case:{REF}:ack")
    assert caplog.records, "the test should see the libraries' logging"
    for secret in ["fake_hillside", "instagram.com/fake", "Mocking posts using my photo", "Jo Brown", "Dana Lee"]:
        assert secret not in caplog.text, secret


async def test_user_text_can_never_become_a_link_or_formatting_on_a_card(teams):
    typed = "**bold** [click](https://evil.example) https://evil.example <at>Robin</at> _x_ - y"
    await teams.install(DSL)
    summary = await report_until_summary(teams, description=typed)
    await teams.press(TEACHER, summary, "send")
    for message in (summary, teams.to(DSL)[-1]):
        assert "**bold** [click](https://evil.example) https://evil.example Robin _x_ - y" in text(message)
        assert "evil.example" not in " ".join(links(message))  # not a link, anywhere
        # Nothing on the card is markdown-rendered: Teams would apply markdown to TextBlock and FactSet text.
        assert not [e for e in elements(card_of(message)) if e.get("type") in ("TextBlock", "FactSet")]


# --- the endpoint's security --------------------------------------------------------------------------

CLIENT_ID = "0e9b1c4f-2a6d-4c55-9f1e-5b2d8a7c3e10"
PRODUCTION = {
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID": CLIENT_ID,
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET": "not-a-real-secret",
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID": TENANT,
}


@functools.lru_cache(maxsize=2)
def signing_key(name: str = "botframework"):
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def botframework_keys(monkeypatch):
    """Bot Framework's published signing keys, served locally instead of from login.botframework.com."""
    import jwt
    from jwt.algorithms import RSAAlgorithm

    jwk = {
        **RSAAlgorithm.to_jwk(signing_key().public_key(), as_dict=True),
        "kid": "osb-test",
        "use": "sig",
        "alg": "RS256",
    }
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: {"keys": [jwk]})


def token(key=None, **claims) -> str:
    import jwt

    now = int(time.time())
    payload = {"iss": "https://api.botframework.com", "aud": CLIENT_ID, "nbf": now - 10, "exp": now + 3600,
               "serviceurl": "https://smba.trafficmanager.net/uk/", **claims}
    return jwt.encode(payload, key or signing_key(), algorithm="RS256", headers={"kid": "osb-test"})


async def serve(bot, env) -> TestClient:
    for member in TEAMS_STAFF:
        await bot.store.upsert_staff(member)
    client = TestClient(TestServer(build_app(bot, [TeamsChannel(bot, teams_config(env))]), host="127.0.0.1", port=0))
    await client.start_server()
    return client


@pytest.mark.parametrize("authorization", [
    None,
    "Bearer not-a-token",
    "Basic dXNlcjpwYXNz",
    "Bearer " + "e30.e30.e30",
    "forged",
    "wrong audience",
    "expired",
    "loopback service URL",
])
async def test_with_credentials_a_missing_or_bad_token_gets_401_never_500(
    bot, connector, botframework_keys, authorization
):
    forged = {
        "forged": lambda: token(signing_key("attacker")),
        "wrong audience": lambda: token(aud="11111111-2222-3333-4444-555555555555"),
        "expired": lambda: token(nbf=int(time.time()) - 7200, exp=int(time.time()) - 3600),
        # A genuine token, but the activity names a service URL on loopback: production replies only to Microsoft.
        "loopback service URL": lambda: token(serviceurl=connector.url),
    }
    case = authorization
    if authorization in forged:
        authorization = "Bearer " + forged[authorization]()
    client = await serve(bot, PRODUCTION)
    try:
        harness = TeamsHarness(client, None, connector)
        response = await harness.post(harness.activity(TEACHER, text="I'm being targeted"),
                                      headers={"Authorization": authorization} if authorization else None)
        assert response.status == 401
        if case == "loopback service URL":  # the token itself was accepted: the service URL was not
            assert "host validator" in (await response.json())["error"]
        assert "Traceback" not in await response.text()
        assert connector.calls == []
        assert await bot.store.load_conversation(f"default/teams:{harness.conversation(TEACHER)}") is None
    finally:
        await client.close()


@pytest.mark.parametrize("env", [{"TEAMS_ALLOW_ANONYMOUS": "false"}, {"TEAMS_ALLOW_ANONYMOUS": "FALSE"}])
async def test_without_credentials_or_anonymous_mode_every_request_is_refused(bot, connector, env, botframework_keys):
    client = await serve(bot, env)
    try:
        harness = TeamsHarness(client, None, connector)
        for headers in (None, {"Authorization": "Bearer " + token()}):
            response = await harness.post(harness.activity(TEACHER, text="I'm being targeted"), headers=headers)
            assert response.status == 401
        assert connector.calls == []
        assert (await client.get("/healthz")).status == 200  # the rest of the server is unaffected
    finally:
        await client.close()


async def test_the_slack_route_is_untouched_by_the_teams_token_check(bot, connector):
    from bot.channels.slack import SlackChannel, SlackConfig
    from testing.slack_harness import SECRET

    slack = SlackChannel(bot, SlackConfig(bot_token="xoxb-test-token", signing_secret=SECRET, app_token=None,
                                          api_url=connector.url))
    client = TestClient(TestServer(build_app(bot, [slack, TeamsChannel(bot, teams_config(PRODUCTION))]),
                                   host="127.0.0.1", port=0))
    await client.start_server()
    try:
        body = json.dumps({"token": "legacy", "challenge": "abc123", "type": "url_verification"})
        from testing.slack_harness import SlackHarness

        signed = SlackHarness(client, slack, None).signed_headers(body)
        response = await client.post("/slack/events", data=body, headers={"Content-Type": "application/json", **signed})
        assert response.status == 200 and (await response.json()) == {"challenge": "abc123"}
        assert (await client.post("/api/messages", json={})).status == 401
    finally:
        await client.close()


async def test_anonymous_mode_warns_loudly_at_start_up(bot, caplog):
    client = await serve(bot, {"TEAMS_ALLOW_ANONYMOUS": "true"})
    await client.close()
    (warning,) = [r for r in caplog.records if "ANONYMOUS MODE" in r.getMessage()]
    assert warning.levelno == logging.WARNING and "never use it in production" in warning.getMessage()


async def test_no_teams_settings_means_no_teams_endpoint(bot):
    from bot.app.server import configured_channels

    assert configured_channels(bot, {}) == []
    (channel,) = configured_channels(bot, {"TEAMS_ALLOW_ANONYMOUS": "true"})
    assert channel.name == "teams"


async def test_with_credentials_activities_from_another_tenant_are_ignored(bot, connector):
    from microsoft_agents.activity import Activity
    from microsoft_agents.hosting.core import TurnContext

    channel = TeamsChannel(bot, teams_config(PRODUCTION))
    harness = TeamsHarness(None, channel, connector)
    other = harness.activity(TEACHER, text="I'm being targeted")
    other["conversation"]["tenantId"] = "99999999-8888-7777-6666-555555555555"
    other["channelData"] = {"tenant": {"id": "99999999-8888-7777-6666-555555555555"}}
    await channel.on_turn(TurnContext(channel.adapter, Activity.model_validate(other)))
    assert await bot.store.get_conversation_ref("default", f"teams:{TEACHER}") is None
    assert await bot.store.load_conversation(f"default/teams:{harness.conversation(TEACHER)}") is None
    # The school's own tenant gets through (this context has no connector to answer with, hence the error).
    with pytest.raises(RuntimeError, match="ConnectorClient"):
        await channel.on_turn(
            TurnContext(channel.adapter, Activity.model_validate(harness.activity(TEACHER, text="hi")))
        )
    assert await bot.store.get_conversation_ref("default", f"teams:{TEACHER}") is not None


FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"


async def record_offer(teams: TeamsHarness) -> tuple[list[dict], dict]:
    """The DSL presses "Safeguarding record" on their case card: the words, then a file-consent card."""
    card = await sent_case(teams)
    *said, offer = await teams.press(DSL, card, f"case:{REF}:record")
    return said, offer


async def test_the_dsl_gets_the_record_as_a_file_they_accept_into_their_chat(teams, bot, caplog):
    caplog.set_level(logging.DEBUG)
    said, offer = await record_offer(teams)
    (ready,) = said
    assert f"safeguarding record for {REF}" in text(ready) and "cases export" not in text(ready)
    (attachment,) = offer["attachments"]
    assert attachment["contentType"] == FILE_CONSENT and attachment["name"] == f"{REF}.pdf"
    size = attachment["content"]["sizeInBytes"]
    assert size > 1000 and set(attachment["content"]["acceptContext"]) == {"osb_file"}
    assert teams.connector.uploads == []  # nothing leaves until the DSL accepts
    case = await bot.store.get_case("default", REF)
    assert "record_exported" in [e.kind for e in await bot.store.case_events(case.id)]

    status, _, sent = await teams.consent(DSL, offer)
    assert status == 200
    (upload,) = teams.connector.uploads
    assert upload["body"].startswith(b"%PDF") and len(upload["body"]) == size
    assert upload["headers"]["Content-Range"] == f"bytes 0-{size - 1}/{size}"
    assert upload["headers"]["Content-Length"] == str(size)
    (info,) = sent
    (attachment,) = info["attachments"]
    assert attachment["contentType"] == FILE_INFO and attachment["name"] == f"{REF}.pdf"
    assert attachment["contentUrl"].startswith("https://contoso-my.sharepoint.com/")
    assert attachment["content"] == {"uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C9D", "fileType": "pdf"}
    assert len(teams.channel.pending_files) == 0  # the bytes are no longer held
    # The upload session's address carries a token, and the file's address is the DSL's: the bot logs neither
    # (the fake upload server's own access log, which stands in for OneDrive's, is left out).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert "tempauth" not in logged and "/upload/" not in logged and "sharepoint" not in logged

    # An offer is good once: accepting it again gets the expired message and uploads nothing.
    status, _, (again,) = await teams.consent(DSL, offer)
    assert status == 200 and "expired" in text(again) and len(teams.connector.uploads) == 1


async def test_declining_the_record_uploads_nothing_and_says_nothing(teams):
    _, offer = await record_offer(teams)
    status, _, sent = await teams.consent(DSL, offer, action="decline")
    assert status == 200 and sent == []
    assert teams.connector.uploads == [] and len(teams.channel.pending_files) == 0
    status, _, (later,) = await teams.consent(DSL, offer)
    assert "expired" in text(later) and teams.connector.uploads == []


async def test_only_the_dsl_the_record_was_offered_to_can_accept_it(teams, caplog):
    _, offer = await record_offer(teams)
    status, _, (refused,) = await teams.consent(DEPUTY, offer)  # someone else sends the DSL's token
    assert status == 200 and "expired" in text(refused)
    assert teams.connector.uploads == []
    assert "not the person the file was offered to" in caplog.text
    status, _, (info,) = await teams.consent(DSL, offer)  # still waiting for the DSL
    assert info["attachments"][0]["contentType"] == FILE_INFO and len(teams.connector.uploads) == 1


@pytest.mark.parametrize("context", [{"osb_file": "no-such-token"}, {}, {"osb_file": ["a"]}])
async def test_an_unknown_token_gets_the_expired_message(teams, context):
    _, offer = await record_offer(teams)
    status, _, (reply,) = await teams.consent(DSL, offer, context=context)
    assert status == 200
    assert text(reply).startswith("That file has expired") and teams.connector.uploads == []


async def test_an_offer_expires_after_ten_minutes(teams):
    _, offer = await record_offer(teams)
    teams.channel.pending_files.clock = lambda: time.monotonic() + 10 * 60 + 1
    status, _, (reply,) = await teams.consent(DSL, offer)
    assert "expired" in text(reply) and teams.connector.uploads == []


async def test_only_a_few_offers_are_held_the_oldest_going_first(teams):
    from bot.channels.teams.files import FILES_KEPT

    card = await sent_case(teams)
    offers = [(await teams.press(DSL, card, f"case:{REF}:record"))[-1] for _ in range(FILES_KEPT + 1)]
    assert len(teams.channel.pending_files) == FILES_KEPT
    (reply,) = (await teams.consent(DSL, offers[0]))[2]
    assert "expired" in text(reply)
    assert (await teams.consent(DSL, offers[-1]))[2][0]["attachments"][0]["contentType"] == FILE_INFO


async def test_an_upload_address_that_is_not_allowed_is_never_contacted(teams):
    _, offer = await record_offer(teams)
    status, _, (reply,) = await teams.consent(DSL, offer, upload_url="https://uploads.example.com/session?t=1")
    assert status == 200 and "couldn't put that file" in text(reply) and teams.connector.uploads == []
    # The offer was used up: the DSL presses the button again for a fresh one.
    assert len(teams.channel.pending_files) == 0


async def test_a_failed_upload_is_told_and_no_file_card_is_sent(teams, caplog):
    _, offer = await record_offer(teams)
    teams.connector.upload_status = 500
    status, _, (reply,) = await teams.consent(DSL, offer)
    assert status == 200 and "couldn't put that file" in text(reply)
    assert len(teams.connector.uploads) == 1 and "teams file upload failed (UploadFailed)" in caplog.text


@pytest.mark.parametrize("url, production, allowed", [
    ("https://contoso-my.sharepoint.com/personal/dana/_api/v2.0/drive/upload?tempauth=x", True, True),
    ("https://CONTOSO-MY.SHAREPOINT.COM/upload", True, True),
    ("http://contoso-my.sharepoint.com/upload", True, False),  # never in the clear
    ("https://sharepoint.com.example.com/upload", True, False),
    ("https://evilsharepoint.com/upload", True, False),
    ("https://.sharepoint.com/upload", True, False),
    ("https://user:pw@contoso-my.sharepoint.com/upload", True, False),
    ("https://contoso-my.sharepoint.com:bad/upload", True, False),
    ("https://uploads.example.com/upload", True, False),
    ("http://127.0.0.1:8901/upload/s", True, False),  # the local fake only without credentials
    ("http://127.0.0.1:8901/upload/s", False, True),
    ("https://contoso-my.sharepoint.com/upload", False, True),
    ("http://localhost:8901/upload/s", False, False),
    ("http://10.0.0.5/upload/s", False, False),
    ("http://169.254.169.254/latest/meta-data", False, False),
    ("file:///etc/passwd", False, False),
    ("", False, False),
])
def test_uploads_go_only_to_onedrive_for_business_in_production(url, production, allowed):
    from bot.channels.teams.files import upload_allowed

    assert upload_allowed(url, production) is allowed


@pytest.fixture
def outgoing_token(monkeypatch):
    """The bot's own token for calling the connector, which MSAL would fetch from Entra: stubbed, never fetched."""
    from microsoft_agents.authentication.msal import MsalAuth

    async def get_access_token(self, *args, **kwargs):
        return "stub-outgoing-token"

    monkeypatch.setattr(MsalAuth, "get_access_token", get_access_token)


def entra_token(**claims) -> str:
    """A token as the school's own Entra tenant issues it to any app registration in the tenant that asks for
    the bot's App ID (client credentials): signed with the same locally served key, so only its claims differ."""
    return token(**{"iss": f"https://sts.windows.net/{TENANT}/", "tid": TENANT, "idtyp": "app", "ver": "1.0",
                    "appid": "99999999-aaaa-4bbb-8ccc-dddddddddddd", **claims})


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(lambda: entra_token(), id="an app in the school's tenant"),
        pytest.param(
            lambda: entra_token(
                iss=f"https://login.microsoftonline.com/{TENANT}/v2.0", azp="99999999-aaaa-4bbb-8ccc-dddddddddddd"
            ),
            id="the same as a v2 token",
        ),
        pytest.param(
            lambda: token(ver="2.0", azp="99999999-aaaa-4bbb-8ccc-dddddddddddd"),
            id="an agent-to-agent claim under the Bot Framework issuer",
        ),
    ],
)
async def test_only_bot_framework_channel_tokens_are_accepted(bot, connector, botframework_keys, outgoing_token, claims,
                                                             caplog):
    client = await serve(bot, PRODUCTION)
    try:
        harness = TeamsHarness(client, None, connector)
        activity = harness.activity(DSL, text="my cases", serviceUrl="https://smba.trafficmanager.net/uk/")
        response = await harness.post(activity, headers={"Authorization": "Bearer " + claims()})
        assert response.status == 401
        assert "not a Bot Framework channel token" in caplog.text
        assert connector.calls == []
        assert await bot.store.get_conversation_ref("default", f"teams:{DSL}") is None
        assert await bot.store.load_conversation(f"default/teams:{harness.conversation(DSL)}") is None
    finally:
        await client.close()


async def test_a_bot_framework_channel_token_is_accepted(
    bot, connector, botframework_keys, outgoing_token, monkeypatch
):
    """The same request with the channel's token gets through the token check (and on to the turn)."""
    from bot.channels.teams import app as teams_app

    seen = []

    async def on_turn(self, context):
        seen.append(context.activity.text)

    monkeypatch.setattr(teams_app.TeamsChannel, "on_turn", on_turn)
    client = await serve(bot, PRODUCTION)
    try:
        harness = TeamsHarness(client, None, connector)
        activity = harness.activity(DSL, text="my cases", serviceUrl="https://smba.trafficmanager.net/uk/")
        response = await harness.post(activity, headers={"Authorization": "Bearer " + token()})
        assert response.status in (200, 202) and seen == ["my cases"]
    finally:
        await client.close()


# --- delivery: never on the request path ---------------------------------------------------------------


async def test_one_dsls_chat_hanging_delays_nobody_elses_reply_or_card(teams, bot):
    """The DSL's chat never answers. The reporter still gets "sent" at once, the deputy gets the case card
    while the DSL's send is still hanging, and someone else's "help" is answered: the connector's hang is never
    released during the test, so anything that waited for it would not arrive (the bound is the issue's 2 s)."""
    import asyncio

    from testing.fakes.faults import HANG

    for user in (DSL, DEPUTY, HEAD):
        await teams.install(user)
    summary = await report_until_summary(teams)
    teams.connector.fault(teams.conversation(DSL), *[HANG] * 20)
    send_it = teams.submit(TEACHER, summary, find_action(summary, "send")["data"])

    response = await asyncio.wait_for(teams.post(send_it), 2)
    assert response.status == 202
    assert REF in text(teams.to(TEACHER)[-1]) and "sent" in text(teams.to(TEACHER)[-1])
    await teams.connector.wait_for(lambda: any(f"Case {REF}" in text(m) for m in teams.to(DEPUTY)), timeout=2)
    # the DSL's card is on its way and hangs there (its sender may start after the deputy's has finished)
    await teams.connector.wait_for(lambda: teams.connector.faults.hung == [teams.conversation(DSL)], timeout=2)

    before = len(teams.to(HEAD))
    response = await asyncio.wait_for(teams.post(teams.activity(HEAD, text="help")), 2)
    assert response.status == 202 and len(teams.to(HEAD)) > before
    assert teams.to(DSL) == [m for m in teams.to(DSL) if f"Case {REF}" not in text(m)]  # still nothing arrived
    assert teams.connector.faults.hung == [teams.conversation(DSL)]



@pytest.mark.parametrize("left", ["removed", "demoted"])
async def test_a_dsl_who_left_or_was_demoted_loses_the_case_in_teams_at_once(teams, bot, left):
    from bot.core.models import Notification

    card = await sent_case(teams)
    case = await bot.store.get_case("default", REF)
    # A card update and a message still waiting for them from before they left.
    names = {m.user: m.name for m in TEAMS_STAFF}
    await bot.store.queue_notifications(
        [
            Notification(
                recipient=f"teams:{DSL}",
                case_id=case.id,
                kind="card_update",
                replies=[card_reply(await bot.schools.scope(case.school_id), case, f"teams:{DSL}", names)],
            ),
            Notification(
                recipient=f"teams:{DSL}",
                case_id=case.id,
                replies=[
                    card_reply(
                        await bot.schools.scope(case.school_id), case, f"teams:{DSL}", names, key="case.new_card"
                    )
                ],
            ),
        ]
    )
    if left == "removed":
        await bot.store.remove_staff("default", f"teams:{DSL}")
    else:
        await bot.store.upsert_staff(StaffMember(user=f"teams:{DSL}", role=Role.STAFF, name="Dana Lee"))
    sent = len(teams.to(DSL))
    await teams.channel.deliver_pending()
    assert teams.updates(DSL) == [] and len(teams.to(DSL)) == sent
    assert not any(n.recipient == f"teams:{DSL}" for n in await bot.store.pending_notifications("teams"))

    await teams.press(DEPUTY, teams.to(DEPUTY)[-1], f"case:{REF}:ack")
    assert teams.updates(DSL) == [] and len(teams.to(DSL)) == sent  # no update, no "Sam Patel acknowledged it"
    for action in ("ack", "close", "record"):
        refused = await teams.press(DSL, card, f"case:{REF}:{action}")
        assert "can't find a case" in text(refused[0]) and "Jo Brown" not in text(refused[0]), action
    listing = await teams.say(DSL, "my cases")
    assert listing and not any(REF in text(m) for m in listing)


async def test_an_allegation_about_the_head_reaches_the_chair_with_their_guidance_first_and_never_the_head(teams, bot):
    for user in (DSL, DEPUTY, HEAD, CHAIR):
        await teams.install(user)
    summary = await report_until_summary(teams, categories=("allegation",), extra=("headteacher",),
                                         description="Posts say Mr A Morgan shouts at staff")
    await teams.press(TEACHER, summary, "send")
    assert not any(REF in text(m) for m in teams.to(HEAD))
    card = teams.to(CHAIR)[-1]
    case_part = next(e for e in card_of(card)["body"] if e.get("type") == "Container" and e.get("bleed"))
    title, due, first = case_part["items"][0], case_part["items"][2], case_part["items"][3]  # the summary between
    assert words(title) == f"Case {REF}" and "Due next" in words(due)
    assert words(first).startswith("The headteacher is the subject of this allegation") and not first.get("isSubtle")

    (asked,) = await teams.press(CHAIR, card, f"case:{REF}:threshold")
    assert "may have harmed a child" in text(asked)
    await teams.press(CHAIR, asked, f"case:{REF}:threshold:not_sure")
    (case,) = await bot.store.list_cases("default")
    (decided,) = [e for e in await bot.store.case_events(case.id) if e.kind == "threshold_decided"]
    assert (decided.actor, decided.detail) == (f"teams:{CHAIR}", {"decision": "not_sure"})


# --- delivery: permanent errors are permanent, passing ones are retried ----------------------------------


async def case_sent_while_the_dsls_chat_answers(teams: TeamsHarness, *answers) -> int:
    """The DSL and deputy have the bot; a report is sent while the DSL's chat answers `answers` in turn.
    Returns how many posts the DSL's chat had before."""
    for user in (DSL, DEPUTY):
        await teams.install(user)
    summary = await report_until_summary(teams)
    before = tries_to(teams, DSL)
    teams.connector.fault(teams.conversation(DSL), *answers)
    await teams.press(TEACHER, summary, "send")
    return before


def tries_to(teams: TeamsHarness, user: str) -> int:
    return len(
        [c for c in teams.connector.calls if c["conversation"] == teams.conversation(user) and c["method"] == "POST"]
    )


@pytest.mark.parametrize("status, reason, unreachable", [(403, "blocked", True), (404, "conversation_gone", True),
                                                         (413, "too_big", False)])
async def test_a_permanent_refusal_fails_the_notification_tells_the_others_and_is_never_retried(
        teams, bot, status, reason, unreachable):
    before = await case_sent_while_the_dsls_chat_answers(teams, status)
    assert tries_to(teams, DSL) == before + 1  # one attempt, no retries
    failed = [(r["recipient"], r["failure"]) for r in stored_rows(bot.store, "outbox") if r["failure"]]
    assert failed == [(f"teams:{DSL}", reason)]
    told = [text(m) for m in teams.to(DEPUTY) if "could not be sent" in text(m)]
    assert len(told) == 1 and "Dana Lee could not be sent " + REF in told[0]
    assert await bot.store.unreachable_users("default", "teams") == ({f"teams:{DSL}": reason} if unreachable else {})

    teams.channel.outbox.clock = lambda: time.monotonic() + 3600  # however long after
    await teams.channel.deliver_pending()
    assert tries_to(teams, DSL) == before + 1
    if unreachable:  # once the DSL writes to the bot again, they are reachable again
        await teams.say(DSL, "hello")
        assert await bot.store.unreachable_users("default", "teams") == {}
        assert f"teams:{DSL}" in await bot.store.reachable_users("default", "teams")


@pytest.mark.parametrize("status", [412, 429, 502, 504])
async def test_a_passing_refusal_is_retried_and_the_card_arrives_once(teams, bot, status):
    await case_sent_while_the_dsls_chat_answers(teams, status)
    assert len([m for m in teams.to(DSL) if f"Case {REF}" in text(m)]) == 1
    refused = [c for c in teams.connector.calls if c["conversation"] == teams.conversation(DSL)]
    assert len(refused) >= 2 and await bot.store.unreachable_users("default", "teams") == {}
    assert not [r for r in stored_rows(bot.store, "outbox") if r["failure"]]


async def test_retry_after_longer_than_the_bot_waits_rests_the_recipient_that_long(teams, bot):
    for user in (DSL, DEPUTY):
        await teams.install(user)
    summary = await report_until_summary(teams)
    teams.connector.fault(teams.conversation(DSL), 429, retry_after=120)
    await teams.press(TEACHER, summary, "send")
    assert not [m for m in teams.to(DSL) if f"Case {REF}" in text(m)]
    now = time.monotonic()
    teams.channel.outbox.clock = lambda: now + 60  # past the bot's own first rest of 2 s, within Teams' 120 s
    await teams.channel.deliver_pending()
    assert not [m for m in teams.to(DSL) if f"Case {REF}" in text(m)]
    teams.channel.outbox.clock = lambda: now + 121
    await teams.channel.deliver_pending()
    assert len([m for m in teams.to(DSL) if f"Case {REF}" in text(m)]) == 1


# --- many tenants --------------------------------------------------------------------------------------


async def test_with_the_tenant_unset_each_mapped_tenant_reaches_its_school_and_no_other_is_served(bot, connector):
    """Teams for many tenants as the README sets it up: credentials, TENANTID unset, schools mapped to tenants."""
    from microsoft_agents.activity import Activity
    from microsoft_agents.hosting.core import TurnContext

    from bot.core.models import School, Workspace

    oak_tenant, unmapped = "0a0a0a0a-1111-4222-8333-444444444444", "99999999-8888-7777-6666-555555555555"
    await bot.store.upsert_school(
        School(id="hill", name="Hillside Academy", workspaces=[Workspace(platform="teams", id=TENANT)])
    )
    await bot.store.upsert_school(
        School(id="oak", name="Oakfield Primary", workspaces=[Workspace(platform="teams", id=oak_tenant)])
    )
    env = {k: v for k, v in PRODUCTION.items() if not k.endswith("TENANTID")}
    channel = TeamsChannel(bot, teams_config(env))
    harness = TeamsHarness(None, channel, connector)

    def from_tenant(tenant: str, user: str) -> Activity:
        activity = harness.activity(user, "installationUpdate", action="add")
        activity["conversation"]["tenantId"] = tenant
        activity["channelData"] = {"tenant": {"id": tenant}}
        return Activity.model_validate(activity)

    greeted: list[tuple[str, str | None]] = []

    async def post(context, user_id, replies, place):  # no connector behind this bare turn: what would be sent
        greeted.append((user_id, place.school_id))

    channel._post = post
    for tenant, user in ((TENANT, TEACHER), (oak_tenant, DSL), (unmapped, HEAD)):
        await channel.on_turn(TurnContext(channel.adapter, from_tenant(tenant, user)))
    # The first of Teams' two "added" activities opens the chat, in the tenant's school; the unmapped one is ignored.
    assert greeted == [(TEACHER, "hill"), (DSL, "oak")]
    assert await bot.store.get_conversation_ref("hill", f"teams:{TEACHER}") is not None
    assert await bot.store.get_conversation_ref("oak", f"teams:{DSL}") is not None
    for school in ("default", "hill", "oak"):  # someone in a tenant no school claimed: nothing kept anywhere
        assert await bot.store.get_conversation_ref(school, f"teams:{HEAD}") is None
    await channel.outbox.stop()


async def test_with_the_tenant_unset_a_deployment_with_no_tenant_mapped_takes_nobody_in(bot, connector):
    """One school, no tenants mapped: a copy of the app installed in any tenant must not land in it."""
    from microsoft_agents.activity import Activity
    from microsoft_agents.hosting.core import TurnContext

    env = {k: v for k, v in PRODUCTION.items() if not k.endswith("TENANTID")}
    channel = TeamsChannel(bot, teams_config(env))
    harness = TeamsHarness(None, channel, connector)
    activity = Activity.model_validate(harness.activity(TEACHER, "installationUpdate", action="add"))
    await channel.on_turn(TurnContext(channel.adapter, activity))
    assert await bot.store.get_conversation_ref("default", f"teams:{TEACHER}") is None


# --- anonymous mode only on this machine ----------------------------------------------------------------


async def test_in_anonymous_mode_an_activity_naming_a_service_url_off_this_machine_gets_400(teams):
    for url in ("http://169.254.169.254/", "https://smba.trafficmanager.net/uk/", "http://10.0.0.5/"):
        response = await teams.post(teams.activity(TEACHER, text="I'm being targeted", serviceUrl=url))
        assert response.status == 400
    assert teams.connector.calls == []
    assert await teams.channel.bot.store.get_conversation_ref("default", f"teams:{TEACHER}") is None


# --- the truth about alerts ------------------------------------------------------------------------------


async def test_when_no_handler_has_opened_the_app_the_reporter_is_told_nobody_has_it_yet(teams, bot):
    """The DSL and deputy are in the directory but have never opened the bot: nothing can reach them."""
    await teams.install(DSL)
    await teams.send(DSL, teams.activity(DSL, "installationUpdate", action="remove"))  # and removed it
    summary = await report_until_summary(teams)
    (sent,) = await teams.press(TEACHER, summary, "send")
    words_sent = text(sent)
    assert "hasn't reached anyone yet" in words_sent and "(2 people)" in words_sent
    assert "speak to the DSL in person now" in words_sent
    assert "has gone to the safeguarding team" not in words_sent and "alerted" not in words_sent


async def test_when_some_handlers_have_opened_the_app_the_reporter_is_told_who_has_it_and_who_will(teams, bot):
    await teams.install(DSL)
    summary = await report_until_summary(teams)
    (sent,) = await teams.press(TEACHER, summary, "send")
    assert "It has reached 1 person on the safeguarding team so far" in text(sent)
    assert "the rest of the team (1 person) will get it when they next open the app" in text(sent)
    assert "1 people" not in text(sent)


async def test_when_every_handler_can_be_reached_the_reporter_is_told_it_has_gone_to_them(teams, bot):
    card = await sent_case(teams)
    assert card is not None
    told = [text(m) for m in teams.to(TEACHER) if REF in text(m)]
    assert "It has gone to the safeguarding team (2 people)." in told[-1]


async def test_an_urgent_report_that_reached_nobody_never_says_the_team_was_alerted(teams, bot):
    (msg,) = await teams.say(TEACHER, "I need to report something")
    (msg,) = await teams.tick(TEACHER, msg, ["showing_learners"])
    warned = await teams.press(TEACHER, msg, "not_sure")
    (msg,) = await teams.tick(TEACHER, warned[-1], ["snapchat"])
    for said in ("skip", "today", "Pictures of Year 10 learners"):
        (msg,) = await teams.say(TEACHER, said)
    (msg,) = await teams.tick(TEACHER, msg, ["learners"])
    (msg,) = await teams.say(TEACHER, "skip")
    msgs = await teams.press(TEACHER, msg, "done")
    msgs = await teams.tick(TEACHER, msgs[-1], ["learners_talking"])
    (msg,) = await teams.press(TEACHER, msgs[-1], "learner")
    (msg,) = await teams.say(TEACHER, "skip")
    (sent,) = await teams.press(TEACHER, msg, "send")
    assert "can't reach the safeguarding team yet" in text(warned[1]) and "go to the DSL in person now" in text(
        warned[1]
    )
    assert not any("I've alerted" in text(m) for m in teams.to(TEACHER))
    assert "sent as urgent" in text(sent) and "hasn't reached anyone yet" in text(sent)
    assert "alerted" not in text(sent) and "speak to the DSL in person now" in text(sent)


# --- card size as sent -----------------------------------------------------------------------------------


async def test_a_report_of_emoji_reaches_the_reporter_and_the_dsl_through_a_connector_that_refuses_28_kb(teams, bot):
    """Teams refuses a message over about 28 KB, as sent: the SDK sends escaped JSON, 12 bytes an emoji."""
    emoji = "\U0001F621"
    teams.connector.max_bytes = 28 * 1024
    await teams.install(DSL)
    await teams.install(DEPUTY)
    # words too: emoji alone are asked again
    summary = await report_until_summary(teams, description="Faces " + emoji * 3990)
    shown = [m for m in teams.to(TEACHER) if emoji in text(m)]
    assert "".join(text(m) for m in shown).count(emoji) == 3990  # the check-and-send summary, split, all of it
    (sent,) = await teams.press(TEACHER, summary, "send")
    assert REF in text(sent)
    card = next(m for m in teams.to(DSL) if f"Case {REF}" in text(m))
    assert "the safeguarding record has it in full" in text(card)
    assert teams.connector.refused_too_big == []


# --- the person's name, as Teams sends it -----------------------------------------------------------------


async def test_the_name_teams_sends_with_each_activity_is_kept_on_the_turn(teams, bot, monkeypatch):
    turns = []
    handle = bot.handle

    async def spy(turn):
        turns.append(turn)
        return await handle(turn)

    monkeypatch.setattr(bot, "handle", spy)
    teams.names[TEACHER] = "Rita  Reporter"
    (msg,) = await teams.say(TEACHER, "I'm being targeted")
    await teams.tick(TEACHER, msg, ["targeting_me"])
    assert [t.display_name for t in turns] == ["Rita Reporter", "Rita Reporter"]
    assert all(t.user == f"teams:{TEACHER}" for t in turns)


# --- Microsoft's own test client --------------------------------------------------------------------------


async def test_microsofts_test_adapter_numbering_each_chat_from_1_gets_every_person_answered(bot):
    """microsoft-agents-testing's TestAdapter, one per person, with our channel as the agent: it numbers each
    conversation's activities "1", "2", ..., as Teams ids are unique only within a chat. The second person's "1"
    is not a redelivery of the first's, and the name Teams would send (from.name) reaches the turn."""
    from microsoft_agents.testing import TestAdapter

    channel = TeamsChannel(bot, teams_config({"TEAMS_ALLOW_ANONYMOUS": "true"}))
    names = []
    handle = bot.handle

    async def spy(turn):
        names.append(turn.display_name)
        return await handle(turn)

    bot.handle = spy

    def chat(user: str, name: str) -> TestAdapter:
        return TestAdapter(conversation=TestAdapter.create_conversation_model(
            channel_id="msteams", conv_id=f"a:1personal-{user}", user_id=f"29:1{user}", user_name=name))

    rita, olly = chat("rita", "Rita Reporter"), chat("olly", "Olly Other")
    await rita.send_text_to_bot("help", channel.on_turn)
    await olly.send_text_to_bot("help", channel.on_turn)
    assert rita.activity_queue and olly.activity_queue
    assert [a.conversation.id for a in olly.activity_queue] == ["a:1personal-olly"] * len(olly.activity_queue)
    assert names == ["Rita Reporter", "Olly Other"]
    await rita.send_text_to_bot("help", channel.on_turn)  # Rita's "2": answered too
    assert names == ["Rita Reporter", "Olly Other", "Rita Reporter"]
    await channel.outbox.stop()


async def test_the_dsl_gets_the_record_system_entry_in_their_chat_and_marks_it_entered(teams, bot):
    card = await sent_case(teams)
    *_, entry = await teams.press(DSL, card, f"case:{REF}:entry")
    assert_valid_for_teams(card_of(entry))
    words = text(entry)
    assert "Entry for the school's safeguarding record system" in words and "Instagram" in words
    assert "DSL" in words and "Dana Lee" not in words and "Jo Brown" not in words
    *_, marked = await teams.press(DSL, entry, f"case:{REF}:entered")
    assert "marked as entered" in text(marked)
    case = await bot.store.get_case("default", REF)
    (event,) = [e for e in await bot.store.case_events(case.id) if e.kind == "entered_in_record_system"]
    assert event.actor == f"teams:{DSL}"


async def test_the_morning_digest_reaches_the_dsl_in_their_chat_and_can_be_turned_off(teams, bot):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.app.scheduler import Scheduler

    await sent_case(teams)
    monday_morning = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Europe/London"))
    await Scheduler(bot.store, bot.settings, bot.schools, bot.clock).tick(monday_morning)
    await Scheduler(bot.store, bot.settings, bot.schools, bot.clock).tick(monday_morning)
    await teams.channel.deliver_pending()
    (digest,) = [m for m in teams.to(DSL) if "Good morning" in text(m)]
    assert_valid_for_teams(card_of(digest))
    assert REF in text(digest) and "Jo Brown" not in text(digest)
    find_action(digest, f"case:{REF}:show")
    *_, off = await teams.press(DSL, digest, "menu:digest_off")
    assert "won't get the morning summary" in text(off)
    assert await bot.store.morning_digest_off("default") == {f"teams:{DSL}"}


async def test_the_dsls_trends_come_with_the_chart_offered_as_a_file_in_their_chat(teams, bot):
    from io import BytesIO

    from PIL import Image

    await sent_case(teams)
    *_, menu = await teams.say(DSL, "menu")
    *said, offer = await teams.press(DSL, menu, "menu:stats")
    assert any("All cases so far: 1" in text(m) for m in said)
    assert offer["attachments"][0]["name"].endswith(".png")
    status, _, _ = await teams.consent(DSL, offer)
    assert status == 200
    (upload,) = teams.connector.uploads
    assert Image.open(BytesIO(upload["body"])).format == "PNG"
