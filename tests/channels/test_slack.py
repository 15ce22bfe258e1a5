"""The Slack channel through our real server: signed requests in, Block Kit to a fake Web API out."""

from __future__ import annotations

import json
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app.server import build_app
from bot.cases.card import card_reply
from bot.channels.slack import SlackChannel, SlackConfig
from bot.core.models import CaseStatus, Role, StaffMember
from testing.fakes.slack_api import FakeSlackApi
from testing.slack_harness import SECRET, SlackHarness, all_text, find_button, fixture, question
from tests.conftest import stored_rows

TEACHER, DSL, DEPUTY, HEAD, CHAIR = "UTEACH", "UDSL", "UDEP", "UHEAD", "UCHAIR"
SLACK_STAFF = [
    StaffMember(user=f"slack:{DSL}", role=Role.DSL, name="Dana Lee"),
    StaffMember(user=f"slack:{DEPUTY}", role=Role.DEPUTY_DSL, name="Sam Patel"),
    StaffMember(user=f"slack:{HEAD}", role=Role.HEADTEACHER, name="Alex Morgan"),
    StaffMember(user=f"slack:{CHAIR}", role=Role.CHAIR_OF_GOVERNORS, name="Chris Wood"),
    StaffMember(user=f"slack:{TEACHER}", role=Role.STAFF, name="Jo Brown"),
]


@pytest.fixture
def bot(content, store, settings, clock):
    """A bot whose staff directory has only Slack users (added by the `slack` fixture)."""
    from bot.conversation.engine import Engine

    return Engine(content, store, settings, clock=clock)


@pytest.fixture
async def slack_api():
    api = FakeSlackApi()
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def slack(bot, slack_api):
    for member in SLACK_STAFF:
        await bot.store.upsert_staff(member)
    channel = SlackChannel(bot, SlackConfig(bot_token="xoxb-test-token", signing_secret=SECRET, app_token=None,
                                            api_url=slack_api.url))
    client = TestClient(TestServer(build_app(bot, [channel]), host="127.0.0.1", port=0))
    await client.start_server()
    yield SlackHarness(client, channel, slack_api)
    await client.close()


async def say(slack: SlackHarness, user: str, text: str, **kw) -> list[dict]:
    before = len(slack.messages_to(user))
    response = await slack.dm(user, text, **kw)
    assert response.status == 200
    return await slack.next_message(user, before)


async def click(slack: SlackHarness, user: str, message: dict, choice_id: str) -> list[dict]:
    before = len(slack.messages_to(user))
    response = await slack.click(user, message, choice_id)
    assert response.status == 200
    return await slack.next_message(user, before)


async def tick(slack: SlackHarness, user: str, message: dict, choice_ids: list[str]) -> list[dict]:
    before = len(slack.messages_to(user))
    assert (await slack.tick_and_continue(user, message, choice_ids)).status == 200
    return await slack.next_message(user, before)


async def report_until_summary(slack: SlackHarness, categories=("targeting_me",), images="no", extra=()) -> dict:
    """A whole report by Slack DM and buttons, up to the summary; returns the summary message."""
    (msg,) = await say(slack, TEACHER, "I'm being targeted")
    assert question(msg) == "report_concern.categories"
    (msg,) = await tick(slack, TEACHER, msg, list(categories))
    assert question(msg) == "report_concern.images"
    msgs = await click(slack, TEACHER, msg, images)
    for answer in extra:
        msgs = await click(slack, TEACHER, msgs[-1], answer)
    assert question(msgs[-1]) == "report_concern.platforms"
    (msg,) = await tick(slack, TEACHER, msgs[-1], ["instagram"])
    # As Slack sends it: the link wrapped, and a colleague @-mentioned (never taken for an account).
    (msg,) = await say(
        slack, TEACHER, f"<https://www.instagram.com/fake_hillside/|instagram.com/fake_hillside> cc <@{DSL}>"
    )
    assert question(msg) == "report_concern.first_seen"
    (msg,) = await say(slack, TEACHER, "yesterday")
    (msg,) = await say(slack, TEACHER, "Mocking posts using my photo from the school website")
    (msg,) = await tick(slack, TEACHER, msg, ["me"])
    (msg,) = await say(slack, TEACHER, "skip")
    assert question(msg) == "report_concern.evidence"
    msgs = await click(slack, TEACHER, msg, "done")
    msgs = await tick(slack, TEACHER, msgs[-1], ["nobody"])
    (msg,) = await click(slack, TEACHER, msgs[-1], "no_idea")
    assert question(msg) == "report_concern.summary"
    return msg


async def test_url_verification_is_answered(slack):
    body = json.dumps({"token": "legacy", "challenge": "abc123", "type": "url_verification"})
    response = await slack.post(body, "application/json")
    assert response.status == 200
    assert (await response.json()) == {"challenge": "abc123"}


async def test_dm_report_reaches_the_dsl_as_a_card_in_their_dm_only(slack, bot):
    summary = await report_until_summary(slack)
    assert "https\u2236//instagram.com/fake\u005fhillside" not in all_text(summary)  # sanity: not mangled
    assert "instagram.com/fake_hillside" in all_text(summary)
    (sent,) = await click(slack, TEACHER, summary, "send")
    assert "OSB-2026-0001" in sent["text"]

    (case,) = await bot.store.list_cases("default")
    assert {r.user for r in case.routed_to} == {f"slack:{DSL}", f"slack:{DEPUTY}"}
    assert case.answers["accounts"] == [
        {"kind": "url", "value": "https://instagram.com/fake_hillside", "platform": "instagram"}
    ]

    cards = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    card = cards[0]
    header = next(b for b in card["blocks"] if b["type"] == "header")
    assert header["text"]["text"] == "Case OSB-2026-0001"
    fields = " ".join(f["text"] for b in card["blocks"] if b["type"] == "section" for f in b.get("fields", []))
    assert "Jo Brown" in fields and "Instagram" in fields
    find_button(card, "case:OSB-2026-0001:ack")
    assert slack.messages_to(DEPUTY) and not slack.messages_to(HEAD) and not slack.messages_to(CHAIR)
    channels = {b["channel"] for b in slack.api.bodies("chat.postMessage")}
    assert all(c.startswith("D") for c in channels), channels


