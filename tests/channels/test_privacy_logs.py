"""Case content never reaches the logs, even at DEBUG, on the console, Slack and Teams paths; and it is never
posted anywhere but the direct messages of the people the case is routed to (the reporter, once the report is
sent, gets its reference and status only)."""

from __future__ import annotations

import json
import logging

import pytest

from testing.chat import Chat, walk
from testing.slack_harness import submit_modal
from testing.teams_harness import find_action, question, text
from tests.channels.test_slack import CHAIR, DEPUTY, DSL, HEAD, TEACHER, click, report_until_summary

# The Slack and Teams fixtures, shared with their own test modules (the same `bot`: staff come with each channel).
from tests.channels.test_slack import bot as bot  # noqa: F401
from tests.channels.test_slack import slack as slack  # noqa: F401
from tests.channels.test_slack import slack_api as slack_api  # noqa: F401
from tests.channels.test_teams import CHAIR as T_CHAIR
from tests.channels.test_teams import DEPUTY as T_DEPUTY
from tests.channels.test_teams import DSL as T_DSL
from tests.channels.test_teams import HEAD as T_HEAD
from tests.channels.test_teams import TEACHER as T_TEACHER
from tests.channels.test_teams import connector as connector  # noqa: F401
from tests.channels.test_teams import file_attachment
from tests.channels.test_teams import teams as teams  # noqa: F401

pytestmark = [
    pytest.mark.filterwarnings("ignore::aiohttp.web_exceptions.NotAppKeyWarning"),
    pytest.mark.filterwarnings("ignore:Accessing the 'model_fields' attribute:DeprecationWarning"),
]

SECRETS = ["fake_hillside", "instagram.com/fake", "Mocking posts using my photo", "Jo Brown", "Dana Lee"]


async def test_a_whole_slack_conversation_leaves_no_case_content_in_the_logs(slack, caplog):
    caplog.set_level(logging.DEBUG)
    summary = await report_until_summary(slack)
    await click(slack, TEACHER, summary, "send")
    (card,) = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    await click(slack, DSL, card, "case:OSB-2026-0001:ack")
    await slack.settle()
    assert caplog.records, "the test should see the libraries' debug logging"
    for secret in SECRETS:
        assert secret not in caplog.text, secret


async def test_a_console_conversation_logs_no_case_content(content, settings, clock, staffed, caplog):
    from bot.conversation.engine import Engine

    caplog.set_level(logging.DEBUG)
    chat = Chat(Engine(content, staffed, settings, clock=clock))
    await walk(chat, ["I'm being targeted", ["targeting_me"], ["no"], ["instagram"], "@fake_hillside", "today",
                      "Mocking posts using my photo", ["me"], "Jo Brown", ["done"], ["nobody"], ["no_idea"], ["send"]])
    assert chat.reply("report.sent")
    for secret in SECRETS[:3]:
        assert secret not in caplog.text, secret


# --- Teams: a whole conversation, report to closure, at DEBUG -------------------------------------------------

REF = "OSB-2026-0001"
# Everything typed or shared in the Teams conversation below, by the reporter and by the DSL.
TEAMS_WORDS = {
    "account": "https://www.instagram.com/zq_fake_hillside/",
    "description": "Zq mocking reels made from my classroom photos",
    "names": "Pat Quinlan-Zed in Year 9",
    "evidence note": "Zq screenshots kept on my laptop",
    "file name": "zq-profile-shot.png",
    "behind it": "Zq the same wording as a former pupil used",
    "note": "Zq phoned POSH at nine",
    "platform reference": "ZQ-IG-445566",
    "closing note": "Zq account removed by Instagram",
    "reason": "Zq removed before the plan steps were needed",
}
SECRET_PARTS = [*TEAMS_WORDS.values(), "zq_fake_hillside", "sharepoint.com/personal/jo", "Jo Brown", "Dana Lee"]


