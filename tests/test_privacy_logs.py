"""Case content never reaches the logs, even at DEBUG, on the console path and the Slack path."""

from __future__ import annotations

import logging

from tests.conftest import Chat, walk
from tests.test_slack import DSL, TEACHER, click, report_until_summary
# The Slack fixtures, shared with tests/test_slack.py.
from tests.test_slack import bot as bot  # noqa: F401
from tests.test_slack import slack as slack  # noqa: F401
from tests.test_slack import slack_api as slack_api  # noqa: F401

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
    from bot.engine import Bot

    caplog.set_level(logging.DEBUG)
    chat = Chat(Bot(content, staffed, settings, clock=clock))
    await walk(chat, ["I'm being targeted", ["targeting_me"], ["no"], ["instagram"], "@fake_hillside", "today",
                      "Mocking posts using my photo", ["me"], "Jo Brown", ["done"], ["nobody"], ["no_idea"], ["send"]])
    assert chat.reply("report.sent")
    for secret in SECRETS[:3]:
        assert secret not in caplog.text, secret