async def test_an_allegation_card_opens_with_the_readers_own_guidance_and_skips_the_subject(slack, bot):
    summary = await report_until_summary(slack, categories=("allegation",), extra=("headteacher",))
    await click(slack, TEACHER, summary, "send")
    (card,) = await slack.api.wait_for(lambda: slack.messages_to(CHAIR))
    blocks = card["blocks"]
    header = next(n for n, b in enumerate(blocks) if b["type"] == "header")
    summary, first = blocks[header + 1], blocks[header + 2]  # the card's summary, then the reader's part
    assert "Due next" in summary["text"]["text"]
    assert first["type"] == "section" and "The headteacher is the subject of this allegation" in first["text"]["text"]
    assert not slack.messages_to(HEAD)
    (dsl_card,) = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    dsl_first = dsl_card["blocks"][next(n for n, b in enumerate(dsl_card["blocks"]) if b["type"] == "header") + 2]
    assert "welfare of any child" in dsl_first["text"]["text"]
    (asked,) = await click(slack, CHAIR, card, "case:OSB-2026-0001:threshold")
    await click(slack, CHAIR, asked, "case:OSB-2026-0001:threshold:meets")
    (case,) = await bot.store.list_cases("default")
    (decided,) = [e for e in await bot.store.case_events(case.id) if e.kind == "threshold_decided"]
    assert (decided.actor, decided.detail) == (f"slack:{CHAIR}", {"decision": "meets"})


async def test_dsl_acknowledges_from_the_card_and_the_reporter_is_told(slack, bot):
    summary = await report_until_summary(slack)
    await click(slack, TEACHER, summary, "send")
    (card,) = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    before_reporter = len(slack.messages_to(TEACHER))
    await click(slack, DSL, card, "case:OSB-2026-0001:ack")

    assert (await bot.store.get_case("default", "OSB-2026-0001")).status == CaseStatus.ACKNOWLEDGED
    updates = await slack.api.wait_for(
        lambda: [u for u in slack.api.bodies("chat.update") if u["ts"] == card["ts"] and "Acknowledged" in all_text(u)])
    with pytest.raises(AssertionError):
        find_button(updates[-1], "case:OSB-2026-0001:ack")  # the card no longer offers it
    told = await slack.next_message(TEACHER, before_reporter)
    assert any("picked up" in m["text"] for m in told)
    assert not any("Dana" in m["text"] for m in told)
    deputy_card = slack.messages_to(DEPUTY)[0]
    assert any(u["ts"] == deputy_card["ts"] and "Acknowledged" in all_text(u) for u in slack.api.bodies("chat.update"))


async def test_a_reporter_outside_the_directory_is_named_and_mentioned_never_shown_as_an_id(slack, bot):
    await bot.store.remove_staff("default", f"slack:{TEACHER}")
    slack.api.people[TEACHER] = "Priya Shah"
    summary = await report_until_summary(slack)
    await click(slack, TEACHER, summary, "send")
    (card,) = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    assert f"Priya Shah (<@{TEACHER}>)" in all_text(card)
    assert "slack:" not in all_text(card)
    assert len(slack.api.bodies("users.info")) == 1  # asked once, then remembered


async def test_a_reporter_slack_will_not_name_is_described_never_shown_as_an_id(slack, bot):
    await bot.store.remove_staff("default", f"slack:{TEACHER}")
    summary = await report_until_summary(slack)  # users.info answers user_not_found
    await click(slack, TEACHER, summary, "send")
    (card,) = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    assert "their name was not given" in all_text(card) and f"<@{TEACHER}>" in all_text(card)
    assert "slack:" not in all_text(card)


async def test_allegation_about_the_head_goes_to_the_chair_not_the_head(slack, bot):
    summary = await report_until_summary(slack, categories=("allegation",), extra=("headteacher",))
    await click(slack, TEACHER, summary, "send")
    await slack.api.wait_for(lambda: slack.messages_to(CHAIR))
    card = slack.messages_to(CHAIR)[0]
    assert "chair of governors is the case manager" in all_text(card)
    assert "LADO" in all_text(card)
    assert slack.messages_to(HEAD) == []


async def test_guardrail_alerts_at_once_refuses_files_and_marks_urgent(slack, bot):
    (msg,) = await say(slack, TEACHER, "I need to report something")
    (msg,) = await tick(slack, TEACHER, msg, ["showing_learners"])
    warned = await click(slack, TEACHER, msg, "not_sure")
    assert "view" in warned[0]["text"] and "forward" in warned[0]["text"]
    alert = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    assert "URGENT" in alert[0]["text"] and "Jo Brown" in alert[0]["text"]

    (msg,) = await tick(slack, TEACHER, warned[-1], ["snapchat"])
    for text in ("skip", "today", "Pictures of Year 10 learners"):
        (msg,) = await say(slack, TEACHER, text)
    (msg,) = await tick(slack, TEACHER, msg, ["learners"])
    (msg,) = await say(slack, TEACHER, "skip")
    assert question(msg) == "report_concern.evidence"
    refused = await say(slack, TEACHER, "", kind="message_file_share")
    assert "Please don't send any files" in refused[0]["text"]
    msgs = await click(slack, TEACHER, refused[-1], "done")
    msgs = await tick(slack, TEACHER, msgs[-1], ["learners_talking"])
    (msg,) = await click(slack, TEACHER, msgs[-1], "learner")
    (msg,) = await say(slack, TEACHER, "skip")
    await click(slack, TEACHER, msg, "send")
    (case,) = await bot.store.list_cases("default")
    assert case.urgent and await bot.store.case_evidence(case.id) == []
    card = await slack.api.wait_for(
        lambda: [m for m in slack.messages_to(DSL) if any(b["type"] == "header" for b in m["blocks"])]
    )
    assert next(b for b in card[0]["blocks"] if b["type"] == "header")["text"]["text"].startswith("URGENT")