async def teams_report(teams, user: str = T_TEACHER) -> dict:
    """A report in Teams with every kind of free text and a shared file; returns the summary card."""
    words = TEAMS_WORDS
    (msg,) = await teams.say(user, "I'm being targeted")
    (msg,) = await teams.tick(user, msg, ["targeting_me"])
    msgs = await teams.press(user, msg, "no")
    (msg,) = await teams.tick(user, msgs[-1], ["instagram"])
    for said in (words["account"], "yesterday", words["description"]):
        (msg,) = await teams.say(user, said)
    (msg,) = await teams.tick(user, msg, ["me", "learners"])
    (msg,) = await teams.say(user, words["names"])
    assert question(msg) == "report_concern.evidence"
    shared = {**file_attachment(teams, words["file name"])}
    (msg,) = await teams.say(user, words["evidence note"], attachments=[shared])
    msgs = await teams.press(user, msg, "done")
    msgs = await teams.tick(user, msgs[-1], ["nobody"])
    (msg,) = await teams.press(user, msgs[-1], "former")
    (msg,) = await teams.say(user, words["behind it"])
    assert question(msg) == "report_concern.summary"
    return msg


async def teams_casework(teams) -> None:
    """The DSL acknowledges, adds a note, records an action, closes the case and takes its record."""
    words = TEAMS_WORDS
    card = teams.to(T_DSL)[-1]
    await teams.press(T_DSL, card, f"case:{REF}:ack")
    (form,) = await teams.press(T_DSL, card, f"case:{REF}:note")
    await teams.fill(T_DSL, form, {"note": words["note"]})
    (form,) = await teams.press(T_DSL, card, f"case:{REF}:action")
    await teams.fill(T_DSL, form, {"action": "reported_to_platform", "platform_reference": words["platform reference"]})
    (form,) = await teams.press(T_DSL, card, f"case:{REF}:close")
    (closed,) = await teams.fill(T_DSL, form, {"outcome": "content_removed", "note": words["closing note"],
                                               "open_items_reason": words["reason"]})
    assert " is closed" in text(closed)
    *_, offer = await teams.press(T_DSL, card, f"case:{REF}:record")
    status, _, _ = await teams.consent(T_DSL, offer)
    assert status == 200 and len(teams.connector.uploads) == 1


async def test_a_whole_teams_conversation_with_its_casework_leaves_no_case_content_in_the_logs(teams, bot, caplog):
    caplog.set_level(logging.DEBUG)
    for user in (T_DSL, T_DEPUTY):
        await teams.install(user)
    summary = await teams_report(teams)
    (sent,) = await teams.press(T_TEACHER, summary, "send")
    assert REF in text(sent)
    await teams_casework(teams)
    case = await bot.store.get_case("default", REF)
    assert case.answers["description"] == TEAMS_WORDS["description"]  # the words really went through the bot
    assert caplog.records, "the test should see the libraries' logging"
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    for secret in SECRET_PARTS:
        assert secret not in logged, secret


# --- case data goes only to the DMs of the people it is routed to ----------------------------------------------


REFUSAL = "that you have access to"


def assert_routed_only(deliveries: list[tuple[str, str, bool]], routed: set[str], reporter: str,
                       details: list[str]) -> None:
    """`deliveries`: (recipient, everything sent, sent after the report) for each call the bot made.
    Case details (what was reported, by and to whom, what the handlers wrote) go only to routed people; the
    reference to them and the reporter; to the reporter, once the report is sent, nothing but its reference
    and status."""
    assert deliveries
    for recipient, sent, after_report in deliveries:
        found = [d for d in details if d in sent]
        if recipient in routed:
            continue
        if recipient == reporter:
            assert not (after_report and found), f"the reporter was sent {found} after sending the report"
            continue
        assert not found, f"{recipient} was sent {found}"
        # A refusal repeats the reference its asker sent (as for one that does not exist); nothing else has it.
        assert REF not in sent or REFUSAL in sent, f"{recipient} was sent {REF}"


