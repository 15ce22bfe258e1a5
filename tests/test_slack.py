"""The Slack channel through our real server: signed requests in, Block Kit to a fake Web API out."""

from __future__ import annotations

import json
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.adapters.slack import SlackChannel, SlackConfig
from bot.models import CaseStatus, Role, StaffMember
from bot.server import build_app
from tests.fakes.slack_api import FakeSlackApi
from tests.slack_harness import SECRET, SlackHarness, all_text, find_button, fixture, question

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
    from bot.engine import Bot

    return Bot(content, store, settings, clock=clock)


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
    (msg,) = await say(slack, TEACHER, "<https://www.instagram.com/fake_hillside/|instagram.com/fake_hillside>")
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
    assert case.answers["accounts"] == [{"kind": "url", "value": "https://instagram.com/fake_hillside", "platform": "instagram"}]

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


async def test_allegation_about_the_head_goes_to_the_chair_not_the_head(slack, bot):
    summary = await report_until_summary(slack, categories=("allegation",), extra=("headteacher",))
    await click(slack, TEACHER, summary, "send")
    await slack.api.wait_for(lambda: slack.messages_to(CHAIR))
    card = slack.messages_to(CHAIR)[0]
    assert "chair of governors is the case manager" in all_text(card)
    assert "LADO" in all_text(card)
    assert slack.messages_to(HEAD) == []


async def test_guardrail_alerts_at_once_refuses_files_and_marks_urgent(slack, bot):
    (msg,) = await say(slack, TEACHER, "there's an account posting photos of our pupils")
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
    refused = await say(slack, TEACHER, "", files=[{"id": "F1", "name": "shot.png", "mimetype": "image/png",
                                                    "size": 1000, "permalink": "https://hillside.slack.com/files/F1"}])
    assert "Please don't send any files" in refused[0]["text"]
    msgs = await click(slack, TEACHER, refused[-1], "done")
    msgs = await tick(slack, TEACHER, msgs[-1], ["learners_talking"])
    (msg,) = await click(slack, TEACHER, msgs[-1], "learner")
    (msg,) = await say(slack, TEACHER, "skip")
    await click(slack, TEACHER, msg, "send")
    (case,) = await bot.store.list_cases("default")
    assert case.urgent and await bot.store.case_evidence(case.id) == []
    card = await slack.api.wait_for(lambda: [m for m in slack.messages_to(DSL) if any(b["type"] == "header" for b in m["blocks"])])
    assert next(b for b in card[0]["blocks"] if b["type"] == "header")["text"]["text"].startswith("URGENT")


async def test_a_forged_signature_or_stale_timestamp_is_refused(slack, bot):
    event = {"type": "message", "channel": f"D{TEACHER}", "channel_type": "im", "user": TEACHER,
             "text": "I'm being targeted", "ts": "1.0"}
    envelope = json.dumps({"type": "event_callback", "team_id": "T0HILL", "event": event, "event_id": "EvF1"})
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


async def test_a_file_shared_in_the_dm_is_recorded_as_evidence(slack, bot):
    (msg,) = await say(slack, TEACHER, "I'm being targeted")
    (msg,) = await tick(slack, TEACHER, msg, ["targeting_me"])
    msgs = await click(slack, TEACHER, msg, "no")
    (msg,) = await tick(slack, TEACHER, msgs[-1], ["tiktok"])
    for text in ("@fakehill", "today", "Mocking videos"):
        (msg,) = await say(slack, TEACHER, text)
    (msg,) = await tick(slack, TEACHER, msg, ["me"])
    (msg,) = await say(slack, TEACHER, "skip")
    file = {"id": "F0SHOT", "name": "tiktok.png", "mimetype": "image/png", "size": 52100,
            "permalink": "https://hillside.slack.com/files/UTEACH/F0SHOT/tiktok.png"}
    (kept,) = await say(slack, TEACHER, "screenshot of the profile", files=[file])
    assert "that's kept" in kept["text"]
    msgs = await click(slack, TEACHER, kept, "done")
    msgs = await tick(slack, TEACHER, msgs[-1], ["nobody"])
    (summary,) = await click(slack, TEACHER, msgs[-1], "no_idea")
    await click(slack, TEACHER, summary, "send")
    (case,) = await bot.store.list_cases("default")
    (evidence,) = await bot.store.case_evidence(case.id)
    assert (evidence.name, evidence.ref, evidence.size, evidence.content_type) == (
        "tiktok.png", file["permalink"], 52100, "image/png")


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
        await slack.event({"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"})
    published = await slack.api.wait_for(lambda: len(slack.api.bodies("views.publish")) >= 2 and slack.api.bodies("views.publish"))
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
        event = {"type": "message", "channel": f"D{TEACHER}", "channel_type": "im", "user": TEACHER,
                 "text": "I'm being targeted", "ts": "1.0"}
        await slack_api.to_socket.put({
            "envelope_id": "env-1", "type": "events_api", "accepts_response_payload": False,
            "retry_attempt": 0, "retry_reason": "",
            "payload": {"type": "event_callback", "team_id": "T0HILL", "api_app_id": "A0OSB", "event": event,
                        "event_id": "EvSOCK1", "event_time": 1},
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
    bodies = await slack.api.wait_for(lambda: len(slack.api.bodies("views.open")) > opened and slack.api.bodies("views.open"))
    return bodies[-1]


async def test_dsl_adds_a_note_through_a_modal(slack, bot):
    from tests.slack_harness import submit_modal

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


async def test_dsl_records_a_platform_report_and_closes_through_modals(slack, bot):
    from tests.slack_harness import submit_modal

    card = await sent_case(slack)
    view = (await open_modal(slack, DSL, card, "action"))["view"]
    assert [b["block_id"] for b in view["blocks"]] == ["action", "platform_reference", "detail"]
    assert [b["optional"] for b in view["blocks"]] == [False, True, True]
    await submit_modal(slack, DSL, view, {"action": "reported_to_platform", "platform_reference": "IG-55821"}, view_id="V2")
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
    from tests.slack_harness import submit_modal

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
    from bot.engine import Bot

    await say(slack, TEACHER, "I'm being targeted", event_id="EvRESTART")
    fresh = SlackChannel(Bot(content, bot.store, settings, clock=clock),
                         SlackConfig(bot_token="xoxb-test-token", signing_secret=SECRET, app_token=None, api_url=slack_api.url))
    client = TestClient(TestServer(build_app(fresh.bot, [fresh]), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        from tests.slack_harness import SlackHarness

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


@pytest.mark.parametrize("left", ["removed", "demoted"])
async def test_a_dsl_who_left_or_was_demoted_loses_the_case_in_slack_at_once(slack, bot, left):
    card = await sent_case(slack)
    case = await bot.store.get_case("default", "OSB-2026-0001")
    # A card update waiting for them from before they left (say, the deputy's acknowledgement as Slack failed).
    names = {m.user: m.name for m in SLACK_STAFF}
    from bot.models import Notification

    await bot.store.queue_notifications([Notification(
        recipient=f"slack:{DSL}", case_id=case.id, kind="card_update",
        replies=[bot.casework.card_reply(case, f"slack:{DSL}", names)])])
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


async def test_a_40_kb_message_with_raw_angle_brackets_is_refused_kindly_without_reading_it(slack, bot, monkeypatch):
    """Slack allows 40,000 characters, and a message posted through the API can carry a raw `<`: the length limit
    applies before any pattern reads the text."""
    from bot.adapters.slack import app

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