async def test_a_forged_signature_or_stale_timestamp_is_refused(slack, bot):
    envelope = fixture("message_im")
    envelope["event"].update(channel=f"D{TEACHER}", user=TEACHER, text="I'm being targeted")
    envelope = json.dumps(envelope)
    forged = await slack.post(envelope, "application/json", secret="00000000000000000000000000000000")
    assert forged.status == 401
    stale = await slack.post(envelope, "application/json", timestamp=int(time.time()) - 60 * 10)
    assert stale.status == 401
    unsigned = await slack.client.post("/slack/events", data=envelope, headers={"Content-Type": "application/json"})
    assert unsigned.status == 401
    await slack.settle()
    assert slack.api.bodies("chat.postMessage") == []
    assert await bot.store.load_conversation("default/slack:DUTEACH") is None


async def test_a_retried_event_runs_once_and_replies_once(slack, bot):
    await say(slack, TEACHER, "I'm being targeted", event_id="EvSAME")
    for retry in (1, 2):
        response = await slack.dm(TEACHER, "I'm being targeted", event_id="EvSAME", retry=retry)
        assert response.status == 200
    await slack.settle()
    assert len(slack.messages_to(TEACHER)) == 1


async def test_a_retried_send_never_opens_a_second_case(slack, bot):
    summary = await report_until_summary(slack)
    block, element = find_button(summary, "send")
    payload = slack.block_actions(TEACHER, summary, block, element)
    for _ in range(3):
        assert (await slack.interaction(payload)).status == 200
    await slack.api.wait_for(lambda: slack.messages_to(DSL))
    await slack.settle()
    assert len(await bot.store.list_cases("default")) == 1
    assert sum("OSB-2026-0001" in m["text"] for m in slack.messages_to(TEACHER)) == 1
    assert len(slack.messages_to(DSL)) == 1


async def test_a_button_from_an_earlier_question_gets_a_kind_reply(slack):
    (first,) = await say(slack, TEACHER, "I'm being targeted")
    (second,) = await tick(slack, TEACHER, first, ["targeting_me"])
    updated = [u for u in slack.api.bodies("chat.update") if u["ts"] == first["ts"]]
    assert updated and not any(b["type"] == "actions" for b in updated[-1]["blocks"])  # buttons replaced
    assert "An account targeting me" in all_text(updated[-1])
    again = await tick(slack, TEACHER, first, ["school_impersonation"])
    assert "moved on" in again[0]["text"]
    assert question(again[-1]) == "report_concern.images"


async def test_someone_not_routed_cannot_act_and_the_attempt_is_recorded(slack, bot):
    summary = await report_until_summary(slack)
    await click(slack, TEACHER, summary, "send")
    (card,) = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    # The headteacher replays the DSL's button (validly signed, but not routed to them).
    refused = await click(slack, HEAD, {**card, "channel": f"D{HEAD}"}, "case:OSB-2026-0001:ack")
    assert "can't find a case" in refused[0]["text"]
    assert "Jo Brown" not in all_text(refused[0])
    case = await bot.store.get_case("default", "OSB-2026-0001")
    assert case.status == CaseStatus.NEW
    events = await bot.store.case_events(case.id)
    assert [(e.actor, e.kind) for e in events if e.kind == "access_refused"] == [(f"slack:{HEAD}", "access_refused")]


async def report_until_evidence(slack) -> dict:
    """A report by DM and buttons up to its evidence question; returns that question's message."""
    (msg,) = await say(slack, TEACHER, "I'm being targeted")
    (msg,) = await tick(slack, TEACHER, msg, ["targeting_me"])
    msgs = await click(slack, TEACHER, msg, "no")
    (msg,) = await tick(slack, TEACHER, msgs[-1], ["tiktok"])
    for text in ("@fakehill", "today", "Mocking videos"):
        (msg,) = await say(slack, TEACHER, text)
    (msg,) = await tick(slack, TEACHER, msg, ["me"])
    (msg,) = await say(slack, TEACHER, "skip")
    return msg


async def test_a_file_shared_in_the_dm_is_recorded_as_evidence(slack, bot):
    await report_until_evidence(slack)
    (file,) = fixture("message_file_share")["event"]["files"]  # the whole file object, as Slack sends it
    (kept,) = await say(slack, TEACHER, "screenshot of the profile", kind="message_file_share")
    assert "that's kept" in kept["text"]
    msgs = await click(slack, TEACHER, kept, "done")
    msgs = await tick(slack, TEACHER, msgs[-1], ["nobody"])
    (summary,) = await click(slack, TEACHER, msgs[-1], "no_idea")
    await click(slack, TEACHER, summary, "send")
    (case,) = await bot.store.list_cases("default")
    (evidence,) = await bot.store.case_evidence(case.id)
    assert (evidence.name, evidence.ref, evidence.size, evidence.content_type) == (
        "profile.png", file["permalink"], 52100, "image/png")


async def test_slash_command_answers_privately_and_continues_in_the_dm(slack):
    response = await slack.command(TEACHER, "I'm being targeted")
    assert response.status == 200
    assert "direct message" in await response.text()  # a plain-text answer is shown only to the user
    (msg,) = await slack.next_message(TEACHER, 0)
    assert question(msg) == "report_concern.categories"
    assert {b["channel"] for b in slack.api.bodies("chat.postMessage")} == {f"D{TEACHER}"}


async def test_app_home_shows_a_dsl_their_open_cases_and_staff_the_flows(slack):
    summary = await report_until_summary(slack)
    await click(slack, TEACHER, summary, "send")
    await slack.api.wait_for(lambda: slack.messages_to(DSL))
    for user in (DSL, TEACHER):
        await slack.home_opened(user)
    published = await slack.api.wait_for(
        lambda: len(slack.api.bodies("views.publish")) >= 2 and slack.api.bodies("views.publish")
    )
    by_user = {p["user_id"]: p["view"] for p in published}
    find_button(by_user[DSL], "case:OSB-2026-0001:show")
    find_button(by_user[TEACHER], "menu:report_concern")
    assert "OSB-2026-0001" in all_text(by_user[TEACHER])  # their own report, by reference and status
    with pytest.raises(AssertionError):
        find_button(by_user[TEACHER], "case:OSB-2026-0001:show")