async def test_on_slack_case_data_goes_only_to_the_dms_of_the_people_it_is_routed_to(slack, bot):
    for user in (HEAD, CHAIR):  # two senior people the case is not routed to have the bot too
        await slack.dm(user, "hello")
        await slack.home_opened(user)
    await slack.api.wait_for(lambda: slack.messages_to(HEAD) and slack.messages_to(CHAIR))
    summary = await report_until_summary(slack)
    await click(slack, TEACHER, summary, "send")
    (card,) = await slack.api.wait_for(lambda: slack.messages_to(DSL))
    await slack.settle()
    boundary = len(slack.api.calls)

    await click(slack, DSL, card, f"case:{REF}:ack")
    modals: set[str] = set()
    for action, values in (("note", {"note": "Zq phoned POSH at nine"}),
                           ("action", {"action": "reported_to_platform", "platform_reference": "ZQ-IG-445566"}),
                           ("close", {"outcome": "content_removed", "note": "Zq removed by Instagram",
                                      "open_items_reason": "Zq gone within the hour"})):
        opened = len(slack.api.bodies("views.open"))
        assert (await slack.click(DSL, card, f"case:{REF}:{action}")).status == 200
        bodies = await slack.api.wait_for(
            lambda opened=opened: len(slack.api.bodies("views.open")) > opened and slack.api.bodies("views.open")
        )
        modals.add(bodies[-1]["trigger_id"])
        await submit_modal(slack, DSL, bodies[-1]["view"], values, view_id=f"V{action}")
        await slack.settle()
    assert (await slack.click(DSL, card, f"case:{REF}:record")).status == 200
    await slack.api.wait_for(lambda: slack.api.bodies("files.completeUploadExternal"))
    await slack.click(HEAD, {**card, "channel": f"D{HEAD}"}, f"case:{REF}:plan")  # replayed: refused
    for user in (DSL, TEACHER, HEAD):
        await slack.home_opened(user)
    await slack.settle()

    deliveries = []
    for n, (method, body) in enumerate(slack.api.calls):
        sent = json.dumps(body, ensure_ascii=False)
        if method in ("chat.postMessage", "chat.update"):
            recipient = body["channel"]
        elif method.startswith("files."):  # the upload is shared only where its completion names
            recipient = slack.api.bodies("files.completeUploadExternal")[0]["channel_id"]
        elif method == "views.publish":
            recipient = "D" + body["user_id"]
        elif method == "views.open":
            recipient = f"D{DSL}" if body["trigger_id"] in modals else "an unknown person"
        else:
            recipient = method  # anything else the bot called must carry no case data
        deliveries.append((f"slack:{recipient.removeprefix('D')}", sent, n >= boundary))
    for file_bytes in slack.api.uploads.values():
        assert file_bytes.startswith(b"%PDF")
    (upload,) = slack.api.bodies("files.completeUploadExternal")
    assert upload["channel_id"] == f"D{DSL}"
    details = ["fake_hillside", "Mocking posts using my photo", "Jo Brown", "Dana Lee", "Sam Patel", "Zq phoned POSH",
               "ZQ-IG-445566", "Zq removed by Instagram", "Zq gone within the hour", "OSB-2026-0001.pdf"]
    assert_routed_only(deliveries, {f"slack:{DSL}", f"slack:{DEPUTY}"}, f"slack:{TEACHER}", details)
    assert any(r == f"slack:{HEAD}" for r, _, _ in deliveries)  # the check saw the headteacher's DM too


async def test_on_teams_case_data_goes_only_to_the_chats_of_the_people_it_is_routed_to(teams, bot):
    for user in (T_DSL, T_DEPUTY, T_HEAD, T_CHAIR):
        await teams.install(user)
    summary = await teams_report(teams)
    await teams.press(T_TEACHER, summary, "send")
    boundary = len(teams.connector.calls)
    await teams_casework(teams)
    card = next(m for m in teams.to(T_DSL) if f"Case {REF}" in text(m))
    await teams.send(T_HEAD, teams.submit(T_HEAD, card, find_action(card, f"case:{REF}:plan")["data"]))  # refused
    await teams.channel.deliver_pending()

    conversations = {teams.conversation(u): f"teams:{u}" for u in (T_TEACHER, T_DSL, T_DEPUTY, T_HEAD, T_CHAIR)}
    deliveries = [(conversations.get(c["conversation"], f"an unknown conversation {c['conversation']}"),
                   json.dumps(c["body"], ensure_ascii=False), n >= boundary)
                  for n, c in enumerate(teams.connector.calls)]
    (upload,) = teams.connector.uploads  # the record went only where the DSL accepted it, in their own chat
    assert upload["body"].startswith(b"%PDF")
    details = [*TEAMS_WORDS.values(), "zq_fake_hillside", "Jo Brown", "Dana Lee", "Sam Patel", f"{REF}.pdf"]
    assert_routed_only(deliveries, {f"teams:{T_DSL}", f"teams:{T_DEPUTY}"}, f"teams:{T_TEACHER}", details)
    assert any(r == f"teams:{T_HEAD}" for r, _, _ in deliveries)  # the check saw the headteacher's chat too