async def test_a_press_on_the_app_home_as_slack_sends_it_answers_in_the_dm(slack):
    """Home-tab presses arrive with `"enterprise": null`, no channel and no message (block_actions_home.json)."""
    summary = await report_until_summary(slack)
    await click(slack, TEACHER, summary, "send")
    await slack.api.wait_for(lambda: slack.messages_to(DSL))
    opened = fixture("app_home_opened")["event"]
    opened.update(user=DSL, channel=f"D{DSL}")
    await slack.event(opened)
    (home,) = await slack.api.wait_for(lambda: slack.api.bodies("views.publish"))
    block, element = find_button(home["view"], "case:OSB-2026-0001:show")
    before = len(slack.messages_to(DSL))
    payload = slack.home_press(DSL, home["view"], block, element)
    assert payload["enterprise"] is None and "channel" not in payload
    assert (await slack.interaction(payload)).status == 200
    (card,) = await slack.next_message(DSL, before)
    assert "OSB-2026-0001" in all_text(card)
    await slack.api.wait_for(lambda: len(slack.api.bodies("views.publish")) >= 2)


async def test_socket_mode_needs_no_public_url(bot, slack_api):
    for member in SLACK_STAFF:
        await bot.store.upsert_staff(member)
    channel = SlackChannel(bot, SlackConfig(bot_token="xoxb-test-token", signing_secret=None,
                                            app_token="xapp-1-test", api_url=slack_api.url))
    client = TestClient(TestServer(build_app(bot, [channel]), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        assert (await client.post("/slack/events", data="{}")).status in (404, 405)  # no HTTP endpoint at all
        payload = fixture("message_im")  # Socket Mode wraps the same Events API envelope
        payload["event"].update(channel=f"D{TEACHER}", user=TEACHER, text="I'm being targeted")
        await slack_api.to_socket.put({
            "envelope_id": "env-1", "type": "events_api", "accepts_response_payload": False,
            "retry_attempt": 0, "retry_reason": "", "payload": payload,
        })
        (message,) = await slack_api.wait_for(lambda: slack_api.posted_to(f"D{TEACHER}"))
        assert question(message) == "report_concern.categories"
        assert {"envelope_id": "env-1"} in slack_api.socket_acks
        assert "apps.connections.open" in [m for m, _ in slack_api.calls]
    finally:
        await client.close()


async def sent_case(slack) -> dict:
    summary = await report_until_summary(slack)
    await click(slack, TEACHER, summary, "send")
    (card,) = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    return card


async def open_modal(slack, user: str, card: dict, action: str) -> dict:
    opened = len(slack.api.bodies("views.open"))
    assert (await slack.click(user, card, f"case:OSB-2026-0001:{action}")).status == 200
    bodies = await slack.api.wait_for(
        lambda: len(slack.api.bodies("views.open")) > opened and slack.api.bodies("views.open")
    )
    return bodies[-1]


async def test_dsl_adds_a_note_through_a_modal(slack, bot):
    from testing.slack_harness import submit_modal

    card = await sent_case(slack)
    opened = await open_modal(slack, DSL, card, "note")
    assert opened["trigger_id"].startswith("trig-")
    view = opened["view"]
    assert view["type"] == "modal" and [b["block_id"] for b in view["blocks"]] == ["note"]
    assert json.loads(view["private_metadata"]) == {"form": "case_note:OSB-2026-0001"}
    before = len(slack.messages_to(DSL))
    assert (await submit_modal(slack, DSL, view, {"note": "Spoke to Jo; POSH called at 9am."})).status == 200
    (done,) = await slack.next_message(DSL, before)
    assert "note has been added" in done["text"]
    case = await bot.store.get_case("default", "OSB-2026-0001")
    notes = [e.detail for e in await bot.store.case_events(case.id) if e.kind == "note_added"]
    assert notes == [{"note": "Spoke to Jo; POSH called at 9am."}]


async def test_each_handler_keeps_one_card_per_case_updated_in_place(slack, bot):
    """Acknowledge, a note, an action, a status and the card opened again: the DSL's DM holds one live card; each
    action is answered with one line, and every update goes to that card with fresh block_ids."""
    from testing.slack_harness import submit_modal

    card = await sent_case(slack)
    await click(slack, DSL, card, "case:OSB-2026-0001:ack")
    view = (await open_modal(slack, DSL, card, "note"))["view"]
    await submit_modal(slack, DSL, view, {"note": "Called POSH."}, view_id="V7")
    await slack.api.wait_for(lambda: any("note has been added" in m["text"] for m in slack.messages_to(DSL)))
    view = (await open_modal(slack, DSL, card, "status"))["view"]
    await submit_modal(slack, DSL, view, {"status": "in_progress"}, view_id="V8")
    await slack.api.wait_for(lambda: any(u["ts"] == card["ts"] and "In progress" in all_text(u)
                                         for u in slack.api.bodies("chat.update")))
    await slack.settle()

    dsl_cards = [m for m in slack.messages_to(DSL) if "Reported by" in all_text(m)]
    assert len(dsl_cards) == 1, [m["text"] for m in slack.messages_to(DSL)]
    confirmations = [m for m in slack.messages_to(DSL) if m is not card]
    assert confirmations and all(len(m["blocks"]) == 1 for m in confirmations)  # one line, no buttons
    card_updates = [u for u in slack.api.bodies("chat.update") if "Reported by" in all_text(u)]
    assert {(u["channel"], u["ts"]) for u in card_updates} <= {(card["channel"], card["ts"]),
                                                               (slack.messages_to(DEPUTY)[0]["channel"],
                                                                slack.messages_to(DEPUTY)[0]["ts"])}
    block_ids = [tuple(b["block_id"] for b in u["blocks"] if "block_id" in b) for u in card_updates
                 if u["ts"] == card["ts"]]
    assert len(set(block_ids)) == len(block_ids)  # each iteration of the message has new block_ids

    # Opened again from the list: the newer card is the live one, the older loses its buttons.
    shown = await say(slack, DSL, "my cases")
    listed = next(m for m in shown if "case:OSB-2026-0001:show" in all_text(m))
    opened = await click(slack, DSL, listed, "case:OSB-2026-0001:show")
    newer = next(m for m in opened if "Reported by" in all_text(m))
    retired = await slack.api.wait_for(lambda: [u for u in slack.api.bodies("chat.update")
                                                if u["ts"] == card["ts"] and "further down" in u["text"]])
    assert not [b for b in retired[-1]["blocks"] if b["type"] == "actions"]
    assert await bot.store.card_posts("default", "OSB-2026-0001", f"slack:{DSL}") == [(newer["channel"], newer["ts"])]


async def test_dsl_records_a_platform_report_and_closes_through_modals(slack, bot):
    from testing.slack_harness import submit_modal

    card = await sent_case(slack)
    view = (await open_modal(slack, DSL, card, "action"))["view"]
    assert [b["block_id"] for b in view["blocks"]] == ["action", "platform_reference", "detail"]
    assert view["title"]["text"] == "Record an action"  # the form's own short title, never clipped mid-word
    assert [b["optional"] for b in view["blocks"]] == [False, True, True]
    await submit_modal(
        slack, DSL, view, {"action": "reported_to_platform", "platform_reference": "IG-55821"}, view_id="V2"
    )
    await slack.api.wait_for(lambda: any("action has been recorded" in m["text"] for m in slack.messages_to(DSL)))
    case = await bot.store.get_case("default", "OSB-2026-0001")
    assert case.status == CaseStatus.IN_PROGRESS
    recorded = [e.detail for e in await bot.store.case_events(case.id) if e.kind == "action_recorded"]
    assert recorded == [{"action": "reported_to_platform", "detail": "IG-55821"}]

    view = (await open_modal(slack, DSL, card, "close"))["view"]
    await submit_modal(slack, DSL, view, {"outcome": "content_removed", "note": "",
                                          "open_items_reason": "Removed within the hour."}, view_id="V3")
    await slack.api.wait_for(lambda: any(" is closed" in m["text"] for m in slack.messages_to(DSL)))
    case = await bot.store.get_case("default", "OSB-2026-0001")
    assert case.status == CaseStatus.CLOSED and case.outcome == "content_removed"
    told = await slack.api.wait_for(lambda: [m for m in slack.messages_to(TEACHER) if "has been closed" in m["text"]])
    assert "taken down" in told[0]["text"]


async def test_a_modal_submitted_by_someone_not_routed_changes_nothing(slack, bot):
    from testing.slack_harness import submit_modal

    card = await sent_case(slack)
    view = (await open_modal(slack, DSL, card, "close"))["view"]
    await submit_modal(slack, HEAD, view, {"outcome": "no_further_action"}, view_id="V9")
    refused = await slack.api.wait_for(lambda: slack.messages_to(HEAD))
    assert "can't find a case" in refused[0]["text"]
    case = await bot.store.get_case("default", "OSB-2026-0001")
    assert case.status == CaseStatus.NEW
    assert [e.actor for e in await bot.store.case_events(case.id) if e.kind == "access_refused"] == [f"slack:{HEAD}"]


async def test_a_retry_after_a_restart_is_still_recognised(slack, bot, content, settings, clock, slack_api):
    """De-duplication lives in the store: a fresh server process still ignores an event it has handled."""
    from bot.conversation.engine import Engine

    await say(slack, TEACHER, "I'm being targeted", event_id="EvRESTART")
    fresh = SlackChannel(
        Engine(content, bot.store, settings, clock=clock),
        SlackConfig(bot_token="xoxb-test-token", signing_secret=SECRET, app_token=None, api_url=slack_api.url),
    )
    client = TestClient(TestServer(build_app(fresh.bot, [fresh]), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        from testing.slack_harness import SlackHarness

        again = SlackHarness(client, fresh, slack_api)
        assert (await again.dm(TEACHER, "I'm being targeted", event_id="EvRESTART", retry=1)).status == 200
        await again.settle()
        assert len(slack.messages_to(TEACHER)) == 1
    finally:
        await client.close()


async def test_the_dsl_gets_the_safeguarding_record_as_a_file_in_their_dm(slack, bot):
    card = await sent_case(slack)
    assert (await slack.click(DSL, card, "case:OSB-2026-0001:record")).status == 200
    completed = await slack.api.wait_for(lambda: slack.api.bodies("files.completeUploadExternal"))
    assert completed[0]["channel_id"] == f"D{DSL}"
    (pdf,) = slack.api.uploads.values()
    assert pdf.startswith(b"%PDF")
    case = await bot.store.get_case("default", "OSB-2026-0001")
    exported = [e for e in await bot.store.case_events(case.id) if e.kind == "record_exported"]
    assert [(e.actor, e.detail) for e in exported] == [(f"slack:{DSL}", {"format": "pdf"})]
    # Someone the case is not routed to gets nothing.
    await slack.click(HEAD, {**card, "channel": f"D{HEAD}"}, "case:OSB-2026-0001:record")
    await slack.api.wait_for(lambda: slack.messages_to(HEAD))
    assert len(slack.api.uploads) == 1


async def test_a_rate_limited_or_failing_web_api_is_retried_and_the_reply_arrives_once(slack):
    slack.api.statuses["chat.postMessage"] = [429, 500]
    await slack.dm(TEACHER, "I'm being targeted")
    (message,) = await slack.api.wait_for(lambda: [b for b in slack.messages_to(TEACHER) if "ts" in b], timeout=10)
    assert question(message) == "report_concern.categories"
    assert len(slack.api.bodies("chat.postMessage")) == 3  # two refusals, then the one message


# --- payloads as Slack really sends them (tests/fixtures/slack/) ---------------------------------


@pytest.mark.parametrize("kind", ["message_slackbot", "message_from_app", "message_bot_message"])
async def test_slackbot_bots_and_apps_are_never_answered(slack, bot, kind):
    """Slackbot's own DMs (USLACKBOT), another app's message (bot_id, bot_profile) and the classic bot_message."""
    response = await slack.fixture_event(kind, channel=f"D{TEACHER}")
    assert response.status == 200
    await slack.settle()
    assert slack.api.bodies("chat.postMessage") == []
    sender = fixture(kind)["event"].get("user") or fixture(kind)["event"]["bot_id"]
    assert await bot.store.load_conversation(f"default/slack:D{TEACHER}") is None, sender


async def test_a_reply_in_a_thread_is_answered_in_that_thread(slack):
    first = (await say(slack, TEACHER, "hello"))[0]
    before = len(slack.messages_to(TEACHER))
    assert (await slack.dm(TEACHER, "I'm being targeted", kind="message_thread_reply", thread_ts=first["ts"],
                           parent_user_id="U0BOT00001")).status == 200
    (question_in_thread,) = await slack.next_message(TEACHER, before)
    assert question(question_in_thread) == "report_concern.categories"
    assert question_in_thread["thread_ts"] == first["ts"]
    # The buttons pressed there answer there too.
    (next_question,) = await tick(slack, TEACHER, question_in_thread, ["targeting_me"])
    assert question(next_question) == "report_concern.images" and next_question["thread_ts"] == first["ts"]


async def test_a_thread_reply_also_sent_to_the_dm_is_answered(slack):
    first = (await say(slack, TEACHER, "hello"))[0]
    before = len(slack.messages_to(TEACHER))
    response = await slack.dm(TEACHER, "I'm being targeted", kind="message_thread_broadcast", thread_ts=first["ts"])
    assert response.status == 200
    (answer,) = await slack.next_message(TEACHER, before)
    assert question(answer) == "report_concern.categories" and answer["thread_ts"] == first["ts"]


async def test_a_message_at_the_top_of_the_dm_is_answered_at_the_top(slack):
    (answer,) = await say(slack, TEACHER, "I'm being targeted")
    assert answer.get("thread_ts") is None


async def test_nothing_the_bot_sends_lets_slack_preview_a_link(slack):
    """A reported account typed by a reporter must never be fetched or unfurled by Slack, in posts or updates."""
    await report_until_summary(slack)
    sent = slack.api.bodies("chat.postMessage") + slack.api.bodies("chat.update")
    assert sent and all(b.get("unfurl_links") in (False, "0", "false") for b in sent)
    assert all(b.get("unfurl_media") in (False, "0", "false") for b in sent)


async def test_continue_with_nothing_ticked_asks_again_kindly_and_leaves_the_question(slack, bot):
    (msg,) = await say(slack, TEACHER, "I'm being targeted")
    (kind_word,) = await tick(slack, TEACHER, msg, [])
    assert "tick one or more" in kind_word["text"]
    assert not [u for u in slack.api.bodies("chat.update") if u["ts"] == msg["ts"]]  # no empty "Your answer:"
    (next_question,) = await tick(slack, TEACHER, msg, ["targeting_me"])  # the same question still works
    assert question(next_question) == "report_concern.images"


async def test_a_reply_slack_refuses_is_sent_again_and_never_lost(slack):
    slack.api.refusals["chat.postMessage"] = ["fatal_error"]
    assert (await slack.dm(TEACHER, "I'm being targeted")).status == 200
    (message,) = await slack.api.wait_delivered(f"D{TEACHER}", 1, timeout=10)
    assert question(message) == "report_concern.categories"
    assert len(slack.api.bodies("chat.postMessage")) == 2  # the refused post, then the same reply again


async def test_your_report_has_been_sent_arrives_even_if_slack_refuses_it_first(slack, bot):
    summary = await report_until_summary(slack)
    delivered = len(slack.api.delivered_to(f"D{TEACHER}"))
    slack.api.refusals["chat.postMessage"] = ["fatal_error", "fatal_error"]
    block, element = find_button(summary, "send")
    assert (await slack.interaction(slack.block_actions(TEACHER, summary, block, element))).status == 200
    told = await slack.api.wait_for(
        lambda: [m for m in slack.api.delivered_to(f"D{TEACHER}")[delivered:] if "OSB-2026-0001" in m["text"]],
        timeout=10,
    )
    assert len(told) == 1
    assert len(await bot.store.list_cases("default")) == 1


async def test_a_file_shared_as_a_stub_is_described_with_files_info(slack, bot):
    """Slack Connect and some clients send only `file_access: check_file_info`: files:read asks files.info."""
    await report_until_evidence(slack)
    stub = fixture("message_file_share_connect")["event"]["files"]
    slack.api.files[stub[0]["id"]] = {
        "id": stub[0]["id"], "name": "tiktok-profile.png", "title": "tiktok-profile.png", "mimetype": "image/png",
        "size": 48210, "permalink": f"https://hillside.slack.com/files/{TEACHER}/{stub[0]['id']}/tiktok-profile.png"}
    (kept,) = await say(slack, TEACHER, "screenshot", kind="message_file_share_connect", files=stub)
    assert "that's kept" in kept["text"]
    assert [b["file"] for b in slack.api.bodies("files.info")] == [stub[0]["id"]]
    msgs = await click(slack, TEACHER, kept, "done")
    msgs = await tick(slack, TEACHER, msgs[-1], ["nobody"])
    (summary,) = await click(slack, TEACHER, msgs[-1], "no_idea")
    await click(slack, TEACHER, summary, "send")
    (case,) = await bot.store.list_cases("default")
    (evidence,) = await bot.store.case_evidence(case.id)
    assert (evidence.name, evidence.size, evidence.content_type) == ("tiktok-profile.png", 48210, "image/png")


async def test_the_slash_command_in_the_bots_own_dm_does_not_point_to_a_dm(slack):
    response = await slack.command(TEACHER, "", in_dm=True)
    assert response.status == 200
    assert "direct message" not in await response.text()
    greeting = await slack.next_message(TEACHER, 0)
    assert question(greeting[-1]) == "menu"


@pytest.mark.parametrize("kind", ["app_uninstalled", "tokens_revoked"])
async def test_with_one_token_losing_it_is_acknowledged_logged_and_shown_by_healthz(slack, caplog, kind):
    assert (await slack.client.get("/healthz")).status == 200
    with caplog.at_level("ERROR", logger="bot.channels.slack.app"):
        assert (await slack.fixture_event(kind)).status == 200
        await slack.settle()
    assert any("slack is not usable" in r.getMessage() for r in caplog.records)
    health = await slack.client.get("/healthz")
    assert health.status == 503
    body = await health.json()
    assert body["ok"] is False and "SLACK_BOT_TOKEN" in body["unusable"]["slack"]


async def test_a_revoked_user_token_alone_leaves_slack_usable(slack):
    assert (await slack.fixture_event("tokens_revoked", tokens={"oauth": ["U043H11ES4V"]})).status == 200
    await slack.settle()
    assert (await slack.client.get("/healthz")).status == 200


def test_starting_with_a_bot_token_logs_no_alarming_warning(bot, monkeypatch, caplog):
    """Bolt also reads SLACK_BOT_TOKEN and warns the client's token wins; it is the same token, so nothing to say."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    with caplog.at_level("INFO"):
        SlackChannel(bot, SlackConfig(bot_token="xoxb-test-token", signing_secret=SECRET, app_token=None, api_url=None))
    assert [r.getMessage() for r in caplog.records if r.levelname in ("WARNING", "ERROR")] == []


# --- input kept before Slack is acknowledged; nothing parsed before the signature is checked ---------------


async def test_each_request_leaves_the_inbox_once_its_turn_is_saved(slack, bot):
    await say(slack, TEACHER, "I'm being targeted")
    await slack.settle()
    assert stored_rows(bot.store, "inbox") == []
    assert await bot.store.load_conversation(f"default/slack:D{TEACHER}") is not None


async def test_a_kept_request_whose_process_died_is_run_again_and_only_once(slack, bot):
    envelope = fixture("message_im")
    envelope["event"].update(channel=f"D{TEACHER}", user=TEACHER, text="I'm being targeted", team="T0HILL")
    envelope.update(team_id="T0HILL", event_id="EvKEPT")
    # Kept by a process that died before running it (its lease is over), then Slack's retry of the same event.
    await bot.store.keep_input("slack", json.dumps(envelope), "application/json", lease_seconds=0)
    await slack.api.wait_for(lambda: slack.messages_to(TEACHER), timeout=10)  # the next delivery round runs it
    assert (await slack.event(envelope["event"], event_id="EvKEPT", retry=1)).status == 200
    await slack.settle()
    assert len(slack.messages_to(TEACHER)) == 1
    assert stored_rows(bot.store, "inbox") == []


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_unsigned_deeply_nested_json_gets_401_and_signed_gets_400_never_500(slack, bot, caplog):
    body = nested(100_000)
    unsigned = await slack.client.post("/slack/events", data=body, headers={
        "Content-Type": "application/json", "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=" + "0" * 64})
    assert unsigned.status == 401
    signed = await slack.post(body, "application/json")
    assert signed.status == 400
    form = await slack.post("payload=" + nested(100_000), "application/x-www-form-urlencoded")
    assert form.status == 400
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text.replace(
        "not a Slack payload (RecursionError)", "")
    assert stored_rows(bot.store, "inbox") == []


@pytest.mark.parametrize("left", ["removed", "demoted"])
async def test_a_dsl_who_left_or_was_demoted_loses_the_case_in_slack_at_once(slack, bot, left):
    card = await sent_case(slack)
    case = await bot.store.get_case("default", "OSB-2026-0001")
    # A card update waiting for them from before they left (say, the deputy's acknowledgement as Slack failed).
    names = {m.user: m.name for m in SLACK_STAFF}
    from bot.core.models import Notification

    await bot.store.queue_notifications([Notification(
        recipient=f"slack:{DSL}", case_id=case.id, kind="card_update",
        replies=[card_reply(await bot.schools.scope(case.school_id), case, f"slack:{DSL}", names)])])
    if left == "removed":
        await bot.store.remove_staff("default", f"slack:{DSL}")
    else:
        await bot.store.upsert_staff(StaffMember(user=f"slack:{DSL}", role=Role.STAFF, name="Dana Lee"))

    refused = await click(slack, DSL, card, "case:OSB-2026-0001:ack")
    assert "can't find a case" in refused[0]["text"] and "Jo Brown" not in all_text(refused[0])
    assert (await bot.store.get_case("default", "OSB-2026-0001")).status == CaseStatus.NEW
    await click(slack, DEPUTY, slack.messages_to(DEPUTY)[0], "case:OSB-2026-0001:ack")
    await slack.settle()
    assert [u for u in slack.api.bodies("chat.update") if u["channel"] == f"D{DSL}"] == []
    assert not any("acknowledged" in m["text"] for m in slack.messages_to(DSL))
    assert [n for n in await bot.store.pending_notifications("slack") if n.recipient == f"slack:{DSL}"] == []

    opened = fixture("app_home_opened")["event"]
    opened.update(user=DSL, channel=f"D{DSL}")
    await slack.event(opened)
    (home,) = await slack.api.wait_for(lambda: slack.api.bodies("views.publish"))
    assert "OSB-2026-0001" not in all_text(home["view"])
    with pytest.raises(AssertionError):
        find_button(home["view"], "case:OSB-2026-0001:show")


async def test_a_question_slack_refused_arrives_before_anything_else_and_is_not_answered_unseen(slack, bot):
    """The question is refused, and so is the first try again; then the reporter writes. The question reaches them
    first, and what they wrote before seeing it is not taken as its answer."""
    slack.api.refusals["chat.postMessage"] = ["fatal_error", "fatal_error"]
    assert (await slack.dm(TEACHER, "I'm being targeted")).status == 200
    await slack.api.wait_for(lambda: len(slack.api.bodies("chat.postMessage")) == 2)
    await slack.settle()
    assert slack.api.delivered_to(f"D{TEACHER}") == []
    assert (await slack.dm(TEACHER, "hello? is this working")).status == 200
    (asked,) = await slack.api.wait_delivered(f"D{TEACHER}", 1)
    await slack.settle()
    assert question(asked) == "report_concern.categories"
    assert len(slack.api.delivered_to(f"D{TEACHER}")) == 1  # no "Sorry, I didn't quite get that"
    (next_question,) = await tick(slack, TEACHER, asked, ["targeting_me"])  # the question still stands
    assert question(next_question) == "report_concern.images"


async def test_someone_in_danger_is_answered_even_before_an_unseen_question(slack):
    slack.api.refusals["chat.postMessage"] = ["fatal_error", "fatal_error"]
    await slack.dm(TEACHER, "I'm being targeted")
    await slack.api.wait_for(lambda: len(slack.api.bodies("chat.postMessage")) == 2)
    await slack.settle()
    await slack.dm(TEACHER, "someone is in danger right now")
    delivered = await slack.api.wait_delivered(f"D{TEACHER}", 2)
    assert question(delivered[0]) == "report_concern.categories"
    assert any("999" in m["text"] for m in delivered[1:])


async def test_in_socket_mode_an_uninstall_is_acknowledged_and_shown_by_healthz(bot, slack_api):
    channel = SlackChannel(bot, SlackConfig(bot_token="xoxb-test-token", signing_secret=None,
                                            app_token="xapp-1-test", api_url=slack_api.url))
    client = TestClient(TestServer(build_app(bot, [channel]), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        await slack_api.to_socket.put(
            {
                "envelope_id": "env-gone",
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
                "payload": fixture("app_uninstalled"),
            }
        )
        await slack_api.wait_for(lambda: {"envelope_id": "env-gone"} in slack_api.socket_acks)
        await slack_api.wait_for(lambda: channel.unusable)
        health = await client.get("/healthz")
        assert health.status == 503 and "uninstalled" in (await health.json())["unusable"]["slack"]
    finally:
        await client.close()


async def test_a_slash_command_when_no_dm_can_be_opened_says_so_honestly(slack):
    slack.api.refusals["conversations.open"] = ["user_not_found"]
    response = await slack.command(TEACHER, "I'm being targeted")
    assert response.status == 200
    text = await response.text()
    assert "couldn't open a direct message" in text and "I've sent you" not in text


async def test_once_an_owed_question_has_arrived_the_next_answers_count_again(slack, bot):
    slack.api.refusals["chat.postMessage"] = ["fatal_error", "fatal_error"]
    await slack.dm(TEACHER, "I'm being targeted")
    await slack.api.wait_for(lambda: len(slack.api.bodies("chat.postMessage")) == 2)
    await slack.settle()
    await slack.dm(TEACHER, "hello?")  # not an answer: the question reaches them now
    (asked,) = await slack.api.wait_delivered(f"D{TEACHER}", 1)
    await slack.settle()
    replies = await say(slack, TEACHER, "1")  # typed after seeing it: the first option, as always
    assert question(replies[-1]) == "report_concern.images"
    state = await bot.store.load_conversation(f"default/slack:D{TEACHER}")
    assert state.active.answers["categories"] == [
        next(
            e["options"][0]["value"]
            for b in asked["blocks"]
            for e in b.get("elements", [])
            if e.get("type") == "checkboxes"
        )
    ]


async def test_a_40_kb_message_with_raw_angle_brackets_is_refused_kindly_without_reading_it(slack, bot, monkeypatch):
    """Slack allows 40,000 characters, and a message posted through the API can carry a raw `<`: the length limit
    applies before any pattern reads the text."""
    from bot.channels.slack import payloads as app

    read: list[int] = []
    pattern = app._SLACK_LINK

    class Counting:
        def sub(self, repl, text):
            read.append(len(text))
            return pattern.sub(repl, text)

    monkeypatch.setattr(app, "_SLACK_LINK", Counting())
    replies = await say(slack, TEACHER, "<http://a" * 4444)
    assert "longer than I can take" in replies[0]["text"] and "4000 characters" in replies[0]["text"]
    assert read == []
    assert await bot.store.list_cases("default") == []


async def test_the_dsl_gets_the_record_system_entry_in_their_dm_and_marks_it_entered(slack, bot):
    summary = await report_until_summary(slack)
    await click(slack, TEACHER, summary, "send")
    (card,) = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    (entry,) = await click(slack, DSL, card, "case:OSB-2026-0001:entry")
    words = all_text(entry)
    assert "Entry for the school's safeguarding record system" in words and "Instagram" in words
    assert "DSL" in words and "Dana Lee" not in words and "Jo Brown" not in words and "Mocking posts" not in words
    assert entry["channel"].startswith("D")  # only in the DSL's own DM
    (marked,) = await click(slack, DSL, entry, "case:OSB-2026-0001:entered")
    assert "marked as entered" in marked["text"]
    case = await bot.store.get_case("default", "OSB-2026-0001")
    (event,) = [e for e in await bot.store.case_events(case.id) if e.kind == "entered_in_record_system"]
    assert event.actor == f"slack:{DSL}"


async def test_the_morning_digest_reaches_the_dsl_in_their_dm_and_can_be_turned_off(slack, bot):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.app.scheduler import Scheduler

    summary = await report_until_summary(slack)
    await click(slack, TEACHER, summary, "send")
    await slack.api.wait_for(lambda: slack.messages_to(DSL))
    monday_morning = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Europe/London"))
    await Scheduler(bot.store, bot.settings, bot.schools, bot.clock).tick(monday_morning)
    await Scheduler(bot.store, bot.settings, bot.schools, bot.clock).tick(monday_morning)
    (digest,) = await slack.api.wait_for(
        lambda: [m for m in slack.messages_to(DSL) if "Good morning" in m["text"]], timeout=10)
    assert "OSB-2026-0001" in all_text(digest) and "Jo Brown" not in all_text(digest)
    assert digest["channel"].startswith("D")
    find_button(digest, "case:OSB-2026-0001:show")
    (off,) = await click(slack, DSL, digest, "menu:digest_off")
    assert "won't get the morning summary" in off["text"]
    assert await bot.store.morning_digest_off("default") == {f"slack:{DSL}"}
    assert not [m for m in slack.messages_to(TEACHER) if "Good morning" in m["text"]]


async def test_the_dsls_trends_come_with_the_chart_uploaded_to_their_dm(slack, bot):
    from io import BytesIO

    from PIL import Image

    summary = await report_until_summary(slack)
    await click(slack, TEACHER, summary, "send")
    await slack.api.wait_for(lambda: slack.messages_to(DSL))
    (menu,) = await say(slack, DSL, "menu")
    await click(slack, DSL, menu, "menu:stats")
    (done,) = await slack.api.wait_for(lambda: slack.api.bodies("files.completeUploadExternal"), timeout=10)
    assert done["channel_id"] == f"D{DSL}"
    (png,) = slack.api.uploads.values()
    assert Image.open(BytesIO(png)).format == "PNG"
    assert any("All cases so far: 1" in m["text"] for m in slack.messages_to(DSL))


async def test_our_buttons_and_boxes_have_one_listener_tried_first_then_messages(slack):
    # Bolt builds every argument a listener could take for each listener it tries: the commonest first.
    listeners = [listener.ack_function.__name__ for listener in slack.channel.app._async_listeners]
    assert listeners[:2] == ["_on_action", "_on_message"]
    assert listeners.count("_on_action") == 1
